//! Server-side sessions: the browser holds an opaque random id, the
//! Keystone token stays here.
//!
//! ```text
//!  GET /login ──> anonymous session (CSRF token only, 30 min)
//!  POST /login ─> new id, authenticated session (expires with the token)
//!  POST /logout ─> token revoked, session dropped
//! ```
//!
//! Logging in always issues a *new* id (no session fixation). Sessions are
//! kept in memory behind a mutex: a dashboard has few users, and a restart
//! of the controller simply asks everyone to log in again. Expired
//! sessions are swept at most once a minute, when a session is created.
//! Rejected: signed cookies carrying the token (the token would reach the
//! browser, and logout could not drop it).

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a login form stays usable.
const ANONYMOUS_TTL: Duration = Duration::minutes(30);
/// The most pre-login sessions kept at once.
const MAX_ANONYMOUS: usize = 10_000;

/// The session cookie's name (`__Host-` under TLS: the browser then
/// insists on Secure, Path=/ and no Domain).
pub fn cookie_name(tls: bool) -> &'static str {
    if tls {
        "__Host-fs_session"
    } else {
        "fs_session"
    }
}

/// The `Set-Cookie` value that hands `id` to the browser.
pub fn set_cookie(tls: bool, id: &str) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Strict{secure}",
        cookie_name(tls)
    )
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(tls: bool) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
        cookie_name(tls)
    )
}

/// The session id in a request's `Cookie` headers, if any.
pub fn id_from_headers(headers: &http::HeaderMap, tls: bool) -> Option<String> {
    let name = cookie_name(tls);
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A 256-bit random value, hex encoded.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A project the user may switch to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectRef {
    /// Project id.
    pub id: String,
    /// Project name.
    pub name: String,
}

/// What a logged-in session knows. The tokens never leave the server.
#[derive(Clone)]
pub struct Auth {
    /// The project-scoped token used for every API call.
    pub token: String,
    /// The unscoped token, kept to rescope when switching projects.
    pub unscoped_token: String,
    /// User id.
    pub user_id: String,
    /// User name.
    pub user_name: String,
    /// The current project.
    pub project: ProjectRef,
    /// Projects the user has a role on.
    pub projects: Vec<ProjectRef>,
    /// Role names on the current project.
    pub roles: Vec<String>,
    /// When the token (and so the session) expires.
    pub expires_at: DateTime<Utc>,
}

impl Auth {
    /// Cloud admin (the `admin` role), as the APIs' policy treats it.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }
}

impl std::fmt::Debug for Auth {
    // Tokens are redacted so a stray `{:?}` cannot log them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("user_name", &self.user_name)
            .field("project", &self.project)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A message shown once on the next page (Post/Redirect/Get).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    /// `true` for an error, `false` for a success.
    pub error: bool,
    /// The text.
    pub text: String,
}

/// One session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The opaque id in the cookie.
    pub id: String,
    /// The synchronizer token every form and state-changing request carries.
    pub csrf: String,
    /// Logged in: the tokens and identity.
    pub auth: Option<Arc<Auth>>,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
    flash: Option<Flash>,
}

