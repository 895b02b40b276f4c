//! Compute's view of the network service ([`ServerNetworks`]) over the
//! network service's in-process port API: what Nova's neutronv2 module
//! does over HTTP, done with function calls.
//!
//! It lives in the binary because it is the one place that links both
//! services; neither service crate depends on the other. Errors are put
//! in Nova's words here (a network that does not exist is Nova's 400
//! "Network ... could not be found.", not Neutron's 404), since it is
//! Nova's API that answers.

use ferrostack_compute::error::ComputeError;
use ferrostack_compute::hostlink::HostObjects;
use ferrostack_compute::networks::{
    tap_name, Allocation, FloatingAddress, NetworkRequest, NicAddress, NicRequest, ServerNetworks,
    ServerNic,
};
use ferrostack_host_contract::block::BlockDeviceSection;
use ferrostack_host_contract::network::{
    DesiredDhcp, DesiredNetwork, DesiredPort, DesiredRouter, NetworkSection, Segment,
};
use ferrostack_host_contract::{Kind, ObjectPhase, ObservedObject};
use ferrostack_network::error::NetworkError;
use ferrostack_network::host_section::{HostSections, TunnelAddresses};
use ferrostack_network::{FixedIpSpec, NetworkState, PortSpec};
use ferrostack_policy::AuthContext;
use ferrostack_store::host_objects::{HostObjectStore, ReportedObject};
use ferrostack_store::network::{Network, Port};
use ferrostack_store::server::ServerStore;
use ferrostack_store::volume_exports::ExportRecords;
use ferrostack_store::StoreResult;
use std::sync::Arc;

/// The network service as compute uses it.
pub struct NeutronForNova {
    pub(crate) state: Arc<NetworkState>,
}

impl NeutronForNova {
    /// Over the network service's shared state.
    pub fn new(state: Arc<NetworkState>) -> Self {
        NeutronForNova { state }
    }

    fn network(&self, id: &str) -> Result<Option<Network>, ComputeError> {
        self.state.store.get_network(id).map_err(store)
    }

    fn port(&self, id: &str) -> Result<Option<Port>, ComputeError> {
        self.state.store.get_port(id).map_err(store)
    }

    /// The networks a boot without a network named may use: the
    /// project's own and the shared ones (not external ones), with a
    /// subnet.
    fn available(&self, project_id: &str) -> Result<Vec<Network>, ComputeError> {
        let subnets = self.state.store.list_subnets().map_err(store)?;
        let mut out: Vec<Network> = (self.state.store.list_networks().map_err(store)?)
            .into_iter()
            .filter(|n| (n.project_id == project_id || n.shared) && !n.external)
            .filter(|n| subnets.iter().any(|s| s.network_id == n.id))
            .collect();
        out.sort_by_key(|n| n.created_at);
        Ok(out)
    }

    /// Check network `id` for a NIC; `missing` words the refusal of one
    /// the caller cannot see (a boot's 400, an attach's 404).
    fn check_network(
        &self,
        caller: &AuthContext,
        id: &str,
        missing: fn(String) -> ComputeError,
    ) -> Result<(), ComputeError> {
        let project = caller.project_id().unwrap_or_default();
        let visible = self
            .network(id)?
            .filter(|n| caller.is_admin() || n.project_id == project || n.shared);
        let Some(network) = visible else {
            return Err(missing(format!("Network {id} could not be found.")));
        };
        let no_subnet = (self.state.subnets_of(&network.id))
            .map_err(network_error)?
            .is_empty();
        if no_subnet {
            return Err(ComputeError::BadRequest(format!(
                "Network {id} requires a subnet in order to boot instances on."
            )));
        }
        Ok(())
    }

    /// Check port `id` for a NIC; `missing` as for [`Self::check_network`].
    fn check_port(
        &self,
        caller: &AuthContext,
        id: &str,
        missing: fn(String) -> ComputeError,
    ) -> Result<(), ComputeError> {
        let project = caller.project_id().unwrap_or_default();
        let Some(port) = self
            .port(id)?
            .filter(|p| caller.is_admin() || p.project_id == project)
        else {
            return Err(missing(format!("Port id {id} could not be found.")));
        };
        if !port.device_id.is_empty() {
            return Err(ComputeError::Conflict(format!(
                "Port {id} is still in use."
            )));
        }
        Ok(())
    }

