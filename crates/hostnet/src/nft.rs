//! A port's anti-spoofing and security-group rules, rendered as one nft
//! transaction (pure functions: the port driver runs them with `nft -f -`).
//!
//! Two tables of the same name, in two families:
//!
//! ```text
//! bridge <t>: prerouting  iifname vmap @spoof ──> s_<tap>: source MAC/IP/ARP
//!             (the tap is the bridge port here)     checks, no DHCP server or
//!                                                   RA from guests
//! inet <t>:   forward     iifname . ip saddr  vmap @eg4 ──> e_<tap>: egress rules
//!             (br_netfilter; iifname/oifname       (return = allowed, go on)
//!              are the bridge, so the address      ip daddr vmap @in4 ──> i_<tap>:
//!              says which port)                    ingress rules (accept)
//! ```
//!
//! The base chains only dispatch through verdict maps keyed on the tap
//! (bridge family) or on (bridge, address) (inet family), so the rule
//! count grows with each port's own rules, not with the number of ports,
//! and one port's transaction never touches another's chains. The kernel
//! here has no conntrack in the bridge family, so the stateful part lives
//! in inet, where `ct` works on bridged traffic. A transaction re-creates
//! the base objects idempotently (`add` of an existing table, map or chain
//! is a no-op; the base chains are flushed and refilled) so it also
//! repairs a flushed table.

use crate::{names, Error, Result};
use ferrostack_host_contract::network::{
    DesiredPort, DesiredRule, DesiredSecurityGroup, RuleDirection,
};
use std::fmt::Write;

/// What one port's rules are made of, checked.
#[derive(Debug, Clone)]
pub struct PortRules {
    /// The tap (bridge port).
    pub tap: String,
    /// The network's bridge.
    pub bridge: String,
    /// MACs it may send from.
    pub macs: Vec<String>,
    /// IPv4 addresses or prefixes it may send from.
    pub v4: Vec<String>,
    /// IPv6 addresses or prefixes it may send from (its link-local too).
    pub v6: Vec<String>,
    /// Host addresses that key its inet chains (fixed IPs and host pairs).
    pub keys4: Vec<String>,
    /// IPv6 host addresses that key its inet chains.
    pub keys6: Vec<String>,
    /// Conntrack on (any of its groups stateful, or none).
    pub stateful: bool,
    /// Its rules rendered (direction, nft expression without verdict).
    pub rules: Vec<(RuleDirection, String)>,
}

impl PortRules {
    /// Checks and gathers port `port`'s addresses and its groups' rules.
    pub fn new(port: &DesiredPort, bridge: &str, groups: &[&DesiredSecurityGroup]) -> Result<Self> {
        names::check_ifname(&port.tap)?;
        let own = names::check_mac(&port.mac_address)?;
        let mut r = PortRules {
            tap: port.tap.clone(),
            bridge: bridge.to_owned(),
            macs: vec![own.clone()],
            v4: Vec::new(),
            v6: vec![names::link_local(&own)?.to_string()],
            keys4: Vec::new(),
            keys6: Vec::new(),
            stateful: groups.is_empty() || groups.iter().any(|g| g.stateful),
            rules: Vec::new(),
        };
        r.keys6.push(r.v6[0].clone());
        for ip in &port.fixed_ips {
            r.add_source(&ip.ip_address)?;
        }
        for pair in &port.allowed_address_pairs {
            if let Some(mac) = &pair.mac_address {
                let mac = names::check_mac(mac)?;
                if !r.macs.contains(&mac) {
                    r.macs.push(mac);
                }
            }
            r.add_source(&pair.ip_address)?;
        }
        r.v4 = without_covered(&r.v4)?;
        r.v6 = without_covered(&r.v6)?;
        for g in groups {
            for rule in &g.rules {
                if let Some(text) = render_rule(rule)? {
                    r.rules.push((rule.direction, text));
                }
            }
        }
        Ok(r)
    }

    fn add_source(&mut self, s: &str) -> Result<()> {
        let (v4, text) = names::render_prefix(s)?;
        let host = !text.contains('/');
        let (list, keys) = if v4 {
            (&mut self.v4, &mut self.keys4)
        } else {
            (&mut self.v6, &mut self.keys6)
        };
        if !list.contains(&text) {
            list.push(text.clone());
        }
        if host && !keys.contains(&text) {
            keys.push(text);
        }
        Ok(())
    }
}

