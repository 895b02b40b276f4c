//! Cinder's error shape: `{"itemNotFound": {"code": 404, "message": "..."}}`.
//!
//! The wrapper key depends on the status, as in Cinder's WSGI faults (the
//! same names Nova uses). 401 is answered in Keystone's shape, as
//! keystonemiddleware does in front of a real Cinder.

use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use ferrostack_policy::ErrorRenderer;
use ferrostack_quota::{QuotaError, TargetError};
use ferrostack_store::StoreError;
use http::StatusCode;
use serde_json::{json, Value};

/// A block storage API error; the message is safe to show the client.
#[derive(Debug)]
pub enum VolumeError {
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
    /// 500: logged with its cause, shown as a generic message.
    Internal(String),
}

/// Result alias for volume handlers.
pub type VolumeResult<T> = Result<T, VolumeError>;

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

/// Cinder's error body for `status`.
pub fn render(status: StatusCode, message: &str) -> Response {
    if status == StatusCode::UNAUTHORIZED {
        let body = json!({"error": {"code": 401, "title": "Unauthorized", "message": message}});
        return (status, axum::Json(body)).into_response();
    }
    let mut body = serde_json::Map::new();
    body.insert(
        fault_name(status).into(),
        json!({"code": status.as_u16(), "message": message}),
    );
    (status, axum::Json(Value::Object(body))).into_response()
}

impl IntoResponse for VolumeError {
    fn into_response(self) -> Response {
        match self {
            VolumeError::BadRequest(m) => render(StatusCode::BAD_REQUEST, &m),
            VolumeError::Forbidden(m) => render(StatusCode::FORBIDDEN, &m),
            VolumeError::NotFound(m) => render(StatusCode::NOT_FOUND, &m),
            VolumeError::Conflict(m) => render(StatusCode::CONFLICT, &m),
            VolumeError::Status(s, m) => render(s, &m),
            VolumeError::Internal(cause) => {
                tracing::error!(error = %cause, "block storage request failed");
                render(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The server has either erred or is incapable of performing the requested operation.",
                )
            }
        }
    }
}

impl From<JsonRejection> for VolumeError {
    fn from(rejection: JsonRejection) -> Self {
        let (status, message) = ferrostack_common::json::describe_rejection(&rejection);
        VolumeError::Status(status, message)
    }
}

impl From<StoreError> for VolumeError {
    fn from(e: StoreError) -> Self {
        let mut cause = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            cause.push_str(": ");
            cause.push_str(&s.to_string());
            source = s.source();
        }
        VolumeError::Internal(cause)
    }
}

impl From<QuotaError> for VolumeError {
    fn from(e: QuotaError) -> Self {
        match e {
            QuotaError::UnknownResource { resource } => VolumeError::BadRequest(format!(
                "Invalid input received: Bad key(s) in quota set: {resource}"
            )),
            QuotaError::InvalidLimit { resource, value } => VolumeError::BadRequest(format!(
                "Invalid input received: {resource} must be >= -1 and <= {}, not {value}",
                ferrostack_quota::MAX_LIMIT
            )),
            QuotaError::BelowUsage {
                resource,
                limit,
                in_use,
            } => VolumeError::BadRequest(format!(
                "Quota {resource} limit must be equal or greater than existing resources. Current usage is {in_use} and the requested limit is {limit}."
            )),
            QuotaError::OverQuota(overages) => {
                let names: Vec<_> = overages.iter().map(|o| o.resource.as_str()).collect();
                VolumeError::Status(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("Maximum number of {} exceeded", names.join(", ")),
                )
            }
            QuotaError::Store(e) => e.into(),
        }
    }
}

impl From<TargetError> for VolumeError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::NotVisible(raw) => {
                VolumeError::NotFound(format!("Project {raw} could not be found."))
            }
            TargetError::Forbidden(_) => {
                VolumeError::Forbidden("Policy doesn't allow this action to be performed.".into())
            }
            TargetError::Unknown(raw) => {
                VolumeError::BadRequest(format!("Project ID {raw} is not a valid project."))
            }
            TargetError::Ambiguous { name, count } => VolumeError::Conflict(format!(
                "{count} projects are named {name}; give the project ID instead."
            )),
            TargetError::Store(e) => e.into(),
        }
    }
}

/// The policy middleware's view of Cinder's error shape.
pub struct CinderErrors;

impl ErrorRenderer for CinderErrors {
    fn render(&self, status: StatusCode, message: &str) -> Response {
        render(status, message)
    }
}

ferrostack_common::json_extractor!(VolumeError);
