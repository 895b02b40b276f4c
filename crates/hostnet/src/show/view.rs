//! What `net show` reports, built from what was read (pure: the unit
//! tests feed it captured `ip -json`, `bridge -json` and `nft -j` output),
//! and its text rendering.

use crate::kernel::Link;
use crate::nft::{parse_tables, profile_of_chain, Owned};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One host's data plane.
#[derive(Debug, Clone, Serialize)]
pub struct HostView {
    /// The namespace read (`None`: the caller's own).
    pub netns: Option<String>,
    /// The nft table name (bridge and inet families).
    pub nft_table: String,
    /// Where the DHCP servers' files were looked for.
    pub state_dir: String,
    /// One per network bridge, by bridge name.
    pub networks: Vec<NetworkView>,
    /// Taps carrying a port id in no network bridge (drift: the bridge
    /// was deleted and the agent has not repaired it yet).
    pub unattached_ports: Vec<PortView>,
    /// DHCP namespaces whose network has no bridge here.
    pub orphan_dhcp: Vec<DhcpView>,
    /// The router namespaces of this host.
    pub routers: Vec<super::router::RouterView>,
    /// What could not be read, and why.
    pub notes: Vec<String>,
}

/// One network's bridge.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkView {
    /// The bridge (`brq…`).
    pub bridge: String,
    /// The network id from the bridge's alias.
    pub network_id: Option<String>,
    /// The bridge's MTU.
    pub mtu: u32,
    /// Administratively up.
    pub admin_up: bool,
    /// The kernel's operational state.
    pub state: String,
    /// What connects it beyond this host.
    pub uplinks: Vec<UplinkView>,
    /// Its taps.
    pub ports: Vec<PortView>,
    /// Its DHCP server, if this host runs one.
    pub dhcp: Option<DhcpView>,
    /// Router veth ends in it (`rq-…`, `rg-…`) and the router id each
    /// carries in its alias.
    pub router_ports: Vec<(String, Option<String>)>,
}

/// A bridge member that is not a tap or the DHCP veth.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum UplinkView {
    /// `vxlan-<vni>`.
    Vxlan {
        /// The device.
        device: String,
        /// Its VNI.
        vni: Option<u64>,
        /// The local (tunnel) address.
        local: Option<String>,
        /// The underlay device.
        underlay: Option<String>,
        /// The UDP port.
        udp_port: Option<u64>,
        /// The multicast group, if any.
        group: Option<String>,
        /// The peers flooded to by all-zero FDB entries (unicast).
        peers: Vec<String>,
    },
    /// A VLAN sub-interface.
    Vlan {
        /// The device.
        device: String,
        /// Its VLAN id.
        vid: Option<u64>,
        /// The interface it sits on.
        parent: Option<String>,
    },
    /// Any other member: the mapped interface of a flat network, or our
    /// end of the veth to a mapped bridge.
    Flat {
        /// The device.
        device: String,
        /// Its link kind (none for a physical NIC).
        kind: Option<String>,
    },
}

/// One tap.
#[derive(Debug, Clone, Serialize)]
pub struct PortView {
    /// The tap.
    pub tap: String,
    /// The port id from the tap's alias.
    pub port_id: Option<String>,
    /// The tap's own MAC.
    pub mac: Option<String>,
    /// The MACs the port may send from (its anti-spoofing set elements).
    /// (Port security off: the MACs the bridge learned behind the tap.)
    pub port_macs: Vec<String>,
    /// Administratively up.
    pub admin_up: bool,
    /// The kernel's operational state (`UP` once a VM holds it).
    pub state: String,
    /// The addresses its inet chains are keyed on.
    pub addresses: Vec<String>,
    /// The instance, from the DHCP server's metadata book.
    pub instance_id: Option<String>,
    /// Its security-group profile's chains (shared with the ports that
    /// have the same groups).
    pub chains: Vec<ChainView>,
}

/// One nft chain.
#[derive(Debug, Clone, Serialize)]
pub struct ChainView {
    /// `bridge` or `inet`.
    pub family: String,
    /// Its name.
    pub name: String,
    /// How many rules it holds.
    pub rules: usize,
}

