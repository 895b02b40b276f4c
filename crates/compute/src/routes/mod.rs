//! Handlers, one file per resource, and what they share: the caller, the
//! query string, Nova-style body validation, and which project a
//! `{project_id}` in the URL means for this caller.

pub mod aggregates;
pub mod availability_zones;
pub mod controller_services;
pub mod diagnostics;
pub mod extensions;
pub mod external_events;
pub mod extra_specs;
pub mod flavor_access;
pub mod flavors;
pub mod floating_ips;
pub mod hosts;
pub mod hypervisor_uptime;
pub mod hypervisors;
pub mod images;
pub mod instance_actions;
pub mod interfaces;
pub mod keypair_x509;
pub mod keypairs;
pub mod limits;
pub mod migrations;
pub mod network_proxies;
pub mod quota_classes;
pub mod quota_sets;
pub mod security_groups;
pub mod server_actions;
pub mod server_groups;
pub mod server_list;
pub mod server_tags;
pub mod servers;
pub mod services;
pub mod usage;
pub mod versions;
pub mod volume_attachments;
pub mod volume_proxy;

use crate::error::{ComputeError, ComputeResult};
use crate::ComputeState;
use axum::extract::{FromRequestParts, Query};
use ferrostack_common::page::{CountSyntax, LinkQuery, Page, Paging};
pub use ferrostack_compute_types::body::python_repr;
use ferrostack_compute_types::ApiVersion;
use ferrostack_policy::AuthContext;
pub use ferrostack_quota::IfUnknown;
use ferrostack_quota::{admin_target, caller_target, own_project, TargetError};
use http::request::Parts;
use serde_json::{json, Value};

/// The validated caller. Present on every route whose rule is not `Public`.
pub struct Caller(pub AuthContext);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ComputeError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthContext>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| {
                ComputeError::Status(
                    http::StatusCode::UNAUTHORIZED,
                    "The request you have made requires authentication.".into(),
                )
            })
    }
}

/// Every query parameter, in order, repeats kept.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ComputeError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| QueryPairs(pairs))
            .map_err(|_| ComputeError::BadRequest("Malformed query string.".into()))
    }
}

impl QueryPairs {
    /// The last value of `name`, as Nova's `req.GET.get` reads it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// From 2.75 Nova refuses query parameters it does not know; before, it ignores them.
    pub fn check_known(&self, v: ApiVersion, known: &[&str]) -> ComputeResult<()> {
        if !v.at_least(75) {
            return Ok(());
        }
        match self.0.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some((k, value)) => Err(ComputeError::BadRequest(format!(
                "Invalid input for query parameters {k}. Value: {value}. Additional properties are not allowed ('{k}' was unexpected)"
            ))),
        }
    }
}

/// Largest page Nova returns (its `max_limit` option's default).
pub const MAX_PAGE: usize = 1000;

/// How Nova reads `limit`: its query schema's `^[0-9]*$`, at most [`MAX_PAGE`].
pub const PAGING: Paging = Paging {
    syntax: CountSyntax::Digits,
    default_limit: MAX_PAGE,
    max_limit: MAX_PAGE,
};

/// How Nova writes a next link's query: the request's parameters, `limit`
/// where it was (or appended), then the new `marker`.
const NEXT_LINK: LinkQuery = LinkQuery {
    keep_limit: true,
    unreserved: b"-._~",
};

/// Nova's 400 for a count parameter (`limit`, `offset`) that is not digits.
pub fn bad_count(name: &str, raw: &str) -> ComputeError {
    ComputeError::BadRequest(format!(
        "Invalid input for query parameters {name}. Value: {raw}. '{raw}' does not match '^[0-9]*$'"
    ))
}

/// A `limit` or `offset` as Nova's `non_negative_integer` takes it.
pub fn non_negative(q: &QueryPairs, name: &str) -> ComputeResult<Option<usize>> {
    q.get(name)
        .map(|raw| {
            ferrostack_common::page::parse_count(raw, CountSyntax::Digits)
                .ok_or_else(|| bad_count(name, raw))
        })
        .transpose()
}

