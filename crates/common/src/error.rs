//! The error pattern every service shares; only the body shape is its own.
//!
//! Each OpenStack API answers errors in a body of its own (Keystone's
//! `{"error": {...}}`, Nova's `{"itemNotFound": {...}}`, Neutron's
//! `{"NeutronError": {...}}`, ...), but what happens before the body is
//! written is the same everywhere: a status, a message safe to show the
//! client, and for a 500 a cause that goes to the log (with its whole
//! `source()` chain) while the client reads a generic sentence. That part
//! lives here, once:
//!
//! - [`ServiceError`]: the status + message core, or an internal cause.
//! - [`ErrorShape`]: what a service supplies, its renderer, its name for
//!   the log and its generic 500 message. The policy layer renders its
//!   401/403s through the same trait, so every error a service answers
//!   has the one shape.
//! - [`error_chain`]: an error and its sources on one line, for the log.
//! - [`service_error!`](crate::service_error): the per-service error enum
//!   (its variants name the statuses the service's handlers use), with
//!   `IntoResponse`, the JSON-body rejection and the `Json` extractor.
//!
//! A generic `ServiceError<Shape>` used directly by every service was
//! rejected: the conversions each service needs (`From<StoreError>`,
//! `From<QuotaError>`, with messages in that service's words) could not be
//! written in the service crates for a type defined here (the orphan
//! rule), and handlers match on variants. A macro-made enum per service
//! keeps those, and everything behind the variants is shared.

use axum::extract::rejection::JsonRejection;
use axum::response::Response;
pub use http::StatusCode;

/// What a service supplies to render its errors.
pub trait ErrorShape: Send + Sync + 'static {
    /// The service's name in log lines (`compute`, `block storage`, ...).
    const SERVICE: &'static str;
    /// What a client reads for a 500 (the cause goes to the log only).
    const INTERNAL_MESSAGE: &'static str;
    /// The service's error body for `status` with a client-safe `message`.
    fn render(status: StatusCode, message: &str) -> Response;
}

/// The shared core of every service's error: a status with a message the
/// client may read, or an internal failure whose cause only the log sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// Shown to the client as is.
    Shown {
        /// HTTP status.
        status: StatusCode,
        /// Client-safe message.
        message: String,
    },
    /// 500: `cause` (the whole chain) is logged, the client reads the
    /// service's [`ErrorShape::INTERNAL_MESSAGE`].
    Internal {
        /// What went wrong, for the log.
        cause: String,
    },
}

impl ServiceError {
    /// An error with `status` and a client-safe `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ServiceError::Shown {
            status,
            message: message.into(),
        }
    }

    /// An internal failure with `cause` for the log.
    pub fn internal(cause: impl Into<String>) -> Self {
        ServiceError::Internal {
            cause: cause.into(),
        }
    }

    /// An internal failure caused by `e` (its whole chain is logged).
    pub fn from_error(e: &dyn std::error::Error) -> Self {
        Self::internal(error_chain(e))
    }

    /// A rejected JSON body: status and a message that echoes no value.
    pub fn from_rejection(rejection: &JsonRejection) -> Self {
        let (status, message) = crate::json::describe_rejection(rejection);
        Self::new(status, message)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ServiceError::Shown { status, .. } => *status,
            ServiceError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response in `S`'s shape; an internal failure is logged here,
    /// once, with its cause.
    pub fn render<S: ErrorShape>(self) -> Response {
        match self {
            ServiceError::Shown { status, message } => S::render(status, &message),
            ServiceError::Internal { cause } => {
                tracing::error!(error = %cause, "{} request failed", S::SERVICE);
                S::render(StatusCode::INTERNAL_SERVER_ERROR, S::INTERNAL_MESSAGE)
            }
        }
    }
}

/// An error and its sources, one line (`outer: inner: root`), for the log.
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

