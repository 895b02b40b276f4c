//! `/v2.1/servers/{server_id}/os-volume_attachments`: the volumes of a
//! server: list, show, attach (`openstack server add volume`) and detach
//! (`openstack server remove volume`). The work is in
//! [`crate::servers::volumes`]; this file reads requests and renders
//! Nova's `volumeAttachment` view.
//!
//! Another project's server is 404 like a missing one (admins see all).
//! The view follows Nova's microversions: `tag` from 2.70,
//! `delete_on_termination` from 2.79, `attachment_id` and `bdm_uuid`
//! from 2.89 (where `id` goes). A volume being detached is listed until
//! the guest has let go, as Nova keeps its mapping until then. Swapping
//! a volume (`PUT`, admins) is not built: 404 for a server or volume not
//! found, else 501.

use super::Caller;
use crate::error::{ComputeResult, Json};
use crate::microversion::Version;
use crate::servers::{self, volumes};
use crate::volumes::ServerVolume;
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::request_id::RequestId;
use ferrostack_compute_types::volume_attachment::VolumeAttachmentBody;
use ferrostack_compute_types::ApiVersion;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// One `volumeAttachment`.
fn view(v: ApiVersion, server_id: &str, vol: &ServerVolume) -> Value {
    let mut out = json!({
        "device": vol.device,
        "serverId": server_id,
        "volumeId": vol.volume_id,
    });
    if v.at_least(89) {
        out["attachment_id"] = json!(vol.attachment_id);
        out["bdm_uuid"] = json!(vol.attachment_id);
    } else {
        out["id"] = json!(vol.volume_id);
    }
    if v.at_least(70) {
        out["tag"] = json!(vol.tag);
    }
    if v.at_least(79) {
        out["delete_on_termination"] = json!(vol.delete_on_termination);
    }
    out
}

/// `GET /servers/{id}/os-volume_attachments`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    let d = servers::doc(&i)?;
    let views: Vec<Value> = (d.volumes.iter().chain(&d.detaching_volumes))
        .map(|vol| view(v, &i.uuid, vol))
        .collect();
    Ok(axum::Json(json!({ "volumeAttachments": views })))
}

/// `GET /servers/{id}/os-volume_attachments/{volume_id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path((id, volume_id)): Path<(String, String)>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    let d = servers::doc(&i)?;
    let vol = (d.volumes.iter().chain(&d.detaching_volumes))
        .find(|vol| vol.volume_id == volume_id)
        .ok_or_else(|| volumes::not_attached(&i.uuid, &volume_id))?;
    Ok(axum::Json(
        json!({ "volumeAttachment": view(v, &i.uuid, vol) }),
    ))
}

/// `POST /servers/{id}/os-volume_attachments`: 200 with the attachment.
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
    RequestId(request_id): RequestId,
    Json(body): Json<VolumeAttachmentBody>,
) -> ComputeResult<axum::Json<Value>> {
    let req = body.request(v.minor)?;
    let i = servers::find(&state, &caller, &id, false)?;
    let attach = volumes::Attach {
        volume_id: req.volume_id,
        tag: req.tag,
        delete_on_termination: req.delete_on_termination,
    };
    let vol = volumes::attach(&state, &caller, &i, &request_id, &attach)?;
    Ok(axum::Json(
        json!({ "volumeAttachment": view(v, &i.uuid, &vol) }),
    ))
}

/// `DELETE /servers/{id}/os-volume_attachments/{volume_id}`: 202.
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path((id, volume_id)): Path<(String, String)>,
    RequestId(request_id): RequestId,
) -> ComputeResult<Response> {
    let i = servers::find(&state, &caller, &id, false)?;
    volumes::detach(&state, &caller, &i, &request_id, &volume_id)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `PUT /servers/{id}/os-volume_attachments/{volume_id}` (admins): the
/// server and the attached volume are looked up as Nova does (404 when
/// either is missing), then the swap (or the 2.85 attachment update),
/// which is not built, answers 501.
pub async fn update(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path((id, volume_id)): Path<(String, String)>,
) -> ComputeResult<Response> {
    let i = servers::find(&state, &caller, &id, false)?;
    let d = servers::doc(&i)?;
    if !d.volumes.iter().any(|vol| vol.volume_id == volume_id) {
        return Err(volumes::not_attached(&i.uuid, &volume_id));
    }
    Err(crate::error::ComputeError::NotImplemented(
        "Swapping or updating a volume attachment is not implemented by ferrostack yet.".into(),
    ))
}
