//! Networks: the list (with each network's subnets and CIDRs), create a
//! network with one subnet, delete, and a network's detail page with its
//! subnets and ports (the ports section and its forms are in `ports`).
//!
//! Creating is two Neutron calls, `POST /networks` then `POST /subnets`,
//! because that is what the API offers. When the subnet is refused (a bad
//! CIDR, a gateway outside it) the network just made is deleted again, so
//! the form either makes both or nothing, and the user sees Neutron's
//! reason. Rejected: creating the network alone and showing a half-made
//! result (the user would have to find and delete it).
//!
//! An admin's form has one more box, "External network": the network is
//! made with `router:external`, so every project can put router gateways
//! and floating IPs on it (setting it is an admin's right in Neutron's
//! policy, so the box is not offered to others).
//!
//! The list is the project's view, as in Horizon's Project → Network: its
//! own networks and the shared or external ones every project sees. An
//! admin's token lists all projects' networks; the others' are left out.

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

/// Whether the current project sees `net` on its pages: its own, shared
/// or external.
pub fn visible_to_project(ctx: &Ctx, net: &Value) -> bool {
    s(net, "project_id") == ctx.auth.project.id
        || net["shared"].as_bool() == Some(true)
        || net["router:external"].as_bool() == Some(true)
}

/// "yes"/"no" for a boolean field.
fn yes_no(v: &Value) -> &'static str {
    if v.as_bool() == Some(true) {
        "yes"
    } else {
        "no"
    }
}

/// GET /networks.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Response {
    let (api, t) = (&state.api, ctx.token());
    let (networks, subnets) = tokio::join!(
        api.get(Service::Network, "/networks", t),
        api.get(Service::Network, "/subnets", t),
    );
    let (networks, subnets) = match (|| Ok::<_, ApiError>((networks?, subnets?)))() {
        Ok(r) => r,
        Err(e) => return layout::error_page(&state, &ctx, "Networks", Nav::Networks, e),
    };
    let subnets = items(&subnets, "subnets");
    let networks: Vec<&Value> = items(&networks, "networks")
        .iter()
        .filter(|n| visible_to_project(&ctx, n))
        .collect();
    let body = html! {
        @if networks.is_empty() { p #no-networks { "No networks yet." } }
        table #networks {
            caption.visually-hidden { "Networks of this project, and shared ones" }
            thead { tr {
                th scope="col" { "Name" } th scope="col" { "Subnets" } th scope="col" { "Shared" }
                th scope="col" { "Status" } th scope="col" { "Actions" }
            } }
            tbody {
                @for n in &networks {
                    @let id = s(n, "id");
                    @let name = s(n, "name");
                    tr data-network=(name) {
                        td { a href=(format!("/networks/{}", seg(&id))) { (display_name(&name, &id)) } }
                        td {
                            @for sn in subnets.iter().filter(|sn| s(sn, "network_id") == id) {
                                div { (s(sn, "name")) " " code { (s(sn, "cidr")) } }
                            }
                        }
                        td { (yes_no(&n["shared"])) }
                        td { (s(n, "status")) }
                        td.actions {
                            @if s(n, "project_id") == ctx.auth.project.id {
                                (post_button(&ctx, &format!("/networks/{}/delete", seg(&id)), "Delete",
                                    Some(&format!("Delete network {name}?"))))
                            }
                        }
                    }
                }
            }
        }
        (create_form(&ctx))
    };
    layout::page(&state, &ctx, "Networks", Nav::Networks, body)
}

/// A resource's name, or its id when it has none.
pub(super) fn display_name(name: &str, id: &str) -> String {
    if name.is_empty() {
        id.to_string()
    } else {
        name.to_string()
    }
}

