//! What every compute request body shares: Nova's words for a refused
//! field, and reading fields as they were sent.
//!
//! Nova validates bodies with JSON Schema, and the 400s clients see are
//! jsonschema's (`Invalid input for field/attribute name. Value: 3. 3 is
//! not of type 'string'`). A body type here therefore names every field
//! once, but a field whose refusal must be worded precisely is kept as the
//! JSON that was sent (`Option<Value>`, read with [`present`] so that an
//! explicit `null` is told apart from a missing key); the type's methods
//! check it and answer [`BodyError`] in Nova's words. Rejected: plain
//! `String`/`u64` fields, whose serde errors ("invalid type: integer,
//! expected a string") are not what Nova says, and which would turn a body
//! Nova reads leniently (a count given as `"2"`) into a refusal.
//!
//! Bodies are read through a [`Value`] first ([`Wrapped`]), so a repeated
//! key keeps its last value as Python's `json` does, a body that is not an
//! object still gets Nova's message, and the message can quote the body.
//!
//! Some resources (flavors, key pairs, quota sets, quota class sets,
//! server groups) are strict as Nova's schemas are: nothing but the
//! wrapper at the top ([`Wrapped::strict`], [`exactly`]) and only known keys inside
//! ([`only_allowed`]), every unexpected key named in jsonschema's words.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Why a body was refused; `Display` is the message the client sees.
#[derive(Clone, Debug, PartialEq)]
pub enum BodyError {
    /// 400 `Invalid input for field/attribute {field}. Value: {value}. {why}`.
    Invalid {
        /// The field, as jsonschema names it (`metadata/key` for a nested one).
        field: String,
        /// The value sent.
        value: Value,
        /// jsonschema's reason.
        why: String,
    },
    /// 400 with a message of its own.
    BadRequest(String),
    /// 403 (too many metadata items is a quota refusal in Nova).
    Forbidden(String),
}

