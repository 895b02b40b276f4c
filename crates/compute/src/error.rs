//! Nova's error shape: `{"itemNotFound": {"code": 404, "message": "..."}}`.
//!
//! The wrapper key depends on the status, as in Nova's WSGI faults.
//! 401 is answered in Keystone's shape, as keystonemiddleware does in front
//! of a real Nova.

use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use ferrostack_policy::ErrorRenderer;
use http::StatusCode;
use serde_json::json;

/// A compute API error; the message is safe to show the client.
#[derive(Debug)]
pub enum ComputeError {
    /// 400.
    BadRequest(String),
    /// 403.
    Forbidden(String),
    /// 404.
    NotFound(String),
    /// 409.
    Conflict(String),
    /// Another status with a message (413, 415, ...).
    Status(StatusCode, String),
    /// 501.
    NotImplemented(String),
    /// 500: logged with its cause, shown as a generic message.
    Internal(String),
}

/// Result alias for compute handlers.
pub type ComputeResult<T> = Result<T, ComputeError>;

/// The fault key Nova uses for a status.
fn fault_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "badRequest",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

/// Render Nova's error body.
pub fn render(status: StatusCode, message: &str) -> Response {
    if status == StatusCode::UNAUTHORIZED {
        let body = json!({"error": {"code": 401, "title": "Unauthorized", "message": message}});
        return (status, axum::Json(body)).into_response();
    }
    let mut body = serde_json::Map::new();
    body.insert(
        fault_name(status).to_string(),
        json!({"code": status.as_u16(), "message": message}),
    );
    (status, axum::Json(serde_json::Value::Object(body))).into_response()
}

impl IntoResponse for ComputeError {
    fn into_response(self) -> Response {
        match self {
            ComputeError::BadRequest(m) => render(StatusCode::BAD_REQUEST, &m),
            ComputeError::Forbidden(m) => render(StatusCode::FORBIDDEN, &m),
            ComputeError::NotFound(m) => render(StatusCode::NOT_FOUND, &m),
            ComputeError::Conflict(m) => render(StatusCode::CONFLICT, &m),
            ComputeError::Status(s, m) => render(s, &m),
            ComputeError::NotImplemented(m) => render(StatusCode::NOT_IMPLEMENTED, &m),
            ComputeError::Internal(cause) => {
                tracing::error!(error = %cause, "compute request failed");
                render(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Unexpected API Error. Please report this at your cloud operator.",
                )
            }
        }
    }
}

impl From<JsonRejection> for ComputeError {
    fn from(rejection: JsonRejection) -> Self {
        let (status, message) = ferrostack_common::json::describe_rejection(&rejection);
        ComputeError::Status(status, message)
    }
}

/// The policy middleware's view of Nova's error shape.
pub struct NovaErrors;

impl ErrorRenderer for NovaErrors {
    fn render(&self, status: StatusCode, message: &str) -> Response {
        render(status, message)
    }
}

ferrostack_common::json_extractor!(ComputeError);
