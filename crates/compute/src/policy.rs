//! The compute API's policy table: every route and the rule it needs.

use ferrostack_policy::Rule::Public;
use ferrostack_policy::{RoutePolicy, Rule};

const fn r(method: &'static str, path: &'static str, rule: Rule) -> RoutePolicy {
    RoutePolicy { method, path, rule }
}

/// Every compute route and its rule.
pub const RULES: &[RoutePolicy] = &[
    r("GET", "/", Public),
    r("GET", "/v2.1", Public),
    r("GET", "/v2.1/", Public),
];
