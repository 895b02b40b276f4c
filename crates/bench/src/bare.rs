//! The reference for token validation: a bare axum handler answering the
//! same body, run in the benchmark's process while it measures.
//!
//! A validation's req/s alone says little on a shared two-core machine
//! (the client, the server and everything else compete for the cores);
//! beside what the simplest axum service does with the same client,
//! request and body size in the same run, it says how much the identity
//! service itself costs. The handler serializes the body on every request
//! (as any JSON handler does) but does nothing else: no authentication,
//! no lookups, no middleware.
//!
//! It runs on a runtime of its own, with as many workers as the server's
//! default, so the client's single-threaded runtime is unchanged.

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use std::error::Error;
use std::sync::Arc;

/// Start the handler for `GET /v3/auth/tokens` on a free loopback port,
/// answering `body`; returns its `/v3` base URL. It serves until the
/// process exits.
pub fn start(body: serde_json::Value) -> Result<String, Box<dyn Error>> {
    let body = Arc::new(body);
    // Bound here so the caller knows the port; served from a thread with
    // a runtime of its own (the caller is inside one already).
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let base = format!("http://{}/v3", listener.local_addr()?);
    let app = Router::new().route(
        "/v3/auth/tokens",
        get(move || {
            let body = Arc::clone(&body);
            async move {
                let bytes = serde_json::to_vec(&*body).unwrap_or_default();
                ([(CONTENT_TYPE, "application/json")], bytes)
            }
        }),
    );
    std::thread::Builder::new()
        .name("bare-axum".into())
        .spawn(move || {
            let served = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .and_then(|runtime| {
                    runtime.block_on(async {
                        let listener = tokio::net::TcpListener::from_std(listener)?;
                        axum::serve(listener, app).await
                    })
                });
            if let Err(e) = served {
                eprintln!("bare reference handler stopped: {e}");
            }
        })?;
    Ok(base)
}
