//! The typed answer file: what the reader hands to `check` and, later,
//! `deploy`. Nothing here is a string that still needs parsing.

use super::database::Database;
use super::values::{
    BridgeIface, BridgeMapping, Cidr, Host, HypervisorKind, NetworkType, VlanRange,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// A role a host plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the API services (CONFIG_CONTROLLER_HOST).
    Controller,
    /// Runs VMs (CONFIG_COMPUTE_HOSTS).
    Compute,
    /// Carries networks (CONFIG_NETWORK_HOSTS).
    Network,
}

impl Role {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Controller => "controller",
            Role::Compute => "compute",
            Role::Network => "network",
        }
    }
}

/// One host of the deployment and everything it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostRoles {
    /// The host as the answer file names it.
    pub host: Host,
    /// Its roles, in controller, compute, network order.
    pub roles: Vec<Role>,
}

/// The API ports (CONFIG_FERROSTACK_*_PORT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Ports {
    /// Identity (Keystone).
    pub identity: u16,
    /// Compute (Nova).
    pub compute: u16,
    /// Image (Glance).
    pub image: u16,
    /// Block storage (Cinder).
    pub volume: u16,
    /// Network (Neutron).
    pub network: u16,
    /// Placement.
    pub placement: u16,
    /// The controller's host API (TLS), which agents call.
    pub host_api: u16,
    /// The agent's host API on compute hosts.
    pub agent: u16,
    /// The dashboard on the controller.
    pub dashboard: u16,
}

impl Ports {
    /// The ports a host with these roles listens on, with what each is for.
    pub fn for_roles(&self, roles: &[Role]) -> Vec<(u16, &'static str)> {
        let mut out = Vec::new();
        if roles.contains(&Role::Controller) {
            out.extend([
                (self.identity, "identity API"),
                (self.compute, "compute API"),
                (self.image, "image API"),
                (self.volume, "block storage API"),
                (self.network, "network API"),
                (self.placement, "placement API"),
                (self.host_api, "controller host API (TLS, for agents)"),
                (self.dashboard, "dashboard"),
            ]);
        }
        if roles.contains(&Role::Compute) {
            out.push((self.agent, "agent host API"));
        }
        out
    }
}

/// The Neutron settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Networking {
    /// CONFIG_NEUTRON_ML2_TYPE_DRIVERS.
    pub type_drivers: Vec<NetworkType>,
    /// CONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES.
    pub tenant_network_types: Vec<NetworkType>,
    /// CONFIG_NEUTRON_ML2_FLAT_NETWORKS.
    pub flat_networks: Vec<String>,
    /// CONFIG_NEUTRON_ML2_VLAN_RANGES.
    pub vlan_ranges: Vec<VlanRange>,
    /// CONFIG_NEUTRON_ML2_VXLAN_GROUP (None: unicast).
    pub vxlan_group: Option<Ipv4Addr>,
    /// CONFIG_NEUTRON_ML2_VNI_RANGES.
    pub vni_ranges: Vec<(u32, u32)>,
    /// CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS.
    pub bridge_mappings: Vec<BridgeMapping>,
    /// CONFIG_NEUTRON_OVS_BRIDGE_IFACES.
    pub bridge_ifaces: Vec<BridgeIface>,
}

/// A read, validated answer file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerFile {
    /// CONFIG_CONTROLLER_HOST: the controller, the first one when there
    /// are several.
    pub controller: Host,
    /// CONFIG_CONTROLLER_HOSTS (empty: `controller` alone).
    pub controller_hosts: Vec<Host>,
    /// CONFIG_FERROSTACK_PUBLIC_HOST (None: `controller`).
    pub public_host: Option<Host>,
    /// CONFIG_DATABASE_*.
    pub database: Database,
    /// CONFIG_COMPUTE_HOSTS.
    pub compute_hosts: Vec<Host>,
    /// CONFIG_NETWORK_HOSTS.
    pub network_hosts: Vec<Host>,
    /// CONFIG_KEYSTONE_ADMIN_PW.
    #[serde(skip)]
    pub admin_password: String,
    /// CONFIG_NTP_SERVERS.
    pub ntp_servers: Vec<Host>,
    /// CONFIG_SSH_KEY (None: the default key).
    pub ssh_key: Option<PathBuf>,
    /// CONFIG_*_INSTALL, by service (`NOVA`, `SWIFT`, ...).
    pub services: BTreeMap<String, bool>,
    /// The Neutron settings.
    pub networking: Networking,
    /// CONFIG_PROVISION_DEMO.
    pub provision_demo: bool,
    /// CONFIG_PROVISION_DEMO_FLOATRANGE.
    pub demo_float_range: Cidr,
    /// CONFIG_FERROSTACK_DATA_DIR.
    pub data_dir: PathBuf,
    /// CONFIG_FERROSTACK_HYPERVISOR.
    pub hypervisor: HypervisorKind,
    /// CONFIG_FERROSTACK_*_PORT.
    pub ports: Ports,
}