    /// Create or bind the port of one request.
    fn plug(
        &self,
        a: &Allocation<'_>,
        request: &NicRequest,
        new_id: Option<&String>,
    ) -> Result<Port, ComputeError> {
        let owner = format!("compute:{}", a.zone);
        if let Some(port_id) = &request.port_id {
            if let Some(p) = self.port(port_id)? {
                if !p.device_id.is_empty() && p.device_id != a.server_id {
                    return Err(ComputeError::Conflict(format!(
                        "Port {port_id} is still in use."
                    )));
                }
            }
            return (self.state.bind_port(port_id, a.host, a.server_id, &owner))
                .map_err(network_error);
        }
        let id =
            new_id.ok_or_else(|| ComputeError::Internal("no port id drawn for a NIC".into()))?;
        if let Some(p) = self.port(id)? {
            return Ok(p);
        }
        let network_id = request
            .network_id
            .clone()
            .ok_or_else(|| ComputeError::Internal("a NIC with neither port nor network".into()))?;
        let spec = PortSpec {
            id: Some(id.clone()),
            project_id: a.project_id.to_string(),
            network_id,
            fixed_ips: request.fixed_ip.as_ref().map(|ip| {
                vec![FixedIpSpec {
                    subnet_id: None,
                    ip_address: Some(ip.clone()),
                }]
            }),
            device_owner: owner,
            device_id: a.server_id.to_string(),
            host_id: Some(a.host.to_string()),
            security_groups: (!a.security_groups.is_empty()).then(|| a.security_groups.to_vec()),
            ..Default::default()
        };
        self.state.create_port(spec).map_err(network_error)
    }

    /// What compute keeps of a plugged port.
    fn nic(&self, port: &Port, request: &NicRequest) -> Result<ServerNic, ComputeError> {
        let network = self.network(&port.network_id)?.ok_or_else(|| {
            ComputeError::Internal(format!("network {} vanished", port.network_id))
        })?;
        let subnets = self
            .state
            .subnets_of(&port.network_id)
            .map_err(network_error)?;
        let fixed_ips = port
            .fixed_ips
            .iter()
            .filter_map(|ip| {
                let s = subnets.iter().find(|s| s.id == ip.subnet_id)?;
                Some(NicAddress {
                    ip_address: ip.ip_address.clone(),
                    version: s.ip_version,
                    subnet_id: s.id.clone(),
                    cidr: s.cidr.clone(),
                    gateway_ip: s.gateway_ip.clone(),
                    dns_nameservers: s.dns_nameservers.clone(),
                })
            })
            .collect();
        Ok(ServerNic {
            port_id: port.id.clone(),
            network_id: network.id.clone(),
            network_name: network.name.clone(),
            mac_address: port.mac_address.clone(),
            tap: tap_name(&port.id),
            mtu: network.mtu.max(0) as u32,
            fixed_ips,
            preserve_on_delete: request.port_id.is_some(),
            tag: request.tag.clone(),
        })
    }
}

/// A store failure is a 500 with its cause logged.
fn store(e: ferrostack_store::StoreError) -> ComputeError {
    ComputeError::internal(&e)
}

/// Neutron's refusal in Nova's words.
fn network_error(e: NetworkError) -> ComputeError {
    let status = e.status();
    let message = match &e.error {
        ferrostack_common::error::ServiceError::Shown { message, .. } => message.clone(),
        ferrostack_common::error::ServiceError::Internal { cause } => cause.clone(),
    };
    match (e.kind, status.as_u16()) {
        ("IpAddressAlreadyAllocated", _) => ComputeError::BadRequest(message),
        ("IpAddressGenerationFailure", _) => ComputeError::Conflict(format!(
            "No more IP addresses available on network: {message}"
        )),
        ("OverQuota", _) => {
            ComputeError::Forbidden(format!("Maximum number of ports exceeded: {message}"))
        }
        (_, 400) => ComputeError::BadRequest(message),
        (_, 404) => ComputeError::BadRequest(message),
        (_, 409) => ComputeError::Conflict(message),
        (_, 500..) => ComputeError::Internal(format!("network service: {message}")),
        (_, _) => ComputeError::Status(status, message),
    }
}