/// Drops entries another entry covers (nft refuses overlapping intervals).
fn without_covered(list: &[String]) -> Result<Vec<String>> {
    let parsed: Vec<_> = list
        .iter()
        .map(|s| names::check_prefix(s))
        .collect::<Result<_>>()?;
    let covers = |(net, len): &(std::net::IpAddr, u8), ip: &std::net::IpAddr| {
        names::check_prefix(&format!("{ip}/{len}"))
            .map(|(n, _)| n == *net)
            .unwrap_or(false)
    };
    Ok(list
        .iter()
        .zip(&parsed)
        .enumerate()
        .filter(|(i, (_, (ip, len)))| {
            !parsed.iter().enumerate().any(|(j, other)| {
                j != *i && (other.1 < *len || (other.1 == *len && j < *i)) && covers(other, ip)
            })
        })
        .map(|(_, (s, _))| s.clone())
        .collect())
}

/// One rule as an nft match (no verdict); `None` when it can never match
/// (its remote prefixes are all of the other family).
pub fn render_rule(rule: &DesiredRule) -> Result<Option<String>> {
    let v4 = match rule.ethertype.as_str() {
        "IPv4" => true,
        "IPv6" => false,
        other => return Err(Error::invalid("ethertype", other)),
    };
    let (fam, nfproto) = if v4 { ("ip", "ipv4") } else { ("ip6", "ipv6") };
    let mut out = format!("meta nfproto {nfproto}");
    if !rule.remote_prefixes.is_empty() {
        let mut set = Vec::new();
        for p in &rule.remote_prefixes {
            let (is4, text) = names::render_prefix(p)?;
            if is4 == v4 {
                set.push(text);
            }
        }
        if set.is_empty() {
            return Ok(None);
        }
        let dir = match rule.direction {
            RuleDirection::Ingress => "saddr",
            RuleDirection::Egress => "daddr",
        };
        let set = without_covered(&set)?;
        let _ = write!(out, " {fam} {dir} {{ {} }}", set.join(", "));
    }
    let Some(proto) = rule.protocol else {
        return Ok(Some(out));
    };
    let (min, max) = (rule.port_range_min, rule.port_range_max);
    match (proto, v4) {
        (1, _) | (58, _) => {
            let icmp = if v4 { "icmp" } else { "icmpv6" };
            let _ = write!(out, " meta l4proto {icmp}");
            if let Some(t) = min {
                let _ = write!(out, " {icmp} type {}", u8_of(t, "ICMP type")?);
                if let Some(c) = max {
                    let _ = write!(out, " {icmp} code {}", u8_of(c, "ICMP code")?);
                }
            }
        }
        (6 | 17 | 132 | 136, _) => {
            let _ = write!(out, " meta l4proto {proto}");
            match (min, max) {
                (Some(a), Some(b)) if a > b => {
                    return Err(Error::invalid("port range", &format!("{a}-{b}")));
                }
                (Some(a), Some(b)) if a == b => {
                    let _ = write!(out, " th dport {a}");
                }
                (Some(a), Some(b)) => {
                    let _ = write!(out, " th dport {a}-{b}");
                }
                (Some(a), None) | (None, Some(a)) => {
                    let _ = write!(out, " th dport {a}");
                }
                (None, None) => {}
            }
        }
        (p, _) => {
            let _ = write!(out, " meta l4proto {p}");
        }
    }
    Ok(Some(out))
}

fn u8_of(v: u16, what: &'static str) -> Result<u8> {
    u8::try_from(v).map_err(|_| Error::invalid(what, &v.to_string()))
}

/// The chain-name form of a tap name (injective: `-` `.` `_` escaped).
pub fn chain_suffix(tap: &str) -> String {
    let mut s = String::new();
    for c in tap.chars() {
        match c {
            '-' => s.push_str("_h"),
            '.' => s.push_str("_d"),
            '_' => s.push_str("__"),
            c => s.push(c),
        }
    }
    s
}

