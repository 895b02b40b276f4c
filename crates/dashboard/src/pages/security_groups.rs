//! Security groups: list, create, delete, and a group's page with its
//! rules, a form to add one and a delete button per rule.
//!
//! The add-rule form offers what people pick in Horizon (direction,
//! ethertype, TCP/UDP/ICMP/any, a port range or ICMP type and code, a
//! remote CIDR or group) and sends it as one `POST /security-group-rules`.
//! The dashboard checks only what it must to build the body (numbers are
//! numbers, not both remotes); everything else (ranges, families, the
//! duplicate check) is Neutron's, whose message the page shows. Rejected:
//! re-implementing Neutron's rule validation here (two copies that drift).

use crate::api_client::{items, s, seg, ApiError, Service};
use crate::form::{self, Form};
use crate::layout::{self, csrf_field, post_button, Ctx, Nav};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use http::Method;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// GET /security-groups.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Response {
    let groups = match state
        .api
        .get(Service::Network, "/security-groups", ctx.token())
        .await
    {
        Ok(v) => v,
        Err(e) => {
            return layout::error_page(&state, &ctx, "Security groups", Nav::SecurityGroups, e)
        }
    };
    let project = &ctx.auth.project.id;
    let groups: Vec<&Value> = items(&groups, "security_groups")
        .iter()
        .filter(|g| &s(g, "project_id") == project)
        .collect();
    let body = html! {
        table #security-groups {
            caption.visually-hidden { "Security groups of this project" }
            thead { tr {
                th scope="col" { "Name" } th scope="col" { "Description" } th scope="col" { "Rules" }
                th scope="col" { "Actions" }
            } }
            tbody {
                @for g in &groups {
                    @let id = s(g, "id");
                    @let name = s(g, "name");
                    tr data-group=(name) {
                        td { a href=(format!("/security-groups/{}", seg(&id))) { (name) } }
                        td { (s(g, "description")) }
                        td { (items(g, "security_group_rules").len()) }
                        td.actions {
                            @if name != "default" {
                                (post_button(&ctx, &format!("/security-groups/{}/delete", seg(&id)), "Delete",
                                    Some(&format!("Delete security group {name}?"))))
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="create-h" {
            h2 #create-h { "Create a security group" }
            p.hint { "A new group allows all outgoing traffic and no incoming traffic; add rules on its page." }
            form method="post" action="/security-groups" {
                (csrf_field(&ctx))
                label for="group-name" { "Name" }
                input #group-name name="name" required maxlength="255";
                label for="group-description" { "Description" }
                input #group-description name="description" maxlength="255";
                button type="submit" { "Create security group" }
            }
        }
    };
    layout::page(&state, &ctx, "Security groups", Nav::SecurityGroups, body)
}

/// The create form.
#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
    #[serde(default)]
    description: String,
}

/// POST /security-groups.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<CreateForm>,
) -> Response {
    let name = f.name.trim().to_string();
    let body = json!({"security_group": {"name": name, "description": f.description.trim()}});
    let result = state
        .api
        .json(
            Method::POST,
            Service::Network,
            "/security-groups",
            ctx.token(),
            &body,
        )
        .await
        .map(|_| format!("Security group {name} was created."));
    layout::done(&state, &ctx, result, "/security-groups")
}

/// POST /security-groups/{id}/delete.
pub async fn delete(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let path = format!("/security-groups/{}", seg(&id));
    let result = state
        .api
        .delete(Service::Network, &path, ctx.token())
        .await
        .map(|_| "The security group was deleted.".to_string());
    layout::done(&state, &ctx, result, "/security-groups")
}

/// A rule's ports as people read them: `22`, `8000-8080`, `any`, or for
/// ICMP `type 8 code 0`.
pub fn port_text(rule: &Value) -> String {
    let (min, max) = (s(rule, "port_range_min"), s(rule, "port_range_max"));
    let protocol = s(rule, "protocol");
    if protocol.contains("icmp") {
        return match (min.as_str(), max.as_str()) {
            ("", _) => "any".into(),
            (t, "") => format!("type {t}"),
            (t, c) => format!("type {t} code {c}"),
        };
    }
    match (min.as_str(), max.as_str()) {
        ("", _) => "any".into(),
        (a, b) if a == b || b.is_empty() => a.into(),
        (a, b) => format!("{a}-{b}"),
    }
}

/// GET /security-groups/{id}: the rules and the add-rule form.
pub async fn detail(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = seg(&id);
    let (api, t) = (&state.api, ctx.token());
    let group_path = format!("/security-groups/{id}");
    let (group, groups) = tokio::join!(
        api.get(Service::Network, &group_path, t),
        api.get(Service::Network, "/security-groups", t),
    );
    let (group, groups) = match (|| Ok::<_, ApiError>((group?, groups?)))() {
        Ok(r) => r,
        Err(e) => {
            return layout::error_page(&state, &ctx, "Security group", Nav::SecurityGroups, e)
        }
    };
    let g = &group["security_group"];
    let groups = items(&groups, "security_groups");
    let group_names: HashMap<String, String> =
        groups.iter().map(|g| (s(g, "id"), s(g, "name"))).collect();
    let title = format!("Security group {}", s(g, "name"));
    let rules = items(g, "security_group_rules");
    let body = html! {
        @let description = s(g, "description");
        @if !description.is_empty() { p { (description) } }
        table #rules {
            caption.visually-hidden { "Rules of this security group" }
            thead { tr {
                th scope="col" { "Direction" } th scope="col" { "Ether type" } th scope="col" { "Protocol" }
                th scope="col" { "Ports" } th scope="col" { "Remote" } th scope="col" { "Actions" }
            } }
            tbody {
                @for r in rules {
                    @let protocol = s(r, "protocol");
                    tr data-rule=(s(r, "id")) {
                        td { (s(r, "direction")) }
                        td { (s(r, "ethertype")) }
                        td { @if protocol.is_empty() { "any" } @else { (protocol) } }
                        td { (port_text(r)) }
                        td { (remote_text(r, &group_names)) }
                        td.actions {
                            (post_button(&ctx, &format!("/security-groups/{id}/rules/{}/delete", seg(&s(r, "id"))),
                                "Delete rule", Some("Delete this rule?")))
                        }
                    }
                }
            }
        }
        (rule_form(&ctx, &id, groups))
    };
    layout::page(&state, &ctx, &title, Nav::SecurityGroups, body)
}

/// The remote of a rule: a CIDR, a group's name, or anywhere.
fn remote_text(rule: &Value, group_names: &HashMap<String, String>) -> String {
    let prefix = s(rule, "remote_ip_prefix");
    let group = s(rule, "remote_group_id");
    if !prefix.is_empty() {
        prefix
    } else if !group.is_empty() {
        let name = group_names.get(&group).cloned().unwrap_or(group);
        format!("group {name}")
    } else {
        "anywhere".into()
    }
}

fn rule_form(ctx: &Ctx, id: &str, groups: &[Value]) -> Markup {
    html! {
        section aria-labelledby="rule-h" {
            h2 #rule-h { "Add a rule" }
            form method="post" action=(format!("/security-groups/{id}/rules")) {
                (csrf_field(ctx))
                label for="rule-direction" { "Direction" }
                select #rule-direction name="direction" {
                    option value="ingress" { "Ingress (incoming)" }
                    option value="egress" { "Egress (outgoing)" }
                }
                label for="rule-ethertype" { "Ether type" }
                select #rule-ethertype name="ethertype" {
                    option value="IPv4" { "IPv4" }
                    option value="IPv6" { "IPv6" }
                }
                label for="rule-protocol" { "Protocol" }
                select #rule-protocol name="protocol" {
                    option value="tcp" { "TCP" }
                    option value="udp" { "UDP" }
                    option value="icmp" { "ICMP" }
                    option value="any" { "Any" }
                }
                label for="rule-min" { "From port (ICMP: type)" }
                input #rule-min name="port_min" inputmode="numeric" maxlength="5";
                label for="rule-max" { "To port (ICMP: code)" }
                input #rule-max name="port_max" inputmode="numeric" maxlength="5";
                p.hint { "Leave the ports empty for all ports (all ICMP types)." }
                label for="rule-cidr" { "Remote CIDR" }
                input #rule-cidr name="remote_cidr" placeholder="0.0.0.0/0" maxlength="64";
                label for="rule-group" { "Or remote security group" }
                select #rule-group name="remote_group" {
                    option value="" { "(none)" }
                    @for g in groups.iter().filter(|g| s(g, "project_id") == ctx.auth.project.id) {
                        option value=(s(g, "id")) { (s(g, "name")) }
                    }
                }
                button type="submit" { "Add rule" }
            }
        }
    }
}

