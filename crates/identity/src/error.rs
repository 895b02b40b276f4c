//! Keystone's error shape for every failure the identity service returns.
//!
//! The enum's plumbing (statuses, logging a 500's cause chain, the JSON
//! body rejection and extractor) is `ferrostack_common::service_error!`;
//! this file keeps Keystone's renderer (with its `WWW-Authenticate` on
//! 401) and the store-error mapping in Keystone's words.

use axum::response::{IntoResponse, Response};
use ferrostack_common::error::ErrorShape;
use ferrostack_identity_types::error::{ErrorBody, ErrorDetail};
use ferrostack_policy::Denial;
use ferrostack_store::StoreError;
use http::StatusCode;

ferrostack_common::service_error! {
    /// An identity API error. The message is safe to show the client.
    pub enum IdentityError, shape KeystoneErrors {
        /// 400.
        BadRequest => BAD_REQUEST,
        /// 401. Deliberately vague: never says which part of the credentials was wrong.
        Unauthorized => UNAUTHORIZED,
        /// 403.
        Forbidden => FORBIDDEN,
        /// 404.
        NotFound => NOT_FOUND,
        /// 409.
        Conflict => CONFLICT,
        /// 501: the route exists in Keystone's API but ferrostack does not serve it yet.
        NotImplemented => NOT_IMPLEMENTED,
    }
}

/// Result alias for identity handlers.
pub type IdResult<T> = Result<T, IdentityError>;

impl IdentityError {
    /// The standard 401 message.
    pub fn auth_required() -> Self {
        IdentityError::Unauthorized("The request you have made requires authentication.".into())
    }

    /// The standard 403 message.
    pub fn forbidden() -> Self {
        IdentityError::Forbidden("You are not authorized to perform the requested action.".into())
    }

    /// "Could not find {kind}: {id}."
    pub fn not_found(kind: &str, id: &str) -> Self {
        IdentityError::NotFound(format!("Could not find {kind}: {id}."))
    }

    /// Map a policy denial on a target of `kind` with `id`.
    pub fn denied(denial: Denial, kind: &str, id: &str) -> Self {
        match denial {
            Denial::NotFound => Self::not_found(kind, id),
            Denial::Forbidden => Self::forbidden(),
        }
    }
}

impl From<StoreError> for IdentityError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, id } => IdentityError::not_found(kind, &id),
            StoreError::Conflict(m) => IdentityError::Conflict(m),
            StoreError::Invalid(m) => IdentityError::BadRequest(m),
            other => IdentityError::internal(&other),
        }
    }
}

/// Render a Keystone error body.
pub fn render(status: StatusCode, message: &str) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            message: message.to_string(),
        },
    };
    let mut resp = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Keystone uri=\"/v3\""),
        );
    }
    resp
}

/// Keystone's error shape, for handlers and the policy layer alike.
pub struct KeystoneErrors;

impl ErrorShape for KeystoneErrors {
    const SERVICE: &'static str = "identity";
    const INTERNAL_MESSAGE: &'static str =
        "An unexpected error prevented the server from fulfilling your request.";
    fn render(status: StatusCode, message: &str) -> Response {
        render(status, message)
    }
}
