//! An in-memory network service for compute tests: networks, ports with
//! one address each, bindings, and the network section of each host's
//! document (the host link's [`HostObjects`]), so agents over the fake
//! hypervisor wire ports (with `FakeObjects` drivers) and hotplug NICs
//! exactly as they would against the real network service.

use ferrostack_compute::error::ComputeError;
use ferrostack_compute::hostlink::HostObjects;
use ferrostack_compute::networks::{
    tap_name, Allocation, NetworkRequest, NicAddress, NicRequest, ServerNetworks, ServerNic,
};
use ferrostack_host_contract::network::{DesiredNetwork, DesiredPort, NetworkSection, Segment};
use ferrostack_host_contract::ObservedObject;
use ferrostack_policy::AuthContext;
use ferrostack_store::StoreResult;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// A port of the fake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakePort {
    /// Its network.
    pub network_id: String,
    /// Its project.
    pub project_id: String,
    /// The server it is bound to (empty: none).
    pub device_id: String,
    /// `binding:host_id`.
    pub host: String,
    /// `device_owner`.
    pub owner: String,
    /// Its MAC.
    pub mac: String,
    /// Its one address.
    pub ip: String,
}

#[derive(Default)]
struct State {
    /// id -> (name, project, third octet of its 10.x.0.0/24).
    networks: BTreeMap<String, (String, String, u8)>,
    ports: BTreeMap<String, FakePort>,
    next_host: u8,
    reports: BTreeMap<(String, String), ObservedObject>,
}

/// The fake network service.
#[derive(Default)]
pub struct FakeNetworks {
    state: Mutex<State>,
    /// Allocations still to fail (each failure takes nothing).
    pub fail_allocations: AtomicU32,
    /// Run once at the start of the next allocation (a test's way to
    /// change the world while an attach is between its two writes).
    #[allow(clippy::type_complexity)]
    pub before_allocate: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl FakeNetworks {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// A network of `project` with a /24; its id.
    pub fn network(&self, project: &str, name: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let mut s = self.state();
        let octet = s.networks.len() as u8 + 1;
        s.networks
            .insert(id.clone(), (name.into(), project.into(), octet));
        id
    }

    /// An unbound port of `project` on `network`; its id.
    pub fn port(&self, project: &str, network: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.create(&id, project, network, None);
        id
    }

    /// Port `id`, if it exists.
    pub fn get(&self, id: &str) -> Option<FakePort> {
        self.state().ports.get(id).cloned()
    }

    /// Every port's id.
    pub fn port_ids(&self) -> Vec<String> {
        self.state().ports.keys().cloned().collect()
    }

    fn create(&self, id: &str, project: &str, network: &str, ip: Option<&str>) {
        let mut s = self.state();
        s.next_host += 1;
        let octet = s.networks[network].2;
        let n = s.next_host;
        let port = FakePort {
            network_id: network.into(),
            project_id: project.into(),
            device_id: String::new(),
            host: String::new(),
            owner: String::new(),
            mac: format!("fa:16:3e:00:{octet:02x}:{n:02x}"),
            ip: ip
                .map(str::to_string)
                .unwrap_or_else(|| format!("10.{octet}.0.{}", n + 10)),
        };
        s.ports.insert(id.into(), port);
    }

    fn nic(&self, id: &str, request: &NicRequest) -> ServerNic {
        let s = self.state();
        let p = &s.ports[id];
        let (name, _, octet) = &s.networks[&p.network_id];
        ServerNic {
            port_id: id.into(),
            network_id: p.network_id.clone(),
            network_name: name.clone(),
            mac_address: p.mac.clone(),
            tap: tap_name(id),
            mtu: 1450,
            fixed_ips: vec![NicAddress {
                ip_address: p.ip.clone(),
                version: 4,
                subnet_id: format!("subnet-{octet}"),
                cidr: format!("10.{octet}.0.0/24"),
                gateway_ip: None,
                dns_nameservers: Vec::new(),
            }],
            preserve_on_delete: request.port_id.is_some(),
            tag: request.tag.clone(),
        }
    }
}

/// No Nova network proxies: they answer 501.
impl ferrostack_compute::networks::NetworkProxies for FakeNetworks {}

impl ServerNetworks for FakeNetworks {
    fn resolve(
        &self,
        caller: &AuthContext,
        request: &NetworkRequest,
    ) -> Result<Vec<NicRequest>, ComputeError> {
        let NetworkRequest::List(list) = request else {
            return Ok(Vec::new());
        };
        for nic in list {
            self.resolve_attach(caller, nic)
                .map_err(|e| ComputeError::BadRequest(e.to_string()))?;
        }
        Ok(list.clone())
    }

