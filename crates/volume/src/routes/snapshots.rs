//! `/v3/snapshots`: create, list (summary and detail), show, update,
//! delete (metadata is `metadata.rs`).

use super::{boolean, metadata, opt_string, param, wrapped};
use crate::error::{Json, VolumeError, VolumeResult};
use crate::list::{collection_url, metadata_matches, ListParams, ProjectInPath};
use crate::microversion::Version;
use crate::service::Caller;
use crate::views;
use crate::VolumeState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use ferrostack_policy::AuthContext;
use ferrostack_store::volume::Snapshot;
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const SORT_KEYS: &[(&str, &str)] = &[
    ("created_at", "created_at"),
    ("updated_at", "updated_at"),
    ("id", "id"),
    ("name", "name"),
    ("display_name", "name"),
    ("size", "size_gib"),
    ("status", "status"),
];

/// `POST /v3/snapshots`.
pub async fn create(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Json(body): Json<Value>,
) -> VolumeResult<Response> {
    let caller = Caller::of(&auth);
    let o = wrapped(&body, "snapshot")?;
    // Absent is a schema error; null names no volume, which Cinder
    // answers like any unknown volume.
    let volume_id = match o.get("volume_id") {
        None => {
            return Err(VolumeError::BadRequest(
                "'volume_id' is a required property".into(),
            ))
        }
        Some(Value::Null) => {
            return Err(VolumeError::NotFound(
                "Volume None could not be found.".into(),
            ))
        }
        Some(_) => opt_string(o, "volume_id")?.unwrap_or_default(),
    };
    let force = match o.get("force") {
        None | Some(Value::Null) => None,
        Some(v) => Some(boolean("force", v)?),
    };
    // From 3.66 an in-use volume needs no `force`, and `force` may only
    // be true (Cinder's SNAPSHOT_IN_USE); before, it must be given.
    let force = if version.at_least(66) {
        if force == Some(false) {
            return Err(VolumeError::BadRequest(
                "Invalid value 'False' for force: only True is accepted from microversion 3.66."
                    .into(),
            ));
        }
        true
    } else {
        force.unwrap_or(false)
    };
    let s = state.create_snapshot(
        &caller,
        &volume_id,
        opt_string(o, "name")?.or(opt_string(o, "display_name")?),
        opt_string(o, "description")?.or(opt_string(o, "display_description")?),
        metadata(o.get("metadata"))?,
        force,
    )?;
    let view = views::snapshot(&s, version, false);
    Ok((StatusCode::ACCEPTED, axum::Json(json!({"snapshot": view}))).into_response())
}

fn keep(s: &Snapshot, filters: &std::collections::BTreeMap<String, String>) -> VolumeResult<bool> {
    for (k, want) in filters {
        let ok = match k.as_str() {
            "name" | "display_name" => s.name.as_deref() == Some(want.as_str()),
            "status" => s.status.eq_ignore_ascii_case(want),
            "volume_id" => &s.volume_id == want,
            "metadata" => metadata_matches(want, &s.metadata)?,
            _ => true,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
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
    let mut found = Vec::new();
    for s in state.store.list_snapshots(params.project.as_deref())? {
        if keep(&s, &params.filters)? {
            found.push(s);
        }
    }
    let path = if detail {
        "snapshots/detail"
    } else {
        "snapshots"
    };
    let base = collection_url(&state.public_url, &caller, form, path);
    let (page, next, count) = params.apply(found, |s| s.id.as_str(), &base)?;
    let items: Vec<Value> = page
        .iter()
        .map(|s| {
            let full = views::snapshot(s, version, true);
            if detail {
                full
            } else {
                // Cinder's summary view is the detail view without the
                // extended attributes.
                let mut o = full;
                if let Some(m) = o.as_object_mut() {
                    m.retain(|k, _| !k.starts_with("os-extended-snapshot-attributes"));
                }
                o
            }
        })
        .collect();
    let mut out = json!({"snapshots": items});
    if let Some(next) = next {
        out["snapshots_links"] = next;
    }
    if params.with_count {
        out["count"] = json!(count);
    }
    Ok(out)
}

/// `GET /v3/snapshots`.
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

/// `GET /v3/snapshots/detail`.
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

/// `GET /v3/snapshots/{snapshot_id}`.
pub async fn show(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    let s = state.snapshot(&caller, param(&p, "snapshot_id")?)?;
    Ok(axum::Json(
        json!({"snapshot": views::snapshot(&s, version, true)}),
    ))
}

/// `PUT /v3/snapshots/{snapshot_id}`.
pub async fn update(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    let o = wrapped(&body, "snapshot")?;
    let name = opt_string(o, "name")?.or(opt_string(o, "display_name")?);
    let description = opt_string(o, "description")?.or(opt_string(o, "display_description")?);
    let (has_name, has_desc) = (
        o.contains_key("name") || o.contains_key("display_name"),
        o.contains_key("description") || o.contains_key("display_description"),
    );
    let s = state.update_snapshot(&caller, param(&p, "snapshot_id")?, |s| {
        if has_name {
            s.name = name.clone();
        }
        if has_desc {
            s.description = description.clone();
        }
    })?;
    Ok(axum::Json(
        json!({"snapshot": views::snapshot(&s, version, false)}),
    ))
}

/// `DELETE /v3/snapshots/{snapshot_id}`.
pub async fn delete(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<StatusCode> {
    state.delete_snapshot(&Caller::of(&auth), param(&p, "snapshot_id")?, false)?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /v3/snapshots/{snapshot_id}/action`: `os-reset_status` and
/// `os-force_delete` (admins), `os-update_snapshot_status` (the owner).
pub async fn act(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<StatusCode> {
    let caller = Caller::of(&auth);
    let id = param(&p, "snapshot_id")?;
    let Some((action, args)) = body
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return Err(VolumeError::BadRequest("Invalid request body".into()));
    };
    let status = || {
        args.get("status").and_then(Value::as_str).ok_or_else(|| {
            VolumeError::BadRequest("Invalid input received: 'status' is a required string".into())
        })
    };
    match action.as_str() {
        "os-reset_status" => state.reset_snapshot_status(&caller, id, status()?)?,
        "os-update_snapshot_status" => {
            let progress = match args.get("progress") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) if p.chars().count() <= 255 => Some(p.clone()),
                Some(_) => {
                    return Err(VolumeError::BadRequest(
                        "Invalid input received: progress must be a string".into(),
                    ))
                }
            };
            state.update_snapshot_status(&caller, id, status()?, progress)?
        }
        "os-force_delete" => {
            if !caller.is_admin {
                return Err(VolumeError::Forbidden(
                    "Policy doesn't allow volume_extension:snapshot_admin_actions:force_delete to be performed.".into(),
                ));
            }
            state.delete_snapshot(&caller, id, true)?
        }
        other => {
            return Err(VolumeError::BadRequest(format!(
                "Invalid request body: unknown snapshot action {other:?}"
            )))
        }
    }
    Ok(StatusCode::ACCEPTED)
}