/// Define a service's error enum over [`ServiceError`].
///
/// The service lists the variants its handlers use, each a client-safe
/// message with a fixed status; the macro adds `Status(StatusCode, String)`
/// for any other status and `Internal(String)` for a logged cause, and
/// implements `status()`, `internal(&dyn Error)`, `Display`, `Error`,
/// `IntoResponse` (rendered by the shape), `From<JsonRejection>` and the
/// service's `Json<T>` extractor ([`json_extractor!`](crate::json_extractor)).
///
/// ```ignore
/// ferrostack_common::service_error! {
///     /// A compute API error; the message is safe to show the client.
///     pub enum ComputeError, shape NovaErrors {
///         /// 400.
///         BadRequest => BAD_REQUEST,
///         /// 404.
///         NotFound => NOT_FOUND,
///     }
/// }
/// ```
#[macro_export]
macro_rules! service_error {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident, shape $shape:ty {
            $( $(#[$vmeta:meta])* $variant:ident => $status:ident, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant(String), )*
            /// Another status with a client-safe message (405, 413, 415, ...).
            Status($crate::error::StatusCode, String),
            /// 500: the cause is logged, the client reads a generic message.
            Internal(String),
        }

        impl $name {
            /// A 500 caused by `e`; its whole source chain goes to the log.
            pub fn internal(e: &dyn std::error::Error) -> Self {
                $name::Internal($crate::error::error_chain(e))
            }

            /// The HTTP status this error answers with.
            pub fn status(&self) -> $crate::error::StatusCode {
                match self {
                    $( $name::$variant(_) => $crate::error::StatusCode::$status, )*
                    $name::Status(s, _) => *s,
                    $name::Internal(_) => $crate::error::StatusCode::INTERNAL_SERVER_ERROR,
                }
            }

            /// The shared core of this error.
            pub fn into_service_error(self) -> $crate::error::ServiceError {
                let status = self.status();
                match self {
                    $( $name::$variant(m) => $crate::error::ServiceError::new(status, m), )*
                    $name::Status(_, m) => $crate::error::ServiceError::new(status, m),
                    $name::Internal(cause) => $crate::error::ServiceError::internal(cause),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $( $name::$variant(m) => f.write_str(m), )*
                    $name::Status(_, m) => f.write_str(m),
                    $name::Internal(_) => f.write_str("internal error"),
                }
            }
        }

        impl std::error::Error for $name {}

        impl axum::response::IntoResponse for $name {
            fn into_response(self) -> axum::response::Response {
                self.into_service_error().render::<$shape>()
            }
        }

        impl From<axum::extract::rejection::JsonRejection> for $name {
            fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
                let (status, message) = $crate::json::describe_rejection(&rejection);
                $name::Status(status, message)
            }
        }

        $crate::json_extractor!($name);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1
                .as_deref()
                .map(|l| l as &(dyn std::error::Error + 'static))
        }
    }

    struct Plain;

    impl ErrorShape for Plain {
        const SERVICE: &'static str = "test";
        const INTERNAL_MESSAGE: &'static str = "generic";
        fn render(status: StatusCode, message: &str) -> Response {
            (status, format!("{}:{message}", status.as_u16())).into_response()
        }
    }

    mod made {
        // The macro's `Json` extractor is not used by these tests.
        #![allow(dead_code)]
        crate::service_error! {
            /// A test service's error.
            pub enum TestError, shape super::Plain {
                /// 404.
                NotFound => NOT_FOUND,
            }
        }
    }
    use made::TestError;

    async fn body(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), 1024)
            .await
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn the_chain_names_every_cause_once() {
        let e = Layer(
            "saving",
            Some(Box::new(Layer(
                "writing",
                Some(Box::new(Layer("disk full", None))),
            ))),
        );
        assert_eq!(error_chain(&e), "saving: writing: disk full");
    }

    #[tokio::test]
    async fn internal_errors_show_only_the_generic_message() {
        let e = TestError::internal(&Layer("secret path /var/x", None));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body(r).await, "500:generic");
    }

    #[tokio::test]
    async fn variants_render_with_their_status() {
        let r = TestError::NotFound("no such thing".into()).into_response();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(body(r).await, "404:no such thing");
        let r = TestError::Status(StatusCode::CONFLICT, "busy".into()).into_response();
        assert_eq!(body(r).await, "409:busy");
    }
}
