//! The network section of a host's desired document (drafted).
//!
//! Nothing writes this section yet; its shape is fixed here so the
//! networking API (Neutron v2.0) and the agent's host-network driver are
//! built against one contract. What a host needs to carry tenant traffic
//! is derived by the controller from Neutron's model, per host:
//!
//! - the [`DesiredNetwork`]s that have a port bound here (a bridge per
//!   network; a VXLAN device with its VNI and multicast group, a VLAN
//!   sub-interface or a flat physical interface, by `network_type`);
//! - the [`DesiredPort`]s bound here (a tap in the network's bridge, the
//!   port's anti-spoofing rules from its MAC, fixed IPs and allowed address
//!   pairs, and its security groups' rules);
//! - the [`DesiredSecurityGroup`]s those ports use, with `remote_group_id`
//!   already expanded into the member addresses (so the agent needs no
//!   view of other hosts' ports);
//! - the [`DesiredDhcp`] servers this host runs, with one entry per port;
//! - the [`DesiredRouter`]s a network host runs (a namespace each, with
//!   its gateway and interface ports, SNAT and floating IPs).
//!
//! A change of a security group (its rules or a remote group's members)
//! bumps the generation of every port that uses it, so the port driver
//! re-applies its rules; groups have no driver of their own.
//!
//! The agent converges them in the order the engine states once:
//! network before port, port before the VM that uses it; VM gone before
//! its port is unwired.

use serde::{Deserialize, Serialize};

/// Everything of the network a host should carry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkSection {
    /// The networks with something on this host.
    #[serde(default)]
    pub networks: Vec<DesiredNetwork>,
    /// The ports bound to this host.
    #[serde(default)]
    pub ports: Vec<DesiredPort>,
    /// The security groups the ports here use.
    #[serde(default)]
    pub security_groups: Vec<DesiredSecurityGroup>,
    /// The DHCP servers this host runs.
    #[serde(default)]
    pub dhcp: Vec<DesiredDhcp>,
    /// The routers this (network) host runs.
    #[serde(default)]
    pub routers: Vec<DesiredRouter>,
}

/// How a network's frames travel between hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "network_type", rename_all = "snake_case")]
pub enum Segment {
    /// This host only (a bridge with no uplink).
    Local,
    /// Untagged on a physical network (`physnet1` mapped to `br-ex`).
    Flat {
        /// The physical network name, mapped to a bridge or interface by
        /// the host's configuration.
        physical_network: String,
    },
    /// 802.1Q-tagged on a physical network.
    Vlan {
        /// The physical network name.
        physical_network: String,
        /// The VLAN id (1-4094).
        segmentation_id: u16,
    },
    /// GRE over the host's tunnel address (only where the answer file
    /// enables it and the kernel has GRE).
    Gre {
        /// The GRE key.
        segmentation_id: u32,
    },
    /// VXLAN over the host's tunnel address.
    Vxlan {
        /// The VNI.
        segmentation_id: u32,
        /// The multicast group flooding uses (`239.1.1.5`), if any.
        group: Option<String>,
        /// The tunnel addresses of the other hosts carrying this network,
        /// for unicast head-end replication when there is no group (an
        /// all-zero FDB entry per peer). Empty in documents written before
        /// it existed.
        #[serde(default)]
        peers: Vec<String>,
    },
}

/// One network's data path on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredNetwork {
    /// The network id.
    pub id: String,
    /// How it reaches other hosts.
    pub segment: Segment,
    /// The MTU the bridge and its taps get.
    pub mtu: u32,
    /// `admin_state_up`: a down network forwards nothing.
    pub admin_state_up: bool,
    /// Bumped by every write of this object.
    pub generation: u64,
    /// Being deleted: tear it down once no port uses it.
    #[serde(default)]
    pub deleted: bool,
}

/// One fixed address of a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedIp {
    /// The subnet id.
    pub subnet_id: String,
    /// The address.
    pub ip_address: String,
}

/// An extra (MAC, address or prefix) a port may send from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedAddressPair {
    /// The MAC; `None` means the port's own.
    pub mac_address: Option<String>,
    /// An address or a CIDR.
    pub ip_address: String,
}

/// One port bound to this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredPort {
    /// The port id.
    pub id: String,
    /// Its network.
    pub network_id: String,
    /// The tap device the VM's NIC uses (at most 15 bytes).
    pub tap: String,
    /// The port's MAC.
    pub mac_address: String,
    /// Its fixed addresses.
    pub fixed_ips: Vec<FixedIp>,
    /// Other sources it may use.
    #[serde(default)]
    pub allowed_address_pairs: Vec<AllowedAddressPair>,
    /// Off: no anti-spoofing and no security groups.
    pub port_security_enabled: bool,
    /// The security groups whose rules apply.
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// `admin_state_up`.
    pub admin_state_up: bool,
    /// The instance the port is plugged into, if any.
    pub device_id: Option<String>,
    /// Bumped by every write of this object.
    pub generation: u64,
    /// Being deleted (or unbound from this host): unwire it once the VM
    /// that uses it is gone.
    #[serde(default)]
    pub deleted: bool,
}

