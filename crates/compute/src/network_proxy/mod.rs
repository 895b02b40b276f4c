//! Nova's network proxy APIs (`os-security-groups`,
//! `os-security-group-rules`, `os-networks`, `os-tenant-networks`, to
//! 2.35): what Nova reads from a request and shows of Neutron's answer.
//!
//! Nova with Neutron keeps nothing of these: every call becomes calls to
//! the network service, here through [`crate::networks::ServerNetworks`]
//! (in-process). This module is the part that is Nova's own and needs no
//! I/O, so it is tested alone: the legacy bodies (no JSON schema: Nova
//! takes ports as numbers or numeric strings), the ingress rule Nova
//! builds (`_new_ingress_rule`), its duplicate check, and the views
//! (Neutron's rules shown with Nova's `from_port`/`to_port` conventions).

mod service;

pub use service::NetworkProxies;

use crate::error::{ComputeError, ComputeResult};
use serde_json::{json, Value};

/// A security group as Nova shows it: only its ingress rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyGroup {
    /// The Neutron id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its owner.
    pub project_id: String,
    /// Its ingress rules whose peer group (if any) still exists.
    pub rules: Vec<ProxyRule>,
}

/// The peer group of a rule, as Nova shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRef {
    /// The peer group's name.
    pub name: String,
    /// Its owner.
    pub project_id: String,
}

/// One Neutron ingress rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyRule {
    /// The Neutron id.
    pub id: String,
    /// Its group.
    pub parent_group_id: String,
    /// Neutron's protocol (`None`: any).
    pub protocol: Option<String>,
    /// Neutron's `port_range_min`.
    pub port_range_min: Option<i64>,
    /// Neutron's `port_range_max`.
    pub port_range_max: Option<i64>,
    /// Neutron's `remote_ip_prefix`.
    pub cidr: Option<String>,
    /// The peer group, when the rule has one.
    pub group: Option<GroupRef>,
}

/// The Neutron rule Nova asks for: always ingress; ethertype from the
/// CIDR (IPv4 without one, as Nova).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRule {
    /// The group the rule goes into.
    pub parent_group_id: String,
    /// The protocol (`tcp`, `udp`, `icmp`), or any.
    pub protocol: Option<String>,
    /// `port_range_min` (Nova's -1 is left out).
    pub port_range_min: Option<i64>,
    /// `port_range_max` (Nova's -1 is left out).
    pub port_range_max: Option<i64>,
    /// The peer CIDR (none for a group rule).
    pub cidr: Option<String>,
    /// The peer group.
    pub group_id: Option<String>,
    /// `IPv4` or `IPv6`.
    pub ethertype: &'static str,
}

/// A Neutron network as Nova shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyNetwork {
    /// The Neutron id.
    pub id: String,
    /// Its name (Nova's `label`).
    pub name: String,
}

/// A floating IP as Nova shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyFloatingIp {
    /// The Neutron id.
    pub id: String,
    /// The floating address.
    pub ip: String,
    /// Its external network's name (or id when it has none).
    pub pool: String,
    /// The fixed address it forwards to.
    pub fixed_ip: Option<String>,
    /// The server of its port.
    pub instance_id: Option<String>,
}

/// One `floating_ip` as Nova shows it.
pub fn floating_ip_view(f: &ProxyFloatingIp) -> Value {
    json!({
        "id": f.id,
        "ip": f.ip,
        "pool": f.pool,
        "fixed_ip": f.fixed_ip,
        "instance_id": f.instance_id,
    })
}

/// Nova's `validate_id`: Neutron ids are UUIDs.
pub fn validate_id(id: &str) -> ComputeResult<()> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| ComputeError::BadRequest("Security group id should be uuid".into()))
}

/// Nova's `_from_body`: `body[key]`, 400 when the body or key is missing.
pub fn from_body<'a>(body: &'a Value, key: &str) -> ComputeResult<&'a Value> {
    if body.is_null() || body.as_object().is_some_and(|o| o.is_empty()) {
        return Err(ComputeError::BadRequest(
            "The request body can't be empty".into(),
        ));
    }
    match body.get(key) {
        None | Some(Value::Null) => {
            Err(ComputeError::BadRequest(format!("Missing parameter {key}")))
        }
        Some(v) => Ok(v),
    }
}

