//! One instance: its details, the actions its state allows and the console
//! log, kept current by polling `GET /instances/{id}/status`.
//!
//! The poll answers the status and the actions block already rendered
//! (`actions::detail_actions`, the same function as the first page), and
//! the script swaps the block in when the status text changes. So the
//! buttons always match the state without a reload, and which action
//! belongs to which state is decided in one place, on the server.
//! Rejected: rules in the script mirroring the server's (two copies).

use super::actions::detail_actions;
use super::{addresses_text, names, status_text};
use crate::api_client::{items, s, seg, volume_path, ApiError, Service};
use crate::layout::{self, Ctx, Nav};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::Method;
use maud::html;
use serde_json::{json, Value};

/// GET /instances/{id}: details, actions and the console log.
pub async fn page(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = seg(&id);
    let (api, t) = (&state.api, ctx.token());
    let console_body = json!({"os-getConsoleOutput": {"length": 200}});
    let action_path = format!("/servers/{id}/action");
    let server_path = format!("/servers/{id}");
    let volumes_path = volume_path(&ctx.auth.project.id, "/volumes/detail");
    let (server, console, flavors, volumes) = tokio::join!(
        api.get(Service::Compute, &server_path, t),
        api.json(
            Method::POST,
            Service::Compute,
            &action_path,
            t,
            &console_body
        ),
        api.get(Service::Compute, "/flavors/detail", t),
        api.get(Service::Volume, &volumes_path, t),
    );
    let server = match server {
        Ok(v) => v["server"].clone(),
        Err(e) => return layout::error_page(&state, &ctx, "Instance", Nav::Instances, e),
    };
    let flavors = flavors.unwrap_or(Value::Null);
    let flavor_names = names(items(&flavors, "flavors"));
    // Attached volumes by name (by id when block storage does not answer).
    let volumes = volumes.unwrap_or(Value::Null);
    let volume_names = crate::pages::volumes::names(items(&volumes, "volumes"));
    let attached: Vec<String> = items(&server, "os-extended-volumes:volumes_attached")
        .iter()
        .map(|v| {
            let id = s(v, "id");
            volume_names.get(&id).cloned().unwrap_or(id)
        })
        .collect();
    let console = match console {
        Ok(v) => s(&v, "output"),
        Err(e) => format!("(The console log is not available: {})", e.message),
    };
    let title = format!("Instance {}", s(&server, "name"));
    let body = html! {
        div #instance data-poll-server=(format!("/instances/{id}/status")) {
            dl.details {
                dt { "Status" } dd { span.status data-status=(s(&server, "status")) { (status_text(&server)) } }
                dt { "ID" } dd { code { (id) } }
                dt { "Flavor" } dd.flavor { (flavor_names.get(&s(&server["flavor"], "id")).cloned().unwrap_or_default()) }
                dt { "Key pair" } dd { (s(&server, "key_name")) }
                dt { "Addresses" } dd.addresses { (addresses_text(&server)) }
                @if !attached.is_empty() {
                    dt { "Volumes" } dd.volumes { a href="/volumes" { (attached.join(", ")) } }
                }
                @let host = s(&server, "OS-EXT-SRV-ATTR:host");
                @if !host.is_empty() { dt { "Host" } dd { (host) } }
                dt { "Created" } dd { (s(&server, "created")) }
                @if let Some(fault) = server.get("fault") { dt { "Fault" } dd { (s(fault, "message")) } }
            }
            h2 { "Actions" }
            div #instance-actions { (detail_actions(&ctx, &server, &flavors)) }
        }
        h2 #console-h { "Console log" }
        pre.console aria-labelledby="console-h" tabindex="0" { (console) }
    };
    layout::page(&state, &ctx, &title, Nav::Instances, body)
}

/// GET /instances/{id}/status: what the detail page's script polls.
///
/// `{"status", "text", "flavor", "addresses", "actions"}`, `actions` being the HTML
/// of the actions block for the current state.
pub async fn status(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = seg(&id);
    let (api, t) = (&state.api, ctx.token());
    let server = match api
        .get(Service::Compute, &format!("/servers/{id}"), t)
        .await
    {
        Ok(v) => v["server"].clone(),
        Err(e) => return json_error(e),
    };
    // The flavor list names the flavor and fills the resize form.
    let flavors = api
        .get(Service::Compute, "/flavors/detail", t)
        .await
        .unwrap_or(Value::Null);
    let flavor = names(items(&flavors, "flavors"))
        .remove(&s(&server["flavor"], "id"))
        .unwrap_or_default();
    let body = json!({
        "status": s(&server, "status"),
        "text": status_text(&server),
        "flavor": flavor,
        "addresses": addresses_text(&server),
        "actions": detail_actions(&ctx, &server, &flavors).into_string(),
    });
    no_store(Json(body))
}

/// A poll's answer is never cached.
pub(super) fn no_store(body: impl IntoResponse) -> Response {
    ([(http::header::CACHE_CONTROL, "no-store")], body).into_response()
}

/// A failed poll: the API's status and message as JSON.
pub(super) fn json_error(e: ApiError) -> Response {
    let code = http::StatusCode::from_u16(e.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    (code, Json(json!({ "error": e.message }))).into_response()
}