/// The base objects of both tables, created or repaired.
pub fn base(table: &str) -> String {
    format!(
        "add table bridge {table}
add map bridge {table} spoof {{ type ifname : verdict; }}
add chain bridge {table} prerouting {{ type filter hook prerouting priority -200; policy accept; }}
flush chain bridge {table} prerouting
add rule bridge {table} prerouting iifname vmap @spoof
add table inet {table}
add map inet {table} eg4 {{ type ifname . ipv4_addr : verdict; }}
add map inet {table} in4 {{ type ifname . ipv4_addr : verdict; }}
add map inet {table} eg6 {{ type ifname . ipv6_addr : verdict; }}
add map inet {table} in6 {{ type ifname . ipv6_addr : verdict; }}
add map inet {table} zones {{ typeof iifname : ct zone; }}
add chain inet {table} prerouting {{ type filter hook prerouting priority -300; policy accept; }}
flush chain inet {table} prerouting
add rule inet {table} prerouting ct zone set iifname map @zones
add chain inet {table} forward {{ type filter hook forward priority 0; policy accept; }}
flush chain inet {table} forward
add rule inet {table} forward iifname . ip saddr vmap @eg4
add rule inet {table} forward iifname . ip6 saddr vmap @eg6
add rule inet {table} forward oifname . ip daddr vmap @in4
add rule inet {table} forward oifname . ip6 daddr vmap @in6
"
    )
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

/// The map elements pointing at one port's chains: (map, key).
pub fn elements(r: &PortRules) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    for k in &r.keys4 {
        v.push(("eg4", format!("\"{}\" . {k}", r.bridge)));
        v.push(("in4", format!("\"{}\" . {k}", r.bridge)));
    }
    for k in &r.keys6 {
        v.push(("eg6", format!("\"{}\" . {k}", r.bridge)));
        v.push(("in6", format!("\"{}\" . {k}", r.bridge)));
    }
    v
}

fn set(list: &[String]) -> String {
    format!("{{ {} }}", list.join(", "))
}

fn spoof_chain(r: &PortRules) -> Vec<String> {
    let mut v = vec![format!("ether saddr != {} drop", set(&r.macs))];
    v.push(format!(
        "ether type arp arp saddr ether != {} drop",
        set(&r.macs)
    ));
    let mut arp_ips = r.v4.clone();
    arp_ips.push("0.0.0.0".into());
    v.push(format!(
        "ether type arp arp saddr ip != {} drop",
        set(&without_covered(&arp_ips).unwrap_or(arp_ips))
    ));
    v.push("ether type arp return".into());
    v.push(
        "ether type ip ip saddr 0.0.0.0 ip protocol udp udp sport 68 udp dport 67 return".into(),
    );
    v.push("ether type ip ip protocol udp udp sport 67 drop".into());
    if r.v4.is_empty() {
        v.push("ether type ip drop".into());
    } else {
        v.push(format!("ether type ip ip saddr != {} drop", set(&r.v4)));
    }
    v.push("ether type ip return".into());
    v.push("ether type ip6 ip6 saddr :: ip6 nexthdr icmpv6 return".into());
    v.push("ether type ip6 ip6 nexthdr udp udp sport 547 drop".into());
    v.push("ether type ip6 ip6 nexthdr icmpv6 icmpv6 type nd-router-advert drop".into());
    v.push(format!("ether type ip6 ip6 saddr != {} drop", set(&r.v6)));
    v.push("ether type ip6 return".into());
    v.push("drop".into());
    v
}

fn sg_chains(r: &PortRules) -> (Vec<String>, Vec<String>) {
    let mut eg = Vec::new();
    let mut ing = Vec::new();
    if r.stateful {
        eg.push("ct state invalid drop".to_owned());
        eg.push("ct state established,related return".to_owned());
        ing.push("ct state invalid drop".to_owned());
        ing.push("ct state established,related accept".to_owned());
    }
    eg.push("meta l4proto udp udp sport 68 udp dport 67 return".into());
    eg.push("meta l4proto udp udp sport 546 udp dport 547 return".into());
    eg.push("meta l4proto icmpv6 icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } return".into());
    ing.push("meta l4proto udp udp sport 67 udp dport 68 accept".into());
    ing.push("meta l4proto udp udp sport 547 udp dport 546 accept".into());
    ing.push("meta l4proto icmpv6 icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept".into());
    for (dir, m) in &r.rules {
        match dir {
            RuleDirection::Egress => eg.push(format!("{m} return")),
            RuleDirection::Ingress => ing.push(format!("{m} accept")),
        }
    }
    eg.push("drop".into());
    ing.push("drop".into());
    (eg, ing)
}

