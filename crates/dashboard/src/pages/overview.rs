//! Overview: the project's usage against its quota, as bars: instances,
//! vCPUs and RAM (`GET /v2.1/limits`), and volumes, their gigabytes and
//! snapshots (Cinder's `GET /v3/{project}/limits`). When block storage
//! does not answer, its section says why and the compute bars still show.

use crate::api_client::{volume_path, Service};
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

/// GET /.
pub async fn page(State(state): State<AppState>, ctx: Ctx) -> Response {
    let title = format!("Overview of {}", ctx.auth.project.name);
    let volume_limits = volume_path(&ctx.auth.project.id, "/limits");
    let (limits, volume) = tokio::join!(
        state.api.get(Service::Compute, "/limits", ctx.token()),
        state.api.get(Service::Volume, &volume_limits, ctx.token()),
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
        p {
            a.button href="/instances" { "Go to instances" } " "
            a.button.secondary href="/volumes" { "Go to volumes" }
        }
    };
    layout::page(&state, &ctx, &title, Nav::Overview, body)
}
