//! The block storage service (Cinder v3).
//!
//! Served: version discovery, quotas and limits (over the shared
//! [`ferrostack_quota::QuotaEngine`]), volumes (create blank or from an
//! image, a snapshot or a volume; list, show, update, delete, metadata,
//! actions), snapshots, attachments (3.27+), volume types with extra specs
//! and access, availability zones, services and pools, backups (full and
//! incremental, in their own store: [`backup`]), QoS specs, volume
//! transfers, with microversions 3.0 to 3.71 ([`microversion`]). Groups,
//! manage and the rest answer 501 in Cinder's error shape. The local
//! backend ([`local`]) holds volume data on the storage host's disk.
//!
//! The layers: [`routes`] parse and render; [`service`] decides (states,
//! visibility, quota) and is also what compute calls in process; the
//! store ([`ferrostack_store::volume`]) keeps rows; a
//! [`backend::VolumeBackend`] holds the data. See [`service`] for the
//! order every write follows so that a failure leaves nothing half-done.
//!
//! Paths exist with and without the project id after `/v3` (cinderclient
//! builds the first from a catalog URL ending in the project, openstacksdk
//! the second): the project segment is taken off before routing
//! ([`strip_project`]), so the route table has each resource once.

pub mod backend;
pub mod backup;
pub mod error;
pub mod fake_backend;
pub mod hooks;
pub mod limits;
pub mod list;
pub mod local;
pub mod microversion;
pub mod policy;
pub mod quotas;
pub mod remote;
pub mod routes;
pub mod service;
pub mod views;

use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use backend::VolumeBackend;
use ferrostack_policy::{PolicyState, TokenValidator};
use ferrostack_quota::{ProjectDirectory, QuotaEngine};
use ferrostack_store::volume::VolumeStore;
use hooks::{AttachedVolumeEvents, ImageFiles};
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::{Arc, Weak};

/// Largest request body the block storage API accepts.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The availability zone volumes are in unless configured otherwise.
pub const DEFAULT_ZONE: &str = "nova";

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
    /// Volumes, snapshots, attachments and types.
    pub store: Arc<dyn VolumeStore>,
    /// The backends, by `volume_backend_name`; a type without one uses
    /// the first. Empty: volume creates answer "No valid backend".
    pub backends: Vec<Arc<dyn VolumeBackend>>,
    /// Image data for volumes from images.
    pub images: Arc<dyn ImageFiles>,
    /// Compute's listener for attached volumes that grew.
    pub events: Arc<dyn AttachedVolumeEvents>,
    /// The availability zone of every volume ([`DEFAULT_ZONE`]).
    pub availability_zone: String,
    /// This controller's host name (the `cinder-scheduler` row).
    pub host: String,
    /// Where backups go (a directory of their own, never a volume
    /// backend); `None`: backup creates answer 400.
    pub backup_store: Option<Arc<backup::BackupStore>>,
}

/// What handlers share, and the in-process API compute calls (the
/// methods of [`service`]).
pub struct VolumeState {
    /// Public base URL of this listener.
    pub public_url: String,
    /// The shared quota engine.
    pub quotas: QuotaEngine,
    /// Project lookups.
    pub projects: Arc<dyn ProjectDirectory>,
    /// The store.
    pub store: Arc<dyn VolumeStore>,
    /// The backends.
    pub backends: Vec<Arc<dyn VolumeBackend>>,
    /// Image data.
    pub images: Arc<dyn ImageFiles>,
    /// Compute's listener.
    pub events: Arc<dyn AttachedVolumeEvents>,
    /// The availability zone.
    pub availability_zone: String,
    /// The controller's host name.
    pub host: String,
    /// Where backups go.
    pub backup_store: Option<Arc<backup::BackupStore>>,
    /// Other controllers' backends, when several share the database
    /// ([`remote`]); unset: every volume is on this controller.
    peers: std::sync::OnceLock<Arc<dyn remote::peers::Peers>>,
    me: Weak<VolumeState>,
}