fn chain(out: &mut String, family: &str, table: &str, name: &str, rules: &[String]) {
    let _ = writeln!(out, "add chain {family} {table} {name}");
    let _ = writeln!(out, "flush chain {family} {table} {name}");
    for rule in rules {
        let _ = writeln!(out, "add rule {family} {table} {name} {rule}");
    }
}

/// The commands that (re)program a port with security on: its chains
/// replaced, its stale map elements (`stale`, from an earlier address)
/// deleted, its current ones added. They follow [`base`] in a transaction.
pub fn port_transaction(table: &str, r: &PortRules, stale: &[(String, String)]) -> String {
    let sfx = chain_suffix(&r.tap);
    let mut out = String::new();
    chain(
        &mut out,
        "bridge",
        table,
        &format!("s_{sfx}"),
        &spoof_chain(r),
    );
    let (eg, ing) = sg_chains(r);
    chain(&mut out, "inet", table, &format!("e_{sfx}"), &eg);
    chain(&mut out, "inet", table, &format!("i_{sfx}"), &ing);
    let _ = writeln!(
        out,
        "add element bridge {table} spoof {{ \"{}\" : jump s_{sfx} }}",
        r.tap
    );
    let now = elements(r);
    for (map, key) in stale {
        if !now.iter().any(|(m, k)| m == map && k == key) {
            delete_element(&mut out, table, &sfx, map, key);
        }
    }
    for (map, key) in &now {
        let target = if map.starts_with("eg") { "e" } else { "i" };
        let _ = writeln!(
            out,
            "add element inet {table} {map} {{ {key} : jump {target}_{sfx} }}"
        );
    }
    out
}

/// Deletes an inet element whether or not it is there: add-then-delete
/// (its chain exists earlier in the same transaction).
fn delete_element(out: &mut String, table: &str, sfx: &str, map: &str, key: &str) {
    let target = if map.starts_with("eg") { "e" } else { "i" };
    let _ = writeln!(
        out,
        "add element inet {table} {map} {{ {key} : jump {target}_{sfx} }}"
    );
    let _ = writeln!(out, "delete element inet {table} {map} {{ {key} }}");
}

