//! Overview: the project's usage against its quota (`GET /v2.1/limits`),
//! as bars for instances, vCPUs and RAM.

use crate::api_client::Service;
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
    let limits = match state
        .api
        .get(Service::Compute, "/limits", ctx.token())
        .await
    {
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
        p.hint {
            "Networks and volumes are not available in this cloud yet; instances boot without a network."
        }
        p { a.button href="/instances" { "Go to instances" } }
    };
    layout::page(&state, &ctx, &title, Nav::Overview, body)
}
