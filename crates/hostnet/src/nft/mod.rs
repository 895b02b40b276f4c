//! A port's anti-spoofing and security-group rules in nftables.
//!
//! Two tables of the same name, in two families; the rules are the same
//! for every port, and what makes a port is elements:
//!
//! ```text
//! bridge <t>: prerouting  iifname @ports jump spoof ──> spoof: source MAC, ARP,
//!             (the tap is the bridge port here)        IPv4 and IPv6 checked
//!                                                      against the sets macs,
//!                                                      v4, v6 keyed on the tap;
//!                                                      no DHCP server or RA
//!                                                      from guests
//! inet <t>:   forward     iifname . ip saddr vmap @egress4 ──> pe_<profile>: egress
//!             (br_netfilter; iifname/oifname               rules (return = allowed)
//!              are the bridge, so the address      oifname . ip daddr vmap @ingress4
//!              says which port)                        ──> pi_<profile>: ingress
//!                                                      rules (accept)
//! ```
//!
//! A *profile* is the pair of chains for one combination of security
//! groups (named by a hash of the group ids): ports with the same groups
//! share it, so the rule count grows with the groups in use, not with the
//! ports, and a rule change rewrites one chain pair whatever the number of
//! member ports. A port itself is a handful of set and map elements (its
//! tap, MACs and source addresses in the bridge sets; its addresses in the
//! inet maps, jumping to its profile, with the tap as the element's
//! comment so a restarted agent can tell whose element it is).
//!
//! The kernel here has no conntrack in the bridge family, so the stateful
//! part lives in inet, where `ct` works on bridged traffic (br_netfilter).
//! Every transaction may start with the base objects ([`script::base`]),
//! created idempotently (`add` of an existing table, set or chain is a
//! no-op; the base chains are flushed and refilled), which also repairs a
//! flushed table. This layout replaced a chain triple per port, whose
//! 30 rules a port made every `nft` run read the whole ruleset (0.4 s at
//! 1000 ports); see docs/benchmarks.md.

mod parse;
pub mod script;

pub use parse::{parse_tables, Owned};
pub use script::{
    base, legacy_removal, open_element, port_transaction, remove_transaction, zone, zone_removal,
    zone_transaction,
};

use crate::{names, Error, Result};
use ferrostack_host_contract::network::{
    DesiredPort, DesiredRule, DesiredSecurityGroup, RuleDirection,
};
use std::fmt::Write;

/// The bridge-family sets keyed on a tap.
pub const BRIDGE_SETS: [&str; 5] = ["ports", "open", "macs", "v4", "v6"];
/// The inet-family maps keyed on (bridge, address).
pub const INET_MAPS: [&str; 4] = ["egress4", "ingress4", "egress6", "ingress6"];

/// One element a port owns: of a bridge set (`verdict` none) or an inet
/// map (`verdict` the chain it jumps to).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Element {
    /// The set or map (one of [`BRIDGE_SETS`] or [`INET_MAPS`]).
    pub set: String,
    /// The key as nft writes it (`"tap1" . 10.0.0.5`).
    pub key: String,
    /// The chain a map element jumps to.
    pub verdict: Option<String>,
}

impl Element {
    /// The family of the table holding its set.
    pub fn family(&self) -> &'static str {
        if self.verdict.is_some() || INET_MAPS.contains(&self.set.as_str()) {
            "inet"
        } else {
            "bridge"
        }
    }
}

/// The chains shared by the ports with one combination of security groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// 16 hex digits of a hash of the sorted group ids.
    pub name: String,
    /// Conntrack on (any of its groups stateful, or none).
    pub stateful: bool,
    /// Its rules rendered (direction, nft expression without verdict).
    pub rules: Vec<(RuleDirection, String)>,
    /// (group id, generation), sorted: which version of the groups the
    /// rules come from.
    pub generations: Vec<(String, u64)>,
}

