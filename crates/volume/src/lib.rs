//! The block storage service (Cinder v3).
//!
//! Served now: version discovery, quotas (`os-quota-sets`,
//! `os-quota-class-sets`) and `limits`, over the shared
//! [`ferrostack_quota::QuotaEngine`]. They are here before volumes exist
//! because `openstack quota show` and `openstack limits show` query the
//! block storage service whenever it is in the catalog, and fail as a
//! whole if it does not answer; usage is 0, which is true.
//!
//! Every other path answers 501 in Cinder's error shape to a caller with a
//! valid token, and 401 to one without (see [`policy`] for how).

pub mod backend;
pub mod backup;
pub mod error;
pub mod limits;
pub mod local;
pub mod policy;
pub mod quotas;

use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use ferrostack_policy::{PolicyState, TokenValidator};
use ferrostack_quota::{ProjectDirectory, QuotaEngine};
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// Largest request body the block storage API accepts.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Settings and collaborators of the volume service.
#[derive(Clone)]
pub struct VolumeConfig {
    /// Public base URL of this listener, e.g. `http://10.0.0.1:8776`.
    pub public_url: String,
    /// Validates callers' tokens (the identity service, in-process).
    pub validator: Arc<dyn TokenValidator>,
    /// The shared quota engine.
    pub quotas: QuotaEngine,
    /// Project lookups, to resolve `{project_id}` given as an id or a name.
    pub projects: Arc<dyn ProjectDirectory>,
}

/// What handlers share.
pub struct VolumeState {
    /// Public base URL of this listener.
    pub public_url: String,
    /// The shared quota engine.
    pub quotas: QuotaEngine,
    /// Project lookups.
    pub projects: Arc<dyn ProjectDirectory>,
}

/// Cinder's error body: `{"itemNotFound": {"code": 404, "message": ...}}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    error::render(status, message)
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

async fn root(axum::extract::State(state): axum::extract::State<Arc<VolumeState>>) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        Json(json!({"versions": [v3(&state.public_url)]})),
    )
        .into_response()
}

async fn not_implemented() -> Response {
    error::render(
        StatusCode::NOT_IMPLEMENTED,
        "The block storage API is not implemented by ferrostack yet.",
    )
}

async fn version(
    axum::extract::State(state): axum::extract::State<Arc<VolumeState>>,
) -> Json<Value> {
    Json(json!({"versions": [v3(&state.public_url)]}))
}

/// The volume API router.
pub fn router(config: VolumeConfig) -> Router {
    let policy = PolicyState {
        table: policy::RULES,
        validator: config.validator.clone(),
        errors: Arc::new(error::CinderErrors),
    };
    let state = Arc::new(VolumeState {
        public_url: config.public_url,
        quotas: config.quotas,
        projects: config.projects,
    });
    ferrostack_policy::add_routes(Router::new(), policy::RULES, policy::handlers, |_| true)
        .route_layer(axum::middleware::from_fn_with_state(
            policy,
            ferrostack_policy::enforce,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            "volume",
            ferrostack_common::request_id::request_id_layer,
        ))
        .with_state(state)
}