/// The session table.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    map: HashMap<String, Session>,
    last_sweep: Option<DateTime<Utc>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock leaves a consistent map.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insert(&self, session: Session) -> Session {
        let now = Utc::now();
        let mut table = self.lock();
        if table
            .last_sweep
            .is_none_or(|t| now - t > Duration::minutes(1))
        {
            table.map.retain(|_, s| s.expires_at > now);
            table.last_sweep = Some(now);
        }
        if session.auth.is_none() {
            // Anyone can create pre-login sessions (one per login form
            // shown), so their number is capped: past the cap the oldest
            // one goes, and its holder just sees the form again.
            let anonymous = table.map.values().filter(|s| s.auth.is_none()).count();
            if anonymous >= MAX_ANONYMOUS {
                let oldest = table
                    .map
                    .values()
                    .filter(|s| s.auth.is_none())
                    .min_by_key(|s| s.expires_at)
                    .map(|s| s.id.clone());
                if let Some(id) = oldest {
                    table.map.remove(&id);
                }
            }
        }
        table.map.insert(session.id.clone(), session.clone());
        session
    }

    /// A new pre-login session (for the login form's CSRF token).
    pub fn create_anonymous(&self) -> Session {
        self.insert(Session {
            id: random_token(),
            csrf: random_token(),
            auth: None,
            expires_at: Utc::now() + ANONYMOUS_TTL,
            flash: None,
        })
    }

    /// A new logged-in session under a fresh id.
    pub fn create_authenticated(&self, auth: Auth) -> Session {
        self.insert(Session {
            id: random_token(),
            csrf: random_token(),
            expires_at: auth.expires_at,
            auth: Some(Arc::new(auth)),
            flash: None,
        })
    }

    /// The live session with this id (an expired one is dropped).
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut table = self.lock();
        let session = table.map.get(id)?;
        if session.expires_at <= Utc::now() {
            table.map.remove(id);
            return None;
        }
        Some(session.clone())
    }

    /// Replace the auth of a session (project switch).
    pub fn set_auth(&self, id: &str, auth: Auth) {
        if let Some(s) = self.lock().map.get_mut(id) {
            s.expires_at = auth.expires_at;
            s.auth = Some(Arc::new(auth));
        }
    }

    /// Drop a session, returning it.
    pub fn remove(&self, id: &str) -> Option<Session> {
        self.lock().map.remove(id)
    }

    /// Leave a message for the next page.
    pub fn set_flash(&self, id: &str, flash: Flash) {
        if let Some(s) = self.lock().map.get_mut(id) {
            s.flash = Some(flash);
        }
    }

    /// Take the pending message, if any.
    pub fn take_flash(&self, id: &str) -> Option<Flash> {
        self.lock().map.get_mut(id).and_then(|s| s.flash.take())
    }

    /// Number of live entries (tests).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// No sessions at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn auth(expires_at: DateTime<Utc>) -> Auth {
        let p = ProjectRef {
            id: "p".into(),
            name: "demo".into(),
        };
        Auth {
            token: "secret-token".into(),
            unscoped_token: "secret-unscoped".into(),
            user_id: "u".into(),
            user_name: "alice".into(),
            project: p.clone(),
            projects: vec![p],
            roles: vec!["member".into()],
            expires_at,
        }
    }

    #[test]
    fn cookie_attributes() {
        let plain = set_cookie(false, "abc");
        assert_eq!(plain, "fs_session=abc; Path=/; HttpOnly; SameSite=Strict");
        let tls = set_cookie(true, "abc");
        assert!(tls.starts_with("__Host-fs_session=abc;"));
        assert!(tls.contains("; Secure") && tls.contains("HttpOnly"));
        assert!(clear_cookie(true).contains("Max-Age=0"));
    }

    #[test]
    fn ids_are_random_and_long() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn login_issues_a_new_id_and_expiry_follows_the_token() {
        let sessions = Sessions::default();
        let anon = sessions.create_anonymous();
        let expires = Utc::now() + Duration::minutes(5);
        let s = sessions.create_authenticated(auth(expires));
        assert_ne!(anon.id, s.id);
        assert_ne!(anon.csrf, s.csrf);
        assert_eq!(sessions.get(&s.id).unwrap().expires_at, expires);
    }

    #[test]
    fn expired_sessions_are_gone() {
        let sessions = Sessions::default();
        let s = sessions.create_authenticated(auth(Utc::now() - Duration::seconds(1)));
        assert!(sessions.get(&s.id).is_none());
        assert!(sessions.is_empty());
    }

    #[test]
    fn pre_login_sessions_are_capped_and_logged_in_ones_kept() {
        let sessions = Sessions::default();
        let user = sessions.create_authenticated(auth(Utc::now() + Duration::hours(1)));
        let first = sessions.create_anonymous();
        for _ in 0..MAX_ANONYMOUS {
            sessions.create_anonymous();
        }
        assert_eq!(sessions.len(), MAX_ANONYMOUS + 1);
        assert!(sessions.get(&first.id).is_none(), "the oldest went");
        assert!(
            sessions.get(&user.id).is_some(),
            "a logged-in session stays"
        );
    }

    #[test]
    fn flash_is_shown_once() {
        let sessions = Sessions::default();
        let s = sessions.create_anonymous();
        let flash = Flash {
            error: true,
            text: "no".into(),
        };
        sessions.set_flash(&s.id, flash.clone());
        assert_eq!(sessions.take_flash(&s.id), Some(flash));
        assert_eq!(sessions.take_flash(&s.id), None);
    }

    #[test]
    fn debug_never_shows_tokens() {
        let shown = format!("{:?}", auth(Utc::now()));
        assert!(!shown.contains("secret"));
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            "a=1; fs_session=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(id_from_headers(&h, false).as_deref(), Some("xyz"));
        assert_eq!(id_from_headers(&h, true), None);
    }
}