/// The add-rule form.
#[derive(Deserialize)]
pub struct RuleForm {
    direction: String,
    ethertype: String,
    protocol: String,
    #[serde(default)]
    port_min: String,
    #[serde(default)]
    port_max: String,
    #[serde(default)]
    remote_cidr: String,
    #[serde(default)]
    remote_group: String,
}

/// The `POST /security-group-rules` body for the form, or what is wrong
/// with it in the form's words.
pub fn rule_body(f: &RuleForm, group_id: &str) -> Result<Value, String> {
    let mut rule = json!({
        "security_group_id": group_id, "direction": f.direction, "ethertype": f.ethertype,
    });
    if f.protocol != "any" {
        rule["protocol"] = json!(f.protocol);
    }
    let icmp = f.protocol == "icmp";
    for (raw, key, label) in [
        (
            &f.port_min,
            "port_range_min",
            if icmp { "ICMP type" } else { "From port" },
        ),
        (
            &f.port_max,
            "port_range_max",
            if icmp { "ICMP code" } else { "To port" },
        ),
    ] {
        if !raw.trim().is_empty() {
            rule[key] = json!(form::number(raw, label, 0)?);
        }
    }
    // One port given means just that port.
    if !icmp && rule.get("port_range_min").is_some() && rule.get("port_range_max").is_none() {
        rule["port_range_max"] = rule["port_range_min"].clone();
    }
    match (f.remote_cidr.trim(), f.remote_group.trim()) {
        ("", "") => {}
        (cidr, "") => rule["remote_ip_prefix"] = json!(cidr),
        ("", group) => rule["remote_group_id"] = json!(group),
        _ => return Err("Give a remote CIDR or a remote group, not both.".into()),
    }
    Ok(json!({ "security_group_rule": rule }))
}

