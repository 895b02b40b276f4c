//! Cross-site request forgery protection, and loading the session.
//!
//! Every request passes through [`protect`]: it looks the session cookie
//! up and puts the [`CurrentSession`] into the request's extensions. A
//! request that is not GET or HEAD must then carry the session's
//! synchronizer token, either in the `X-CSRF-Token` header (the script's
//! fetches and uploads) or in the `csrf` field of a url-encoded form; the
//! login form has one too, from its pre-login session. Anything else is
//! refused with 403 before a handler runs, so no handler can forget.
//! SameSite=Strict cookies already stop most cross-site posts; the token
//! is the defence that does not depend on the browser.

use crate::session::Session;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use subtle::ConstantTimeEq;

/// Header the script sends the token in.
pub const HEADER: &str = "x-csrf-token";
/// Form field the token is sent in.
pub const FIELD: &str = "csrf";
/// Largest form read to find the token (forms here are small).
const FORM_LIMIT: usize = 1 << 20;

/// The request's session, if its cookie names a live one.
#[derive(Clone, Debug)]
pub struct CurrentSession(pub Option<Session>);

/// Constant-time comparison of a presented token with the session's.
pub fn token_matches(session: &Session, presented: &str) -> bool {
    !presented.is_empty() && session.csrf.as_bytes().ct_eq(presented.as_bytes()).into()
}

/// The `csrf` field of a url-encoded body.
fn form_token(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v)
}

/// The middleware: load the session, refuse unsafe requests without the token.
pub async fn protect(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let session = crate::session::id_from_headers(req.headers(), state.tls)
        .and_then(|id| state.sessions.get(&id));
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    if !safe {
        let Some(session) = &session else {
            return refused("Your session has expired. Reload the page and try again.");
        };
        let header = req
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let ok = match header {
            Some(token) => token_matches(session, &token),
            None if is_form(&req) => {
                let (parts, body) = req.into_parts();
                let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
                    Ok(b) => b,
                    Err(_) => return refused("The form is too large."),
                };
                let ok = form_token(&bytes).is_some_and(|t| token_matches(session, &t));
                req = Request::from_parts(parts, Body::from(bytes));
                ok
            }
            None => false,
        };
        if !ok {
            return refused(
                "This request did not carry the form's security token. Reload the page and try again.",
            );
        }
    }
    req.extensions_mut().insert(CurrentSession(session));
    next.run(req).await
}

fn is_form(req: &Request) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn refused(message: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        crate::layout::bare_page("Request refused", message),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn form_token_is_found() {
        assert_eq!(form_token(b"a=1&csrf=abc%2B&b=2").as_deref(), Some("abc+"));
        assert_eq!(form_token(b"a=1"), None);
    }

    #[test]
    fn empty_or_wrong_tokens_do_not_match() {
        let s = crate::session::Sessions::default().create_anonymous();
        assert!(token_matches(&s, &s.csrf.clone()));
        assert!(!token_matches(&s, ""));
        assert!(!token_matches(&s, "nope"));
    }
}