impl Profile {
    /// The profile of `groups` (a port's, in any order).
    pub fn new(groups: &[&DesiredSecurityGroup]) -> Result<Self> {
        let mut generations: Vec<(String, u64)> = groups
            .iter()
            .map(|g| (g.id.clone(), g.generation))
            .collect();
        generations.sort();
        generations.dedup_by(|a, b| a.0 == b.0);
        let mut rules = Vec::new();
        let mut sorted: Vec<&&DesiredSecurityGroup> = groups.iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        sorted.dedup_by(|a, b| a.id == b.id);
        for g in sorted {
            for rule in &g.rules {
                if let Some(text) = render_rule(rule)? {
                    if !rules
                        .iter()
                        .any(|(d, t)| *d == rule.direction && *t == text)
                    {
                        rules.push((rule.direction, text));
                    }
                }
            }
        }
        let ids: Vec<&str> = generations.iter().map(|(id, _)| id.as_str()).collect();
        Ok(Profile {
            name: format!("{:016x}", fnv64(ids.join(",").as_bytes())),
            stateful: groups.is_empty() || groups.iter().any(|g| g.stateful),
            rules,
            generations,
        })
    }

    /// Its egress chain.
    pub fn egress_chain(&self) -> String {
        format!("pe_{}", self.name)
    }

    /// Its ingress chain.
    pub fn ingress_chain(&self) -> String {
        format!("pi_{}", self.name)
    }

    /// Whether it was rendered from groups strictly older than those of
    /// `applied` (so writing it would undo a newer rule change).
    pub fn older_than(&self, applied: &[(String, u64)]) -> bool {
        self.generations.len() == applied.len()
            && self
                .generations
                .iter()
                .zip(applied)
                .all(|(a, b)| a.0 == b.0 && a.1 <= b.1)
            && self.generations.iter().zip(applied).any(|(a, b)| a.1 < b.1)
    }
}

