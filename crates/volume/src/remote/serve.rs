//! The peer endpoint: a controller runs the calls other controllers
//! forward to its own backends (module doc of [`crate::remote`]).
//!
//! Only this controller's local backends are reachable (never a remote
//! one: a call is forwarded once), and only with the peer key. Images are
//! resolved here, as the image service keeps them on shared storage; the
//! controller that forwarded the create already checked that the caller
//! may use the image.

use super::{Call, Failure, Reply, Request, CALL_PATH};
use crate::backend::{BackendError, VolumeBackend};
use crate::hooks::ImageFiles;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use ferrostack_host_contract::wire::bearer_matches;
use serde_json::json;
use std::sync::Arc;

/// What the endpoint serves from.
#[derive(Clone)]
pub struct PeerService {
    /// This controller's own backends.
    pub backends: Vec<Arc<dyn VolumeBackend>>,
    /// Image data, for creates from an image.
    pub images: Arc<dyn ImageFiles>,
    /// The peer key (derived from the master key).
    pub key: Arc<str>,
}

/// The endpoint's routes, to merge into the host API's router.
pub fn router(service: PeerService) -> Router {
    Router::new()
        .route(CALL_PATH, post(call))
        .with_state(Arc::new(service))
}

fn failure(status: StatusCode, e: &BackendError) -> Response {
    (status, Json(json!({ "error": Failure::of(e) }))).into_response()
}

async fn call(
    State(s): State<Arc<PeerService>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !bearer_matches(&headers, &s.key) {
        tracing::debug!("a peer volume call without the peer key");
        return failure(
            StatusCode::UNAUTHORIZED,
            &BackendError::Invalid("not a controller of this cloud".into()),
        );
    }
    let req: Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return failure(
                StatusCode::BAD_REQUEST,
                &BackendError::Invalid(format!("a bad peer call: {e}")),
            )
        }
    };
    let Some(backend) = s
        .backends
        .iter()
        .find(|b| b.backend_name() == req.backend)
        .cloned()
    else {
        return failure(
            StatusCode::NOT_FOUND,
            &BackendError::Missing(format!("backend {:?}", req.backend)),
        );
    };
    tracing::debug!(call = ?req.call, "peer volume call");
    match run(&*backend, &*s.images, req.call).await {
        Ok(reply) => Json(reply).into_response(),
        Err(e) => {
            // The caller records the failure (a volume's error reason).
            tracing::warn!(error = %e, "a peer volume call failed");
            failure(StatusCode::UNPROCESSABLE_ENTITY, &e)
        }
    }
}

async fn run(
    b: &dyn VolumeBackend,
    images: &dyn ImageFiles,
    call: Call,
) -> Result<Reply, BackendError> {
    let done = Reply::default();
    match call {
        Call::CreateBlank {
            volume_id,
            size_gib,
        } => b.create_blank(&volume_id, size_gib).await?,
        Call::CreateFromImage {
            volume_id,
            image_id,
            size_gib,
        } => {
            let file = images
                .image_file("", true, &image_id)
                .await
                .map_err(|e| BackendError::Missing(e.to_string()))?;
            b.create_from_image(&volume_id, &file, size_gib).await?
        }
        Call::CreateFromSnapshot {
            volume_id,
            snapshot_id,
            size_gib,
        } => {
            b.create_from_snapshot(&volume_id, &snapshot_id, size_gib)
                .await?
        }
        Call::CreateFromVolume {
            volume_id,
            source_volume_id,
            size_gib,
        } => {
            b.create_from_volume(&volume_id, &source_volume_id, size_gib)
                .await?
        }
        Call::Extend {
            volume_id,
            new_size_gib,
        } => b.extend(&volume_id, new_size_gib).await?,
        Call::Delete { volume_id } => b.delete(&volume_id).await?,
        Call::CreateSnapshot {
            snapshot_id,
            volume_id,
        } => b.create_snapshot(&snapshot_id, &volume_id).await?,
        Call::BeginLiveSnapshot {
            snapshot_id,
            volume_id,
        } => b.begin_live_snapshot(&snapshot_id, &volume_id).await?,
        Call::FinishLiveSnapshot { snapshot_id } => b.finish_live_snapshot(&snapshot_id).await?,
        Call::DeleteSnapshot { snapshot_id } => b.delete_snapshot(&snapshot_id).await?,
        Call::Capacity => {
            return Ok(Reply {
                capacity: Some(b.capacity().await?),
            })
        }
    }
    Ok(done)
}
