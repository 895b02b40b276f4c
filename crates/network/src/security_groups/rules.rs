//! A security group rule as Neutron reads it: parsing, normalization and
//! validation, with no I/O, so every refusal is decided before anything is
//! reserved or written.
//!
//! Neutron's order and messages are kept: ethertype (any case), protocol
//! (a name Neutron knows, `any`, or a number 0-255), port values, the CIDR;
//! then the canonical forms (IPv6 with `icmp`/`icmpv6`/`1` becomes
//! `ipv6-icmp`/`58`; the full range 1-65535 becomes no range; a prefix
//! gets its mask written out), then the checks (ports need a protocol that
//! has them, min <= max, ICMP type/code 0-255 with a type when a code is
//! given, the prefix's family is the ethertype's, IPv6-only protocols
//! refuse IPv4, one remote at most).
//!
//! The same module knows a rule's identity ([`match_key`]): two rules that
//! differ only in how they were spelled (`tcp` or `6`, `0.0.0.0/0` or no
//! prefix) are one rule, and the store refuses the second.

use crate::error::{NetworkError, NetworkResult};
use http::StatusCode;
use serde_json::Value;
use std::net::IpAddr;

/// Every protocol name Neutron accepts, with its number.
pub const PROTOCOLS: &[(&str, u8)] = &[
    ("ah", 51),
    ("dccp", 33),
    ("egp", 8),
    ("esp", 50),
    ("gre", 47),
    ("hopopt", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ip", 0),
    ("ipip", 4),
    ("ipv6-encap", 41),
    ("ipv6-frag", 44),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ipv6-route", 43),
    ("ospf", 89),
    ("pgm", 113),
    ("rsvp", 46),
    ("sctp", 132),
    ("tcp", 6),
    ("udp", 17),
    ("udplite", 136),
    ("vrrp", 112),
];

/// Protocols whose rules may carry a port range (DCCP, SCTP, TCP, UDP, UDP-Lite).
const PORT_PROTOCOLS: &[u8] = &[33, 132, 6, 17, 136];

/// Protocols only IPv6 has.
const IPV6_ONLY: &[u8] = &[41, 44, 58, 59, 60, 43];

/// The number of a stored protocol (a name or a number); `None` is any.
pub fn protocol_number(protocol: Option<&str>) -> Option<u8> {
    let p = protocol?;
    PROTOCOLS
        .iter()
        .find(|(name, _)| *name == p)
        .map(|(_, n)| *n)
        .or_else(|| p.parse().ok())
}

/// A rule as the user asked for it (`security_group_rule` of a POST).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    /// The group the rule goes into.
    pub security_group_id: String,
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` (default) or `IPv6`, any case.
    #[serde(default)]
    pub ethertype: Option<String>,
    /// A name, a number (as text or JSON number), `any` or null.
    #[serde(default)]
    pub protocol: Option<Value>,
    /// Lowest port or ICMP type.
    #[serde(default)]
    pub port_range_min: Option<Value>,
    /// Highest port or ICMP code.
    #[serde(default)]
    pub port_range_max: Option<Value>,
    /// Peer CIDR (or a bare address).
    #[serde(default)]
    pub remote_ip_prefix: Option<String>,
    /// Peer group.
    #[serde(default)]
    pub remote_group_id: Option<String>,
    /// Address groups are not served; given, it is refused.
    #[serde(default)]
    pub remote_address_group_id: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Owner (admins only may name another project).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Old name of `project_id`.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// A rule in Neutron's canonical form, valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `ingress` or `egress`.
    pub direction: String,
    /// `IPv4` or `IPv6`.
    pub ethertype: String,
    /// As given (lower case), after the IPv6 ICMP canonicalization.
    pub protocol: Option<String>,
    /// Lowest port or ICMP type.
    pub port_range_min: Option<i64>,
    /// Highest port or ICMP code.
    pub port_range_max: Option<i64>,
    /// The CIDR with its mask written out (host bits kept, as Neutron keeps them).
    pub remote_ip_prefix: Option<String>,
    /// Peer group.
    pub remote_group_id: Option<String>,
}

fn invalid(kind: &'static str, message: impl Into<String>) -> NetworkError {
    NetworkError::new(StatusCode::BAD_REQUEST, kind, message)
}

fn protocol_names() -> String {
    let mut names: Vec<&str> = vec!["any"];
    names.extend(PROTOCOLS.iter().map(|(n, _)| *n));
    format!("[{}]", names.join(", "))
}

fn convert_protocol(value: Option<&Value>) -> NetworkResult<Option<String>> {
    let refused = |shown: String| {
        invalid(
            "SecurityGroupRuleInvalidProtocol",
            format!(
                "Security group rule protocol {shown} not supported. Only protocol values {} \
                 and integer representations [0 to 255] are supported.",
                protocol_names()
            ),
        )
    };
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => return Err(refused(other.to_string())),
    };
    if text == "any" {
        return Ok(None);
    }
    if let Ok(n) = text.parse::<i64>() {
        return if (0..=255).contains(&n) {
            Ok(Some(n.to_string()))
        } else {
            Err(refused(text))
        };
    }
    let lower = text.to_ascii_lowercase();
    if lower == "any" {
        return Ok(None);
    }
    if PROTOCOLS.iter().any(|(name, _)| *name == lower) {
        Ok(Some(lower))
    } else {
        Err(refused(text))
    }
}

fn convert_port(value: Option<&Value>) -> NetworkResult<Option<i64>> {
    let parsed = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match parsed {
        Some(p) if (0..=65535).contains(&p) => Ok(Some(p)),
        _ => Err(invalid(
            "SecurityGroupInvalidPortValue",
            format!(
                "Invalid value for port {}",
                value.map(|v| v.to_string()).unwrap_or_default()
            ),
        )),
    }
}

fn convert_ethertype(value: Option<&str>) -> NetworkResult<String> {
    let Some(value) = value else {
        return Ok("IPv4".into());
    };
    ["IPv4", "IPv6"]
        .into_iter()
        .find(|e| e.eq_ignore_ascii_case(value))
        .map(str::to_string)
        .ok_or_else(|| {
            invalid(
                "SecurityGroupRuleInvalidEtherType",
                format!(
                    "Security group rule for ethertype '{value}' not supported. \
                     Allowed values are ['IPv4', 'IPv6']."
                ),
            )
        })
}

/// A CIDR or bare address: (address, prefix length).
pub fn parse_cidr(raw: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match raw.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (raw, None),
    };
    let addr: IpAddr = addr.trim().parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l.trim().parse::<u8>().ok().filter(|l| *l <= max)?,
        None => max,
    };
    Some((addr, len))
}

/// The network of a CIDR (host bits cleared): Neutron's `normalized_cidr`.
pub fn normalized_cidr(raw: &str) -> Option<String> {
    let (addr, len) = parse_cidr(raw)?;
    let net = match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    };
    Some(format!("{net}/{len}"))
}

fn validate_ports(rule: &Rule) -> NetworkResult<()> {
    let (min, max) = (rule.port_range_min, rule.port_range_max);
    if min.is_none() && max.is_none() {
        return Ok(());
    }
    let Some(number) = protocol_number(rule.protocol.as_deref()) else {
        return Err(invalid(
            "SecurityGroupProtocolRequiredWithPorts",
            "Must also specify protocol if port range is given.",
        ));
    };
    if PORT_PROTOCOLS.contains(&number) {
        if min == Some(0) || max == Some(0) {
            return Err(invalid(
                "SecurityGroupInvalidPortValue",
                "Invalid value for port 0",
            ));
        }
        match (min, max) {
            (Some(lo), Some(hi)) if lo <= hi => Ok(()),
            _ => Err(invalid(
                "SecurityGroupInvalidPortRange",
                "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            )),
        }
    } else if number == 1 || number == 58 {
        for (value, field, attr) in [
            (min, "type", "port_range_min"),
            (max, "code", "port_range_max"),
        ] {
            if let Some(v) = value.filter(|v| !(0..=255).contains(v)) {
                return Err(invalid(
                    "SecurityGroupInvalidIcmpValue",
                    format!("Invalid value for ICMP {field} ({attr}) {v}. It must be 0 to 255."),
                ));
            }
        }
        if let (None, Some(code)) = (min, max) {
            return Err(invalid(
                "SecurityGroupMissingIcmpType",
                format!(
                    "ICMP code (port-range-max) {code} is provided but ICMP type \
                     (port-range-min) is missing."
                ),
            ));
        }
        Ok(())
    } else {
        Err(invalid(
            "SecurityGroupInvalidProtocolForPort",
            format!(
                "Ports cannot be specified for protocol {number}. Ports are only supported \
                 for DCCP, SCTP, TCP, UDP, UDPLITE."
            ),
        ))
    }
}

impl RuleRequest {
    /// Neutron's conversions, canonical forms and checks, in its order.
    pub fn normalize(&self) -> NetworkResult<Rule> {
        let ethertype = convert_ethertype(self.ethertype.as_deref())?;
        let mut protocol = convert_protocol(self.protocol.as_ref())?;
        let mut port_range_min = convert_port(self.port_range_min.as_ref())?;
        let mut port_range_max = convert_port(self.port_range_max.as_ref())?;
        let prefix = match self.remote_ip_prefix.as_deref().filter(|p| !p.is_empty()) {
            None => None,
            Some(raw) => Some(parse_cidr(raw).ok_or_else(|| {
                invalid(
                    "InvalidCIDR",
                    format!("Invalid CIDR {raw} given as IP prefix."),
                )
            })?),
        };
        if !["ingress", "egress"].contains(&self.direction.as_str()) {
            return Err(NetworkError::invalid_input(
                "direction",
                format!("{} is not in ['ingress', 'egress']", self.direction),
            ));
        }
        if ethertype == "IPv6" {
            match protocol.as_deref() {
                Some("icmp") | Some("icmpv6") => protocol = Some("ipv6-icmp".into()),
                Some("1") => protocol = Some("58".into()),
                _ => {}
            }
        }
        if port_range_min == Some(1) && port_range_max == Some(65535) {
            port_range_min = None;
            port_range_max = None;
        }
        let rule = Rule {
            direction: self.direction.clone(),
            ethertype,
            protocol,
            port_range_min,
            port_range_max,
            remote_ip_prefix: prefix.map(|(addr, len)| format!("{addr}/{len}")),
            remote_group_id: self.remote_group_id.clone().filter(|g| !g.is_empty()),
        };
        validate_ports(&rule)?;
        if let Some((addr, _)) = prefix {
            let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
            if family != rule.ethertype {
                return Err(invalid(
                    "SecurityGroupRuleParameterConflict",
                    format!(
                        "Conflicting value ethertype {} for CIDR {}",
                        rule.ethertype,
                        self.remote_ip_prefix.as_deref().unwrap_or_default()
                    ),
                ));
            }
        }
        if rule.ethertype == "IPv4"
            && protocol_number(rule.protocol.as_deref()).is_some_and(|n| IPV6_ONLY.contains(&n))
        {
            return Err(invalid(
                "SecurityGroupEthertypeConflictWithProtocol",
                format!(
                    "Invalid ethertype {} for protocol {}.",
                    rule.ethertype,
                    rule.protocol.as_deref().unwrap_or_default()
                ),
            ));
        }
        let remotes = [
            rule.remote_ip_prefix.is_some(),
            rule.remote_group_id.is_some(),
            self.remote_address_group_id
                .as_deref()
                .is_some_and(|a| !a.is_empty()),
        ];
        if remotes.iter().filter(|r| **r).count() > 1 {
            return Err(invalid(
                "SecurityGroupMultipleRemoteEntites",
                "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id \
                 may be provided.",
            ));
        }
        if self
            .remote_address_group_id
            .as_deref()
            .is_some_and(|a| !a.is_empty())
        {
            return Err(NetworkError::invalid_input(
                "remote_address_group_id",
                "address groups are not supported by this cloud",
            ));
        }
        Ok(rule)
    }
}

/// Neutron's identity of a rule within its group: the same traffic
/// however it was spelled (protocol by number, "anywhere" as no prefix).
pub fn match_key(rule: &Rule) -> String {
    let none = "+".to_string();
    let prefix = match rule.remote_ip_prefix.as_deref() {
        None | Some("0.0.0.0/0") | Some("::/0") => none.clone(),
        Some(p) => p.to_string(),
    };
    let int = |v: Option<i64>| v.map_or_else(|| none.clone(), |v| v.to_string());
    [
        rule.direction.clone(),
        rule.ethertype.clone(),
        int(rule.port_range_max),
        int(rule.port_range_min),
        protocol_number(rule.protocol.as_deref()).map_or_else(|| none.clone(), |n| n.to_string()),
        rule.remote_group_id.clone().unwrap_or_else(|| none.clone()),
        prefix,
    ]
    .join("_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: Value) -> RuleRequest {
        let mut b = json!({"security_group_id": "g", "direction": "ingress"});
        b.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        serde_json::from_value(b).unwrap()
    }

    fn kind(body: Value) -> &'static str {
        request(body).normalize().unwrap_err().kind
    }

    #[test]
    fn spellings_are_made_canonical() {
        let r = request(
            json!({"ethertype": "ipv6", "protocol": "ICMP", "remote_ip_prefix": "2001:DB8::1"}),
        )
        .normalize()
        .unwrap();
        assert_eq!(r.ethertype, "IPv6");
        assert_eq!(r.protocol.as_deref(), Some("ipv6-icmp"));
        assert_eq!(r.remote_ip_prefix.as_deref(), Some("2001:db8::1/128"));
        let r = request(json!({"protocol": 6, "port_range_min": "1", "port_range_max": 65535}))
            .normalize()
            .unwrap();
        assert_eq!(r.protocol.as_deref(), Some("6"));
        assert_eq!((r.port_range_min, r.port_range_max), (None, None));
        let r = request(json!({"protocol": "any", "remote_ip_prefix": "10.0.0.5/24"}))
            .normalize()
            .unwrap();
        assert_eq!(r.protocol, None);
        assert_eq!(r.remote_ip_prefix.as_deref(), Some("10.0.0.5/24"));
        assert_eq!(
            normalized_cidr("10.0.0.5/24").as_deref(),
            Some("10.0.0.0/24")
        );
        assert_eq!(
            normalized_cidr("2001:db8::1/32").as_deref(),
            Some("2001:db8::/32")
        );
        assert_eq!(normalized_cidr("0.0.0.0/0").as_deref(), Some("0.0.0.0/0"));
    }

    #[test]
    fn bad_rules_are_refused_with_neutrons_exception() {
        assert_eq!(
            kind(json!({"ethertype": "IPv5"})),
            "SecurityGroupRuleInvalidEtherType"
        );
        assert_eq!(
            kind(json!({"protocol": "bogus"})),
            "SecurityGroupRuleInvalidProtocol"
        );
        assert_eq!(
            kind(json!({"protocol": 256})),
            "SecurityGroupRuleInvalidProtocol"
        );
        assert_eq!(
            kind(json!({"protocol": "tcp", "port_range_min": 70000})),
            "SecurityGroupInvalidPortValue"
        );
        assert_eq!(
            kind(json!({"protocol": "tcp", "port_range_min": 0, "port_range_max": 5})),
            "SecurityGroupInvalidPortValue"
        );
        assert_eq!(
            kind(json!({"protocol": "tcp", "port_range_min": 30, "port_range_max": 20})),
            "SecurityGroupInvalidPortRange"
        );
        assert_eq!(
            kind(json!({"protocol": "tcp", "port_range_min": 30})),
            "SecurityGroupInvalidPortRange"
        );
        assert_eq!(
            kind(json!({"port_range_min": 22, "port_range_max": 22})),
            "SecurityGroupProtocolRequiredWithPorts"
        );
        assert_eq!(
            kind(json!({"protocol": "gre", "port_range_min": 22})),
            "SecurityGroupInvalidProtocolForPort"
        );
        assert_eq!(
            kind(json!({"protocol": "icmp", "port_range_min": 300})),
            "SecurityGroupInvalidIcmpValue"
        );
        assert_eq!(
            kind(json!({"protocol": "icmp", "port_range_max": 0})),
            "SecurityGroupMissingIcmpType"
        );
        assert_eq!(
            kind(json!({"remote_ip_prefix": "10.0.0.0/33"})),
            "InvalidCIDR"
        );
        assert_eq!(
            kind(json!({"remote_ip_prefix": "::/0"})),
            "SecurityGroupRuleParameterConflict"
        );
        assert_eq!(
            kind(json!({"protocol": "ipv6-icmp"})),
            "SecurityGroupEthertypeConflictWithProtocol"
        );
        assert_eq!(
            kind(json!({"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "x"})),
            "SecurityGroupMultipleRemoteEntites"
        );
        assert_eq!(kind(json!({"direction": "sideways"})), "InvalidInput");
    }

    #[test]
    fn icmp_type_and_code_are_accepted() {
        let r = request(json!({"protocol": "icmp", "port_range_min": 8, "port_range_max": 0}))
            .normalize()
            .unwrap();
        assert_eq!((r.port_range_min, r.port_range_max), (Some(8), Some(0)));
    }

    #[test]
    fn the_same_rule_spelled_twice_has_one_key() {
        let a = request(
            json!({"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}),
        );
        let b = request(json!({"protocol": "6", "port_range_min": 22, "port_range_max": 22}));
        assert_eq!(
            match_key(&a.normalize().unwrap()),
            match_key(&b.normalize().unwrap())
        );
        let c = request(json!({"protocol": "udp", "port_range_min": 22, "port_range_max": 22}));
        assert_ne!(
            match_key(&a.normalize().unwrap()),
            match_key(&c.normalize().unwrap())
        );
    }
}
