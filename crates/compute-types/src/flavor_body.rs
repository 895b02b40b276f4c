//! Bodies of the flavor API: `POST /flavors`, `PUT /flavors/{id}` (the
//! description, 2.55+), the extra specs (`POST .../os-extra_specs`, `PUT
//! .../os-extra_specs/{key}`) and the access actions (`addTenantAccess`,
//! `removeTenantAccess`).
//!
//! Why a module apart from [`crate::flavor`]: that one says what a view
//! shows; this one says what a request may send. Flavor bodies are
//! strict, as Nova's schemas are ([`crate::body::exactly`]): another
//! top-level key or an unknown field is refused and named. Fields are
//! kept as sent and checked by methods in the order Nova's schema checks
//! them, so the first refusal is worded as Nova words it.

use crate::body::{self, present, python_repr, BodyError, Resource, Wrapped};
use crate::ApiVersion;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The largest integer a flavor field takes (Nova's `db.MAX_INT`).
pub const MAX_INT: i64 = i32::MAX as i64;

/// `POST /flavors`: `{"flavor": {...}}`.
pub type CreateFlavorBody = Wrapped<FlavorCreate>;

/// `PUT /flavors/{id}`: `{"flavor": {"description": ...}}`.
pub type UpdateFlavorBody = Wrapped<FlavorUpdate>;

/// `POST /flavors/{id}/os-extra_specs`: `{"extra_specs": {...}}`.
pub type CreateExtraSpecsBody = Wrapped<ExtraSpecs>;

/// The `flavor` object of a create.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct FlavorCreate {
    /// Required: printable, no surrounding whitespace, 1-255 characters.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Value>,
    /// Optional; `null` or `"auto"` means "choose one".
    #[serde(default, deserialize_with = "present")]
    pub id: Option<Value>,
    /// Required, MB, at least 1.
    #[serde(default, deserialize_with = "present")]
    pub ram: Option<Value>,
    /// Required, at least 1.
    #[serde(default, deserialize_with = "present")]
    pub vcpus: Option<Value>,
    /// Required, GB, at least 0.
    #[serde(default, deserialize_with = "present")]
    pub disk: Option<Value>,
    /// GB, at least 0 (default 0).
    #[serde(
        default,
        rename = "OS-FLV-EXT-DATA:ephemeral",
        deserialize_with = "present"
    )]
    pub ephemeral: Option<Value>,
    /// MB, at least 0 (default 0).
    #[serde(default, deserialize_with = "present")]
    pub swap: Option<Value>,
    /// Above 0 (default 1.0).
    #[serde(default, deserialize_with = "present")]
    pub rxtx_factor: Option<Value>,
    /// A boolean (default true).
    #[serde(
        default,
        rename = "os-flavor-access:is_public",
        deserialize_with = "present"
    )]
    pub is_public: Option<Value>,
    /// From 2.55 (an unknown field before).
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Value>,
}

impl Resource for FlavorCreate {
    const KEY: &'static str = "flavor";
}

/// A flavor create as checked: what the service stores.
#[derive(Clone, Debug, PartialEq)]
pub struct NewFlavor {
    /// The name.
    pub name: String,
    /// The id asked for, if any (else the service makes one).
    pub id: Option<String>,
    /// `ram`.
    pub memory_mb: i64,
    /// `vcpus`.
    pub vcpus: i64,
    /// `disk`.
    pub root_gb: i64,
    /// `OS-FLV-EXT-DATA:ephemeral`.
    pub ephemeral_gb: i64,
    /// `swap`.
    pub swap: i64,
    /// `rxtx_factor`.
    pub rxtx_factor: f64,
    /// `os-flavor-access:is_public`.
    pub is_public: bool,
    /// `description` (2.55+).
    pub description: Option<String>,
}

/// The fields a create may carry at every microversion.
const CREATE_FIELDS: &[&str] = &[
    "name",
    "id",
    "ram",
    "vcpus",
    "disk",
    "OS-FLV-EXT-DATA:ephemeral",
    "swap",
    "rxtx_factor",
    "os-flavor-access:is_public",
];

