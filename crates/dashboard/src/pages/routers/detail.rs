//! A router's page: its gateway (set to an external network, or cleared),
//! its interfaces (one per subnet: add one of the project's subnets,
//! remove), and its static routes (add a destination and next hop,
//! remove).
//!
//! Interfaces are the router's ports (`GET /ports?device_id=`), which is
//! where Neutron keeps them; the gateway port belongs to no project and is
//! not listed, so the gateway's addresses come from
//! `external_gateway_info`. Routes use Neutron's `add_extraroutes` /
//! `remove_extraroutes` actions, which change one route atomically,
//! instead of a `PUT` of the whole list (which would drop a route another
//! tab added meanwhile).

use super::{external_networks, external_select, gateway_addresses, gateway_network, snat_text};
use crate::api_client::{items, s, seg, ApiError, Service};
use crate::form::Form;
use crate::layout::{self, csrf_field, post_button, Ctx, Nav};
use crate::pages::networks::display_name;
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use http::Method;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// Device owners of a router's interface ports.
pub(crate) fn is_interface(port: &Value) -> bool {
    s(port, "device_owner").starts_with("network:router_interface")
}

/// GET /routers/{id}.
pub async fn page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = seg(&id);
    let (api, t) = (&state.api, ctx.token());
    let (router_path, ports_path) = (format!("/routers/{id}"), format!("/ports?device_id={id}"));
    let (router, networks, subnets, ports) = tokio::join!(
        api.get(Service::Network, &router_path, t),
        api.get(Service::Network, "/networks", t),
        api.get(Service::Network, "/subnets", t),
        api.get(Service::Network, &ports_path, t),
    );
    let result = (|| Ok::<_, ApiError>((router?, networks?, subnets?, ports?)))();
    let (router, networks, subnets, ports) = match result {
        Ok(r) => r,
        Err(e) => return layout::error_page(&state, &ctx, "Router", Nav::Routers, e),
    };
    let r = &router["router"];
    let networks = items(&networks, "networks");
    let subnets = items(&subnets, "subnets");
    let names = super::network_names(networks);
    let title = format!("Router {}", display_name(&s(r, "name"), &s(r, "id")));
    let gw = gateway_network(r);
    let body = html! {
        dl.details #router {
            dt { "ID" } dd { code { (s(r, "id")) } }
            dt { "Status" } dd { (s(r, "status")) }
            dt { "External network" }
            dd.gateway-network { @if gw.is_empty() { "none" } @else { (names.get(&gw).cloned().unwrap_or(gw.clone())) } }
            dt { "Gateway address" } dd.gateway-address { (gateway_addresses(r)) }
            dt { "SNAT" } dd.snat { (snat_text(r)) }
        }
        (gateway_section(&ctx, &id, &gw, &external_networks(networks)))
        (interfaces_section(&ctx, &id, items(&ports, "ports"), subnets, &names, &ctx.auth.project.id, networks))
        (routes_section(&ctx, &id, items(r, "routes")))
        p { a href="/topology" { "See the network topology" } }
    };
    layout::page(&state, &ctx, &title, Nav::Routers, body)
}

fn gateway_section(ctx: &Ctx, id: &str, current: &str, external: &[&Value]) -> Markup {
    html! {
        section aria-labelledby="gateway-h" {
            h2 #gateway-h { "External gateway" }
            form.row method="post" action=(format!("/routers/{id}/gateway")) {
                (csrf_field(ctx))
                label for="gateway-network" { "Gateway network" }
                (external_select("gateway-network", "network_id", external, None, current))
                button type="submit" { "Set gateway" }
            }
            @if !current.is_empty() {
                (post_button(ctx, &format!("/routers/{id}/gateway/clear"), "Clear gateway",
                    Some("Clear the gateway? Floating IPs behind this router stop working.")))
            }
        }
    }
}

