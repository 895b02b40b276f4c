//! Security groups and their rules (`/v2.0/security-groups`,
//! `/v2.0/security-group-rules`): the service layer the handlers and the
//! ports code share, Neutron's views, and the host translation.
//!
//! - [`rules`]: a rule request read, normalized and validated as Neutron
//!   does, with no I/O, so a refusal leaves nothing behind.
//! - [`groups`] and [`rule_routes`]: the thin HTTP handlers.
//! - [`desired`]: groups, rules and member addresses -> the host
//!   contract's `DesiredSecurityGroup`s (pure).
//!
//! Quota follows Neutron's counting: every group (the default one too) is
//! one `security_group`, every rule (the ones a group starts with too)
//! one `security_group_rule`. Each row is its own quota consumer (its
//! id), reserved through the shared engine before the row is written and
//! released when it is gone, so deleting one of a group's initial rules
//! gives back exactly one. A write that fails after its reservation gives
//! the reservation back before answering. Rejected: one consumer per group
//! holding its rules too (deleting a single rule could not give one back).
//!
//! The default group is made on first need (a list or show by its
//! project, a group created in it, or [`SecurityGroups::ensure_default`]
//! from the ports code); the store decides the race, so two concurrent
//! first requests make one group and the loser returns its reservation.
//!
//! Ports are not this module's: whether a group is in use comes from a
//! [`SecurityGroupUsage`] the integrator wires (ports with the group);
//! until then [`NoPorts`] says no group is in use.

pub mod desired;
pub mod groups;
pub mod rule_routes;
pub mod rules;

use crate::error::{NetworkError, NetworkResult};
use ferrostack_common::time::iso_seconds;
use ferrostack_policy::{AuthContext, Denial};
use ferrostack_quota::{QuotaEngine, ResourceMap, NETWORK};
use ferrostack_store::security_group::{
    RuleExists, SecurityGroup, SecurityGroupRule, SecurityGroupStore,
};
use ferrostack_store::{StoreError, StoreResult};
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// Whether ports use a security group: the ports code's answer, wired by
/// the integrator (a group in use cannot be deleted, nor change its
/// statefulness).
pub trait SecurityGroupUsage: Send + Sync {
    /// True when at least one port has `group_id` among its groups.
    fn in_use(&self, group_id: &str) -> StoreResult<bool>;
}

/// The ports of the network store: a group is in use when a port names it.
pub struct StorePorts(pub std::sync::Arc<dyn ferrostack_store::network::NetworkStore>);

impl SecurityGroupUsage for StorePorts {
    fn in_use(&self, group_id: &str) -> StoreResult<bool> {
        let ports = self.0.list_ports()?;
        Ok(ports
            .iter()
            .any(|p| p.security_groups.iter().any(|g| g == group_id)))
    }
}

/// No port uses any group (tests of groups alone).
pub struct NoPorts;

impl SecurityGroupUsage for NoPorts {
    fn in_use(&self, _: &str) -> StoreResult<bool> {
        Ok(false)
    }
}

/// 404 `SecurityGroupNotFound`.
pub fn group_not_found(id: &str) -> NetworkError {
    NetworkError::new(
        StatusCode::NOT_FOUND,
        "SecurityGroupNotFound",
        format!("Security group {id} does not exist"),
    )
}

/// 404 `SecurityGroupRuleNotFound`.
pub fn rule_not_found(id: &str) -> NetworkError {
    NetworkError::new(
        StatusCode::NOT_FOUND,
        "SecurityGroupRuleNotFound",
        format!("Security group rule {id} does not exist"),
    )
}

fn conflict(kind: &'static str, message: impl Into<String>) -> NetworkError {
    NetworkError::new(StatusCode::CONFLICT, kind, message)
}

fn forbidden() -> NetworkError {
    NetworkError::new(
        StatusCode::FORBIDDEN,
        "HTTPForbidden",
        "The request you have made is not permitted by policy.",
    )
}

/// May `caller` act on something of `project_id`? Another project's is
/// `not_found`, a missing role 403.
pub fn check(
    caller: &AuthContext,
    project_id: &str,
    write: bool,
    not_found: impl FnOnce() -> NetworkError,
) -> NetworkResult<()> {
    caller
        .check_project(project_id, write)
        .map_err(|d| match d {
            Denial::NotFound => not_found(),
            Denial::Forbidden => forbidden(),
        })
}

/// The project a create is for: the body's `project_id`/`tenant_id`, which
/// only an admin may set to another project, else the caller's.
pub fn target_project(
    caller: &AuthContext,
    project_id: Option<&str>,
    tenant_id: Option<&str>,
) -> NetworkResult<String> {
    let own = caller.project_id();
    match project_id.or(tenant_id).filter(|p| !p.is_empty()) {
        Some(p) if Some(p) == own || caller.is_admin() => Ok(p.to_string()),
        Some(_) => Err(forbidden()),
        None => own
            .map(str::to_string)
            .ok_or_else(|| NetworkError::bad_request("A project-scoped token is required.")),
    }
}