/// Nova's `validate_property` for a group's `name` or `description`: a
/// string of at most 255 characters.
pub fn group_text(group: &Value, field: &str) -> ComputeResult<String> {
    let Some(text) = group.get(field).and_then(Value::as_str) else {
        return Err(ComputeError::BadRequest(format!(
            "Security group {field} is not a string or unicode"
        )));
    };
    if text.trim().chars().count() > 255 {
        return Err(ComputeError::BadRequest(format!(
            "{field} has more than 255 characters."
        )));
    }
    Ok(text.to_string())
}

/// A field Nova passes through `str()`/`int()`: a string or a number.
fn loose_text(rule: &Value, field: &str) -> Option<String> {
    match rule.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// `cidr` as Nova's `parse_cidr` reads it: none is `0.0.0.0/0`.
fn parse_cidr(raw: Option<&str>) -> ComputeResult<String> {
    let Some(raw) = raw.filter(|c| !c.is_empty()) else {
        return Ok("0.0.0.0/0".into());
    };
    let invalid = || ComputeError::BadRequest(format!("{raw} is not a valid IP network."));
    let (addr, len) = raw.split_once('/').ok_or_else(invalid)?;
    let addr: std::net::IpAddr = addr.parse().map_err(|_| invalid())?;
    let len: u8 = len.parse().map_err(|_| invalid())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(invalid());
    }
    if len == 0 && !addr.is_unspecified() {
        return Err(ComputeError::BadRequest(format!(
            "Bad prefix for network in cidr {raw}"
        )));
    }
    Ok(raw.to_string())
}

/// The body of `POST /os-security-group-rules`, its ids checked.
#[derive(Clone, Debug)]
pub struct RuleBody {
    /// The group the rule goes into.
    pub parent_group_id: String,
    /// The peer group, if any.
    pub group_id: Option<String>,
    rule: Value,
}

impl RuleBody {
    /// Read `security_group_rule` and check its ids (400 unless UUIDs).
    pub fn parse(body: &Value) -> ComputeResult<RuleBody> {
        let rule = from_body(body, "security_group_rule")?;
        let parent = loose_text(rule, "parent_group_id").unwrap_or_default();
        validate_id(&parent)?;
        let group_id = loose_text(rule, "group_id");
        if let Some(g) = &group_id {
            validate_id(g)?;
        }
        Ok(RuleBody {
            parent_group_id: parent,
            group_id,
            rule: rule.clone(),
        })
    }

    /// Nova's `_new_ingress_rule`: the rule to create, or 400 for a bad
    /// protocol, port range or CIDR, or too few parameters.
    pub fn to_rule(&self) -> ComputeResult<NewRule> {
        let protocol = loose_text(&self.rule, "ip_protocol").filter(|p| !p.is_empty());
        let mut from = loose_text(&self.rule, "from_port");
        let mut to = loose_text(&self.rule, "to_port");
        let upper = protocol.as_deref().unwrap_or("").to_ascii_uppercase();
        let cidr = match &self.group_id {
            Some(_) => {
                if from.is_none() && to.is_none() {
                    match upper.as_str() {
                        "ICMP" => (from, to) = (Some("-1".into()), Some("-1".into())),
                        "TCP" | "UDP" => (from, to) = (Some("1".into()), Some("65535".into())),
                        _ => {}
                    }
                }
                None
            }
            None => Some(parse_cidr(loose_text(&self.rule, "cidr").as_deref())?),
        };
        let ethertype = match cidr.as_deref().map(|c| c.contains(':')) {
            Some(true) => "IPv6",
            _ => "IPv4",
        };
        let mut out = NewRule {
            parent_group_id: self.parent_group_id.clone(),
            protocol: None,
            port_range_min: None,
            port_range_max: None,
            cidr: cidr.clone(),
            group_id: self.group_id.clone(),
            ethertype,
        };
        let (Some(protocol), Some(from), Some(to)) = (protocol, from, to) else {
            if cidr.is_some() {
                return Err(ComputeError::BadRequest(
                    "Not enough parameters to build a valid rule.".into(),
                ));
            }
            return Ok(out);
        };
        let (from, to) =
            match (from.trim().parse::<i64>(), to.trim().parse::<i64>()) {
                (Ok(f), Ok(t)) => (f, t),
                _ if upper == "ICMP" => return Err(ComputeError::BadRequest(
                    "Invalid input received: Type and Code must be integers for ICMP protocol type"
                        .into(),
                )),
                _ => {
                    return Err(ComputeError::BadRequest(
                        "Invalid input received: To and From ports must be integers".into(),
                    ))
                }
            };
        let range =
            |msg: &str| ComputeError::BadRequest(format!("Invalid port range {from}:{to}. {msg}"));
        match upper.as_str() {
            "TCP" | "UDP" if from > to => {
                return Err(range("Former value cannot be greater than the later"))
            }
            "TCP" | "UDP" if from < 1 || to > 65535 => {
                return Err(range(&format!(
                    "Valid {upper} ports should be between 1-65535"
                )))
            }
            "ICMP" if !(-1..=255).contains(&from) || !(-1..=255).contains(&to) => {
                return Err(range("For ICMP, the type:code must be valid"))
            }
            "TCP" | "UDP" | "ICMP" => {}
            _ => {
                return Err(ComputeError::BadRequest(format!(
                    "Invalid IP protocol {protocol}."
                )))
            }
        }
        out.protocol = Some(protocol);
        out.port_range_min = (from != -1).then_some(from);
        out.port_range_max = (to != -1).then_some(to);
        Ok(out)
    }
}

