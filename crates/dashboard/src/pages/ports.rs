//! Ports, on their network's page: the list (addresses, MAC, what each
//! is attached to), create a port (optionally with a chosen fixed IP) and
//! delete one.
//!
//! Ports live on the network's page rather than a page of their own, as in
//! Horizon: a port only means something on its network, and the page
//! already shows the subnets whose addresses it takes. Deleting a port an
//! instance uses detaches it from the instance (Neutron allows it); the
//! confirmation says so.

use super::networks::display_name;
use crate::api_client::{items, s, seg, Service};
use crate::form::Form;
use crate::layout::{self, csrf_field, post_button, Ctx};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use http::Method;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

/// The fixed IPs of a port, `10.0.0.5, fd00::5`.
fn fixed_ips(port: &Value) -> String {
    items(port, "fixed_ips")
        .iter()
        .map(|ip| s(ip, "ip_address"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a port belongs to: an instance or a router (linked), DHCP, or
/// its raw owner.
fn attached_to(port: &Value) -> Markup {
    let owner = s(port, "device_owner");
    let device = s(port, "device_id");
    html! {
        @if owner.starts_with("compute:") && !device.is_empty() {
            a href=(format!("/instances/{}", seg(&device))) { "instance" }
        } @else if owner.starts_with("network:router_interface") && !device.is_empty() {
            a href=(format!("/routers/{}", seg(&device))) { "router" }
        } @else if owner == "network:dhcp" {
            "DHCP"
        } @else {
            (owner)
        }
    }
}

/// The Ports section of network `id`'s page (`id` already a safe segment).
pub fn section(ctx: &Ctx, id: &str, ports: &[Value]) -> Markup {
    html! {
        h2 #ports-h { "Ports" }
        @if ports.is_empty() { p { "No ports." } }
        table #ports aria-labelledby="ports-h" {
            thead { tr {
                th scope="col" { "Name or ID" } th scope="col" { "Fixed IPs" } th scope="col" { "MAC address" }
                th scope="col" { "Attached to" } th scope="col" { "Status" } th scope="col" { "Actions" }
            } }
            tbody {
                @for p in ports {
                    @let name = display_name(&s(p, "name"), &s(p, "id"));
                    @let used = !s(p, "device_id").is_empty();
                    tr {
                        td { (name) }
                        td { (fixed_ips(p)) }
                        td { code { (s(p, "mac_address")) } }
                        td { (attached_to(p)) }
                        td { (s(p, "status")) }
                        td.actions {
                            (post_button(ctx, &format!("/networks/{id}/ports/{}/delete", seg(&s(p, "id"))), "Delete port",
                                Some(&if used {
                                    format!("Delete port {name}? What it is attached to loses this connection.")
                                } else {
                                    format!("Delete port {name}?")
                                })))
                        }
                    }
                }
            }
        }
        section aria-labelledby="port-h" {
            h2 #port-h { "Create a port" }
            form method="post" action=(format!("/networks/{id}/ports")) {
                (csrf_field(ctx))
                label for="port-name" { "Port name" }
                input #port-name name="name" maxlength="255";
                label for="port-ip" { "Fixed IP" }
                input #port-ip name="ip_address" placeholder="(the next free address)" maxlength="64";
                button type="submit" { "Create port" }
            }
        }
    }
}

/// The create-port form.
#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ip_address: String,
}

/// The `POST /ports` body for the form.
pub fn port_body(f: &CreateForm, network_id: &str) -> Value {
    let mut port = json!({"network_id": network_id, "name": f.name.trim()});
    if !f.ip_address.trim().is_empty() {
        port["fixed_ips"] = json!([{"ip_address": f.ip_address.trim()}]);
    }
    json!({ "port": port })
}

/// POST /networks/{id}/ports.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<CreateForm>,
) -> Response {
    let result = state
        .api
        .json(
            Method::POST,
            Service::Network,
            "/ports",
            ctx.token(),
            &port_body(&f, &id),
        )
        .await
        .map(|v| format!("Port created with address {}.", fixed_ips(&v["port"])));
    layout::done(&state, &ctx, result, &format!("/networks/{}", seg(&id)))
}

/// POST /networks/{id}/ports/{port}/delete.
pub async fn delete(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((id, port)): Path<(String, String)>,
) -> Response {
    let result = state
        .api
        .delete(
            Service::Network,
            &format!("/ports/{}", seg(&port)),
            ctx.token(),
        )
        .await
        .map(|_| "The port was deleted.".to_string());
    layout::done(&state, &ctx, result, &format!("/networks/{}", seg(&id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_ip_is_sent_only_when_given() {
        let f = |ip: &str| CreateForm {
            name: " p ".into(),
            ip_address: ip.into(),
        };
        assert_eq!(
            port_body(&f(""), "n"),
            json!({"port": {"network_id": "n", "name": "p"}})
        );
        assert_eq!(
            port_body(&f(" 10.0.0.9 "), "n")["port"]["fixed_ips"],
            json!([{"ip_address": "10.0.0.9"}])
        );
    }
}