/// The commands that take a port's rules away (port gone, or its security
/// off). `elements` are those pointing at its chains now. They follow
/// [`base`] in a transaction.
pub fn remove_transaction(table: &str, tap: &str, elements: &[(String, String)]) -> String {
    let sfx = chain_suffix(tap);
    let mut out = String::new();
    // Add-then-delete makes each delete succeed whether or not the object
    // was there, so removal is idempotent in one transaction.
    for (fam, c) in [("bridge", "s"), ("inet", "e"), ("inet", "i")] {
        let _ = writeln!(out, "add chain {fam} {table} {c}_{sfx}");
    }
    let _ = writeln!(
        out,
        "add element bridge {table} spoof {{ \"{tap}\" : jump s_{sfx} }}"
    );
    let _ = writeln!(out, "delete element bridge {table} spoof {{ \"{tap}\" }}");
    for (map, key) in elements {
        delete_element(&mut out, table, &sfx, map, key);
    }
    for (fam, c) in [("bridge", "s"), ("inet", "e"), ("inet", "i")] {
        let _ = writeln!(out, "flush chain {fam} {table} {c}_{sfx}");
        let _ = writeln!(out, "delete chain {fam} {table} {c}_{sfx}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrostack_host_contract::network::{AllowedAddressPair, FixedIp};

    fn port() -> DesiredPort {
        DesiredPort {
            id: "p1".into(),
            network_id: "n1".into(),
            tap: "tap-p.1".into(),
            mac_address: "FA:16:3E:00:00:10".into(),
            fixed_ips: vec![FixedIp {
                subnet_id: "s".into(),
                ip_address: "10.0.0.10".into(),
            }],
            allowed_address_pairs: vec![
                AllowedAddressPair {
                    mac_address: Some("fa:16:3e:00:00:99".into()),
                    ip_address: "10.0.0.0/28".into(),
                },
                AllowedAddressPair {
                    mac_address: None,
                    ip_address: "2001:db8::5".into(),
                },
            ],
            port_security_enabled: true,
            security_groups: vec!["g".into()],
            admin_state_up: true,
            device_id: None,
            generation: 1,
            deleted: false,
        }
    }

    fn rule(
        direction: RuleDirection,
        proto: Option<u8>,
        min: Option<u16>,
        max: Option<u16>,
    ) -> DesiredRule {
        DesiredRule {
            id: "r".into(),
            direction,
            ethertype: "IPv4".into(),
            protocol: proto,
            port_range_min: min,
            port_range_max: max,
            remote_prefixes: vec![],
        }
    }

    #[test]
    fn addresses_pairs_and_link_local_are_gathered_without_overlap() {
        let g = DesiredSecurityGroup {
            id: "g".into(),
            stateful: false,
            rules: vec![],
            generation: 1,
        };
        let r = PortRules::new(&port(), "brqn1", &[&g]).expect("rules");
        assert_eq!(r.macs, vec!["fa:16:3e:00:00:10", "fa:16:3e:00:00:99"]);
        // 10.0.0.10 is inside the pair's /28: one interval, no conflict.
        assert_eq!(r.v4, vec!["10.0.0.0/28"]);
        assert_eq!(r.keys4, vec!["10.0.0.10"]);
        assert!(r.v6.contains(&"fe80::f816:3eff:fe00:10".to_owned()));
        assert!(r.v6.contains(&"2001:db8::5".to_owned()));
        assert!(!r.stateful, "only stateless groups: no conntrack");
    }

    #[test]
    fn rules_render_ports_icmp_and_prefixes() {
        let tcp = rule(RuleDirection::Ingress, Some(6), Some(80), Some(81));
        assert_eq!(
            render_rule(&tcp).expect("tcp").as_deref(),
            Some("meta nfproto ipv4 meta l4proto 6 th dport 80-81")
        );
        let icmp = rule(RuleDirection::Ingress, Some(1), Some(8), Some(0));
        assert_eq!(
            render_rule(&icmp).expect("icmp").as_deref(),
            Some("meta nfproto ipv4 meta l4proto icmp icmp type 8 icmp code 0")
        );
        let mut remote = rule(RuleDirection::Egress, None, None, None);
        remote.remote_prefixes = vec!["192.168.1.7/24".into(), "2001:db8::/64".into()];
        assert_eq!(
            render_rule(&remote).expect("remote").as_deref(),
            Some("meta nfproto ipv4 ip daddr { 192.168.1.0/24 }")
        );
        remote.remote_prefixes = vec!["2001:db8::/64".into()];
        assert_eq!(render_rule(&remote).expect("other family"), None);
        let bad = rule(RuleDirection::Ingress, Some(6), Some(90), Some(80));
        assert!(render_rule(&bad).is_err());
        let mut eth = rule(RuleDirection::Ingress, None, None, None);
        eth.ethertype = "IPX; flush ruleset".into();
        assert!(render_rule(&eth).is_err());
    }

    #[test]
    fn the_transaction_replaces_only_this_ports_chains_and_drops_stale_elements() {
        let r = PortRules::new(&port(), "brqn1", &[]).expect("rules");
        let stale = vec![("eg4".to_owned(), "\"brqn1\" . 10.0.0.9".to_owned())];
        let t = port_transaction("fs", &r, &stale);
        assert!(t.contains("flush chain bridge fs s_tap_hp_d1\n"));
        assert!(t.contains("flush chain inet fs e_tap_hp_d1\n"));
        assert!(t.contains("add element bridge fs spoof { \"tap-p.1\" : jump s_tap_hp_d1 }"));
        assert!(t.contains("delete element inet fs eg4 { \"brqn1\" . 10.0.0.9 }"));
        assert!(t.contains("add element inet fs in4 { \"brqn1\" . 10.0.0.10 : jump i_tap_hp_d1 }"));
        assert!(t.contains("ct state established,related accept"));
        assert!(!t.contains("flush ruleset") && !t.contains("flush table"));
        assert_eq!(chain_suffix("a_b-c.d"), "a__b_hc_dd");
    }
}
