//! Security groups as a host's data plane needs them: the pure
//! translation of stored groups and their members' addresses into the
//! host contract's [`DesiredSecurityGroup`]s. No I/O: the caller (the host
//! plan) reads the groups its ports use and the members of the groups
//! their rules name, and hands both in.
//!
//! - A rule's remote group becomes prefixes: each member port's fixed IPs
//!   of the rule's family as `/32` or `/128`, and its allowed address pairs
//!   (an address or a CIDR) of that family. A rule whose remote group has
//!   no member of its family is left out: in the contract an empty prefix
//!   list means *anywhere*, and "from the members of an empty group" must
//!   mean *from no one*.
//! - `remote_ip_prefix` becomes its network (`10.0.0.5/24` -> `10.0.0.0/24`);
//!   `0.0.0.0/0` and `::/0` become "any" (no prefixes).
//! - Protocols become numbers (`tcp` -> 6, `"58"` -> 58).
//! - The generation is the latest change time (µs) among the group, its
//!   rules and the membership of every remote group its rules name. It is
//!   monotonic because the agent requires it to be: it ensures an object
//!   only when its generation grows and drops documents older than the
//!   newest it has seen. Rejected: a hash of the content, which changes
//!   on every change but can go down, and the agent would ignore the
//!   change.

use super::rules::{normalized_cidr, parse_cidr, protocol_number};
use ferrostack_host_contract::network::{DesiredRule, DesiredSecurityGroup, RuleDirection};
use ferrostack_store::security_group::{SecurityGroup, SecurityGroupRule};
use std::collections::{BTreeMap, BTreeSet};

/// The members of one group, as the ports code knows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    /// Every member port's fixed IPs (bare addresses).
    pub fixed_ips: Vec<String>,
    /// Every member port's allowed address pairs (addresses or CIDRs).
    pub allowed_address_pairs: Vec<String>,
    /// When the membership last changed, µs since the epoch
    /// ([`SecurityGroup::members_changed_at`]).
    pub changed_at: i64,
}

fn family_of(ethertype: &str) -> bool {
    ethertype == "IPv4"
}

/// The member prefixes of `membership` in the family of `ethertype`.
fn member_prefixes(membership: &Membership, ethertype: &str) -> BTreeSet<String> {
    let v4 = family_of(ethertype);
    let fixed = membership.fixed_ips.iter().filter_map(|ip| {
        let (addr, _) = parse_cidr(ip)?;
        (addr.is_ipv4() == v4).then(|| format!("{addr}/{}", if v4 { 32 } else { 128 }))
    });
    let pairs = membership.allowed_address_pairs.iter().filter_map(|pair| {
        let (addr, _) = parse_cidr(pair)?;
        if addr.is_ipv4() != v4 {
            return None;
        }
        normalized_cidr(pair)
    });
    fixed.chain(pairs).collect()
}

fn direction(rule: &SecurityGroupRule) -> RuleDirection {
    if rule.direction == "egress" {
        RuleDirection::Egress
    } else {
        RuleDirection::Ingress
    }
}

fn port(value: Option<i64>) -> Option<u16> {
    value.and_then(|v| u16::try_from(v).ok())
}

/// One rule for the host, or `None` when it matches no one (a remote
/// group without members of its family).
fn desired_rule(
    rule: &SecurityGroupRule,
    members: &BTreeMap<String, Membership>,
) -> Option<DesiredRule> {
    let remote_prefixes: Vec<String> = match (&rule.remote_group_id, &rule.remote_ip_prefix) {
        (Some(group), _) => {
            let prefixes = members
                .get(group)
                .map(|m| member_prefixes(m, &rule.ethertype))
                .unwrap_or_default();
            if prefixes.is_empty() {
                return None;
            }
            prefixes.into_iter().collect()
        }
        (None, Some(prefix)) => match normalized_cidr(prefix) {
            Some(any) if any == "0.0.0.0/0" || any == "::/0" => Vec::new(),
            Some(net) => vec![net],
            // Stored prefixes were validated; one that no longer parses
            // must not widen to "anywhere".
            None => return None,
        },
        (None, None) => Vec::new(),
    };
    Some(DesiredRule {
        id: rule.id.clone(),
        direction: direction(rule),
        ethertype: rule.ethertype.clone(),
        protocol: protocol_number(rule.protocol.as_deref()),
        port_range_min: port(rule.port_range_min),
        port_range_max: port(rule.port_range_max),
        remote_prefixes,
    })
}

/// The groups whose members [`desired_security_groups`] needs for
/// `groups`: every remote group their rules name.
pub fn remote_group_ids(groups: &[SecurityGroup]) -> BTreeSet<String> {
    groups
        .iter()
        .flat_map(|g| g.rules.iter())
        .filter_map(|r| r.remote_group_id.clone())
        .collect()
}