impl AnswerFile {
    /// An all-in-one deployment on `host` with every default: what
    /// `ferrostack check` assumes when no answer file is given.
    pub fn all_in_one(host: Host) -> Self {
        AnswerFile {
            controller: host.clone(),
            controller_hosts: Vec::new(),
            public_host: None,
            database: Database::default(),
            compute_hosts: vec![host.clone()],
            network_hosts: vec![host],
            admin_password: String::new(),
            ntp_servers: Vec::new(),
            ssh_key: None,
            services: BTreeMap::new(),
            networking: Networking {
                type_drivers: vec![NetworkType::Flat, NetworkType::Vxlan],
                tenant_network_types: vec![NetworkType::Vxlan],
                flat_networks: vec!["*".into()],
                vlan_ranges: Vec::new(),
                vxlan_group: None,
                vni_ranges: vec![(10, 100)],
                bridge_mappings: Vec::new(),
                bridge_ifaces: Vec::new(),
            },
            provision_demo: false,
            demo_float_range: Cidr {
                address: IpAddr::V4(Ipv4Addr::new(172, 24, 4, 0)),
                prefix: 24,
            },
            data_dir: PathBuf::from("/var/lib/ferrostack"),
            hypervisor: HypervisorKind::Qemu,
            ports: Ports {
                identity: 5000,
                compute: 8774,
                image: 9292,
                volume: 8776,
                network: 9696,
                placement: 8778,
                host_api: 8779,
                agent: 8780,
                dashboard: 80,
            },
        }
    }

    /// Every controller, CONFIG_CONTROLLER_HOST first (it bootstraps the
    /// cloud; the others get its host API identity and keys).
    pub fn controllers(&self) -> Vec<Host> {
        let mut out = vec![self.controller.clone()];
        for h in &self.controller_hosts {
            if !out.contains(h) {
                out.push(h.clone());
            }
        }
        out
    }

    /// The host name clients and the catalog use for the API.
    pub fn public_host(&self) -> &Host {
        self.public_host.as_ref().unwrap_or(&self.controller)
    }

    /// Every host named as controller, compute or network host, once,
    /// in the order the file names them (CONFIG_CONTROLLER_HOST first),
    /// with all its roles.
    pub fn hosts(&self) -> Vec<HostRoles> {
        let mut out: Vec<HostRoles> = Vec::new();
        let controllers = self.controllers();
        let named = controllers
            .iter()
            .map(|h| (h, Role::Controller))
            .chain(self.compute_hosts.iter().map(|h| (h, Role::Compute)))
            .chain(self.network_hosts.iter().map(|h| (h, Role::Network)));
        for (host, role) in named {
            match out.iter_mut().find(|h| &h.host == host) {
                Some(h) if !h.roles.contains(&role) => h.roles.push(role),
                Some(_) => {}
                None => out.push(HostRoles {
                    host: host.clone(),
                    roles: vec![role],
                }),
            }
        }
        for h in &mut out {
            h.roles.sort();
        }
        out
    }

    /// The host whose agent serves DHCP (every DHCP port is bound to
    /// it): the first of CONFIG_NETWORK_HOSTS that runs an agent, that is,
    /// is also in CONFIG_COMPUTE_HOSTS. Network-only hosts run no agent
    /// yet, so they are passed over; when no network host runs one, the
    /// first compute host serves DHCP (None only without compute hosts).
    pub fn dhcp_host(&self) -> Option<&Host> {
        self.network_hosts
            .iter()
            .find(|h| self.compute_hosts.contains(h))
            .or_else(|| self.compute_hosts.first())
    }

    /// Whether a service is wanted (`CONFIG_<NAME>_INSTALL=y`); services
    /// the file does not mention are wanted when ferrostack provides them.
    pub fn wants(&self, service: &str) -> bool {
        self.services
            .get(service)
            .copied()
            .unwrap_or_else(|| super::keys::PROVIDED_SERVICES.contains(&service))
    }
}
