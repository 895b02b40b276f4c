//! The compute service (Nova v2.1).
//!
//! Served: version discovery, quotas (`os-quota-sets`,
//! `os-quota-class-sets`), `limits`, flavors (with extra specs and access
//! lists), key pairs, servers (create, list, show, update, delete, the
//! power actions, lock, metadata, console output, resize, snapshots;
//! [`servers`], their tags), server groups, `os-services`, `os-hypervisors`,
//! availability zones, host aggregates (and the zones they make),
//! `os-hosts`, usage and its audit log, migrations, diagnostics, external
//! events, the images proxy (a Glance client with the caller's token), the
//! network proxies ([`network_proxy`]: security groups, floating IPs,
//! networks, through [`networks::ServerNetworks`]) and
//! instance actions, at every microversion from
//! 2.1 to [`microversion::MAX`]. Every other Nova v2.1 route is
//! registered and answers 501 `notImplemented` after authentication;
//! routes, rules and handlers are one table, [`policy`]; paths Nova does
//! not have answer 404 `itemNotFound`.
//!
//! A request passes, in order: the request-id layer, the policy layer
//! (401/403 from [`policy::RULES`]), the microversion layer (400/406, and
//! the version headers on the way out), then a thin handler in [`routes`]
//! that resolves the target, changes the store, and renders the view for
//! the negotiated microversion. Handlers never talk to a compute host:
//! they change the desired state, and the host agent, through
//! [`hostlink::HostLink`], does the work and reports back. Agents on other
//! machines reach the link over [`hostapi`], which is served on its own
//! TLS listener, not by this router.

pub mod bodies;
pub mod error;
pub mod hostapi;
pub mod hostlink;
pub mod metadata;
pub mod microversion;
pub mod network_proxy;
pub mod networks;
pub mod policy;
pub mod routes;
pub mod servers;
pub mod volumes;

use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::Router;
use error::ComputeError;
use ferrostack_policy::{PolicyState, TokenValidator};
use ferrostack_quota::{ProjectDirectory, QuotaEngine};
use ferrostack_store::aggregate::AggregateStore;
use ferrostack_store::compute::ComputeStore;
use ferrostack_store::controller::ControllerStore;
use ferrostack_store::image::ImageStore;
use ferrostack_store::operation::OperationStore;
use ferrostack_store::placement::PlacementStore;
use ferrostack_store::server::ServerStore;
use http::StatusCode;
use std::sync::Arc;

/// Largest request body the compute API accepts.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Settings and collaborators of the compute service.
#[derive(Clone)]
pub struct ComputeConfig {
    /// Public base URL of this listener, e.g. `http://10.0.0.1:8774`.
    pub public_url: String,
    /// Validates callers' tokens (the identity service, in-process).
    pub validator: Arc<dyn TokenValidator>,
    /// The shared quota engine.
    pub quotas: QuotaEngine,
    /// Project lookups, to resolve `{project_id}` given as an id or a name.
    pub projects: Arc<dyn ProjectDirectory>,
    /// Flavors and key pairs.
    pub compute: Arc<dyn ComputeStore>,
    /// Servers, actions, server groups, compute services.
    pub servers: Arc<dyn ServerStore>,
    /// Resource providers and allocations (hypervisor usage, claims).
    pub placement: Arc<dyn PlacementStore>,
    /// Image records, to boot from and snapshot into.
    pub images: Arc<dyn ImageStore>,
    /// Public base URL of the image service (snapshot `Location`s).
    pub image_url: String,
    /// Chooses hosts and claims their resources.
    pub scheduler: Arc<ferrostack_scheduler::Scheduler>,
    /// The internal host API the agents use.
    pub link: Arc<hostlink::HostLink>,
    /// Progress records of multi-step operations (create, resize).
    pub operations: Arc<dyn OperationStore>,
    /// Host aggregates (and the zones they make).
    pub aggregates: Arc<dyn AggregateStore>,
    /// The controllers (shown as `nova-scheduler` and `nova-conductor` services).
    pub controllers: Arc<dyn ControllerStore>,
}