impl ServerNetworks for NeutronForNova {
    fn resolve(
        &self,
        caller: &AuthContext,
        request: &NetworkRequest,
    ) -> Result<Vec<NicRequest>, ComputeError> {
        let project = caller.project_id().unwrap_or_default().to_string();
        let list = match request {
            NetworkRequest::List(list) => list.clone(),
            NetworkRequest::Unspecified | NetworkRequest::Auto => {
                let available = self.available(&project)?;
                match (available.as_slice(), request) {
                    ([], NetworkRequest::Unspecified) => Vec::new(),
                    ([], _) => {
                        return Err(ComputeError::BadRequest(format!(
                            "Unable to automatically allocate a network for project {project}"
                        )))
                    }
                    ([one], _) => vec![NicRequest {
                        network_id: Some(one.id.clone()),
                        ..NicRequest::default()
                    }],
                    _ => return Err(ComputeError::Conflict(
                        "Multiple possible networks found, use a Network ID to be more specific."
                            .into(),
                    )),
                }
            }
        };
        for nic in &list {
            match (&nic.port_id, &nic.network_id) {
                (Some(port), _) => self.check_port(caller, port, ComputeError::BadRequest)?,
                (None, Some(network)) => {
                    self.check_network(caller, network, ComputeError::BadRequest)?
                }
                (None, None) => {}
            }
        }
        Ok(list)
    }

    fn resolve_attach(
        &self,
        caller: &AuthContext,
        request: &NicRequest,
    ) -> Result<NicRequest, ComputeError> {
        let mut nic = request.clone();
        match (&request.port_id, &request.network_id) {
            (Some(port), _) => self.check_port(caller, port, ComputeError::NotFound)?,
            (None, Some(network)) => self.check_network(caller, network, ComputeError::NotFound)?,
            (None, None) => {
                let project = caller.project_id().unwrap_or_default().to_string();
                match self.available(&project)?.as_slice() {
                    [] => {
                        return Err(ComputeError::BadRequest(format!(
                            "No specific network was requested and none are available for project '{project}'."
                        )))
                    }
                    [one] => nic.network_id = Some(one.id.clone()),
                    _ => return Err(ComputeError::BadRequest(
                        "Multiple possible networks found, use a Network ID to be more specific."
                            .into(),
                    )),
                }
            }
        }
        Ok(nic)
    }

    fn change_security_group(
        &self,
        caller: &AuthContext,
        server_id: &str,
        name: &str,
        add: bool,
    ) -> Result<(), ComputeError> {
        let project = caller.project_id().unwrap_or_default();
        let groups = &self.state.security_groups;
        groups.ensure_default(project).map_err(network_error)?;
        let mine = groups.store.list_groups(Some(project)).map_err(store)?;
        let named: Vec<_> = mine.iter().filter(|g| g.name == name).collect();
        let group = match (mine.iter().find(|g| g.id == name), named.as_slice()) {
            (Some(g), _) => g.id.clone(),
            (None, [g]) => g.id.clone(),
            (None, []) => {
                return Err(ComputeError::NotFound(format!(
                    "Security group {name} is not found for project {project}"
                )))
            }
            (None, _) => {
                return Err(ComputeError::Conflict(format!(
                    "Multiple security_group matches found for name '{name}', use an ID to be more specific."
                )))
            }
        };
        let ports = self.state.device_ports(server_id).map_err(network_error)?;
        if ports.is_empty() {
            return Err(ComputeError::NotFound(format!(
                "instance_id {server_id} could not be found as device id on any ports"
            )));
        }
        if add {
            if ports.iter().any(|p| !p.port_security_enabled) {
                return Err(ComputeError::BadRequest(
                    "Network requires port_security_enabled and subnet associated in order to apply security groups."
                        .into(),
                ));
            }
        } else if !ports.iter().any(|p| p.security_groups.contains(&group)) {
            return Err(ComputeError::BadRequest(format!(
                "Security group {name} not associated with the instance {server_id}"
            )));
        }
        let now = ferrostack_common::time::now_micros();
        for port in &ports {
            self.state
                .store
                .update_port(&port.id, &mut |p| {
                    if add && !p.security_groups.contains(&group) {
                        p.security_groups.push(group.clone());
                    } else if !add {
                        p.security_groups.retain(|g| g != &group);
                    }
                    p.updated_at = now;
                    Ok(None)
                })
                .map_err(store)?;
        }
        Ok(())
    }

