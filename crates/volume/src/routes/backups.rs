//! `/v3/backups`: create (full or incremental), list (summary and
//! detail), show, delete, restore. The work is in the service's
//! `backups`; this file reads requests and renders Cinder's views.

use super::{boolean, metadata, opt_string, param, wrapped};
use crate::error::{Json, VolumeError, VolumeResult};
use crate::list::{collection_url, ListParams, ProjectInPath};
use crate::microversion::Version;
use crate::service::{Caller, NewBackup};
use crate::VolumeState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::time::nova_time;
use ferrostack_policy::AuthContext;
use ferrostack_store::volume_extras::Backup;
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const SORT_KEYS: &[(&str, &str)] = &[
    ("created_at", "created_at"),
    ("updated_at", "updated_at"),
    ("id", "id"),
    ("name", "name"),
    ("size", "size_gib"),
    ("status", "status"),
];

fn links(base: &str, project: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{base}/v3/{project}/backups/{id}")},
        {"rel": "bookmark", "href": format!("{base}/{project}/backups/{id}")},
    ])
}

fn summary(state: &VolumeState, b: &Backup) -> Value {
    json!({"id": b.id, "name": b.name, "links": links(&state.public_url, &b.project_id, &b.id)})
}

/// A backup's detail view, per microversion and caller.
fn detail_view(
    state: &VolumeState,
    b: &Backup,
    version: Version,
    admin: bool,
) -> VolumeResult<Value> {
    let mut o = json!({
        "id": b.id,
        "name": b.name,
        "description": b.description,
        "status": b.status,
        "size": b.size_gib,
        "volume_id": b.volume_id,
        "snapshot_id": Value::Null,
        "container": b.container,
        "availability_zone": b.availability_zone,
        "is_incremental": b.parent_id.is_some(),
        "has_dependent_backups": state.backup_has_dependents(&b.id)?,
        "object_count": b.object_count,
        "fail_reason": b.fail_reason,
        "created_at": nova_time(b.created_at),
        "updated_at": nova_time(b.updated_at),
        "data_timestamp": nova_time(b.data_timestamp),
        "links": links(&state.public_url, &b.project_id, &b.id),
    });
    if admin && version.at_least(18) {
        o["os-backup-project-attr:project_id"] = json!(b.project_id);
    }
    if version.at_least(43) {
        o["metadata"] = json!(b.metadata);
    }
    if version.at_least(56) {
        o["user_id"] = json!(b.user_id);
    }
    if version.at_least(64) {
        o["encryption_key_id"] = Value::Null;
    }
    Ok(o)
}

/// `POST /v3/backups`: 202 with the backup's summary.
pub async fn create(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Json(body): Json<Value>,
) -> VolumeResult<Response> {
    let caller = Caller::of(&auth);
    let o = wrapped(&body, "backup")?;
    let volume_id = opt_string(o, "volume_id")?
        .ok_or_else(|| VolumeError::BadRequest("'volume_id' is a required property".into()))?;
    if opt_string(o, "snapshot_id")?.is_some() {
        return Err(VolumeError::BadRequest(
            "Invalid input received: backups of snapshots are not served by ferrostack yet.".into(),
        ));
    }
    let flag = |k: &str| -> VolumeResult<bool> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(false),
            Some(v) => boolean(k, v),
        }
    };
    let req = NewBackup {
        volume_id,
        name: opt_string(o, "name")?,
        description: opt_string(o, "description")?,
        incremental: flag("incremental")?,
        force: flag("force")?,
        metadata: metadata(o.get("metadata"))?,
    };
    let b = state.create_backup(&caller, req)?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"backup": summary(&state, &b)})),
    )
        .into_response())
}