/// One network's DHCP server.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DhcpView {
    /// The network id (from the namespace's name).
    pub network_id: String,
    /// The namespace.
    pub namespace: String,
    /// The namespace exists.
    pub present: bool,
    /// The host end of its veth, when in the bridge.
    pub veth: Option<String>,
    /// The dnsmasq pid (from its pid file, or found in the namespace).
    pub dnsmasq_pid: Option<i32>,
    /// That pid is a live dnsmasq of this network.
    pub dnsmasq_alive: bool,
    /// Its port's addresses (with 169.254.169.254 when it serves metadata).
    pub addresses: Vec<String>,
    /// The directory its files were read from (the state dir's, or the
    /// one a running dnsmasq's command line names).
    pub files: Option<String>,
    /// Its static leases (`None`: hosts file not found).
    pub hosts: Option<usize>,
    /// The metadata book: address -> instance id.
    pub instances: BTreeMap<String, String>,
    /// Its static leases: MAC -> address.
    #[serde(skip)]
    pub leases: BTreeMap<String, String>,
}

/// What was read from the kernel, for [`build`].
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// `ip -json -details link show`.
    pub links: Vec<Link>,
    /// Per VXLAN device, the all-zero FDB entries' destinations.
    pub peers: BTreeMap<String, Vec<String>>,
    /// Per tap, the MACs its bridge learned behind it (the guest's NIC).
    pub learned: BTreeMap<String, Vec<String>>,
    /// `nft -j list table bridge <t>` (`None`: no such table).
    pub nft_bridge: Option<Value>,
    /// `nft -j list table inet <t>`.
    pub nft_inet: Option<Value>,
    /// Per network id, its DHCP server.
    pub dhcp: BTreeMap<String, DhcpView>,
    /// Per tap, the instance of the QEMU process that holds it (its
    /// `-uuid`): a host without the network's DHCP server has no
    /// metadata book to ask.
    pub vm_taps: BTreeMap<String, String>,
}

/// The taps a QEMU command line opens (`-netdev tap,...,ifname=<tap>`)
/// and its instance (`-uuid`), as (tap, instance) pairs.
pub fn qemu_taps<'a>(argv: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
    let argv: Vec<&str> = argv.into_iter().collect();
    let Some(uuid) = argv
        .windows(2)
        .find(|w| w[0] == "-uuid")
        .map(|w| w[1].to_owned())
    else {
        return Vec::new();
    };
    argv.windows(2)
        .filter(|w| w[0] == "-netdev" && w[1].starts_with("tap,"))
        .filter_map(|w| w[1].split(',').find_map(|o| o.strip_prefix("ifname=")))
        .map(|tap| (tap.to_owned(), uuid.clone()))
        .collect()
}

/// Per port (`ifname`), the MACs `bridge -json fdb show br X` learned or
/// was given on it, the ports' own (permanent) addresses left out.
pub fn learned_macs(fdb: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in fdb.as_array().into_iter().flatten() {
        let state = e.get("state").and_then(Value::as_str);
        let own = state == Some("permanent") || e.get("dst").is_some();
        if let (false, Some(dev), Some(mac)) = (
            own,
            e.get("ifname").and_then(Value::as_str),
            e.get("mac").and_then(Value::as_str),
        ) {
            let list = out.entry(dev.to_owned()).or_default();
            if !list.iter().any(|m| m == mac) && mac != "00:00:00:00:00:00" {
                list.push(mac.to_owned());
            }
        }
    }
    out
}

/// The destinations of `bridge -json fdb show dev X`'s all-zero entries.
pub fn flood_peers(fdb: &Value) -> Vec<String> {
    let mut v: Vec<String> = fdb
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e.get("mac").and_then(Value::as_str) == Some("00:00:00:00:00:00"))
        .filter_map(|e| e.get("dst")?.as_str().map(str::to_owned))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The part of element `key` after the tap or bridge (`"tap" . x` -> x).
fn key_value(key: &str) -> Option<&str> {
    key.split_once(" . ").map(|(_, v)| v)
}