/// Nova's `common.limited`: `offset` then `limit` (at most [`MAX_PAGE`])
/// over a whole list, for the APIs that page by offset (the proxies).
pub fn offset_limited<T>(items: Vec<T>, q: &QueryPairs) -> ComputeResult<Vec<T>> {
    let offset = non_negative(q, "offset")?.unwrap_or(0);
    let limit = non_negative(q, "limit")?.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    Ok(items.into_iter().skip(offset).take(limit).collect())
}

/// 404 from `minor` on, for an API Nova removed at 2.`minor` (the
/// proxies at 2.36, `os-hosts` at 2.43).
pub fn removed_at(v: ferrostack_compute_types::ApiVersion, minor: u32) -> ComputeResult<()> {
    if v.at_least(minor) {
        return Err(ComputeError::NotFound(
            "The resource could not be found.".into(),
        ));
    }
    Ok(())
}

/// `limit` and `marker` as Nova's paging reads them.
pub fn paging(q: &QueryPairs) -> ComputeResult<Page> {
    PAGING.read(q.get("limit"), q.get("marker"), |raw| {
        bad_count("limit", raw)
    })
}

/// The `*_links` next link Nova adds when a page is full.
pub fn next_link(
    state: &ComputeState,
    path: &str,
    q: &QueryPairs,
    limit: usize,
    marker: &str,
) -> Value {
    json!([{
        "href": format!(
            "{}/v2.1/{path}?{}",
            state.public_url,
            NEXT_LINK.next(&q.0, limit, marker)
        ),
        "rel": "next",
    }])
}

impl From<TargetError> for ComputeError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::NotVisible(raw) => {
                ComputeError::NotFound(format!("Project {raw} could not be found."))
            }
            TargetError::Forbidden(_) => ComputeError::Forbidden(
                "You are not authorized to perform the requested action.".into(),
            ),
            // Nova's words when Keystone does not know the project.
            TargetError::Unknown(raw) => {
                ComputeError::BadRequest(format!("Project ID {raw} is not a valid project."))
            }
            TargetError::Ambiguous { name, count } => ComputeError::Conflict(format!(
                "{count} projects are named {name}; give the project ID instead."
            )),
            TargetError::Store(e) => e.into(),
        }
    }
}

/// The project an admin names: Nova refuses unknown projects except on
/// delete and limits, where `unknown` says to take the string as given.
pub fn resolve_admin(state: &ComputeState, raw: &str, unknown: IfUnknown) -> ComputeResult<String> {
    Ok(admin_target(state.projects.as_ref(), raw, unknown)?)
}

/// The project whose quota a reader asks about: any for an admin, else
/// only the token's own (another is "not found").
pub fn readable_project(
    state: &ComputeState,
    ctx: &AuthContext,
    raw: &str,
) -> ComputeResult<String> {
    Ok(caller_target(
        state.projects.as_ref(),
        ctx,
        raw,
        IfUnknown::Refuse,
        false,
    )?)
}

/// The project whose defaults are asked for: like Nova, anyone may ask,
/// and for a project the caller cannot look up the string is used as given.
pub fn defaults_project(
    state: &ComputeState,
    ctx: &AuthContext,
    raw: &str,
) -> ComputeResult<String> {
    if ctx.is_admin() {
        return resolve_admin(state, raw, IfUnknown::Refuse);
    }
    Ok(own_project(ctx, raw).unwrap_or_else(|| raw.to_string()))
}

/// A boolean query parameter as Nova's `parameter_types.boolean` takes
/// it (the rule is compute-types', shared with request bodies).
pub fn boolean(field: &str, value: &Value) -> ComputeResult<bool> {
    Ok(ferrostack_compute_types::body::boolean(field, value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_take_novas_spellings() {
        assert!(boolean("force", &json!("yes")).unwrap());
        assert!(!boolean("force", &json!(false)).unwrap());
        assert!(boolean("force", &json!("maybe")).is_err());
        assert!(boolean("force", &json!(1)).is_err());
    }
}
