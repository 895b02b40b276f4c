//! The body of `POST /os-server-groups`: `{"server_group": {...}}`.
//!
//! Why a type: the body changed shape at 2.64 (one-element `policies`
//! before, a single `policy` and `rules` after) and gained the soft
//! policies at 2.15, and the service should not have to know which
//! fields exist at which microversion. Strict as Nova's schema (see
//! [`crate::body::exactly`]): a field of the other form is unexpected.

use crate::body::{self, present, python_repr, BodyError, Resource, Wrapped};
use crate::ApiVersion;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// `POST /os-server-groups`: `{"server_group": {...}}`.
pub type CreateServerGroupBody = Wrapped<ServerGroupCreate>;

/// The `server_group` object of a create, fields as sent.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ServerGroupCreate {
    /// Required; Nova's name format.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Value>,
    /// Before 2.64, required: a list of exactly one policy.
    #[serde(default, deserialize_with = "present")]
    pub policies: Option<Value>,
    /// From 2.64, required: the policy.
    #[serde(default, deserialize_with = "present")]
    pub policy: Option<Value>,
    /// From 2.64: `{"max_server_per_host": n}`, for `anti-affinity` only.
    #[serde(default, deserialize_with = "present")]
    pub rules: Option<Value>,
}

impl Resource for ServerGroupCreate {
    const KEY: &'static str = "server_group";
}

/// A server group create as checked.
#[derive(Clone, Debug, PartialEq)]
pub struct NewServerGroup {
    /// Group name.
    pub name: String,
    /// The one policy.
    pub policy: String,
    /// Rules (2.64+), `{}` when none.
    pub rules: Value,
}

/// The policies a group may have at `v`.
pub fn policies_for(v: ApiVersion) -> &'static [&'static str] {
    if v.at_least(15) {
        &[
            "anti-affinity",
            "affinity",
            "soft-anti-affinity",
            "soft-affinity",
        ]
    } else {
        &["anti-affinity", "affinity"]
    }
}

/// jsonschema's message for a value not in `allowed`.
fn enum_message(value: &Value, allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|p| format!("'{p}'")).collect();
    format!(
        "{} is not one of [{}]",
        python_repr(value),
        quoted.join(", ")
    )
}

/// A positive integer as Nova's `positive_integer` takes it (an integer
/// or a string of digits, at least 1).
fn positive_integer(field: &str, value: &Value) -> Result<u64, BodyError> {
    let n = match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| {
            BodyError::invalid(
                field,
                value,
                &format!("{n} is not of type 'integer', 'string'"),
            )
        })?,
        Value::String(s) => {
            if s.is_empty() {
                return Err(BodyError::invalid(field, value, "'' is too short"));
            }
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(BodyError::invalid(
                    field,
                    value,
                    &format!("'{s}' does not match '^[0-9]*$'"),
                ));
            }
            s.parse::<i64>().unwrap_or(i64::MAX)
        }
        other => {
            return Err(BodyError::invalid(
                field,
                value,
                &format!("{} is not of type 'integer', 'string'", python_repr(other)),
            ))
        }
    };
    if n < 1 {
        return Err(BodyError::invalid(
            field,
            value,
            &format!("{n} is less than the minimum of 1"),
        ));
    }
    Ok(n as u64)
}

