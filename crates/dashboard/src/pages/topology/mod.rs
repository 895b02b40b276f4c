//! Network topology: the project's external networks, routers, networks
//! and instances as one picture, drawn by the server as inline SVG (no
//! image, font or script from elsewhere), every box a link to its page.
//!
//! The page is built from six list calls made in parallel (networks,
//! subnets, routers, ports, floating IPs, servers); the graph is in
//! `graph`. The links also appear as a plain list under the picture, for
//! screen readers and for copying.

pub mod graph;

use crate::api_client::{items, ApiError, Service};
use crate::layout::{self, Ctx, Nav};
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use maud::html;
use std::collections::HashMap;

/// GET /topology.
pub async fn page(State(state): State<AppState>, ctx: Ctx) -> Response {
    let (api, t) = (&state.api, ctx.token());
    let (networks, subnets, routers, ports, fips, servers) = tokio::join!(
        api.get(Service::Network, "/networks", t),
        api.get(Service::Network, "/subnets", t),
        api.get(Service::Network, "/routers", t),
        api.get(Service::Network, "/ports", t),
        api.get(Service::Network, "/floatingips", t),
        api.get(Service::Compute, "/servers", t),
    );
    let result = (|| Ok::<_, ApiError>((networks?, subnets?, routers?, ports?, servers?)))();
    let (networks, subnets, routers, ports, servers) = match result {
        Ok(r) => r,
        Err(e) => return layout::error_page(&state, &ctx, "Network topology", Nav::Topology, e),
    };
    // Without floating IPs (a service that does not offer them) the
    // picture still draws, without their labels.
    let fips = fips.unwrap_or(serde_json::Value::Null);
    let g = graph::build(&graph::Inputs {
        networks: items(&networks, "networks"),
        subnets: items(&subnets, "subnets"),
        routers: items(&routers, "routers"),
        ports: items(&ports, "ports"),
        servers: items(&servers, "servers"),
        floating_ips: items(&fips, "floatingips"),
        project: &ctx.auth.project.id,
    });
    let labels: HashMap<&str, &str> = g
        .nodes
        .iter()
        .map(|n| (n.key.as_str(), n.label.as_str()))
        .collect();
    let body = html! {
        h2 #topology-h.visually-hidden { "Networks, routers and instances" }
        @if g.nodes.is_empty() { p #no-topology { "Nothing to draw yet: create a network." } }
        div.topology-frame { (graph::svg(&g)) }
        details {
            summary { "Connections as text" }
            ul #topology-links {
                @for (a, b) in &g.links {
                    li { (labels.get(a.as_str()).copied().unwrap_or(a)) " — " (labels.get(b.as_str()).copied().unwrap_or(b)) }
                }
            }
        }
    };
    layout::page(&state, &ctx, "Network topology", Nav::Topology, body)
}