fn port_view(l: &Link, s: &Snapshot, nft: &Owned, book: Option<&DhcpView>) -> PortView {
    let mine = nft
        .by_tap
        .get(&l.ifname)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let of_set = |set: &str| -> Vec<String> {
        mine.iter()
            .filter(|e| e.set == set)
            .filter_map(|e| key_value(&e.key).map(str::to_owned))
            .collect()
    };
    let mut chains: Vec<ChainView> = Vec::new();
    for chain in mine.iter().filter_map(|e| e.verdict.as_deref()) {
        if profile_of_chain(chain).is_some() && !chains.iter().any(|c| c.name == chain) {
            chains.push(ChainView {
                family: "inet".into(),
                name: chain.to_owned(),
                rules: nft.rule_counts.get(chain).copied().unwrap_or(0),
            });
        }
    }
    chains.sort_by(|a, b| a.name.cmp(&b.name));
    let mut addresses = Vec::new();
    for a in of_set("egress4").into_iter().chain(of_set("egress6")) {
        if !addresses.contains(&a) {
            addresses.push(a);
        }
    }
    let mut port_macs = of_set("macs");
    if port_macs.is_empty() {
        port_macs = s.learned.get(&l.ifname).cloned().unwrap_or_default();
    }
    if let Some(d) = book.filter(|_| addresses.is_empty()) {
        // No address keyed in nft (port security off): the DHCP lease of
        // a MAC the port sends from.
        addresses.extend(port_macs.iter().filter_map(|m| d.leases.get(m).cloned()));
    }
    let instance_id = book
        .and_then(|d| addresses.iter().find_map(|a| d.instances.get(a).cloned()))
        .or_else(|| s.vm_taps.get(&l.ifname).cloned());
    PortView {
        tap: l.ifname.clone(),
        port_id: l.ifalias.clone(),
        mac: l.address.clone(),
        port_macs,
        admin_up: l.is_up(),
        state: l.operstate.clone().unwrap_or_default(),
        addresses,
        instance_id,
        chains,
    }
}

fn uplink(l: &Link, s: &Snapshot) -> UplinkView {
    let str_of = |k: &str| l.data(k).and_then(Value::as_str).map(str::to_owned);
    match l.kind() {
        Some("vxlan") => UplinkView::Vxlan {
            device: l.ifname.clone(),
            vni: l.data("id").and_then(Value::as_u64),
            local: str_of("local"),
            underlay: str_of("link"),
            udp_port: l.data("port").and_then(Value::as_u64),
            group: str_of("group"),
            peers: s.peers.get(&l.ifname).cloned().unwrap_or_default(),
        },
        Some("vlan") => UplinkView::Vlan {
            device: l.ifname.clone(),
            vid: l.data("id").and_then(Value::as_u64),
            parent: l.link.clone(),
        },
        kind => UplinkView::Flat {
            device: l.ifname.clone(),
            kind: kind.map(str::to_owned),
        },
    }
}

/// The view of snapshot `s`: bridges named `<bridge_prefix>…`, DHCP
/// veths `dhq…`.
pub fn build(
    s: &Snapshot,
    bridge_prefix: &str,
) -> (Vec<NetworkView>, Vec<PortView>, Vec<DhcpView>) {
    let nft = parse_tables(s.nft_bridge.as_ref(), s.nft_inet.as_ref());
    let mut dhcp = s.dhcp.clone();
    let mut bridges: Vec<&Link> = s
        .links
        .iter()
        .filter(|l| l.kind() == Some("bridge") && l.ifname.starts_with(bridge_prefix))
        .collect();
    bridges.sort_by(|a, b| a.ifname.cmp(&b.ifname));
    let mut networks = Vec::new();
    for br in &bridges {
        let mut d = br.ifalias.as_ref().and_then(|id| dhcp.remove(id));
        let mut members: Vec<&Link> = s
            .links
            .iter()
            .filter(|l| l.master.as_deref() == Some(br.ifname.as_str()))
            .collect();
        members.sort_by(|a, b| a.ifname.cmp(&b.ifname));
        let mut ports = Vec::new();
        let mut uplinks = Vec::new();
        let mut router_ports = Vec::new();
        for m in members {
            if m.kind() == Some("tun") {
                ports.push(port_view(m, s, &nft, d.as_ref()));
            } else if m.kind() == Some("veth")
                && (m.ifname.starts_with("rq-") || m.ifname.starts_with("rg-"))
            {
                router_ports.push((m.ifname.clone(), m.ifalias.clone()));
            } else if m.kind() == Some("veth") && m.ifname.starts_with("dhq") {
                if let Some(d) = d.as_mut() {
                    d.veth = Some(m.ifname.clone());
                }
            } else {
                uplinks.push(uplink(m, s));
            }
        }
        networks.push(NetworkView {
            bridge: br.ifname.clone(),
            network_id: br.ifalias.clone(),
            mtu: br.mtu,
            admin_up: br.is_up(),
            state: br.operstate.clone().unwrap_or_default(),
            uplinks,
            ports,
            dhcp: d,
            router_ports,
        });
    }
    let unattached = s
        .links
        .iter()
        .filter(|l| l.kind() == Some("tun") && l.ifalias.is_some())
        .filter(|l| {
            !bridges
                .iter()
                .any(|b| l.master.as_deref() == Some(&b.ifname))
        })
        .map(|l| port_view(l, s, &nft, None))
        .collect();
    (networks, unattached, dhcp.into_values().collect())
}
