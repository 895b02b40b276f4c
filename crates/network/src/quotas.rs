//! `/v2.0/quotas`: Neutron's quota API over the shared quota engine.
//!
//! Neutron's shapes: `{"quota": {...}}` with bare resource names
//! (`network`, `floatingip`), details as `{"limit", "used", "reserved"}`,
//! and a list of only the projects that have overrides. An update may
//! carry `check_limit: true` (openstackclient always sends it) to refuse a
//! limit below current usage, or `force: true` to skip that check; with
//! neither, Neutron does not check.

use crate::error::{Json, NetworkError, NetworkResult};
use crate::NetworkState;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use ferrostack_policy::AuthContext;
use ferrostack_quota::{admin_target, caller_target, IfUnknown, ResourceMap, MAX_LIMIT, NETWORK};
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn limits_object(limits: ResourceMap) -> Map<String, Value> {
    limits.into_iter().map(|(k, v)| (k, json!(v))).collect()
}

fn readable(state: &NetworkState, caller: &AuthContext, raw: &str) -> NetworkResult<String> {
    // Neutron does not check that a project exists before showing its quota.
    Ok(caller_target(
        state.projects.as_ref(),
        caller,
        raw,
        IfUnknown::UseAsGiven,
        false,
    )?)
}

/// `GET /v2.0/quotas`: projects with non-default quotas.
pub async fn list(State(state): State<Arc<NetworkState>>) -> NetworkResult<axum::Json<Value>> {
    let mut quotas = Vec::new();
    for project in state.projects.list()? {
        if state.quotas.overrides(&NETWORK, &project.id)?.is_empty() {
            continue;
        }
        let mut entry = limits_object(state.quotas.limits(&NETWORK, &project.id)?);
        entry.insert("project_id".into(), json!(project.id));
        entry.insert("tenant_id".into(), json!(project.id));
        quotas.push(Value::Object(entry));
    }
    Ok(axum::Json(json!({ "quotas": quotas })))
}

/// `GET /v2.0/quotas/{project_id}`.
pub async fn show(
    State(state): State<Arc<NetworkState>>,
    axum::Extension(caller): axum::Extension<AuthContext>,
    Path(raw): Path<String>,
) -> NetworkResult<axum::Json<Value>> {
    let project_id = readable(&state, &caller, &raw)?;
    let limits = state.quotas.limits(&NETWORK, &project_id)?;
    Ok(axum::Json(json!({"quota": limits_object(limits)})))
}

/// `GET /v2.0/quotas/{project_id}/default`.
pub async fn default(
    State(state): State<Arc<NetworkState>>,
    axum::Extension(caller): axum::Extension<AuthContext>,
    Path(raw): Path<String>,
) -> NetworkResult<axum::Json<Value>> {
    readable(&state, &caller, &raw)?;
    let defaults = state.quotas.defaults(&NETWORK)?;
    Ok(axum::Json(json!({"quota": limits_object(defaults)})))
}

/// `GET /v2.0/quotas/{project_id}/details`.
pub async fn details(
    State(state): State<Arc<NetworkState>>,
    axum::Extension(caller): axum::Extension<AuthContext>,
    Path(raw): Path<String>,
) -> NetworkResult<axum::Json<Value>> {
    let project_id = readable(&state, &caller, &raw)?;
    let detail: Map<String, Value> = state
        .quotas
        .detail(&NETWORK, &project_id)?
        .into_iter()
        .map(|(k, d)| {
            (
                k,
                json!({"limit": d.limit, "used": d.in_use, "reserved": d.reserved}),
            )
        })
        .collect();
    Ok(axum::Json(json!({ "quota": detail })))
}

