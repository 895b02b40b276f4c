//! The host data plane: the agent's drivers for the network section of a
//! host's desired document, converged onto the Linux kernel with no OVS or
//! OVN.
//!
//! Four [`ObjectDriver`](ferrostack_agent::drivers::ObjectDriver)s, one per
//! kind the engine orders (network before port, port before VM; a router
//! after the networks of its ports):
//!
//! - [`NetworkDriver`]: a Linux bridge per network (`brq` + 11 characters
//!   of the id), with its uplink: a VXLAN device (`vxlan-<vni>`) on the
//!   tunnel address, flooding to the segment's multicast group or, without
//!   one, by unicast head-end replication to the peers the document lists
//!   (all-zero FDB entries); a flat network enslaves the mapped physical
//!   interface (or joins a mapped bridge through a veth pair); a VLAN
//!   network a `vl<vid>-<8 of id>` sub-interface (kernels with 8021q). Each
//!   network's bridged traffic has a conntrack zone of its own.
//! - [`PortDriver`]: a persistent tap (owned by root, the network's MTU)
//!   enslaved to the bridge before QEMU opens it, and the port's
//!   anti-spoofing and security-group rules in nftables (see [`nft`]): set
//!   and map elements under rules shared by all ports, its groups' chains
//!   shared by the ports with the same groups; concurrent ports' changes go
//!   to the kernel in one transaction (`commit`), a refused batch again
//!   port by port.
//! - [`DhcpDriver`]: dnsmasq per network in its own namespace, on a veth
//!   into the bridge that carries the DHCP port's MAC and addresses, with
//!   static leases only.
//! - [`RouterDriver`]: a network namespace per router on a network host,
//!   its gateway and interface ports as veth pairs into the networks'
//!   bridges, forwarding and routes, and one nft table of NAT: SNAT for
//!   the gateway, DNAT and SNAT per floating IP (map elements), hairpin;
//!   floating addresses as /32s on the gateway link, announced by
//!   gratuitous ARP; router advertisements on SLAAC/DHCPv6 subnets.
//!
//! # Why these tools
//!
//! - Linux bridges and VXLAN rather than OVS: nothing to install or keep
//!   running, the kernel is the switch, and a restarted agent finds
//!   everything where it left it (taps are persistent, bridges outlive
//!   the agent). OVS's flows would buy L3 offload we do not use yet.
//! - nftables rather than iptables/ebtables: atomic transactions
//!   (`nft -f -`), sets and verdict maps so the rule count grows with the
//!   security groups in use, not with the ports (a port is elements), and
//!   one tool for the bridge and inet families.
//! - dnsmasq (Debian's `dnsmasq-base`) rather than a DHCP server of our
//!   own: it is what Neutron's DHCP agent runs, so guests see the same
//!   answers (options 26, 121, 3, 6), it re-reads its hosts and options
//!   files on SIGHUP without dropping leases, and it is small. A server
//!   of our own would need DHCPv6, relay and lease corner cases done
//!   again for little gain.
//! - A namespace and an nft table per router rather than Neutron's L3
//!   agent (iptables chains rewritten by a Python process, keepalived,
//!   `conntrack -D` on changes): the namespace is a whole IP stack the
//!   kernel keeps forwarding while the agent is away, and the table is
//!   replaced in one atomic transaction that leaves conntrack alone, so a
//!   re-apply or a restart drops no connection; a floating IP is a few
//!   map elements, so its cost does not grow with the router's others.
//!   No HA (keepalived/VRRP) yet: a router lives on one network host.
//! - Route netlink from the agent itself behind [`kernel::Kernel`] for
//!   links, addresses and FDB entries, and the tun driver's ioctls for
//!   taps: a process per call (`ip`, `bridge`: 1-3 ms each, about eleven
//!   per port wired) was what a port cost; a request is tens of
//!   microseconds. The messages come from `netlink-packet-route` over a
//!   plain `netlink-sys` socket (the `rtnetlink` crate's async connection
//!   was rejected: see the `rtnl` module), each built as the iproute2
//!   command it replaced and tested against it. What stays a process:
//!   `nft -f -`, `ip netns add/del` (bind mounts) and `ip netns exec`
//!   (dnsmasq), and the operator view's `-json` reads.
//!
//! # Isolation and adoption
//!
//! [`HostNetConfig::netns`] puts the whole "host side" in a network
//! namespace (tests, and several stand-in hosts on one machine); the name
//! prefixes keep DHCP namespaces and nft tables of tests apart from the
//! real agent's. `list()` reads the kernel (bridges and taps carry their
//! object id in the link alias, DHCP namespaces in their name), so a
//! restarted agent adopts what exists and re-ensures it in place instead
//! of tearing it down.