async fn list_any(
    state: &VolumeState,
    auth: &AuthContext,
    version: Version,
    pairs: Vec<(String, String)>,
    detail: bool,
    form: ProjectInPath,
) -> VolumeResult<Value> {
    let caller = Caller::of(auth);
    let params = ListParams::read(pairs, &caller, version, SORT_KEYS)?;
    let found: Vec<Backup> = state
        .backups(params.project.as_deref())?
        .into_iter()
        .filter(|b| {
            params.filters.iter().all(|(k, want)| match k.as_str() {
                "name" => b.name.as_deref() == Some(want.as_str()),
                "status" => b.status.eq_ignore_ascii_case(want),
                "volume_id" => &b.volume_id == want,
                _ => true,
            })
        })
        .collect();
    let path = if detail { "backups/detail" } else { "backups" };
    let base = collection_url(&state.public_url, &caller, form, path);
    let (page, next, count) = params.apply(found, |b| b.id.as_str(), &base)?;
    let items = page
        .iter()
        .map(|b| {
            if detail {
                detail_view(state, b, version, caller.is_admin)
            } else {
                Ok(summary(state, b))
            }
        })
        .collect::<VolumeResult<Vec<_>>>()?;
    let mut out = json!({ "backups": items });
    if let Some(next) = next {
        out["backups_links"] = next;
    }
    if params.with_count {
        out["count"] = json!(count);
    }
    Ok(out)
}

/// `GET /v3/backups`.
pub async fn list(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    form: ProjectInPath,
    Query(pairs): Query<Vec<(String, String)>>,
) -> VolumeResult<axum::Json<Value>> {
    Ok(axum::Json(
        list_any(&state, &auth, version, pairs, false, form).await?,
    ))
}

/// `GET /v3/backups/detail`.
pub async fn detail(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    form: ProjectInPath,
    Query(pairs): Query<Vec<(String, String)>>,
) -> VolumeResult<axum::Json<Value>> {
    Ok(axum::Json(
        list_any(&state, &auth, version, pairs, true, form).await?,
    ))
}

/// `GET /v3/backups/{backup_id}`.
pub async fn show(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    let b = state.backup(&caller, param(&p, "backup_id")?)?;
    Ok(axum::Json(
        json!({"backup": detail_view(&state, &b, version, caller.is_admin)?}),
    ))
}

/// `DELETE /v3/backups/{backup_id}`: 202.
pub async fn delete(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<StatusCode> {
    state.delete_backup(&Caller::of(&auth), param(&p, "backup_id")?, false)?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /v3/backups/{backup_id}/restore`: 202 with the target.
pub async fn restore(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<Response> {
    let caller = Caller::of(&auth);
    let o = wrapped(&body, "restore")?;
    let (b, v) = state
        .restore_backup(
            &caller,
            param(&p, "backup_id")?,
            opt_string(o, "volume_id")?,
            opt_string(o, "name")?,
        )
        .await?;
    let out = json!({"restore": {"backup_id": b.id, "volume_id": v.id, "volume_name": v.name}});
    Ok((StatusCode::ACCEPTED, axum::Json(out)).into_response())
}

/// `POST /v3/backups/{backup_id}/action`: `os-reset_status` (admin) and
/// `os-force_delete` (admin).
pub async fn act(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<StatusCode> {
    let caller = Caller::of(&auth);
    let id = param(&p, "backup_id")?;
    let Some(obj) = body.as_object().filter(|o| o.len() == 1) else {
        return Err(VolumeError::BadRequest("Invalid request body".into()));
    };
    match obj.keys().next().map(String::as_str) {
        Some("os-force_delete") => {
            state.delete_backup(&caller, id, true)?;
            Ok(StatusCode::ACCEPTED)
        }
        Some("os-reset_status") => {
            let status = obj["os-reset_status"]["status"]
                .as_str()
                .filter(|s| ["available", "error"].contains(s))
                .ok_or_else(|| {
                    VolumeError::BadRequest(
                        "Invalid input received: status must be available or error".into(),
                    )
                })?;
            state.reset_backup_status(&caller, id, status)?;
            Ok(StatusCode::ACCEPTED)
        }
        _ => Err(VolumeError::BadRequest("Invalid request body".into())),
    }
}
