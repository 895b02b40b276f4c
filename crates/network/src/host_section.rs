//! The network section of one host's desired document, derived from
//! Neutron's model: what a host must carry for the ports bound to it.
//!
//! - **Ports**: every port bound to the host that plugs into a VM
//!   (`compute:*`), with its tap (`tap` + 11 characters of the id, as Nova
//!   names it, so the VM's NIC and the port agree without asking each
//!   other), MAC, addresses, pairs and groups.
//! - **Networks**: those of the ports and of the DHCP ports bound here,
//!   with their segment (a VXLAN network lists the tunnel addresses of
//!   the other hosts that carry it, for unicast flooding when there is no
//!   multicast group).
//! - **Security groups**: those the ports use, translated with their
//!   remote groups expanded (see [`crate::security_groups::desired`]).
//! - **DHCP**: one server per network whose DHCP port is bound here, with
//!   a fixed entry for every port of the network.
//!
//! Generations must only grow (the agent ignores a lower one), so each is
//! a change time in µs: a port's is the latest of its own and its
//! groups'; a network's its own; a DHCP server's the latest change of its
//! network, subnets and ports ([`Network::contents_changed_at`] covers
//! the ports and subnets that were deleted).

use crate::security_groups::desired::{desired_security_groups, remote_group_ids, Membership};
use crate::NetworkState;
use ferrostack_host_contract::network::{
    AllowedAddressPair, DesiredDhcp, DesiredNetwork, DesiredPort, DhcpHost, DhcpSubnet, FixedIp,
    NetworkSection, Segment,
};
use ferrostack_store::network::{Network, Port, Subnet};
use ferrostack_store::StoreResult;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The device owner of DHCP ports.
pub const DHCP_OWNER: &str = "network:dhcp";

/// A port's tap device: `tap` + the first 11 characters of its id (Nova's
/// naming; 14 bytes, under Linux's 15).
pub fn tap_name(port_id: &str) -> String {
    format!("tap{}", port_id.chars().take(11).collect::<String>())
}

/// Finds a host's tunnel address (its registered host IP).
pub type TunnelAddresses = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Builds hosts' network sections from the network service's stores.
pub struct HostSections {
    state: Arc<NetworkState>,
    tunnel_ip: TunnelAddresses,
}

impl HostSections {
    /// Over `state`, finding hosts' tunnel addresses with `tunnel_ip`.
    pub fn new(state: Arc<NetworkState>, tunnel_ip: TunnelAddresses) -> Self {
        HostSections { state, tunnel_ip }
    }

    /// The network section of `host`.
    pub fn section(&self, host: &str) -> StoreResult<NetworkSection> {
        let ports = self.state.store.list_ports()?;
        let networks: BTreeMap<String, Network> = (self.state.store.list_networks()?)
            .into_iter()
            .map(|n| (n.id.clone(), n))
            .collect();
        let subnets = self.state.store.list_subnets()?;
        let here: Vec<&Port> = ports.iter().filter(|p| p.host_id == host).collect();
        let vm_ports: Vec<&Port> = (here.iter().copied())
            .filter(|p| p.device_owner.starts_with("compute:"))
            .collect();
        let dhcp_ports: Vec<&Port> = (here.iter().copied())
            .filter(|p| p.device_owner == DHCP_OWNER)
            .collect();
        let carried: BTreeSet<&str> = (vm_ports.iter().chain(dhcp_ports.iter()))
            .map(|p| p.network_id.as_str())
            .collect();

        let groups = self.groups(&vm_ports, &ports)?;
        let group_generation: BTreeMap<&str, u64> = groups
            .iter()
            .map(|g| (g.id.as_str(), g.generation))
            .collect();

        let mut section = NetworkSection::default();
        for id in carried {
            let Some(n) = networks.get(id) else { continue };
            section.networks.push(self.network(n, host, &ports));
        }
        for p in &vm_ports {
            let mut d = desired_port(p);
            for g in &d.security_groups {
                d.generation = d
                    .generation
                    .max(group_generation.get(g.as_str()).copied().unwrap_or(0));
            }
            section.ports.push(d);
        }
        for p in &dhcp_ports {
            let Some(n) = networks.get(&p.network_id) else {
                continue;
            };
            section.dhcp.push(dhcp(n, p, &subnets, &ports));
        }
        section.security_groups = groups;
        Ok(section)
    }