impl CreateServerGroupBody {
    /// The group to create, checked as Nova's schema for `v`: the strict
    /// wrapper, unknown fields, required fields, `name`, then the policy
    /// (`policies` before 2.64, `policy` and `rules` from).
    pub fn checked(&self, v: ApiVersion) -> Result<NewServerGroup, BodyError> {
        let (sg, g) = self.strict()?;
        let new_form = v.at_least(64);
        body::only_allowed("server_group", g, |k| match k {
            "name" => true,
            "policies" => !new_form,
            "policy" | "rules" => new_form,
            _ => false,
        })?;
        let required: &[&str] = if new_form {
            &["name", "policy"]
        } else {
            &["name", "policies"]
        };
        for field in required {
            if !g.contains_key(*field) {
                return Err(BodyError::invalid(
                    "server_group",
                    &Value::Object(g.clone()),
                    &format!("'{field}' is a required property"),
                ));
            }
        }
        let name = body::name("name", sg.name.as_ref().unwrap_or(&Value::Null))?;
        let allowed = policies_for(v);
        if !new_form {
            let raw = sg.policies.as_ref().unwrap_or(&Value::Null);
            let Value::Array(items) = raw else {
                return Err(BodyError::invalid(
                    "policies",
                    raw,
                    &format!("{} is not of type 'array'", python_repr(raw)),
                ));
            };
            if items.is_empty() {
                return Err(BodyError::invalid("policies", raw, "[] is too short"));
            }
            // jsonschema reports the item first, at its index.
            let first = &items[0];
            if !first.as_str().is_some_and(|p| allowed.contains(&p)) {
                return Err(BodyError::invalid(
                    "0",
                    first,
                    &enum_message(first, allowed),
                ));
            }
            if items.len() > 1 {
                return Err(BodyError::invalid(
                    "policies",
                    raw,
                    &format!("{} is too long", python_repr(raw)),
                ));
            }
            return Ok(NewServerGroup {
                name,
                policy: first.as_str().unwrap_or_default().to_string(),
                rules: json!({}),
            });
        }
        let raw = sg.policy.as_ref().unwrap_or(&Value::Null);
        let policy = match raw.as_str() {
            Some(p) if allowed.contains(&p) => p.to_string(),
            _ => {
                return Err(BodyError::invalid(
                    "policy",
                    raw,
                    &enum_message(raw, allowed),
                ))
            }
        };
        let mut rules = Map::new();
        if let Some(raw_rules) = sg.rules.as_ref() {
            let Value::Object(given) = raw_rules else {
                return Err(BodyError::invalid(
                    "rules",
                    raw_rules,
                    &format!("{} is not of type 'object'", python_repr(raw_rules)),
                ));
            };
            body::only_allowed("rules", given, |k| k == "max_server_per_host")?;
            if let Some(max) = given.get("max_server_per_host") {
                rules.insert(
                    "max_server_per_host".into(),
                    json!(positive_integer("max_server_per_host", max)?),
                );
            }
        }
        if policy != "anti-affinity" && !rules.is_empty() {
            return Err(BodyError::BadRequest(
                "Only anti-affinity policy supports rules.".into(),
            ));
        }
        Ok(NewServerGroup {
            name,
            policy,
            rules: Value::Object(rules),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(minor: u32) -> ApiVersion {
        ApiVersion::new(2, minor)
    }

    fn create(v: ApiVersion, sent: &Value) -> Result<NewServerGroup, BodyError> {
        CreateServerGroupBody::new(sent.clone()).checked(v)
    }

    fn message(r: Result<NewServerGroup, BodyError>) -> String {
        match r.unwrap_err() {
            BodyError::BadRequest(m) => m,
            e @ BodyError::Invalid { .. } => e.to_string(),
            other => panic!("expected 400, got {other:?}"),
        }
    }

    #[test]
    fn policies_before_2_64_and_policy_after() {
        let old = json!({"server_group": {"name": "g", "policies": ["affinity"]}});
        assert_eq!(create(v(1), &old).unwrap().policy, "affinity");
        assert!(create(v(64), &old).is_err());
        let new = json!({"server_group": {"name": "g", "policy": "anti-affinity",
            "rules": {"max_server_per_host": "2"}}});
        let r = create(v(64), &new).unwrap();
        assert_eq!(r.rules, json!({"max_server_per_host": 2}));
        assert!(create(v(63), &new).is_err());
    }

    #[test]
    fn soft_policies_arrive_at_2_15() {
        let soft = json!({"server_group": {"name": "g", "policies": ["soft-affinity"]}});
        assert_eq!(
            message(create(v(14), &soft)),
            "Invalid input for field/attribute 0. Value: 'soft-affinity'. 'soft-affinity' is not one of ['anti-affinity', 'affinity']"
        );
        assert!(create(v(15), &soft).is_ok());
    }

    #[test]
    fn bad_bodies_are_refused_in_novas_words() {
        assert!(message(create(
            v(1),
            &json!({"server_group": {"name": "g", "policies": []}})
        ))
        .ends_with("[] is too short"));
        assert!(message(create(
            v(1),
            &json!({"server_group": {"name": "g", "policies": ["affinity", "anti-affinity"]}})
        ))
        .ends_with("is too long"));
        assert!(
            message(create(v(1), &json!({"server_group": {"name": "g"}})))
                .ends_with("'policies' is a required property")
        );
        assert_eq!(
            message(create(
                v(64),
                &json!({"server_group": {"name": "g", "policy": "affinity",
                    "rules": {"max_server_per_host": 2}}})
            )),
            "Only anti-affinity policy supports rules."
        );
        assert!(message(create(
            v(64),
            &json!({"server_group": {"name": "g", "policy": "anti-affinity",
                "rules": {"max_server_per_host": 0}}})
        ))
        .ends_with("0 is less than the minimum of 1"));
        assert!(create(
            v(64),
            &json!({"server_group": {"name": "g", "policy": "anti-affinity", "rules": {"x": 1}}})
        )
        .is_err());
        assert!(create(
            v(64),
            &json!({"server_group": {"name": " g", "policy": "affinity"}})
        )
        .is_err());
    }
}