fn interfaces_section(
    ctx: &Ctx,
    id: &str,
    ports: &[Value],
    subnets: &[Value],
    names: &HashMap<String, String>,
    project: &str,
    networks: &[Value],
) -> Markup {
    let by_id: HashMap<String, &Value> = subnets.iter().map(|sn| (s(sn, "id"), sn)).collect();
    let ports: Vec<&Value> = ports.iter().filter(|p| is_interface(p)).collect();
    let attached: HashSet<String> = ports
        .iter()
        .flat_map(|p| items(p, "fixed_ips"))
        .map(|ip| s(ip, "subnet_id"))
        .collect();
    let external: HashSet<String> = external_networks(networks)
        .iter()
        .map(|n| s(n, "id"))
        .collect();
    // The project's own subnets on internal networks, not yet attached.
    let candidates: Vec<&Value> = subnets
        .iter()
        .filter(|sn| s(sn, "project_id") == project)
        .filter(|sn| !external.contains(&s(sn, "network_id")))
        .filter(|sn| !attached.contains(&s(sn, "id")))
        .collect();
    html! {
        h2 #interfaces-h { "Interfaces" }
        @if ports.is_empty() { p #no-interfaces { "No interfaces." } }
        table #interfaces aria-labelledby="interfaces-h" {
            thead { tr {
                th scope="col" { "Network" } th scope="col" { "Subnet" } th scope="col" { "IP address" }
                th scope="col" { "Status" } th scope="col" { "Actions" }
            } }
            tbody {
                @for p in &ports {
                    @let net = s(p, "network_id");
                    @let net_name = names.get(&net).cloned().unwrap_or(net.clone());
                    tr data-network=(net_name) {
                        td { a href=(format!("/networks/{}", seg(&net))) { (net_name) } }
                        td {
                            @for ip in items(p, "fixed_ips") {
                                @if let Some(sn) = by_id.get(&s(ip, "subnet_id")) {
                                    div { (s(sn, "name")) " " code { (s(sn, "cidr")) } }
                                }
                            }
                        }
                        td { @for ip in items(p, "fixed_ips") { div { (s(ip, "ip_address")) } } }
                        td { (s(p, "status")) }
                        td.actions {
                            (post_button(ctx, &format!("/routers/{id}/interfaces/{}/remove", seg(&s(p, "id"))),
                                "Remove interface", Some(&format!("Remove the interface on {net_name}?"))))
                        }
                    }
                }
            }
        }
        @if candidates.is_empty() {
            p.hint #no-subnets-to-add { "Every subnet of this project is already an interface (or there are none): create a network with a subnet first." }
        } @else {
            form.row method="post" action=(format!("/routers/{id}/interfaces")) {
                (csrf_field(ctx))
                label for="interface-subnet" { "Subnet" }
                select #interface-subnet name="subnet_id" required {
                    @for sn in &candidates {
                        @let net = s(sn, "network_id");
                        option value=(s(sn, "id")) {
                            (names.get(&net).cloned().unwrap_or(net.clone())) ": "
                            (display_name(&s(sn, "name"), &s(sn, "id"))) " (" (s(sn, "cidr")) ")"
                        }
                    }
                }
                button type="submit" { "Add interface" }
            }
        }
    }
}

fn routes_section(ctx: &Ctx, id: &str, routes: &[Value]) -> Markup {
    html! {
        h2 #routes-h { "Static routes" }
        @if routes.is_empty() { p #no-routes { "No static routes." } }
        table #routes aria-labelledby="routes-h" {
            thead { tr { th scope="col" { "Destination" } th scope="col" { "Next hop" } th scope="col" { "Actions" } } }
            tbody {
                @for route in routes {
                    tr {
                        td { code { (s(route, "destination")) } }
                        td { (s(route, "nexthop")) }
                        td.actions {
                            form.inline method="post" action=(format!("/routers/{id}/routes/remove"))
                                data-confirm=(format!("Remove the route to {}?", s(route, "destination"))) {
                                (csrf_field(ctx))
                                input type="hidden" name="destination" value=(s(route, "destination"));
                                input type="hidden" name="nexthop" value=(s(route, "nexthop"));
                                button.danger type="submit" { "Remove route" }
                            }
                        }
                    }
                }
            }
        }
        form.row method="post" action=(format!("/routers/{id}/routes")) {
            (csrf_field(ctx))
            label for="route-destination" { "Destination CIDR" }
            input #route-destination name="destination" required placeholder="10.9.0.0/16" maxlength="64";
            label for="route-nexthop" { "Next hop" }
            input #route-nexthop name="nexthop" required placeholder="10.0.0.9" maxlength="64";
            button type="submit" { "Add route" }
        }
    }
}

fn back(id: &str) -> String {
    format!("/routers/{}", seg(id))
}

/// The gateway form.
#[derive(Deserialize)]
pub struct GatewayForm {
    network_id: String,
}