fn create_form(ctx: &Ctx) -> Markup {
    html! {
        section aria-labelledby="create-h" {
            h2 #create-h { "Create a network" }
            form method="post" action="/networks" {
                (csrf_field(ctx))
                label for="network-name" { "Network name" }
                input #network-name name="name" required maxlength="255";
                @if ctx.auth.is_admin() {
                    label.check { input type="checkbox" name="external" value="on"; "External network (for router gateways and floating IPs)" }
                }
                fieldset {
                    legend { "Subnet" }
                    label for="subnet-name" { "Subnet name" }
                    input #subnet-name name="subnet_name" maxlength="255";
                    label for="subnet-cidr" { "CIDR" }
                    input #subnet-cidr name="cidr" placeholder="10.0.0.0/24" maxlength="64";
                    label for="subnet-gateway" { "Gateway" }
                    input #subnet-gateway name="gateway" placeholder="(the first address)" maxlength="64";
                    label.check { input type="checkbox" name="dhcp" value="on" checked; "DHCP enabled" }
                    p.hint { "Leave the CIDR empty to create a network without a subnet." }
                }
                button type="submit" { "Create network" }
            }
        }
    }
}

/// The create form.
#[derive(Deserialize)]
pub struct CreateForm {
    name: String,
    #[serde(default)]
    subnet_name: String,
    #[serde(default)]
    cidr: String,
    #[serde(default)]
    gateway: String,
    /// Present (`on`) when the box is ticked; browsers omit unticked boxes.
    #[serde(default)]
    dhcp: Option<String>,
    /// Present (`on`) for an external network (admins' form only).
    #[serde(default)]
    external: Option<String>,
}

/// The `POST /networks` body for the form.
pub fn network_body(f: &CreateForm) -> Value {
    let mut network = json!({"name": f.name.trim()});
    if f.external.is_some() {
        network["router:external"] = json!(true);
    }
    json!({ "network": network })
}

/// The `POST /subnets` body for the form's subnet, if it names a CIDR.
pub fn subnet_body(f: &CreateForm, network_id: &str) -> Option<Value> {
    let cidr = f.cidr.trim();
    if cidr.is_empty() {
        return None;
    }
    let version = if cidr.contains(':') { 6 } else { 4 };
    let mut subnet = json!({
        "network_id": network_id, "cidr": cidr, "ip_version": version,
        "name": f.subnet_name.trim(), "enable_dhcp": f.dhcp.is_some(),
    });
    if !f.gateway.trim().is_empty() {
        subnet["gateway_ip"] = json!(f.gateway.trim());
    }
    Some(json!({ "subnet": subnet }))
}

/// POST /networks: the network, then its subnet (or neither).
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<CreateForm>,
) -> Response {
    let (api, t) = (&state.api, ctx.token());
    let name = f.name.trim().to_string();
    let body = network_body(&f);
    let made = match api
        .json(Method::POST, Service::Network, "/networks", t, &body)
        .await
    {
        Ok(v) => v,
        Err(e) => return layout::done(&state, &ctx, Err(e), "/networks"),
    };
    let id = s(&made["network"], "id");
    let result = match subnet_body(&f, &id) {
        None => Ok(format!("Network {name} was created.")),
        Some(subnet) => match api
            .json(Method::POST, Service::Network, "/subnets", t, &subnet)
            .await
        {
            Ok(_) => Ok(format!(
                "Network {name} was created with subnet {}.",
                f.cidr.trim()
            )),
            Err(e) => {
                // Both or nothing: take the new network away again.
                let path = format!("/networks/{}", seg(&id));
                if let Err(undo) = api.delete(Service::Network, &path, t).await {
                    tracing::warn!(error = %undo, "dashboard: could not delete the network of a refused subnet");
                }
                Err(e)
            }
        },
    };
    layout::done(&state, &ctx, result, "/networks")
}

/// POST /networks/{id}/delete.
pub async fn delete(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let result = state
        .api
        .delete(
            Service::Network,
            &format!("/networks/{}", seg(&id)),
            ctx.token(),
        )
        .await
        .map(|_| "The network was deleted.".to_string());
    layout::done(&state, &ctx, result, "/networks")
}