impl BodyError {
    /// A jsonschema-style refusal of `value` in `field`.
    pub fn invalid(field: &str, value: &Value, why: &str) -> Self {
        BodyError::Invalid {
            field: field.to_string(),
            value: value.clone(),
            why: why.to_string(),
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::Invalid { field, value, why } => write!(
                f,
                "Invalid input for field/attribute {field}. Value: {}. {why}",
                python_repr(value)
            ),
            BodyError::BadRequest(m) | BodyError::Forbidden(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BodyError {}

/// How jsonschema (and so Nova) prints a value in its messages.
pub fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => format!("'{s}'"),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("'{k}': {}", python_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `deserialize_with` for `Option<Value>` fields: a key that is present
/// reads as `Some`, even when its value is `null` (serde's default would
/// make `null` and "missing" the same `None`). Use with `default`.
pub fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Read a JSON value as the lenient struct `T`. A `T` whose fields are all
/// `Option<Value>` ([`present`]) or maps of `Value` reads any object; what
/// is not an object reads as `T::default()`, every field missing.
pub fn read<T: DeserializeOwned + Default>(value: &Value) -> T {
    match value {
        Value::Object(_) => T::deserialize(value).unwrap_or_default(),
        _ => T::default(),
    }
}

/// A string of at most `max` characters, if `value` was given.
pub fn string(field: &str, value: Option<&Value>, max: usize) -> Result<Option<String>, BodyError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(Some(s.clone())),
        Some(v @ Value::String(_)) => Err(BodyError::invalid(
            field,
            v,
            &format!("is too long (max {max})"),
        )),
        Some(v) => Err(BodyError::invalid(
            field,
            v,
            &format!("{} is not of type 'string'", python_repr(v)),
        )),
    }
}

/// Nova's `name` format: printable, no leading or trailing whitespace,
/// 1-255 characters.
pub fn name(field: &str, value: &Value) -> Result<String, BodyError> {
    let Value::String(s) = value else {
        return Err(BodyError::invalid(
            field,
            value,
            &format!("{} is not of type 'string'", python_repr(value)),
        ));
    };
    let len = s.chars().count();
    if len == 0 {
        return Err(BodyError::invalid(
            field,
            value,
            &format!("'{s}' is too short"),
        ));
    }
    if len > 255 {
        return Err(BodyError::invalid(
            field,
            value,
            &format!("'{s}' is too long"),
        ));
    }
    if s.starts_with(char::is_whitespace)
        || s.ends_with(char::is_whitespace)
        || !s.chars().all(printable)
    {
        return Err(BodyError::invalid(
            field,
            value,
            "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.",
        ));
    }
    Ok(s.clone())
}

/// Is `c` printable as Nova's `name` format means it: not in a Unicode
/// "other" category (controls Cc, formats Cf such as U+202E RIGHT-TO-LEFT
/// OVERRIDE, private use Co, noncharacters) and not a line or paragraph
/// separator (Zl, Zp); other spaces (Zs) are printable. A name that
/// reorders or hides text in a listing would mislead whoever reads it.
pub fn printable(c: char) -> bool {
    let cp = u32::from(c);
    let format = matches!(
        cp,
        0xAD | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x890..=0x891
            | 0x8E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    );
    let private_use = matches!(cp, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD);
    let nonchar = (cp & 0xFFFE) == 0xFFFE || (0xFDD0..=0xFDEF).contains(&cp);
    let separator = matches!(cp, 0x2028 | 0x2029);
    !(c.is_control() || format || private_use || nonchar || separator)
}

/// `adminPass` of a create or rebuild: absent, or a string (Nova's
/// `admin_password` parameter type).
pub fn admin_pass(value: Option<&Value>) -> Result<Option<String>, BodyError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // A password is not quoted back, even a malformed one.
        Some(_) => Err(BodyError::invalid(
            "adminPass",
            &Value::String("***".into()),
            "is not of type 'string'",
        )),
    }
}

/// Most metadata items a server (or an image made from it) may carry.
pub const MAX_METADATA_ITEMS: usize = 128;

/// Nova's metadata rules: an object of string keys of 1-255 characters
/// and string values of 0-255; more than [`MAX_METADATA_ITEMS`] is a 403.
pub fn metadata(v: &Value) -> Result<BTreeMap<String, String>, BodyError> {
    let Some(m) = v.as_object() else {
        return Err(BodyError::invalid("metadata", v, "is not of type 'object'"));
    };
    let mut out = BTreeMap::new();
    for (k, val) in m {
        if k.is_empty() || k.chars().count() > 255 {
            return Err(BodyError::invalid(
                "metadata",
                v,
                "keys must be 1 to 255 characters",
            ));
        }
        let Some(s) = val.as_str() else {
            return Err(BodyError::invalid(
                &format!("metadata/{k}"),
                val,
                &format!("{} is not of type 'string'", python_repr(val)),
            ));
        };
        if s.chars().count() > 255 {
            return Err(BodyError::invalid(
                &format!("metadata/{k}"),
                val,
                "is too long",
            ));
        }
        out.insert(k.clone(), s.to_string());
    }
    if out.len() > MAX_METADATA_ITEMS {
        return Err(BodyError::Forbidden(
            "Quota exceeded, too many metadata items.".into(),
        ));
    }
    Ok(out)
}

/// jsonschema's message for unexpected keys, naming them all.
pub fn unexpected_message(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
    let verb = if keys.len() == 1 { "was" } else { "were" };
    format!(
        "Additional properties are not allowed ({} {verb} unexpected)",
        quoted.join(", ")
    )
}

/// Refuse keys of `object` (the value of `field`) that `allowed`
/// rejects, naming them all, as jsonschema's `additionalProperties`.
pub fn only_allowed(
    field: &str,
    object: &Map<String, Value>,
    allowed: impl Fn(&str) -> bool,
) -> Result<(), BodyError> {
    let extra: Vec<&str> = object
        .keys()
        .map(String::as_str)
        .filter(|k| !allowed(k))
        .collect();
    if extra.is_empty() {
        Ok(())
    } else {
        Err(BodyError::invalid(
            field,
            &Value::Object(object.clone()),
            &unexpected_message(&extra),
        ))
    }
}

/// A boolean as Nova's `parameter_types.boolean` takes it: `true`/`false`
/// or one of its spellings as a string.
pub fn boolean(field: &str, value: &Value) -> Result<bool, BodyError> {
    const TRUE: &[&str] = &[
        "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
    ];
    const FALSE: &[&str] = &[
        "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no",
    ];
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if TRUE.contains(&s.as_str()) => Ok(true),
        Value::String(s) if FALSE.contains(&s.as_str()) => Ok(false),
        other => Err(BodyError::invalid(
            field,
            value,
            &format!(
                "{} is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']",
                python_repr(other)
            ),
        )),
    }
}

