//! Login, logout and the project switcher.
//!
//! The login form is protected like every other form: GET /login creates a
//! pre-login session whose CSRF token the form carries. A successful login
//! replaces it with a new session under a new id. Logout revokes both
//! tokens (the scoped one and the unscoped one kept for switching) before
//! the session is dropped. Passwords are passed on, never logged or kept.

use crate::csrf::CurrentSession;
use crate::form::Form;
use crate::layout::{self, Ctx};
use crate::session::{self, Flash, Session};
use crate::AppState;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use http::header;
use maud::{html, DOCTYPE};
use serde::Deserialize;

/// GET /login.
pub async fn form(
    State(state): State<AppState>,
    Extension(current): Extension<CurrentSession>,
) -> Response {
    match current.0 {
        Some(s) if s.auth.is_some() => layout::see_other("/"),
        Some(s) => {
            let flash = state.sessions.take_flash(&s.id);
            login_page(&s, flash.as_ref(), "", None)
        }
        None => {
            let s = state.sessions.create_anonymous();
            let mut r = login_page(&s, None, "", None);
            set_cookie(&mut r, &session::set_cookie(state.tls, &s.id));
            r
        }
    }
}

fn set_cookie(r: &mut Response, value: &str) {
    if let Ok(v) = value.parse() {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn login_page(s: &Session, flash: Option<&Flash>, user: &str, domain: Option<&str>) -> Response {
    let domain = domain.unwrap_or("Default");
    layout::html_response(html! {
        (DOCTYPE)
        html lang="en" {
            (layout::head("Log in", Some(&s.csrf)))
            body.bare {
                main #main.card {
                    h1 { "Log in to ferrostack" }
                    (layout::flash_box(flash))
                    form method="post" action="/login" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        label for="username" { "User name" }
                        input #username name="username" type="text" autocomplete="username" required autofocus value=(user);
                        label for="password" { "Password" }
                        input #password name="password" type="password" autocomplete="current-password" required;
                        label for="domain" { "Domain" }
                        input #domain name="domain" type="text" required value=(domain);
                        button type="submit" { "Log in" }
                    }
                }
            }
        }
    })
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    domain: String,
}

/// POST /login.
pub async fn submit(
    State(state): State<AppState>,
    Extension(current): Extension<CurrentSession>,
    Form(f): Form<LoginForm>,
) -> Response {
    // The CSRF layer guarantees a session here.
    let Some(pre) = current.0 else {
        return layout::to_login();
    };
    let domain = if f.domain.trim().is_empty() {
        "Default"
    } else {
        f.domain.trim()
    };
    match state
        .api
        .login(f.username.trim(), &f.password, domain)
        .await
    {
        Ok(auth) => {
            tracing::info!(user = %auth.user_name, "dashboard login");
            if let Some(old) = state.sessions.remove(&pre.id) {
                revoke_all(&state, &old).await;
            }
            let s = state.sessions.create_authenticated(auth);
            let mut r = layout::see_other("/");
            set_cookie(&mut r, &session::set_cookie(state.tls, &s.id));
            r
        }
        Err(e) => {
            let flash = Flash {
                error: true,
                text: e.message,
            };
            let mut r = login_page(&pre, Some(&flash), f.username.trim(), Some(domain));
            *r.status_mut() = if e.status == 401 {
                http::StatusCode::UNAUTHORIZED
            } else {
                http::StatusCode::OK
            };
            r
        }
    }
}

async fn revoke_all(state: &AppState, s: &Session) {
    if let Some(auth) = &s.auth {
        for token in [&auth.token, &auth.unscoped_token] {
            if let Err(e) = state.api.revoke(token).await {
                tracing::debug!(error = %e, "dashboard: token revocation failed");
            }
        }
    }
}

/// POST /logout: revoke the tokens, drop the session, clear the cookie.
pub async fn logout(State(state): State<AppState>, ctx: Ctx) -> Response {
    if let Some(s) = state.sessions.remove(&ctx.session.id) {
        revoke_all(&state, &s).await;
    }
    let mut r = layout::see_other("/login");
    set_cookie(&mut r, &session::clear_cookie(state.tls));
    r
}

/// The switcher's field.
#[derive(Deserialize)]
pub struct SwitchForm {
    project_id: String,
}

/// POST /project: rescope to another of the user's projects.
pub async fn switch_project(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<SwitchForm>,
) -> Response {
    let auth = &ctx.auth;
    // Refresh the list: projects granted since login appear.
    let projects = match state.api.auth_projects(&auth.unscoped_token).await {
        Ok(p) => p,
        Err(e) => return layout::done(&state, &ctx, Err(e), "/"),
    };
    match state
        .api
        .rescope(auth.unscoped_token.clone(), projects, &f.project_id)
        .await
    {
        Ok(new) => {
            let old = auth.token.clone();
            let name = new.project.name.clone();
            state.sessions.set_auth(&ctx.session.id, new);
            if let Err(e) = state.api.revoke(&old).await {
                tracing::debug!(error = %e, "dashboard: old token revocation failed");
            }
            layout::done(
                &state,
                &ctx,
                Ok(format!("Now working in project {name}.")),
                "/",
            )
        }
        Err(e) => layout::done(&state, &ctx, Err(e), "/"),
    }
    .into_response()
}
