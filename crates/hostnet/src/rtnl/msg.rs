//! The route-netlink messages the data plane sends, and the reading of
//! the kernel's answers into [`Link`]s, FDB destinations and addresses.
//!
//! Pure functions over `netlink-packet-route` types: no socket, no root,
//! so they are unit-tested here. Each builder mirrors the iproute2
//! command it replaced (named in its doc), attribute for attribute, so the
//! kernel ends up with the same device; the namespace integration tests
//! compare the two.

use crate::kernel::{Link, LinkInfo};
use netlink_packet_core::{DefaultNla, Nla};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    BridgeStpState, InfoBridge, InfoData, InfoKind, InfoVeth, InfoVlan, InfoVxlan, LinkAttribute,
    LinkFlags, LinkInfo as NlLinkInfo, LinkMessage, State,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::AddressFamily;
use serde_json::{Map, Value};
use std::net::IpAddr;
use std::os::fd::RawFd;

/// The all-zero MAC of flooding FDB entries.
pub(crate) const ZERO_MAC: [u8; 6] = [0; 6];

/// `NUD_NOARP | NUD_PERMANENT`: what `bridge fdb append` gives an entry.
const FDB_STATE: u16 = 0x40 | 0x80;

// IFLA_TUN_* (linux/if_link.h): the tun driver's link info, which
// netlink-packet-route leaves raw.
const IFLA_TUN_TYPE: u16 = 3;
const IFLA_TUN_PI: u16 = 4;
const IFLA_TUN_VNET_HDR: u16 = 5;
const IFLA_TUN_PERSIST: u16 = 6;
const IFLA_TUN_MULTI_QUEUE: u16 = 7;
const IFF_TUN: u8 = 1;
const IFF_TAP: u8 = 2;

/// What one link change sets; `None` leaves it as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkChange {
    /// The MTU.
    pub mtu: Option<u32>,
    /// The alias (`IFLA_IFALIAS`).
    pub alias: Option<String>,
    /// The index of the bridge to enslave it to.
    pub master: Option<u32>,
    /// Administratively up or down.
    pub up: Option<bool>,
    /// The MAC.
    pub address: Option<[u8; 6]>,
}

impl LinkChange {
    /// Nothing to change.
    pub fn is_empty(&self) -> bool {
        *self == LinkChange::default()
    }
}

/// A VXLAN device as `ip link add name N type vxlan id I local L dev D
/// dstport P [group G]` makes it (learning left at the kernel's default,
/// on, as that command does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vxlan<'a> {
    /// Its name.
    pub name: &'a str,
    /// The VNI.
    pub vni: u32,
    /// The tunnel source.
    pub local: IpAddr,
    /// The index of the underlay device.
    pub device: u32,
    /// The UDP destination port.
    pub port: u16,
    /// The multicast group, if it floods to one.
    pub group: Option<IpAddr>,
}

/// Bridge options (`ip link ... type bridge ...`); `None` leaves one as
/// it is (or at the kernel's default on creation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeOptions {
    /// `stp_state`.
    pub stp: Option<bool>,
    /// `forward_delay`, in the kernel's centiseconds.
    pub forward_delay: Option<u32>,
    /// `nf_call_iptables`.
    pub nf_call_iptables: Option<bool>,
    /// `nf_call_ip6tables`.
    pub nf_call_ip6tables: Option<bool>,
}

fn by_name(name: &str) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_owned()));
    m
}

/// `RTM_GETLINK` of one link by name (`ip -d link show dev N`).
pub fn get_link(name: &str) -> LinkMessage {
    by_name(name)
}

/// `RTM_GETLINK` of one link by index.
pub fn get_link_index(index: u32) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m
}