/// POST /security-groups/{id}/rules.
pub async fn add_rule(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<RuleForm>,
) -> Response {
    let id = seg(&id);
    let back = format!("/security-groups/{id}");
    let body = match rule_body(&f, &id) {
        Ok(b) => b,
        Err(message) => {
            let e = ApiError {
                status: 400,
                message,
            };
            return layout::done(&state, &ctx, Err(e), &back);
        }
    };
    let result = state
        .api
        .json(
            Method::POST,
            Service::Network,
            "/security-group-rules",
            ctx.token(),
            &body,
        )
        .await
        .map(|_| "The rule was added.".to_string());
    layout::done(&state, &ctx, result, &back)
}

/// POST /security-groups/{id}/rules/{rule}/delete.
pub async fn delete_rule(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((id, rule)): Path<(String, String)>,
) -> Response {
    let path = format!("/security-group-rules/{}", seg(&rule));
    let result = state
        .api
        .delete(Service::Network, &path, ctx.token())
        .await
        .map(|_| "The rule was deleted.".to_string());
    layout::done(
        &state,
        &ctx,
        result,
        &format!("/security-groups/{}", seg(&id)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(protocol: &str, min: &str, max: &str, cidr: &str, group: &str) -> RuleForm {
        RuleForm {
            direction: "ingress".into(),
            ethertype: "IPv4".into(),
            protocol: protocol.into(),
            port_min: min.into(),
            port_max: max.into(),
            remote_cidr: cidr.into(),
            remote_group: group.into(),
        }
    }

    #[test]
    fn icmp_from_anywhere() {
        let b = rule_body(&form("icmp", "", "", "0.0.0.0/0", ""), "g").unwrap();
        assert_eq!(
            b,
            json!({"security_group_rule": {"security_group_id": "g", "direction": "ingress",
                "ethertype": "IPv4", "protocol": "icmp", "remote_ip_prefix": "0.0.0.0/0"}})
        );
    }

    #[test]
    fn one_port_is_that_port_and_any_protocol_is_left_out() {
        let b = rule_body(&form("tcp", "22", "", "", "other"), "g").unwrap();
        let r = &b["security_group_rule"];
        assert_eq!(
            (r["port_range_min"].as_i64(), r["port_range_max"].as_i64()),
            (Some(22), Some(22))
        );
        assert_eq!(r["remote_group_id"], "other");
        let b = rule_body(&form("any", "", "", "", ""), "g").unwrap();
        assert!(b["security_group_rule"].get("protocol").is_none());
    }

    #[test]
    fn bad_input_is_named() {
        assert_eq!(
            rule_body(&form("tcp", "ssh", "", "", ""), "g"),
            Err("From port must be a whole number of at least 0.".into())
        );
        assert!(rule_body(&form("tcp", "", "", "10.0.0.0/8", "g2"), "g").is_err());
    }

    #[test]
    fn ports_read_as_people_write_them() {
        let r = |p: &str, a: Value, b: Value| json!({"protocol": p, "port_range_min": a, "port_range_max": b});
        assert_eq!(port_text(&r("tcp", json!(22), json!(22))), "22");
        assert_eq!(port_text(&r("tcp", json!(80), json!(90))), "80-90");
        assert_eq!(port_text(&r("udp", Value::Null, Value::Null)), "any");
        assert_eq!(port_text(&r("icmp", json!(8), Value::Null)), "type 8");
        assert_eq!(port_text(&r("icmp", json!(8), json!(0))), "type 8 code 0");
    }
}
