//! `/v2.1/flavors/{flavor_id}/os-extra_specs[/{key}]`: read by anyone who
//! sees the flavor, written by admins.
//!
//! Keys match Nova's `^[a-zA-Z0-9-_:. ]{1,255}$`; values are strings, or
//! numbers and booleans stored as their Python string form. From 2.86 Nova
//! validates specs in namespaces it knows; ferrostack checks the CPU
//! policy specs (`hw:cpu_policy`, `hw:cpu_thread_policy`) and lets the
//! rest through, as Nova does for namespaces it does not know.

use super::{invalid, python_repr, Caller};
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::routes::flavors::{find_visible, not_found};
use crate::ComputeState;
use axum::extract::{Path, State};
use ferrostack_compute_types::ApiVersion;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

fn key_ok(key: &str) -> bool {
    (1..=255).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:. ".contains(&b))
}

/// Known values of the specs validated from 2.86.
const ENUMS: &[(&str, &[&str])] = &[
    ("hw:cpu_policy", &["dedicated", "shared", "mixed"]),
    ("hw:cpu_thread_policy", &["prefer", "isolate", "require"]),
];

/// Validate and stringify a body's specs, as Nova does for `v`.
fn parse_specs(
    v: ApiVersion,
    specs: &Map<String, Value>,
) -> ComputeResult<BTreeMap<String, String>> {
    let whole = Value::Object(specs.clone());
    let bad: Vec<&str> = specs
        .keys()
        .map(String::as_str)
        .filter(|k| !key_ok(k))
        .collect();
    if !bad.is_empty() {
        let quoted: Vec<String> = bad.iter().map(|k| format!("'{k}'")).collect();
        let verb = if bad.len() == 1 { "was" } else { "were" };
        return Err(invalid(
            "extra_specs",
            &whole,
            &format!(
                "Additional properties are not allowed ({} {verb} unexpected)",
                quoted.join(", ")
            ),
        ));
    }
    let mut out = BTreeMap::new();
    for (key, value) in specs {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => python_repr(value),
            other => {
                return Err(invalid(
                    key,
                    other,
                    &format!(
                        "{} is not of type 'string', 'number', 'boolean'",
                        python_repr(other)
                    ),
                ))
            }
        };
        if text.chars().count() > 255 {
            return Err(invalid(key, value, &format!("'{text}' is too long")));
        }
        if v.at_least(86) {
            if let Some((_, allowed)) = ENUMS.iter().find(|(k, _)| k == key) {
                if !allowed.contains(&text.as_str()) {
                    return Err(ComputeError::BadRequest(format!(
                        "Validation failed; '{text}' is not one of {} for extra spec {key}.",
                        python_repr(&json!(allowed))
                    )));
                }
            }
        }
        out.insert(key.clone(), text);
    }
    Ok(out)
}

/// `GET .../os-extra_specs`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let flavor = find_visible(&state, &caller, &id)?;
    Ok(axum::Json(json!({"extra_specs": flavor.extra_specs})))
}

/// `POST .../os-extra_specs` (admin): add or replace; answers with the body's specs.
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Version(v): Version,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    let specs = super::wrapped(&body, "extra_specs")?;
    let parsed = parse_specs(v, specs)?;
    if !state.compute.set_extra_specs(&id, &parsed)? {
        return Err(not_found(&id));
    }
    Ok(axum::Json(body))
}

/// `GET .../os-extra_specs/{key}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
) -> ComputeResult<axum::Json<Value>> {
    let flavor = find_visible(&state, &caller, &id)?;
    match flavor.extra_specs.get(&key) {
        Some(value) => Ok(axum::Json(json!({ key: value }))),
        None => Err(no_such_key(&id, &key)),
    }
}

fn no_such_key(id: &str, key: &str) -> ComputeError {
    ComputeError::NotFound(format!("Flavor {id} has no extra specs with key {key}."))
}

/// `PUT .../os-extra_specs/{key}` (admin): the body is `{key: value}`.
pub async fn update(
    State(state): State<Arc<ComputeState>>,
    Version(v): Version,
    Path((id, key)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    let Value::Object(specs) = &body else {
        return Err(ComputeError::BadRequest(format!(
            "{} is not of type 'object'",
            python_repr(&body)
        )));
    };
    if specs.len() > 1 {
        return Err(ComputeError::BadRequest(
            "Request body contains too many items".into(),
        ));
    }
    if !specs.contains_key(&key) {
        return Err(ComputeError::BadRequest(
            "Request body and URI mismatch".into(),
        ));
    }
    let parsed = parse_specs(v, specs)?;
    if !state.compute.set_extra_specs(&id, &parsed)? {
        return Err(not_found(&id));
    }
    Ok(axum::Json(body))
}

/// `DELETE .../os-extra_specs/{key}` (admin): 200 with no body, as Nova.
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Path((id, key)): Path<(String, String)>,
) -> ComputeResult<()> {
    if state.compute.get_flavor(&id)?.is_none() {
        return Err(not_found(&id));
    }
    if !state.compute.delete_extra_spec(&id, &key)? {
        return Err(no_such_key(&id, &key));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_strings_and_keys_are_checked() {
        let specs = json!({"hw:cpu_policy": "shared", "n": 2, "b": true});
        let parsed = parse_specs(ApiVersion::new(2, 1), specs.as_object().unwrap()).unwrap();
        assert_eq!(parsed["n"], "2");
        assert_eq!(parsed["b"], "True");
        let bad = json!({"no/slash": "x"});
        assert!(parse_specs(ApiVersion::new(2, 1), bad.as_object().unwrap()).is_err());
        let nested = json!({"k": {"a": 1}});
        assert!(parse_specs(ApiVersion::new(2, 1), nested.as_object().unwrap()).is_err());
    }

    #[test]
    fn cpu_policy_is_validated_from_2_86() {
        let specs = json!({"hw:cpu_policy": "sometimes"});
        assert!(parse_specs(ApiVersion::new(2, 85), specs.as_object().unwrap()).is_ok());
        assert!(parse_specs(ApiVersion::new(2, 86), specs.as_object().unwrap()).is_err());
    }
}
