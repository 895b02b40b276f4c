//! The block storage service (Cinder v3).
//!
//! Served now: version discovery. Every other path answers 501 in Cinder's
//! error shape until it is built.

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ferrostack_policy::TokenValidator;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// Settings and collaborators of the volume service.
#[derive(Clone)]
pub struct VolumeConfig {
    /// Public base URL of this listener, e.g. `http://10.0.0.1:8776`.
    pub public_url: String,
    /// Validates callers' tokens (the identity service, in-process).
    pub validator: Arc<dyn TokenValidator>,
}

/// Cinder's error body: `{"itemNotFound": {"code": 404, "message": ...}}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    let key = match status.as_u16() {
        400 => "badRequest",
        403 => "forbidden",
        404 => "itemNotFound",
        409 => "conflictingRequest",
        413 => "overLimit",
        501 => "notImplemented",
        _ => "computeFault",
    };
    let mut body = serde_json::Map::new();
    body.insert(
        key.into(),
        json!({"code": status.as_u16(), "message": message}),
    );
    (status, Json(Value::Object(body))).into_response()
}

fn v3(base: &str) -> Value {
    json!({
        "id": "v3.0",
        "status": "CURRENT",
        "version": "3.0",
        "min_version": "3.0",
        "updated": "2023-01-01T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}],
    })
}

/// The volume API router.
pub fn router(config: VolumeConfig) -> Router {
    let base = Arc::new(config.public_url.clone());
    let (root, v) = (base.clone(), base.clone());
    Router::new()
        .route(
            "/",
            get(move || async move {
                (
                    StatusCode::MULTIPLE_CHOICES,
                    Json(json!({"versions": [v3(&root)]})),
                )
            }),
        )
        .route(
            "/v3",
            get(move || async move { Json(json!({"versions": [v3(&v)]})) }),
        )
        .fallback(|| async {
            error(
                StatusCode::NOT_IMPLEMENTED,
                "The block storage API is not implemented by ferrostack yet.",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            "volume",
            ferrostack_common::request_id::request_id_layer,
        ))
}
