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
//!   multicast group; its generation follows those hosts coming and
//!   going).
//! - **Security groups**: those the ports use, translated with their
//!   remote groups expanded (see [`crate::security_groups::desired`]).
//! - **DHCP**: one server per network whose DHCP port is bound here, with
//!   a fixed entry for every port of the network.
//! - **Routers**: the routers this host runs, with their gateway and
//!   interface ports (see [`crate::router_section`]); their networks are
//!   carried here.
//!
//! Generations must only grow (the agent ignores a lower one), so each is
//! a change time in µs: a port's is the latest of its own and its
//! groups'; a network's its own; a DHCP server's the latest change of its
//! network, subnets and ports ([`Network::contents_changed_at`] covers
//! the ports and subnets that were deleted).

use crate::router_section::{desired_routers, is_router_port, FloatingIps};
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
        let router_ports: Vec<&Port> = (here.iter().copied())
            .filter(|p| is_router_port(p))
            .collect();
        let carried: BTreeSet<&str> = (vm_ports.iter().chain(&dhcp_ports).chain(&router_ports))
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
        let routers = self.state.routers.list_routers()?;
        let all_fips = self.state.store.list_floating_ips()?;
        let fips = FloatingIps {
            all: &all_fips,
            store: self.state.store.as_ref(),
        };
        section.routers = desired_routers(&routers, &ports, &subnets, fips, host)?;
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
            "vxlan" => Segment::Vxlan {
                segmentation_id: id(n.segmentation_id),
                group: self.state.ml2.vxlan_group.clone(),
                peers: vxlan_peers(&n.id, host, ports, &*self.tunnel_ip),
            },
            _ => Segment::Local,
        };
        DesiredNetwork {
            id: n.id.clone(),
            segment,
            mtu: n.mtu.max(0) as u32,
            admin_state_up: n.admin_state_up,
            generation: network_generation(n),
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

/// The tunnel addresses of the other hosts with a port of network
/// `network_id` (for unicast flooding), sorted. A loopback or unspecified
/// address (an in-process host without a tunnel registers 127.0.0.1 as
/// its address) reaches no other host, so it is never a peer.
fn vxlan_peers(
    network_id: &str,
    host: &str,
    ports: &[Port],
    tunnel_ip: &(dyn Fn(&str) -> Option<String> + Send + Sync),
) -> Vec<String> {
    let hosts: BTreeSet<&str> = ports
        .iter()
        .filter(|p| p.network_id == network_id && !p.host_id.is_empty() && p.host_id != host)
        .map(|p| p.host_id.as_str())
        .collect();
    let peers: BTreeSet<String> = hosts
        .into_iter()
        .filter_map(tunnel_ip)
        .filter(|ip| {
            ip.parse::<std::net::IpAddr>()
                .map_or(true, |a| !a.is_loopback() && !a.is_unspecified())
        })
        .collect();
    peers.into_iter().collect()
}

/// A network's generation on a host. A VXLAN network's peers change
/// when a port arrives on or leaves another host, which its own row does
/// not show, so its generation also follows the contents time (which
/// port creates, deletes and host changes move); the agent re-ensures it
/// and its FDB entries follow. Others change only with their row.
fn network_generation(n: &Network) -> u64 {
    let changed = if n.network_type == "vxlan" {
        n.updated_at.max(n.contents_changed_at)
    } else {
        n.updated_at
    };
    changed.max(0) as u64
}

/// A port as a host's document lists it.
pub(crate) fn desired_port(p: &Port) -> DesiredPort {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn network(kind: &str, updated_at: i64, contents_changed_at: i64) -> Network {
        Network {
            id: "n1".into(),
            project_id: "p".into(),
            name: "net".into(),
            description: String::new(),
            admin_state_up: true,
            shared: false,
            external: false,
            mtu: 1450,
            port_security_enabled: true,
            network_type: kind.into(),
            physical_network: None,
            segmentation_id: Some(10),
            availability_zone_hints: vec![],
            status: "ACTIVE".into(),
            tags: vec![],
            created_at: 1,
            updated_at,
            contents_changed_at,
            revision_number: 1,
        }
    }

    fn port(id: &str, network: &str, host: &str) -> Port {
        Port {
            id: id.into(),
            network_id: network.into(),
            project_id: "p".into(),
            name: String::new(),
            description: String::new(),
            admin_state_up: true,
            mac_address: "fa:16:3e:00:00:01".into(),
            fixed_ips: vec![],
            device_owner: "compute:nova".into(),
            device_id: "vm".into(),
            host_id: host.into(),
            vnic_type: "normal".into(),
            vif_details: Default::default(),
            profile: Default::default(),
            allowed_address_pairs: vec![],
            port_security_enabled: true,
            security_groups: vec![],
            status: "DOWN".into(),
            tags: vec![],
            created_at: 1,
            updated_at: 1,
            revision_number: 1,
        }
    }

    #[test]
    fn a_vxlan_networks_generation_moves_when_its_ports_change_hosts() {
        assert_eq!(network_generation(&network("vxlan", 5, 9)), 9);
        assert_eq!(network_generation(&network("vxlan", 5, 0)), 5);
        // Other segments have no peers: ports coming and going leave them be.
        assert_eq!(network_generation(&network("flat", 5, 9)), 5);
    }

    #[test]
    fn peers_are_the_other_carriers_tunnel_addresses_never_loopback() {
        let ports = vec![
            port("a", "n1", "host-a"),
            port("b", "n1", "host-b"),
            port("b2", "n1", "host-b"),
            port("c", "n1", "controller"),
            port("d", "n1", ""),
            port("e", "other", "host-e"),
        ];
        let tunnel = |h: &str| match h {
            "host-a" => Some("192.168.77.1".to_string()),
            "host-b" => Some("192.168.77.2".to_string()),
            "host-e" => Some("192.168.77.5".to_string()),
            // An in-process host without a tunnel registers loopback.
            "controller" => Some("127.0.0.1".to_string()),
            _ => None,
        };
        assert_eq!(
            vxlan_peers("n1", "host-a", &ports, &tunnel),
            ["192.168.77.2"]
        );
        assert_eq!(
            vxlan_peers("n1", "host-b", &ports, &tunnel),
            ["192.168.77.1"]
        );
        assert_eq!(
            vxlan_peers("n1", "host-x", &ports, &tunnel),
            ["192.168.77.1", "192.168.77.2"]
        );
    }
}