/// GET /networks/{id}: the network, its subnets and its ports.
pub async fn detail(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = seg(&id);
    let (api, t) = (&state.api, ctx.token());
    let (network_path, subnets_path, ports_path) = (
        format!("/networks/{id}"),
        format!("/subnets?network_id={id}"),
        format!("/ports?network_id={id}"),
    );
    let (network, subnets, ports) = tokio::join!(
        api.get(Service::Network, &network_path, t),
        api.get(Service::Network, &subnets_path, t),
        api.get(Service::Network, &ports_path, t),
    );
    let (network, subnets, ports) = match (|| Ok::<_, ApiError>((network?, subnets?, ports?)))() {
        Ok(r) => r,
        Err(e) => return layout::error_page(&state, &ctx, "Network", Nav::Networks, e),
    };
    let n = &network["network"];
    let title = format!("Network {}", display_name(&s(n, "name"), &s(n, "id")));
    let body = html! {
        dl.details {
            dt { "ID" } dd { code { (s(n, "id")) } }
            dt { "Status" } dd { (s(n, "status")) }
            dt { "Shared" } dd { (yes_no(&n["shared"])) }
            dt { "External" } dd { (yes_no(&n["router:external"])) }
            dt { "MTU" } dd { (s(n, "mtu")) }
        }
        h2 #subnets-h { "Subnets" }
        @let subnets = items(&subnets, "subnets");
        @if subnets.is_empty() { p { "No subnets." } }
        table #subnets aria-labelledby="subnets-h" {
            thead { tr {
                th scope="col" { "Name" } th scope="col" { "CIDR" } th scope="col" { "Gateway" }
                th scope="col" { "DHCP" } th scope="col" { "Allocation pools" }
            } }
            tbody {
                @for sn in subnets {
                    tr {
                        td { (s(sn, "name")) }
                        td { code { (s(sn, "cidr")) } }
                        td { (s(sn, "gateway_ip")) }
                        td { (yes_no(&sn["enable_dhcp"])) }
                        td {
                            @for p in items(sn, "allocation_pools") {
                                div { (s(p, "start")) " – " (s(p, "end")) }
                            }
                        }
                    }
                }
            }
        }
        (super::ports::section(&ctx, &id, items(&ports, "ports")))
    };
    layout::page(&state, &ctx, &title, Nav::Networks, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(cidr: &str, gateway: &str, dhcp: bool) -> CreateForm {
        CreateForm {
            name: "n".into(),
            subnet_name: " s ".into(),
            cidr: cidr.into(),
            gateway: gateway.into(),
            dhcp: dhcp.then(|| "on".to_string()),
            external: None,
        }
    }

    #[test]
    fn external_is_asked_only_when_ticked() {
        let mut f = form("", "", false);
        assert_eq!(network_body(&f), json!({"network": {"name": "n"}}));
        f.external = Some("on".into());
        assert_eq!(
            network_body(&f),
            json!({"network": {"name": "n", "router:external": true}})
        );
    }

    #[test]
    fn no_cidr_means_no_subnet() {
        assert_eq!(subnet_body(&form(" ", "", true), "net"), None);
    }

    #[test]
    fn the_subnet_follows_the_form() {
        let b = subnet_body(&form("10.0.0.0/24", "", false), "net").unwrap();
        assert_eq!(
            b,
            json!({"subnet": {"network_id": "net", "cidr": "10.0.0.0/24", "ip_version": 4,
                "name": "s", "enable_dhcp": false}})
        );
        let b = subnet_body(&form("fd00::/64", "fd00::9", true), "net").unwrap();
        assert_eq!(b["subnet"]["ip_version"], 6);
        assert_eq!(b["subnet"]["gateway_ip"], "fd00::9");
        assert_eq!(b["subnet"]["enable_dhcp"], true);
    }
}
