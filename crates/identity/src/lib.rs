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
//! - [`trusts`]: OS-TRUST delegation rules (who may delegate what, and
//!   what a trust-scoped token carries).
//! - [`bootstrap`]: the idempotent first-start setup.
//! - [`routes`]: thin handlers, one file per resource; [`policy`] is the
//!   one table naming every route's rule and handler, from which both the
//!   router and [`policy::RULES`] are made.

pub mod bootstrap;
pub mod catalog;
pub mod compliance;
pub mod credentials;
pub mod ec2_signature;
pub mod error;
pub mod key_store;
pub mod keys;
pub mod password;
pub mod roles;
pub mod routes;
pub mod service;
pub mod token;
pub mod trusts;
pub mod views;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use error::IdentityError;
use ferrostack_policy::PolicyState;
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
    ferrostack_policy::add_routes(Router::new(), policy::RULES, policy::handlers, |_| true)
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

pub mod policy {
    //! The identity API's route table: every route, the rule it needs and
    //! its handler. The router and the policy table are both made from it.
    //! It is written here, in the crate root, beside the router it makes.
    //!
    //! Rules follow Keystone's defaults as OpenStack clients meet them: the
    //! cloud admin administers; any user may manage their own tokens, see their
    //! own user record and projects, and change their own password; reading a
    //! project needs a role on it. Where a rule says `Authenticated`, the
    //! handler narrows it to "self or admin" and answers 404 to anyone else.

    use crate::routes::roles::by_route;
    use crate::routes::{
        access_rules, app_credentials, auth, credentials, discovery, domain_config, domains, ec2,
        endpoint_filter, endpoints, groups, implied_roles, limits, oauth1, policies, project_tags,
        projects, regions, role_assignments, roles as role_routes, services, system_roles, trusts,
        users, v2,
    };
    use crate::Identity;
    use ferrostack_policy::Rule::{Admin, Authenticated, Public};
    use std::sync::Arc;

