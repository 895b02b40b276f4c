//! The network API's policy table: every route served and its rule.
//!
//! Every other path of the network API (networks, subnets, ports,
//! routers, ...) is not built yet and falls into the catch-all route
//! [`UNBUILT`], whose rows below need a valid token: 401 without one, as
//! keystonemiddleware answers in front of Neutron, then 501. It goes
//! through the policy layer as any route does (see
//! [`ferrostack_policy::unbuilt`]), rather than through a fallback that
//! would validate the token by itself; and it is one route rather than a
//! row per Neutron path, as compute has, until those APIs are built and
//! need rules of their own.

use ferrostack_policy::Rule::{Admin, Authenticated, ProjectReader, Public};
use ferrostack_policy::{RoutePolicy, Rule, UNBUILT};

const fn r(method: &'static str, path: &'static str, rule: Rule) -> RoutePolicy {
    RoutePolicy { method, path, rule }
}

/// Every network route and its rule.
pub const RULES: &[RoutePolicy] = &[
    r("GET", "/", Public),
    r("GET", "/v2.0", Authenticated),
    r("GET", "/v2.0/", Authenticated),
    r("GET", "/v2.0/extensions", Authenticated),
    r("GET", "/v2.0/extensions/{alias}", Authenticated),
    // Listing every project's quota is for admins; one project's quota is
    // for its readers (the handler sends other projects to 404).
    r("GET", "/v2.0/quotas", Admin),
    r("GET", "/v2.0/quotas/{project_id}", ProjectReader),
    r("PUT", "/v2.0/quotas/{project_id}", Admin),
    r("DELETE", "/v2.0/quotas/{project_id}", Admin),
    r("GET", "/v2.0/quotas/{project_id}/default", ProjectReader),
    r("GET", "/v2.0/quotas/{project_id}/details", ProjectReader),
    r("GET", UNBUILT, Authenticated),
    r("POST", UNBUILT, Authenticated),
    r("PUT", UNBUILT, Authenticated),
    r("PATCH", UNBUILT, Authenticated),
    r("DELETE", UNBUILT, Authenticated),
];
