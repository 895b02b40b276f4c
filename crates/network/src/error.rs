//! Neutron's error shape: `{"NeutronError": {"type", "message", "detail"}}`,
//! where `type` is the name of the exception Neutron would raise.
//!
//! 401 is answered in Keystone's shape, as keystonemiddleware does in
//! front of a real Neutron.

use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use ferrostack_policy::ErrorRenderer;
use ferrostack_quota::{QuotaError, TargetError};
use ferrostack_store::StoreError;
use http::StatusCode;
use serde_json::json;

/// A network API error: status, Neutron's exception type, client-safe message.
#[derive(Debug)]
pub struct NetworkError {
    /// HTTP status.
    pub status: StatusCode,
    /// Neutron's exception name (`HTTPBadRequest`, `InvalidInput`, ...).
    pub kind: &'static str,
    /// Client-safe message.
    pub message: String,
}

/// Result alias for network handlers.
pub type NetworkResult<T> = Result<T, NetworkError>;

impl NetworkError {
    /// An error of `status` and `kind`.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        NetworkError {
            status,
            kind,
            message: message.into(),
        }
    }

    /// 400 `HTTPBadRequest`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "HTTPBadRequest", message)
    }

    /// 400 `InvalidInput` about `field`.
    pub fn invalid_input(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            format!("Invalid input for {field}. Reason: {reason}."),
        )
    }

    /// 500, logged with its cause.
    pub fn internal(cause: String) -> Self {
        tracing::error!(error = %cause, "network request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "HTTPInternalServerError",
            "Request Failed: internal server error while processing your request.",
        )
    }
}

/// The exception name Neutron reports for a bare status.
fn kind_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "HTTPBadRequest",
        403 => "HTTPForbidden",
        404 => "HTTPNotFound",
        405 => "HTTPMethodNotAllowed",
        409 => "HTTPConflict",
        413 => "HTTPRequestEntityTooLarge",
        415 => "HTTPUnsupportedMediaType",
        501 => "HTTPNotImplemented",
        503 => "HTTPServiceUnavailable",
        _ => "HTTPInternalServerError",
    }
}

/// Neutron's error body.
pub fn render(status: StatusCode, kind: &str, message: &str) -> Response {
    if status == StatusCode::UNAUTHORIZED {
        let body = json!({"error": {"code": 401, "title": "Unauthorized", "message": message}});
        return (status, axum::Json(body)).into_response();
    }
    let body = json!({"NeutronError": {"type": kind, "message": message, "detail": ""}});
    (status, axum::Json(body)).into_response()
}

impl IntoResponse for NetworkError {
    fn into_response(self) -> Response {
        render(self.status, self.kind, &self.message)
    }
}

impl From<JsonRejection> for NetworkError {
    fn from(rejection: JsonRejection) -> Self {
        let (status, message) = ferrostack_common::json::describe_rejection(&rejection);
        NetworkError::new(status, kind_for(status), message)
    }
}

impl From<StoreError> for NetworkError {
    fn from(e: StoreError) -> Self {
        let mut cause = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            cause.push_str(": ");
            cause.push_str(&s.to_string());
            source = s.source();
        }
        NetworkError::internal(cause)
    }
}

impl From<QuotaError> for NetworkError {
    fn from(e: QuotaError) -> Self {
        match e {
            QuotaError::UnknownResource { resource } => {
                NetworkError::bad_request(format!("Unrecognized attribute(s) '{resource}'"))
            }
            QuotaError::InvalidLimit { resource, value } => {
                NetworkError::invalid_input(&resource, format!("'{value}' is out of range"))
            }
            QuotaError::BelowUsage {
                resource,
                limit,
                in_use,
            } => NetworkError::new(
                StatusCode::BAD_REQUEST,
                "InvalidQuotaValue",
                format!(
                    "Change would make usage less than 0 for the following resources: {resource} (limit {limit}, in use {in_use})."
                ),
            ),
            QuotaError::OverQuota(overages) => {
                let names: Vec<_> = overages.iter().map(|o| o.resource.as_str()).collect();
                NetworkError::new(
                    StatusCode::CONFLICT,
                    "OverQuota",
                    format!("Quota exceeded for resources: {}.", names.join(", ")),
                )
            }
            QuotaError::Store(e) => e.into(),
        }
    }
}

impl From<TargetError> for NetworkError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::NotVisible(raw) => NetworkError::new(
                StatusCode::NOT_FOUND,
                "HTTPNotFound",
                format!("Project {raw} could not be found."),
            ),
            TargetError::Forbidden(_) => NetworkError::new(
                StatusCode::FORBIDDEN,
                "HTTPForbidden",
                "The request you have made is not permitted by policy.",
            ),
            TargetError::Unknown(raw) => NetworkError::new(
                StatusCode::BAD_REQUEST,
                "HTTPBadRequest",
                format!("Project ID {raw} is not a valid project."),
            ),
            TargetError::Ambiguous { name, count } => NetworkError::new(
                StatusCode::CONFLICT,
                "HTTPConflict",
                format!("{count} projects are named {name}; give the project ID instead."),
            ),
            TargetError::Store(e) => e.into(),
        }
    }
}

/// The policy middleware's view of Neutron's error shape.
pub struct NeutronErrors;

impl ErrorRenderer for NeutronErrors {
    fn render(&self, status: StatusCode, message: &str) -> Response {
        render(status, kind_for(status), message)
    }
}

ferrostack_common::json_extractor!(NetworkError);
