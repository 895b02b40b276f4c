//! Authorization shared by every service: the caller's [`AuthContext`],
//! the [`Rule`] each route requires, and the middleware that enforces it.
//!
//! Each service declares one table, `&[RoutePolicy]`, naming the rule of
//! every route it serves; [`route_table!`] makes it from the same rows as
//! the service's router, so a route cannot exist without a rule.
//! [`enforce`] looks the matched route up in that table, validates the
//! `X-Auth-Token` through a [`TokenValidator`], and either rejects the
//! request (401 without a valid token, 403 without the role) or hands the
//! handler an [`AuthContext`]. A route missing from the table is refused
//! with 403, so forgetting a rule fails closed.
//!
//! Rules that need the target object (is this project the caller's?) are
//! finished in the handler with [`AuthContext::check_project`], which
//! answers *not found* for another project's resources, so their existence
//! does not leak.
//!
//! Roles form a ladder through Keystone's implied roles: admin implies
//! member implies reader. The validator expands implications, so a check
//! for `reader` is a plain membership test.
//!
//! Paths of an API not built yet go to one catch-all route ([`unbuilt`])
//! that the table covers too, so they need a token like the rest.

pub mod access_rules;
mod context;
mod enforce;
pub mod table;
pub mod unbuilt;

pub use access_rules::AccessRuleRef;
pub use context::{AuthContext, Denial, RoleRef, Scope};
pub use enforce::{
    enforce, ErrorRenderer, PolicyState, RoutePolicy, Rule, TokenValidator, ValidateError,
};
pub use table::add_routes;
pub use unbuilt::UNBUILT;
