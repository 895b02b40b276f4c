//! `/v3/os-volume-transfer` and, from 3.55, `/v3/volume-transfers`:
//! create (the auth key in this answer only), list (summary and detail),
//! show, delete (cancel), accept (by another project, with the key).
//! The work is in the service's `transfers`.

use super::{boolean, opt_string, param, wrapped};
use crate::error::{Json, VolumeError, VolumeResult};
use crate::microversion::Version;
use crate::service::Caller;
use crate::VolumeState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::time::nova_time;
use ferrostack_policy::AuthContext;
use ferrostack_store::volume_extras::Transfer;
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

fn links(state: &VolumeState, t: &Transfer) -> Value {
    let (base, project, id) = (&state.public_url, &t.project_id, &t.id);
    json!([
        {"rel": "self", "href": format!("{base}/v3/{project}/os-volume-transfer/{id}")},
        {"rel": "bookmark", "href": format!("{base}/{project}/os-volume-transfer/{id}")},
    ])
}

fn view(state: &VolumeState, t: &Transfer, version: Version, detail: bool) -> Value {
    let mut o = json!({
        "id": t.id,
        "name": t.name,
        "volume_id": t.volume_id,
        "links": links(state, t),
    });
    if detail {
        o["created_at"] = json!(nova_time(t.created_at));
        if version.at_least(55) {
            o["no_snapshots"] = json!(t.no_snapshots);
        }
        if version.at_least(57) {
            o["source_project_id"] = json!(t.project_id);
            o["destination_project_id"] = Value::Null;
            o["accepted"] = json!(false);
        }
    }
    o
}

/// `POST .../os-volume-transfer`: 202 with the auth key.
pub async fn create(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Json(body): Json<Value>,
) -> VolumeResult<Response> {
    let caller = Caller::of(&auth);
    let o = wrapped(&body, "transfer")?;
    let volume_id = opt_string(o, "volume_id")?
        .ok_or_else(|| VolumeError::BadRequest("'volume_id' is a required property".into()))?;
    let no_snapshots = match o.get("no_snapshots") {
        Some(v) if version.at_least(55) => boolean("no_snapshots", v)?,
        _ => false,
    };
    let (t, key) =
        state.create_transfer(&caller, &volume_id, opt_string(o, "name")?, no_snapshots)?;
    let mut out = view(&state, &t, version, true);
    out["auth_key"] = json!(key);
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "transfer": out }))).into_response())
}

async fn list_any(
    state: &VolumeState,
    auth: &AuthContext,
    version: Version,
    q: &HashMap<String, String>,
    detail: bool,
) -> VolumeResult<Value> {
    let caller = Caller::of(auth);
    let all = caller.is_admin
        && q.get("all_tenants")
            .is_some_and(|v| !matches!(v.as_str(), "0" | "false" | "False"));
    let project = (!all).then_some(caller.project_id.as_str());
    let items: Vec<Value> = state
        .transfers(project)?
        .iter()
        .map(|t| view(state, t, version, detail))
        .collect();
    Ok(json!({ "transfers": items }))
}

/// `GET .../os-volume-transfer`.
pub async fn list(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Query(q): Query<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    Ok(axum::Json(
        list_any(&state, &auth, version, &q, false).await?,
    ))
}

/// `GET .../os-volume-transfer/detail`.
pub async fn detail(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Query(q): Query<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    Ok(axum::Json(
        list_any(&state, &auth, version, &q, true).await?,
    ))
}

/// `GET .../os-volume-transfer/{transfer_id}`.
pub async fn show(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let t = state.transfer(&Caller::of(&auth), param(&p, "transfer_id")?)?;
    Ok(axum::Json(
        json!({"transfer": view(&state, &t, version, true)}),
    ))
}

/// `DELETE .../os-volume-transfer/{transfer_id}`: 202.
pub async fn delete(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<StatusCode> {
    state.delete_transfer(&Caller::of(&auth), param(&p, "transfer_id")?)?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST .../os-volume-transfer/{transfer_id}/accept`: 202.
pub async fn accept(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<Response> {
    let o = wrapped(&body, "accept")?;
    let key = opt_string(o, "auth_key")?
        .ok_or_else(|| VolumeError::BadRequest("'auth_key' is a required property".into()))?;
    let t = state.accept_transfer(&Caller::of(&auth), param(&p, "transfer_id")?, &key)?;
    let out = view(&state, &t, version, false);
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "transfer": out }))).into_response())
}
