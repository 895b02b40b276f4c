//! Routers: the list (status, external gateway network and addresses,
//! SNAT), create (with an optional gateway on an external network) and
//! delete; a router's own page (gateway, interfaces, static routes) is in
//! `detail`.
//!
//! Every form is one Neutron call: a router with its gateway is one
//! `POST /routers` carrying `external_gateway_info`, so there is nothing
//! to undo when it is refused. Deleting is Neutron's to refuse (a router
//! with interfaces is in use); the page shows Neutron's words and the
//! router stays listed. Rejected: removing the interfaces first on the
//! user's behalf (Horizon does not either: the user may not mean to cut
//! those networks off).

mod detail;

pub use detail::{
    add_interface, add_route, clear_gateway, page as detail, remove_interface, remove_route,
    set_gateway,
};

use super::networks::display_name;
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

/// `id -> display name` of networks.
pub(crate) fn network_names(networks: &[Value]) -> HashMap<String, String> {
    networks
        .iter()
        .map(|n| (s(n, "id"), display_name(&s(n, "name"), &s(n, "id"))))
        .collect()
}

/// The external networks (`router:external`), which gateways and
/// floating IPs come from.
pub(crate) fn external_networks(networks: &[Value]) -> Vec<&Value> {
    networks
        .iter()
        .filter(|n| n["router:external"].as_bool() == Some(true))
        .collect()
}

/// The gateway's addresses, `203.0.113.5, 2001:db8::5`.
pub(crate) fn gateway_addresses(router: &Value) -> String {
    items(&router["external_gateway_info"], "external_fixed_ips")
        .iter()
        .map(|ip| s(ip, "ip_address"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The gateway's network id, empty when the router has no gateway.
pub(crate) fn gateway_network(router: &Value) -> String {
    s(&router["external_gateway_info"], "network_id")
}

/// SNAT as people read it: "on", "off", or "–" without a gateway.
pub(crate) fn snat_text(router: &Value) -> &'static str {
    let info = &router["external_gateway_info"];
    if !info.is_object() {
        return "–";
    }
    match info["enable_snat"].as_bool() {
        Some(false) => "off",
        _ => "on",
    }
}

/// A `<select>` of external networks; `none` is the label of the empty
/// choice, if there is one.
pub(crate) fn external_select(
    id: &str,
    name: &str,
    networks: &[&Value],
    none: Option<&str>,
    selected: &str,
) -> Markup {
    html! {
        select #(id) name=(name) {
            @if let Some(label) = none { option value="" { (label) } }
            @for n in networks {
                @let nid = s(n, "id");
                option value=(nid) selected[nid == selected] { (display_name(&s(n, "name"), &nid)) }
            }
        }
    }
}

/// GET /routers.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Response {
    let (api, t) = (&state.api, ctx.token());
    let (routers, networks) = tokio::join!(
        api.get(Service::Network, "/routers", t),
        api.get(Service::Network, "/networks", t),
    );
    let (routers, networks) = match (|| Ok::<_, ApiError>((routers?, networks?)))() {
        Ok(r) => r,
        Err(e) => return layout::error_page(&state, &ctx, "Routers", Nav::Routers, e),
    };
    let project = &ctx.auth.project.id;
    let routers: Vec<&Value> = items(&routers, "routers")
        .iter()
        .filter(|r| &s(r, "project_id") == project)
        .collect();
    let networks = items(&networks, "networks");
    let names = network_names(networks);
    let external = external_networks(networks);
    let body = html! {
        @if routers.is_empty() { p #no-routers { "No routers yet." } }
        table #routers {
            caption.visually-hidden { "Routers of this project" }
            thead { tr {
                th scope="col" { "Name" } th scope="col" { "Status" }
                th scope="col" { "External network" } th scope="col" { "Gateway address" }
                th scope="col" { "SNAT" } th scope="col" { "Actions" }
            } }
            tbody {
                @for r in &routers {
                    @let id = s(r, "id");
                    @let name = display_name(&s(r, "name"), &id);
                    @let gw = gateway_network(r);
                    tr data-router=(s(r, "name")) {
                        td { a href=(format!("/routers/{}", seg(&id))) { (name) } }
                        td { (s(r, "status")) }
                        td.gateway-network { @if !gw.is_empty() { (names.get(&gw).cloned().unwrap_or(gw)) } }
                        td.gateway-address { (gateway_addresses(r)) }
                        td.snat { (snat_text(r)) }
                        td.actions {
                            (post_button(&ctx, &format!("/routers/{}/delete", seg(&id)), "Delete",
                                Some(&format!("Delete router {name}?"))))
                        }
                    }
                }
            }
        }
        section aria-labelledby="create-h" {
            h2 #create-h { "Create a router" }
            form method="post" action="/routers" {
                (csrf_field(&ctx))
                label for="router-name" { "Router name" }
                input #router-name name="name" required maxlength="255";
                label for="router-gateway" { "External network" }
                (external_select("router-gateway", "external_network_id", &external, Some("(no gateway)"), ""))
                @if external.is_empty() {
                    p.hint { "There is no external network: an administrator makes one." }
                }
                div { button type="submit" { "Create router" } }
            }
        }
    };
    layout::page(&state, &ctx, "Routers", Nav::Routers, body)
}

/// The create form.
#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
    #[serde(default)]
    external_network_id: String,
}

/// The `POST /routers` body for the form.
pub fn create_body(f: &CreateForm) -> Value {
    let mut router = json!({"name": f.name.trim()});
    let net = f.external_network_id.trim();
    if !net.is_empty() {
        router["external_gateway_info"] = json!({"network_id": net});
    }
    json!({ "router": router })
}

/// POST /routers.
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<CreateForm>,
) -> Response {
    let result = state
        .api
        .json(
            Method::POST,
            Service::Network,
            "/routers",
            ctx.token(),
            &create_body(&f),
        )
        .await
        .map(|v| {
            let r = &v["router"];
            match gateway_addresses(r).as_str() {
                "" => format!("Router {} was created.", f.name.trim()),
                ip => format!(
                    "Router {} was created with gateway address {ip}.",
                    f.name.trim()
                ),
            }
        });
    layout::done(&state, &ctx, result, "/routers")
}

/// POST /routers/{id}/delete.
pub async fn delete(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let result = state
        .api
        .delete(
            Service::Network,
            &format!("/routers/{}", seg(&id)),
            ctx.token(),
        )
        .await
        .map(|_| "The router was deleted.".to_string());
    layout::done(&state, &ctx, result, "/routers")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_is_sent_only_when_chosen() {
        let f = |net: &str| CreateForm {
            name: " r1 ".into(),
            external_network_id: net.into(),
        };
        assert_eq!(create_body(&f("")), json!({"router": {"name": "r1"}}));
        assert_eq!(
            create_body(&f("ext")),
            json!({"router": {"name": "r1", "external_gateway_info": {"network_id": "ext"}}})
        );
    }

    #[test]
    fn gateway_fields_read_from_neutron_shape() {
        let r = json!({"external_gateway_info": {"network_id": "ext", "enable_snat": true,
            "external_fixed_ips": [{"subnet_id": "s", "ip_address": "203.0.113.5"}]}});
        assert_eq!(gateway_network(&r), "ext");
        assert_eq!(gateway_addresses(&r), "203.0.113.5");
        assert_eq!(snat_text(&r), "on");
        let none = json!({"external_gateway_info": null});
        assert_eq!(gateway_network(&none), "");
        assert_eq!(snat_text(&none), "–");
        let off = json!({"external_gateway_info": {"network_id": "e", "enable_snat": false}});
        assert_eq!(snat_text(&off), "off");
    }
}
