//! Instances: the list (status and row actions kept fresh by polling
//! `/instances/status`), the launch dialog and delete; the detail page is
//! in `detail`, the actions and which state offers which in `actions`.
//!
//! Servers launch with `networks: "none"`: there is no network service yet,
//! and the dialog says so rather than offering a choice that would fail.

mod actions;
mod detail;

pub use actions::{action, action_body, ActionForm};
pub use detail::{page as detail, status as detail_status};

use crate::api_client::{items, s, ApiError, Service};
use crate::form::Form;
use crate::layout::{self, csrf_field, Ctx, Nav};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use http::Method;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// `id -> name` of a list of resources.
fn names(list: &[Value]) -> HashMap<String, String> {
    list.iter().map(|v| (s(v, "id"), s(v, "name"))).collect()
}

/// Query of the list page: `?launch=1` opens the dialog without script.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    launch: Option<String>,
}

/// GET /instances.
pub async fn list(State(state): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> Response {
    let (api, t) = (&state.api, ctx.token());
    let (servers, images, flavors, keys) = tokio::join!(
        api.get(Service::Compute, "/servers/detail", t),
        api.get(Service::Image, "/images?limit=500", t),
        api.get(Service::Compute, "/flavors/detail", t),
        api.get(Service::Compute, "/os-keypairs", t),
    );
    let result = (|| Ok::<_, ApiError>((servers?, images?, flavors?, keys?)))();
    let (servers, images, flavors, keys) = match result {
        Ok(r) => r,
        Err(e) => return layout::error_page(&state, &ctx, "Instances", Nav::Instances, e),
    };
    let image_names = names(items(&images, "images"));
    let flavor_names = names(items(&flavors, "flavors"));
    let servers = items(&servers, "servers");
    let body = html! {
        p { button type="button" data-open="launch-dialog" { "Launch instance" } }
        @if servers.is_empty() {
            p #no-instances { "No instances yet." }
        }
        table #instances data-poll="/instances/status" {
            caption.visually-hidden { "Instances of this project" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Image" } th scope="col" { "Flavor" } th scope="col" { "Actions" } } }
            tbody {
                @for sv in servers {
                    @let id = s(sv, "id");
                    tr data-server-id=(id) {
                        td { a href=(format!("/instances/{id}")) { (s(sv, "name")) } }
                        td { span.status data-status=(s(sv, "status")) { (status_text(sv)) } }
                        td { (image_names.get(&s(&sv["image"], "id")).cloned().unwrap_or_default()) }
                        td { (flavor_names.get(&s(&sv["flavor"], "id")).cloned().unwrap_or_default()) }
                        td.actions.row-actions { (actions::row_actions(&ctx, sv)) }
                    }
                }
            }
        }
        (launch_dialog(&ctx, &images, &flavors, &keys, q.launch.is_some()))
    };
    layout::page(&state, &ctx, "Instances", Nav::Instances, body)
}

/// "ACTIVE", or "BUILD (spawning)" while a task runs.
fn status_text(sv: &Value) -> String {
    let task = s(sv, "OS-EXT-STS:task_state");
    match task.as_str() {
        "" => s(sv, "status"),
        t => format!("{} ({t})", s(sv, "status")),
    }
}

fn launch_dialog(ctx: &Ctx, images: &Value, flavors: &Value, keys: &Value, open: bool) -> Markup {
    let images: Vec<&Value> = items(images, "images")
        .iter()
        .filter(|i| i["status"] == "active")
        .collect();
    html! {
        dialog #launch-dialog aria-labelledby="launch-h" open[open] {
            form method="post" action="/instances" {
                h2 #launch-h { "Launch instance" }
                (csrf_field(ctx))
                label for="launch-name" { "Name" }
                input #launch-name name="name" required maxlength="255";
                label for="launch-image" { "Image" }
                select #launch-image name="image" required {
                    @for i in &images { option value=(s(i, "id")) { (s(i, "name")) } }
                }
                @if images.is_empty() { p.hint { "No active image: upload one on the Images page first." } }
                label for="launch-flavor" { "Flavor" }
                select #launch-flavor name="flavor" required {
                    @for f in items(flavors, "flavors") {
                        option value=(s(f, "id")) {
                            (s(f, "name")) " (" (s(f, "vcpus")) " vCPU, " (s(f, "ram")) " MiB RAM, " (s(f, "disk")) " GB disk)"
                        }
                    }
                }
                label for="launch-key" { "Key pair" }
                select #launch-key name="key_name" {
                    option value="" { "(none)" }
                    @for k in items(keys, "keypairs") {
                        @let name = s(&k["keypair"], "name");
                        option value=(name) { (name) }
                    }
                }
                p.hint { "Network: none. The network service is not available yet, so instances boot without a network." }
                div.buttons {
                    button type="submit" { "Launch" }
                    button.secondary type="button" data-close="launch-dialog" { "Cancel" }
                }
            }
        }
    }
}

/// The launch dialog's fields.
#[derive(Deserialize)]
pub struct LaunchForm {
    name: String,
    image: String,
    flavor: String,
    #[serde(default)]
    key_name: String,
}

/// POST /instances.
pub async fn launch(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<LaunchForm>,
) -> Response {
    let mut server = json!({
        "name": f.name.trim(), "imageRef": f.image, "flavorRef": f.flavor, "networks": "none"
    });
    if !f.key_name.is_empty() {
        server["key_name"] = json!(f.key_name);
    }
    let result = state
        .api
        .json(
            Method::POST,
            Service::Compute,
            "/servers",
            ctx.token(),
            &json!({ "server": server }),
        )
        .await
        .map(|_| format!("Instance {} is being launched.", f.name.trim()));
    layout::done(&state, &ctx, result, "/instances")
}

/// GET /instances/status: what the list's script polls. Each server's
/// `actions` is the HTML of its row's actions for the current state.
pub async fn status(State(state): State<AppState>, ctx: Ctx) -> Response {
    match state
        .api
        .get(Service::Compute, "/servers/detail", ctx.token())
        .await
    {
        Ok(v) => {
            let list: Vec<Value> = items(&v, "servers")
                .iter()
                .map(|sv| {
                    json!({
                        "id": s(sv, "id"), "status": s(sv, "status"), "text": status_text(sv),
                        "actions": actions::row_actions(&ctx, sv).into_string(),
                    })
                })
                .collect();
            detail::no_store(Json(json!({ "servers": list })))
        }
        Err(e) => detail::json_error(e),
    }
}

/// POST /instances/{id}/delete.
pub async fn delete(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = crate::api_client::seg(&id);
    let result = state
        .api
        .delete(Service::Compute, &format!("/servers/{id}"), ctx.token())
        .await
        .map(|_| "The instance is being deleted.".to_string());
    layout::done(&state, &ctx, result, "/instances")
}