/// The security group service: the store, quota and the port-usage hook.
#[derive(Clone)]
pub struct SecurityGroups {
    /// Groups and rules.
    pub store: Arc<dyn SecurityGroupStore>,
    /// The shared quota engine.
    pub quotas: QuotaEngine,
    /// Whether ports use a group.
    pub usage: Arc<dyn SecurityGroupUsage>,
}

fn one(resource: &str) -> ResourceMap {
    ResourceMap::from([(resource.to_string(), 1)])
}

/// A new rule of `group` (its owner's), with no remote unless given.
pub fn new_rule(
    group: &SecurityGroup,
    rule: &rules::Rule,
    description: String,
    now: i64,
) -> SecurityGroupRule {
    SecurityGroupRule {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: group.project_id.clone(),
        security_group_id: group.id.clone(),
        direction: rule.direction.clone(),
        ethertype: rule.ethertype.clone(),
        protocol: rule.protocol.clone(),
        port_range_min: rule.port_range_min,
        port_range_max: rule.port_range_max,
        remote_ip_prefix: rule.remote_ip_prefix.clone(),
        remote_group_id: rule.remote_group_id.clone(),
        description,
        match_key: rules::match_key(rule),
        revision_number: 0,
        created_at: now,
        updated_at: now,
    }
}

/// A new group of `project_id` with Neutron's initial rules: egress
/// anywhere over IPv4 and IPv6, and for the default group also ingress
/// from its own members over both.
pub fn new_group(
    project_id: &str,
    name: String,
    description: String,
    stateful: bool,
    is_default: bool,
    now: i64,
) -> SecurityGroup {
    let mut group = SecurityGroup {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project_id.to_string(),
        name,
        description,
        stateful,
        is_default,
        revision_number: 0,
        created_at: now,
        updated_at: now,
        members_changed_at: 0,
        rules: Vec::new(),
    };
    let mut initial = Vec::new();
    for ethertype in ["IPv4", "IPv6"] {
        let rule = |direction: &str, remote: Option<String>| rules::Rule {
            direction: direction.into(),
            ethertype: ethertype.into(),
            protocol: None,
            port_range_min: None,
            port_range_max: None,
            remote_ip_prefix: None,
            remote_group_id: remote,
        };
        initial.push(rule("egress", None));
        if is_default {
            initial.push(rule("ingress", Some(group.id.clone())));
        }
    }
    group.rules = initial
        .iter()
        .map(|r| new_rule(&group, r, String::new(), now))
        .collect();
    group
}

