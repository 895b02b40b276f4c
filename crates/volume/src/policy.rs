//! The block storage API's policy table: every route served and its rule.
//!
//! Quota routes exist twice, as Cinder serves them: `/v3/os-quota-sets/...`
//! and the older `/v3/{admin_project_id}/os-quota-sets/...` that
//! cinderclient builds from a catalog URL ending in the project id. The
//! project in the prefix is the caller's own and is not used for anything.
//!
//! Every other path of the block storage API (volumes, snapshots, types,
//! backups, ...) is not built yet and falls into the catch-all route
//! [`UNBUILT`]: its rows below need a valid token, so an anonymous caller
//! gets 401 as from Cinder behind keystonemiddleware, and only a valid
//! token gets the 501. The catch-all is checked by the policy layer like
//! any route (see [`ferrostack_policy::unbuilt`]), which is why it was
//! chosen over a token check of its own in a fallback handler; and over
//! one row per Cinder path, as compute has, because there is nothing yet
//! behind those paths to give different rules. Volumes get their rows
//! here when they are built.

use ferrostack_policy::Rule::{Admin, Authenticated, ProjectReader, Public};
use ferrostack_policy::{RoutePolicy, Rule, UNBUILT};

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
    r("GET", UNBUILT, Authenticated),
    r("POST", UNBUILT, Authenticated),
    r("PUT", UNBUILT, Authenticated),
    r("PATCH", UNBUILT, Authenticated),
    r("DELETE", UNBUILT, Authenticated),
];
