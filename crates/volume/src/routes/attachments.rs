//! `/v3/attachments` (3.27+; `os-complete` 3.44+): the attach flow Nova
//! uses today. Below 3.27 these paths answer 404, as Cinder's version
//! routing does.

use super::{opt_string, param, wrapped};
use crate::error::{Json, VolumeError, VolumeResult};
use crate::microversion::Version;
use crate::service::Caller;
use crate::views;
use crate::VolumeState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use ferrostack_policy::AuthContext;
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

fn needs(version: Version, minor: u16) -> VolumeResult<()> {
    if version.at_least(minor) {
        Ok(())
    } else {
        Err(VolumeError::NotFound(
            "The resource could not be found.".into(),
        ))
    }
}

/// `POST /v3/attachments`.
pub async fn create(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Json(body): Json<Value>,
) -> VolumeResult<Response> {
    needs(version, 27)?;
    let o = wrapped(&body, "attachment")?;
    let volume = opt_string(o, "volume_uuid")?
        .or(opt_string(o, "volume_id")?)
        .ok_or_else(|| VolumeError::BadRequest("'volume_uuid' is a required property".into()))?;
    let instance = opt_string(o, "instance_uuid")?.unwrap_or_default();
    let mode = opt_string(o, "mode")?.unwrap_or_else(|| "rw".into());
    if mode != "rw" && mode != "ro" {
        return Err(VolumeError::BadRequest(format!(
            "Invalid input received: Invalid attachment mode '{mode}' for volume {volume}."
        )));
    }
    let connector = o.get("connector").filter(|c| !c.is_null()).cloned();
    let a = state.create_attachment(&Caller::of(&auth), &volume, &instance, connector, &mode)?;
    Ok((
        StatusCode::OK,
        axum::Json(json!({"attachment": views::attachment(&a, true)})),
    )
        .into_response())
}

async fn list_any(
    state: &VolumeState,
    auth: &AuthContext,
    version: Version,
    q: &HashMap<String, String>,
    detail: bool,
) -> VolumeResult<Value> {
    needs(version, 27)?;
    let caller = Caller::of(auth);
    let all = caller.is_admin
        && q.get("all_tenants")
            .is_some_and(|v| v != "0" && v != "false");
    let project = (!all).then(|| caller.project_id.clone());
    let items: Vec<Value> = state
        .store
        .list_attachments(project.as_deref())?
        .iter()
        .filter(|a| q.get("volume_id").is_none_or(|v| *v == a.volume_id))
        .filter(|a| q.get("instance_id").is_none_or(|i| *i == a.instance_uuid))
        .filter(|a| q.get("status").is_none_or(|s| *s == a.attach_status))
        .map(|a| views::attachment(a, detail))
        .collect();
    Ok(json!({"attachments": items}))
}

/// `GET /v3/attachments`.
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

/// `GET /v3/attachments/detail`.
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

/// `GET /v3/attachments/{attachment_id}`.
pub async fn show(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    needs(version, 27)?;
    let a = state.attachment(&Caller::of(&auth), param(&p, "attachment_id")?)?;
    Ok(axum::Json(
        json!({"attachment": views::attachment(&a, true)}),
    ))
}

/// `PUT /v3/attachments/{attachment_id}`: the connector, for the
/// connection info.
pub async fn update(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    needs(version, 27)?;
    let o = wrapped(&body, "attachment")?;
    let connector = o
        .get("connector")
        .filter(|c| c.is_object())
        .cloned()
        .ok_or_else(|| VolumeError::BadRequest("'connector' is a required property".into()))?;
    let a = state.update_attachment(&Caller::of(&auth), param(&p, "attachment_id")?, connector)?;
    Ok(axum::Json(
        json!({"attachment": views::attachment(&a, true)}),
    ))
}

/// `POST /v3/attachments/{attachment_id}/action`: `os-complete` (3.44+).
pub async fn act(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<StatusCode> {
    needs(version, 44)?;
    if body.get("os-complete").is_none() {
        return Err(VolumeError::BadRequest(
            "Invalid input received: the only attachment action is os-complete.".into(),
        ));
    }
    state.complete_attachment(&Caller::of(&auth), param(&p, "attachment_id")?)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v3/attachments/{attachment_id}`.
pub async fn delete(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    needs(version, 27)?;
    state.delete_attachment(&Caller::of(&auth), param(&p, "attachment_id")?)?;
    Ok(axum::Json(json!({"attachments": []})))
}
