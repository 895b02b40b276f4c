//! A JSON body extractor per service, so malformed bodies answer in that
//! service's error shape.
//!
//! axum's `Json` rejects bad bodies with its own plain-text responses; an
//! OpenStack client expects `{"error": ...}` from Keystone,
//! `{"badRequest": ...}` from Nova, and so on. [`json_extractor!`] defines a
//! `Json<T>` in the calling crate whose rejection is converted with
//! `From<axum::extract::rejection::JsonRejection>` on the service's error
//! type. [`describe_rejection`] turns the rejection into a status and a
//! message that never echoes values from the body (a mistyped password
//! field must not come back in an error or a log line).

use axum::extract::rejection::JsonRejection;
use http::StatusCode;

/// Status and client-safe message for a rejected JSON body.
pub fn describe_rejection(rejection: &JsonRejection) -> (StatusCode, String) {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected request with `Content-Type: application/json`.".to_string(),
        ),
        JsonRejection::JsonSyntaxError(e) => (
            StatusCode::BAD_REQUEST,
            format!("Malformed JSON in request body: {}", redact(&e.body_text())),
        ),
        JsonRejection::JsonDataError(e) => (
            StatusCode::BAD_REQUEST,
            format!("Invalid input in request body: {}", redact(&e.body_text())),
        ),
        JsonRejection::BytesRejection(e) => {
            let status = e.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                (
                    status,
                    "Request body is larger than this service accepts.".to_string(),
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    "Could not read the request body.".to_string(),
                )
            }
        }
        _ => (StatusCode::BAD_REQUEST, "Invalid request body.".to_string()),
    }
}

/// Replace every double-quoted span (serde quotes values it echoes) with `"…"`.
pub fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_quotes = false;
    for c in message.chars() {
        if c == '"' {
            if in_quotes {
                out.push_str("…\"");
            } else {
                out.push('"');
            }
            in_quotes = !in_quotes;
        } else if !in_quotes {
            out.push(c);
        }
    }
    out
}

/// Define `Json<T>`: a body extractor whose rejection becomes `$error`.
///
/// `$error` must implement `From<axum::extract::rejection::JsonRejection>`
/// and `axum::response::IntoResponse`.
#[macro_export]
macro_rules! json_extractor {
    ($error:ty) => {
        /// A JSON request body; a malformed one answers in this service's error shape.
        pub struct Json<T>(pub T);

        impl<T, S> axum::extract::FromRequest<S> for Json<T>
        where
            T: serde::de::DeserializeOwned,
            S: Send + Sync,
        {
            type Rejection = $error;

            async fn from_request(
                req: axum::extract::Request,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                match axum::Json::<T>::from_request(req, state).await {
                    Ok(axum::Json(value)) => Ok(Json(value)),
                    Err(rejection) => Err(<$error>::from(rejection)),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_quoted_values_but_keeps_field_names() {
        let m = "invalid type: string \"hunter2\", expected a boolean at line 1 column 30";
        assert_eq!(
            redact(m),
            "invalid type: string \"…\", expected a boolean at line 1 column 30"
        );
        assert_eq!(redact("unknown field `nam`"), "unknown field `nam`");
    }
}