/// The host's view of `groups`: each with its rules translated, remote
/// groups expanded from `members` (by group id; a group absent from the
/// map has no members).
pub fn desired_security_groups(
    groups: &[SecurityGroup],
    members: &BTreeMap<String, Membership>,
) -> Vec<DesiredSecurityGroup> {
    groups
        .iter()
        .map(|group| {
            let mut changed = group.updated_at;
            for rule in &group.rules {
                changed = changed.max(rule.updated_at);
                if let Some(m) = rule.remote_group_id.as_ref().and_then(|g| members.get(g)) {
                    changed = changed.max(m.changed_at);
                }
            }
            DesiredSecurityGroup {
                id: group.id.clone(),
                stateful: group.stateful,
                rules: group
                    .rules
                    .iter()
                    .filter_map(|r| desired_rule(r, members))
                    .collect(),
                generation: u64::try_from(changed).unwrap_or(0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, ethertype: &str) -> SecurityGroupRule {
        SecurityGroupRule {
            id: id.into(),
            project_id: "p".into(),
            security_group_id: "web".into(),
            direction: "ingress".into(),
            ethertype: ethertype.into(),
            protocol: None,
            port_range_min: None,
            port_range_max: None,
            remote_ip_prefix: None,
            remote_group_id: None,
            description: String::new(),
            match_key: id.into(),
            revision_number: 0,
            created_at: 10,
            updated_at: 10,
        }
    }

    fn group(rules: Vec<SecurityGroupRule>) -> SecurityGroup {
        SecurityGroup {
            id: "web".into(),
            project_id: "p".into(),
            name: "web".into(),
            description: String::new(),
            stateful: true,
            is_default: false,
            revision_number: 0,
            created_at: 10,
            updated_at: 20,
            members_changed_at: 0,
            rules,
        }
    }

    fn members(changed_at: i64) -> BTreeMap<String, Membership> {
        BTreeMap::from([(
            "db".to_string(),
            Membership {
                fixed_ips: vec!["10.0.0.5".into(), "2001:db8::5".into(), "10.0.0.6".into()],
                allowed_address_pairs: vec!["192.168.1.7/24".into(), "fd00::9".into()],
                changed_at,
            },
        )])
    }

    #[test]
    fn a_remote_group_becomes_its_members_addresses_of_the_rules_family() {
        let mut v4 = rule("v4", "IPv4");
        v4.remote_group_id = Some("db".into());
        v4.protocol = Some("tcp".into());
        v4.port_range_min = Some(5432);
        v4.port_range_max = Some(5432);
        let mut v6 = rule("v6", "IPv6");
        v6.remote_group_id = Some("db".into());
        let groups = [group(vec![v4, v6])];
        assert_eq!(
            remote_group_ids(&groups),
            BTreeSet::from(["db".to_string()])
        );
        let out = desired_security_groups(&groups, &members(5));
        let rules = &out[0].rules;
        assert_eq!(
            rules[0].remote_prefixes,
            ["10.0.0.5/32", "10.0.0.6/32", "192.168.1.0/24"]
        );
        assert_eq!(rules[0].protocol, Some(6));
        assert_eq!(
            (rules[0].port_range_min, rules[0].port_range_max),
            (Some(5432), Some(5432))
        );
        assert_eq!(rules[1].remote_prefixes, ["2001:db8::5/128", "fd00::9/128"]);
        assert_eq!(rules[1].direction, RuleDirection::Ingress);
    }

    #[test]
    fn a_remote_group_without_members_matches_no_one_rather_than_anyone() {
        let mut r = rule("r", "IPv4");
        r.remote_group_id = Some("empty".into());
        let out = desired_security_groups(&[group(vec![r, rule("open", "IPv4")])], &members(5));
        let ids: Vec<&str> = out[0].rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["open"]);
        assert!(out[0].rules[0].remote_prefixes.is_empty());
    }

    #[test]
    fn prefixes_become_networks_and_anywhere_becomes_any() {
        let mut a = rule("a", "IPv4");
        a.remote_ip_prefix = Some("10.0.0.5/24".into());
        let mut b = rule("b", "IPv6");
        b.remote_ip_prefix = Some("::/0".into());
        b.protocol = Some("ipv6-icmp".into());
        let out = desired_security_groups(&[group(vec![a, b])], &BTreeMap::new());
        assert_eq!(out[0].rules[0].remote_prefixes, ["10.0.0.0/24"]);
        assert!(out[0].rules[1].remote_prefixes.is_empty());
        assert_eq!(out[0].rules[1].protocol, Some(58));
    }

    #[test]
    fn the_generation_grows_with_the_group_its_rules_and_remote_membership() {
        let mut r = rule("r", "IPv4");
        r.remote_group_id = Some("db".into());
        let g = group(vec![r]);
        let base = desired_security_groups(std::slice::from_ref(&g), &members(5))[0].generation;
        assert_eq!(base, 20);
        let joined = desired_security_groups(std::slice::from_ref(&g), &members(30))[0].generation;
        assert!(joined > base);
        let mut edited = g.clone();
        edited.rules[0].updated_at = 40;
        let later = desired_security_groups(&[edited], &members(30))[0].generation;
        assert!(later > joined);
        // A membership change of a group no rule names changes nothing.
        let unrelated = BTreeMap::from([(
            "other".to_string(),
            Membership {
                changed_at: 99,
                ..Membership::default()
            },
        )]);
        assert_eq!(
            desired_security_groups(&[group(vec![])], &unrelated)[0].generation,
            20
        );
    }
}
