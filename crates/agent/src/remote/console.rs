//! The agent's own small HTTPS server: the serial console of its VMs.
//!
//! The desired/observed state flows agent → controller only (the agent
//! pulls), but a console read is a question the controller asks when a
//! user asks it, and the console log lives on the host. So each agent
//! serves `GET /console/{id}?max_bytes=N`, protected by the same join
//! token, over TLS with a self-signed certificate the agent keeps in its
//! data directory, and registers its URL and the certificate's
//! fingerprint with the controller, which pins it when it calls back.

use super::wire::{bearer_matches, error_response, unauthorized};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ferrostack_hypervisor::{Hypervisor, HypervisorError};
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

pub use ferrostack_host_contract::wire::{DEFAULT_CONSOLE_BYTES, MAX_CONSOLE_BYTES};

#[derive(Clone)]
struct ConsoleState {
    hv: Arc<dyn Hypervisor>,
    token: Arc<str>,
}

#[derive(Deserialize)]
struct ConsoleQuery {
    max_bytes: Option<usize>,
}

/// The console server: `GET /console/{id}?max_bytes=N` answers the last
/// `N` bytes (default [`DEFAULT_CONSOLE_BYTES`], at most
/// [`MAX_CONSOLE_BYTES`]) of the VM's serial console as text. Every
/// request needs `Authorization: Bearer <join_token>`.
pub fn console_router(hv: Arc<dyn Hypervisor>, join_token: String) -> Router {
    let state = ConsoleState {
        hv,
        token: join_token.into(),
    };
    Router::new()
        .route("/console/{id}", get(console))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .fallback(|| async { error_response(StatusCode::NOT_FOUND, "No such path.") })
        .with_state(state)
}

async fn require_token(State(s): State<ConsoleState>, req: Request, next: Next) -> Response {
    if bearer_matches(req.headers(), &s.token) {
        next.run(req).await
    } else {
        unauthorized()
    }
}

async fn console(
    State(s): State<ConsoleState>,
    Path(id): Path<String>,
    Query(q): Query<ConsoleQuery>,
) -> Response {
    let Ok(id) = Uuid::try_parse(&id) else {
        return error_response(StatusCode::NOT_FOUND, "Instance ids are UUIDs.");
    };
    let max = q
        .max_bytes
        .unwrap_or(DEFAULT_CONSOLE_BYTES)
        .min(MAX_CONSOLE_BYTES);
    match s.hv.console_log(id, max).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        Err(HypervisorError::NotFound { .. }) => error_response(
            StatusCode::NOT_FOUND,
            format!("Instance {id} is not on this host."),
        ),
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