    fn security_groups_of(
        &self,
        server_ids: &[&str],
    ) -> Result<std::collections::BTreeMap<String, Vec<String>>, ComputeError> {
        let mut out = std::collections::BTreeMap::<String, Vec<String>>::new();
        if server_ids.is_empty() {
            return Ok(out);
        }
        let groups = self
            .state
            .security_groups
            .store
            .list_groups(None)
            .map_err(store)?;
        let ports = self.state.store.list_ports().map_err(store)?;
        for p in ports
            .iter()
            .filter(|p| server_ids.contains(&p.device_id.as_str()))
        {
            let names = out.entry(p.device_id.clone()).or_default();
            for id in &p.security_groups {
                if let Some(g) = groups.iter().find(|g| &g.id == id) {
                    if !names.contains(&g.name) {
                        names.push(g.name.clone());
                    }
                }
            }
        }
        out.retain(|_, names| !names.is_empty());
        Ok(out)
    }

    fn floating_ips(&self, port_ids: &[String]) -> Result<Vec<FloatingAddress>, ComputeError> {
        let fips = (self.state.store.list_floating_ips())
            .map_err(|e| network_error(NetworkError::from(e)))?;
        Ok((fips.into_iter())
            .filter_map(|f| match (f.port_id, f.fixed_ip_address) {
                (Some(port_id), Some(fixed)) if port_ids.contains(&port_id) => {
                    Some(FloatingAddress {
                        port_id,
                        fixed_ip_address: fixed,
                        floating_ip_address: f.floating_ip_address,
                    })
                }
                _ => None,
            })
            .collect())
    }

    fn server_security_group_ids(&self, server_id: &str) -> Result<Vec<String>, ComputeError> {
        let mut ids: Vec<String> = Vec::new();
        for p in self.state.device_ports(server_id).map_err(network_error)? {
            for g in p.security_groups {
                if !ids.contains(&g) {
                    ids.push(g);
                }
            }
        }
        Ok(ids)
    }

    fn port_status(&self, port_id: &str) -> Result<Option<String>, ComputeError> {
        Ok(self.port(port_id)?.map(|p| p.status))
    }

    fn security_groups(
        &self,
        caller: &AuthContext,
        names: &[String],
    ) -> Result<Vec<String>, ComputeError> {
        let project = caller.project_id().unwrap_or_default();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let groups = &self.state.security_groups;
        // The default group is made on first need, as Neutron does.
        groups.ensure_default(project).map_err(network_error)?;
        let mine = groups.store.list_groups(Some(project)).map_err(store)?;
        let mut ids = Vec::with_capacity(names.len());
        for name in names {
            if let Some(g) = mine.iter().find(|g| &g.id == name) {
                ids.push(g.id.clone());
                continue;
            }
            let named: Vec<_> = mine.iter().filter(|g| &g.name == name).collect();
            match named.as_slice() {
                [one] => ids.push(one.id.clone()),
                [] => {
                    return Err(ComputeError::BadRequest(format!(
                        "Security group {name} not found for project {project}."
                    )))
                }
                _ => {
                    return Err(ComputeError::Conflict(format!(
                        "Multiple security groups found matching '{name}'. Use an ID to be more specific."
                    )))
                }
            }
        }
        Ok(ids)
    }

    fn allocate(&self, a: &Allocation<'_>) -> Result<Vec<ServerNic>, ComputeError> {
        let mut new_ids = a.new_port_ids.iter();
        let mut plugged: Vec<Port> = Vec::new();
        let mut nics = Vec::new();
        for request in a.requests {
            let new_id = if request.port_id.is_none() {
                new_ids.next()
            } else {
                None
            };
            let result = self
                .plug(a, request, new_id)
                .and_then(|port| Ok((self.nic(&port, request)?, port)));
            match result {
                Ok((nic, port)) => {
                    nics.push(nic);
                    plugged.push(port);
                }
                Err(e) => {
                    let passed: Vec<String> = a
                        .requests
                        .iter()
                        .filter_map(|r| r.port_id.clone())
                        .collect();
                    if let Err(undo) = self.release(a.server_id, a.new_port_ids, &passed) {
                        tracing::warn!(error = %undo, "cannot undo a partial port allocation");
                    }
                    return Err(e);
                }
            }
        }
        Ok(nics)
    }

