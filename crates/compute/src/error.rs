//! Nova's error shape: `{"itemNotFound": {"code": 404, "message": "..."}}`.
//!
//! The wrapper key depends on the status, as in Nova's WSGI faults.
//! 401 is answered in Keystone's shape, as keystonemiddleware does in front
//! of a real Nova.
//!
//! The enum's plumbing (statuses, logging a 500's cause, the JSON body
//! rejection and extractor) is `ferrostack_common::service_error!`; this
//! file keeps what is Nova's own: the renderer and the conversions in
//! Nova's words.

use axum::response::{IntoResponse, Response};
use ferrostack_common::error::ErrorShape;
use ferrostack_compute_types::Fault;
use ferrostack_quota::QuotaError;
use ferrostack_store::StoreError;
use http::StatusCode;
use serde_json::json;

ferrostack_common::service_error! {
    /// A compute API error; the message is safe to show the client.
    pub enum ComputeError, shape NovaErrors {
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

/// Nova's error shape, for handlers and the policy layer alike.
pub struct NovaErrors;

impl ErrorShape for NovaErrors {
    const SERVICE: &'static str = "compute";
    const INTERNAL_MESSAGE: &'static str =
        "Unexpected API Error. Please report this at your cloud operator.";
    fn render(status: StatusCode, message: &str) -> Response {
        render(status, message)
    }
}

impl From<StoreError> for ComputeError {
    fn from(e: StoreError) -> Self {
        ComputeError::internal(&e)
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
            QuotaError::AboveProject {
                resource,
                limit,
                maximum,
            } => ComputeError::BadRequest(format!(
                "Quota limit {limit} for {resource} must be less than or equal to {maximum}."
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
