//! The page frame every screen shares, and the small helpers handlers use:
//! the logged-in extractor, redirects with a one-time message, CSRF fields,
//! and the embedded assets.
//!
//! Navigation has the project's sections (compute, network, storage) for
//! everyone. Admin entries appear only for tokens with the admin role (the
//! APIs refuse others anyway; hiding them just avoids dead ends).

use crate::api_client::ApiError;
use crate::csrf::CurrentSession;
use crate::session::{Auth, Flash, Session};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::request::Parts;
use http::{header, StatusCode};
use maud::{html, Markup, DOCTYPE};
use std::sync::Arc;

const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/app.js");

/// A logged-in request: its session and auth.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The session (id, CSRF token).
    pub session: Session,
    /// Tokens and identity.
    pub auth: Arc<Auth>,
}

impl Ctx {
    /// The scoped token for API calls.
    pub fn token(&self) -> &str {
        &self.auth.token
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        let session = parts
            .extensions
            .get::<CurrentSession>()
            .and_then(|c| c.0.clone());
        match session {
            Some(session) => match session.auth.clone() {
                Some(auth) => Ok(Ctx { session, auth }),
                None => Err(to_login()),
            },
            None => Err(to_login()),
        }
    }
}

/// Redirect to the login page.
pub fn to_login() -> Response {
    Redirect::to("/login").into_response()
}

/// 303 to `to`.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// After a form: remember the outcome for the next page and redirect.
/// An expired token ends the session instead.
pub fn done(state: &AppState, ctx: &Ctx, result: Result<String, ApiError>, to: &str) -> Response {
    match result {
        Err(e) if e.is_unauthorized() => logged_out(state, ctx),
        Err(e) => {
            let text = e.message;
            state
                .sessions
                .set_flash(&ctx.session.id, Flash { error: true, text });
            see_other(to)
        }
        Ok(text) => {
            state
                .sessions
                .set_flash(&ctx.session.id, Flash { error: false, text });
            see_other(to)
        }
    }
}

/// The token stopped working: drop the session and go to the login page.
pub fn logged_out(state: &AppState, ctx: &Ctx) -> Response {
    state.sessions.remove(&ctx.session.id);
    to_login()
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.session.csrf); }
}

/// A one-button form posting to `action`, optionally confirmed first.
pub fn post_button(ctx: &Ctx, action: &str, label: &str, confirm: Option<&str>) -> Markup {
    html! {
        form.inline method="post" action=(action) data-confirm=[confirm] {
            (csrf_field(ctx))
            button type="submit" class=@if confirm.is_some() { "danger" } @else { "secondary" } { (label) }
        }
    }
}

/// Navigation entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    /// Overview.
    Overview,
    /// Instances.
    Instances,
    /// Images.
    Images,
    /// Key pairs.
    Keypairs,
    /// Networks (with their subnets and ports).
    Networks,
    /// Security groups.
    SecurityGroups,
    /// Routers (with their gateway, interfaces and routes).
    Routers,
    /// Floating IPs.
    FloatingIps,
    /// The network topology picture.
    Topology,
    /// Volumes.
    Volumes,
    /// Volume snapshots.
    VolumeSnapshots,
    /// Volume backups.
    Backups,
    /// Flavors (admin).
    Flavors,
    /// Projects (admin).
    Projects,
    /// Users (admin).
    Users,
    /// Roles (admin).
    Roles,
    /// A page outside the navigation (an error about a form).
    Other,
}

fn nav_link(active: Nav, me: Nav, href: &str, label: &str) -> Markup {
    html! {
        li { a href=(href) aria-current=[(active == me).then_some("page")] { (label) } }
    }
}

