//! HTTP handlers of the block storage API, one file per resource. They
//! parse and render; the decisions are the service layer's
//! ([`crate::service`]).

pub mod actions;
pub mod attachments;
pub mod backups;
pub mod hosts;
pub mod metadata;
pub mod misc;
pub mod qos;
pub mod snapshots;
pub mod transfers;
pub mod types;
pub mod volumes;

use crate::error::{VolumeError, VolumeResult};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// A path parameter.
pub(crate) fn param<'a>(p: &'a HashMap<String, String>, name: &str) -> VolumeResult<&'a str> {
    p.get(name)
        .map(String::as_str)
        .ok_or_else(|| VolumeError::Internal(format!("route has no {name} parameter")))
}

/// The object under `key` of a request body.
pub(crate) fn wrapped<'a>(
    body: &'a Value,
    key: &str,
) -> VolumeResult<&'a serde_json::Map<String, Value>> {
    body.get(key).and_then(Value::as_object).ok_or_else(|| {
        VolumeError::BadRequest(format!("Missing required element '{key}' in request body."))
    })
}

/// An optional string field (null is absent).
pub(crate) fn opt_string(
    o: &serde_json::Map<String, Value>,
    key: &str,
) -> VolumeResult<Option<String>> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= 255 || key == "description" => {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(VolumeError::BadRequest(format!(
            "Invalid input for field/attribute {key}. It is not a string of at most 255 characters."
        ))),
    }
}

/// A metadata object: string keys of 1 to 255 characters, string values.
pub(crate) fn metadata(v: Option<&Value>) -> VolumeResult<BTreeMap<String, String>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let o = v.as_object().ok_or_else(|| {
        VolumeError::BadRequest("Invalid input received: metadata must be a dict".into())
    })?;
    o.iter()
        .map(|(k, v)| {
            if k.is_empty() || k.chars().count() > 255 {
                return Err(VolumeError::BadRequest(
                    "Invalid input received: Metadata property key must be 1 to 255 characters.".into(),
                ));
            }
            match v {
                Value::String(s) if s.chars().count() <= 255 => Ok((k.clone(), s.clone())),
                _ => Err(VolumeError::BadRequest(format!(
                    "Invalid input received: Metadata property value for key {k} must be a string of at most 255 characters."
                ))),
            }
        })
        .collect()
}

/// An integer given as a number or a numeric string (Cinder's
/// `validate_integer`).
pub(crate) fn integer(name: &str, v: &Value, min: i64) -> VolumeResult<i64> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        VolumeError::BadRequest(format!(
            "Invalid input received: {name} must be an integer."
        ))
    })?;
    if n < min {
        return Err(VolumeError::BadRequest(format!(
            "Invalid input received: {name} must be >= {min}."
        )));
    }
    Ok(n)
}

/// oslo's boolean strings, or a JSON boolean.
pub(crate) fn boolean(name: &str, v: &Value) -> VolumeResult<bool> {
    let s = match v {
        Value::Bool(b) => return Ok(*b),
        Value::String(s) => s.to_ascii_lowercase(),
        _ => String::new(),
    };
    match s.as_str() {
        "true" | "yes" | "y" | "1" | "on" | "t" => Ok(true),
        "false" | "no" | "n" | "0" | "off" | "f" => Ok(false),
        _ => Err(VolumeError::BadRequest(format!(
            "Invalid input received: {name} must be a boolean."
        ))),
    }
}
