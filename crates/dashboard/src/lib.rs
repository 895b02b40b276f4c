//! The ferrostack dashboard: log in from a browser and run the cloud, as
//! Horizon does for OpenStack, served by the same binary.
//!
//! The dashboard is a *client* of the public OpenStack APIs. Every page is
//! rendered on the server from API calls made with the logged-in user's own
//! token (`api_client`), over HTTP to the identity, compute, image,
//! network and block storage listeners. It never reads the database or calls a service object, so
//! what a user may see and do is exactly what the API's policy allows; a
//! side door would have to re-implement that policy and would drift.
//!
//! Pages are complete HTML from one round trip (the server calls the APIs,
//! in parallel where a page needs several); a single embedded script adds
//! status polling, upload progress and confirmation dialogs. Assets are
//! compiled in, so nothing is fetched from elsewhere at run time. HTML is
//! written with `maud`, which escapes every interpolated value: no page
//! formats user data into markup by hand.
//!
//! Sessions live in memory (`session`): the browser holds only an opaque
//! random id in an HttpOnly, SameSite=Strict cookie (Secure under TLS) and
//! the Keystone token stays on the server. A controller restart therefore
//! means logging in again. Every state-changing request must carry the
//! session's synchronizer token (`csrf`).

pub mod api_client;
pub mod csrf;
pub mod form;
pub mod layout;
pub mod pages;
pub mod session;
mod tls;

pub use tls::{load_tls, TlsError};

use axum::routing::{get, post, put};
use axum::Router;
use std::sync::Arc;

/// Where the dashboard finds the APIs, and how it is served.
#[derive(Clone, Debug)]
pub struct DashboardConfig {
    /// Identity base URL, without `/v3` (e.g. `http://127.0.0.1:5000`).
    pub identity_url: String,
    /// Compute base URL, without `/v2.1`.
    pub compute_url: String,
    /// Image base URL, without `/v2`.
    pub image_url: String,
    /// Network base URL, without `/v2.0`.
    pub network_url: String,
    /// Block storage base URL, without `/v3` (e.g. `http://127.0.0.1:8776`).
    pub volume_url: String,
    /// Served over TLS: cookies get `Secure` and the `__Host-` prefix.
    pub tls: bool,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The API client.
    pub api: Arc<api_client::ApiClient>,
    /// Logged-in (and pre-login) sessions.
    pub sessions: Arc<session::Sessions>,
    /// Whether cookies are marked Secure.
    pub tls: bool,
}

/// The dashboard's router.
pub fn router(config: DashboardConfig) -> Router {
    let state = AppState {
        api: Arc::new(api_client::ApiClient::new(&api_client::BaseUrls {
            identity: config.identity_url,
            compute: config.compute_url,
            image: config.image_url,
            network: config.network_url,
            volume: config.volume_url,
        })),
        sessions: Arc::new(session::Sessions::default()),
        tls: config.tls,
    };
    router_with_state(state)
}

