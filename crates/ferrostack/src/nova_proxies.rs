//! Nova's network proxies (`os-security-groups`, `os-security-group-rules`,
//! `os-networks`, `os-tenant-networks`) over the network service: what
//! Nova's Neutron security group driver does over HTTP, done with the
//! network service's own functions (the same checks, quota and rows as
//! `/v2.0/security-groups`), and Neutron's refusals put in Nova's codes.
//!
//! Nova's conversions kept here: only ingress rules are shown, a rule
//! whose peer group is gone is left out, a Neutron 409 is Nova's 403 on a
//! create (over quota) and 400 on a delete or update (in use, the default
//! group).

use crate::server_networks::NeutronForNova;
use ferrostack_compute::error::ComputeError;
use ferrostack_compute::network_proxy::{
    GroupRef, NetworkProxies, NewRule, ProxyFloatingIp, ProxyGroup, ProxyNetwork, ProxyRule,
};
use ferrostack_network::error::NetworkError;
use ferrostack_network::security_groups::groups::{self, CreateGroup, UpdateGroup};
use ferrostack_network::security_groups::rule_routes;
use ferrostack_network::security_groups::rules::RuleRequest;
use ferrostack_policy::AuthContext;
use ferrostack_store::security_group::{SecurityGroup, SecurityGroupRule};
use serde_json::Value;
use std::collections::BTreeMap;

/// Neutron's refusal in Nova's words; `conflict` words a 409.
fn nova_error(e: NetworkError, conflict: fn(String) -> ComputeError) -> ComputeError {
    let status = e.status();
    let message = match &e.error {
        ferrostack_common::error::ServiceError::Shown { message, .. } => message.clone(),
        ferrostack_common::error::ServiceError::Internal { cause } => {
            return ComputeError::Internal(format!("network service: {cause}"))
        }
    };
    match status.as_u16() {
        400 => ComputeError::BadRequest(message),
        403 => ComputeError::Forbidden(message),
        404 => ComputeError::NotFound(message),
        409 => conflict(message),
        _ => ComputeError::Status(status, message),
    }
}

/// Over quota on a create: Nova's `SecurityGroupLimitExceeded`.
fn over_limit(message: String) -> ComputeError {
    ComputeError::Forbidden(message)
}

fn store(e: ferrostack_store::StoreError) -> ComputeError {
    ComputeError::internal(&e)
}

/// A Neutron rule in Nova's terms; `None` for an egress rule or one whose
/// peer group is gone.
fn nova_rule(r: &SecurityGroupRule, peers: &BTreeMap<String, GroupRef>) -> Option<ProxyRule> {
    if r.direction != "ingress" {
        return None;
    }
    let group = match &r.remote_group_id {
        Some(id) => Some(peers.get(id)?.clone()),
        None => None,
    };
    Some(ProxyRule {
        id: r.id.clone(),
        parent_group_id: r.security_group_id.clone(),
        protocol: r.protocol.clone(),
        port_range_min: r.port_range_min,
        port_range_max: r.port_range_max,
        cidr: r.remote_ip_prefix.clone(),
        group,
    })
}

impl NeutronForNova {
    /// `groups` in Nova's terms, their peers looked up once.
    fn nova_groups(&self, groups: &[SecurityGroup]) -> Result<Vec<ProxyGroup>, ComputeError> {
        let groups_store = &self.state.security_groups.store;
        let wanted: Vec<String> = (groups.iter())
            .flat_map(|g| g.rules.iter().filter_map(|r| r.remote_group_id.clone()))
            .collect();
        let peers: BTreeMap<String, GroupRef> =
            (groups_store.groups_by_id(&wanted).map_err(store)?)
                .into_iter()
                .map(|g| {
                    let r = GroupRef {
                        name: g.name,
                        project_id: g.project_id,
                    };
                    (g.id, r)
                })
                .collect();
        Ok((groups.iter())
            .map(|g| ProxyGroup {
                id: g.id.clone(),
                name: g.name.clone(),
                description: g.description.clone(),
                project_id: g.project_id.clone(),
                rules: g
                    .rules
                    .iter()
                    .filter_map(|r| nova_rule(r, &peers))
                    .collect(),
            })
            .collect())
    }

    fn nova_group(&self, group: &SecurityGroup) -> Result<ProxyGroup, ComputeError> {
        let mut out = self.nova_groups(std::slice::from_ref(group))?;
        out.pop()
            .ok_or_else(|| ComputeError::Internal("a group vanished in conversion".into()))
    }

    /// The caller's project's default group, made on first need, as a
    /// Neutron list or show by the project makes it.
    fn ensure_default(&self, caller: &AuthContext) -> Result<(), ComputeError> {
        if let Some(project) = caller.project_id() {
            (self.state.security_groups.ensure_default(project))
                .map_err(|e| nova_error(e, over_limit))?;
        }
        Ok(())
    }

    pub(crate) fn groups_for(
        &self,
        caller: &AuthContext,
        all_projects: bool,
    ) -> Result<Vec<ProxyGroup>, ComputeError> {
        self.ensure_default(caller)?;
        let project = caller.project_id().unwrap_or_default();
        let scope = (!all_projects).then_some(project);
        let groups = (self.state.security_groups.store.list_groups(scope)).map_err(store)?;
        self.nova_groups(&groups)
    }

