//! Glance's error shape: `{"code": 404, "title": "Not Found", "message": "..."}`.
//!
//! One shape for every status, 401 included, so a client parsing Glance
//! errors never meets a body from another service. 500s carry a generic
//! message; the cause goes to the log only.

use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use ferrostack_policy::ErrorRenderer;
use ferrostack_store::StoreError;
use http::StatusCode;

/// An image API error; the message is safe to show the client.
#[derive(Debug)]
pub enum ImageError {
    /// 400.
    BadRequest(String),
    /// 403.
    Forbidden(String),
    /// 404.
    NotFound(String),
    /// 409.
    Conflict(String),
    /// Another status (413, 415, 410, ...).
    Status(StatusCode, String),
    /// 501.
    NotImplemented(String),
    /// 500: logged with its cause, shown as a generic message.
    Internal(String),
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

impl IntoResponse for ImageError {
    fn into_response(self) -> Response {
        match self {
            ImageError::BadRequest(m) => render(StatusCode::BAD_REQUEST, &m),
            ImageError::Forbidden(m) => render(StatusCode::FORBIDDEN, &m),
            ImageError::NotFound(m) => render(StatusCode::NOT_FOUND, &m),
            ImageError::Conflict(m) => render(StatusCode::CONFLICT, &m),
            ImageError::Status(s, m) => render(s, &m),
            ImageError::NotImplemented(m) => render(StatusCode::NOT_IMPLEMENTED, &m),
            ImageError::Internal(cause) => {
                tracing::error!(error = %cause, "image request failed");
                render(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The server has either erred or is incapable of performing the requested operation.",
                )
            }
        }
    }
}

/// An error and its sources, one line, for the log.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl From<StoreError> for ImageError {
    fn from(e: StoreError) -> Self {
        ImageError::Internal(error_chain(&e))
    }
}

impl From<JsonRejection> for ImageError {
    fn from(rejection: JsonRejection) -> Self {
        let (status, message) = ferrostack_common::json::describe_rejection(&rejection);
        ImageError::Status(status, message)
    }
}

/// The policy middleware's view of Glance's error shape.
pub struct GlanceErrors;

impl ErrorRenderer for GlanceErrors {
    fn render(&self, status: StatusCode, message: &str) -> Response {
        render(status, message)
    }
}

ferrostack_common::json_extractor!(ImageError);
