//! Nova's error shape: `{"itemNotFound": {"code": 404, "message": "..."}}`.
//!
//! The wrapper key depends on the status, as in Nova's WSGI faults.
//! 401 is answered in Keystone's shape, as keystonemiddleware does in front
//! of a real Nova.

use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use ferrostack_compute_types::Fault;
use ferrostack_policy::ErrorRenderer;
use ferrostack_quota::QuotaError;
use ferrostack_store::StoreError;
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

/// Render Nova's error body.
pub fn render(status: StatusCode, message: &str) -> Response {
    if status == StatusCode::UNAUTHORIZED {
        let body = json!({"error": {"code": 401, "title": "Unauthorized", "message": message}});
        return (status, axum::Json(body)).into_response();
    }
    let fault = Fault {
        code: status.as_u16(),
        message: message.to_string(),
    };
    (status, axum::Json(fault.to_body())).into_response()
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

impl std::fmt::Display for ComputeError {
    /// The message (for a 500, its cause: this is for logs, not clients).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ComputeError::BadRequest(m)
            | ComputeError::Forbidden(m)
            | ComputeError::NotFound(m)
            | ComputeError::Conflict(m)
            | ComputeError::Status(_, m)
            | ComputeError::NotImplemented(m)
            | ComputeError::Internal(m) => f.write_str(m),
        }
    }
}

/// So the step/undo runner can log it; the cause of a 500 is already
/// folded into its message, so there is no `source`.
impl std::error::Error for ComputeError {}

impl From<StoreError> for ComputeError {
    fn from(e: StoreError) -> Self {
        ComputeError::Internal(error_chain(&e))
    }
}

impl From<QuotaError> for ComputeError {
    fn from(e: QuotaError) -> Self {
        match e {
            QuotaError::UnknownResource { resource } => ComputeError::BadRequest(format!(
                "Invalid input for field/attribute quota_set. Additional properties are not allowed ('{resource}' was unexpected)"
            )),
            QuotaError::InvalidLimit { resource, value } => ComputeError::BadRequest(format!(
                "Invalid input for field/attribute {resource}. Value: {value}. {value} is out of range"
            )),
            QuotaError::BelowUsage {
                resource,
                limit,
                in_use,
            } => ComputeError::BadRequest(format!(
                "Quota limit {limit} for {resource} must be greater than or equal to already used and reserved {in_use}."
            )),
            QuotaError::OverQuota(overages) => {
                let names: Vec<_> = overages.iter().map(|o| o.resource.as_str()).collect();
                ComputeError::Status(
                    StatusCode::FORBIDDEN,
                    format!("Quota exceeded for {}.", names.join(", ")),
                )
            }
            QuotaError::Store(e) => e.into(),
        }
    }
}

/// An error and its sources, one line, for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
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