/// `RTM_SETLINK` (`ip link set dev N mtu .. alias .. master .. address ..
/// up|down`), by name so a link just made needs no read back.
pub fn set_link(name: &str, c: &LinkChange) -> LinkMessage {
    let mut m = by_name(name);
    if let Some(mac) = c.address {
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    if let Some(mtu) = c.mtu {
        m.attributes.push(LinkAttribute::Mtu(mtu));
    }
    if let Some(master) = c.master {
        m.attributes.push(LinkAttribute::Controller(master));
    }
    if let Some(alias) = &c.alias {
        m.attributes.push(LinkAttribute::IfAlias(alias.clone()));
    }
    if let Some(up) = c.up {
        m.header.change_mask = LinkFlags::Up;
        if up {
            m.header.flags = LinkFlags::Up;
        }
    }
    m
}

/// `RTM_DELLINK` by name (`ip link del dev N`).
pub fn del_link(name: &str) -> LinkMessage {
    by_name(name)
}

fn bridge_data(o: &BridgeOptions) -> Vec<InfoBridge> {
    let mut d = Vec::new();
    if let Some(stp) = o.stp {
        d.push(InfoBridge::StpState(if stp {
            BridgeStpState::KernelStp
        } else {
            BridgeStpState::Disabled
        }));
    }
    if let Some(fd) = o.forward_delay {
        d.push(InfoBridge::ForwardDelay(fd));
    }
    if let Some(v) = o.nf_call_iptables {
        d.push(InfoBridge::NfCallIpTables(v));
    }
    if let Some(v) = o.nf_call_ip6tables {
        d.push(InfoBridge::NfCallIp6Tables(v));
    }
    d
}

fn with_info(mut m: LinkMessage, kind: InfoKind, data: Option<InfoData>) -> LinkMessage {
    let mut info = vec![NlLinkInfo::Kind(kind)];
    info.extend(data.map(NlLinkInfo::Data));
    m.attributes.push(LinkAttribute::LinkInfo(info));
    m
}

/// `RTM_NEWLINK` (create) of a bridge (`ip link add name N type bridge
/// stp_state 0 forward_delay 0`).
pub fn new_bridge(name: &str, o: &BridgeOptions) -> LinkMessage {
    let data = bridge_data(o);
    let data = (!data.is_empty()).then_some(InfoData::Bridge(data));
    with_info(by_name(name), InfoKind::Bridge, data)
}

/// `RTM_NEWLINK` (change) of a bridge's options (`ip link set dev N type
/// bridge nf_call_iptables 1 ...`).
pub fn set_bridge(name: &str, o: &BridgeOptions) -> LinkMessage {
    new_bridge(name, o)
}

/// `RTM_NEWLINK` (create) of a VXLAN device.
pub fn new_vxlan(v: &Vxlan<'_>) -> LinkMessage {
    let mut d = vec![InfoVxlan::Id(v.vni)];
    match v.group {
        Some(IpAddr::V4(g)) => d.push(InfoVxlan::Group(g)),
        Some(IpAddr::V6(g)) => d.push(InfoVxlan::Group6(g)),
        None => {}
    }
    d.push(match v.local {
        IpAddr::V4(l) => InfoVxlan::Local(l),
        IpAddr::V6(l) => InfoVxlan::Local6(l),
    });
    d.push(InfoVxlan::Link(v.device));
    d.push(InfoVxlan::Port(v.port));
    with_info(by_name(v.name), InfoKind::Vxlan, Some(InfoData::Vxlan(d)))
}

/// `RTM_NEWLINK` (create) of a veth pair (`ip link add N type veth peer
/// name P [netns NS]`), the peer moved into the namespace `peer_netns`
/// (an open `/run/netns/<name>`) when given.
pub fn new_veth(name: &str, peer: &str, peer_netns: Option<RawFd>) -> LinkMessage {
    let mut p = by_name(peer);
    if let Some(fd) = peer_netns {
        p.attributes.push(LinkAttribute::NetNsFd(fd));
    }
    with_info(
        by_name(name),
        InfoKind::Veth,
        Some(InfoData::Veth(InfoVeth::Peer(p))),
    )
}

/// `RTM_NEWLINK` (create) of a VLAN sub-interface (`ip link add link P
/// name N type vlan id V`).
pub fn new_vlan(name: &str, parent: u32, vid: u16) -> LinkMessage {
    let mut m = by_name(name);
    m.attributes.push(LinkAttribute::Link(parent));
    with_info(
        m,
        InfoKind::Vlan,
        Some(InfoData::Vlan(vec![InfoVlan::Id(vid)])),
    )
}

/// An all-zero FDB entry on device `index` flooding to `dst`, as `bridge
/// fdb append|del 00:00:00:00:00:00 dev D dst P` sends it (bridge family,
/// `NTF_SELF`, permanent).
pub fn flood_entry(index: u32, dst: IpAddr) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Bridge;
    m.header.ifindex = index;
    m.header.state = NeighbourState::Other(FDB_STATE);
    m.header.flags = NeighbourFlags::Own;
    m.attributes
        .push(NeighbourAttribute::LinkLayerAddress(ZERO_MAC.to_vec()));
    m.attributes
        .push(NeighbourAttribute::Destination(match dst {
            IpAddr::V4(a) => NeighbourAddress::Inet(a),
            IpAddr::V6(a) => NeighbourAddress::Inet6(a),
        }));
    m
}