    fn resolve_attach(
        &self,
        caller: &AuthContext,
        request: &NicRequest,
    ) -> Result<NicRequest, ComputeError> {
        let project = caller.project_id().unwrap_or_default();
        let s = self.state();
        let mut out = request.clone();
        if let Some(id) = &request.port_id {
            let Some(p) = s.ports.get(id).filter(|p| p.project_id == project) else {
                return Err(ComputeError::NotFound(format!(
                    "Port id {id} could not be found."
                )));
            };
            if !p.device_id.is_empty() {
                return Err(ComputeError::Conflict(format!(
                    "Port {id} is still in use."
                )));
            }
        } else if let Some(id) = &request.network_id {
            if s.networks.get(id).is_none_or(|n| n.1 != project) {
                return Err(ComputeError::NotFound(format!(
                    "Network {id} could not be found."
                )));
            }
        } else {
            let mine: Vec<&String> = (s.networks.iter())
                .filter(|(_, n)| n.1 == project)
                .map(|(id, _)| id)
                .collect();
            match mine.as_slice() {
                [one] => out.network_id = Some((*one).clone()),
                _ => return Err(ComputeError::BadRequest("no one network".into())),
            }
        }
        Ok(out)
    }

    fn port_status(&self, port_id: &str) -> Result<Option<String>, ComputeError> {
        Ok(self.get(port_id).map(|p| {
            if p.host.is_empty() {
                "DOWN".into()
            } else {
                "ACTIVE".into()
            }
        }))
    }

    fn change_security_group(
        &self,
        _caller: &AuthContext,
        _server_id: &str,
        _name: &str,
        _add: bool,
    ) -> Result<(), ComputeError> {
        Err(ComputeError::NotImplemented("no groups in the fake".into()))
    }

    fn server_security_group_ids(&self, _server_id: &str) -> Result<Vec<String>, ComputeError> {
        Ok(Vec::new())
    }

    fn security_groups_of(
        &self,
        _server_ids: &[&str],
    ) -> Result<BTreeMap<String, Vec<String>>, ComputeError> {
        Ok(BTreeMap::new())
    }

    fn security_groups(
        &self,
        _caller: &AuthContext,
        _names: &[String],
    ) -> Result<Vec<String>, ComputeError> {
        Ok(Vec::new())
    }

    fn allocate(&self, a: &Allocation<'_>) -> Result<Vec<ServerNic>, ComputeError> {
        let hook = self.before_allocate.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        let failing = self.fail_allocations.load(Ordering::SeqCst);
        if failing > 0 {
            self.fail_allocations.store(failing - 1, Ordering::SeqCst);
            return Err(ComputeError::Conflict(
                "No more IP addresses available on network.".into(),
            ));
        }
        let mut new_ids = a.new_port_ids.iter();
        let mut out = Vec::new();
        for r in a.requests {
            let id = match &r.port_id {
                Some(id) => id.clone(),
                None => {
                    let id = new_ids.next().unwrap().clone();
                    let network = r.network_id.clone().unwrap();
                    self.create(&id, a.project_id, &network, r.fixed_ip.as_deref());
                    id
                }
            };
            {
                let mut s = self.state();
                let p = s.ports.get_mut(&id).unwrap();
                p.device_id = a.server_id.into();
                p.host = a.host.into();
                p.owner = format!("compute:{}", a.zone);
            }
            out.push(self.nic(&id, r));
        }
        Ok(out)
    }

    fn release(
        &self,
        server_id: &str,
        delete: &[String],
        unbind: &[String],
    ) -> Result<(), ComputeError> {
        let mut s = self.state();
        for id in delete {
            if s.ports.get(id).is_some_and(|p| p.device_id == server_id) {
                s.ports.remove(id);
            }
        }
        for id in unbind {
            if let Some(p) = s.ports.get_mut(id).filter(|p| p.device_id == server_id) {
                p.device_id.clear();
                p.host.clear();
                p.owner.clear();
            }
        }
        Ok(())
    }
}

impl HostObjects for FakeNetworks {
    fn network(&self, host: &str) -> StoreResult<NetworkSection> {
        let s = self.state();
        let mut section = NetworkSection::default();
        for (id, p) in s.ports.iter().filter(|(_, p)| p.host == host) {
            if !section.networks.iter().any(|n| n.id == p.network_id) {
                section.networks.push(DesiredNetwork {
                    id: p.network_id.clone(),
                    segment: Segment::Local,
                    mtu: 1450,
                    admin_state_up: true,
                    generation: 1,
                    deleted: false,
                });
            }
            section.ports.push(DesiredPort {
                id: id.clone(),
                network_id: p.network_id.clone(),
                tap: tap_name(id),
                mac_address: p.mac.clone(),
                fixed_ips: Vec::new(),
                allowed_address_pairs: Vec::new(),
                port_security_enabled: false,
                security_groups: Vec::new(),
                admin_state_up: true,
                device_id: Some(p.device_id.clone()),
                generation: 1,
                deleted: false,
            });
        }
        Ok(section)
    }

    fn report(&self, host: &str, observed: &[ObservedObject]) -> StoreResult<()> {
        let mut s = self.state();
        for o in observed {
            s.reports
                .insert((host.to_string(), o.key.to_string()), o.clone());
        }
        Ok(())
    }

    fn last_reported(&self, host: &str) -> StoreResult<Vec<ObservedObject>> {
        Ok((self.state().reports.iter())
            .filter(|((h, _), _)| h == host)
            .map(|(_, o)| o.clone())
            .collect())
    }
}
