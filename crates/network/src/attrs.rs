//! Reading Neutron request bodies and the caller's rights, the same way
//! for networks, subnets and ports.
//!
//! Neutron checks a body against its attribute map: the envelope
//! (`{"network": {...}}`) must be there, unknown attributes are a 400
//! (`Unrecognized attribute(s) 'x'`), attributes that may not be changed
//! are a 400 on update, and values are converted (booleans from strings
//! too) with `Invalid input for <attr>. Reason: ...`. These helpers keep
//! those words in one place. Rejected: serde structs with
//! `deny_unknown_fields`, whose messages are serde's, not Neutron's.
//!
//! Rights, as Neutron's default policy has them: an admin sees and acts
//! anywhere; others act in their token's project (`member` to write,
//! `reader` to read); resources of other projects answer 404, not 403.

use crate::error::{NetworkError, NetworkResult};
use crate::query::parse_bool;
use ferrostack_policy::AuthContext;
use http::StatusCode;
use serde_json::{json, Map, Value};

/// A request body's resource object, checked against `allowed`.
pub fn body_object(
    body: Value,
    key: &str,
    allowed: &[&str],
    updating: bool,
) -> NetworkResult<Map<String, Value>> {
    let Value::Object(mut outer) = body else {
        return Err(NetworkError::bad_request("Body contains invalid data"));
    };
    let inner = match outer.remove(key) {
        Some(Value::Object(m)) => m,
        Some(_) => return Err(NetworkError::bad_request("Body contains invalid data")),
        None => {
            return Err(NetworkError::bad_request(format!(
                "Unable to find '{key}' in request body"
            )))
        }
    };
    let unknown: Vec<&str> = inner
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        let message = if updating {
            format!("Cannot update read-only attribute {}", unknown.join(", "))
        } else {
            format!("Unrecognized attribute(s) '{}'", unknown.join(", "))
        };
        return Err(NetworkError::bad_request(message));
    }
    Ok(inner)
}

/// A text attribute (`null` reads as absent).
pub fn text(map: &Map<String, Value>, key: &str) -> NetworkResult<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(NetworkError::invalid_input(
            key,
            format!("'{other}' is not a valid string"),
        )),
    }
}

/// Neutron's 400 for a required attribute a body lacks.
pub fn required(key: &str) -> NetworkError {
    NetworkError::bad_request(format!(
        "Failed to parse request. Required attribute '{key}' not specified"
    ))
}

/// A text attribute the body must carry.
pub fn required_text(map: &Map<String, Value>, key: &str) -> NetworkResult<String> {
    text(map, key)?.ok_or_else(|| required(key))
}

/// A text attribute of at most 255 characters (names, descriptions).
pub fn short_text(map: &Map<String, Value>, key: &str) -> NetworkResult<Option<String>> {
    let v = text(map, key)?;
    if let Some(s) = &v {
        if s.chars().count() > 255 {
            return Err(NetworkError::invalid_input(
                key,
                format!("'{s}' exceeds maximum length of 255"),
            ));
        }
    }
    Ok(v)
}

/// Neutron's words when a body's boolean does not convert (its
/// converter's `InvalidInput`, re-raised as a plain 400).
fn not_boolean(raw: &str) -> NetworkError {
    NetworkError::bad_request(format!(
        "Invalid input for operation: '{raw}' cannot be converted to boolean."
    ))
}

/// A boolean attribute, converted as Neutron converts (`"true"`, `1`...).
pub fn boolean(map: &Map<String, Value>, key: &str) -> NetworkResult<Option<bool>> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => parse_bool(s).map(Some).ok_or_else(|| not_boolean(s)),
        Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
            Ok(Some(n.as_i64() == Some(1)))
        }
        Some(other) => Err(not_boolean(&other.to_string())),
    }
}

/// An integer attribute (numbers or numeric strings).
pub fn integer(map: &Map<String, Value>, key: &str) -> NetworkResult<Option<i64>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => Ok(s.trim().parse().ok()),
        Some(other) => Err(NetworkError::bad_request(format!(
            "Invalid input for operation: '{other}' is not an integer."
        ))),
    }
}

/// A list of strings.
pub fn strings(map: &Map<String, Value>, key: &str) -> NetworkResult<Option<Vec<String>>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    NetworkError::invalid_input(key, format!("'{i}' is not a valid string"))
                })
            })
            .collect::<NetworkResult<Vec<_>>>()
            .map(Some),
        Some(other) => Err(NetworkError::invalid_input(
            key,
            format!("'{other}' is not a list"),
        )),
    }
}

/// The project a create is for: the caller's, or (admins only) the
/// `project_id`/`tenant_id` given.
pub fn owner_for_create(caller: &AuthContext, map: &Map<String, Value>) -> NetworkResult<String> {
    let given = match (text(map, "project_id")?, text(map, "tenant_id")?) {
        (Some(p), Some(t)) if p != t => {
            return Err(NetworkError::bad_request(
                "'project_id' and 'tenant_id' do not match",
            ))
        }
        (Some(p), _) | (None, Some(p)) => Some(p),
        (None, None) => None,
    };
    let own = caller.project_id().map(str::to_string);
    match (given, own) {
        (Some(p), own) if Some(&p) != own.as_ref() => {
            if caller.is_admin() {
                Ok(p)
            } else {
                Err(NetworkError::bad_request(
                    "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges",
                ))
            }
        }
        (Some(p), _) => Ok(p),
        (None, Some(own)) => Ok(own),
        (None, None) => Err(NetworkError::bad_request(
            "A project-scoped token is required to create this resource",
        )),
    }
}

/// May the caller read resources of `project`?
pub fn can_read(caller: &AuthContext, project: &str) -> bool {
    caller.check_project(project, false).is_ok()
}

/// Check the caller may write resources of `project` it can see: 403
/// (a reader) as Neutron's policy answers.
pub fn check_write(caller: &AuthContext, project: &str, rule: &str) -> NetworkResult<()> {
    match caller.check_project(project, true) {
        Ok(()) => Ok(()),
        Err(_) => Err(NetworkError::policy(rule)),
    }
}

/// The standard attributes every resource has (`standard-attr-*`).
pub fn standard(
    view: &mut Map<String, Value>,
    description: &str,
    tags: &[String],
    created_at: i64,
    updated_at: i64,
    revision_number: i64,
) {
    view.insert("description".into(), json!(description));
    view.insert("tags".into(), json!(tags));
    view.insert(
        "created_at".into(),
        json!(ferrostack_common::time::iso_seconds(created_at)),
    );
    view.insert(
        "updated_at".into(),
        json!(ferrostack_common::time::iso_seconds(updated_at)),
    );
    view.insert("revision_number".into(), json!(revision_number));
}

/// Neutron's 404 for a resource the caller may not see or that is absent.
pub fn not_found(kind: &'static str, noun: &str, id: &str) -> NetworkError {
    NetworkError::new(
        StatusCode::NOT_FOUND,
        kind,
        format!("{noun} {id} could not be found."),
    )
}
