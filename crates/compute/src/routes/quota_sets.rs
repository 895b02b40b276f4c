//! `/v2.1/os-quota-sets/{project_id}`: show, detail, defaults, update, reset.
//!
//! With `?user_id=` each of show, detail, update and reset is about that
//! user's quota within the project, as Nova's: the user's own limits over
//! the project's, bounded by what the project leaves the user (see
//! `ferrostack_quota::user_quotas`), and enforced on server create and
//! resize beside the project's. The user is taken as given, as Nova does
//! (it does not ask Keystone whether the user exists).

use super::{defaults_project, readable_project, resolve_admin, Caller, IfUnknown, QueryPairs};
use crate::error::{ComputeResult, Json};
use crate::microversion::Version;
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_compute_types::quota::{quota_set_shows, UpdateQuotaSetBody};
use ferrostack_compute_types::ApiVersion;
use ferrostack_quota::{ResourceMap, COMPUTE};
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Query parameters Nova's quota-set schema knows.
const KNOWN_QUERY: &[&str] = &["user_id"];

/// `{"quota_set": {...}}` with the fields `v` shows, `id` first when given.
fn quota_set(
    v: ApiVersion,
    id: Option<&str>,
    values: impl Iterator<Item = (String, Value)>,
) -> Value {
    let mut body = Map::new();
    if let Some(id) = id {
        body.insert("id".into(), json!(id));
    }
    body.extend(values.filter(|(name, _)| quota_set_shows(v, name)));
    json!({ "quota_set": body })
}

fn limits_view(v: ApiVersion, id: Option<&str>, limits: ResourceMap) -> Value {
    quota_set(v, id, limits.into_iter().map(|(k, n)| (k, json!(n))))
}

/// The `user_id` a request names (an empty one names none).
fn user_of(q: &QueryPairs) -> Option<&str> {
    q.get("user_id").filter(|u| !u.is_empty())
}

/// `GET /v2.1/os-quota-sets/{project_id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(raw): Path<String>,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    q.check_known(v, KNOWN_QUERY)?;
    let project_id = readable_project(&state, &caller, &raw)?;
    let limits = match user_of(&q) {
        Some(user) => state.quotas.user_limits(&COMPUTE, &project_id, user)?,
        None => state.quotas.limits(&COMPUTE, &project_id)?,
    };
    Ok(axum::Json(limits_view(v, Some(&project_id), limits)))
}

/// `GET /v2.1/os-quota-sets/{project_id}/detail`.
pub async fn detail(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(raw): Path<String>,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    q.check_known(v, KNOWN_QUERY)?;
    let project_id = readable_project(&state, &caller, &raw)?;
    let detail = match user_of(&q) {
        Some(user) => state.quotas.user_detail(&COMPUTE, &project_id, user)?,
        None => state.quotas.detail(&COMPUTE, &project_id)?,
    };
    let values = detail.into_iter().map(|(name, d)| {
        (
            name,
            json!({"in_use": d.in_use, "limit": d.limit, "reserved": d.reserved}),
        )
    });
    Ok(axum::Json(quota_set(v, Some(&project_id), values)))
}

/// `GET /v2.1/os-quota-sets/{project_id}/defaults`.
pub async fn defaults(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(raw): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let project_id = defaults_project(&state, &caller, &raw)?;
    let defaults = state.quotas.defaults(&COMPUTE)?;
    Ok(axum::Json(limits_view(v, Some(&project_id), defaults)))
}

/// `PUT /v2.1/os-quota-sets/{project_id}`.
pub async fn update(
    State(state): State<Arc<ComputeState>>,
    Version(v): Version,
    Path(raw): Path<String>,
    q: QueryPairs,
    Json(body): Json<UpdateQuotaSetBody>,
) -> ComputeResult<axum::Json<Value>> {
    q.check_known(v, KNOWN_QUERY)?;
    let (changes, force) = body.checked(v, |k| COMPUTE.has(k))?;
    let project_id = resolve_admin(&state, &raw, IfUnknown::Refuse)?;
    let limits = match user_of(&q) {
        Some(user) => state
            .quotas
            .set_user_limits(&COMPUTE, &project_id, user, &changes, force)?,
        None => state
            .quotas
            .set_limits(&COMPUTE, &project_id, &changes, force)?,
    };
    // Nova leaves `id` out of the update response.
    Ok(axum::Json(limits_view(v, None, limits)))
}

/// `DELETE /v2.1/os-quota-sets/{project_id}`: back to the defaults (202,
/// as Nova); with `user_id`, the user back to the project's limits.
///
/// Like Nova this does not require the project to exist, which also lets
/// an admin clear the overrides a deleted project left behind.
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Version(v): Version,
    Path(raw): Path<String>,
    q: QueryPairs,
) -> ComputeResult<Response> {
    q.check_known(v, KNOWN_QUERY)?;
    let project_id = resolve_admin(&state, &raw, IfUnknown::UseAsGiven)?;
    match user_of(&q) {
        Some(user) => state.quotas.reset_user(&COMPUTE, &project_id, user)?,
        None => state.quotas.reset(&COMPUTE, &project_id)?,
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(minor: u32) -> ApiVersion {
        ApiVersion::new(2, minor)
    }

    /// The update body read against compute's own quota registry.
    fn parse_update(v: ApiVersion, body: &Value) -> ComputeResult<(ResourceMap, bool)> {
        Ok(UpdateQuotaSetBody::new(body.clone()).checked(v, |k| COMPUTE.has(k))?)
    }

    #[test]
    fn an_update_takes_only_the_fields_of_its_microversion() {
        let body = json!({"quota_set": {"cores": 30, "fixed_ips": 5}});
        assert!(parse_update(v(35), &body).is_ok());
        assert!(parse_update(v(36), &body).is_err());
        let injected = json!({"quota_set": {"injected_files": 3}});
        assert!(parse_update(v(56), &injected).is_ok());
        assert!(parse_update(v(57), &injected).is_err());
    }

    #[test]
    fn force_is_read_and_not_stored() {
        let (changes, force) =
            parse_update(v(1), &json!({"quota_set": {"cores": "8", "force": "True"}})).unwrap();
        assert!(force);
        assert_eq!(changes, ResourceMap::from([("cores".to_string(), 8)]));
    }

    #[test]
    fn networks_is_not_a_quota() {
        assert!(parse_update(v(1), &json!({"quota_set": {"networks": 3}})).is_err());
    }
}