impl CreateFlavorBody {
    /// The flavor to create, checked as Nova's schema for `v`: the strict
    /// wrapper, unknown fields (`description` before 2.55), the required
    /// fields in order, then each field.
    pub fn checked(&self, v: ApiVersion) -> Result<NewFlavor, BodyError> {
        let (f, object) = self.strict()?;
        body::only_allowed("flavor", object, |k| {
            CREATE_FIELDS.contains(&k) || k == "description" && v.at_least(55)
        })?;
        let required = [
            ("name", &f.name),
            ("ram", &f.ram),
            ("vcpus", &f.vcpus),
            ("disk", &f.disk),
        ];
        for (field, value) in required {
            if value.is_none() {
                return Err(BodyError::invalid(
                    "flavor",
                    &Value::Object(object.clone()),
                    &format!("'{field}' is a required property"),
                ));
            }
        }
        let get = |value: &Option<Value>| -> Value { value.clone().unwrap_or(Value::Null) };
        let opt_int = |field: &str, value: &Option<Value>| match value {
            None => Ok(0),
            Some(value) => flavor_int(field, value, 0),
        };
        Ok(NewFlavor {
            name: body::name("name", &get(&f.name))?,
            id: flavor_id(&get(&f.id))?,
            memory_mb: flavor_int("ram", &get(&f.ram), 1)?,
            vcpus: flavor_int("vcpus", &get(&f.vcpus), 1)?,
            root_gb: flavor_int("disk", &get(&f.disk), 0)?,
            ephemeral_gb: opt_int("OS-FLV-EXT-DATA:ephemeral", &f.ephemeral)?,
            swap: opt_int("swap", &f.swap)?,
            rxtx_factor: f.rxtx_factor.as_ref().map(rxtx).transpose()?.unwrap_or(1.0),
            is_public: f
                .is_public
                .as_ref()
                .map(|b| body::boolean("os-flavor-access:is_public", b))
                .transpose()?
                .unwrap_or(true),
            description: f
                .description
                .as_ref()
                .map(description)
                .transpose()?
                .flatten(),
        })
    }
}

/// The `flavor` object of an update (2.55+): only `description`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct FlavorUpdate {
    /// Required: a string or `null`.
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Value>,
}

impl Resource for FlavorUpdate {
    const KEY: &'static str = "flavor";
}

impl UpdateFlavorBody {
    /// The new description (`None` clears it).
    pub fn description(&self) -> Result<Option<String>, BodyError> {
        let (f, object) = self.strict()?;
        body::only_allowed("flavor", object, |k| k == "description")?;
        let Some(raw) = &f.description else {
            return Err(BodyError::invalid(
                "flavor",
                &Value::Object(object.clone()),
                "'description' is a required property",
            ));
        };
        description(raw)
    }
}

/// An integer flavor field as Nova's schema takes it: an integer or a
/// string of digits, from `min` to [`MAX_INT`].
fn flavor_int(field: &str, value: &Value, min: i64) -> Result<i64, BodyError> {
    let n = match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| {
            BodyError::invalid(
                field,
                value,
                &format!("{n} is not of type 'integer', 'string'"),
            )
        })?,
        Value::String(s) => {
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(BodyError::invalid(
                    field,
                    value,
                    &format!("'{s}' does not match '^[0-9]*$'"),
                ));
            }
            s.parse::<i64>().map_err(|_| {
                BodyError::BadRequest(format!(
                    "Invalid input received: {field} must be an integer."
                ))
            })?
        }
        other => {
            return Err(BodyError::invalid(
                field,
                value,
                &format!("{} is not of type 'integer', 'string'", python_repr(other)),
            ))
        }
    };
    crate::body::in_range(field, value, n, min, MAX_INT)
}

/// `rxtx_factor`: a number or a decimal string, above 0.
fn rxtx(value: &Value) -> Result<f64, BodyError> {
    let field = "rxtx_factor";
    let n = match value {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => {
            let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
            let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            if !digits(whole) || !digits(frac) {
                return Err(BodyError::invalid(
                    field,
                    value,
                    &format!("'{s}' does not match '^[0-9]+(\\\\.[0-9]+)?$'"),
                ));
            }
            s.parse::<f64>().unwrap_or(0.0)
        }
        other => {
            return Err(BodyError::invalid(
                field,
                value,
                &format!("{} is not of type 'number', 'string'", python_repr(other)),
            ))
        }
    };
    if n <= 0.0 {
        return Err(BodyError::invalid(
            field,
            value,
            &format!(
                "{} is less than or equal to the minimum of 0",
                python_repr(value)
            ),
        ));
    }
    if n > 3.40282e38 {
        return Err(BodyError::invalid(
            field,
            value,
            &format!(
                "{} is greater than the maximum of 3.40282e+38",
                python_repr(value)
            ),
        ));
    }
    Ok(n)
}