/// `n` (read from `value`) within a schema's `minimum` and `maximum`, or
/// Nova's message naming the bound it broke.
pub fn in_range(field: &str, value: &Value, n: i64, min: i64, max: i64) -> Result<i64, BodyError> {
    if n < min {
        return Err(BodyError::invalid(
            field,
            value,
            &format!("{n} is less than the minimum of {min}"),
        ));
    }
    if n > max {
        return Err(BodyError::invalid(
            field,
            value,
            &format!("{n} is greater than the maximum of {max}"),
        ));
    }
    Ok(n)
}

/// The object wrapped in `sent`, which must be exactly `{"<key>": {...}}`.
/// Refused in the order and words of Nova's schemas: a body that is not
/// an object, then any other top-level key (all named), then a missing
/// wrapper, then a wrapper that is not an object.
pub fn exactly<'a>(sent: &'a Value, key: &str) -> Result<&'a Map<String, Value>, BodyError> {
    let Value::Object(top) = sent else {
        return Err(BodyError::BadRequest(format!(
            "{} is not of type 'object'",
            python_repr(sent)
        )));
    };
    let extra: Vec<&str> = top
        .keys()
        .map(String::as_str)
        .filter(|k| *k != key)
        .collect();
    if !extra.is_empty() {
        return Err(BodyError::BadRequest(unexpected_message(&extra)));
    }
    let Some(inner) = top.get(key) else {
        return Err(BodyError::BadRequest(format!(
            "'{key}' is a required property"
        )));
    };
    inner
        .as_object()
        .ok_or_else(|| BodyError::invalid(key, inner, "It is not of type 'object'"))
}

/// A body of the form `{"<KEY>": {...}}`: the inner object's type.
pub trait Resource: DeserializeOwned + Default {
    /// The wrapper key, e.g. `server`.
    const KEY: &'static str;
}

/// A body `{"<T::KEY>": {...}}` as sent, and the wrapped object read as
/// `T` when it is an object. Deserializing never fails on valid JSON:
/// refusals are the resource's to word.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wrapped<T> {
    /// The whole body as sent (Nova's messages quote it).
    pub sent: Value,
    /// The wrapped object as sent, when it is one.
    pub object: Option<Map<String, Value>>,
    /// The wrapped object read as `T`, when it is an object.
    pub inner: Option<T>,
}

impl<T: Resource> Wrapped<T> {
    /// Read `sent`.
    pub fn new(sent: Value) -> Self {
        let object = sent.get(T::KEY).and_then(Value::as_object).cloned();
        let inner = object
            .as_ref()
            .map(|o| read::<T>(&Value::Object(o.clone())));
        Wrapped {
            sent,
            object,
            inner,
        }
    }

    /// The wrapped object, or Nova's `'<key>' is a required property`
    /// (quoting the whole body) when it is missing or not an object.
    pub fn required(&self) -> Result<(&T, &Map<String, Value>), BodyError> {
        match (&self.inner, &self.object) {
            (Some(t), Some(o)) => Ok((t, o)),
            _ => Err(BodyError::invalid(
                T::KEY,
                &self.sent,
                &format!("'{}' is a required property", T::KEY),
            )),
        }
    }
}

impl<T: Resource> Wrapped<T> {
    /// Strict mode: the body must be exactly `{"<key>": {...}}` (see
    /// [`exactly`]).
    pub fn strict(&self) -> Result<(&T, &Map<String, Value>), BodyError> {
        let object = exactly(&self.sent, T::KEY)?;
        match &self.inner {
            Some(t) => Ok((t, object)),
            None => Err(BodyError::invalid(
                T::KEY,
                &Value::Object(object.clone()),
                "It is not of type 'object'",
            )),
        }
    }
}

