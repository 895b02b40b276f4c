//! The compute service (Nova v2.1).
//!
//! Served now: version discovery. Every other path answers 501 in Nova's
//! error shape until it is built.

pub mod error;
pub mod policy;

use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use error::ComputeError;
use ferrostack_policy::{PolicyState, TokenValidator};
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// Largest request body the compute API accepts.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The highest microversion advertised.
pub const MAX_MICROVERSION: &str = "2.1";

/// Settings and collaborators of the compute service.
#[derive(Clone)]
pub struct ComputeConfig {
    /// Public base URL of this listener, e.g. `http://10.0.0.1:8774`.
    pub public_url: String,
    /// Validates callers' tokens (the identity service, in-process).
    pub validator: Arc<dyn TokenValidator>,
}

fn version_v21(base: &str) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX_MICROVERSION,
        "min_version": "2.1",
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{base}/v2.1/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}],
    })
}

async fn not_implemented() -> ComputeError {
    ComputeError::NotImplemented("This compute API is not implemented by ferrostack yet.".into())
}

/// The compute API router.
pub fn router(config: ComputeConfig) -> Router {
    let base = Arc::new(config.public_url.clone());
    let policy = PolicyState {
        table: policy::RULES,
        validator: config.validator.clone(),
        errors: Arc::new(error::NovaErrors),
    };
    let (root, v21, v21s) = (base.clone(), base.clone(), base.clone());
    Router::new()
        .route(
            "/",
            get(move || async move {
                let b = root.as_str();
                let v2 = json!({"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
                    "updated": "2011-01-21T11:33:21Z", "links": [{"rel": "self", "href": format!("{b}/v2/")}]});
                Json(json!({"versions": [v2, version_v21(b)]}))
            }),
        )
        .route("/v2.1", get(move || async move { Json(json!({"version": version_v21(&v21)})) }))
        .route("/v2.1/", get(move || async move { Json(json!({"version": version_v21(&v21s)})) }))
        .route_layer(axum::middleware::from_fn_with_state(policy, ferrostack_policy::enforce))
        .fallback(not_implemented)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            "compute",
            ferrostack_common::request_id::request_id_layer,
        ))
}

/// Nova's error body for `status`, used by the policy layer.
pub fn render_error(status: StatusCode, message: &str) -> Response {
    error::render(status, message).into_response()
}
