//! Keystone's error shape for every failure the identity service returns.

use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use ferrostack_identity_types::error::{ErrorBody, ErrorDetail};
use ferrostack_policy::{Denial, ErrorRenderer};
use ferrostack_store::StoreError;
use http::StatusCode;

/// An identity API error. The message is safe to show the client.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 401. Deliberately vague: never says which part of the credentials was wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// 403.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 413 / 415 and other statuses from body parsing.
    #[error("{1}")]
    Status(StatusCode, String),
    /// 501: the route exists in Keystone's API but ferrostack does not serve it yet.
    #[error("{0}")]
    NotImplemented(String),
    /// 500: logged with its cause, shown to the client as a generic message.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
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

    fn status(&self) -> StatusCode {
        match self {
            IdentityError::BadRequest(_) => StatusCode::BAD_REQUEST,
            IdentityError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            IdentityError::Forbidden(_) => StatusCode::FORBIDDEN,
            IdentityError::NotFound(_) => StatusCode::NOT_FOUND,
            IdentityError::Conflict(_) => StatusCode::CONFLICT,
            IdentityError::Status(s, _) => *s,
            IdentityError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            IdentityError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for IdentityError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, id } => IdentityError::not_found(kind, &id),
            StoreError::Conflict(m) => IdentityError::Conflict(m),
            StoreError::Invalid(m) => IdentityError::BadRequest(m),
            other => IdentityError::Internal(Box::new(other)),
        }
    }
}

impl From<JsonRejection> for IdentityError {
    fn from(rejection: JsonRejection) -> Self {
        let (status, message) = ferrostack_common::json::describe_rejection(&rejection);
        IdentityError::Status(status, message)
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

impl IntoResponse for IdentityError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let IdentityError::Internal(source) = &self {
            let mut chain = source.to_string();
            let mut next = source.source();
            while let Some(cause) = next {
                chain.push_str(": ");
                chain.push_str(&cause.to_string());
                next = cause.source();
            }
            tracing::error!(error = %chain, "identity request failed");
            return render(
                status,
                "An unexpected error prevented the server from fulfilling your request.",
            );
        }
        render(status, &self.to_string())
    }
}

/// The policy middleware's view of Keystone's error shape.
pub struct KeystoneErrors;

impl ErrorRenderer for KeystoneErrors {
    fn render(&self, status: StatusCode, message: &str) -> Response {
        render(status, message)
    }
}

ferrostack_common::json_extractor!(IdentityError);
