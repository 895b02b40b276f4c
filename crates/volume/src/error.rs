//! Cinder's error shape: `{"itemNotFound": {"code": 404, "message": "..."}}`.
//!
//! The wrapper key depends on the status, as in Cinder's WSGI faults (the
//! same names Nova uses). 401 is answered in Keystone's shape, as
//! keystonemiddleware does in front of a real Cinder.
//!
//! The enum's plumbing (statuses, logging a 500's cause chain, the JSON
//! body rejection and extractor) is `ferrostack_common::service_error!`;
//! this file keeps Cinder's renderer and the conversions in Cinder's words.

use axum::response::{IntoResponse, Response};
use ferrostack_common::error::ErrorShape;
use ferrostack_quota::{QuotaError, TargetError};
use ferrostack_store::StoreError;
use http::StatusCode;
use serde_json::{json, Value};

ferrostack_common::service_error! {
    /// A block storage API error; the message is safe to show the client.
    pub enum VolumeError, shape CinderErrors {
        /// 400.
        BadRequest => BAD_REQUEST,
        /// 403.
        Forbidden => FORBIDDEN,
        /// 404.
        NotFound => NOT_FOUND,
        /// 409.
        Conflict => CONFLICT,
    }
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

impl From<StoreError> for VolumeError {
    fn from(e: StoreError) -> Self {
        VolumeError::internal(&e)
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
            // Cinder's quota API here has no per-user quotas; kept for completeness.
            QuotaError::AboveProject {
                resource,
                limit,
                maximum,
            } => VolumeError::BadRequest(format!(
                "Invalid input received: {resource} limit {limit} must be at most {maximum}."
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

/// Cinder's error shape, for handlers and the policy layer alike.
pub struct CinderErrors;

impl ErrorShape for CinderErrors {
    const SERVICE: &'static str = "block storage";
    const INTERNAL_MESSAGE: &'static str =
        "The server has either erred or is incapable of performing the requested operation.";
    fn render(status: StatusCode, message: &str) -> Response {
        render(status, message)
    }
}