/// What handlers share.
pub struct ComputeState {
    /// Public base URL of this listener.
    pub public_url: String,
    /// The shared quota engine.
    pub quotas: QuotaEngine,
    /// Project lookups.
    pub projects: Arc<dyn ProjectDirectory>,
    /// Flavors and key pairs.
    pub compute: Arc<dyn ComputeStore>,
    /// Servers, actions, server groups, compute services.
    pub servers: Arc<dyn ServerStore>,
    /// Resource providers and allocations.
    pub placement: Arc<dyn PlacementStore>,
    /// Image records.
    pub images: Arc<dyn ImageStore>,
    /// Public base URL of the image service.
    pub image_url: String,
    /// Chooses hosts and claims their resources.
    pub scheduler: Arc<ferrostack_scheduler::Scheduler>,
    /// The internal host API the agents use.
    pub link: Arc<hostlink::HostLink>,
    /// Runs multi-step operations, recording their progress.
    pub operations: ferrostack_operations::Runner,
    /// Host aggregates.
    pub aggregates: Arc<dyn AggregateStore>,
    /// The controllers.
    pub controllers: Arc<dyn ControllerStore>,
}

impl ComputeState {
    /// The shared state of a router built from `config`.
    pub fn new(config: ComputeConfig) -> Self {
        ComputeState {
            public_url: config.public_url,
            quotas: config.quotas,
            projects: config.projects,
            compute: config.compute,
            servers: config.servers,
            placement: config.placement,
            images: config.images,
            image_url: config.image_url,
            scheduler: config.scheduler,
            link: config.link,
            operations: ferrostack_operations::Runner::new(config.operations),
            aggregates: config.aggregates,
            controllers: config.controllers,
        }
    }

    /// Public base URL of the image service.
    pub fn image_url(&self) -> &str {
        &self.image_url
    }
}

async fn not_found() -> ComputeError {
    ComputeError::NotFound("The resource could not be found.".into())
}

async fn method_not_allowed() -> ComputeError {
    ComputeError::Status(
        StatusCode::METHOD_NOT_ALLOWED,
        "The method is not allowed for the requested URL.".into(),
    )
}

/// The compute API router.
pub fn router(config: ComputeConfig) -> Router {
    let policy = PolicyState {
        table: policy::RULES,
        validator: config.validator.clone(),
        errors: Arc::new(error::NovaErrors),
    };
    let state = Arc::new(ComputeState::new(config));
    // Every path but `/` negotiates a microversion.
    let versioned =
        ferrostack_policy::add_routes(Router::new(), policy::RULES, policy::handlers, |p| p != "/")
            .route_layer(axum::middleware::from_fn(microversion::layer));
    let nova =
        ferrostack_policy::add_routes(Router::new(), policy::RULES, policy::handlers, |p| p == "/")
            .merge(versioned)
            .route_layer(axum::middleware::from_fn_with_state(
                policy,
                ferrostack_policy::enforce,
            ))
            .with_state(state);
    nova.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            "compute",
            ferrostack_common::request_id::request_id_layer,
        ))
}

/// Finish the operations a crash interrupted (undo a create, resume or
/// undo a resize) and put servers left half-built without a record into
/// ERROR (see [`servers::lifecycle::recover`]); run once at start, before
/// serving.
pub fn recover(config: &ComputeConfig) -> Result<usize, ComputeError> {
    servers::lifecycle::recover(&ComputeState::new(config.clone()))
}

/// Finish the server operations of controllers that are gone (the
/// periodic sweep; see [`servers::lifecycle::recover_operations`]). Safe
/// while this and other controllers serve: it touches only records no
/// live controller owns.
pub fn recover_orphans(
    config: &ComputeConfig,
) -> Result<ferrostack_operations::RecoveryReport, ComputeError> {
    servers::lifecycle::recover_operations(&ComputeState::new(config.clone()))
}

/// Nova's error body for `status`, used by the policy layer.
pub fn render_error(status: StatusCode, message: &str) -> Response {
    error::render(status, message).into_response()
}