impl SecurityGroups {
    /// Take one `resource` for each consumer, all or none.
    fn reserve(&self, project_id: &str, consumers: &[(&str, &str)]) -> NetworkResult<()> {
        for (i, (consumer, resource)) in consumers.iter().enumerate() {
            if let Err(e) = self
                .quotas
                .reserve(&NETWORK, project_id, consumer, &one(resource))
            {
                self.release(consumers[..i].iter().map(|(c, _)| *c));
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Give back what `consumers` hold. A failure is logged, not
    /// answered: the change it follows is already made.
    pub fn release<'a>(&self, consumers: impl IntoIterator<Item = &'a str>) {
        for consumer in consumers {
            if let Err(e) = self.quotas.release(&NETWORK, consumer) {
                tracing::warn!(consumer, error = %ferrostack_common::error::error_chain(&e),
                    "security group quota not released");
            }
        }
    }

    fn consumers(group: &SecurityGroup) -> Vec<(&str, &str)> {
        std::iter::once((group.id.as_str(), "security_group"))
            .chain(
                group
                    .rules
                    .iter()
                    .map(|r| (r.id.as_str(), "security_group_rule")),
            )
            .collect()
    }

    fn release_group(&self, group: &SecurityGroup) {
        self.release(Self::consumers(group).into_iter().map(|(c, _)| c));
    }

    /// The project's default group, made now (with its quota) if it has none.
    pub fn ensure_default(&self, project_id: &str) -> NetworkResult<SecurityGroup> {
        if let Some(group) = self.store.default_group(project_id)? {
            return Ok(group);
        }
        let now = ferrostack_common::time::now_micros();
        let candidate = new_group(
            project_id,
            "default".into(),
            "Default security group".into(),
            true,
            true,
            now,
        );
        self.reserve(project_id, &Self::consumers(&candidate))?;
        match self.store.ensure_default_group(&candidate) {
            Ok((group, created)) => {
                if created {
                    tracing::info!(project_id, group_id = %group.id, "default security group created");
                } else {
                    // Another request made it first.
                    self.release_group(&candidate);
                }
                Ok(group)
            }
            Err(e) => {
                self.release_group(&candidate);
                Err(e.into())
            }
        }
    }

    /// Write a new group with its initial rules, quota first.
    pub fn create(&self, group: &SecurityGroup) -> NetworkResult<SecurityGroup> {
        self.reserve(&group.project_id, &Self::consumers(group))?;
        self.store.create_group(group).map_err(|e| {
            self.release_group(group);
            e.into()
        })
    }

    /// Write a new rule, quota first; a duplicate is 409 `SecurityGroupRuleExists`.
    pub fn add_rule(&self, rule: &SecurityGroupRule) -> NetworkResult<SecurityGroupRule> {
        self.reserve(&rule.project_id, &[(&rule.id, "security_group_rule")])?;
        self.store.create_rule(rule).map_err(|e| {
            self.release([rule.id.as_str()]);
            match e {
                StoreError::Refused(inner) => match inner.downcast::<RuleExists>() {
                    Ok(exists) => conflict(
                        "SecurityGroupRuleExists",
                        format!(
                            "Security group rule already exists. Rule id is {}.",
                            exists.rule_id
                        ),
                    ),
                    Err(other) => StoreError::Refused(other).into(),
                },
                StoreError::NotFound { id, .. } => group_not_found(&id),
                other => other.into(),
            }
        })
    }

    /// The groups a port of `project_id` gets, for the ports code: the
    /// project's default group when `requested` is `None` (made if need
    /// be), else exactly those groups, each of which must exist and belong
    /// to the port's project (404 `SecurityGroupNotFound` otherwise, as
    /// Neutron answers), and not mix stateful with stateless ones (409
    /// `SecurityGroupConflict`). `Some(&[])` is a port with no groups.
    pub fn for_port(
        &self,
        project_id: &str,
        requested: Option<&[String]>,
    ) -> NetworkResult<Vec<SecurityGroup>> {
        let Some(ids) = requested else {
            return Ok(vec![self.ensure_default(project_id)?]);
        };
        let mut unique: Vec<String> = Vec::new();
        for id in ids {
            if !unique.contains(id) {
                unique.push(id.clone());
            }
        }
        let found = self.store.groups_by_id(&unique)?;
        let mut groups = Vec::with_capacity(unique.len());
        for id in &unique {
            match found
                .iter()
                .find(|g| &g.id == id && g.project_id == project_id)
            {
                Some(g) => groups.push(g.clone()),
                None => return Err(group_not_found(id)),
            }
        }
        if groups.iter().any(|g| g.stateful) && groups.iter().any(|g| !g.stateful) {
            return Err(conflict(
                "SecurityGroupConflict",
                "Error Cannot apply both stateful and stateless security groups on the same \
                 port at the same time while attempting the operation.",
            ));
        }
        Ok(groups)
    }

    /// Delete a group (in use: 409) and give back its quota and that of
    /// the rules that went with it.
    pub fn delete(&self, group: &SecurityGroup) -> NetworkResult<()> {
        if self.usage.in_use(&group.id)? {
            return Err(in_use(&group.id));
        }
        let gone = self
            .store
            .delete_group(&group.id, ferrostack_common::time::now_micros())
            .map_err(|e| match e {
                StoreError::NotFound { .. } => group_not_found(&group.id),
                other => other.into(),
            })?;
        self.release_group(&gone.group);
        self.release(gone.remote_rules.iter().map(|r| r.id.as_str()));
        Ok(())
    }
}

/// 409 `SecurityGroupInUse`.
pub fn in_use(id: &str) -> NetworkError {
    conflict("SecurityGroupInUse", format!("Security Group {id} in use."))
}

/// 409 for a name only the default group may have.
pub fn default_name_taken() -> NetworkError {
    conflict(
        "SecurityGroupDefaultAlreadyExists",
        "Default security group already exists.",
    )
}

/// 409 for renaming the default group.
pub fn default_not_updatable() -> NetworkError {
    conflict(
        "SecurityGroupCannotUpdateDefault",
        "Updating default security group not allowed.",
    )
}

/// 409 for a non-admin deleting the default group.
pub fn default_not_removable() -> NetworkError {
    conflict(
        "SecurityGroupCannotRemoveDefault",
        "Insufficient rights for removing default security group.",
    )
}

/// Neutron's view of a rule; `in_default` is whether its group is the
/// project's default group.
pub fn rule_view(rule: &SecurityGroupRule, in_default: Option<bool>) -> Value {
    json!({
        "id": rule.id,
        "project_id": rule.project_id,
        "tenant_id": rule.project_id,
        "security_group_id": rule.security_group_id,
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": rule.protocol,
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "normalized_cidr": rule.remote_ip_prefix.as_deref().and_then(rules::normalized_cidr),
        "remote_group_id": rule.remote_group_id,
        "remote_address_group_id": null,
        "description": rule.description,
        "belongs_to_default_sg": in_default,
        "revision_number": rule.revision_number,
        "created_at": iso_seconds(rule.created_at),
        "updated_at": iso_seconds(rule.updated_at),
    })
}

/// Neutron's view of a group, its rules embedded.
pub fn group_view(group: &SecurityGroup) -> Value {
    json!({
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "stateful": group.stateful,
        "project_id": group.project_id,
        "tenant_id": group.project_id,
        "security_group_rules": group
            .rules
            .iter()
            .map(|r| rule_view(r, Some(group.is_default)))
            .collect::<Vec<_>>(),
        "revision_number": group.revision_number,
        "created_at": iso_seconds(group.created_at),
        "updated_at": iso_seconds(group.updated_at),
    })
}
