//! Neutron's error shape: `{"NeutronError": {"type", "message", "detail"}}`,
//! where `type` is the name of the exception Neutron would raise.
//!
//! 401 is answered in Keystone's shape, as keystonemiddleware does in
//! front of a real Neutron.
//!
//! Not an enum made by `ferrostack_common::service_error!` like the other
//! services': a Neutron error also names an exception type, so the shared
//! [`ServiceError`] core is carried beside it.

use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use ferrostack_common::error::{ErrorShape, ServiceError};
use ferrostack_quota::{QuotaError, TargetError};
use ferrostack_store::network::NetworkConflict;
use ferrostack_store::router::RouterConflict;
use ferrostack_store::StoreError;
use http::StatusCode;
use serde_json::json;

/// A network API error: Neutron's exception type over the shared core
/// (status and client-safe message, or a logged internal cause).
#[derive(Debug)]
pub struct NetworkError {
    /// Neutron's exception name (`HTTPBadRequest`, `InvalidInput`, ...).
    pub kind: &'static str,
    /// Status and message, or the cause of a 500.
    pub error: ServiceError,
}

/// Result alias for network handlers.
pub type NetworkResult<T> = Result<T, NetworkError>;

impl NetworkError {
    /// An error of `status` and `kind`.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        NetworkError {
            kind,
            error: ServiceError::new(status, message),
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

    /// 404 of `kind` (`NetworkNotFound`, ...).
    pub fn not_found(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, kind, message)
    }

    /// 409 of `kind`.
    pub fn conflict(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, kind, message)
    }

    /// 403 `HTTPForbidden`, as Neutron's policy engine words it.
    pub fn policy(rule: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "HTTPForbidden",
            format!("({rule}) is disallowed by policy"),
        )
    }

    /// 400 `InvalidInput` with Neutron's "for operation" wording.
    pub fn invalid_operation(reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            format!("Invalid input for operation: {reason}."),
        )
    }

    /// 500 `HTTPInternalServerError`: `cause` is logged, the client reads
    /// a generic message.
    pub fn internal(cause: String) -> Self {
        NetworkError {
            kind: "HTTPInternalServerError",
            error: ServiceError::internal(cause),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.error.status()
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
        match self.error {
            ServiceError::Shown { status, message } => render(status, self.kind, &message),
            internal @ ServiceError::Internal { .. } => internal.render::<NeutronErrors>(),
        }
    }
}

impl From<JsonRejection> for NetworkError {
    fn from(rejection: JsonRejection) -> Self {
        let error = ServiceError::from_rejection(&rejection);
        NetworkError {
            kind: kind_for(error.status()),
            error,
        }
    }
}

impl std::fmt::Display for NetworkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            ServiceError::Shown { message, .. } => write!(f, "{}: {message}", self.kind),
            ServiceError::Internal { cause } => write!(f, "{}: {cause}", self.kind),
        }
    }
}

/// So a check the service runs inside a store transaction can refuse
/// with Neutron's own error, which comes back out unchanged (see
/// `From<StoreError>`).
impl std::error::Error for NetworkError {}

impl From<StoreError> for NetworkError {
    fn from(e: StoreError) -> Self {
        if let Some(c) = e.network_conflict() {
            return c.clone().into();
        }
        if let Some(c) = e.router_conflict() {
            return c.clone().into();
        }
        match e {
            StoreError::Refused(inner) => match inner.downcast::<NetworkError>() {
                Ok(own) => *own,
                Err(other) => NetworkError::internal(ferrostack_common::error::error_chain(
                    &StoreError::Refused(other),
                )),
            },
            StoreError::NotFound { kind, id } => match kind {
                "router" => crate::attrs::not_found("RouterNotFound", "Router", &id),
                "port" => crate::attrs::not_found("PortNotFound", "Port", &id),
                "subnet" => crate::attrs::not_found("SubnetNotFound", "Subnet", &id),
                _ => NetworkError::internal(format!("{kind} {id} not found")),
            },
            other => NetworkError::internal(ferrostack_common::error::error_chain(&other)),
        }
    }
}

impl From<RouterConflict> for NetworkError {
    fn from(c: RouterConflict) -> Self {
        let message = c.to_string();
        match c {
            RouterConflict::RouterInUse { .. } => NetworkError::conflict("RouterInUse", message),
            RouterConflict::PortInUse { .. } => NetworkError::conflict("PortInUse", message),
            RouterConflict::InterfaceNotFound { .. } => {
                NetworkError::not_found("RouterInterfaceNotFound", message)
            }
            RouterConflict::InterfaceNotFoundForSubnet { .. } => {
                NetworkError::not_found("RouterInterfaceNotFoundForSubnet", message)
            }
        }
    }
}

impl From<NetworkConflict> for NetworkError {
    fn from(c: NetworkConflict) -> Self {
        let message = c.to_string();
        let kind = match &c {
            NetworkConflict::IpAddressAlreadyAllocated { .. } => "IpAddressAlreadyAllocated",
            NetworkConflict::IpAddressGenerationFailure { .. } => "IpAddressGenerationFailure",
            NetworkConflict::MacAddressInUse { .. } => "MacAddressInUse",
            NetworkConflict::NetworkInUse { .. } => "NetworkInUse",
            NetworkConflict::SubnetInUse { .. } => "SubnetInUse",
            NetworkConflict::NoNetworkAvailable => {
                return NetworkError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "NoNetworkAvailable",
                    message,
                )
            }
            NetworkConflict::SegmentInUse {
                network_type,
                physical_network,
                segmentation_id,
            } => {
                return match network_type.as_str() {
                    "flat" => NetworkError::conflict(
                        "FlatNetworkInUse",
                        format!("Unable to create the flat network. Physical network {physical_network} is in use."),
                    ),
                    "vlan" => NetworkError::conflict(
                        "VlanIdInUse",
                        format!("Unable to create the network. The VLAN {segmentation_id} on physical network {physical_network} is in use."),
                    ),
                    _ => NetworkError::conflict(
                        "TunnelIdInUse",
                        format!("Unable to create the network. The tunnel ID {segmentation_id} is in use."),
                    ),
                }
            }
        };
        NetworkError::conflict(kind, message)
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
            // Neutron has no per-user quotas; kept for completeness.
            QuotaError::AboveProject {
                resource,
                limit,
                maximum,
            } => NetworkError::new(
                StatusCode::BAD_REQUEST,
                "InvalidQuotaValue",
                format!("Quota limit {limit} for {resource} must be at most {maximum}."),
            ),
            QuotaError::OverQuota(overages) => {
                // Neutron formats the sorted Python list: `['port']`.
                let mut names: Vec<String> = overages
                    .iter()
                    .map(|o| format!("'{}'", o.resource))
                    .collect();
                names.sort();
                NetworkError::new(
                    StatusCode::CONFLICT,
                    "OverQuota",
                    format!("Quota exceeded for resources: [{}].", names.join(", ")),
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

/// Neutron's error shape, for handlers and the policy layer alike; a bare
/// status gets the exception name Neutron reports for it.
pub struct NeutronErrors;

impl ErrorShape for NeutronErrors {
    const SERVICE: &'static str = "network";
    const INTERNAL_MESSAGE: &'static str =
        "Request Failed: internal server error while processing your request.";
    fn render(status: StatusCode, message: &str) -> Response {
        render(status, kind_for(status), message)
    }
}

ferrostack_common::json_extractor!(NetworkError);