    ferrostack_policy::route_table! {
        /// Every identity route and its rule.
        pub const RULES;
        /// The handlers of a path of [`RULES`].
        pub fn handlers for Arc<Identity>;
        .route("/", get(Public, discovery::versions))
        .route("/v3", get(Public, discovery::version_v3))
        .route("/v3/", get(Public, discovery::version_v3))
        .route(
            "/v3/auth/tokens",
            post(Public, auth::issue)
                .get(Authenticated, auth::validate)
                .delete(Authenticated, auth::revoke)
        )
        .route("/v3/auth/projects", get(Authenticated, auth::projects))
        .route("/v3/auth/domains", get(Authenticated, auth::domains))
        .route("/v3/auth/system", get(Authenticated, auth::system))
        .route("/v3/auth/catalog", get(Authenticated, auth::catalog))
        .route("/v3/domains", get(Admin, domains::list).post(Admin, domains::create))
        .route(
            "/v3/domains/{domain_id}",
            get(Authenticated, domains::show)
                .patch(Admin, domains::update)
                .delete(Admin, domains::delete)
        )
        .route(
            "/v3/domains/{domain_id}/config",
            get(Admin, domain_config::show)
                .put(Admin, domain_config::create)
                .patch(Admin, domain_config::update)
                .delete(Admin, domain_config::delete)
        )
        // Any user may read the default domain's `security_compliance`
        // group; the handler keeps every other group to admins.
        .route(
            "/v3/domains/{domain_id}/config/{group}",
            get(Authenticated, domain_config::show_group)
                .patch(Admin, domain_config::update_group)
                .delete(Admin, domain_config::delete_group)
        )
        .route(
            "/v3/domains/{domain_id}/config/{group}/{option}",
            get(Authenticated, domain_config::show_option)
                .patch(Admin, domain_config::update_option)
                .delete(Admin, domain_config::delete_option)
        )
        .route("/v3/domains/config/default", get(Admin, domain_config::show_default))
        .route(
            "/v3/domains/config/{group}/default",
            get(Admin, domain_config::show_default_group)
        )
        .route(
            "/v3/domains/config/{group}/{option}/default",
            get(Admin, domain_config::show_default_option)
        )
        .route("/v3/projects", get(Admin, projects::list).post(Admin, projects::create))
        .route(
            "/v3/projects/{project_id}",
            get(Authenticated, projects::show)
                .patch(Admin, projects::update)
                .delete(Admin, projects::delete)
        )
        .route(
            "/v3/projects/{project_id}/tags",
            get(Admin, project_tags::list)
                .put(Admin, project_tags::replace)
                .delete(Admin, project_tags::clear)
        )
        .route(
            "/v3/projects/{project_id}/tags/{tag}",
            get(Admin, project_tags::check)
                .put(Admin, project_tags::add)
                .delete(Admin, project_tags::remove)
        )
        .route("/v3/users", get(Admin, users::list).post(Admin, users::create))
        .route(
            "/v3/users/{user_id}",
            get(Authenticated, users::show)
                .patch(Admin, users::update)
                .delete(Admin, users::delete)
        )
        .route("/v3/users/{user_id}/password", post(Public, users::change_password))
        .route("/v3/users/{user_id}/projects", get(Authenticated, users::projects))
        .route("/v3/users/{user_id}/groups", get(Authenticated, groups::user_groups))
        .route(
            "/v3/users/{user_id}/application_credentials",
            get(Authenticated, app_credentials::list)
                .post(Authenticated, app_credentials::create)
        )
        .route(
            "/v3/users/{user_id}/application_credentials/{application_credential_id}",
            get(Authenticated, app_credentials::show)
                .delete(Authenticated, app_credentials::delete)
        )
        .route("/v3/users/{user_id}/access_rules", get(Authenticated, access_rules::list))
        .route(
            "/v3/users/{user_id}/access_rules/{access_rule_id}",
            get(Authenticated, access_rules::show).delete(Authenticated, access_rules::delete)
        )
        .route("/v3/groups", get(Admin, groups::list).post(Admin, groups::create))
        .route(
            "/v3/groups/{group_id}",
            get(Admin, groups::show)
                .patch(Admin, groups::update)
                .delete(Admin, groups::delete)
        )
        .route("/v3/groups/{group_id}/users", get(Admin, groups::list_users))
        .route(
            "/v3/groups/{group_id}/users/{user_id}",
            put(Admin, groups::add_user)
                .get(Admin, groups::check_user)
                .delete(Admin, groups::remove_user)
        )
        .route("/v3/roles", get(Admin, role_routes::list).post(Admin, role_routes::create))
        .route(
            "/v3/roles/{role_id}",
            get(Admin, role_routes::show)
                .patch(Admin, role_routes::update)
                .delete(Admin, role_routes::delete)
        )
        .route("/v3/roles/{prior_role_id}/implies", get(Admin, implied_roles::list_for_role))
        .route(
            "/v3/roles/{prior_role_id}/implies/{implied_role_id}",
            put(Admin, implied_roles::create)
                .get(Admin, implied_roles::show)
                .delete(Admin, implied_roles::delete)
        )
        .route("/v3/role_inferences", get(Admin, implied_roles::list_all))
        .route("/v3/role_assignments", get(Authenticated, role_assignments::list))
        .route(
            "/v3/projects/{project_id}/users/{user_id}/roles",
            get(Admin, by_route::project_user::list)
        )
        .route(
            "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}",
            put(Admin, by_route::project_user::grant)
                .get(Admin, by_route::project_user::check)
                .delete(Admin, by_route::project_user::revoke)
        )
        .route(
            "/v3/projects/{project_id}/groups/{group_id}/roles",
            get(Admin, by_route::project_group::list)
        )
        .route(
            "/v3/projects/{project_id}/groups/{group_id}/roles/{role_id}",
            put(Admin, by_route::project_group::grant)
                .get(Admin, by_route::project_group::check)
                .delete(Admin, by_route::project_group::revoke)
        )
        .route(
            "/v3/domains/{domain_id}/users/{user_id}/roles",
            get(Admin, by_route::domain_user::list)
        )
        .route(
            "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}",
            put(Admin, by_route::domain_user::grant)
                .get(Admin, by_route::domain_user::check)
                .delete(Admin, by_route::domain_user::revoke)
        )
        .route(
            "/v3/domains/{domain_id}/groups/{group_id}/roles",
            get(Admin, by_route::domain_group::list)
        )
        .route(
            "/v3/domains/{domain_id}/groups/{group_id}/roles/{role_id}",
            put(Admin, by_route::domain_group::grant)
                .get(Admin, by_route::domain_group::check)
                .delete(Admin, by_route::domain_group::revoke)
        )
        .route(
            "/v3/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/inherited_to_projects",
            get(Admin, by_route::domain_user::list_inherited)
        )
        .route(
            "/v3/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/{role_id}/inherited_to_projects",
            put(Admin, by_route::domain_user::grant_inherited)
                .get(Admin, by_route::domain_user::check_inherited)
                .delete(Admin, by_route::domain_user::revoke_inherited)
        )
        .route(
            "/v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/inherited_to_projects",
            get(Admin, by_route::domain_group::list_inherited)
        )
        .route(
            "/v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects",
            put(Admin, by_route::domain_group::grant_inherited)
                .get(Admin, by_route::domain_group::check_inherited)
                .delete(Admin, by_route::domain_group::revoke_inherited)
        )
        .route(
            "/v3/OS-INHERIT/projects/{project_id}/users/{user_id}/roles/{role_id}/inherited_to_projects",
            put(Admin, by_route::project_user::grant_inherited)
                .get(Admin, by_route::project_user::check_inherited)
                .delete(Admin, by_route::project_user::revoke_inherited)
        )
        .route(
            "/v3/OS-INHERIT/projects/{project_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects",
            put(Admin, by_route::project_group::grant_inherited)
                .get(Admin, by_route::project_group::check_inherited)
                .delete(Admin, by_route::project_group::revoke_inherited)
        )
        .route("/v3/system/users/{user_id}/roles", get(Admin, system_roles::list))
        .route(
            "/v3/system/users/{user_id}/roles/{role_id}",
            put(Admin, system_roles::grant)
                .get(Admin, system_roles::check)
                .delete(Admin, system_roles::revoke)
        )
        .route("/v3/system/groups/{group_id}/roles", get(Admin, system_roles::list_group))
        .route(
            "/v3/system/groups/{group_id}/roles/{role_id}",
            put(Admin, system_roles::grant_group)
                .get(Admin, system_roles::check_group)
                .delete(Admin, system_roles::revoke_group)
        )
        .route(
            "/v3/credentials",
            get(Authenticated, credentials::list).post(Authenticated, credentials::create)
        )
        .route(
            "/v3/credentials/{credential_id}",
            get(Authenticated, credentials::show)
                .patch(Authenticated, credentials::update)
                .delete(Authenticated, credentials::delete)
        )
        .route(
            "/v3/users/{user_id}/credentials/OS-EC2",
            get(Authenticated, ec2::list).post(Authenticated, ec2::create)
        )
        .route(
            "/v3/users/{user_id}/credentials/OS-EC2/{credential_id}",
            get(Authenticated, ec2::show).delete(Authenticated, ec2::delete)
        )
        .route("/v3/ec2tokens", post(Public, ec2::ec2tokens))
        .route(
            "/v3/OS-OAUTH1/consumers",
            get(Admin, oauth1::list).post(Admin, oauth1::create)
        )
        .route(
            "/v3/OS-OAUTH1/consumers/{consumer_id}",
            get(Admin, oauth1::show)
                .patch(Admin, oauth1::update)
                .delete(Admin, oauth1::delete)
        )
        .route(
            "/v3/registered_limits",
            get(Authenticated, limits::list_registered).post(Admin, limits::create_registered)
        )
        .route(
            "/v3/registered_limits/{registered_limit_id}",
            get(Authenticated, limits::show_registered)
                .patch(Admin, limits::update_registered)
                .delete(Admin, limits::delete_registered)
        )
        .route("/v3/limits/model", get(Authenticated, limits::model))
        .route("/v3/limits", get(Authenticated, limits::list).post(Admin, limits::create))
        .route(
            "/v3/limits/{limit_id}",
            get(Authenticated, limits::show)
                .patch(Admin, limits::update)
                .delete(Admin, limits::delete)
        )
        .route("/v3/policies", get(Admin, policies::list).post(Admin, policies::create))
        .route(
            "/v3/policies/{policy_id}",
            get(Admin, policies::show)
                .patch(Admin, policies::update)
                .delete(Admin, policies::delete)
        )
        .route(
            "/v3/OS-EP-FILTER/endpoint_groups",
            get(Admin, endpoint_filter::list_groups).post(Admin, endpoint_filter::create_group)
        )
        .route(
            "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}",
            get(Admin, endpoint_filter::show_group)
                .patch(Admin, endpoint_filter::update_group)
                .delete(Admin, endpoint_filter::delete_group)
        )
        .route(
            "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/endpoints",
            get(Admin, endpoint_filter::group_endpoints)
        )
        .route(
            "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects",
            get(Admin, endpoint_filter::group_projects)
        )
        .route(
            "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}",
            put(Admin, endpoint_filter::add_group_project)
                .get(Admin, endpoint_filter::show_group_project)
                .delete(Admin, endpoint_filter::remove_group_project)
        )
        .route(
            "/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups",
            get(Admin, endpoint_filter::project_groups)
        )
        .route(
            "/v3/OS-EP-FILTER/projects/{project_id}/endpoints",
            get(Admin, endpoint_filter::project_endpoints)
        )
        .route(
            "/v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}",
            put(Admin, endpoint_filter::add_project_endpoint)
                .get(Admin, endpoint_filter::check_project_endpoint)
                .delete(Admin, endpoint_filter::remove_project_endpoint)
        )
        .route(
            "/v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects",
            get(Admin, endpoint_filter::endpoint_projects)
        )
        .route("/v3/regions", get(Authenticated, regions::list).post(Admin, regions::create))
        .route(
            "/v3/regions/{region_id}",
            get(Authenticated, regions::show)
                .put(Admin, regions::create_with_id)
                .patch(Admin, regions::update)
                .delete(Admin, regions::delete)
        )
        .route("/v3/services", get(Admin, services::list).post(Admin, services::create))
        .route(
            "/v3/services/{service_id}",
            get(Admin, services::show)
                .patch(Admin, services::update)
                .delete(Admin, services::delete)
        )
        .route("/v3/endpoints", get(Admin, endpoints::list).post(Admin, endpoints::create))
        .route(
            "/v3/endpoints/{endpoint_id}",
            get(Admin, endpoints::show)
                .patch(Admin, endpoints::update)
                .delete(Admin, endpoints::delete)
        )
        .route(
            "/v3/OS-TRUST/trusts",
            get(Authenticated, trusts::list).post(Authenticated, trusts::create)
        )
        // Tempest's client lists trusts with a trailing slash, which Keystone serves.
        .route("/v3/OS-TRUST/trusts/", get(Authenticated, trusts::list))
        .route(
            "/v3/OS-TRUST/trusts/{trust_id}",
            get(Authenticated, trusts::show).delete(Authenticated, trusts::delete)
        )
        .route("/v3/OS-TRUST/trusts/{trust_id}/roles", get(Authenticated, trusts::list_roles))
        .route(
            "/v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}",
            get(Authenticated, trusts::show_role)
        )
        .route("/v2.0", get(Public, v2::version))
        .route("/v2.0/tokens", post(Public, v2::issue))
    }
}
