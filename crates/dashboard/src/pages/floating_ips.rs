//! Floating IPs: the list (address, pool, what it is associated with,
//! status), allocate one from an external network, associate it with an
//! instance, disassociate, release.
//!
//! Associating is by instance, as people think of it, but Neutron
//! associates a floating IP with a *port* and one of its fixed addresses.
//! The form therefore offers one choice per instance port and IPv4 fixed
//! address ("vm1 – 10.0.0.5"), which is Horizon's way too: an instance
//! with one address is one pick, one with several lets the user say which,
//! and the value carries both the port and the address, so the association
//! is one `PUT /floatingips/{id}`. Rejected: a two-step form (instance,
//! then a page of its ports), a second round trip for the common case.

use super::networks::display_name;
use super::routers::{external_networks, external_select, network_names};
use crate::api_client::{items, s, seg, ApiError, Service};
use crate::form::Form;
use crate::layout::{self, csrf_field, post_button, Ctx, Nav};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use http::Method;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// A place a floating IP can go: an instance's port and one of its IPv4
/// fixed addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The port.
    pub port_id: String,
    /// The fixed address on it.
    pub ip: String,
    /// What the user sees: `vm1 – 10.0.0.5`.
    pub label: String,
}

impl Target {
    /// The form value: port and address.
    pub fn value(&self) -> String {
        format!("{} {}", self.port_id, self.ip)
    }
}

/// The instances' ports and their IPv4 addresses, by instance name.
/// `servers` maps instance id to name; ports of anything else are left
/// out.
pub fn targets(ports: &[Value], servers: &HashMap<String, String>) -> Vec<Target> {
    let mut out: Vec<Target> = ports
        .iter()
        .filter(|p| s(p, "device_owner").starts_with("compute:"))
        .filter_map(|p| Some((p, servers.get(&s(p, "device_id"))?)))
        .flat_map(|(p, name)| {
            items(p, "fixed_ips")
                .iter()
                .map(|ip| s(ip, "ip_address"))
                .filter(|ip| !ip.contains(':'))
                .map(move |ip| Target {
                    port_id: s(p, "id"),
                    label: format!("{name} – {ip}"),
                    ip,
                })
        })
        .collect();
    out.sort_by(|a, b| a.label.cmp(&b.label));
    out
}

/// `port id -> instance (id, name)` for ports of instances.
fn port_owners(
    ports: &[Value],
    servers: &HashMap<String, String>,
) -> HashMap<String, (String, String)> {
    ports
        .iter()
        .filter_map(|p| {
            let device = s(p, "device_id");
            let name = servers.get(&device)?;
            Some((s(p, "id"), (device, name.clone())))
        })
        .collect()
}

/// GET /floating-ips.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Response {
    let (api, t) = (&state.api, ctx.token());
    let (fips, networks, ports, servers) = tokio::join!(
        api.get(Service::Network, "/floatingips", t),
        api.get(Service::Network, "/networks", t),
        api.get(Service::Network, "/ports", t),
        api.get(Service::Compute, "/servers", t),
    );
    let result = (|| Ok::<_, ApiError>((fips?, networks?, ports?)))();
    let (fips, networks, ports) = match result {
        Ok(r) => r,
        Err(e) => return layout::error_page(&state, &ctx, "Floating IPs", Nav::FloatingIps, e),
    };
    // Without compute the list still shows, with ports instead of names.
    let servers: HashMap<String, String> = items(&servers.unwrap_or(Value::Null), "servers")
        .iter()
        .map(|v| (s(v, "id"), s(v, "name")))
        .collect();
    let project = &ctx.auth.project.id;
    let fips: Vec<&Value> = items(&fips, "floatingips")
        .iter()
        .filter(|f| &s(f, "project_id") == project)
        .collect();
    let networks = items(&networks, "networks");
    let names = network_names(networks);
    let ports = items(&ports, "ports");
    let owners = port_owners(ports, &servers);
    let targets = targets(ports, &servers);
    let body = html! {
        @if fips.is_empty() { p #no-floating-ips { "No floating IPs allocated." } }
        table #floating-ips {
            caption.visually-hidden { "Floating IPs of this project" }
            thead { tr {
                th scope="col" { "Address" } th scope="col" { "Pool" } th scope="col" { "Associated with" }
                th scope="col" { "Status" } th scope="col" { "Actions" }
            } }
            tbody {
                @for f in &fips {
                    @let address = s(f, "floating_ip_address");
                    @let net = s(f, "floating_network_id");
                    tr data-address=(address) {
                        td { code { (address) } }
                        td { (names.get(&net).cloned().unwrap_or(net.clone())) }
                        td.associated { (associated(f, &owners)) }
                        td { (s(f, "status")) }
                        td.actions { (row_actions(&ctx, f, &address, &targets)) }
                    }
                }
            }
        }
        (allocate_form(&ctx, &external_networks(networks)))
    };
    layout::page(&state, &ctx, "Floating IPs", Nav::FloatingIps, body)
}

/// What a floating IP is associated with: the instance (linked) and the
/// fixed address, a bare port, or nothing.
fn associated(f: &Value, owners: &HashMap<String, (String, String)>) -> Markup {
    let port = s(f, "port_id");
    let fixed = s(f, "fixed_ip_address");
    html! {
        @if port.is_empty() {
            span.hint { "not associated" }
        } @else if let Some((id, name)) = owners.get(&port) {
            a href=(format!("/instances/{}", seg(id))) { (display_name(name, id)) } " (" (fixed) ")"
        } @else {
            "port " code { (port) } " (" (fixed) ")"
        }
    }
}

