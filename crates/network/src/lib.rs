//! The network service (Neutron v2.0).
//!
//! Served now: version discovery. Every other path answers 501 in
//! Neutron's error shape until it is built.

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ferrostack_policy::TokenValidator;
use http::StatusCode;
use serde_json::json;
use std::sync::Arc;

/// Settings and collaborators of the network service.
#[derive(Clone)]
pub struct NetworkConfig {
    /// Public base URL of this listener, e.g. `http://10.0.0.1:9696`.
    pub public_url: String,
    /// Validates callers' tokens (the identity service, in-process).
    pub validator: Arc<dyn TokenValidator>,
}

/// Neutron's error body: `{"NeutronError": {"type", "message", "detail"}}`.
pub fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({"NeutronError": {"type": kind, "message": message, "detail": ""}});
    (status, Json(body)).into_response()
}

/// The network API router.
pub fn router(config: NetworkConfig) -> Router {
    let base = Arc::new(config.public_url.clone());
    Router::new()
        .route(
            "/",
            get(move || async move {
                Json(json!({"versions": [{
                    "id": "v2.0",
                    "status": "CURRENT",
                    "links": [{"rel": "self", "href": format!("{base}/v2.0/")}],
                }]}))
            }),
        )
        .fallback(|| async {
            error(
                StatusCode::NOT_IMPLEMENTED,
                "HTTPNotImplemented",
                "The network API is not implemented by ferrostack yet.",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            "network",
            ferrostack_common::request_id::request_id_layer,
        ))
}
