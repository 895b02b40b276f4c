//! Instances: the list (status kept fresh by polling `/instances/status`),
//! the launch dialog, the actions, delete, and the detail page with the
//! console log.
//!
//! Servers launch with `networks: "none"`: there is no network service yet,
//! and the dialog says so rather than offering a choice that would fail.

use crate::api_client::{items, s, ApiError, Service};
use crate::layout::{self, csrf_field, post_button, Ctx, Nav};
use crate::AppState;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Response};
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
                        td { (post_button(&ctx, &format!("/instances/{id}/delete"), "Delete",
                                Some(&format!("Delete instance {}? This cannot be undone.", s(sv, "name"))))) }
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

/// GET /instances/status: what the list's script polls.
pub async fn status(State(state): State<AppState>, ctx: Ctx) -> Response {
    match state
        .api
        .get(Service::Compute, "/servers/detail", ctx.token())
        .await
    {
        Ok(v) => {
            let list: Vec<Value> = items(&v, "servers")
                .iter()
                .map(|sv| json!({"id": s(sv, "id"), "status": s(sv, "status"), "text": status_text(sv)}))
                .collect();
            (
                [(http::header::CACHE_CONTROL, "no-store")],
                Json(json!({ "servers": list })),
            )
                .into_response()
        }
        Err(e) => {
            let code =
                http::StatusCode::from_u16(e.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
            (code, Json(json!({ "error": e.message }))).into_response()
        }
    }
}

/// The action forms' fields.
#[derive(Deserialize)]
pub struct ActionForm {
    action: String,
    #[serde(default)]
    flavor: String,
    #[serde(default)]
    image_name: String,
}

/// The Nova action body for a dashboard action, and what to say when done.
pub fn action_body(f: &ActionForm) -> Option<(Value, &'static str)> {
    Some(match f.action.as_str() {
        "stop" => (json!({"os-stop": null}), "Stopping the instance."),
        "start" => (json!({"os-start": null}), "Starting the instance."),
        "reboot" => (
            json!({"reboot": {"type": "SOFT"}}),
            "Rebooting the instance.",
        ),
        "hard-reboot" => (
            json!({"reboot": {"type": "HARD"}}),
            "Rebooting the instance (hard).",
        ),
        "pause" => (json!({"pause": null}), "Pausing the instance."),
        "unpause" => (json!({"unpause": null}), "Unpausing the instance."),
        "resize" => (
            json!({"resize": {"flavorRef": f.flavor}}),
            "Resizing the instance; confirm or revert when it is done.",
        ),
        "confirm-resize" => (json!({"confirmResize": null}), "Resize confirmed."),
        "revert-resize" => (json!({"revertResize": null}), "Reverting the resize."),
        "snapshot" => (
            json!({"createImage": {"name": f.image_name.trim()}}),
            "Snapshot requested; it appears on the Images page.",
        ),
        _ => return None,
    })
}

/// POST /instances/{id}/action.
pub async fn action(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let id = crate::api_client::seg(&id);
    let back = format!("/instances/{id}");
    let Some((body, said)) = action_body(&f) else {
        return layout::done(
            &state,
            &ctx,
            Err(ApiError {
                status: 400,
                message: "Unknown action.".into(),
            }),
            &back,
        );
    };
    let path = format!("/servers/{id}/action");
    let result = state
        .api
        .json(Method::POST, Service::Compute, &path, ctx.token(), &body)
        .await
        .map(|_| said.to_string());
    layout::done(&state, &ctx, result, &back)
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

/// GET /instances/{id}: details, actions and the console log.
pub async fn detail(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = crate::api_client::seg(&id);
    let (api, t) = (&state.api, ctx.token());
    let console_body = json!({"os-getConsoleOutput": {"length": 200}});
    let action_path = format!("/servers/{id}/action");
    let server_path = format!("/servers/{id}");
    let (server, console, flavors) = tokio::join!(
        api.get(Service::Compute, &server_path, t),
        api.json(
            Method::POST,
            Service::Compute,
            &action_path,
            t,
            &console_body
        ),
        api.get(Service::Compute, "/flavors/detail", t),
    );
    let server = match server {
        Ok(v) => v["server"].clone(),
        Err(e) => return layout::error_page(&state, &ctx, "Instance", Nav::Instances, e),
    };
    let flavors = flavors.unwrap_or(Value::Null);
    let flavor_names = names(items(&flavors, "flavors"));
    let console = match console {
        Ok(v) => s(&v, "output"),
        Err(e) => format!("(The console log is not available: {})", e.message),
    };
    let title = format!("Instance {}", s(&server, "name"));
    let status = s(&server, "status");
    let act = |a: &str, label: &str| -> Markup {
        html! {
            form.inline method="post" action=(format!("/instances/{id}/action")) {
                (csrf_field(&ctx)) input type="hidden" name="action" value=(a);
                button.secondary type="submit" { (label) }
            }
        }
    };
    let body = html! {
        dl.details {
            dt { "Status" } dd { span.status data-status=(status) { (status_text(&server)) } }
            dt { "ID" } dd { code { (id) } }
            dt { "Flavor" } dd { (flavor_names.get(&s(&server["flavor"], "id")).cloned().unwrap_or_default()) }
            dt { "Key pair" } dd { (s(&server, "key_name")) }
            @let host = s(&server, "OS-EXT-SRV-ATTR:host");
            @if !host.is_empty() { dt { "Host" } dd { (host) } }
            dt { "Created" } dd { (s(&server, "created")) }
            @if let Some(fault) = server.get("fault") { dt { "Fault" } dd { (s(fault, "message")) } }
        }
        h2 { "Actions" }
        div.actions {
            @match status.as_str() {
                "ACTIVE" => { (act("stop", "Stop")) (act("reboot", "Reboot")) (act("hard-reboot", "Hard reboot")) (act("pause", "Pause")) }
                "SHUTOFF" => { (act("start", "Start")) }
                "PAUSED" => { (act("unpause", "Unpause")) }
                "VERIFY_RESIZE" => { (act("confirm-resize", "Confirm resize")) (act("revert-resize", "Revert resize")) }
                _ => {}
            }
            (post_button(&ctx, &format!("/instances/{id}/delete"), "Delete",
                Some(&format!("Delete instance {}? This cannot be undone.", s(&server, "name")))))
        }
        @if status == "ACTIVE" || status == "SHUTOFF" {
            form.row method="post" action=(format!("/instances/{id}/action")) {
                (csrf_field(&ctx)) input type="hidden" name="action" value="resize";
                label for="resize-flavor" { "New flavor" }
                select #resize-flavor name="flavor" {
                    @for f in items(&flavors, "flavors") { option value=(s(f, "id")) { (s(f, "name")) } }
                }
                button.secondary type="submit" { "Resize" }
            }
            form.row method="post" action=(format!("/instances/{id}/action")) {
                (csrf_field(&ctx)) input type="hidden" name="action" value="snapshot";
                label for="snapshot-name" { "Snapshot name" }
                input #snapshot-name name="image_name" required value=(format!("{}-snapshot", s(&server, "name")));
                button.secondary type="submit" { "Create snapshot" }
            }
        }
        h2 #console-h { "Console log" }
        pre.console aria-labelledby="console-h" tabindex="0" { (console) }
    };
    layout::page(&state, &ctx, &title, Nav::Instances, body)
}