/// Nova's `from_port`/`to_port` of a Neutron rule: a protocol with no
/// ports is 1-65535 for TCP and UDP, -1/-1 otherwise.
fn nova_ports(r: &ProxyRule) -> (Option<i64>, Option<i64>) {
    match (&r.protocol, r.port_range_min, r.port_range_max) {
        (Some(p), None, None) if ["tcp", "udp"].contains(&p.to_ascii_lowercase().as_str()) => {
            (Some(1), Some(65535))
        }
        (Some(_), None, None) => (Some(-1), Some(-1)),
        (_, min, max) => (min, max),
    }
}

/// The peer of `r` in Nova's terms: its group, else its CIDR.
fn nova_peer(r: &ProxyRule) -> (Value, Value) {
    match &r.group {
        Some(g) => (
            json!({"name": g.name, "tenant_id": g.project_id}),
            json!({}),
        ),
        None => (
            json!({}),
            json!({"cidr": r.cidr.clone().unwrap_or_else(|| "0.0.0.0/0".into())}),
        ),
    }
}

/// Nova's duplicate check (`_rule_exists`): same peer, ports and protocol.
pub fn rule_exists(group: &ProxyGroup, new: &NewRule, peer: Option<&GroupRef>) -> bool {
    let wanted = ProxyRule {
        id: String::new(),
        parent_group_id: new.parent_group_id.clone(),
        protocol: new.protocol.clone(),
        port_range_min: new.port_range_min,
        port_range_max: new.port_range_max,
        cidr: new.cidr.clone(),
        group: peer.cloned(),
    };
    let key = |r: &ProxyRule| (nova_peer(r), nova_ports(r), r.protocol.clone());
    group.rules.iter().any(|r| key(r) == key(&wanted))
}

/// One `security_group_rule` as Nova shows it.
pub fn rule_view(r: &ProxyRule) -> Value {
    let (from, to) = nova_ports(r);
    let (group, ip_range) = nova_peer(r);
    json!({
        "id": r.id,
        "parent_group_id": r.parent_group_id,
        "ip_protocol": r.protocol,
        "from_port": from,
        "to_port": to,
        "group": group,
        "ip_range": ip_range,
    })
}

/// One `security_group` as Nova shows it.
pub fn group_view(g: &ProxyGroup) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "tenant_id": g.project_id,
        "rules": g.rules.iter().map(rule_view).collect::<Vec<_>>(),
    })
}

