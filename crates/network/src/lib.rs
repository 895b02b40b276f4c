//! The network service (Neutron v2.0).
//!
//! Served now: version discovery, the extension list, quotas
//! (`/v2.0/quotas`, with `default` and `details`) over the shared
//! [`ferrostack_quota::QuotaEngine`], and security groups with their rules
//! ([`security_groups`], whose usage the quotas count). Quotas came before
//! networks because `openstack quota show` and `quota set` call the
//! network service whenever it is in the catalog.
//!
//! Every other path answers 501 in Neutron's error shape to a caller with
//! a valid token, and 401 to one without (see [`policy`]).

pub mod error;
pub mod extensions;
pub mod policy;
pub mod query;
pub mod quotas;
pub mod security_groups;

use axum::extract::State;
use axum::response::Response;
use axum::{Json, Router};
use ferrostack_policy::{PolicyState, TokenValidator};
use ferrostack_quota::{ProjectDirectory, QuotaEngine};
use ferrostack_store::security_group::SecurityGroupStore;
use http::StatusCode;
use security_groups::{SecurityGroupUsage, SecurityGroups};
use serde_json::{json, Value};
use std::sync::Arc;

/// Largest request body the network API accepts.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Settings and collaborators of the network service.
#[derive(Clone)]
pub struct NetworkConfig {
    /// Public base URL of this listener, e.g. `http://10.0.0.1:9696`.
    pub public_url: String,
    /// Validates callers' tokens (the identity service, in-process).
    pub validator: Arc<dyn TokenValidator>,
    /// The shared quota engine.
    pub quotas: QuotaEngine,
    /// Project lookups, to resolve `{project_id}` given as an id or a name.
    pub projects: Arc<dyn ProjectDirectory>,
    /// Security groups and their rules.
    pub security_groups: Arc<dyn SecurityGroupStore>,
    /// Whether ports use a group ([`security_groups::NoPorts`] until
    /// ports exist).
    pub security_group_usage: Arc<dyn SecurityGroupUsage>,
}

/// What handlers share.
pub struct NetworkState {
    /// Public base URL of this listener.
    pub public_url: String,
    /// The shared quota engine.
    pub quotas: QuotaEngine,
    /// Project lookups.
    pub projects: Arc<dyn ProjectDirectory>,
    /// The security group service (also for the ports code: the default
    /// group of a port's project).
    pub security_groups: SecurityGroups,
}

/// Neutron's error body: `{"NeutronError": {"type", "message", "detail"}}`.
pub fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    error::render(status, kind, message)
}

async fn versions(State(state): State<Arc<NetworkState>>) -> Json<Value> {
    Json(json!({"versions": [{
        "id": "v2.0",
        "status": "CURRENT",
        "links": [{"rel": "self", "href": format!("{}/v2.0/", state.public_url)}],
    }]}))
}

async fn not_implemented() -> Response {
    error::render(
        StatusCode::NOT_IMPLEMENTED,
        "HTTPNotImplemented",
        "The network API is not implemented by ferrostack yet.",
    )
}

async fn resources(State(state): State<Arc<NetworkState>>) -> Json<Value> {
    let resources: Vec<Value> = [
        ("quota", "quotas", "quotas"),
        ("security_group", "security_groups", "security-groups"),
        (
            "security_group_rule",
            "security_group_rules",
            "security-group-rules",
        ),
    ]
    .into_iter()
    .map(|(name, collection, path)| {
        let href = format!("{}/v2.0/{path}", state.public_url);
        json!({"name": name, "collection": collection, "links": [{"rel": "self", "href": href}]})
    })
    .collect();
    Json(json!({ "resources": resources }))
}

/// The network API router.
pub fn router(config: NetworkConfig) -> Router {
    let policy = PolicyState {
        table: policy::RULES,
        validator: config.validator.clone(),
        errors: Arc::new(error::NeutronErrors),
    };
    let state = Arc::new(NetworkState {
        public_url: config.public_url,
        security_groups: SecurityGroups {
            store: config.security_groups,
            quotas: config.quotas.clone(),
            usage: config.security_group_usage,
        },
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
            "network",
            ferrostack_common::request_id::request_id_layer,
        ))
        .with_state(state)
}