/// The profile a chain belongs to (`pe_<name>` / `pi_<name>`), if it is one.
pub fn profile_of_chain(chain: &str) -> Option<&str> {
    chain
        .strip_prefix("pe_")
        .or_else(|| chain.strip_prefix("pi_"))
        .filter(|n| n.len() == 16 && n.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

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
    /// Addresses and prefixes that key its inet chains (fixed IPs and
    /// allowed address pairs, none covering another).
    pub keys4: Vec<String>,
    /// IPv6 addresses and prefixes that key its inet chains.
    pub keys6: Vec<String>,
    /// Keys from allowed address pairs only (not fixed IPs): several
    /// ports may share such an address (a VRRP address), and the first
    /// port programmed keys it.
    pub shared: Vec<String>,
    /// Its groups' chains.
    pub profile: Profile,
}

impl PortRules {
    /// Checks and gathers port `port`'s addresses and its groups' rules.
    pub fn new(port: &DesiredPort, bridge: &str, groups: &[&DesiredSecurityGroup]) -> Result<Self> {
        names::check_ifname(&port.tap)?;
        names::check_ifname(bridge)?;
        let own = names::check_mac(&port.mac_address)?;
        let mut r = PortRules {
            tap: port.tap.clone(),
            bridge: bridge.to_owned(),
            macs: vec![own.clone()],
            v4: Vec::new(),
            v6: vec![names::link_local(&own)?.to_string()],
            keys4: Vec::new(),
            keys6: Vec::new(),
            shared: Vec::new(),
            profile: Profile::new(groups)?,
        };
        r.keys6.push(r.v6[0].clone());
        for ip in &port.fixed_ips {
            r.add_source(&ip.ip_address)?;
        }
        let fixed: Vec<String> = r.keys4.iter().chain(&r.keys6).cloned().collect();
        for pair in &port.allowed_address_pairs {
            if let Some(mac) = &pair.mac_address {
                let mac = names::check_mac(mac)?;
                if !r.macs.contains(&mac) {
                    r.macs.push(mac);
                }
            }
            r.add_source(&pair.ip_address)?;
        }
        r.shared = r
            .keys4
            .iter()
            .chain(&r.keys6)
            .filter(|k| !fixed.contains(k))
            .cloned()
            .collect();
        r.v4 = without_covered(&r.v4)?;
        r.v6 = without_covered(&r.v6)?;
        r.keys4 = without_covered(&r.keys4)?;
        r.keys6 = without_covered(&r.keys6)?;
        Ok(r)
    }

    fn add_source(&mut self, s: &str) -> Result<()> {
        let (v4, text) = names::render_prefix(s)?;
        let (list, keys) = if v4 {
            (&mut self.v4, &mut self.keys4)
        } else {
            (&mut self.v6, &mut self.keys6)
        };
        if !list.contains(&text) {
            list.push(text.clone());
        }
        if !keys.contains(&text) {
            keys.push(text);
        }
        Ok(())
    }

    /// Whether map element key `key` (`"bridge" . addr`) comes from an
    /// allowed address pair only.
    pub fn is_shared(&self, key: &str) -> bool {
        key.split_once(" . ")
            .is_some_and(|(_, addr)| self.shared.iter().any(|s| s == addr))
    }

    /// The elements that make this port, sorted.
    pub fn elements(&self) -> Vec<Element> {
        let tap = &self.tap;
        let mut v = vec![Element {
            set: "ports".into(),
            key: format!("\"{tap}\""),
            verdict: None,
        }];
        let keyed = |set: &str, items: &[String]| {
            items
                .iter()
                .map(|x| Element {
                    set: set.into(),
                    key: format!("\"{tap}\" . {x}"),
                    verdict: None,
                })
                .collect::<Vec<_>>()
        };
        v.extend(keyed("macs", &self.macs));
        v.extend(keyed("v4", &self.v4));
        v.extend(keyed("v6", &self.v6));
        let (eg, ing) = (self.profile.egress_chain(), self.profile.ingress_chain());
        for (keys, maps) in [
            (&self.keys4, ["egress4", "ingress4"]),
            (&self.keys6, ["egress6", "ingress6"]),
        ] {
            for k in keys {
                for (map, chain) in maps.iter().zip([&eg, &ing]) {
                    v.push(Element {
                        set: (*map).into(),
                        key: format!("\"{}\" . {k}", self.bridge),
                        verdict: Some(chain.clone()),
                    });
                }
            }
        }
        v.sort();
        v
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
        // The pair's prefix keys the port's chains too (traffic to and
        // from it meets the groups), and covers the fixed IP.
        assert_eq!(r.keys4, vec!["10.0.0.0/28"]);
        assert!(r.v6.contains(&"fe80::f816:3eff:fe00:10".to_owned()));
        assert!(r.v6.contains(&"2001:db8::5".to_owned()));
        assert!(!r.profile.stateful, "only stateless groups: no conntrack");
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

    fn group(id: &str, generation: u64, rules: Vec<DesiredRule>) -> DesiredSecurityGroup {
        DesiredSecurityGroup {
            id: id.into(),
            stateful: true,
            rules,
            generation,
        }
    }

    #[test]
    fn ports_with_the_same_groups_share_a_profile_and_newer_groups_win() {
        let icmp = rule(RuleDirection::Ingress, Some(1), None, None);
        let (a, b) = (group("a", 1, vec![icmp.clone()]), group("b", 3, vec![icmp]));
        let ab = Profile::new(&[&a, &b]).expect("ab");
        let ba = Profile::new(&[&b, &a]).expect("ba");
        assert_eq!(ab, ba, "the order of a port's groups does not matter");
        assert_eq!(ab.rules.len(), 1, "a rule two groups share is written once");
        assert_ne!(ab.name, Profile::new(&[&a]).expect("a").name);
        assert_eq!(profile_of_chain(&ab.egress_chain()), Some(ab.name.as_str()));
        assert_eq!(profile_of_chain("pe_tap1"), None);
        let newer = Profile::new(&[&group("a", 2, vec![]), &b]).expect("newer");
        assert_eq!(
            newer.name, ab.name,
            "a rule change keeps the profile's chains"
        );
        assert!(ab.older_than(&newer.generations));
        assert!(!newer.older_than(&ab.generations));
        assert!(!ab.older_than(&ab.generations));
    }

    #[test]
    fn a_port_is_elements_and_its_transaction_touches_only_them() {
        let r = PortRules::new(&port(), "brqn1", &[]).expect("rules");
        let want = r.elements();
        let keys: Vec<String> = want
            .iter()
            .map(|e| format!("{} {}", e.set, e.key))
            .collect();
        for k in [
            "ports \"tap-p.1\"",
            "macs \"tap-p.1\" . fa:16:3e:00:00:99",
            "v4 \"tap-p.1\" . 10.0.0.0/28",
            "v6 \"tap-p.1\" . 2001:db8::5",
            "egress4 \"brqn1\" . 10.0.0.0/28",
            "ingress6 \"brqn1\" . 2001:db8::5",
        ] {
            assert!(keys.contains(&k.to_owned()), "{k} missing from {keys:?}");
        }
        let stale = Element {
            set: "egress4".into(),
            key: "\"brqn1\" . 10.0.0.9".into(),
            verdict: Some("pe_0000000000000000".into()),
        };
        let mut had = want.clone();
        had.push(stale);
        let t = port_transaction("fs", &r.tap, None, &had, &want);
        assert!(t.contains("delete element inet fs egress4 { \"brqn1\" . 10.0.0.9 }\n"));
        assert_eq!(t.matches("delete element").count(), 1, "{t}");
        let jump = format!(
            "add element inet fs ingress4 {{ \"brqn1\" . 10.0.0.0/28 comment \"tap-p.1\" : jump {} }}",
            r.profile.ingress_chain()
        );
        assert!(t.contains(&jump), "{t}");
        assert!(t.contains("add element bridge fs macs { \"tap-p.1\" . fa:16:3e:00:00:10 }"));
        assert!(
            !t.contains("flush"),
            "no chain is touched without a profile: {t}"
        );
        let with_profile = port_transaction(
            "fs",
            &r.tap,
            Some(&script::profile_commands("fs", &r.profile)),
            &[],
            &want,
        );
        assert!(with_profile.contains("ct state established ct direction reply accept"));
        let first_add = with_profile.find("add element").expect("adds");
        assert!(
            with_profile
                .find("flush chain inet fs pi_")
                .expect("profile")
                < first_add
        );
        let gone = remove_transaction("fs", &want, std::slice::from_ref(&r.profile.name));
        assert_eq!(gone.matches("delete element").count(), want.len());
        assert!(gone.contains(&format!(
            "delete chain inet fs {}",
            r.profile.egress_chain()
        )));
        assert!(!gone.contains("flush ruleset") && !gone.contains("flush table"));
    }

    #[test]
    fn elements_read_back_from_the_kernel_are_attributed_to_their_tap() {
        let r = PortRules::new(&port(), "brqn1", &[]).expect("rules");
        let eg = r.profile.egress_chain();
        let bridge: serde_json::Value = serde_json::json!({"nftables": [
            {"set": {"family": "bridge", "name": "ports", "table": "fs", "elem": ["tap-p.1"]}},
            {"set": {"family": "bridge", "name": "v4", "table": "fs", "elem": [
                {"concat": ["tap-p.1", {"prefix": {"addr": "10.0.0.0", "len": 28}}]},
                {"concat": ["tapother", "10.0.0.20"]}]}},
            {"chain": {"family": "bridge", "table": "fs", "name": "spoof"}},
            {"rule": {"family": "bridge", "table": "fs", "chain": "spoof", "expr": []}}
        ]});
        let inet: serde_json::Value = serde_json::json!({"nftables": [
            {"chain": {"family": "inet", "table": "fs", "name": eg}},
            {"map": {"family": "inet", "name": "egress4", "table": "fs", "elem": [
                [{"elem": {"val": {"concat": ["brqn1", {"prefix": {"addr": "10.0.0.0", "len": 28}}]}, "comment": "tap-p.1"}},
                 {"jump": {"target": eg}}],
                [{"concat": ["brqn1", "10.0.0.30"]}, {"jump": {"target": "e_legacy"}}]]}}
        ]});
        let owned = parse_tables(Some(&bridge), Some(&inet));
        let mine = &owned.by_tap["tap-p.1"];
        let want = r.elements();
        for e in mine {
            assert!(want.contains(e), "{e:?} is not what the driver would write");
        }
        assert_eq!(mine.len(), 3);
        assert_eq!(owned.by_tap["tapother"].len(), 1);
        assert!(owned.profiles.contains(&r.profile.name));
        assert_eq!(owned.profiles_of("tap-p.1").len(), 1);
        assert_eq!(owned.rule_counts["spoof"], 1);
    }
}