/// The dump of device `index`'s FDB (`bridge fdb show dev D`): the kernel
/// reads the port filter where `ifi_index` sits.
pub fn fdb_dump(index: u32) -> NeighbourMessage {
    let mut m = NeighbourMessage::default();
    m.header.family = AddressFamily::Bridge;
    m.header.ifindex = index;
    m
}

/// The destinations of device `index`'s all-zero (flooding) entries.
pub fn flood_destinations<'a>(
    index: u32,
    entries: impl IntoIterator<Item = &'a NeighbourMessage>,
) -> Vec<String> {
    entries
        .into_iter()
        .filter(|n| n.header.ifindex == index)
        .filter(|n| {
            n.attributes
                .iter()
                .any(|a| matches!(a, NeighbourAttribute::LinkLayerAddress(l) if l[..] == ZERO_MAC))
        })
        .filter_map(|n| {
            n.attributes.iter().find_map(|a| match a {
                NeighbourAttribute::Destination(d) => destination(d),
                _ => None,
            })
        })
        .map(|ip| ip.to_string())
        .collect()
}

/// An FDB entry's `NDA_DST`: in the bridge family the parser leaves it
/// raw (4 or 16 bytes).
fn destination(d: &NeighbourAddress) -> Option<IpAddr> {
    match d {
        NeighbourAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        NeighbourAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        NeighbourAddress::Other(b) => match b.len() {
            4 => Some(IpAddr::from(<[u8; 4]>::try_from(&b[..]).ok()?)),
            16 => Some(IpAddr::from(<[u8; 16]>::try_from(&b[..]).ok()?)),
            _ => None,
        },
        _ => None,
    }
}

/// `RTM_NEWADDR`/`RTM_DELADDR` of `addr/len` on link `index` (`ip addr
/// add|del A/L dev D`: local and address alike, global scope).
pub fn address(index: u32, addr: IpAddr, len: u8) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    m.header.prefix_len = len;
    m.header.scope = AddressScope::Universe;
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(addr));
    m.attributes.push(AddressAttribute::Address(addr));
    m
}

