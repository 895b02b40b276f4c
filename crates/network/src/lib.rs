//! The network service (Neutron v2.0).
//!
//! Served: version discovery, the extension list, quotas over the shared
//! [`ferrostack_quota::QuotaEngine`] (with real usage: networks, subnets,
//! ports, security groups and rules reserve under their own ids),
//! networks with provider segments from the ML2 settings ([`config`]),
//! subnets with their DHCP port, ports with race-free IPAM (the store
//! takes addresses inside the port's write transaction), security groups
//! with their rules ([`security_groups`]), tags, and network IP
//! availability, routers with their gateway, interfaces and static
//! routes ([`routers`], [`router_interfaces`], [`router_section`]), and
//! floating IPs ([`floating_ips`]: an address on an external network,
//! associated through the router that router ports show). Every list
//! goes through [`query`] (filters, `fields`, sorting, paging).
//!
//! Ports are also an in-process API: [`NetworkState::create_port`],
//! [`NetworkState::bind_port`], [`NetworkState::unbind_port`] and
//! [`NetworkState::delete_port`] are what compute calls to give a server
//! its NICs; the HTTP handlers apply Neutron's policy in front of them.
//!
//! Every other path answers 501 in Neutron's error shape to a caller with
//! a valid token, and 401 to one without (see [`policy`]).

pub mod attrs;
pub mod availability;
pub mod config;
pub mod error;
pub mod extensions;
pub mod floating_ips;
pub mod floating_ips_api;
pub mod host_section;
pub mod ipam;
pub mod networks;
pub mod policy;
pub mod ports;
pub mod ports_api;
pub mod query;
pub mod quotas;
pub mod router_interfaces;
pub mod router_rules;
pub mod router_section;
pub mod routers;
pub mod security_groups;
pub mod subnets;
pub mod tags;
pub mod zones;

pub use config::Ml2Config;
pub use ports::{FixedIpSpec, PortSpec};

use axum::extract::State;
use axum::response::Response;
use axum::{Json, Router};
use ferrostack_policy::{PolicyState, TokenValidator};
use ferrostack_quota::{ProjectDirectory, QuotaEngine};
use ferrostack_store::network::NetworkStore;
use ferrostack_store::router::RouterStore;
use ferrostack_store::security_group::SecurityGroupStore;
use http::StatusCode;
use security_groups::SecurityGroups;
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
    /// Networks, subnets and ports.
    pub store: Arc<dyn NetworkStore>,
    /// ML2 type-driver settings.
    pub ml2: Ml2Config,
    /// Security groups and their rules.
    pub security_groups: Arc<dyn SecurityGroupStore>,
    /// Routers (their ports are in `store`).
    pub routers: Arc<dyn RouterStore>,
}

/// What handlers share.
pub struct NetworkState {
    /// Public base URL of this listener.
    pub public_url: String,
    /// The shared quota engine.
    pub quotas: QuotaEngine,
    /// Project lookups.
    pub projects: Arc<dyn ProjectDirectory>,
    /// Networks, subnets and ports.
    pub store: Arc<dyn NetworkStore>,
    /// ML2 type-driver settings.
    pub ml2: Ml2Config,
    /// The security group service (also for the ports code: the default
    /// group of a port's project).
    pub security_groups: SecurityGroups,
    /// Routers (their ports are in `store`).
    pub routers: Arc<dyn RouterStore>,
}

impl NetworkState {
    /// The state the handlers share, for [`router_for`] and for in-process
    /// callers (compute) of the port API.
    pub fn new(config: &NetworkConfig) -> Arc<NetworkState> {
        Arc::new(NetworkState {
            public_url: config.public_url.clone(),
            quotas: config.quotas.clone(),
            projects: config.projects.clone(),
            store: config.store.clone(),
            ml2: config.ml2.clone(),
            security_groups: SecurityGroups {
                store: config.security_groups.clone(),
                quotas: config.quotas.clone(),
                usage: Arc::new(security_groups::StorePorts(config.store.clone())),
            },
            routers: config.routers.clone(),
        })
    }
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
    let list: Vec<Value> = [
        ("quota", "quotas", "quotas"),
        ("network", "networks", "networks"),
        ("subnet", "subnets", "subnets"),
        ("port", "ports", "ports"),
        ("router", "routers", "routers"),
        ("floatingip", "floatingips", "floatingips"),
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
    Json(json!({ "resources": list }))
}

/// The network API router.
pub fn router(config: NetworkConfig) -> Router {
    let state = NetworkState::new(&config);
    router_for(state, config.validator)
}

/// The network API router over an existing state (shared with in-process
/// callers of the port API).
pub fn router_for(state: Arc<NetworkState>, validator: Arc<dyn TokenValidator>) -> Router {
    let policy = PolicyState {
        table: policy::RULES,
        validator,
        errors: Arc::new(error::NeutronErrors),
    };
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
