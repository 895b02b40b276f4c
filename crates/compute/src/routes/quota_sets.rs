//! `/v2.1/os-quota-sets/{project_id}`: show, detail, defaults, update, reset.
//!
//! Per-user quotas (`?user_id=`) are read as the project's (no user
//! overrides can exist) and refused with 501 on writes.

use super::{defaults_project, readable_project, resolve_admin, Caller, IfUnknown, QueryPairs};
use crate::error::{ComputeError, ComputeResult, Json};
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

fn no_user_quotas(q: &QueryPairs) -> ComputeResult<()> {
    if q.get("user_id").is_some() {
        return Err(ComputeError::NotImplemented(
            "Per-user quotas are not implemented by ferrostack; set the project's quota instead."
                .into(),
        ));
    }
    Ok(())
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
    let limits = state.quotas.limits(&COMPUTE, &project_id)?;
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
    let detail = state.quotas.detail(&COMPUTE, &project_id)?;
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
    no_user_quotas(&q)?;
    let (changes, force) = body.checked(v, |k| COMPUTE.has(k))?;
    let project_id = resolve_admin(&state, &raw, IfUnknown::Refuse)?;
    let limits = state
        .quotas
        .set_limits(&COMPUTE, &project_id, &changes, force)?;
    // Nova leaves `id` out of the update response.
    Ok(axum::Json(limits_view(v, None, limits)))
}

/// `DELETE /v2.1/os-quota-sets/{project_id}`: back to the defaults (202, as Nova).
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
    no_user_quotas(&q)?;
    let project_id = resolve_admin(&state, &raw, IfUnknown::UseAsGiven)?;
    state.quotas.reset(&COMPUTE, &project_id)?;
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
