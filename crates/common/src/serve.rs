//! Serving a router on a bound listener until shutdown.
//!
//! Listeners are bound by the caller first (so port 0 works and the real
//! port is known before the service catalog is written), then served here
//! with graceful shutdown driven by a `watch` channel that the binary flips
//! on Ctrl-C or SIGTERM. Any `axum::serve::Listener` works: a plain
//! `TcpListener`, or the host API's TLS listener.

use axum::serve::Listener;
use axum::Router;
use tokio::sync::watch;

/// Serve `router` on `listener` until `shutdown` becomes true.
pub async fn serve_until<L>(
    name: &'static str,
    listener: L,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()>
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    let addr = listener.local_addr()?;
    tracing::info!(service = name, ?addr, "listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            // Either the flag flips or the sender is gone: both mean stop.
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
}