    fn release(
        &self,
        server_id: &str,
        delete: &[String],
        unbind: &[String],
    ) -> Result<(), ComputeError> {
        for id in delete {
            match self.port(id)? {
                Some(p) if p.device_id == server_id || p.device_id.is_empty() => {
                    self.state.delete_port(id).map_err(network_error)?
                }
                _ => {}
            }
        }
        for id in unbind {
            if let Some(p) = self.port(id)? {
                if p.device_id == server_id {
                    self.state.unbind_port(id).map_err(network_error)?;
                }
            }
        }
        Ok(())
    }
}

/// The network side of hosts' documents and reports: the sections come
/// from the network model ([`HostSections`]), the reports go to the
/// store, and a port's reported state becomes its Neutron `status`
/// (`ACTIVE` once wired on its host, `DOWN` while not, `ERROR` when its
/// host gave up on it).
pub struct NetworkObjects {
    sections: HostSections,
    state: Arc<NetworkState>,
    reports: Arc<dyn HostObjectStore>,
    exports: Option<Arc<dyn ExportRecords>>,
}

impl NetworkObjects {
    /// Over the network service's state; hosts' tunnel addresses are the
    /// addresses their compute services registered.
    pub fn new(
        state: Arc<NetworkState>,
        reports: Arc<dyn HostObjectStore>,
        services: Arc<dyn ServerStore>,
    ) -> Self {
        let tunnel_ip: TunnelAddresses = Arc::new(move |host: &str| {
            let services = services.list_services().ok()?;
            let s = services.iter().find(|s| s.host == host)?;
            let caps = &s.capabilities;
            (caps.get("tunnel_ip").or_else(|| caps.get("host_ip")))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        });
        NetworkObjects {
            sections: HostSections::new(state.clone(), tunnel_ip),
            state,
            reports,
            exports: None,
        }
    }

    /// The status a report gives `port`, written only when it changes
    /// (a write moves the port's revision number).
    fn port_status(&self, port: &Port, o: &ObservedObject) -> StoreResult<()> {
        let status = match o.phase {
            ObjectPhase::Ready => "ACTIVE",
            ObjectPhase::Failed => "ERROR",
            ObjectPhase::Deleted => return Ok(()),
            _ => "DOWN",
        };
        if port.status == status {
            return Ok(());
        }
        self.state.store.update_port(&o.key.id, &mut |p| {
            p.status = status.to_string();
            Ok(None)
        })?;
        Ok(())
    }
}

impl NetworkObjects {
    /// Also the block-device section: the volume exports in `exports`.
    pub fn with_exports(mut self, exports: Arc<dyn ExportRecords>) -> Self {
        self.exports = Some(exports);
        self
    }
}

impl HostObjects for NetworkObjects {
    fn block_devices(&self, host: &str) -> StoreResult<BlockDeviceSection> {
        match &self.exports {
            Some(e) => crate::host_exports::block_section(e.as_ref(), self.reports.as_ref(), host),
            None => Ok(BlockDeviceSection::default()),
        }
    }

    /// The section from the network model, plus a tombstone (`deleted`)
    /// for every object the host reported that the model no longer puts
    /// there (a deleted port, a network with nothing left on the host):
    /// the agent tears down only what its document marks deleted (an
    /// object merely missing is left alone), in order, and its report of
    /// the teardown removes the tombstone.
    fn network(&self, host: &str) -> StoreResult<NetworkSection> {
        let mut section = self.sections.section(host)?;
        for r in self.reports.reported_objects(host)? {
            let Ok(o) = serde_json::from_value::<ObservedObject>(r.report) else {
                continue;
            };
            tombstone(&mut section, &o);
        }
        Ok(section)
    }