/// A description (2.55+): printable characters (and newlines, tabs), at
/// most 65535 of them, or `null`.
fn description(value: &Value) -> Result<Option<String>, BodyError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() > 65535 => Err(BodyError::invalid(
            "description",
            value,
            &format!("'{s}' is too long"),
        )),
        Value::String(s)
            if s.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
        {
            Err(BodyError::invalid(
                "description",
                value,
                "An invalid 'description' value was provided. The description must be: printable characters with at most 65535 characters.",
            ))
        }
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(BodyError::invalid(
            "description",
            value,
            &format!("{} is not of type 'string', 'null'", python_repr(other)),
        )),
    }
}

/// A flavor id asked for: `null`, or 1-255 of `[a-zA-Z0-9. _-]` not
/// starting or ending with a space; `"auto"` is "choose one" as for the
/// clients that send it.
fn flavor_id(value: &Value) -> Result<Option<String>, BodyError> {
    // Nova's schema takes a string, a number or null, and stores a
    // number's decimal form (`869970517` becomes the id "869970517").
    let number;
    let s = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s,
        Value::Number(n) => {
            number = n.to_string();
            &number
        }
        other => {
            return Err(BodyError::invalid(
                "id",
                value,
                &format!(
                    "{} is not of type 'string', 'number', 'null'",
                    python_repr(other)
                ),
            ))
        }
    };
    let ok_chars = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b". _-".contains(&b));
    if s.is_empty() || s.len() > 255 || !ok_chars || s.starts_with(' ') || s.ends_with(' ') {
        return Err(BodyError::invalid(
            "id",
            value,
            &format!("'{s}' does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'"),
        ));
    }
    // openstackclient and novaclient use "auto" for "choose one for me".
    Ok((s != "auto").then(|| s.clone()))
}

/// The `extra_specs` object of an extra-specs create: any keys, checked
/// by [`specs`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct ExtraSpecs(pub Map<String, Value>);

impl Resource for ExtraSpecs {
    const KEY: &'static str = "extra_specs";
}

impl CreateExtraSpecsBody {
    /// The specs to set, as strings, checked as Nova does at `v`.
    pub fn checked(&self, v: ApiVersion) -> Result<BTreeMap<String, String>, BodyError> {
        let (_, object) = self.strict()?;
        specs(v, object)
    }
}

/// `PUT .../os-extra_specs/{key}`: `{"<key>": value}`, kept as sent (the
/// answer echoes it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpdateExtraSpecBody {
    /// The whole body.
    pub sent: Value,
}

impl<'de> Deserialize<'de> for UpdateExtraSpecBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|sent| UpdateExtraSpecBody { sent })
    }
}

impl UpdateExtraSpecBody {
    /// The spec to set: the body must be an object of the one key named
    /// in the URL.
    pub fn checked(&self, v: ApiVersion, key: &str) -> Result<BTreeMap<String, String>, BodyError> {
        let Value::Object(object) = &self.sent else {
            return Err(BodyError::BadRequest(format!(
                "{} is not of type 'object'",
                python_repr(&self.sent)
            )));
        };
        if object.len() > 1 {
            return Err(BodyError::BadRequest(
                "Request body contains too many items".into(),
            ));
        }
        if !object.contains_key(key) {
            return Err(BodyError::BadRequest(
                "Request body and URI mismatch".into(),
            ));
        }
        specs(v, object)
    }
}

/// Known values of the specs validated from 2.86.
const ENUMS: &[(&str, &[&str])] = &[
    ("hw:cpu_policy", &["dedicated", "shared", "mixed"]),
    ("hw:cpu_thread_policy", &["prefer", "isolate", "require"]),
];

/// The disk I/O limit specs (applied to the root disk), integers from 2.86.
const DISK_LIMITS: &[&str] = &[
    "quota:disk_total_iops_sec",
    "quota:disk_read_iops_sec",
    "quota:disk_write_iops_sec",
    "quota:disk_total_bytes_sec",
    "quota:disk_read_bytes_sec",
    "quota:disk_write_bytes_sec",
];

