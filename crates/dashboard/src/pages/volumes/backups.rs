//! Volume backups: the list (full or incremental, with each backup's
//! volume), restore to a new volume, and delete. Backups are made from
//! the volumes list. Rows are polled like the volumes'
//! (`/volume-backups/status`).
//!
//! Restoring without a `volume_id` is Cinder's "to a new volume": it
//! creates the volume (counted against the quota) and answers its id, so
//! the form is one call and a refusal leaves nothing behind.

use super::{display_name, json_error, names, no_store, vpath};
use crate::api_client::{items, s, seg, Service};
use crate::form::Form;
use crate::layout::{self, csrf_field, post_button, Ctx, Nav};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use http::Method;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

/// The actions of a backup's row for its state.
pub fn row_actions(ctx: &Ctx, backup: &Value) -> Markup {
    let id = s(backup, "id");
    let status = s(backup, "status");
    let name = display_name(backup);
    html! {
        @if status == "available" {
            details.row-menu {
                summary { "Restore" }
                form.row method="post" action=(format!("/volume-backups/{}/restore", seg(&id))) {
                    (csrf_field(ctx))
                    label for=(format!("restore-{id}")) { "New volume name" }
                    input #(format!("restore-{id}")) name="name" maxlength="255" value=(format!("{name}-restored"));
                    button.secondary type="submit" { "Restore to a new volume" }
                }
            }
        }
        @if status == "available" || status.starts_with("error") {
            (post_button(ctx, &format!("/volume-backups/{}/delete", seg(&id)), "Delete",
                Some(&format!("Delete backup {name}?"))))
        }
    }
}

/// GET /volume-backups.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Response {
    let (api, t) = (&state.api, ctx.token());
    let (backups_path, vols_path) = (
        vpath(&ctx, "/backups/detail"),
        vpath(&ctx, "/volumes/detail"),
    );
    let (backups, volumes) = tokio::join!(
        api.get(Service::Volume, &backups_path, t),
        api.get(Service::Volume, &vols_path, t),
    );
    let backups = match backups {
        Ok(v) => v,
        Err(e) => return layout::error_page(&state, &ctx, "Backups", Nav::Backups, e),
    };
    let volumes = volumes.unwrap_or(Value::Null);
    let volume_names = names(items(&volumes, "volumes"));
    let backups = items(&backups, "backups");
    let body = html! {
        @if backups.is_empty() {
            p #no-backups { "No backups yet. Create one from a volume's actions on the Volumes page." }
        }
        table #backups data-poll-rows="/volume-backups/status" {
            caption.visually-hidden { "Volume backups of this project" }
            thead { tr {
                th scope="col" { "Name" } th scope="col" { "Volume" } th scope="col" { "Size" }
                th scope="col" { "Kind" } th scope="col" { "Status" } th scope="col" { "Created" }
                th scope="col" { "Actions" }
            } }
            tbody {
                @for b in backups {
                    @let volume = s(b, "volume_id");
                    tr data-row-id=(s(b, "id")) data-backup=(s(b, "name")) data-state=(s(b, "status")) {
                        td { (display_name(b)) }
                        td { (volume_names.get(&volume).cloned().unwrap_or(volume.clone())) }
                        td { (s(b, "size")) " GB" }
                        td { (if b["is_incremental"].as_bool() == Some(true) { "incremental" } else { "full" }) }
                        td { span.status data-status=(s(b, "status")) { (s(b, "status")) } }
                        td { (s(b, "created_at")) }
                        td.actions.row-actions { (row_actions(&ctx, b)) }
                    }
                }
            }
        }
    };
    layout::page(&state, &ctx, "Backups", Nav::Backups, body)
}

/// The restore form.
#[derive(Deserialize)]
pub struct RestoreForm {
    #[serde(default)]
    name: String,
}

/// Cinder's restore body: to a new volume, named if a name was given.
pub fn restore_body(f: &RestoreForm) -> Value {
    match f.name.trim() {
        "" => json!({"restore": {}}),
        name => json!({"restore": {"name": name}}),
    }
}

/// POST /volume-backups/{id}/restore.
pub async fn restore(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<RestoreForm>,
) -> Response {
    let path = vpath(&ctx, &format!("/backups/{}/restore", seg(&id)));
    let result = state
        .api
        .json(
            Method::POST,
            Service::Volume,
            &path,
            ctx.token(),
            &restore_body(&f),
        )
        .await
        .map(|v| match s(&v["restore"], "volume_name") {
            n if n.is_empty() => "The backup is being restored to a new volume.".to_string(),
            n => format!("The backup is being restored to the new volume {n}."),
        });
    layout::done(&state, &ctx, result, "/volume-backups")
}

/// POST /volume-backups/{id}/delete.
pub async fn delete(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let path = vpath(&ctx, &format!("/backups/{}", seg(&id)));
    let result = state
        .api
        .delete(Service::Volume, &path, ctx.token())
        .await
        .map(|_| "The backup is being deleted.".to_string());
    layout::done(&state, &ctx, result, "/volume-backups")
}

/// GET /volume-backups/status: the rows' polls (see `volumes::status`).
pub async fn status(State(state): State<AppState>, ctx: Ctx) -> Response {
    let path = vpath(&ctx, "/backups/detail");
    match state.api.get(Service::Volume, &path, ctx.token()).await {
        Ok(v) => {
            let rows: Vec<Value> = items(&v, "backups")
                .iter()
                .map(|b| {
                    json!({"id": s(b, "id"), "status": s(b, "status"), "text": s(b, "status"),
                        "state": s(b, "status"), "fields": {},
                        "actions": row_actions(&ctx, b).into_string()})
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
    fn restores_go_to_a_new_volume() {
        let named = RestoreForm {
            name: " r1 ".into(),
        };
        assert_eq!(restore_body(&named), json!({"restore": {"name": "r1"}}));
        let unnamed = RestoreForm { name: "".into() };
        assert_eq!(restore_body(&unnamed), json!({"restore": {}}));
    }

    #[test]
    fn an_available_backup_offers_restore_and_delete() {
        let ctx = super::super::tests::ctx();
        let b = json!({"id": "b1", "name": "bk", "status": "available"});
        let html = row_actions(&ctx, &b).into_string();
        assert!(html.contains("/volume-backups/b1/restore"));
        assert!(html.contains("/volume-backups/b1/delete"));
        let busy = json!({"id": "b1", "status": "creating"});
        assert!(row_actions(&ctx, &busy).into_string().is_empty());
    }
}
