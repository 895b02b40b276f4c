//! Overview: the project's usage against its quota, as bars: instances,
//! vCPUs and RAM (`GET /v2.1/limits`), and volumes, their gigabytes and
//! snapshots (Cinder's `GET /v3/{project}/limits`), and the network
//! resources (Neutron's `GET /v2.0/quotas/{project}/details`: networks,
//! subnets, ports, routers, floating IPs, security groups). When block
//! storage or the network service does not answer, its section says why
//! and the compute bars still show.

use crate::api_client::{seg, volume_path, Service};
use crate::layout::{self, Ctx, Nav};
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

/// One usage bar: `used` of `limit` (`-1` is unlimited).
pub fn bar(label: &str, used: i64, limit: i64, unit: &str) -> Markup {
    let (max, text) = if limit < 0 {
        (used.max(1), format!("{used}{unit} used of unlimited"))
    } else {
        (limit, format!("{used}{unit} used of {limit}{unit}"))
    };
    let pct = if max > 0 {
        (used * 100 / max).min(100)
    } else {
        100
    };
    let id = label.to_lowercase().replace(' ', "-");
    html! {
        div.usage {
            div.usage-head { span #(format!("{id}-label")) { (label) } span.usage-text { (text) } }
            meter #(id) min="0" max=(max) value=(used) high=(max * 8 / 10 + 1) aria-labelledby=(format!("{id}-label")) title=(format!("{pct}%")) { (text) }
        }
    }
}

fn num(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// Neutron's quota resources, in the order and words of the page.
const NETWORK_RESOURCES: [(&str, &str); 6] = [
    ("network", "Networks"),
    ("subnet", "Subnets"),
    ("port", "Ports"),
    ("router", "Routers"),
    ("floatingip", "Floating IPs"),
    ("security_group", "Security groups"),
];

/// A bar per network resource the details name (`{"used", "limit"}`);
/// a resource the service does not count is left out.
pub fn network_bars(quota: &Value) -> Markup {
    html! {
        @for (key, label) in NETWORK_RESOURCES {
            @if let Some(d) = quota.get(key).filter(|d| d.is_object()) {
                (bar(label, num(d, "used"), d.get("limit").and_then(Value::as_i64).unwrap_or(-1), ""))
            }
        }
    }
}

/// GET /.
pub async fn page(State(state): State<AppState>, ctx: Ctx) -> Response {
    let title = format!("Overview of {}", ctx.auth.project.name);
    let volume_limits = volume_path(&ctx.auth.project.id, "/limits");
    let network_quotas = format!("/quotas/{}/details", seg(&ctx.auth.project.id));
    let (limits, volume, network) = tokio::join!(
        state.api.get(Service::Compute, "/limits", ctx.token()),
        state.api.get(Service::Volume, &volume_limits, ctx.token()),
        state
            .api
            .get(Service::Network, &network_quotas, ctx.token()),
    );
    let limits = match limits {
        Ok(v) => v,
        Err(e) => return layout::error_page(&state, &ctx, &title, Nav::Overview, e),
    };
    let a = &limits["limits"]["absolute"];
    let body = html! {
        section aria-labelledby="usage-h" {
            h2 #usage-h { "Compute usage" }
            (bar("Instances", num(a, "totalInstancesUsed"), num(a, "maxTotalInstances"), ""))
            (bar("vCPUs", num(a, "totalCoresUsed"), num(a, "maxTotalCores"), ""))
            (bar("RAM", num(a, "totalRAMUsed"), num(a, "maxTotalRAMSize"), " MiB"))
        }
        section aria-labelledby="volume-usage-h" {
            h2 #volume-usage-h { "Volume usage" }
            @match &volume {
                Ok(v) => {
                    @let a = &v["limits"]["absolute"];
                    (bar("Volumes", num(a, "totalVolumesUsed"), num(a, "maxTotalVolumes"), ""))
                    (bar("Volume storage", num(a, "totalGigabytesUsed"), num(a, "maxTotalVolumeGigabytes"), " GB"))
                    (bar("Volume snapshots", num(a, "totalSnapshotsUsed"), num(a, "maxTotalSnapshots"), ""))
                }
                Err(e) => { p.hint #volume-usage-unavailable { "Volume usage is not available: " (e.message) } }
            }
        }
        section aria-labelledby="network-usage-h" {
            h2 #network-usage-h { "Network usage" }
            @match &network {
                Ok(v) => { (network_bars(&v["quota"])) }
                Err(e) => { p.hint #network-usage-unavailable { "Network usage is not available: " (e.message) } }
            }
        }
        p {
            a.button href="/instances" { "Go to instances" } " "
            a.button.secondary href="/volumes" { "Go to volumes" }
        }
    };
    layout::page(&state, &ctx, &title, Nav::Overview, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn network_bars_show_what_the_details_count() {
        let quota = json!({
            "network": {"used": 2, "limit": 100, "reserved": 0},
            "router": {"used": 1, "limit": 10, "reserved": 0},
            "floatingip": {"used": 0, "limit": -1, "reserved": 0},
        });
        let html = network_bars(&quota).into_string();
        assert!(html.contains("2 used of 100"));
        assert!(html.contains("1 used of 10"));
        assert!(html.contains("0 used of unlimited"));
        assert!(html.contains(r#"id="floating-ips""#));
        assert!(!html.contains("Subnets"));
    }
}