/// POST /routers/{id}/gateway.
pub async fn set_gateway(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<GatewayForm>,
) -> Response {
    let body = json!({"router": {"external_gateway_info": {"network_id": f.network_id.trim()}}});
    let result = state
        .api
        .json(
            Method::PUT,
            Service::Network,
            &back(&id),
            ctx.token(),
            &body,
        )
        .await
        .map(|v| match gateway_addresses(&v["router"]).as_str() {
            "" => "The gateway was set.".to_string(),
            ip => format!("The gateway was set, with address {ip}."),
        });
    layout::done(&state, &ctx, result, &back(&id))
}

/// POST /routers/{id}/gateway/clear.
pub async fn clear_gateway(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Response {
    let body = json!({"router": {"external_gateway_info": {}}});
    let result = state
        .api
        .json(
            Method::PUT,
            Service::Network,
            &back(&id),
            ctx.token(),
            &body,
        )
        .await
        .map(|_| "The gateway was cleared.".to_string());
    layout::done(&state, &ctx, result, &back(&id))
}

/// The add-interface form.
#[derive(Deserialize)]
pub struct InterfaceForm {
    subnet_id: String,
}

/// POST /routers/{id}/interfaces: `add_router_interface` by subnet.
pub async fn add_interface(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<InterfaceForm>,
) -> Response {
    let path = format!("{}/add_router_interface", back(&id));
    let body = json!({"subnet_id": f.subnet_id.trim()});
    let result = state
        .api
        .json(Method::PUT, Service::Network, &path, ctx.token(), &body)
        .await
        .map(|_| "The interface was added.".to_string());
    layout::done(&state, &ctx, result, &back(&id))
}

/// POST /routers/{id}/interfaces/{port}/remove: by port, which also
/// covers interfaces added by port.
pub async fn remove_interface(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((id, port)): Path<(String, String)>,
) -> Response {
    let path = format!("{}/remove_router_interface", back(&id));
    let result = state
        .api
        .json(
            Method::PUT,
            Service::Network,
            &path,
            ctx.token(),
            &json!({"port_id": port}),
        )
        .await
        .map(|_| "The interface was removed.".to_string());
    layout::done(&state, &ctx, result, &back(&id))
}

/// The route forms (add and remove).
#[derive(Deserialize)]
pub struct RouteForm {
    destination: String,
    nexthop: String,
}

/// The body of `add_extraroutes` / `remove_extraroutes` for one route.
pub fn route_body(f: &RouteForm) -> Value {
    json!({"router": {"routes": [
        {"destination": f.destination.trim(), "nexthop": f.nexthop.trim()}
    ]}})
}

async fn change_route(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    action: &str,
    f: &RouteForm,
) -> Result<Value, ApiError> {
    let path = format!("{}/{action}", back(id));
    state
        .api
        .json(
            Method::PUT,
            Service::Network,
            &path,
            ctx.token(),
            &route_body(f),
        )
        .await
}

/// POST /routers/{id}/routes.
pub async fn add_route(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<RouteForm>,
) -> Response {
    let result = change_route(&state, &ctx, &id, "add_extraroutes", &f)
        .await
        .map(|_| format!("The route to {} was added.", f.destination.trim()));
    layout::done(&state, &ctx, result, &back(&id))
}

/// POST /routers/{id}/routes/remove.
pub async fn remove_route(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<RouteForm>,
) -> Response {
    let result = change_route(&state, &ctx, &id, "remove_extraroutes", &f)
        .await
        .map(|_| format!("The route to {} was removed.", f.destination.trim()));
    layout::done(&state, &ctx, result, &back(&id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_route_is_sent_trimmed() {
        let f = RouteForm {
            destination: " 10.9.0.0/16 ".into(),
            nexthop: "10.0.0.9 ".into(),
        };
        assert_eq!(
            route_body(&f),
            json!({"router": {"routes": [{"destination": "10.9.0.0/16", "nexthop": "10.0.0.9"}]}})
        );
    }

    #[test]
    fn interfaces_are_told_by_their_owner() {
        assert!(is_interface(
            &json!({"device_owner": "network:router_interface"})
        ));
        assert!(!is_interface(
            &json!({"device_owner": "network:router_gateway"})
        ));
        assert!(!is_interface(&json!({"device_owner": "compute:nova"})));
    }
}