/// Traffic direction of a rule, as the guest sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleDirection {
    /// Into the guest.
    Ingress,
    /// Out of the guest.
    Egress,
}

/// One security group rule, with its remote group expanded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredRule {
    /// The rule id.
    pub id: String,
    /// Ingress or egress.
    pub direction: RuleDirection,
    /// `IPv4` or `IPv6`.
    pub ethertype: String,
    /// An IP protocol number; `None` for any.
    pub protocol: Option<u8>,
    /// The lowest port (or ICMP type).
    pub port_range_min: Option<u16>,
    /// The highest port (or ICMP code).
    pub port_range_max: Option<u16>,
    /// The peer prefixes: `remote_ip_prefix`, or the addresses of the
    /// remote group's ports; empty means any.
    pub remote_prefixes: Vec<String>,
}

/// One security group as the ports of this host use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredSecurityGroup {
    /// The group id.
    pub id: String,
    /// Stateful (conntrack) or stateless.
    pub stateful: bool,
    /// Its rules.
    pub rules: Vec<DesiredRule>,
    /// Bumped by every write of the group, its rules or its remote
    /// groups' membership.
    pub generation: u64,
}

/// One subnet a DHCP server serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpSubnet {
    /// The subnet id.
    pub id: String,
    /// The CIDR.
    pub cidr: String,
    /// The gateway, if any.
    pub gateway_ip: Option<String>,
    /// DNS servers handed out.
    #[serde(default)]
    pub dns_nameservers: Vec<String>,
    /// Static routes handed out (destination, next hop).
    #[serde(default)]
    pub host_routes: Vec<(String, String)>,
}

/// One DHCP host entry: a port's MAC and address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpHost {
    /// The port's MAC.
    pub mac_address: String,
    /// Its address.
    pub ip_address: String,
    /// The guest host name.
    pub hostname: String,
    /// The instance the port plugs into, whose metadata a request from
    /// this address gets; `None` for a port of no instance.
    #[serde(default)]
    pub instance_id: Option<String>,
}

/// A DHCP server for one network on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredDhcp {
    /// The network id.
    pub network_id: String,
    /// The DHCP port's own address per subnet.
    pub port: DesiredPort,
    /// The subnets with DHCP enabled.
    pub subnets: Vec<DhcpSubnet>,
    /// Fixed entries, one per port on the network.
    pub hosts: Vec<DhcpHost>,
    /// Bumped by every write of this object.
    pub generation: u64,
    /// Being deleted.
    #[serde(default)]
    pub deleted: bool,
}

/// A floating IP on a router: DNAT to the fixed address, SNAT back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatingIp {
    /// The floating IP's id.
    pub id: String,
    /// The address on the external network.
    pub floating_ip_address: String,
    /// The fixed address it forwards to.
    pub fixed_ip_address: String,
}

/// A subnet one of a router's ports has an address on: what the router
/// needs to give that port its prefix length, to route to the subnet, and
/// (for the gateway's subnet) its default route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterSubnet {
    /// The subnet id (as in the ports' [`FixedIp::subnet_id`]).
    pub id: String,
    /// The CIDR.
    pub cidr: String,
    /// The subnet's gateway: for the external subnet, the router's
    /// default next hop; for an interface subnet, the router's own
    /// address there (usually).
    pub gateway_ip: Option<String>,
    /// `ipv6_ra_mode` (`slaac`, `dhcpv6-stateless`, ...): the router
    /// sends router advertisements on this subnet when set.
    #[serde(default)]
    pub ipv6_ra_mode: Option<String>,
}

/// A router: a network namespace with its gateway and interface ports,
/// forwarding, SNAT for the gateway and DNAT/SNAT per floating IP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredRouter {
    /// The router id.
    pub id: String,
    /// The gateway port on the external network, if any.
    pub gateway: Option<DesiredPort>,
    /// SNAT for traffic leaving through the gateway.
    pub enable_snat: bool,
    /// The interface ports on tenant networks.
    pub interfaces: Vec<DesiredPort>,
    /// The subnets the gateway and interface ports have addresses on.
    #[serde(default)]
    pub subnets: Vec<RouterSubnet>,
    /// Static routes (destination, next hop).
    #[serde(default)]
    pub routes: Vec<(String, String)>,
    /// The floating IPs it carries.
    #[serde(default)]
    pub floating_ips: Vec<FloatingIp>,
    /// `admin_state_up`.
    pub admin_state_up: bool,
    /// Bumped by every write of the router, its ports or its floating IPs.
    pub generation: u64,
    /// Being deleted.
    #[serde(default)]
    pub deleted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vxlan_segment_written_before_peers_still_parses() {
        let old = r#"{"network_type": "vxlan", "segmentation_id": 7, "group": null}"#;
        let s: Segment = serde_json::from_str(old).expect("old segment");
        assert_eq!(
            s,
            Segment::Vxlan {
                segmentation_id: 7,
                group: None,
                peers: Vec::new()
            }
        );
    }
}
