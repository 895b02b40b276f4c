//! Volume snapshots: the list (with each snapshot's volume), a new volume
//! from a snapshot (the volumes' create form, posted from the row), and
//! delete. Snapshots are made from the volumes list. Rows are polled like
//! the volumes' (`/volume-snapshots/status`).

use super::{display_name, json_error, names, no_store, vpath};
use crate::api_client::{items, s, seg, Service};
use crate::layout::{self, csrf_field, post_button, Ctx, Nav};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use maud::{html, Markup};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The actions of a snapshot's row for its state.
pub fn row_actions(ctx: &Ctx, snap: &Value) -> Markup {
    let id = s(snap, "id");
    let status = s(snap, "status");
    let name = display_name(snap);
    html! {
        @if status == "available" {
            details.row-menu {
                summary { "Create volume" }
                form.row method="post" action="/volumes" {
                    (csrf_field(ctx))
                    input type="hidden" name="source" value="snapshot";
                    input type="hidden" name="snapshot" value=(id);
                    label for=(format!("from-{id}")) { "New volume name" }
                    input #(format!("from-{id}")) name="name" required maxlength="255" value=(format!("{name}-volume"));
                    label for=(format!("from-size-{id}")) { "Size (GB)" }
                    input #(format!("from-size-{id}")) name="size" type="number" min=(s(snap, "size")) value=(s(snap, "size"));
                    button.secondary type="submit" { "Create volume" }
                }
            }
        }
        @if status == "available" || status.starts_with("error") {
            (post_button(ctx, &format!("/volume-snapshots/{}/delete", seg(&id)), "Delete",
                Some(&format!("Delete snapshot {name}?"))))
        }
    }
}

fn volume_of(snap: &Value, volumes: &HashMap<String, String>) -> String {
    let id = s(snap, "volume_id");
    volumes.get(&id).cloned().unwrap_or(id)
}

/// GET /volume-snapshots.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Response {
    let (api, t) = (&state.api, ctx.token());
    let (snaps_path, vols_path) = (
        vpath(&ctx, "/snapshots/detail"),
        vpath(&ctx, "/volumes/detail"),
    );
    let (snapshots, volumes) = tokio::join!(
        api.get(Service::Volume, &snaps_path, t),
        api.get(Service::Volume, &vols_path, t),
    );
    let title = "Volume snapshots";
    let snapshots = match snapshots {
        Ok(v) => v,
        Err(e) => return layout::error_page(&state, &ctx, title, Nav::VolumeSnapshots, e),
    };
    let volumes = volumes.unwrap_or(Value::Null);
    let volume_names = names(items(&volumes, "volumes"));
    let snapshots = items(&snapshots, "snapshots");
    let body = html! {
        @if snapshots.is_empty() {
            p #no-snapshots { "No volume snapshots yet. Create one from a volume's actions on the Volumes page." }
        }
        table #snapshots data-poll-rows="/volume-snapshots/status" {
            caption.visually-hidden { "Volume snapshots of this project" }
            thead { tr {
                th scope="col" { "Name" } th scope="col" { "Volume" } th scope="col" { "Size" }
                th scope="col" { "Status" } th scope="col" { "Created" } th scope="col" { "Actions" }
            } }
            tbody {
                @for sn in snapshots {
                    tr data-row-id=(s(sn, "id")) data-snapshot=(s(sn, "name")) data-state=(s(sn, "status")) {
                        td { (display_name(sn)) }
                        td { (volume_of(sn, &volume_names)) }
                        td { (s(sn, "size")) " GB" }
                        td { span.status data-status=(s(sn, "status")) { (s(sn, "status")) } }
                        td { (s(sn, "created_at")) }
                        td.actions.row-actions { (row_actions(&ctx, sn)) }
                    }
                }
            }
        }
    };
    layout::page(&state, &ctx, title, Nav::VolumeSnapshots, body)
}

/// POST /volume-snapshots/{id}/delete.
pub async fn delete(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let path = vpath(&ctx, &format!("/snapshots/{}", seg(&id)));
    let result = state
        .api
        .delete(Service::Volume, &path, ctx.token())
        .await
        .map(|_| "The snapshot is being deleted.".to_string());
    layout::done(&state, &ctx, result, "/volume-snapshots")
}

/// GET /volume-snapshots/status: the rows' polls (see `volumes::status`).
pub async fn status(State(state): State<AppState>, ctx: Ctx) -> Response {
    let path = vpath(&ctx, "/snapshots/detail");
    match state.api.get(Service::Volume, &path, ctx.token()).await {
        Ok(v) => {
            let rows: Vec<Value> = items(&v, "snapshots")
                .iter()
                .map(|sn| {
                    json!({"id": s(sn, "id"), "status": s(sn, "status"), "text": s(sn, "status"),
                        "state": s(sn, "status"), "fields": {},
                        "actions": row_actions(&ctx, sn).into_string()})
                })
                .collect();
            no_store(Json(json!({ "rows": rows })))
        }
        Err(e) => json_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_available_snapshot_offers_a_volume_and_delete() {
        let ctx = super::super::tests::ctx();
        let snap = json!({"id": "s1", "name": "snap", "size": 2, "status": "available"});
        let html = row_actions(&ctx, &snap).into_string();
        assert!(html.contains("name=\"snapshot\" value=\"s1\""));
        assert!(html.contains("/volume-snapshots/s1/delete"));
        let creating = json!({"id": "s1", "status": "creating"});
        assert!(!row_actions(&ctx, &creating).into_string().contains("form"));
    }
}
