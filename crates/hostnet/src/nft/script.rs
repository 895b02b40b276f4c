//! The nft transactions: the base objects, a profile's chains, a port's
//! elements added or removed. Pure text; the port driver runs them with
//! `nft -f -` through the group commit.

use super::{Element, Profile};
use ferrostack_host_contract::network::RuleDirection;
use std::fmt::Write;

/// The base objects of both tables, created or repaired: the sets and
/// maps ports put elements in, and the chains that are the same for
/// every port.
pub fn base(table: &str) -> String {
    let mut out = format!(
        "add table bridge {table}
add set bridge {table} ports {{ type ifname; }}
add set bridge {table} open {{ type ifname; }}
add set bridge {table} macs {{ type ifname . ether_addr; }}
add set bridge {table} v4 {{ type ifname . ipv4_addr; flags interval; }}
add set bridge {table} v6 {{ type ifname . ipv6_addr; flags interval; }}
add chain bridge {table} prerouting {{ type filter hook prerouting priority -200; policy accept; }}
add chain bridge {table} spoof
flush chain bridge {table} prerouting
add rule bridge {table} prerouting iifname @ports jump spoof
"
    );
    chain_rules(&mut out, "bridge", table, "spoof", &spoof_rules());
    let _ = write!(
        out,
        "add table inet {table}
add map inet {table} egress4 {{ type ifname . ipv4_addr : verdict; flags interval; }}
add map inet {table} ingress4 {{ type ifname . ipv4_addr : verdict; flags interval; }}
add map inet {table} egress6 {{ type ifname . ipv6_addr : verdict; flags interval; }}
add map inet {table} ingress6 {{ type ifname . ipv6_addr : verdict; flags interval; }}
add map inet {table} zones {{ typeof iifname : ct zone; }}
add chain inet {table} prerouting {{ type filter hook prerouting priority -300; policy accept; }}
flush chain inet {table} prerouting
add rule inet {table} prerouting ct zone set iifname map @zones
add chain inet {table} forward {{ type filter hook forward priority 0; policy accept; }}
flush chain inet {table} forward
add rule inet {table} forward iifname . ip saddr vmap @egress4
add rule inet {table} forward iifname . ip6 saddr vmap @egress6
add rule inet {table} forward oifname . ip daddr vmap @ingress4
add rule inet {table} forward oifname . ip6 daddr vmap @ingress6
"
    );
    out
}

