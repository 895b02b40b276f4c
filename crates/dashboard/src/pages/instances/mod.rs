//! Instances: the list (status, addresses and row actions kept fresh by
//! polling `/instances/status`) and delete; the launch dialog is in
//! `launch`, the detail page in `detail`, the actions and which state
//! offers which in `actions`.

mod actions;
mod detail;
mod launch;

pub use actions::{action, action_body, ActionForm};
pub use detail::{page as detail, status as detail_status};
pub use launch::{launch, launch_body, LaunchForm};

use crate::api_client::{items, s, volume_path, ApiError, Service};
use crate::layout::{self, Ctx, Nav};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use maud::html;
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
    /// Boot from this volume (the Volumes page's "Launch instance").
    #[serde(default)]
    boot_volume: Option<String>,
}

/// GET /instances.
pub async fn list(State(state): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> Response {
    let (api, t) = (&state.api, ctx.token());
    let volumes_path = volume_path(&ctx.auth.project.id, "/volumes/detail");
    let (servers, images, flavors, keys, networks, groups, volumes) = tokio::join!(
        api.get(Service::Compute, "/servers/detail", t),
        api.get(Service::Image, "/images?limit=500", t),
        api.get(Service::Compute, "/flavors/detail", t),
        api.get(Service::Compute, "/os-keypairs", t),
        api.get(Service::Network, "/networks", t),
        api.get(Service::Network, "/security-groups", t),
        api.get(Service::Volume, &volumes_path, t),
    );
    let result = (|| Ok::<_, ApiError>((servers?, images?, flavors?, keys?)))();
    let (servers, images, flavors, keys) = match result {
        Ok(r) => r,
        Err(e) => return layout::error_page(&state, &ctx, "Instances", Nav::Instances, e),
    };
    // Without the network service the dialog still launches (no network).
    let networks = networks.unwrap_or(Value::Null);
    let groups = groups.unwrap_or(Value::Null);
    // Without block storage the dialog boots from images only.
    let volumes = volumes.unwrap_or(Value::Null);
    let image_names = names(items(&images, "images"));
    let flavor_names = names(items(&flavors, "flavors"));
    let servers = items(&servers, "servers");
    let choices = launch::Choices {
        images: &images,
        flavors: &flavors,
        keys: &keys,
        networks: &networks,
        groups: &groups,
        volumes: &volumes,
    };
    let body = html! {
        p { button type="button" data-open="launch-dialog" { "Launch instance" } }
        @if servers.is_empty() {
            p #no-instances { "No instances yet." }
        }
        table #instances data-poll="/instances/status" {
            caption.visually-hidden { "Instances of this project" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Addresses" } th scope="col" { "Image" } th scope="col" { "Flavor" } th scope="col" { "Actions" } } }
            tbody {
                @for sv in servers {
                    @let id = s(sv, "id");
                    tr data-server-id=(id) {
                        td { a href=(format!("/instances/{id}")) { (s(sv, "name")) } }
                        td { span.status data-status=(s(sv, "status")) { (status_text(sv)) } }
                        td.addresses { (addresses_text(sv)) }
                        td { (image_text(sv, &image_names)) }
                        td { (flavor_names.get(&s(&sv["flavor"], "id")).cloned().unwrap_or_default()) }
                        td.actions.row-actions { (actions::row_actions(&ctx, sv)) }
                    }
                }
            }
        }
        (launch::dialog(&ctx, &choices, q.launch.is_some(), q.boot_volume.as_deref()))
    };
    layout::page(&state, &ctx, "Instances", Nav::Instances, body)
}

/// The image column: the image's name, or "(boot volume)" for a server
/// booted from a volume (Nova shows its `image` as "").
fn image_text(sv: &Value, image_names: &HashMap<String, String>) -> String {
    match &sv["image"] {
        Value::String(id) if id.is_empty() => "(boot volume)".to_string(),
        image => image_names
            .get(&s(image, "id"))
            .cloned()
            .unwrap_or_default(),
    }
}

/// "ACTIVE", or "BUILD (spawning)" while a task runs.
fn status_text(sv: &Value) -> String {
    let task = s(sv, "OS-EXT-STS:task_state");
    match task.as_str() {
        "" => s(sv, "status"),
        t => format!("{} ({t})", s(sv, "status")),
    }
}

/// A server's addresses as `net=10.0.0.5, fd00::5; other=10.1.0.3`
/// (Nova's `addresses`, `{network name: [{addr, version}]}`).
pub fn addresses_text(sv: &Value) -> String {
    let Some(nets) = sv["addresses"].as_object() else {
        return String::new();
    };
    nets.iter()
        .map(|(net, addrs)| {
            let list: Vec<String> = addrs
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .map(|a| s(a, "addr"))
                .collect();
            format!("{net}={}", list.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
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
                        "addresses": addresses_text(sv),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_booted_from_a_volume_says_so() {
        let names = HashMap::from([("i1".to_string(), "cirros".to_string())]);
        assert_eq!(
            image_text(&json!({"image": {"id": "i1"}}), &names),
            "cirros"
        );
        assert_eq!(image_text(&json!({"image": ""}), &names), "(boot volume)");
        assert_eq!(image_text(&json!({}), &names), "");
    }

    #[test]
    fn addresses_read_as_net_equals_addr() {
        let sv = json!({"addresses": {
            "net1": [{"addr": "10.0.0.5", "version": 4}, {"addr": "fd00::5", "version": 6}],
            "net2": [{"addr": "10.1.0.3", "version": 4}],
        }});
        assert_eq!(addresses_text(&sv), "net1=10.0.0.5, fd00::5; net2=10.1.0.3");
        assert_eq!(addresses_text(&json!({"addresses": {}})), "");
        assert_eq!(addresses_text(&json!({})), "");
    }
}