    fn report(&self, host: &str, observed: &[ObservedObject]) -> StoreResult<()> {
        let mut kept = Vec::new();
        let mut gone = Vec::new();
        for o in observed {
            let kind = o.key.kind.as_str().to_string();
            if o.phase == ObjectPhase::Deleted {
                gone.push((kind, o.key.id.clone()));
            } else {
                kept.push(ReportedObject {
                    kind,
                    id: o.key.id.clone(),
                    report: serde_json::to_value(o)?,
                });
            }
        }
        self.reports.record_objects(host, &kept, &gone)?;
        for o in observed.iter().filter(|o| o.key.kind == Kind::Port) {
            if let Some(port) = self.state.store.get_port(&o.key.id)? {
                if port.host_id == host {
                    self.port_status(&port, o)?;
                }
            }
        }
        Ok(())
    }

    fn last_reported(&self, host: &str) -> StoreResult<Vec<ObservedObject>> {
        let mut out = Vec::new();
        for r in self.reports.reported_objects(host)? {
            match serde_json::from_value::<ObservedObject>(r.report) {
                Ok(o) => out.push(o),
                Err(e) => {
                    tracing::warn!(kind = %r.kind, id = %r.id, error = %e, "unreadable object report")
                }
            }
        }
        Ok(out)
    }
}

/// Add a `deleted` entry for reported object `o` unless `section` has it.
/// Its generation is one past what the agent finished, so the agent
/// takes it; the fields other than the id only need to be well formed
/// (a driver removes by id), except a port's network, which orders the
/// port's teardown before its network's.
fn tombstone(section: &mut NetworkSection, o: &ObservedObject) {
    let id = o.key.id.clone();
    let generation = o.observed_generation + 1;
    match o.key.kind {
        Kind::Port if !section.ports.iter().any(|p| p.id == id) => {
            let network_id = (o.details.get("network_id"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            section.ports.push(gone_port(id, network_id, generation));
        }
        Kind::Network if !section.networks.iter().any(|n| n.id == id) => {
            section.networks.push(DesiredNetwork {
                id,
                segment: Segment::Local,
                mtu: 0,
                admin_state_up: false,
                generation,
                deleted: true,
            });
        }
        Kind::Dhcp if !section.dhcp.iter().any(|d| d.network_id == id) => {
            section.dhcp.push(DesiredDhcp {
                port: gone_port(String::new(), id.clone(), generation),
                network_id: id,
                subnets: Vec::new(),
                hosts: Vec::new(),
                generation,
                deleted: true,
            });
        }
        // A deleted router (or one left with no port): its namespace goes.
        Kind::Router if !section.routers.iter().any(|r| r.id == id) => {
            section.routers.push(DesiredRouter {
                id,
                gateway: None,
                enable_snat: false,
                interfaces: Vec::new(),
                subnets: Vec::new(),
                routes: Vec::new(),
                floating_ips: Vec::new(),
                admin_state_up: false,
                generation,
                deleted: true,
            });
        }
        _ => {}
    }
}

fn gone_port(id: String, network_id: String, generation: u64) -> DesiredPort {
    DesiredPort {
        tap: tap_name(&id),
        id,
        network_id,
        mac_address: String::new(),
        fixed_ips: Vec::new(),
        allowed_address_pairs: Vec::new(),
        port_security_enabled: false,
        security_groups: Vec::new(),
        admin_state_up: false,
        device_id: None,
        generation,
        deleted: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrostack_host_contract::ObjectKey;

    fn reported(kind: Kind, id: &str, generation: u64) -> ObservedObject {
        ObservedObject {
            key: ObjectKey::new(kind, id),
            phase: ObjectPhase::Ready,
            observed_generation: generation,
            present: true,
            fault: None,
            details: Default::default(),
        }
    }

    #[test]
    fn a_reported_router_the_model_no_longer_has_is_marked_deleted() {
        let mut section = NetworkSection::default();
        tombstone(&mut section, &reported(Kind::Router, "r1", 7));
        assert_eq!(section.routers.len(), 1);
        let r = &section.routers[0];
        assert_eq!((r.id.as_str(), r.deleted, r.generation), ("r1", true, 8));
        // A router still in the model is left as the model has it.
        tombstone(&mut section, &reported(Kind::Router, "r1", 9));
        assert_eq!(section.routers.len(), 1);
    }
}
