//! `/v3/os-quota-sets/{project_id}` and `/v3/os-quota-class-sets/{class}`,
//! in Cinder's shapes.
//!
//! Cinder differs from Nova in small ways kept here: usage comes from
//! `?usage=True` on show rather than a `/detail` path, values are checked
//! with "must be an integer" rather than a JSON schema, `id` and
//! `tenant_id` are tolerated (and ignored) in update bodies, and delete
//! answers 200. Per-volume-type quotas (`volumes_<type>`,
//! `gigabytes_<type>`, `snapshots_<type>`) are listed for every type, as
//! Cinder does, unlimited unless set; a key naming no type is refused.

use crate::error::{Json, VolumeError, VolumeResult};
use crate::VolumeState;
use axum::extract::{Path, Query, State};
use ferrostack_policy::AuthContext;
use ferrostack_quota::{admin_target, caller_target, IfUnknown, ResourceMap, MAX_LIMIT, VOLUME};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Keys Cinder accepts in a quota-set body without storing them.
const NON_QUOTA_KEYS: &[&str] = &["tenant_id", "id"];

fn param<'a>(p: &'a HashMap<String, String>, name: &str) -> VolumeResult<&'a str> {
    p.get(name)
        .map(String::as_str)
        .ok_or_else(|| VolumeError::Internal(format!("route has no {name} parameter")))
}

fn limits_object(limits: ResourceMap) -> Map<String, Value> {
    limits.into_iter().map(|(k, v)| (k, json!(v))).collect()
}

fn with_id(id: &str, mut set: Map<String, Value>) -> Value {
    set.insert("id".into(), json!(id));
    Value::Object(set)
}

/// `oslo.strutils.is_valid_boolstr`, as Cinder's `get_bool_param` uses it.
fn bool_param(name: &str, value: &str) -> VolumeResult<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "on" => Ok(true),
        "false" | "no" | "n" | "0" | "off" => Ok(false),
        _ => Err(VolumeError::BadRequest(format!(
            "Value '{value}' for '{name}' is not a boolean."
        ))),
    }
}

fn readable(state: &VolumeState, caller: &AuthContext, raw: &str) -> VolumeResult<String> {
    // Cinder does not check that a project exists before showing its quota.
    Ok(caller_target(
        state.projects.as_ref(),
        caller,
        raw,
        IfUnknown::UseAsGiven,
        false,
    )?)
}

/// `GET /v3/os-quota-sets/{project_id}[?usage=True]`.
pub async fn show(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(caller): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let project_id = readable(&state, &caller, param(&p, "project_id")?)?;
    let usage = match q.get("usage") {
        Some(v) => bool_param("usage", v)?,
        None => false,
    };
    let kinds = type_names(&state)?;
    let set = if usage {
        let mut detail = state.quotas.detail(&VOLUME, &project_id)?;
        detail.extend(state.quotas.kind_detail(&VOLUME, &project_id, &kinds)?);
        detail
            .into_iter()
            .map(|(k, d)| {
                (
                    k,
                    json!({"limit": d.limit, "in_use": d.in_use, "reserved": d.reserved}),
                )
            })
            .collect()
    } else {
        let mut limits = state.quotas.limits(&VOLUME, &project_id)?;
        limits.extend(state.quotas.kind_limits(&VOLUME, &project_id, &kinds)?);
        limits_object(limits)
    };
    Ok(axum::Json(json!({"quota_set": with_id(&project_id, set)})))
}

/// `GET /v3/os-quota-sets/{project_id}/defaults`.
pub async fn defaults(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(caller): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let project_id = readable(&state, &caller, param(&p, "project_id")?)?;
    let mut defaults = state.quotas.defaults(&VOLUME)?;
    // A project nobody has is one with only the defaults.
    defaults.extend(
        state
            .quotas
            .kind_limits(&VOLUME, "", &type_names(&state)?)?,
    );
    let set = limits_object(defaults);
    Ok(axum::Json(json!({"quota_set": with_id(&project_id, set)})))
}

/// Cinder's `utils.validate_integer` on a quota value.
fn integer(name: &str, value: &Value) -> VolumeResult<i64> {
    let parsed = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        VolumeError::BadRequest(format!(
            "Invalid input received: {name} must be an integer."
        ))
    })?;
    if parsed < -1 {
        return Err(VolumeError::BadRequest(format!(
            "Invalid input received: {name} must be >= -1"
        )));
    }
    if parsed > MAX_LIMIT {
        return Err(VolumeError::BadRequest(format!(
            "Invalid input received: {name} must be <= {MAX_LIMIT}"
        )));
    }
    Ok(parsed)
}