/// Is `key` an extra spec key (`^[a-zA-Z0-9-_:. ]{1,255}$`)?
fn key_ok(key: &str) -> bool {
    (1..=255).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:. ".contains(&b))
}

/// Extra specs as Nova takes them at `v`: keys of
/// `^[a-zA-Z0-9-_:. ]{1,255}$` (every bad one named), values strings or
/// numbers and booleans (stored as Python prints them) of at most 255
/// characters; from 2.86 the CPU policy specs take only their known
/// values (other namespaces pass, as in Nova for those it does not know).
pub fn specs(
    v: ApiVersion,
    specs: &Map<String, Value>,
) -> Result<BTreeMap<String, String>, BodyError> {
    body::only_allowed("extra_specs", specs, key_ok)?;
    let mut out = BTreeMap::new();
    for (key, value) in specs {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(_) | Value::Bool(_) => python_repr(value),
            other => {
                return Err(BodyError::invalid(
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
            return Err(BodyError::invalid(
                key,
                value,
                &format!("'{text}' is too long"),
            ));
        }
        if v.at_least(86) {
            if let Some((_, allowed)) = ENUMS.iter().find(|(k, _)| k == key) {
                if !allowed.contains(&text.as_str()) {
                    return Err(BodyError::BadRequest(format!(
                        "Validation failed; '{text}' is not one of {} for extra spec {key}.",
                        python_repr(&json!(allowed))
                    )));
                }
            }
            if DISK_LIMITS.contains(&key.as_str()) && text.trim().parse::<u64>().is_err() {
                return Err(BodyError::BadRequest(format!(
                    "Validation failed; '{text}' is not a non-negative integer for extra spec \
                     {key}."
                )));
            }
        }
        out.insert(key.clone(), text);
    }
    Ok(out)
}

/// `POST /flavors/{id}/action`: `{"addTenantAccess" | "removeTenantAccess":
/// {"tenant": ...}}`, kept as sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlavorActionBody {
    /// The whole body.
    pub sent: Value,
}

impl<'de> Deserialize<'de> for FlavorActionBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|sent| FlavorActionBody { sent })
    }
}

/// A flavor access action.
#[derive(Clone, Debug, PartialEq)]
pub enum FlavorAction {
    /// `addTenantAccess` of the project named.
    AddTenantAccess(String),
    /// `removeTenantAccess` of the project named.
    RemoveTenantAccess(String),
}

impl FlavorActionBody {
    /// The action and its project (as sent: an id or a name). The body
    /// must be an object of one key; the arguments are exactly
    /// `{"tenant": "<1-255 characters>"}`.
    pub fn action(&self) -> Result<FlavorAction, BodyError> {
        let name = match self.sent.as_object() {
            Some(m) if m.len() == 1 => m.keys().next().cloned().unwrap_or_default(),
            _ => return Err(BodyError::BadRequest("Malformed request body".into())),
        };
        match name.as_str() {
            "addTenantAccess" => Ok(FlavorAction::AddTenantAccess(self.tenant(&name)?)),
            "removeTenantAccess" => Ok(FlavorAction::RemoveTenantAccess(self.tenant(&name)?)),
            other => Err(BodyError::BadRequest(format!(
                "There is no such action: {other}"
            ))),
        }
    }