impl VolumeState {
    /// The service state of `config` (shared by the router and compute).
    pub fn new(config: &VolumeConfig) -> Arc<VolumeState> {
        Arc::new_cyclic(|me| VolumeState {
            public_url: config.public_url.clone(),
            quotas: config.quotas.clone(),
            projects: config.projects.clone(),
            store: config.store.clone(),
            backends: config.backends.clone(),
            images: config.images.clone(),
            events: config.events.clone(),
            availability_zone: config.availability_zone.clone(),
            host: config.host.clone(),
            backup_store: config.backup_store.clone(),
            peers: std::sync::OnceLock::new(),
            me: me.clone(),
        })
    }

    /// Reach volumes of other controllers through `peers` (set once, at
    /// start; later calls are ignored).
    pub fn set_peers(&self, peers: Arc<dyn remote::peers::Peers>) {
        let _ = self.peers.set(peers);
    }

    /// A handle backend tasks hold: they stop touching the state once the
    /// service is gone.
    pub(crate) fn me(&self) -> Weak<VolumeState> {
        self.me.clone()
    }
}

/// Cinder's error body: `{"itemNotFound": {"code": 404, "message": ...}}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    error::render(status, message)
}

fn v3(base: &str) -> Value {
    json!({
        "id": "v3.0",
        "status": "CURRENT",
        "version": microversion::MAX.to_string(),
        "min_version": microversion::MIN.to_string(),
        "updated": "2023-09-01T00:00:00Z",
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

/// True for a path segment that is a project id (Keystone's 32 hex
/// digits, or a UUID) rather than a resource name.
fn is_project_segment(s: &str) -> bool {
    let hex = s.bytes().filter(u8::is_ascii_hexdigit).count();
    (s.len() == 32 && hex == 32) || ferrostack_common::ids::is_uuid(s)
}

/// `/v3/{project_id}/rest` to `/v3/rest` (see the module doc).
pub fn strip_project(uri: &http::Uri) -> Option<http::Uri> {
    let path = uri.path();
    let rest = path.strip_prefix("/v3/")?;
    let (first, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if !is_project_segment(first) || tail.is_empty() {
        return None;
    }
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    format!("/v3/{tail}{query}").parse().ok()
}

/// The volume API router over a fresh [`VolumeState`].
pub fn router(config: VolumeConfig) -> Router {
    let state = VolumeState::new(&config);
    router_for(state, config.validator)
}

/// The volume API router over `state` (which compute may share).
pub fn router_for(state: Arc<VolumeState>, validator: Arc<dyn TokenValidator>) -> Router {
    let policy = PolicyState {
        table: policy::RULES,
        validator,
        errors: Arc::new(error::CinderErrors),
    };
    let inner =
        ferrostack_policy::add_routes(Router::new(), policy::RULES, policy::handlers, |_| true)
            .route_layer(axum::middleware::from_fn_with_state(
                policy,
                ferrostack_policy::enforce,
            ))
            .layer(axum::middleware::from_fn(microversion::layer))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(axum::middleware::from_fn_with_state(
                "volume",
                ferrostack_common::request_id::request_id_layer,
            ))
            .with_state(state);
    let rewrite = tower::ServiceBuilder::new()
        .map_request(|mut req: axum::extract::Request| {
            let stripped = strip_project(req.uri());
            req.extensions_mut()
                .insert(list::ProjectInPath(stripped.is_some()));
            if let Some(uri) = stripped {
                *req.uri_mut() = uri;
            }
            req
        })
        .service(inner);
    Router::new().fallback_service(rewrite)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(s: &str) -> Option<String> {
        strip_project(&s.parse().unwrap()).map(|u| u.to_string())
    }

    #[test]
    fn only_a_project_segment_is_taken_off() {
        let p = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            strip(&format!("/v3/{p}/volumes/detail?limit=1")).as_deref(),
            Some("/v3/volumes/detail?limit=1")
        );
        assert_eq!(strip("/v3/volumes/detail"), None);
        assert_eq!(strip(&format!("/v3/{p}")), None);
        assert_eq!(strip("/v2/x/volumes"), None);
    }
}