/// The changes of `{"<wrapper>": {...}}`, every key and value checked.
pub fn parse_update(body: &Value, wrapper: &str, non_quota: &[&str]) -> VolumeResult<ResourceMap> {
    let top = body.as_object().ok_or_else(|| {
        VolumeError::BadRequest(format!(
            "Invalid input: the body must be {{\"{wrapper}\": {{...}}}}."
        ))
    })?;
    if let Some(extra) = top.keys().find(|k| k.as_str() != wrapper) {
        return Err(VolumeError::BadRequest(format!(
            "Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    let set = top
        .get(wrapper)
        .ok_or_else(|| VolumeError::BadRequest(format!("'{wrapper}' is a required property")))?
        .as_object()
        .ok_or_else(|| {
            VolumeError::BadRequest(format!(
                "Invalid input for field/attribute {wrapper}. It is not of type 'object'"
            ))
        })?;
    let bad: Vec<&str> = set
        .keys()
        .map(String::as_str)
        .filter(|k| !VOLUME.has(k) && !non_quota.contains(k))
        .collect();
    if !bad.is_empty() {
        return Err(VolumeError::BadRequest(format!(
            "Invalid input received: Bad key(s) in {}: {}",
            wrapper.replace('_', " "),
            bad.join(", ")
        )));
    }
    set.iter()
        .filter(|(k, _)| !non_quota.contains(&k.as_str()))
        .map(|(k, v)| Ok((k.clone(), integer(k, v)?)))
        .collect()
}

/// The names of every volume type (the kinds of per-type quotas).
fn type_names(state: &VolumeState) -> VolumeResult<Vec<String>> {
    Ok(state
        .store
        .list_types()?
        .into_iter()
        .map(|t| t.name)
        .collect())
}

/// Per-type keys must name an existing type, as in Cinder.
fn known_types(state: &VolumeState, changes: &ResourceMap) -> VolumeResult<()> {
    let names = type_names(state)?;
    let bad: Vec<&str> = changes
        .keys()
        .filter(|k| {
            VOLUME
                .kind_of(k)
                .is_some_and(|(_, t)| !names.iter().any(|n| n == t))
        })
        .map(String::as_str)
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(VolumeError::BadRequest(format!(
            "Invalid input received: Bad key(s) in quota set: {}",
            bad.join(", ")
        )))
    }
}

/// `PUT /v3/os-quota-sets/{project_id}`.
pub async fn update(
    State(state): State<Arc<VolumeState>>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    let changes = parse_update(&body, "quota_set", NON_QUOTA_KEYS)?;
    known_types(&state, &changes)?;
    let raw = param(&p, "project_id")?;
    let project_id = admin_target(state.projects.as_ref(), raw, IfUnknown::Refuse)?;
    // Cinder has no `force`: a limit below usage is always refused.
    let mut limits = state
        .quotas
        .set_limits(&VOLUME, &project_id, &changes, false)?;
    limits.extend(
        state
            .quotas
            .kind_limits(&VOLUME, &project_id, &type_names(&state)?)?,
    );
    Ok(axum::Json(json!({"quota_set": limits_object(limits)})))
}

/// `DELETE /v3/os-quota-sets/{project_id}`: back to the defaults (200, as Cinder).
pub async fn delete(
    State(state): State<Arc<VolumeState>>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<()> {
    let raw = param(&p, "project_id")?;
    let project_id = admin_target(state.projects.as_ref(), raw, IfUnknown::UseAsGiven)?;
    state.quotas.reset(&VOLUME, &project_id)?;
    Ok(())
}

/// `GET /v3/os-quota-class-sets/{class_name}`.
pub async fn class_show(
    State(state): State<Arc<VolumeState>>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let class = param(&p, "class_name")?;
    let set = limits_object(class_limits(&state, class)?);
    Ok(axum::Json(json!({"quota_class_set": with_id(class, set)})))
}

/// A class's limits, with the per-type ones of every volume type for the
/// `default` class (the defaults per-type quotas fall back to, as
/// Cinder's default class holds them).
fn class_limits(state: &VolumeState, class: &str) -> VolumeResult<ResourceMap> {
    let mut limits = state.quotas.class_limits(&VOLUME, class)?;
    if class == ferrostack_quota::DEFAULT_CLASS {
        limits.extend(state.quotas.kind_defaults(&VOLUME, &type_names(state)?)?);
    }
    Ok(limits)
}

/// `PUT /v3/os-quota-class-sets/{class_name}`.
pub async fn class_update(
    State(state): State<Arc<VolumeState>>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    let class = param(&p, "class_name")?;
    if class.is_empty() || class.chars().count() > 255 {
        return Err(VolumeError::BadRequest(
            "Invalid input received: quota_class_name must be 1 to 255 characters.".into(),
        ));
    }
    let changes = parse_update(&body, "quota_class_set", &[])?;
    known_types(&state, &changes)?;
    if class != ferrostack_quota::DEFAULT_CLASS {
        if let Some(k) = changes.keys().find(|k| VOLUME.kind_of(k).is_some()) {
            return Err(VolumeError::BadRequest(format!(
                "Invalid input received: Bad key(s) in quota class set: {k} (per-type \
                 quotas have defaults in the default class only)"
            )));
        }
    }
    state.quotas.set_class(&VOLUME, class, &changes)?;
    Ok(axum::Json(
        json!({"quota_class_set": limits_object(class_limits(&state, class)?)}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cinder_accepts_integer_strings_and_ignores_id_keys() {
        let body = json!({"quota_set": {"volumes": "5", "tenant_id": "x", "id": "y"}});
        let changes = parse_update(&body, "quota_set", NON_QUOTA_KEYS).unwrap();
        assert_eq!(changes, ResourceMap::from([("volumes".to_string(), 5)]));
    }

    #[test]
    fn cinder_refuses_bad_keys_and_values() {
        for bad in [
            json!({"quota_set": {"cores": 5}}),
            json!({"quota_set": {"volumes": "five"}}),
            json!({"quota_set": {"volumes": -2}}),
            json!({"quota_set": {"volumes": 1.5}}),
            json!({"quota_set": 3}),
            json!({"quota": {"volumes": 1}}),
            json!({"quota_set": {}, "x": 1}),
        ] {
            assert!(
                parse_update(&bad, "quota_set", NON_QUOTA_KEYS).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn usage_takes_oslo_booleans() {
        assert!(bool_param("usage", "True").unwrap());
        assert!(!bool_param("usage", "false").unwrap());
        assert!(bool_param("usage", "maybe").is_err());
    }
}
