//! `X-OpenStack-Request-Id` on every response, and a tracing span per request.
//!
//! OpenStack services name each request `req-<uuid>` and return it so an
//! operator can find the request in the logs from what a user pastes. The
//! layer below creates the id, stores it in the request extensions (handlers
//! read it with the [`RequestId`] extractor), opens a span carrying method,
//! path and id, and stamps the header on the way out — on errors too.

use axum::extract::{FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::request::Parts;
use http::HeaderValue;
use std::convert::Infallible;
use tracing::Instrument;

/// The response header that carries the request id.
pub const REQUEST_ID_HEADER: &str = "x-openstack-request-id";

/// The id of the request being served, `req-<uuid>`.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(format!("req-{}", uuid::Uuid::new_v4()))))
    }
}

/// Middleware: assign a request id, log the request in a span, stamp the header.
///
/// Install with `axum::middleware::from_fn_with_state(service_name, request_id_layer)`.
pub async fn request_id_layer(
    axum::extract::State(service): axum::extract::State<&'static str>,
    mut req: Request,
    next: Next,
) -> Response {
    let id = RequestId(format!("req-{}", uuid::Uuid::new_v4()));
    req.extensions_mut().insert(id.clone());
    let span = tracing::debug_span!(
        "request",
        service,
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %id.0,
    );
    async move {
        let mut resp = next.run(req).await;
        tracing::debug!(status = resp.status().as_u16(), "served");
        if let Ok(value) = HeaderValue::from_str(&id.0) {
            resp.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        resp
    }
    .instrument(span)
    .await
}
