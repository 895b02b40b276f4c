//! The identity API's policy table: every route and the rule it needs.
//!
//! Rules follow Keystone's defaults as OpenStack clients meet them: the
//! cloud admin administers; any user may manage their own tokens, see their
//! own user record and projects, and change their own password; reading a
//! project needs a role on it. Where a rule says `Authenticated`, the
//! handler narrows it to "self or admin" and answers 404 to anyone else.

use ferrostack_policy::Rule::{Admin, Authenticated, Public};
use ferrostack_policy::{RoutePolicy, Rule};

const fn r(method: &'static str, path: &'static str, rule: Rule) -> RoutePolicy {
    RoutePolicy { method, path, rule }
}

/// Every identity route and its rule.
pub const RULES: &[RoutePolicy] = &[
    r("GET", "/", Public),
    r("GET", "/v3", Public),
    r("GET", "/v3/", Public),
    r("POST", "/v3/auth/tokens", Public),
    r("GET", "/v3/auth/tokens", Authenticated),
    r("DELETE", "/v3/auth/tokens", Authenticated),
    r("GET", "/v3/auth/projects", Authenticated),
    r("GET", "/v3/auth/domains", Authenticated),
    r("GET", "/v3/auth/system", Authenticated),
    r("GET", "/v3/auth/catalog", Authenticated),
    r("GET", "/v3/domains", Admin),
    r("POST", "/v3/domains", Admin),
    r("GET", "/v3/domains/{domain_id}", Authenticated),
    r("PATCH", "/v3/domains/{domain_id}", Admin),
    r("DELETE", "/v3/domains/{domain_id}", Admin),
    r("GET", "/v3/projects", Admin),
    r("POST", "/v3/projects", Admin),
    r("GET", "/v3/projects/{project_id}", Authenticated),
    r("PATCH", "/v3/projects/{project_id}", Admin),
    r("DELETE", "/v3/projects/{project_id}", Admin),
    r("GET", "/v3/projects/{project_id}/tags", Admin),
    r("PUT", "/v3/projects/{project_id}/tags", Admin),
    r("DELETE", "/v3/projects/{project_id}/tags", Admin),
    r("GET", "/v3/projects/{project_id}/tags/{tag}", Admin),
    r("PUT", "/v3/projects/{project_id}/tags/{tag}", Admin),
    r("DELETE", "/v3/projects/{project_id}/tags/{tag}", Admin),
    r("GET", "/v3/users", Admin),
    r("POST", "/v3/users", Admin),
    r("GET", "/v3/users/{user_id}", Authenticated),
    r("PATCH", "/v3/users/{user_id}", Admin),
    r("DELETE", "/v3/users/{user_id}", Admin),
    r("POST", "/v3/users/{user_id}/password", Public),
    r("GET", "/v3/users/{user_id}/projects", Authenticated),
    r("GET", "/v3/users/{user_id}/groups", Authenticated),
    r(
        "GET",
        "/v3/users/{user_id}/application_credentials",
        Authenticated,
    ),
    r(
        "POST",
        "/v3/users/{user_id}/application_credentials",
        Authenticated,
    ),
    r(
        "GET",
        "/v3/users/{user_id}/application_credentials/{application_credential_id}",
        Authenticated,
    ),
    r(
        "DELETE",
        "/v3/users/{user_id}/application_credentials/{application_credential_id}",
        Authenticated,
    ),
    r("GET", "/v3/groups", Admin),
    r("POST", "/v3/groups", Admin),
    r("GET", "/v3/groups/{group_id}", Admin),
    r("PATCH", "/v3/groups/{group_id}", Admin),
    r("DELETE", "/v3/groups/{group_id}", Admin),
    r("GET", "/v3/groups/{group_id}/users", Admin),
    r("PUT", "/v3/groups/{group_id}/users/{user_id}", Admin),
    r("GET", "/v3/groups/{group_id}/users/{user_id}", Admin),
    r("DELETE", "/v3/groups/{group_id}/users/{user_id}", Admin),
    r("GET", "/v3/roles", Admin),
    r("POST", "/v3/roles", Admin),
    r("GET", "/v3/roles/{role_id}", Admin),
    r("PATCH", "/v3/roles/{role_id}", Admin),
    r("DELETE", "/v3/roles/{role_id}", Admin),
    r("GET", "/v3/roles/{prior_role_id}/implies", Admin),
    r(
        "PUT",
        "/v3/roles/{prior_role_id}/implies/{implied_role_id}",
        Admin,
    ),
    r(
        "GET",
        "/v3/roles/{prior_role_id}/implies/{implied_role_id}",
        Admin,
    ),
    r(
        "DELETE",
        "/v3/roles/{prior_role_id}/implies/{implied_role_id}",
        Admin,
    ),
    r("GET", "/v3/role_inferences", Admin),
    r("GET", "/v3/role_assignments", Authenticated),
    r(
        "GET",
        "/v3/projects/{project_id}/users/{user_id}/roles",
        Admin,
    ),
    r(
        "PUT",
        "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}",
        Admin,
    ),
    r(
        "GET",
        "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}",
        Admin,
    ),
    r(
        "DELETE",
        "/v3/projects/{project_id}/users/{user_id}/roles/{role_id}",
        Admin,
    ),
    r(
        "GET",
        "/v3/projects/{project_id}/groups/{group_id}/roles",
        Admin,
    ),
    r(
        "PUT",
        "/v3/projects/{project_id}/groups/{group_id}/roles/{role_id}",
        Admin,
    ),
    r(
        "GET",
        "/v3/projects/{project_id}/groups/{group_id}/roles/{role_id}",
        Admin,
    ),
    r(
        "DELETE",
        "/v3/projects/{project_id}/groups/{group_id}/roles/{role_id}",
        Admin,
    ),
    r(
        "GET",
        "/v3/domains/{domain_id}/users/{user_id}/roles",
        Admin,
    ),
    r(
        "PUT",
        "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}",
        Admin,
    ),
    r(
        "GET",
        "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}",
        Admin,
    ),
    r(
        "DELETE",
        "/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}",
        Admin,
    ),
    r(
        "GET",
        "/v3/domains/{domain_id}/groups/{group_id}/roles",
        Admin,
    ),
    r(
        "PUT",
        "/v3/domains/{domain_id}/groups/{group_id}/roles/{role_id}",
        Admin,
    ),
    r(
        "GET",
        "/v3/domains/{domain_id}/groups/{group_id}/roles/{role_id}",
        Admin,
    ),
    r(
        "DELETE",
        "/v3/domains/{domain_id}/groups/{group_id}/roles/{role_id}",
        Admin,
    ),
    r("GET", "/v3/system/users/{user_id}/roles", Admin),
    r("PUT", "/v3/system/users/{user_id}/roles/{role_id}", Admin),
    r("GET", "/v3/system/users/{user_id}/roles/{role_id}", Admin),
    r(
        "DELETE",
        "/v3/system/users/{user_id}/roles/{role_id}",
        Admin,
    ),
    r("GET", "/v3/regions", Authenticated),
    r("POST", "/v3/regions", Admin),
    r("GET", "/v3/regions/{region_id}", Authenticated),
    r("PUT", "/v3/regions/{region_id}", Admin),
    r("PATCH", "/v3/regions/{region_id}", Admin),
    r("DELETE", "/v3/regions/{region_id}", Admin),
    r("GET", "/v3/services", Admin),
    r("POST", "/v3/services", Admin),
    r("GET", "/v3/services/{service_id}", Admin),
    r("PATCH", "/v3/services/{service_id}", Admin),
    r("DELETE", "/v3/services/{service_id}", Admin),
    r("GET", "/v3/endpoints", Admin),
    r("POST", "/v3/endpoints", Admin),
    r("GET", "/v3/endpoints/{endpoint_id}", Admin),
    r("PATCH", "/v3/endpoints/{endpoint_id}", Admin),
    r("DELETE", "/v3/endpoints/{endpoint_id}", Admin),
    r("GET", "/v2.0", Public),
    r("POST", "/v2.0/tokens", Public),
];