fn row_actions(ctx: &Ctx, f: &Value, address: &str, targets: &[Target]) -> Markup {
    let id = seg(&s(f, "id"));
    let select_id = format!("associate-{id}");
    html! {
        @if s(f, "port_id").is_empty() {
            form.row method="post" action=(format!("/floating-ips/{id}/associate")) {
                (csrf_field(ctx))
                label for=(select_id) { "Associate " (address) " with" }
                select #(select_id) name="target" required {
                    @for target in targets { option value=(target.value()) { (target.label) } }
                }
                button type="submit" disabled[targets.is_empty()] { "Associate" }
            }
        } @else {
            (post_button(ctx, &format!("/floating-ips/{id}/disassociate"), "Disassociate",
                Some(&format!("Disassociate {address}? It stops reaching the instance."))))
        }
        (post_button(ctx, &format!("/floating-ips/{id}/release"), "Release",
            Some(&format!("Release {address}? The address goes back to the pool."))))
    }
}

fn allocate_form(ctx: &Ctx, external: &[&Value]) -> Markup {
    html! {
        section aria-labelledby="allocate-h" {
            h2 #allocate-h { "Allocate a floating IP" }
            @if external.is_empty() {
                p.hint { "There is no external network to allocate from: an administrator makes one." }
            } @else {
                form.row method="post" action="/floating-ips" {
                    (csrf_field(ctx))
                    label for="fip-pool" { "Pool" }
                    (external_select("fip-pool", "floating_network_id", external, None, ""))
                    button type="submit" { "Allocate IP" }
                }
            }
        }
    }
}

/// The allocate form.
#[derive(Deserialize)]
pub struct AllocateForm {
    floating_network_id: String,
}

/// POST /floating-ips.
pub async fn allocate(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<AllocateForm>,
) -> Response {
    let body = json!({"floatingip": {"floating_network_id": f.floating_network_id.trim()}});
    let result = state
        .api
        .json(
            Method::POST,
            Service::Network,
            "/floatingips",
            ctx.token(),
            &body,
        )
        .await
        .map(|v| {
            format!(
                "Floating IP {} was allocated.",
                s(&v["floatingip"], "floating_ip_address")
            )
        });
    layout::done(&state, &ctx, result, "/floating-ips")
}

/// The associate form: `target` is a [`Target::value`].
#[derive(Deserialize)]
pub struct AssociateForm {
    target: String,
}

/// The `PUT /floatingips/{id}` body for a target value, or why not.
pub fn associate_body(target: &str) -> Result<Value, String> {
    match target.trim().split_once(' ') {
        Some((port, ip)) if !port.is_empty() && !ip.trim().is_empty() => {
            Ok(json!({"floatingip": {"port_id": port, "fixed_ip_address": ip.trim()}}))
        }
        _ => Err("Choose an instance address to associate with.".to_string()),
    }
}

async fn update(state: &AppState, ctx: &Ctx, id: &str, body: &Value) -> Result<Value, ApiError> {
    let path = format!("/floatingips/{}", seg(id));
    state
        .api
        .json(Method::PUT, Service::Network, &path, ctx.token(), body)
        .await
}

/// POST /floating-ips/{id}/associate.
pub async fn associate(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<AssociateForm>,
) -> Response {
    let result = match associate_body(&f.target) {
        Ok(body) => update(&state, &ctx, &id, &body).await.map(|v| {
            let fip = &v["floatingip"];
            format!(
                "Floating IP {} was associated with {}.",
                s(fip, "floating_ip_address"),
                s(fip, "fixed_ip_address")
            )
        }),
        Err(message) => Err(ApiError {
            status: 400,
            message,
        }),
    };
    layout::done(&state, &ctx, result, "/floating-ips")
}

/// POST /floating-ips/{id}/disassociate.
pub async fn disassociate(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Response {
    let body = json!({"floatingip": {"port_id": null}});
    let result = update(&state, &ctx, &id, &body).await.map(|v| {
        format!(
            "Floating IP {} was disassociated.",
            s(&v["floatingip"], "floating_ip_address")
        )
    });
    layout::done(&state, &ctx, result, "/floating-ips")
}

/// POST /floating-ips/{id}/release.
pub async fn release(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let result = state
        .api
        .delete(
            Service::Network,
            &format!("/floatingips/{}", seg(&id)),
            ctx.token(),
        )
        .await
        .map(|_| "The floating IP was released.".to_string());
    layout::done(&state, &ctx, result, "/floating-ips")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_instance_ports_with_ipv4_addresses() {
        let servers = HashMap::from([("vm".to_string(), "vm1".to_string())]);
        let ports = vec![
            json!({"id": "p1", "device_owner": "compute:nova", "device_id": "vm",
                "fixed_ips": [{"ip_address": "10.0.0.5"}, {"ip_address": "fd00::5"}, {"ip_address": "10.0.1.5"}]}),
            json!({"id": "p2", "device_owner": "network:dhcp", "device_id": "dhcp",
                "fixed_ips": [{"ip_address": "10.0.0.2"}]}),
            json!({"id": "p3", "device_owner": "compute:nova", "device_id": "gone",
                "fixed_ips": [{"ip_address": "10.0.0.7"}]}),
        ];
        let t = targets(&ports, &servers);
        let labels: Vec<&str> = t.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["vm1 – 10.0.0.5", "vm1 – 10.0.1.5"]);
        assert_eq!(t[0].value(), "p1 10.0.0.5");
    }

    #[test]
    fn a_target_value_becomes_port_and_address() {
        assert_eq!(
            associate_body("p1 10.0.0.5").unwrap(),
            json!({"floatingip": {"port_id": "p1", "fixed_ip_address": "10.0.0.5"}})
        );
        assert!(associate_body("").is_err());
        assert!(associate_body("p1").is_err());
    }
}
