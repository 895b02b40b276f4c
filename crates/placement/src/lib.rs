//! The placement service (v1). For now: version discovery, and every other
//! path answers 501 in placement's error shape. Resource providers and
//! allocations arrive with the scheduler.

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ferrostack_common::error::ErrorShape;
use http::StatusCode;
use serde_json::json;
use std::sync::Arc;

/// Settings the router needs.
#[derive(Clone, Debug)]
pub struct PlacementConfig {
    /// Public base URL of this listener, e.g. `http://10.0.0.1:8778`.
    pub public_url: String,
}

/// Placement's error body: `{"errors": [{"status", "title", "detail"}]}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({"errors": [{
        "status": status.as_u16(),
        "title": status.canonical_reason().unwrap_or("Error"),
        "detail": message,
    }]});
    (status, Json(body)).into_response()
}

/// Placement's error shape (see `ferrostack_common::error`), for the
/// policy layer and handlers when placement gets routes of its own.
pub struct PlacementErrors;

impl ErrorShape for PlacementErrors {
    const SERVICE: &'static str = "placement";
    const INTERNAL_MESSAGE: &'static str = "An internal error occurred.";
    fn render(status: StatusCode, message: &str) -> Response {
        error(status, message)
    }
}

/// The placement API router.
pub fn router(config: PlacementConfig) -> Router {
    let config = Arc::new(config);
    Router::new()
        .route(
            "/",
            get(move || async move {
                Json(json!({"versions": [{
                    "id": "v1.0",
                    "max_version": "1.0",
                    "min_version": "1.0",
                    "status": "CURRENT",
                    "links": [{"rel": "self", "href": format!("{}/", config.public_url)}],
                }]}))
            }),
        )
        .fallback(|| async {
            error(
                StatusCode::NOT_IMPLEMENTED,
                "The placement API is not implemented by ferrostack yet.",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            "placement",
            ferrostack_common::request_id::request_id_layer,
        ))
}
