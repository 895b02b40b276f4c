//! Reading request bodies the way Glance's metadefs schemas do: 400 with
//! the offending attribute for a wrong type, a missing required attribute
//! or a too-long string; 403 for read-only attributes (`self`, `schema`,
//! `created_at`, `updated_at`), as Glance answers them.

use crate::error::{ImageError, ImageResult};
use ferrostack_store::metadefs::{Association, MetaObject};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Glance's maximum length of names (namespace, object, tag, resource type).
pub const NAME_MAX: usize = 80;

/// Property definition attributes Glance's `PropertyType` keeps.
const PROPERTY_KEYS: &[&str] = &[
    "title",
    "description",
    "operators",
    "type",
    "enum",
    "items",
    "readonly",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "uniqueItems",
    "minItems",
    "maxItems",
    "additionalItems",
];
const PROPERTY_TYPES: &[&str] = &[
    "array", "boolean", "integer", "number", "object", "string", "null",
];

fn bad(message: String) -> ImageError {
    ImageError::BadRequest(message)
}

/// The body as a JSON object, with no read-only attribute.
pub fn object_body(body: &Value) -> ImageResult<&Map<String, Value>> {
    let map = body
        .as_object()
        .ok_or_else(|| bad("Body expected in request.".into()))?;
    for key in ["self", "schema", "created_at", "updated_at"] {
        if map.contains_key(key) {
            return Err(ImageError::Forbidden(format!(
                "Attribute '{key}' is read-only."
            )));
        }
    }
    Ok(map)
}

/// An optional string attribute of at most `max` characters (null = absent).
pub fn opt_string(map: &Map<String, Value>, key: &str, max: usize) -> ImageResult<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(Value::String(s)) => Err(bad(format!(
            "Invalid value for '{key}': '{s}' is too long (at most {max} characters)."
        ))),
        Some(v) => Err(bad(format!(
            "Invalid value for '{key}': {v} is not of type 'string'."
        ))),
    }
}

/// A required, non-empty string attribute.
pub fn string(map: &Map<String, Value>, key: &str, max: usize) -> ImageResult<String> {
    match opt_string(map, key, max)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(bad(format!("Invalid value for '{key}': it is empty."))),
        None => Err(bad(format!("'{key}' is a required property."))),
    }
}

/// An optional boolean attribute.
pub fn opt_bool(map: &Map<String, Value>, key: &str) -> ImageResult<Option<bool>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(bad(format!(
            "Invalid value for '{key}': {v} is not of type 'boolean'."
        ))),
    }
}

/// `visibility`: `public` or `private`.
pub fn visibility(map: &Map<String, Value>) -> ImageResult<Option<String>> {
    match opt_string(map, "visibility", 32)? {
        Some(v) if v != "public" && v != "private" => Err(bad(format!(
            "Invalid value for 'visibility': '{v}' is not one of ['public', 'private']."
        ))),
        v => Ok(v),
    }
}

/// One property definition (without its name): `title` and `type`
/// required, only `PropertyType`'s attributes kept.
pub fn property(name: &str, v: &Value) -> ImageResult<Value> {
    let map = v.as_object().ok_or_else(|| {
        bad(format!(
            "Invalid value for property '{name}': {v} is not of type 'object'."
        ))
    })?;
    string(map, "title", 255)?;
    let kind = string(map, "type", 16)?;
    if !PROPERTY_TYPES.contains(&kind.as_str()) {
        return Err(bad(format!(
            "Invalid value for 'type' of property '{name}': '{kind}' is not one of {PROPERTY_TYPES:?}."
        )));
    }
    let kept: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| PROPERTY_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Value::Object(kept))
}

/// A `properties` map of definitions by name.
pub fn properties(v: Option<&Value>) -> ImageResult<BTreeMap<String, Value>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let map = v.as_object().ok_or_else(|| {
        bad(format!(
            "Invalid value for 'properties': {v} is not of type 'object'."
        ))
    })?;
    let mut out = BTreeMap::new();
    for (name, def) in map {
        if name.is_empty() || name.chars().count() > NAME_MAX {
            return Err(bad(format!("Invalid property name '{name}'.")));
        }
        out.insert(name.clone(), property(name, def)?);
    }
    Ok(out)
}

/// An object from its body.
pub fn object(v: &Value, now: i64) -> ImageResult<MetaObject> {
    let map = object_body(v)?;
    let required = match map.get("required") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    bad(format!(
                        "Invalid value for 'required': {i} is not of type 'string'."
                    ))
                })
            })
            .collect::<ImageResult<_>>()?,
        Some(v) => {
            return Err(bad(format!(
                "Invalid value for 'required': {v} is not of type 'array'."
            )))
        }
    };
    Ok(MetaObject {
        name: string(map, "name", NAME_MAX)?,
        description: opt_string(map, "description", 8192)?,
        required,
        properties: properties(map.get("properties"))?,
        created_at: now,
        updated_at: now,
    })
}

/// A resource type association from its body.
pub fn association(v: &Value, now: i64) -> ImageResult<Association> {
    let map = object_body(v)?;
    Ok(Association {
        name: string(map, "name", NAME_MAX)?,
        prefix: opt_string(map, "prefix", NAME_MAX)?,
        properties_target: opt_string(map, "properties_target", NAME_MAX)?,
        created_at: now,
        updated_at: now,
    })
}

/// A tag's name from a `{"name": ...}` body.
pub fn tag_name(v: &Value) -> ImageResult<String> {
    string(object_body(v)?, "name", NAME_MAX)
}

/// The items of an array attribute `key` (absent = empty).
pub fn array<'a>(map: &'a Map<String, Value>, key: &str) -> ImageResult<&'a [Value]> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(v) => Err(bad(format!(
            "Invalid value for '{key}': {v} is not of type 'array'."
        ))),
    }
}