    /// The `tenant` of the `action` arguments.
    fn tenant(&self, action: &str) -> Result<String, BodyError> {
        let inner = body::exactly(&self.sent, action)?;
        body::only_allowed(action, inner, |k| k == "tenant")?;
        match inner.get("tenant") {
            Some(Value::String(t)) if !t.is_empty() && t.len() <= 255 => Ok(t.clone()),
            Some(other) => Err(BodyError::invalid(
                "tenant",
                other,
                "It must be a string of 1 to 255 characters",
            )),
            None => Err(BodyError::invalid(
                action,
                &Value::Object(inner.clone()),
                "'tenant' is a required property",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(minor: u32) -> ApiVersion {
        ApiVersion::new(2, minor)
    }

    fn create(sent: Value, minor: u32) -> Result<NewFlavor, String> {
        CreateFlavorBody::new(sent)
            .checked(v(minor))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_create_reads_defaults_and_strings_of_digits() {
        let f = create(
            json!({"flavor": {"name": "m1", "ram": "512", "vcpus": 1, "disk": 0, "id": "auto"}}),
            1,
        )
        .unwrap();
        assert_eq!(
            f,
            NewFlavor {
                name: "m1".into(),
                id: None,
                memory_mb: 512,
                vcpus: 1,
                root_gb: 0,
                ephemeral_gb: 0,
                swap: 0,
                rxtx_factor: 1.0,
                is_public: true,
                description: None,
            }
        );
        let f = create(
            json!({"flavor": {"name": "m1", "ram": 1, "vcpus": 1, "disk": 1, "id": "x1",
                "rxtx_factor": "2.5", "os-flavor-access:is_public": "no", "swap": "8",
                "description": "d"}}),
            55,
        )
        .unwrap();
        assert_eq!(f.id.as_deref(), Some("x1"));
        assert_eq!((f.rxtx_factor, f.is_public, f.swap), (2.5, false, 8));
        assert_eq!(f.description.as_deref(), Some("d"));
    }

    #[test]
    fn a_flavor_id_may_be_a_json_number() {
        let f = create(
            json!({"flavor": {"name": "m", "ram": 1, "vcpus": 1, "disk": 0, "id": 869970517}}),
            1,
        )
        .unwrap();
        assert_eq!(f.id.as_deref(), Some("869970517"));
    }

    #[test]
    fn a_create_is_strict_and_description_waits_for_2_55() {
        let body =
            json!({"flavor": {"name": "m", "ram": 1, "vcpus": 1, "disk": 0, "description": "d"}});
        assert!(create(body.clone(), 54)
            .unwrap_err()
            .ends_with("Additional properties are not allowed ('description' was unexpected)"));
        assert!(create(body, 55).is_ok());
        assert_eq!(
            create(json!({"flavor": {}, "x": 1}), 55).unwrap_err(),
            "Additional properties are not allowed ('x' was unexpected)"
        );
        assert_eq!(
            create(json!({"flavor": {"name": "m", "vcpus": 1}}), 1).unwrap_err(),
            "Invalid input for field/attribute flavor. Value: {'name': 'm', 'vcpus': 1}. 'ram' is a required property"
        );
    }

    #[test]
    fn create_fields_are_refused_in_novas_words() {
        let with = |k: &str, val: Value| {
            let mut f = json!({"name": "m", "ram": 1, "vcpus": 1, "disk": 0});
            f[k] = val;
            create(json!({ "flavor": f }), 1).unwrap_err()
        };
        assert_eq!(
            with("ram", json!(0)),
            "Invalid input for field/attribute ram. Value: 0. 0 is less than the minimum of 1"
        );
        assert!(with("ram", json!("1x")).ends_with("'1x' does not match '^[0-9]*$'"));
        assert_eq!(
            with("ram", json!("99999999999999999999")),
            "Invalid input received: ram must be an integer."
        );
        assert!(with("disk", json!(2147483648_i64))
            .ends_with("is greater than the maximum of 2147483647"));
        assert!(with("name", json!(" m")).contains("Can not start or end with whitespace."));
        assert!(with("name", json!("")).ends_with("'' is too short"));
        assert!(with("id", json!(" a")).contains("does not match"));
        assert!(with("id", json!(true)).ends_with("True is not of type 'string', 'number', 'null'"));
        assert!(
            with("rxtx_factor", json!(0)).ends_with("0 is less than or equal to the minimum of 0")
        );
        assert!(with("rxtx_factor", json!("1.")).contains("does not match"));
        assert!(with("os-flavor-access:is_public", json!("maybe")).contains("is not one of [True"));
    }

    #[test]
    fn an_update_takes_only_a_description() {
        let update = |sent: Value| {
            UpdateFlavorBody::new(sent)
                .description()
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            update(json!({"flavor": {"description": "d"}})),
            Ok(Some("d".into()))
        );
        assert_eq!(update(json!({"flavor": {"description": null}})), Ok(None));
        assert!(update(json!({"flavor": {}}))
            .unwrap_err()
            .ends_with("'description' is a required property"));
        assert!(update(json!({"flavor": {"description": "d", "name": "n"}}))
            .unwrap_err()
            .ends_with("('name' was unexpected)"));
        assert!(update(json!({"flavor": {"description": "a\u{7}"}}))
            .unwrap_err()
            .contains("An invalid 'description' value was provided."));
        assert!(update(json!({"flavor": {"description": 1}}))
            .unwrap_err()
            .ends_with("1 is not of type 'string', 'null'"));
    }

    #[test]
    fn extra_specs_become_strings_and_bad_keys_are_named() {
        let set = |sent: Value, minor| {
            CreateExtraSpecsBody::new(sent)
                .checked(v(minor))
                .map_err(|e| e.to_string())
        };
        let parsed = set(
            json!({"extra_specs": {"hw:cpu_policy": "shared", "n": 2, "b": true}}),
            1,
        )
        .unwrap();
        assert_eq!((parsed["n"].as_str(), parsed["b"].as_str()), ("2", "True"));
        assert_eq!(
            set(json!({"extra_specs": {"a/b": "x", "c/d": "y"}}), 1).unwrap_err(),
            "Invalid input for field/attribute extra_specs. Value: {'a/b': 'x', 'c/d': 'y'}. Additional properties are not allowed ('a/b', 'c/d' were unexpected)"
        );
        assert!(set(json!({"extra_specs": {"k": {"a": 1}}}), 1)
            .unwrap_err()
            .ends_with("is not of type 'string', 'number', 'boolean'"));
        let policy = json!({"extra_specs": {"hw:cpu_policy": "sometimes"}});
        assert!(set(policy.clone(), 85).is_ok());
        assert_eq!(
            set(policy, 86).unwrap_err(),
            "Validation failed; 'sometimes' is not one of ['dedicated', 'shared', 'mixed'] for extra spec hw:cpu_policy."
        );
        assert!(set(json!({"specs": {}}), 1).is_err());
        let limit = json!({"extra_specs": {"quota:disk_write_iops_sec": "fast"}});
        assert!(set(limit.clone(), 85).is_ok());
        assert!(set(limit, 86)
            .unwrap_err()
            .contains("not a non-negative integer"));
        assert!(set(
            json!({"extra_specs": {"quota:disk_write_iops_sec": 100}}),
            86
        )
        .is_ok());
    }

    #[test]
    fn a_spec_update_is_the_one_key_of_the_url() {
        let put = |sent: Value| {
            UpdateExtraSpecBody { sent }
                .checked(v(1), "k")
                .map_err(|e| e.to_string())
        };
        assert_eq!(put(json!({"k": 1})).unwrap()["k"], "1");
        assert_eq!(
            put(json!({"k": 1, "j": 2})).unwrap_err(),
            "Request body contains too many items"
        );
        assert_eq!(
            put(json!({"j": 1})).unwrap_err(),
            "Request body and URI mismatch"
        );
        assert_eq!(put(json!("k")).unwrap_err(), "'k' is not of type 'object'");
    }

    #[test]
    fn access_actions_name_one_project() {
        let act = |sent: Value| {
            FlavorActionBody { sent }
                .action()
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            act(json!({"addTenantAccess": {"tenant": "p"}})),
            Ok(FlavorAction::AddTenantAccess("p".into()))
        );
        assert_eq!(
            act(json!({"removeTenantAccess": {"tenant": "p"}})),
            Ok(FlavorAction::RemoveTenantAccess("p".into()))
        );
        assert_eq!(act(json!({})).unwrap_err(), "Malformed request body");
        assert_eq!(
            act(json!({"a": {}, "b": {}})).unwrap_err(),
            "Malformed request body"
        );
        assert_eq!(
            act(json!({"grant": {}})).unwrap_err(),
            "There is no such action: grant"
        );
        assert!(act(json!({"addTenantAccess": {}}))
            .unwrap_err()
            .ends_with("'tenant' is a required property"));
        assert!(act(json!({"addTenantAccess": {"tenant": "p", "x": 1}}))
            .unwrap_err()
            .ends_with("('x' was unexpected)"));
        assert_eq!(
            act(json!({"addTenantAccess": {"tenant": ""}})).unwrap_err(),
            "Invalid input for field/attribute tenant. Value: ''. It must be a string of 1 to 255 characters"
        );
        assert!(act(json!({"addTenantAccess": 3}))
            .unwrap_err()
            .ends_with("It is not of type 'object'"));
    }
}