/// A list of groups, in Nova's order (project, then name).
pub fn groups_view(mut groups: Vec<ProxyGroup>) -> Value {
    groups.sort_by(|a, b| (&a.project_id, &a.name).cmp(&(&b.project_id, &b.name)));
    json!({"security_groups": groups.iter().map(group_view).collect::<Vec<_>>()})
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: &str = "6f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

    fn rule(body: Value) -> ComputeResult<NewRule> {
        RuleBody::parse(&json!({ "security_group_rule": body }))?.to_rule()
    }

    fn refused(r: ComputeResult<NewRule>) -> String {
        match r {
            Err(ComputeError::BadRequest(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cidr_rule_needs_protocol_and_ports_and_defaults_to_anywhere() {
        let r = rule(json!({"parent_group_id": G, "ip_protocol": "tcp",
            "from_port": 22, "to_port": "22"}))
        .unwrap();
        assert_eq!(r.cidr.as_deref(), Some("0.0.0.0/0"));
        assert_eq!((r.port_range_min, r.port_range_max), (Some(22), Some(22)));
        assert_eq!(r.ethertype, "IPv4");
        let m = refused(rule(json!({"parent_group_id": G, "ip_protocol": "tcp"})));
        assert!(m.contains("Not enough parameters"), "{m}");
        let v6 = rule(json!({"parent_group_id": G, "ip_protocol": "udp",
            "from_port": 53, "to_port": 53, "cidr": "2001:db8::/64"}))
        .unwrap();
        assert_eq!(v6.ethertype, "IPv6");
    }

    #[test]
    fn bad_ids_protocols_ports_and_cidrs_are_400() {
        assert!(refused(rule(json!({"parent_group_id": "nope"}))).contains("uuid"));
        let base = |extra: Value| {
            let mut b = json!({"parent_group_id": G, "ip_protocol": "tcp",
                "from_port": 22, "to_port": 22});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            rule(b)
        };
        assert!(refused(base(json!({"ip_protocol": "gre"}))).contains("Invalid IP protocol"));
        assert!(refused(base(json!({"from_port": 65536}))).contains("cannot be greater"));
        assert!(refused(base(json!({"from_port": 0}))).contains("1-65535"));
        assert!(refused(base(json!({"to_port": 70000}))).contains("1-65535"));
        assert!(refused(base(json!({"to_port": 21}))).contains("cannot be greater"));
        assert!(refused(base(json!({"to_port": "x"}))).contains("must be integers"));
        assert!(refused(base(json!({"cidr": "10.0.0.0/33"}))).contains("not a valid IP network"));
        assert!(refused(base(json!({"cidr": "10.0.0.0/0"}))).contains("Bad prefix"));
        let icmp = json!({"ip_protocol": "icmp", "from_port": 256, "to_port": 0});
        assert!(refused(base(icmp)).contains("type:code"));
    }

    #[test]
    fn icmp_minus_one_means_any_and_group_rules_open_everything() {
        let r = rule(json!({"parent_group_id": G, "ip_protocol": "icmp",
            "from_port": -1, "to_port": -1}))
        .unwrap();
        assert_eq!((r.port_range_min, r.port_range_max), (None, None));
        let g = rule(json!({"parent_group_id": G, "group_id": G, "ip_protocol": "tcp"})).unwrap();
        assert_eq!(g.cidr, None);
        assert_eq!((g.port_range_min, g.port_range_max), (Some(1), Some(65535)));
        let any = rule(json!({"parent_group_id": G, "group_id": G})).unwrap();
        assert_eq!(any.protocol, None);
    }

    #[test]
    fn views_use_novas_port_conventions_and_peers() {
        let r = ProxyRule {
            id: "r".into(),
            parent_group_id: G.into(),
            protocol: Some("icmp".into()),
            port_range_min: None,
            port_range_max: None,
            cidr: None,
            group: None,
        };
        let v = rule_view(&r);
        assert_eq!(
            (v["from_port"].clone(), v["to_port"].clone()),
            (json!(-1), json!(-1))
        );
        assert_eq!(v["ip_range"], json!({"cidr": "0.0.0.0/0"}));
        assert_eq!(v["group"], json!({}));
        let tcp = ProxyRule {
            protocol: Some("tcp".into()),
            group: Some(GroupRef {
                name: "web".into(),
                project_id: "p".into(),
            }),
            ..r
        };
        let v = rule_view(&tcp);
        assert_eq!(
            (v["from_port"].clone(), v["to_port"].clone()),
            (json!(1), json!(65535))
        );
        assert_eq!(v["group"], json!({"name": "web", "tenant_id": "p"}));
        assert_eq!(v["ip_range"], json!({}));
    }

    #[test]
    fn the_same_rule_twice_is_found() {
        let new = rule(json!({"parent_group_id": G, "ip_protocol": "tcp",
            "from_port": 22, "to_port": 22}))
        .unwrap();
        let mut group = ProxyGroup {
            id: G.into(),
            name: "g".into(),
            description: String::new(),
            project_id: "p".into(),
            rules: Vec::new(),
        };
        assert!(!rule_exists(&group, &new, None));
        group.rules.push(ProxyRule {
            id: "r".into(),
            parent_group_id: G.into(),
            protocol: Some("tcp".into()),
            port_range_min: Some(22),
            port_range_max: Some(22),
            cidr: Some("0.0.0.0/0".into()),
            group: None,
        });
        assert!(rule_exists(&group, &new, None));
    }

    #[test]
    fn group_texts_are_strings_of_at_most_255() {
        let g = json!({"name": " a b ", "description": "d".repeat(256)});
        assert_eq!(group_text(&g, "name").unwrap(), " a b ");
        assert!(group_text(&g, "description").is_err());
        assert!(group_text(&json!({}), "name").is_err());
    }
}
