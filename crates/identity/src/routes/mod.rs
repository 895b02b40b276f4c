//! Handlers, one file per resource. Handlers are thin: extract, check the
//! target-specific part of the policy, call the store or service, render.

pub mod access_rules;
pub mod app_credentials;
pub mod auth;
pub mod credentials;
pub mod discovery;
pub mod domain_config;
pub mod domains;
pub mod ec2;
pub mod endpoint_filter;
pub mod endpoints;
pub mod groups;
pub mod implied_roles;
pub mod limits;
pub mod oauth1;
pub mod policies;
pub mod project_tags;
pub mod projects;
pub mod regions;
pub mod role_assignments;
pub mod roles;
pub mod services;
pub mod system_roles;
pub mod trusts;
pub mod users;
pub mod v2;

use crate::error::{IdResult, IdentityError};
use axum::extract::FromRequestParts;
use ferrostack_common::page::{CountSyntax, Paging};
use ferrostack_policy::AuthContext;
use ferrostack_store::identity::ListFilter;
use http::request::Parts;
use std::collections::HashMap;

/// The validated caller. Present on every route whose rule is not `Public`.
pub struct Caller(pub AuthContext);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = IdentityError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthContext>()
            .cloned()
            .map(Caller)
            .ok_or_else(IdentityError::auth_required)
    }
}

/// The caller if a valid token was sent (on `Public` routes).
pub struct MaybeCaller(pub Option<AuthContext>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeCaller(parts.extensions.get::<AuthContext>().cloned()))
    }
}

/// Parse a boolean query parameter as Keystone does (`true`/`false`/`1`/`0`, any case).
pub fn parse_bool(name: &str, value: &str) -> IdResult<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(IdentityError::BadRequest(format!(
            "Invalid value for query parameter {name}: expected a boolean."
        ))),
    }
}

/// How Keystone reads `limit`: an unsigned 32-bit integer, no default.
const PAGING: Paging = Paging {
    syntax: CountSyntax::U32,
    default_limit: u32::MAX as usize,
    max_limit: u32::MAX as usize,
};

/// The list filters common to Keystone's collections, from the query string.
pub fn list_filter(q: &HashMap<String, String>) -> IdResult<ListFilter> {
    let page = PAGING.read(
        q.get("limit").map(String::as_str),
        q.get("marker").map(String::as_str),
        |_| {
            IdentityError::BadRequest(
                "Invalid value for query parameter limit: expected a non-negative integer.".into(),
            )
        },
    )?;
    // The store pages in SQL; no `limit` means the whole collection.
    let limit = page
        .limit_given
        .then(|| u32::try_from(page.limit).unwrap_or(u32::MAX));
    Ok(ListFilter {
        name: q.get("name").cloned(),
        domain_id: q.get("domain_id").cloned(),
        enabled: q
            .get("enabled")
            .map(|v| parse_bool("enabled", v))
            .transpose()?,
        parent_id: q.get("parent_id").cloned(),
        ids: None,
        limit,
        marker: page.marker,
    })
}

/// Check a name field: present, non-empty, at most 64 characters for
/// projects and domains and 255 for everything else (Keystone's schemas:
/// a project or domain name is also a scope name in every token request).
pub fn require_name(kind: &str, name: Option<&String>) -> IdResult<String> {
    let max = if matches!(kind, "project" | "domain") {
        64
    } else {
        255
    };
    match name.map(|s| s.trim()) {
        Some(n) if !n.is_empty() && n.chars().count() <= max => Ok(n.to_string()),
        Some(n) if !n.is_empty() => Err(IdentityError::BadRequest(format!(
            "Invalid input for field 'name': the {kind} name is longer than {max} characters."
        ))),
        _ => Err(IdentityError::BadRequest(format!(
            "Invalid input for field 'name': a {kind} needs a non-empty name."
        ))),
    }
}
