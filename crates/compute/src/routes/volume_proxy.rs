//! `/v2.1/os-volumes` and `/v2.1/os-snapshots` (to 2.35; 404 from 2.36,
//! as Nova): Nova's proxies to the block storage service.
//!
//! Nova forwards these to Cinder with the user's token; ferrostack calls
//! its volume service in process through [`crate::volumes::ServerVolumes`]
//! as the caller, so the volume service's visibility, state rules and
//! quotas are the ones that apply (another project's volume is 404).
//! Lists are the caller's project's, newest first, cut by `offset` and
//! `limit` as Nova's `common.limited` does; the summary and detail views
//! are the same, as in Nova. Bodies are checked in
//! [`ferrostack_compute_types::volume_proxy`].

use super::{Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::volumes::{ProxySnapshot, ProxyVolume, ServerVolumes};
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::time::nova_time;
use ferrostack_compute_types::volume_proxy::{snapshot_create, volume_create};
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

fn service(state: &ComputeState) -> ComputeResult<&Arc<dyn ServerVolumes>> {
    state.link.volumes().ok_or_else(|| {
        ComputeError::NotImplemented("This cloud has no block storage service.".into())
    })
}

/// Nova's volume view (summary and detail alike).
pub fn volume_view(v: &ProxyVolume) -> Value {
    let attachment = match &v.attachment {
        Some((server, device)) => json!({
            "id": v.id, "volumeId": v.id, "serverId": server, "device": device,
        }),
        None => json!({}),
    };
    json!({
        "id": v.id,
        "status": v.status,
        "size": v.size_gib,
        "availabilityZone": v.availability_zone,
        "createdAt": nova_time(v.created_at),
        "attachments": [attachment],
        "displayName": v.name,
        "displayDescription": v.description,
        "volumeType": v.volume_type,
        "snapshotId": v.snapshot_id,
        "metadata": v.metadata,
    })
}

/// Nova's snapshot view.
pub fn snapshot_view(s: &ProxySnapshot) -> Value {
    json!({
        "id": s.id,
        "volumeId": s.volume_id,
        "status": s.status,
        "size": s.size_gib,
        "createdAt": nova_time(s.created_at),
        "displayName": s.name,
        "displayDescription": s.description,
    })
}

fn created(location: String, body: Value) -> Response {
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    if let Ok(h) = http::HeaderValue::from_str(&location) {
        resp.headers_mut().insert(http::header::LOCATION, h);
    }
    resp
}

/// `GET /os-volumes` and `/os-volumes/detail`.
pub async fn list_volumes(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let mut all = service(&state)?.list_volumes(&caller)?;
    all.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    let views: Vec<Value> = super::offset_limited(all, &q)?
        .iter()
        .map(volume_view)
        .collect();
    Ok(axum::Json(json!({ "volumes": views })))
}

/// `GET /os-volumes/{id}`.
pub async fn show_volume(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let vol = service(&state)?.show_volume(&caller, &id)?;
    Ok(axum::Json(json!({ "volume": volume_view(&vol) })))
}

/// `POST /os-volumes`.
pub async fn create_volume(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Json(body): Json<Value>,
) -> ComputeResult<Response> {
    super::removed_at(v, 36)?;
    let req = volume_create(&body)?;
    let vol = service(&state)?.create_proxy_volume(&caller, &req)?;
    tracing::info!(volume_id = %vol.id, "volume created through the compute proxy");
    let location = format!("{}/v2.1/os-volumes/{}", state.public_url, vol.id);
    Ok(created(location, json!({ "volume": volume_view(&vol) })))
}

/// `DELETE /os-volumes/{id}`.
pub async fn delete_volume(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<StatusCode> {
    super::removed_at(v, 36)?;
    service(&state)?.delete_proxy_volume(&caller, &id)?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /os-snapshots` and `/os-snapshots/detail`.
pub async fn list_snapshots(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let mut all = service(&state)?.list_snapshots(&caller)?;
    all.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    let views: Vec<Value> = super::offset_limited(all, &q)?
        .iter()
        .map(snapshot_view)
        .collect();
    Ok(axum::Json(json!({ "snapshots": views })))
}

/// `GET /os-snapshots/{id}`.
pub async fn show_snapshot(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let s = service(&state)?.show_snapshot(&caller, &id)?;
    Ok(axum::Json(json!({ "snapshot": snapshot_view(&s) })))
}

/// `POST /os-snapshots`.
pub async fn create_snapshot(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Json(body): Json<Value>,
) -> ComputeResult<Response> {
    super::removed_at(v, 36)?;
    let req = snapshot_create(&body)?;
    let s = service(&state)?.create_snapshot(&caller, &req)?;
    tracing::info!(snapshot_id = %s.id, "volume snapshot created through the compute proxy");
    let location = format!("{}/v2.1/os-snapshots/{}", state.public_url, s.id);
    Ok(created(location, json!({ "snapshot": snapshot_view(&s) })))
}

/// `DELETE /os-snapshots/{id}`.
pub async fn delete_snapshot(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<StatusCode> {
    super::removed_at(v, 36)?;
    service(&state)?.delete_snapshot(&caller, &id)?;
    Ok(StatusCode::ACCEPTED)
}