/// Anti-spoofing, the same for every port: what a tap in `ports` sends
/// must come from one of its MACs and addresses (`macs`, `v4`, `v6`), and
/// no guest answers DHCP or advertises routes.
fn spoof_rules() -> Vec<String> {
    [
        "iifname . ether saddr != @macs drop",
        "ether type arp iifname . arp saddr ether != @macs drop",
        "ether type arp arp saddr ip 0.0.0.0 return",
        "ether type arp iifname . arp saddr ip != @v4 drop",
        "ether type arp return",
        "ether type ip ip saddr 0.0.0.0 ip protocol udp udp sport 68 udp dport 67 return",
        "ether type ip ip protocol udp udp sport 67 drop",
        "ether type ip iifname . ip saddr != @v4 drop",
        "ether type ip return",
        "ether type ip6 ip6 saddr :: ip6 nexthdr icmpv6 return",
        "ether type ip6 ip6 nexthdr udp udp sport 547 drop",
        "ether type ip6 ip6 nexthdr icmpv6 icmpv6 type nd-router-advert drop",
        "ether type ip6 iifname . ip6 saddr != @v6 drop",
        "ether type ip6 return",
        "drop",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// A profile's two chains, created or replaced.
pub fn profile_commands(table: &str, p: &Profile) -> String {
    let mut eg = Vec::new();
    let mut ing = Vec::new();
    if p.stateful {
        // Only replies (and ICMP errors) pass on the connection's state:
        // a packet in the direction that opened the connection meets the
        // rules every time, so a rule deleted cuts the connections it let
        // in at once, which Neutron gets by deleting conntrack entries.
        eg.push("ct state invalid drop".to_owned());
        eg.push("ct state established ct direction reply return".to_owned());
        eg.push("ct state related return".to_owned());
        ing.push("ct state invalid drop".to_owned());
        ing.push("ct state established ct direction reply accept".to_owned());
        ing.push("ct state related accept".to_owned());
    }
    eg.push("meta l4proto udp udp sport 68 udp dport 67 return".into());
    eg.push("meta l4proto udp udp sport 546 udp dport 547 return".into());
    eg.push("meta l4proto icmpv6 icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } return".into());
    ing.push("meta l4proto udp udp sport 67 udp dport 68 accept".into());
    ing.push("meta l4proto udp udp sport 547 udp dport 546 accept".into());
    ing.push("meta l4proto icmpv6 icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept".into());
    for (dir, m) in &p.rules {
        match dir {
            RuleDirection::Egress => eg.push(format!("{m} return")),
            RuleDirection::Ingress => ing.push(format!("{m} accept")),
        }
    }
    eg.push("drop".into());
    ing.push("drop".into());
    let mut out = String::new();
    for (name, rules) in [(p.egress_chain(), eg), (p.ingress_chain(), ing)] {
        let _ = writeln!(out, "add chain inet {table} {name}");
        chain_rules(&mut out, "inet", table, &name, &rules);
    }
    out
}

fn chain_rules(out: &mut String, family: &str, table: &str, name: &str, rules: &[String]) {
    let _ = writeln!(out, "flush chain {family} {table} {name}");
    for rule in rules {
        let _ = writeln!(out, "add rule {family} {table} {name} {rule}");
    }
}

fn add_element(out: &mut String, table: &str, tap: &str, e: &Element) {
    let fam = e.family();
    match &e.verdict {
        Some(chain) => writeln!(
            out,
            "add element {fam} {table} {} {{ {} comment \"{tap}\" : jump {chain} }}",
            e.set, e.key
        ),
        None => writeln!(out, "add element {fam} {table} {} {{ {} }}", e.set, e.key),
    }
    .unwrap_or(());
}

fn delete_element(out: &mut String, table: &str, e: &Element) {
    let _ = writeln!(
        out,
        "delete element {} {table} {} {{ {} }}",
        e.family(),
        e.set,
        e.key
    );
}

/// The commands that (re)program a port with security on: its profile's
/// chains first when `profile` is given (they must exist before elements
/// jump to them), then the elements it had (`had`, as far as the driver
/// knows) and no longer has deleted, then all its elements added (adding
/// an element that is there is a no-op). They follow [`base`] in a
/// transaction.
pub fn port_transaction(
    table: &str,
    tap: &str,
    profile: Option<&str>,
    had: &[Element],
    want: &[Element],
) -> String {
    let mut out = profile.unwrap_or_default().to_owned();
    for e in had.iter().filter(|e| !want.contains(e)) {
        delete_element(&mut out, table, e);
    }
    for e in want {
        add_element(&mut out, table, tap, e);
    }
    out
}

/// What marks a tap whose port has security off: its traffic is ours and
/// deliberately unfiltered (a tap in neither `ports` nor `open` has not
/// been programmed).
pub fn open_element(tap: &str) -> Element {
    Element {
        set: "open".into(),
        key: format!("\"{tap}\""),
        verdict: None,
    }
}

/// The commands that take away the objects of the layout before this one
/// (a chain triple per port, dispatched by the `spoof`, `eg4`, `in4`,
/// `eg6` and `in6` maps): `maps` and `chains` as (family, name). They
/// follow [`base`], which stops the base chains from referring to them.
pub fn legacy_removal(
    table: &str,
    maps: &[(String, String)],
    chains: &[(String, String)],
) -> String {
    let mut out = String::new();
    for (family, name) in maps {
        let _ = writeln!(out, "delete map {family} {table} {name}");
    }
    for (family, name) in chains {
        let _ = writeln!(out, "flush chain {family} {table} {name}");
        let _ = writeln!(out, "delete chain {family} {table} {name}");
    }
    out
}

/// The commands that take a port's elements away (port gone, or its
/// security off), and the profiles no port uses any more (`unused`, by
/// name). They follow [`base`] in a transaction.
pub fn remove_transaction(table: &str, had: &[Element], unused: &[String]) -> String {
    let mut out = String::new();
    for e in had {
        delete_element(&mut out, table, e);
    }
    for name in unused {
        for c in ["pe", "pi"] {
            let _ = writeln!(out, "flush chain inet {table} {c}_{name}");
            let _ = writeln!(out, "delete chain inet {table} {c}_{name}");
        }
    }
    out
}

/// The conntrack zone of network `id`'s bridged traffic: networks may
/// reuse each other's addresses, so their connections are tracked apart.
/// A hash of the id (1-65535); two networks sharing a zone only matters
/// if they also share addresses and ports.
pub fn zone(network_id: &str) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in network_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h % 65_535) as u16 + 1
}

/// The transaction that puts bridge `bridge`'s packets in `zone`.
pub fn zone_transaction(table: &str, bridge: &str, zone: u16) -> String {
    format!(
        "{}add element inet {table} zones {{ \"{bridge}\" : {zone} }}\n",
        base(table)
    )
}

/// The transaction that takes bridge `bridge` out of the zones map.
pub fn zone_removal(table: &str, bridge: &str, zone: u16) -> String {
    format!(
        "{}add element inet {table} zones {{ \"{bridge}\" : {zone} }}\ndelete element inet {table} zones {{ \"{bridge}\" }}\n",
        base(table)
    )
}
