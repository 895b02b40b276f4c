//! The host API: [`HostLink`] over HTTPS, for agents on other machines.
//!
//! `allinone`'s own agent calls the link in process. An agent on another
//! host (`ferrostack agent`) calls the same two traits,
//! `DesiredStateSource` and `ObservedStateSink`, through these endpoints
//! on the host API's own TLS listener ([`serve`], port 8779 by default),
//! under `/internal/host/v1`:
//!
//! ```text
//!   POST /hosts/{host}/register      RegisterRequest -> 204   (also the heartbeat)
//!   GET  /hosts/{host}/assigned      -> HostDesired
//!   GET  /hosts/{host}/watch?since=N&timeout_ms=M -> {"revision": n}  (long poll, <= 60 s)
//!   POST /hosts/{host}/observed      [ObservedInstance] -> 204
//!   GET  /hosts/{host}/observed      -> [ObservedInstance]
//!   GET  /images/{image_id}          -> the image's bytes (base image cache fill)
//!   PUT  /snapshots/{image_id}       the snapshot file -> 204 (imported on the report)
//! ```
//!
//! Why it is shaped like this:
//!
//! - **Pull with a per-host revision.** The controller never calls a host
//!   to change it. It writes the desired state and bumps the host's
//!   revision; the agent long-polls the revision and re-reads what is
//!   assigned to it. A lost request or an agent that was down loses
//!   nothing, and the controller holds no per-host connection state. The
//!   only call back is a console read, which is a question, not a change.
//! - **A join token.** Every request carries `Authorization: Bearer
//!   <token>`, the one secret `allinone` generates in `DATA/join-token`,
//!   compared in constant time (see
//!   [`ferrostack_host_contract::wire::bearer_matches`]); otherwise 401.
//!   It is a cluster secret: a holder can act as any host, read any
//!   image and upload snapshots. It is never logged.
//! - **No Nova policy, its own listener.** These are not OpenStack APIs
//!   and Keystone tokens do not open them: only the join token guards
//!   them, and they are not on the compute listener, which stays plain
//!   HTTP for clients (and can be put behind a proxy) without ever
//!   carrying the token.
//! - **TLS with a pinned certificate.** The listener serves a self-signed
//!   certificate that `allinone` keeps in `DATA/host-api/`; the join
//!   file carries its SHA-256 next to the token, and agents trust exactly
//!   that certificate (see [`ferrostack_host_contract::tls`]). The token,
//!   desired state (with user data), image and snapshot bytes only travel
//!   encrypted, to a server that proved it holds the controller's key.
//!
//! Errors are `{"error": {"code", "message"}}`. [`RemoteConsoles`] is the
//! way back: the controller reads a remote VM's console from the agent's
//! own console server, at the URL and with the certificate fingerprint
//! the agent registered.

mod consoles;
mod routes;

pub use consoles::{AgentDirectory, AgentEndpoint, RemoteConsoles};

use crate::hostlink::HostLink;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use ferrostack_host_contract::tls::{TlsError, TlsIdentity};
use ferrostack_host_contract::wire::{bearer_matches, error_response, unauthorized, PREFIX};
use ferrostack_scheduler::InventoryConfig;
use rand::RngCore;
use std::path::PathBuf;
use std::sync::Arc;

/// Largest JSON body (an observation report of many instances).
pub const MAX_JSON_BYTES: usize = 16 * 1024 * 1024;

/// What the host API serves from.
#[derive(Clone)]
pub struct HostApiConfig {
    /// The store-backed link the endpoints forward to (its
    /// `SnapshotImporter` says where uploaded snapshots go).
    pub link: Arc<HostLink>,
    /// The cluster's join token.
    pub join_token: String,
    /// Where the image service keeps image bytes (`images_dir/<image_id>`).
    pub images_dir: PathBuf,
    /// Where registered agents' console URLs are remembered.
    pub agents: Arc<AgentDirectory>,
    /// How a registered host's resources become placement inventory.
    pub inventory: InventoryConfig,
}

/// A new join token: 32 random bytes, hex.
pub fn new_join_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[derive(Clone)]
struct ApiState {
    link: Arc<HostLink>,
    token: Arc<str>,
    metadata_key: Arc<[u8]>,
    images_dir: Arc<PathBuf>,
    agents: Arc<AgentDirectory>,
    inventory: InventoryConfig,
}

/// The host API's routes (unknown paths answer 404 without looking at
/// the token).
pub fn router(config: HostApiConfig) -> Router {
    let state = ApiState {
        link: config.link,
        metadata_key: ferrostack_host_contract::metadata::signing_key(&config.join_token).into(),
        token: config.join_token.into(),
        images_dir: Arc::new(config.images_dir),
        agents: config.agents,
        inventory: config.inventory,
    };
    let p = |path: &str| format!("{PREFIX}{path}");
    Router::new()
        .route(&p("/hosts/{host}/register"), post(routes::register))
        .route(&p("/hosts/{host}/assigned"), get(routes::assigned))
        .route(&p("/hosts/{host}/watch"), get(routes::watch))
        .route(
            &p("/hosts/{host}/observed"),
            get(routes::last_reported).post(routes::report),
        )
        .route(
            &p("/hosts/{host}/objects"),
            get(routes::last_reported_objects).post(routes::report_objects),
        )
        .route(&p("/hosts/{host}/metadata"), get(routes::metadata_root))
        .route(&p("/hosts/{host}/metadata/{*path}"), get(routes::metadata))
        .route(&p("/images/{image_id}"), get(routes::image))
        .route(&p("/snapshots/{image_id}"), put(routes::snapshot))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .fallback(|| async { error_response(StatusCode::NOT_FOUND, "No such path.") })
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .with_state(state)
}

/// Serves the host API on `listener` over TLS with `identity` until
/// `stop` becomes true; fails at once when the TLS setup is refused.
pub fn serve(
    listener: tokio::net::TcpListener,
    identity: &TlsIdentity,
    config: HostApiConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<impl std::future::Future<Output = std::io::Result<()>> + Send + 'static, TlsError> {
    let tls = identity.listener(listener)?;
    Ok(ferrostack_common::serve::serve_until(
        "host API",
        tls,
        router(config),
        stop,
    ))
}

async fn require_token(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    if bearer_matches(req.headers(), &s.token) {
        next.run(req).await
    } else {
        tracing::debug!(path = %req.uri().path(), "host API request without the join token");
        unauthorized()
    }
}