/// A whole page for a logged-in user, with the pending message shown.
pub fn page(state: &AppState, ctx: &Ctx, title: &str, active: Nav, content: Markup) -> Response {
    let flash = state.sessions.take_flash(&ctx.session.id);
    let auth = &ctx.auth;
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, Some(&ctx.session.csrf)))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "ferrostack" }
                    form.switcher method="post" action="/project" {
                        (csrf_field(ctx))
                        label for="project-switch" { "Project" }
                        select #project-switch name="project_id" data-autosubmit {
                            @for p in &auth.projects {
                                option value=(p.id) selected[p.id == auth.project.id] { (p.name) }
                            }
                        }
                        button.secondary type="submit" { "Switch" }
                    }
                    span.user { "Signed in as " strong { (auth.user_name) } }
                    form.inline method="post" action="/logout" {
                        (csrf_field(ctx))
                        button.secondary type="submit" { "Log out" }
                    }
                }
                div.shell {
                    nav aria-label="Main" {
                        h2 { "Project" }
                        ul {
                            (nav_link(active, Nav::Overview, "/", "Overview"))
                            (nav_link(active, Nav::Instances, "/instances", "Instances"))
                            (nav_link(active, Nav::Images, "/images", "Images"))
                            (nav_link(active, Nav::Keypairs, "/keypairs", "Key pairs"))
                        }
                        h2 { "Network" }
                        ul {
                            (nav_link(active, Nav::Topology, "/topology", "Network topology"))
                            (nav_link(active, Nav::Networks, "/networks", "Networks"))
                            (nav_link(active, Nav::Routers, "/routers", "Routers"))
                            (nav_link(active, Nav::FloatingIps, "/floating-ips", "Floating IPs"))
                            (nav_link(active, Nav::SecurityGroups, "/security-groups", "Security groups"))
                        }
                        h2 { "Storage" }
                        ul {
                            (nav_link(active, Nav::Volumes, "/volumes", "Volumes"))
                            (nav_link(active, Nav::VolumeSnapshots, "/volume-snapshots", "Volume snapshots"))
                            (nav_link(active, Nav::Backups, "/volume-backups", "Backups"))
                        }
                        @if auth.is_admin() {
                            h2 { "Admin" }
                            ul {
                                (nav_link(active, Nav::Flavors, "/flavors", "Flavors"))
                                (nav_link(active, Nav::Projects, "/identity/projects", "Projects"))
                                (nav_link(active, Nav::Users, "/identity/users", "Users"))
                                (nav_link(active, Nav::Roles, "/identity/roles", "Role assignments"))
                            }
                        }
                    }
                    main #main {
                        h1 { (title) }
                        (flash_box(flash.as_ref()))
                        (content)
                    }
                }
            }
        }
    };
    html_response(markup)
}

/// The message box (error or success), if there is a message.
pub fn flash_box(flash: Option<&Flash>) -> Markup {
    html! {
        @if let Some(f) = flash {
            @if f.error {
                p.flash.error role="alert" { (f.text) }
            } @else {
                p.flash.ok role="status" { (f.text) }
            }
        }
    }
}

/// `<head>`: the token for scripts is in a meta tag.
pub fn head(title: &str, csrf: Option<&str>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            @if let Some(token) = csrf { meta name="csrf-token" content=(token); }
            title { (title) " – ferrostack" }
            link rel="stylesheet" href="/static/app.css";
            script src="/static/app.js" defer {}
        }
    }
}

/// A minimal page without navigation (errors, the login page's frame).
pub fn bare_page(title: &str, message: &str) -> Response {
    html_response(html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, None))
            body.bare {
                main #main.card {
                    h1 { (title) }
                    p { (message) }
                    p { a href="/" { "Back to the dashboard" } }
                }
            }
        }
    })
}

/// HTML that is never cached (pages show live state and CSRF tokens).
pub fn html_response(markup: Markup) -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "same-origin"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
            ),
        ],
        Html(markup.into_string()),
    )
        .into_response()
}

/// A page's data could not be read: the page with the reason instead.
pub fn error_page(state: &AppState, ctx: &Ctx, title: &str, active: Nav, e: ApiError) -> Response {
    if e.is_unauthorized() {
        return logged_out(state, ctx);
    }
    page(
        state,
        ctx,
        title,
        active,
        html! { p.flash.error role="alert" { (e.message) } },
    )
}

/// `/static/app.css`.
pub async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

/// `/static/app.js`.
pub async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// Unknown paths.
pub async fn not_found() -> Response {
    let mut r = bare_page("Not found", "There is no such page.");
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}