    fn network(&self, n: &Network, host: &str, ports: &[Port]) -> DesiredNetwork {
        let id = |v: Option<i64>| v.unwrap_or(0).max(0) as u32;
        let physnet = n.physical_network.clone().unwrap_or_default();
        let segment = match n.network_type.as_str() {
            "flat" => Segment::Flat {
                physical_network: physnet,
            },
            "vlan" => Segment::Vlan {
                physical_network: physnet,
                segmentation_id: id(n.segmentation_id) as u16,
            },
            "gre" => Segment::Gre {
                segmentation_id: id(n.segmentation_id),
            },
            "vxlan" => {
                let peers: BTreeSet<String> = ports
                    .iter()
                    .filter(|p| p.network_id == n.id && !p.host_id.is_empty() && p.host_id != host)
                    .filter_map(|p| (self.tunnel_ip)(&p.host_id))
                    .collect();
                Segment::Vxlan {
                    segmentation_id: id(n.segmentation_id),
                    group: self.state.ml2.vxlan_group.clone(),
                    peers: peers.into_iter().collect(),
                }
            }
            _ => Segment::Local,
        };
        DesiredNetwork {
            id: n.id.clone(),
            segment,
            mtu: n.mtu.max(0) as u32,
            admin_state_up: n.admin_state_up,
            generation: n.updated_at.max(0) as u64,
            deleted: false,
        }
    }

    /// The groups `ports` use, translated, with the members of their
    /// remote groups taken from every port.
    fn groups(
        &self,
        ports: &[&Port],
        all: &[Port],
    ) -> StoreResult<Vec<ferrostack_host_contract::network::DesiredSecurityGroup>> {
        let ids: BTreeSet<String> = ports
            .iter()
            .filter(|p| p.port_security_enabled)
            .flat_map(|p| p.security_groups.iter().cloned())
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let store = &self.state.security_groups.store;
        let groups = store.groups_by_id(&ids.into_iter().collect::<Vec<_>>())?;
        let remotes: Vec<String> = remote_group_ids(&groups).into_iter().collect();
        let mut members: BTreeMap<String, Membership> = BTreeMap::new();
        for g in store.groups_by_id(&remotes)? {
            let m = members.entry(g.id.clone()).or_default();
            m.changed_at = g.members_changed_at;
            for p in all.iter().filter(|p| p.security_groups.contains(&g.id)) {
                m.fixed_ips
                    .extend(p.fixed_ips.iter().map(|ip| ip.ip_address.clone()));
                m.allowed_address_pairs
                    .extend(p.allowed_address_pairs.iter().map(|a| a.ip_address.clone()));
            }
        }
        Ok(desired_security_groups(&groups, &members))
    }
}

fn desired_port(p: &Port) -> DesiredPort {
    DesiredPort {
        id: p.id.clone(),
        network_id: p.network_id.clone(),
        tap: tap_name(&p.id),
        mac_address: p.mac_address.clone(),
        fixed_ips: p
            .fixed_ips
            .iter()
            .map(|ip| FixedIp {
                subnet_id: ip.subnet_id.clone(),
                ip_address: ip.ip_address.clone(),
            })
            .collect(),
        allowed_address_pairs: p
            .allowed_address_pairs
            .iter()
            .map(|a| AllowedAddressPair {
                mac_address: Some(a.mac_address.clone()),
                ip_address: a.ip_address.clone(),
            })
            .collect(),
        port_security_enabled: p.port_security_enabled,
        security_groups: if p.port_security_enabled {
            p.security_groups.clone()
        } else {
            Vec::new()
        },
        admin_state_up: p.admin_state_up,
        device_id: (!p.device_id.is_empty()).then(|| p.device_id.clone()),
        generation: p.updated_at.max(0) as u64,
        deleted: false,
    }
}

/// The DHCP server of network `n` served from port `dhcp_port`.
fn dhcp(n: &Network, dhcp_port: &Port, subnets: &[Subnet], ports: &[Port]) -> DesiredDhcp {
    let served: Vec<&Subnet> = subnets
        .iter()
        .filter(|s| s.network_id == n.id && s.enable_dhcp)
        .collect();
    let mut generation = n.updated_at.max(n.contents_changed_at);
    for s in &served {
        generation = generation.max(s.updated_at);
    }
    let mut hosts = Vec::new();
    for p in ports
        .iter()
        .filter(|p| p.network_id == n.id && p.id != dhcp_port.id)
    {
        generation = generation.max(p.updated_at);
        for ip in &p.fixed_ips {
            if served.iter().any(|s| s.id == ip.subnet_id) {
                hosts.push(DhcpHost {
                    mac_address: p.mac_address.clone(),
                    ip_address: ip.ip_address.clone(),
                    hostname: format!("host-{}", ip.ip_address.replace(['.', ':'], "-")),
                    instance_id: (p.device_owner.starts_with("compute:")
                        && !p.device_id.is_empty())
                    .then(|| p.device_id.clone()),
                });
            }
        }
    }
    DesiredDhcp {
        network_id: n.id.clone(),
        port: desired_port(dhcp_port),
        subnets: served
            .iter()
            .map(|s| DhcpSubnet {
                id: s.id.clone(),
                cidr: s.cidr.clone(),
                gateway_ip: s.gateway_ip.clone(),
                dns_nameservers: s.dns_nameservers.clone(),
                host_routes: s
                    .host_routes
                    .iter()
                    .map(|r| (r.destination.clone(), r.nexthop.clone()))
                    .collect(),
            })
            .collect(),
        hosts,
        generation: generation.max(0) as u64,
        deleted: false,
    }
}
