//! Key pair views and the microversions that change them.
//!
//! 2.2 added `type` (`ssh` or `x509`) and changed create to 201 and
//! delete to 204; 2.10 let admins act on other users' key pairs with
//! `user_id`; 2.35 added `limit`/`marker` paging to the list; 2.92 made
//! `public_key` required (no more server-side generation) and widened the
//! characters allowed in names.
//!
//! The create body is a type here too ([`CreateKeyPairBody`]): strict as
//! Nova's schema (see [`crate::body::exactly`]), with `type` an unknown
//! field before 2.2 and `user_id` before 2.10.

use crate::body::{self, present, python_repr, BodyError, Resource, Wrapped};
use crate::ApiVersion;
use serde::Deserialize;
use serde_json::{json, Value};

/// Characters allowed in a key pair name before 2.92.
pub const NAME_CHARS: &str = "_- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// Characters allowed in a key pair name from 2.92.
pub const NAME_CHARS_2_92: &str =
    "@._- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Do views at `v` carry `type`?
pub fn shows_type(v: ApiVersion) -> bool {
    v.at_least(2)
}

/// Characters a name may use at `v`.
pub fn name_chars(v: ApiVersion) -> &'static str {
    if v.at_least(92) {
        NAME_CHARS_2_92
    } else {
        NAME_CHARS
    }
}

/// May the server generate the key (no `public_key` given) at `v`?
pub fn may_generate(v: ApiVersion) -> bool {
    !v.at_least(92)
}

/// The status of a successful create at `v`.
pub fn create_status(v: ApiVersion) -> u16 {
    if v.at_least(2) {
        201
    } else {
        200
    }
}

/// The status of a successful delete at `v`.
pub fn delete_status(v: ApiVersion) -> u16 {
    if v.at_least(2) {
        204
    } else {
        202
    }
}

/// `POST /os-keypairs`: `{"keypair": {...}}`.
pub type CreateKeyPairBody = Wrapped<KeyPairCreate>;

/// The `keypair` object of a create, fields as sent.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct KeyPairCreate {
    /// Required; Nova's name format, of [`name_chars`].
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Value>,
    /// The key to import; required from 2.92 (before, none means generate).
    #[serde(default, deserialize_with = "present")]
    pub public_key: Option<Value>,
    /// `ssh` (the default) or `x509`; from 2.2.
    #[serde(default, rename = "type", deserialize_with = "present")]
    pub key_type: Option<Value>,
    /// The user to create it for (admins); from 2.10.
    #[serde(default, deserialize_with = "present")]
    pub user_id: Option<Value>,
}

impl Resource for KeyPairCreate {
    const KEY: &'static str = "keypair";
}

/// A key pair create as checked.
#[derive(Clone, Debug, PartialEq)]
pub struct NewKeyPair {
    /// Key pair name.
    pub name: String,
    /// `ssh` or `x509`.
    pub key_type: String,
    /// The public key to import, or none to generate one.
    pub public_key: Option<String>,
    /// `user_id` from the body (2.10+).
    pub user_id: Option<String>,
}

