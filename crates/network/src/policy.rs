//! The network API's policy table: every route served and its rule.
//!
//! Paths not listed answer 501 from the router's fallback, before any
//! authentication: there is nothing behind them to protect.

use ferrostack_policy::Rule::{Admin, Authenticated, ProjectReader, Public};
use ferrostack_policy::{RoutePolicy, Rule};

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
];