    pub(crate) fn group_for(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<ProxyGroup, ComputeError> {
        self.ensure_default(caller)?;
        let group = groups::visible(&self.state, caller, id, false)
            .map_err(|e| nova_error(e, ComputeError::Conflict))?;
        self.nova_group(&group)
    }

    pub(crate) fn create_group_for(
        &self,
        caller: &AuthContext,
        name: &str,
        description: &str,
    ) -> Result<ProxyGroup, ComputeError> {
        let request = CreateGroup {
            name: Some(name.to_string()),
            description: Some(description.to_string()),
            ..CreateGroup::default()
        };
        let group =
            groups::create(&self.state, caller, request).map_err(|e| nova_error(e, over_limit))?;
        self.nova_group(&group)
    }

    pub(crate) fn update_group_for(
        &self,
        caller: &AuthContext,
        id: &str,
        name: &str,
        description: &str,
    ) -> Result<ProxyGroup, ComputeError> {
        let request = UpdateGroup {
            name: Some(name.to_string()),
            description: Some(description.to_string()),
            ..UpdateGroup::default()
        };
        let group = groups::update(&self.state, caller, id, request)
            .map_err(|e| nova_error(e, ComputeError::BadRequest))?;
        self.nova_group(&group)
    }

    pub(crate) fn delete_group_for(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<(), ComputeError> {
        groups::delete(&self.state, caller, id).map_err(|e| nova_error(e, ComputeError::BadRequest))
    }

    pub(crate) fn create_rule_for(
        &self,
        caller: &AuthContext,
        rule: &NewRule,
    ) -> Result<ProxyRule, ComputeError> {
        let request = RuleRequest {
            security_group_id: rule.parent_group_id.clone(),
            direction: "ingress".into(),
            ethertype: Some(rule.ethertype.to_string()),
            protocol: rule.protocol.clone().map(Value::String),
            port_range_min: rule.port_range_min.map(Value::from),
            port_range_max: rule.port_range_max.map(Value::from),
            remote_ip_prefix: rule.cidr.clone(),
            remote_group_id: rule.group_id.clone(),
            ..RuleRequest::default()
        };
        let (created, _) = rule_routes::create(&self.state, caller, &request)
            .map_err(|e| nova_error(e, over_limit))?;
        Ok(ProxyRule {
            id: created.id,
            parent_group_id: created.security_group_id,
            protocol: created.protocol,
            port_range_min: created.port_range_min,
            port_range_max: created.port_range_max,
            cidr: created.remote_ip_prefix,
            group: None,
        })
    }

    pub(crate) fn delete_rule_for(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<(), ComputeError> {
        rule_routes::delete(&self.state, caller, id)
            .map_err(|e| nova_error(e, ComputeError::Conflict))
    }

    pub(crate) fn networks_for(
        &self,
        caller: &AuthContext,
    ) -> Result<Vec<ProxyNetwork>, ComputeError> {
        let mut networks: Vec<_> = (self.state.store.list_networks().map_err(store)?)
            .into_iter()
            .filter(|n| ferrostack_network::networks::visible(caller, n))
            .collect();
        networks.sort_by_key(|n| n.created_at);
        Ok(networks
            .into_iter()
            .map(|n| ProxyNetwork {
                id: n.id,
                name: n.name,
            })
            .collect())
    }
}

impl NetworkProxies for NeutronForNova {
    fn proxy_groups(
        &self,
        caller: &AuthContext,
        all_projects: bool,
    ) -> Result<Vec<ProxyGroup>, ComputeError> {
        self.groups_for(caller, all_projects)
    }

    fn proxy_group(&self, caller: &AuthContext, id: &str) -> Result<ProxyGroup, ComputeError> {
        self.group_for(caller, id)
    }

    fn proxy_create_group(
        &self,
        caller: &AuthContext,
        name: &str,
        description: &str,
    ) -> Result<ProxyGroup, ComputeError> {
        self.create_group_for(caller, name, description)
    }

    fn proxy_update_group(
        &self,
        caller: &AuthContext,
        id: &str,
        name: &str,
        description: &str,
    ) -> Result<ProxyGroup, ComputeError> {
        self.update_group_for(caller, id, name, description)
    }

    fn proxy_delete_group(&self, caller: &AuthContext, id: &str) -> Result<(), ComputeError> {
        self.delete_group_for(caller, id)
    }

    fn proxy_create_rule(
        &self,
        caller: &AuthContext,
        rule: &NewRule,
    ) -> Result<ProxyRule, ComputeError> {
        self.create_rule_for(caller, rule)
    }

    fn proxy_delete_rule(&self, caller: &AuthContext, id: &str) -> Result<(), ComputeError> {
        self.delete_rule_for(caller, id)
    }

    fn proxy_networks(&self, caller: &AuthContext) -> Result<Vec<ProxyNetwork>, ComputeError> {
        self.networks_for(caller)
    }

    fn proxy_floating_ips(
        &self,
        caller: &AuthContext,
    ) -> Result<Vec<ProxyFloatingIp>, ComputeError> {
        self.floating_ips_for(caller)
    }

    fn proxy_allocate_floating_ip(
        &self,
        caller: &AuthContext,
        pool: Option<&str>,
    ) -> Result<ProxyFloatingIp, ComputeError> {
        self.allocate_for(caller, pool)
    }

    fn proxy_release_floating_ip(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<(), ComputeError> {
        self.release_for(caller, id)
    }

    fn proxy_floating_ip_pools(&self, _: &AuthContext) -> Result<Vec<String>, ComputeError> {
        self.pools_for()
    }

    fn proxy_associate_floating_ip(
        &self,
        caller: &AuthContext,
        server_id: &str,
        address: &str,
        fixed_address: &str,
    ) -> Result<(), ComputeError> {
        self.associate_for(caller, server_id, address, fixed_address)
    }

    fn proxy_disassociate_floating_ip(
        &self,
        caller: &AuthContext,
        server_id: &str,
        address: &str,
    ) -> Result<(), ComputeError> {
        self.disassociate_for(caller, server_id, address)
    }
}

#[cfg(test)]
#[path = "nova_proxies_tests.rs"]
mod tests;