impl CreateKeyPairBody {
    /// The key pair to create, checked as Nova's schema for `v`: the
    /// strict wrapper, unknown fields, required fields, then `name`,
    /// `type`, `public_key` and `user_id`.
    pub fn checked(&self, v: ApiVersion) -> Result<NewKeyPair, BodyError> {
        let (k, object) = self.strict()?;
        body::only_allowed("keypair", object, |key| match key {
            "name" | "public_key" => true,
            "type" => v.at_least(2),
            "user_id" => v.at_least(10),
            _ => false,
        })?;
        let mut required = vec![("name", &k.name)];
        if !may_generate(v) {
            required.push(("public_key", &k.public_key));
        }
        for (field, value) in required {
            if value.is_none() {
                return Err(BodyError::invalid(
                    "keypair",
                    &Value::Object(object.clone()),
                    &format!("'{field}' is a required property"),
                ));
            }
        }
        let raw_name = k.name.clone().unwrap_or(Value::Null);
        let name = body::name("name", &raw_name)?;
        let allowed = name_chars(v);
        if !name.chars().all(|c| allowed.contains(c)) {
            return Err(BodyError::invalid(
                "name",
                &raw_name,
                &format!(
                    "An invalid 'name' value was provided. The name must be: Only expected characters: [{allowed}]"
                ),
            ));
        }
        let string = |field: &str, value: &Option<Value>| match value {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(BodyError::invalid(
                field,
                other,
                &format!("{} is not of type 'string'", python_repr(other)),
            )),
        };
        let key_type = string("type", &k.key_type)?.unwrap_or_else(|| "ssh".into());
        if key_type != "ssh" && key_type != "x509" {
            return Err(BodyError::invalid(
                "type",
                &json!(key_type),
                &format!("'{key_type}' is not one of ['ssh', 'x509']"),
            ));
        }
        Ok(NewKeyPair {
            name,
            key_type,
            public_key: string("public_key", &k.public_key)?,
            user_id: string("user_id", &k.user_id)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(v: ApiVersion, keypair: Value) -> Result<NewKeyPair, String> {
        CreateKeyPairBody::new(json!({ "keypair": keypair }))
            .checked(v)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn names_widen_at_2_92_and_public_key_becomes_required() {
        let v = |m| ApiVersion::new(2, m);
        let at = |v, name: &str| create(v, json!({"name": name, "public_key": "x"}));
        assert!(at(v(91), "me@host").is_err());
        assert!(at(v(92), "me@host.example").is_ok());
        assert!(at(v(1), "ok name_-1").is_ok());
        assert!(at(v(1), "bad!")
            .unwrap_err()
            .ends_with("The name must be: Only expected characters: [_- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ]"));
        assert_eq!(
            create(v(92), json!({"name": "k"})).unwrap_err(),
            "Invalid input for field/attribute keypair. Value: {'name': 'k'}. 'public_key' is a required property"
        );
        assert_eq!(
            create(v(91), json!({"name": "k"})),
            Ok(NewKeyPair {
                name: "k".into(),
                key_type: "ssh".into(),
                public_key: None,
                user_id: None
            })
        );
    }

    #[test]
    fn type_and_user_id_arrive_with_their_microversions() {
        let v = |m| ApiVersion::new(2, m);
        assert!(create(v(1), json!({"name": "k", "type": "ssh"}))
            .unwrap_err()
            .ends_with("('type' was unexpected)"));
        assert_eq!(
            create(v(2), json!({"name": "k", "type": "pgp"})).unwrap_err(),
            "Invalid input for field/attribute type. Value: 'pgp'. 'pgp' is not one of ['ssh', 'x509']"
        );
        assert!(create(v(9), json!({"name": "k", "user_id": "u"})).is_err());
        let k = create(v(10), json!({"name": "k", "user_id": "u", "type": "x509"})).unwrap();
        assert_eq!(
            (k.user_id.as_deref(), k.key_type.as_str()),
            (Some("u"), "x509")
        );
        assert_eq!(
            create(v(10), json!({"name": "k", "public_key": 3})).unwrap_err(),
            "Invalid input for field/attribute public_key. Value: 3. 3 is not of type 'string'"
        );
        assert_eq!(
            CreateKeyPairBody::new(json!({"keypair": {"name": "k"}, "extra": 1}))
                .checked(v(1))
                .unwrap_err()
                .to_string(),
            "Additional properties are not allowed ('extra' was unexpected)"
        );
    }

    #[test]
    fn statuses_and_names_follow_the_microversion() {
        let v = |m| ApiVersion::new(2, m);
        assert_eq!((create_status(v(1)), delete_status(v(1))), (200, 202));
        assert_eq!((create_status(v(2)), delete_status(v(2))), (201, 204));
        assert!(!name_chars(v(91)).contains('@'));
        assert!(name_chars(v(92)).contains('@'));
        assert!(may_generate(v(91)) && !may_generate(v(92)));
    }
}