mod commit;
pub mod dhcp;
mod error;
pub mod kernel;
pub mod metadata;
pub mod names;
pub mod network;
pub mod nft;
pub mod port;
pub mod router;
mod rtnl;
pub mod show;

pub use dhcp::DhcpDriver;
pub use error::{error_chain, Error, Result};
pub use network::NetworkDriver;
pub use port::PortDriver;
pub use router::RouterDriver;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The tunnel endpoint of this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    /// This host's address on the underlay (the VXLAN source).
    pub local_ip: String,
    /// The underlay device VXLAN devices are bound to.
    pub device: String,
}

/// How this host's data plane is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostNetConfig {
    /// The namespace the host side lives in (bridges, taps, VXLAN, nft);
    /// `None` is the agent's own.
    pub netns: Option<String>,
    /// Prefix of bridge names (`brq`); at most 4 bytes so 11 characters of
    /// the network id still fit in 15.
    pub bridge_prefix: String,
    /// Prefix of DHCP namespaces (`qdhcp-`).
    pub dhcp_netns_prefix: String,
    /// Prefix of router namespaces (`qrouter-`).
    pub router_netns_prefix: String,
    /// The nft table name, in the bridge and inet families.
    pub nft_table: String,
    /// The tunnel endpoint VXLAN networks use.
    pub tunnel: Option<Tunnel>,
    /// The multicast group a VXLAN network without one of its own uses;
    /// `None` means unicast to the document's peers.
    pub vxlan_group: Option<String>,
    /// The VXLAN UDP port.
    pub vxlan_port: u16,
    /// Physical network name to host interface (flat and VLAN networks).
    pub physical_networks: BTreeMap<String, String>,
    /// Where DHCP servers keep their hosts, options and pid files.
    pub state_dir: PathBuf,
}

impl HostNetConfig {
    /// The defaults of a real host: the agent's namespace, Neutron's
    /// prefixes, state under `state_dir`.
    pub fn new(state_dir: PathBuf) -> Self {
        HostNetConfig {
            netns: None,
            bridge_prefix: "brq".into(),
            dhcp_netns_prefix: "qdhcp-".into(),
            router_netns_prefix: "qrouter-".into(),
            nft_table: "ferrostack".into(),
            tunnel: None,
            vxlan_group: None,
            vxlan_port: 4789,
            physical_networks: BTreeMap::new(),
            state_dir,
        }
    }

    /// Checks the names this configuration puts in commands.
    pub fn validate(&self) -> Result<()> {
        if let Some(ns) = &self.netns {
            names::check_netns(ns)?;
        }
        if self.bridge_prefix.is_empty() || self.bridge_prefix.len() > 4 {
            return Err(Error::invalid(
                "bridge prefix (1-4 bytes)",
                &self.bridge_prefix,
            ));
        }
        names::check_ifname(&self.bridge_prefix)?;
        names::check_netns(&format!("{}x", self.dhcp_netns_prefix))?;
        names::check_netns(&format!("{}x", self.router_netns_prefix))?;
        names::check_token(&self.nft_table)?;
        if let Some(t) = &self.tunnel {
            names::check_ip(&t.local_ip)?;
            names::check_ifname(&t.device)?;
        }
        for iface in self.physical_networks.values() {
            names::check_ifname(iface)?;
        }
        Ok(())
    }
}

/// Whether this host can run the real data plane: root, and the tools.
/// The reason it cannot, if not.
pub fn prerequisites() -> std::result::Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err("not root".into());
    }
    for tool in ["ip", "bridge", "nft", "dnsmasq"] {
        if kernel::find_tool(tool).is_none() {
            return Err(format!("{tool} not found"));
        }
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("/dev/net/tun missing".into());
    }
    Ok(())
}
