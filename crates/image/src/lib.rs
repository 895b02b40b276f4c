//! The image service (Glance v2).
//!
//! Served: version discovery; images (list with Glance's filters, sorting
//! and paging; create; show; JSON-patch update; delete); streamed upload
//! and download of image data; tags; members; the image/member schemas
//! clients fetch; `/v2/info/{import,stores}` as a single-store Glance
//! with the `glance-direct` import answers them; staging and the
//! `glance-direct` import run as a task ([`interop`]); the tasks API,
//! admin-only ([`tasks`]); and the metadata definitions catalog with its
//! schemas ([`metadefs`]). Every other Glance v2 route (locations, cache,
//! ...) is registered and answers 501 after authentication; routes, rules
//! and handlers are one table, [`policy`]; unknown paths answer 404. All
//! errors use Glance's body, [`error`]. The wire shapes (image and member
//! views, lists, the error body) live in `ferrostack-image-types`, so
//! clients and tests parse responses without depending on this crate.
//!
//! A request passes the request-id layer, the policy layer (401/403 from
//! [`policy::RULES`]), then a thin handler in [`routes`] that loads the
//! image as the caller may see it ([`model::can_see`]: 404 for another
//! project's private image) and calls the store.
//!
//! Image bytes go through [`data::ImageDataStore`]: uploads are streamed
//! to a staging file with their hashes computed on the way, inspected by
//! `ferrostack_image_inspect` (which refuses backing files, external data
//! files and format mismatches) and only then stored; see
//! [`routes::file`]. Metadata bodies are limited to [`MAX_BODY_BYTES`];
//! the upload route has no body limit of its own but stops at
//! [`ImageConfig::max_image_size`] with 413. Per-project limits on image
//! count and total size ([`ImageQuotas`]) also answer 413.

// The Glance schema documents are large `json!` literals.
#![recursion_limit = "256"]

pub mod data;
pub mod error;
pub mod import;
pub mod interop;
pub mod metadefs;
pub mod model;
pub mod policy;
pub mod reserve;
pub mod routes;
pub mod tasks;
pub mod uploads;
pub mod verify;

use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Router;
use error::ImageError;
use ferrostack_policy::{PolicyState, TokenValidator};
use ferrostack_store::image::ImageStore;
use ferrostack_store::metadefs::MetadefStore;
use ferrostack_store::operation::OperationStore;
use ferrostack_store::quota::QuotaStore;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

pub use data::{ImageDataStore, LocalDataStore};
pub use error::Json;
pub use ferrostack_image_inspect::QemuImg;
pub use uploads::recover_interrupted_uploads;

/// Largest metadata request body the image API accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Default largest image accepted: 1 TiB.
pub const DEFAULT_MAX_IMAGE_SIZE: u64 = 1 << 40;

/// Settings and collaborators of the image service.
#[derive(Clone)]
pub struct ImageConfig {
    /// Public base URL of this listener, e.g. `http://10.0.0.1:9292`.
    pub public_url: String,
    /// Validates callers' tokens (the identity service, in-process).
    pub validator: Arc<dyn TokenValidator>,
    /// Image records.
    pub images: Arc<dyn ImageStore>,
    /// The metadata definitions catalog.
    pub metadefs: Arc<dyn MetadefStore>,
    /// Image bytes.
    pub data: Arc<dyn ImageDataStore>,
    /// Largest image accepted, in bytes.
    pub max_image_size: u64,
    /// Per-project limits.
    pub quotas: ImageQuotas,
    /// Where uploads in flight reserve bytes of `image_size_total`.
    pub quota_store: Arc<dyn QuotaStore>,
    /// Where uploads in flight are recorded, owned by this controller
    /// ([`uploads`]).
    pub operations: Arc<dyn OperationStore>,
    /// Optional second opinion on every accepted upload (`qemu-img info`
    /// under resource limits); `None` trusts the Rust inspector alone.
    pub prober: Option<Prober>,
}