/// The router over an existing state (tests inspect the sessions).
pub fn router_with_state(state: AppState) -> Router {
    use pages::*;
    Router::new()
        .route("/", get(overview::page))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/project", post(login::switch_project))
        .route("/instances", get(instances::list).post(instances::launch))
        .route("/instances/status", get(instances::status))
        .route("/instances/{id}", get(instances::detail))
        .route("/instances/{id}/status", get(instances::detail_status))
        .route("/instances/{id}/action", post(instances::action))
        .route("/instances/{id}/delete", post(instances::delete))
        .route("/images", get(images::list).post(images::create))
        .route("/images/{id}/file", put(images::upload))
        .route("/images/{id}/delete", post(images::delete))
        .route("/keypairs", get(keypairs::list))
        .route("/keypairs/create", post(keypairs::create))
        .route("/keypairs/import", post(keypairs::import))
        .route("/keypairs/{name}/delete", post(keypairs::delete))
        .route("/networks", get(networks::list).post(networks::create))
        .route("/networks/{id}", get(networks::detail))
        .route("/networks/{id}/delete", post(networks::delete))
        .route("/networks/{id}/ports", post(ports::create))
        .route("/networks/{id}/ports/{port}/delete", post(ports::delete))
        .route("/routers", get(routers::list).post(routers::create))
        .route("/routers/{id}", get(routers::detail))
        .route("/routers/{id}/delete", post(routers::delete))
        .route("/routers/{id}/gateway", post(routers::set_gateway))
        .route("/routers/{id}/gateway/clear", post(routers::clear_gateway))
        .route("/routers/{id}/interfaces", post(routers::add_interface))
        .route(
            "/routers/{id}/interfaces/{port}/remove",
            post(routers::remove_interface),
        )
        .route("/routers/{id}/routes", post(routers::add_route))
        .route("/routers/{id}/routes/remove", post(routers::remove_route))
        .route(
            "/floating-ips",
            get(floating_ips::list).post(floating_ips::allocate),
        )
        .route(
            "/floating-ips/{id}/associate",
            post(floating_ips::associate),
        )
        .route(
            "/floating-ips/{id}/disassociate",
            post(floating_ips::disassociate),
        )
        .route("/floating-ips/{id}/release", post(floating_ips::release))
        .route("/topology", get(topology::page))
        .route(
            "/security-groups",
            get(security_groups::list).post(security_groups::create),
        )
        .route("/security-groups/{id}", get(security_groups::detail))
        .route(
            "/security-groups/{id}/delete",
            post(security_groups::delete),
        )
        .route(
            "/security-groups/{id}/rules",
            post(security_groups::add_rule),
        )
        .route(
            "/security-groups/{id}/rules/{rule}/delete",
            post(security_groups::delete_rule),
        )
        .route("/volumes", get(volumes::list).post(volumes::create))
        .route("/volumes/status", get(volumes::status))
        .route("/volumes/{id}/delete", post(volumes::delete))
        .route("/volumes/{id}/extend", post(volumes::extend))
        .route("/volumes/{id}/attach", post(volumes::attach))
        .route("/volumes/{id}/detach", post(volumes::detach))
        .route("/volumes/{id}/snapshot", post(volumes::snapshot))
        .route("/volumes/{id}/backup", post(volumes::backup))
        .route("/volume-snapshots", get(volumes::snapshots::list))
        .route("/volume-snapshots/status", get(volumes::snapshots::status))
        .route(
            "/volume-snapshots/{id}/delete",
            post(volumes::snapshots::delete),
        )
        .route("/volume-backups", get(volumes::backups::list))
        .route("/volume-backups/status", get(volumes::backups::status))
        .route(
            "/volume-backups/{id}/restore",
            post(volumes::backups::restore),
        )
        .route(
            "/volume-backups/{id}/delete",
            post(volumes::backups::delete),
        )
        .route("/flavors", get(flavors::list).post(flavors::create))
        .route("/flavors/{id}/delete", post(flavors::delete))
        .route(
            "/identity/projects",
            get(projects::list).post(projects::create),
        )
        .route("/identity/projects/{id}/edit", post(projects::edit))
        .route("/identity/projects/{id}/delete", post(projects::delete))
        .route(
            "/identity/projects/{id}/quotas",
            get(projects::quotas).post(projects::set_quotas),
        )
        .route("/identity/users", get(users::list).post(users::create))
        .route("/identity/users/{id}/edit", post(users::edit))
        .route("/identity/users/{id}/delete", post(users::delete))
        .route("/identity/roles", get(roles::list))
        .route("/identity/roles/grant", post(roles::grant))
        .route("/identity/roles/revoke", post(roles::revoke))
        .route("/static/app.css", get(layout::css))
        .route("/static/app.js", get(layout::js))
        .fallback(layout::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf::protect,
        ))
        .with_state(state)
}
