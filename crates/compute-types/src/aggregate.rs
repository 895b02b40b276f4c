//! The bodies of `/os-aggregates`: create, update and the actions
//! (`add_host`, `remove_host`, `set_metadata`).
//!
//! Why a module: Nova's aggregate schemas are strict (no other keys at
//! either level) and share two field rules, the aggregate's name (Nova's
//! `name` format, 1-255) and its zone (1-255 characters, no `:`, which
//! would read as `zone:host` in a server create). Checking them here
//! keeps the handler to what it decides: which hosts, which zones.

use crate::body::{self, exactly, python_repr, unexpected_message, BodyError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A create or update as checked: the fields given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AggregateFields {
    /// The name, if given.
    pub name: Option<String>,
    /// The zone: absent, or given (`Some(None)` = null, no zone).
    pub availability_zone: Option<Option<String>>,
}

/// An action of `POST /os-aggregates/{id}/action`.
#[derive(Clone, Debug, PartialEq)]
pub enum AggregateAction {
    /// `{"add_host": {"host": ...}}`.
    AddHost(String),
    /// `{"remove_host": {"host": ...}}`.
    RemoveHost(String),
    /// `{"set_metadata": {"metadata": {...}}}`: `None` deletes a key.
    SetMetadata(BTreeMap<String, Option<String>>),
}

fn not_string(field: &str, v: &Value) -> BodyError {
    BodyError::invalid(
        field,
        v,
        &format!("{} is not of type 'string'", python_repr(v)),
    )
}

/// A string of `min..=max` characters, in jsonschema's words.
fn sized(field: &str, v: &Value, min: usize, max: usize) -> Result<String, BodyError> {
    let Value::String(s) = v else {
        return Err(not_string(field, v));
    };
    let n = s.chars().count();
    if n < min {
        return Err(BodyError::invalid(field, v, &format!("'{s}' is too short")));
    }
    if n > max {
        return Err(BodyError::invalid(field, v, &format!("'{s}' is too long")));
    }
    Ok(s.clone())
}

/// Nova's zone name: a nullable string of 1-255 characters without `:`.
pub fn zone(v: &Value) -> Result<Option<String>, BodyError> {
    if v.is_null() {
        return Ok(None);
    }
    let z = sized("availability_zone", v, 1, 255)?;
    if z.contains(':') {
        return Err(BodyError::invalid(
            "availability_zone",
            v,
            &format!("'{z}' does not match '^[^:]*$'"),
        ));
    }
    Ok(Some(z))
}

fn fields(inner: &Map<String, Value>) -> Result<AggregateFields, BodyError> {
    body::only_allowed("aggregate", inner, |k| {
        k == "name" || k == "availability_zone"
    })?;
    Ok(AggregateFields {
        name: inner
            .get("name")
            .map(|n| body::name("name", n))
            .transpose()?,
        availability_zone: inner.get("availability_zone").map(zone).transpose()?,
    })
}

/// `POST /os-aggregates`: `{"aggregate": {"name", "availability_zone"?}}`.
pub fn create(sent: &Value) -> Result<AggregateFields, BodyError> {
    let inner = exactly(sent, "aggregate")?;
    if !inner.contains_key("name") {
        return Err(BodyError::invalid(
            "aggregate",
            &Value::Object(inner.clone()),
            "'name' is a required property",
        ));
    }
    fields(inner)
}

/// `PUT /os-aggregates/{id}`: at least one of the two fields.
pub fn update(sent: &Value) -> Result<AggregateFields, BodyError> {
    let inner = exactly(sent, "aggregate")?;
    if inner.is_empty() {
        return Err(BodyError::invalid(
            "aggregate",
            &Value::Object(inner.clone()),
            "{} does not have enough properties",
        ));
    }
    fields(inner)
}

fn host(action: &str, inner: &Value) -> Result<String, BodyError> {
    let Value::Object(m) = inner else {
        return Err(BodyError::invalid(
            action,
            inner,
            &format!("{} is not of type 'object'", python_repr(inner)),
        ));
    };
    body::only_allowed(action, m, |k| k == "host")?;
    let h = m
        .get("host")
        .ok_or_else(|| BodyError::invalid(action, inner, "'host' is a required property"))?;
    sized("host", h, 1, 255)
}

fn metadata(inner: &Value) -> Result<BTreeMap<String, Option<String>>, BodyError> {
    let Value::Object(m) = inner else {
        return Err(BodyError::invalid(
            "set_metadata",
            inner,
            &format!("{} is not of type 'object'", python_repr(inner)),
        ));
    };
    body::only_allowed("set_metadata", m, |k| k == "metadata")?;
    let md = m.get("metadata").ok_or_else(|| {
        BodyError::invalid("set_metadata", inner, "'metadata' is a required property")
    })?;
    let Value::Object(md) = md else {
        return Err(BodyError::invalid(
            "metadata",
            md,
            &format!("{} is not of type 'object'", python_repr(md)),
        ));
    };
    let mut out = BTreeMap::new();
    for (k, v) in md {
        let n = k.chars().count();
        if n == 0 || n > 255 {
            return Err(BodyError::invalid(
                "metadata",
                &Value::Object(md.clone()),
                &format!("'{k}' does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{{1,255}}$'"),
            ));
        }
        let value = match v {
            Value::Null => None,
            Value::String(_) => Some(sized(&format!("metadata/{k}"), v, 0, 255)?),
            other => return Err(not_string(&format!("metadata/{k}"), other)),
        };
        out.insert(k.clone(), value);
    }
    Ok(out)
}

/// `POST /os-aggregates/{id}/action`: exactly one action key.
pub fn action(sent: &Value) -> Result<AggregateAction, BodyError> {
    let Value::Object(top) = sent else {
        return Err(BodyError::BadRequest(format!(
            "{} is not of type 'object'",
            python_repr(sent)
        )));
    };
    let known = ["add_host", "remove_host", "set_metadata"];
    let extra: Vec<&str> = top
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if !extra.is_empty() || top.len() != 1 {
        return Err(BodyError::BadRequest(if extra.is_empty() {
            "Invalid request body: exactly one action is expected".into()
        } else {
            unexpected_message(&extra)
        }));
    }
    let (name, inner) = top.iter().next().expect("one key");
    Ok(match name.as_str() {
        "add_host" => AggregateAction::AddHost(host(name, inner)?),
        "remove_host" => AggregateAction::RemoveHost(host(name, inner)?),
        _ => AggregateAction::SetMetadata(metadata(inner)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_needs_a_name_of_1_to_255_and_a_zone_without_colons() {
        assert!(create(&json!({"aggregate": {"name": ""}})).is_err());
        assert!(create(&json!({"aggregate": {"name": "a".repeat(256)}})).is_err());
        assert!(create(&json!({"aggregate": {}})).is_err());
        assert!(create(&json!({"aggregate": {"name": "a", "x": 1}})).is_err());
        assert!(create(&json!({"aggregate": {"name": "a", "availability_zone": "z:h"}})).is_err());
        let f = create(&json!({"aggregate": {"name": "a", "availability_zone": null}})).unwrap();
        assert_eq!(f.availability_zone, Some(None));
        assert!(update(&json!({"aggregate": {}})).is_err());
    }

    #[test]
    fn actions_read_one_key() {
        assert_eq!(
            action(&json!({"add_host": {"host": "h1"}})).unwrap(),
            AggregateAction::AddHost("h1".into())
        );
        assert!(action(&json!({"add_host": {}})).is_err());
        assert!(action(&json!({"add_host": {"host": "h"}, "remove_host": {"host": "h"}})).is_err());
        let AggregateAction::SetMetadata(m) =
            action(&json!({"set_metadata": {"metadata": {"a": "1", "b": null}}})).unwrap()
        else {
            panic!("not set_metadata")
        };
        assert_eq!(m.get("b"), Some(&None));
        assert!(action(&json!({"set_metadata": {"metadata": {"a": 1}}})).is_err());
    }
}
