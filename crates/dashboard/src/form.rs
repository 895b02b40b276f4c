//! Reading form bodies so that bad input gets an answer in the dashboard's
//! own words and style, never axum's plain-text 422.
//!
//! Handlers take [`Form<T>`] instead of `axum::extract::Form<T>`. Fields a
//! person types numbers into are declared as strings and validated in the
//! handler (a message naming the field, shown on the form's own page);
//! this extractor is the net under everything else: a missing field or a
//! malformed body (a hand-made request, an outdated page) becomes a 400
//! page with the navigation, or `{"error": ...}` for the script's JSON
//! requests. Rejected: a `Result<Form<T>, FormRejection>` in every handler
//! (each one would have to remember to render it).

use crate::csrf::CurrentSession;
use crate::layout::{self, Ctx, Nav};
use crate::AppState;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{header, StatusCode};
use maud::html;
use serde::de::DeserializeOwned;
use serde_json::json;

/// A url-encoded form, rejected with a readable page.
#[derive(Debug)]
pub struct Form<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Form<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let session = req
            .extensions()
            .get::<CurrentSession>()
            .and_then(|c| c.0.clone());
        let wants_json = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"));
        match axum::extract::Form::<T>::from_request(req, state).await {
            Ok(axum::extract::Form(value)) => Ok(Form(value)),
            Err(rejection) => {
                let message = message(&rejection.body_text());
                if wants_json {
                    let body = Json(json!({ "error": message }));
                    return Err((StatusCode::BAD_REQUEST, body).into_response());
                }
                let ctx = session.and_then(|session| {
                    let auth = session.auth.clone()?;
                    Some(Ctx { session, auth })
                });
                let mut page = match ctx {
                    Some(ctx) => layout::page(
                        state,
                        &ctx,
                        "The form could not be read",
                        Nav::Other,
                        html! {
                            p.flash.error role="alert" { (message) }
                            p { "Go back, correct the form and send it again." }
                        },
                    ),
                    None => layout::bare_page("The form could not be read", &message),
                };
                *page.status_mut() = StatusCode::BAD_REQUEST;
                Err(page)
            }
        }
    }
}

/// A person's sentence for axum's rejection text, e.g. "Failed to
/// deserialize form body: missing field `name`".
pub fn message(rejection: &str) -> String {
    let detail = rejection
        .split_once(": ")
        .map_or(rejection, |(_, rest)| rest)
        .trim();
    if detail.is_empty() {
        "The form was incomplete or malformed.".to_string()
    } else {
        format!("The form was incomplete or malformed ({detail}).")
    }
}

/// A whole number typed into a form field, at least `min`; the error
/// names the field as the page labels it.
pub fn number(raw: &str, label: &str, min: i64) -> Result<i64, String> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= min)
        .ok_or_else(|| format!("{label} must be a whole number of at least {min}."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_text_becomes_a_sentence() {
        assert_eq!(
            message("Failed to deserialize form body: missing field `name`"),
            "The form was incomplete or malformed (missing field `name`)."
        );
        assert_eq!(message(""), "The form was incomplete or malformed.");
    }

    #[test]
    fn numbers_are_checked_with_the_field_named() {
        assert_eq!(number(" 4 ", "vCPUs", 1), Ok(4));
        assert_eq!(
            number("four", "vCPUs", 1),
            Err("vCPUs must be a whole number of at least 1.".to_string())
        );
        assert!(number("0", "vCPUs", 1).is_err());
        assert_eq!(number("0", "Disk (GB)", 0), Ok(0));
    }
}
