//! The block storage API's policy table: every route served and its rule.
//!
//! Quota routes exist twice, as Cinder serves them: `/v3/os-quota-sets/...`
//! and the older `/v3/{admin_project_id}/os-quota-sets/...` that
//! cinderclient builds from a catalog URL ending in the project id. The
//! project in the prefix is the caller's own and is not used for anything.
//! Paths not listed answer 501 from the router's fallback, before any
//! authentication: there is nothing behind them to protect.

use ferrostack_policy::Rule::{Admin, Authenticated, ProjectReader, Public};
use ferrostack_policy::{RoutePolicy, Rule};

const fn r(method: &'static str, path: &'static str, rule: Rule) -> RoutePolicy {
    RoutePolicy { method, path, rule }
}

/// Every block storage route and its rule.
pub const RULES: &[RoutePolicy] = &[
    r("GET", "/", Public),
    r("GET", "/v3", Public),
    r("GET", "/v3/", Public),
    r("GET", "/v3/os-quota-sets/{project_id}", ProjectReader),
    r("PUT", "/v3/os-quota-sets/{project_id}", Admin),
    r("DELETE", "/v3/os-quota-sets/{project_id}", Admin),
    r(
        "GET",
        "/v3/os-quota-sets/{project_id}/defaults",
        ProjectReader,
    ),
    r("GET", "/v3/os-quota-class-sets/{class_name}", Admin),
    r("PUT", "/v3/os-quota-class-sets/{class_name}", Admin),
    r("GET", "/v3/limits", Authenticated),
    r(
        "GET",
        "/v3/{admin_project_id}/os-quota-sets/{project_id}",
        ProjectReader,
    ),
    r(
        "PUT",
        "/v3/{admin_project_id}/os-quota-sets/{project_id}",
        Admin,
    ),
    r(
        "DELETE",
        "/v3/{admin_project_id}/os-quota-sets/{project_id}",
        Admin,
    ),
    r(
        "GET",
        "/v3/{admin_project_id}/os-quota-sets/{project_id}/defaults",
        ProjectReader,
    ),
    r(
        "GET",
        "/v3/{admin_project_id}/os-quota-class-sets/{class_name}",
        Admin,
    ),
    r(
        "PUT",
        "/v3/{admin_project_id}/os-quota-class-sets/{class_name}",
        Admin,
    ),
    r("GET", "/v3/{admin_project_id}/limits", Authenticated),
];
