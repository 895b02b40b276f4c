//! Glance's error shape: `{"code": 404, "title": "Not Found", "message": "..."}`.
//!
//! One shape for every status, 401 included, so a client parsing Glance
//! errors never meets a body from another service. 500s carry a generic
//! message; the cause goes to the log only.
//!
//! The enum's plumbing (statuses, logging a 500's cause chain, the JSON
//! body rejection and extractor) is `ferrostack_common::service_error!`;
//! this file keeps Glance's renderer.

use axum::response::{IntoResponse, Response};
pub use ferrostack_common::error::error_chain;
use ferrostack_common::error::ErrorShape;
use ferrostack_store::StoreError;
use http::StatusCode;

ferrostack_common::service_error! {
    /// An image API error; the message is safe to show the client.
    pub enum ImageError, shape GlanceErrors {
        /// 400.
        BadRequest => BAD_REQUEST,
        /// 403.
        Forbidden => FORBIDDEN,
        /// 404.
        NotFound => NOT_FOUND,
        /// 409.
        Conflict => CONFLICT,
        /// 501.
        NotImplemented => NOT_IMPLEMENTED,
    }
}

/// Result alias for image handlers.
pub type ImageResult<T> = Result<T, ImageError>;

/// Render Glance's error body.
pub fn render(status: StatusCode, message: &str) -> Response {
    let body = ferrostack_image_types::ErrorBody {
        code: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        message: message.to_string(),
    };
    (status, axum::Json(body)).into_response()
}

/// Glance's error shape, for handlers and the policy layer alike.
pub struct GlanceErrors;

impl ErrorShape for GlanceErrors {
    const SERVICE: &'static str = "image";
    const INTERNAL_MESSAGE: &'static str =
        "The server has either erred or is incapable of performing the requested operation.";
    fn render(status: StatusCode, message: &str) -> Response {
        render(status, message)
    }
}

impl From<StoreError> for ImageError {
    fn from(e: StoreError) -> Self {
        ImageError::internal(&e)
    }
}
