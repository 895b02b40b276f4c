//! The identity service: Keystone's v3 API (and the v2.0 token call that
//! old rc files use), served from ferrostack's store.
//!
//! Shape of the crate:
//! - [`service::Identity`] holds the store, token keys, revocation list and
//!   caches; it issues and validates tokens and implements
//!   [`ferrostack_policy::TokenValidator`] for every other service.
//! - [`token`] and [`keys`]: the encrypted token format and the rotating
//!   key repository.
//! - [`roles`]: effective roles (groups, inheritance, implied roles).
//! - [`bootstrap`]: the idempotent first-start setup.
//! - [`routes`]: thin handlers, one file per resource; [`policy::RULES`]
//!   names the rule of every route.

pub mod bootstrap;
pub mod catalog;
pub mod error;
pub mod keys;
pub mod password;
pub mod policy;
pub mod roles;
pub mod routes;
pub mod service;
pub mod token;
pub mod views;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::Router;
use error::IdentityError;
use ferrostack_policy::PolicyState;
use routes::roles::by_route;
use routes::{
    app_credentials, auth, discovery, domains, endpoints, groups, implied_roles, project_tags,
    projects, regions, roles as role_routes, services, system_roles, users, v2,
};
pub use service::{Identity, IdentityConfig};
use std::sync::Arc;

/// Largest request body the identity API accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

async fn not_found() -> IdentityError {
    IdentityError::NotFound("The resource could not be found.".into())
}

async fn method_not_allowed() -> IdentityError {
    IdentityError::Status(
        http::StatusCode::METHOD_NOT_ALLOWED,
        "The method is not allowed for the requested URL.".into(),
    )
}

/// The identity API router, with policy enforcement and request ids.
pub fn router(identity: Arc<Identity>) -> Router {
    let policy = PolicyState {
        table: policy::RULES,
        validator: identity.clone(),
        errors: Arc::new(error::KeystoneErrors),
    };
    Router::new()
        .route("/", get(discovery::versions))
        .route("/v3", get(discovery::version_v3))
        .route("/v3/", get(discovery::version_v3))
        .route(
            "/v3/auth/tokens",
            post(auth::issue).get(auth::validate).delete(auth::revoke),
        )
        .route("/v3/auth/projects", get(auth::projects))
        .route("/v3/auth/domains", get(auth::domains))
        .route("/v3/auth/system", get(auth::system))
        .route("/v3/auth/catalog", get(auth::catalog))
        .route("/v3/domains", get(domains::list).post(domains::create))
        .route(
            "/v3/domains/{domain_id}",
            get(domains::show)
                .patch(domains::update)
                .delete(domains::delete),
        )
        .route("/v3/projects", get(projects::list).post(projects::create))
        .route(
            "/v3/projects/{project_id}",
            get(projects::show)
                .patch(projects::update)
                .delete(projects::delete),
        )
        .route(
            "/v3/projects/{project_id}/tags",
            get(project_tags::list)
                .put(project_tags::replace)
                .delete(project_tags::clear),
        )
        .route(
            "/v3/projects/{project_id}/tags/{tag}",
            get(project_tags::check)
                .put(project_tags::add)
                .delete(project_tags::remove),
        )
        .route("/v3/users", get(users::list).post(users::create))
        .route(
            "/v3/users/{user_id}",
            get(users::show).patch(users::update).delete(users::delete),
        )
        .route("/v3/users/{user_id}/password", post(users::change_password))
        .route("/v3/users/{user_id}/projects", get(users::projects))
        .route("/v3/users/{user_id}/groups", get(groups::user_groups))
        .route(
            "/v3/users/{user_id}/application_credentials",
            get(app_credentials::list).post(app_credentials::create),
        )
        .route(
            "/v3/users/{user_id}/application_credentials/{application_credential_id}",
            get(app_credentials::show).delete(app_credentials::delete),
        )
        .route("/v3/groups", get(groups::list).post(groups::create))
        .route(
            "/v3/groups/{group_id}",
            get(groups::show)
                .patch(groups::update)
                .delete(groups::delete),
        )
        .route("/v3/groups/{group_id}/users", get(groups::list_users))
        .route(
            "/v3/groups/{group_id}/users/{user_id}",
            put(groups::add_user)
                .get(groups::check_user)
                .delete(groups::remove_user),
        )
        .route(
            "/v3/roles",
            get(role_routes::list).post(role_routes::create),
        )
        .route(
            "/v3/roles/{role_id}",
            get(role_routes::show)
                .patch(role_routes::update)
                .delete(role_routes::delete),
        )
        .route(
            "/v3/roles/{prior_role_id}/implies",
            get(implied_roles::list_for_role),
        )
        .route(
            "/v3/roles/{prior_role_id}/implies/{implied_role_id}",
            put(implied_roles::create)
                .get(implied_roles::show)
                .delete(implied_roles::delete),
        )
        .route("/v3/role_inferences", get(implied_roles::list_all))
        .route("/v3/role_assignments", get(role_routes::list_assignments))
        .route(
            "/v3/projects/{project_id}/users/{user_id}/roles",
            get(by_route::project_user::list),
        )
        .route(
            "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}",
            put(by_route::project_user::grant)
                .get(by_route::project_user::check)
                .delete(by_route::project_user::revoke),
        )
        .route(
            "/v3/projects/{project_id}/groups/{group_id}/roles",
            get(by_route::project_group::list),
        )
        .route(
            "/v3/projects/{project_id}/groups/{group_id}/roles/{role_id}",
            put(by_route::project_group::grant)
                .get(by_route::project_group::check)
                .delete(by_route::project_group::revoke),
        )
        .route(
            "/v3/domains/{domain_id}/users/{user_id}/roles",
            get(by_route::domain_user::list),
        )
        .route(
            "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}",
            put(by_route::domain_user::grant)
                .get(by_route::domain_user::check)
                .delete(by_route::domain_user::revoke),
        )
        .route(
            "/v3/domains/{domain_id}/groups/{group_id}/roles",
            get(by_route::domain_group::list),
        )
        .route(
            "/v3/domains/{domain_id}/groups/{group_id}/roles/{role_id}",
            put(by_route::domain_group::grant)
                .get(by_route::domain_group::check)
                .delete(by_route::domain_group::revoke),
        )
        .route("/v3/system/users/{user_id}/roles", get(system_roles::list))
        .route(
            "/v3/system/users/{user_id}/roles/{role_id}",
            put(system_roles::grant)
                .get(system_roles::check)
                .delete(system_roles::revoke),
        )
        .route("/v3/regions", get(regions::list).post(regions::create))
        .route(
            "/v3/regions/{region_id}",
            get(regions::show)
                .put(regions::create_with_id)
                .patch(regions::update)
                .delete(regions::delete),
        )
        .route("/v3/services", get(services::list).post(services::create))
        .route(
            "/v3/services/{service_id}",
            get(services::show)
                .patch(services::update)
                .delete(services::delete),
        )
        .route(
            "/v3/endpoints",
            get(endpoints::list).post(endpoints::create),
        )
        .route(
            "/v3/endpoints/{endpoint_id}",
            get(endpoints::show)
                .patch(endpoints::update)
                .delete(endpoints::delete),
        )
        .route("/v2.0", get(v2::version))
        .route("/v2.0/tokens", post(v2::issue))
        .route_layer(axum::middleware::from_fn_with_state(
            policy,
            ferrostack_policy::enforce,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            "identity",
            ferrostack_common::request_id::request_id_layer,
        ))
        .with_state(identity)
}
