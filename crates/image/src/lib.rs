//! The image service (Glance v2). For now: version discovery, and every
//! other path answers 501 in Glance's error shape, so clients see the
//! service in the catalog and get a clear answer instead of a silent 404.
//! The image API itself arrives with the compute/images work.

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// Settings the router needs.
#[derive(Clone, Debug)]
pub struct ImageConfig {
    /// Public base URL of this listener, e.g. `http://10.0.0.1:9292`.
    pub public_url: String,
}

/// Glance's error body: `{"code": .., "title": .., "message": ..}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "code": status.as_u16(),
        "title": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    (status, Json(body)).into_response()
}

fn versions(base: &str) -> Value {
    let mut values = Vec::new();
    for (id, status) in [("v2.16", "CURRENT"), ("v2.0", "SUPPORTED")] {
        values.push(json!({"id": id, "status": status, "links": [{"rel": "self", "href": format!("{base}/v2/")}]}));
    }
    json!({ "versions": values })
}

/// The image API router.
pub fn router(config: ImageConfig) -> Router {
    let config = Arc::new(config);
    let root = config.clone();
    let listed = config.clone();
    Router::new()
        .route(
            "/",
            get(move || async move {
                (
                    StatusCode::MULTIPLE_CHOICES,
                    Json(versions(&root.public_url)),
                )
            }),
        )
        .route(
            "/versions",
            get(move || async move { Json(versions(&listed.public_url)) }),
        )
        .fallback(|| async {
            error(
                StatusCode::NOT_IMPLEMENTED,
                "The image API is not implemented by ferrostack yet.",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            "image",
            ferrostack_common::request_id::request_id_layer,
        ))
}