fn integer(field: &str, value: &Value) -> NetworkResult<i64> {
    let parsed = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| NetworkError::invalid_input(field, format!("'{value}' is not an integer")))?;
    if parsed < -1 {
        return Err(NetworkError::invalid_input(
            field,
            format!("'{parsed}' is too small - must be at least '-1'"),
        ));
    }
    if parsed > MAX_LIMIT {
        return Err(NetworkError::invalid_input(
            field,
            format!("'{parsed}' is too large - must be no larger than '{MAX_LIMIT}'"),
        ));
    }
    Ok(parsed)
}

fn boolean(field: &str, value: &Value) -> NetworkResult<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => Ok(true),
            "false" | "0" | "no" | "off" | "f" | "n" => Ok(false),
            _ => Err(NetworkError::invalid_input(
                field,
                format!("'{s}' is not a valid boolean value"),
            )),
        },
        other => Err(NetworkError::invalid_input(
            field,
            format!("'{other}' is not a valid boolean value"),
        )),
    }
}

/// The changes of `{"quota": {...}}` and whether to check them against usage.
pub fn parse_update(body: &Value) -> NetworkResult<(ResourceMap, bool)> {
    let quota = body
        .as_object()
        .and_then(|o| o.get("quota"))
        .ok_or_else(|| NetworkError::bad_request("Unable to find 'quota' in request body"))?
        .as_object()
        .ok_or_else(|| NetworkError::invalid_input("quota", "it must be an object"))?;
    let unknown: Vec<&str> = quota
        .keys()
        .map(String::as_str)
        .filter(|k| !NETWORK.has(k) && !["check_limit", "force"].contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(NetworkError::bad_request(format!(
            "Unrecognized attribute(s) '{}'",
            unknown.join(", ")
        )));
    }
    let mut check_limit = false;
    let mut force = false;
    let mut changes = ResourceMap::new();
    for (key, value) in quota {
        match key.as_str() {
            "check_limit" => check_limit = boolean(key, value)?,
            "force" => force = boolean(key, value)?,
            _ => {
                changes.insert(key.clone(), integer(key, value)?);
            }
        }
    }
    Ok((changes, check_limit && !force))
}

/// `PUT /v2.0/quotas/{project_id}`.
pub async fn update(
    State(state): State<Arc<NetworkState>>,
    Path(raw): Path<String>,
    Json(body): Json<Value>,
) -> NetworkResult<axum::Json<Value>> {
    let (changes, check) = parse_update(&body)?;
    let project_id = admin_target(state.projects.as_ref(), &raw, IfUnknown::Refuse)?;
    let limits = state
        .quotas
        .set_limits(&NETWORK, &project_id, &changes, !check)?;
    Ok(axum::Json(json!({"quota": limits_object(limits)})))
}

/// `DELETE /v2.0/quotas/{project_id}`: back to the defaults (204).
pub async fn delete(
    State(state): State<Arc<NetworkState>>,
    Path(raw): Path<String>,
) -> NetworkResult<axum::response::Response> {
    let project_id = admin_target(state.projects.as_ref(), &raw, IfUnknown::UseAsGiven)?;
    state.quotas.reset(&NETWORK, &project_id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_limit_asks_for_the_usage_check_and_force_skips_it() {
        let (c, check) =
            parse_update(&json!({"quota": {"network": 5, "check_limit": true}})).unwrap();
        assert_eq!(c, ResourceMap::from([("network".to_string(), 5)]));
        assert!(check);
        let (_, check) =
            parse_update(&json!({"quota": {"network": 5, "check_limit": true, "force": true}}))
                .unwrap();
        assert!(!check);
        let (_, check) = parse_update(&json!({"quota": {"network": "5"}})).unwrap();
        assert!(!check);
    }

    #[test]
    fn bad_updates_are_refused() {
        for bad in [
            json!({"quota": {"cores": 5}}),
            json!({"quota": {"network": "many"}}),
            json!({"quota": {"network": -2}}),
            json!({"quota": {"network": 1, "check_limit": "perhaps"}}),
            json!({"quota_set": {"network": 1}}),
            json!({"quota": 7}),
        ] {
            assert!(parse_update(&bad).is_err(), "{bad}");
        }
    }
}