impl<'de, T: Resource> Deserialize<'de> for Wrapped<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Wrapped::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Default, Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "present")]
        name: Option<Value>,
    }

    impl Resource for Probe {
        const KEY: &'static str = "probe";
    }

    #[test]
    fn a_present_null_is_not_a_missing_key() {
        let p: Probe = read(&json!({"name": null}));
        assert_eq!(p.name, Some(Value::Null));
        let p: Probe = read(&json!({}));
        assert_eq!(p.name, None);
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_as_python_does() {
        let w: Wrapped<Probe> = serde_json::from_str(r#"{"probe": {"name": "a", "name": "b"}}"#)
            .expect("duplicates are not an error");
        assert_eq!(w.required().unwrap().0.name, Some(json!("b")));
    }

    #[test]
    fn any_json_reads_and_a_missing_wrapper_is_worded_as_nova_does() {
        for sent in [json!([1]), json!("x"), json!(null), json!({"probe": 3})] {
            let w: Wrapped<Probe> = serde_json::from_value(sent.clone()).unwrap();
            let message = w.required().unwrap_err().to_string();
            assert!(
                message.ends_with("'probe' is a required property"),
                "{message}"
            );
        }
    }

    #[test]
    fn strict_bodies_must_be_exactly_the_wrapper() {
        let strict = |sent: Value| {
            Wrapped::<Probe>::new(sent)
                .strict()
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert!(strict(json!({"probe": {}})).is_ok());
        assert_eq!(
            strict(json!({})).unwrap_err(),
            "'probe' is a required property"
        );
        assert_eq!(
            strict(json!({"probe": {}, "x": 1, "y": 2})).unwrap_err(),
            "Additional properties are not allowed ('x', 'y' were unexpected)"
        );
        assert_eq!(
            strict(json!({"probe": 3})).unwrap_err(),
            "Invalid input for field/attribute probe. Value: 3. It is not of type 'object'"
        );
        assert_eq!(strict(json!([])).unwrap_err(), "[] is not of type 'object'");
    }

    #[test]
    fn unexpected_keys_are_all_named() {
        let inner = json!({"cores": 1, "bogus": 2, "fixed_ips": 3});
        let m = only_allowed("quota_set", inner.as_object().unwrap(), |k| k == "cores")
            .unwrap_err()
            .to_string();
        assert_eq!(
            m,
            "Invalid input for field/attribute quota_set. Value: {'bogus': 2, 'cores': 1, 'fixed_ips': 3}. \
             Additional properties are not allowed ('bogus', 'fixed_ips' were unexpected)"
        );
        assert!(only_allowed("quota_set", inner.as_object().unwrap(), |_| true).is_ok());
    }

    #[test]
    fn booleans_take_novas_spellings() {
        assert!(boolean("force", &json!("yes")).unwrap());
        assert!(!boolean("force", &json!(false)).unwrap());
        assert!(!boolean("force", &json!("OFF")).unwrap());
        assert!(boolean("force", &json!("maybe")).is_err());
        assert!(boolean("force", &json!(1))
            .unwrap_err()
            .to_string()
            .starts_with(
                "Invalid input for field/attribute force. Value: 1. 1 is not one of [True,"
            ));
    }

    #[test]
    fn strings_and_metadata_are_refused_in_jsonschema_words() {
        assert_eq!(
            string("name", Some(&json!(3)), 255)
                .unwrap_err()
                .to_string(),
            "Invalid input for field/attribute name. Value: 3. 3 is not of type 'string'"
        );
        assert!(string("name", Some(&json!("abc")), 2).is_err());
        assert_eq!(
            metadata(&json!({"k": 1})).unwrap_err().to_string(),
            "Invalid input for field/attribute metadata/k. Value: 1. 1 is not of type 'string'"
        );
        let many: Map<String, Value> = (0..129).map(|i| (i.to_string(), json!("v"))).collect();
        assert!(matches!(
            metadata(&Value::Object(many)),
            Err(BodyError::Forbidden(_))
        ));
    }
}