/// A `qemu-img`-like prober shared by upload handlers.
pub type Prober = Arc<dyn ferrostack_image_inspect::ImageProber + Send + Sync>;

/// Per-project image limits, Glance's `image_count_total` and
/// `image_size_total` (here in bytes); `None` is unlimited, as in a Glance
/// without quotas configured. Over a limit, creating or uploading answers
/// 413. The image count is checked before the create; uploads reserve
/// their bytes while in flight ([`reserve`]), so concurrent uploads never
/// together pass the size limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImageQuotas {
    /// Most images a project may own.
    pub image_count_total: Option<u64>,
    /// Most bytes of image data a project may own.
    pub image_size_total: Option<u64>,
}

/// What handlers share.
pub struct ImageState {
    /// Public base URL of this listener.
    pub public_url: String,
    /// Image records.
    pub images: Arc<dyn ImageStore>,
    /// The metadata definitions catalog.
    pub metadefs: Arc<dyn MetadefStore>,
    /// Image bytes.
    pub data: Arc<dyn ImageDataStore>,
    /// Largest image accepted, in bytes.
    pub max_image_size: u64,
    /// Per-project limits.
    pub quotas: ImageQuotas,
    /// Optional qemu-img cross-check.
    pub prober: Option<Prober>,
    /// Reservations of uploads in flight against `image_size_total`.
    pub size_quota: reserve::SizeQuota,
    /// Records of uploads in flight ([`uploads`]).
    pub operations: Arc<dyn OperationStore>,
}

/// Glance's error body for `status` (kept for callers of the old API).
pub fn error(status: StatusCode, message: &str) -> Response {
    error::render(status, message)
}

fn versions(base: &str) -> Value {
    let mut values = Vec::new();
    for (id, status) in [("v2.16", "CURRENT"), ("v2.0", "SUPPORTED")] {
        values.push(json!({"id": id, "status": status, "links": [{"rel": "self", "href": format!("{base}/v2/")}]}));
    }
    json!({ "versions": values })
}

/// `GET /`: the versions, with 300 Multiple Choices as Glance answers.
async fn root(State(state): State<Arc<ImageState>>) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        axum::Json(versions(&state.public_url)),
    )
        .into_response()
}

/// `GET /versions`.
async fn version_list(State(state): State<Arc<ImageState>>) -> axum::Json<Value> {
    axum::Json(versions(&state.public_url))
}

async fn not_found() -> ImageError {
    ImageError::NotFound("The resource could not be found.".into())
}

async fn method_not_allowed() -> ImageError {
    ImageError::Status(
        StatusCode::METHOD_NOT_ALLOWED,
        "The method is not allowed for the requested URL.".into(),
    )
}

/// The image API router.
pub fn router(config: ImageConfig) -> Router {
    let policy = PolicyState {
        table: policy::RULES,
        validator: config.validator.clone(),
        errors: Arc::new(error::GlanceErrors),
    };
    let size_quota = reserve::SizeQuota::new(
        config.quotas.image_size_total,
        config.quota_store,
        config.images.clone(),
    );
    let state = Arc::new(ImageState {
        size_quota,
        public_url: config.public_url,
        images: config.images,
        metadefs: config.metadefs,
        data: config.data,
        max_image_size: config.max_image_size,
        quotas: config.quotas,
        prober: config.prober,
        operations: config.operations,
    });
    ferrostack_policy::add_routes(Router::new(), policy::RULES, policy::handlers, |_| true)
        .route_layer(axum::middleware::from_fn_with_state(
            policy,
            ferrostack_policy::enforce,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            "image",
            ferrostack_common::request_id::request_id_layer,
        ))
        .with_state(state)
}

/// Glance's error body for `status`, used by the policy layer.
pub fn render_error(status: StatusCode, message: &str) -> Response {
    error::render(status, message).into_response()
}