/// The global-scope addresses (`A/L`) of link `index` among `all`, as
/// `ip addr show dev D` lists them with `scope global`.
pub fn global_addresses<'a>(
    index: u32,
    all: impl IntoIterator<Item = &'a AddressMessage>,
) -> Vec<String> {
    all.into_iter()
        .filter(|a| a.header.index == index && a.header.scope == AddressScope::Universe)
        .filter_map(|a| {
            let local = a.attributes.iter().find_map(|x| match x {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            let addr = local.or_else(|| {
                a.attributes.iter().find_map(|x| match x {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                })
            })?;
            Some(format!("{addr}/{}", a.header.prefix_len))
        })
        .collect()
}

/// A MAC as iproute2 prints it.
pub fn mac_string(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A MAC from its text (`aa:bb:...`).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The link's name, if the message carries one.
pub fn link_name(m: &LinkMessage) -> Option<&str> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

/// The indexes `m` refers to (its master, its parent, a VXLAN's
/// underlay) that [`link_from`] wants as names.
pub fn referenced_indexes(m: &LinkMessage) -> Vec<u32> {
    let mut out = Vec::new();
    let mut other_netns = false;
    let mut parent = None;
    for a in &m.attributes {
        match a {
            LinkAttribute::Controller(i) => out.push(*i),
            LinkAttribute::Link(i) => parent = Some(*i),
            LinkAttribute::LinkNetNsId(_) => other_netns = true,
            LinkAttribute::LinkInfo(info) => {
                for i in info {
                    if let NlLinkInfo::Data(InfoData::Vxlan(v)) = i {
                        out.extend(v.iter().filter_map(|x| match x {
                            InfoVxlan::Link(l) if *l != 0 => Some(*l),
                            _ => None,
                        }));
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(p) = parent.filter(|p| !other_netns && *p != m.header.index && *p != 0) {
        out.push(p);
    }
    out
}

fn flag_names(f: LinkFlags) -> Vec<String> {
    // iproute2's order and spelling; NO-CARRIER for up without carrier.
    let mut out = Vec::new();
    if f.contains(LinkFlags::Up) && !f.contains(LinkFlags::Running) {
        out.push("NO-CARRIER");
    }
    for (flag, name) in [
        (LinkFlags::Loopback, "LOOPBACK"),
        (LinkFlags::Broadcast, "BROADCAST"),
        (LinkFlags::Pointopoint, "POINTOPOINT"),
        (LinkFlags::Multicast, "MULTICAST"),
        (LinkFlags::Noarp, "NOARP"),
        (LinkFlags::Allmulti, "ALLMULTI"),
        (LinkFlags::Promisc, "PROMISC"),
        (LinkFlags::Controller, "MASTER"),
        (LinkFlags::Port, "SLAVE"),
        (LinkFlags::Up, "UP"),
        (LinkFlags::LowerUp, "LOWER_UP"),
        (LinkFlags::Dormant, "DORMANT"),
    ] {
        if f.contains(flag) {
            out.push(name);
        }
    }
    out.into_iter().map(str::to_owned).collect()
}

fn state_name(s: &State) -> String {
    match s {
        State::Unknown => "UNKNOWN".into(),
        State::NotPresent => "NOTPRESENT".into(),
        State::Down => "DOWN".into(),
        State::LowerLayerDown => "LOWERLAYERDOWN".into(),
        State::Testing => "TESTING".into(),
        State::Dormant => "DORMANT".into(),
        State::Up => "UP".into(),
        other => format!("{other:?}").to_ascii_uppercase(),
    }
}

fn kind_name(k: &InfoKind) -> String {
    match k {
        InfoKind::Bridge => "bridge".into(),
        InfoKind::Tun => "tun".into(),
        InfoKind::Veth => "veth".into(),
        InfoKind::Vxlan => "vxlan".into(),
        InfoKind::Vlan => "vlan".into(),
        InfoKind::Other(s) => s.clone(),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

fn raw_u8(nla: &DefaultNla) -> Option<u8> {
    let mut b = vec![0u8; nla.value_len()];
    nla.emit_value(&mut b);
    b.first().copied()
}

/// iproute2's `info_data` keys for the kinds we read.
fn info_data(d: &InfoData, name_of: &dyn Fn(u32) -> Option<String>) -> Map<String, Value> {
    let mut o = Map::new();
    let mut put = |k: &str, v: Value| {
        o.insert(k.to_owned(), v);
    };
    match d {
        InfoData::Vxlan(v) => {
            for x in v {
                match x {
                    InfoVxlan::Id(id) => put("id", (*id).into()),
                    InfoVxlan::Group(g) => put("group", g.to_string().into()),
                    InfoVxlan::Group6(g) => put("group", g.to_string().into()),
                    InfoVxlan::Local(l) => put("local", l.to_string().into()),
                    InfoVxlan::Local6(l) => put("local", l.to_string().into()),
                    InfoVxlan::Link(l) => {
                        if let Some(n) = name_of(*l) {
                            put("link", n.into())
                        }
                    }
                    InfoVxlan::Port(p) => put("port", (*p).into()),
                    InfoVxlan::Learning(b) => put("learning", (*b).into()),
                    InfoVxlan::Ttl(t) => put("ttl", (*t).into()),
                    InfoVxlan::Ageing(a) => put("ageing", (*a).into()),
                    _ => {}
                }
            }
        }
        InfoData::Vlan(v) => {
            for x in v {
                if let InfoVlan::Id(id) = x {
                    put("id", (*id).into());
                }
            }
        }
        InfoData::Bridge(b) => {
            for x in b {
                match x {
                    InfoBridge::StpState(s) => put(
                        "stp_state",
                        match s {
                            BridgeStpState::Disabled => 0,
                            BridgeStpState::KernelStp => 1,
                            BridgeStpState::UserStp => 2,
                            BridgeStpState::Other(n) => *n,
                            _ => u32::MAX,
                        }
                        .into(),
                    ),
                    InfoBridge::ForwardDelay(f) => put("forward_delay", (*f).into()),
                    InfoBridge::NfCallIpTables(v) => put("nf_call_iptables", u8::from(*v).into()),
                    InfoBridge::NfCallIp6Tables(v) => put("nf_call_ip6tables", u8::from(*v).into()),
                    _ => {}
                }
            }
        }
        InfoData::Tun(t) => {
            for x in t {
                let netlink_packet_route::link::InfoTun::Other(nla) = x else {
                    continue;
                };
                let v = raw_u8(nla);
                match (nla.kind(), v) {
                    (IFLA_TUN_TYPE, Some(IFF_TAP)) => put("type", "tap".into()),
                    (IFLA_TUN_TYPE, Some(IFF_TUN)) => put("type", "tun".into()),
                    (IFLA_TUN_PI, Some(b)) => put("pi", (b != 0).into()),
                    (IFLA_TUN_VNET_HDR, Some(b)) => put("vnet_hdr", (b != 0).into()),
                    (IFLA_TUN_PERSIST, Some(b)) => put("persist", (b != 0).into()),
                    (IFLA_TUN_MULTI_QUEUE, Some(b)) => put("multi_queue", (b != 0).into()),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    o
}

/// A link as `ip -json -details link show` would describe it; indexes it
/// refers to become names through `name_of` (left out when unknown).
pub fn link_from(m: &LinkMessage, name_of: &dyn Fn(u32) -> Option<String>) -> Link {
    let mut l = Link::fresh("", "");
    l.linkinfo = None;
    l.index = m.header.index;
    l.flags = flag_names(m.header.flags);
    let mut other_netns = false;
    let mut parent = None;
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => l.ifname = n.clone(),
            LinkAttribute::Mtu(v) => l.mtu = *v,
            LinkAttribute::Controller(i) => l.master = name_of(*i),
            LinkAttribute::IfAlias(s) => l.ifalias = Some(s.clone()),
            LinkAttribute::Address(b) => l.address = Some(mac_string(b)),
            LinkAttribute::OperState(s) => l.operstate = Some(state_name(s)),
            LinkAttribute::Link(i) => parent = Some(*i),
            LinkAttribute::LinkNetNsId(_) => other_netns = true,
            LinkAttribute::LinkInfo(info) => {
                let mut li = LinkInfo {
                    info_kind: None,
                    info_data: None,
                };
                for i in info {
                    match i {
                        NlLinkInfo::Kind(k) => li.info_kind = Some(kind_name(k)),
                        NlLinkInfo::Data(d) => {
                            li.info_data = Some(Value::Object(info_data(d, name_of)))
                        }
                        _ => {}
                    }
                }
                l.linkinfo = Some(li);
            }
            _ => {}
        }
    }
    if let Some(p) = parent.filter(|p| !other_netns && *p != m.header.index && *p != 0) {
        l.link = name_of(p);
    }
    l
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{Emitable, Parseable};
    use std::net::Ipv4Addr;

    fn round_trip(m: &LinkMessage) -> LinkMessage {
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf);
        LinkMessage::parse(&buf[..]).expect("parses back")
    }

    fn names(i: u32) -> Option<String> {
        match i {
            3 => Some("ul0".into()),
            7 => Some("brqnet".into()),
            _ => None,
        }
    }

    #[test]
    fn a_vxlan_device_carries_every_option_of_the_ip_command() {
        let m = new_vxlan(&Vxlan {
            name: "vxlan-7",
            vni: 7,
            local: "10.99.0.1".parse().expect("ip"),
            device: 3,
            port: 4789,
            group: Some("239.1.1.5".parse().expect("ip")),
        });
        let back = round_trip(&m);
        assert_eq!(back, m);
        let l = link_from(&back, &names);
        assert_eq!(l.ifname, "vxlan-7");
        assert_eq!(l.kind(), Some("vxlan"));
        assert_eq!(l.data("id").and_then(Value::as_u64), Some(7));
        assert_eq!(l.data("local").and_then(Value::as_str), Some("10.99.0.1"));
        assert_eq!(l.data("group").and_then(Value::as_str), Some("239.1.1.5"));
        assert_eq!(l.data("link").and_then(Value::as_str), Some("ul0"));
        assert_eq!(l.data("port").and_then(Value::as_u64), Some(4789));
        // Learning is the kernel's default (on), as `ip link add` leaves it.
        assert!(l.data("learning").is_none());
    }

    #[test]
    fn a_unicast_vxlan_device_has_no_group() {
        let m = new_vxlan(&Vxlan {
            name: "vxlan-8",
            vni: 8,
            local: "10.99.0.1".parse().expect("ip"),
            device: 3,
            port: 4789,
            group: None,
        });
        assert!(link_from(&round_trip(&m), &names).data("group").is_none());
    }

    #[test]
    fn a_link_change_sets_only_what_differs_and_reads_back() {
        let c = LinkChange {
            mtu: Some(1450),
            alias: Some("port-1".into()),
            master: Some(7),
            up: Some(true),
            address: Some([0xfa, 0x16, 0x3e, 0, 0, 1]),
        };
        let back = round_trip(&set_link("tapx", &c));
        let l = link_from(&back, &names);
        assert_eq!(l.ifname, "tapx");
        assert_eq!(l.mtu, 1450);
        assert_eq!(l.ifalias.as_deref(), Some("port-1"));
        assert_eq!(l.master.as_deref(), Some("brqnet"));
        assert_eq!(l.address.as_deref(), Some("fa:16:3e:00:00:01"));
        assert!(l.is_up());
        assert_eq!(back.header.change_mask, LinkFlags::Up);

        let down = set_link(
            "tapx",
            &LinkChange {
                up: Some(false),
                ..LinkChange::default()
            },
        );
        assert_eq!(down.header.change_mask, LinkFlags::Up);
        assert!(down.header.flags.is_empty());
        assert_eq!(down.attributes.len(), 1, "the name alone: {down:?}");
        let nothing = set_link("tapx", &LinkChange::default());
        assert!(nothing.header.change_mask.is_empty());
        assert!(LinkChange::default().is_empty());
    }

    #[test]
    fn bridge_options_read_back_as_iproute2_names_them() {
        let m = new_bridge(
            "brqnet",
            &BridgeOptions {
                stp: Some(false),
                forward_delay: Some(0),
                nf_call_iptables: Some(true),
                nf_call_ip6tables: Some(true),
            },
        );
        let l = link_from(&round_trip(&m), &names);
        assert_eq!(l.kind(), Some("bridge"));
        assert_eq!(l.data("stp_state").and_then(Value::as_u64), Some(0));
        assert_eq!(l.data("forward_delay").and_then(Value::as_u64), Some(0));
        assert_eq!(l.data("nf_call_iptables").and_then(Value::as_u64), Some(1));
        assert_eq!(l.data("nf_call_ip6tables").and_then(Value::as_u64), Some(1));
        let bare = new_bridge("brqnet", &BridgeOptions::default());
        assert_eq!(
            link_from(&round_trip(&bare), &names).data("stp_state"),
            None
        );
    }

    #[test]
    fn a_vlan_names_its_parent_and_id() {
        let m = new_vlan("vl5-abcdefgh", 3, 5);
        let l = link_from(&round_trip(&m), &names);
        assert_eq!(l.kind(), Some("vlan"));
        assert_eq!(l.data("id").and_then(Value::as_u64), Some(5));
        assert_eq!(l.link.as_deref(), Some("ul0"));
        assert_eq!(referenced_indexes(&m), vec![3]);
    }

    #[test]
    fn a_veth_peer_goes_to_the_namespace_given() {
        let m = new_veth("dhqnet", "ns-dhcp", Some(9));
        let back = round_trip(&m);
        let peer = back
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::LinkInfo(i) => i.iter().find_map(|x| match x {
                    NlLinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))) => Some(p.clone()),
                    _ => None,
                }),
                _ => None,
            })
            .expect("a peer");
        assert_eq!(link_name(&peer), Some("ns-dhcp"));
        assert!(peer
            .attributes
            .iter()
            .any(|a| matches!(a, LinkAttribute::NetNsFd(9))));
        let local = new_veth("pvq", "pbq", None);
        assert_eq!(local.attributes.len(), 2);
    }

    #[test]
    fn a_link_in_another_namespace_is_not_named_by_its_index_here() {
        let mut m = by_name("dhqnet");
        m.header.index = 4;
        m.attributes.push(LinkAttribute::Link(3));
        m.attributes.push(LinkAttribute::LinkNetNsId(0));
        assert_eq!(link_from(&m, &names).link, None);
        assert!(referenced_indexes(&m).is_empty());
        let mut own = by_name("tapx");
        own.header.index = 3;
        own.attributes.push(LinkAttribute::Link(3));
        assert_eq!(link_from(&own, &names).link, None);
    }

    #[test]
    fn flags_and_state_are_spelled_like_iproute2() {
        let mut m = by_name("tapx");
        m.header.flags = LinkFlags::Up | LinkFlags::Broadcast | LinkFlags::Multicast;
        m.attributes.push(LinkAttribute::OperState(State::Down));
        let l = link_from(&m, &names);
        assert_eq!(l.flags, ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"]);
        assert_eq!(l.operstate.as_deref(), Some("DOWN"));
        assert!(l.is_up());
    }

    #[test]
    fn tun_info_reads_type_and_persistence() {
        let raw =
            |k: u16, v: u8| netlink_packet_route::link::InfoTun::Other(DefaultNla::new(k, vec![v]));
        let mut m = by_name("tapx");
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            NlLinkInfo::Kind(InfoKind::Tun),
            NlLinkInfo::Data(InfoData::Tun(vec![
                raw(IFLA_TUN_TYPE, IFF_TAP),
                raw(IFLA_TUN_PI, 0),
                raw(IFLA_TUN_VNET_HDR, 0),
                raw(IFLA_TUN_PERSIST, 1),
            ])),
        ]));
        let l = link_from(&m, &names);
        assert_eq!(l.kind(), Some("tun"));
        assert_eq!(l.data("type").and_then(Value::as_str), Some("tap"));
        assert_eq!(l.data("persist").and_then(Value::as_bool), Some(true));
        assert_eq!(l.data("vnet_hdr").and_then(Value::as_bool), Some(false));
    }

    #[test]
    fn flood_entries_are_the_bridge_commands_and_read_back_by_device() {
        let peer = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 2));
        let e = flood_entry(5, peer);
        let mut m = netlink_packet_core::NetlinkMessage::new(
            netlink_packet_core::NetlinkHeader::default(),
            netlink_packet_core::NetlinkPayload::InnerMessage(
                netlink_packet_route::RouteNetlinkMessage::NewNeighbour(e.clone()),
            ),
        );
        m.finalize();
        let mut buf = vec![0u8; m.buffer_len()];
        m.serialize(&mut buf);
        let back = match netlink_packet_core::NetlinkMessage::<
            netlink_packet_route::RouteNetlinkMessage,
        >::deserialize(&buf)
        .expect("parses back")
        .payload
        {
            netlink_packet_core::NetlinkPayload::InnerMessage(
                netlink_packet_route::RouteNetlinkMessage::NewNeighbour(n),
            ) => n,
            other => panic!("not a neighbour: {other:?}"),
        };
        assert_eq!(back.header, e.header);
        assert_eq!(flood_destinations(5, [&back]), ["10.99.0.2"]);
        assert_eq!(back.header.family, AddressFamily::Bridge);
        assert_eq!(u16::from(back.header.state), 0xc0);
        assert_eq!(back.header.flags, NeighbourFlags::Own);
        let mut learned = flood_entry(5, peer);
        learned.attributes[0] = NeighbourAttribute::LinkLayerAddress(vec![2, 0, 0, 0, 0, 1]);
        let other_dev = flood_entry(6, IpAddr::V4(Ipv4Addr::new(10, 99, 0, 3)));
        assert_eq!(
            flood_destinations(5, [&back, &learned, &other_dev]),
            ["10.99.0.2"]
        );
    }

    #[test]
    fn addresses_are_local_and_global_and_read_back_with_their_prefix() {
        let a = address(4, "10.0.0.2".parse().expect("ip"), 24);
        let mut b = address(4, "fd00::2".parse().expect("ip"), 64);
        let mut link_local = address(4, "fe80::1".parse().expect("ip"), 64);
        link_local.header.scope = AddressScope::Link;
        let other = address(5, "10.0.1.2".parse().expect("ip"), 24);
        b.attributes.remove(0);
        assert_eq!(
            global_addresses(4, [&a, &b, &link_local, &other]),
            ["10.0.0.2/24", "fd00::2/64"]
        );
    }

    #[test]
    fn macs_parse_and_print() {
        assert_eq!(
            parse_mac("fa:16:3e:00:00:0A"),
            Some([0xfa, 0x16, 0x3e, 0, 0, 10])
        );
        assert_eq!(parse_mac("fa:16:3e:00:00"), None);
        assert_eq!(parse_mac("fa:16:3e:00:00:01:02"), None);
        assert_eq!(
            mac_string(&[0xfa, 0x16, 0x3e, 0, 0, 10]),
            "fa:16:3e:00:00:0a"
        );
    }
}
