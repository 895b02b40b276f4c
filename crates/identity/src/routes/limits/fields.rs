//! The fields of one unified limit object, checked as Keystone's schema
//! does: no unknown property, strings where strings go, limits integers
//! from -1 (unlimited) up.

use crate::error::{IdResult, IdentityError};
use serde_json::{Map, Value};

/// One object of a request, its properties checked against a list.
pub(super) struct Fields(Map<String, Value>);

fn bad(field: &str, why: &str) -> IdentityError {
    IdentityError::BadRequest(format!("Invalid input for field '{field}': {why}."))
}

impl Fields {
    pub(super) fn new(m: Map<String, Value>, allowed: &[&str]) -> IdResult<Fields> {
        if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(bad(k, "additional properties are not allowed"));
        }
        Ok(Fields(m))
    }

    pub(super) fn has(&self, k: &str) -> bool {
        self.0.contains_key(k)
    }

    pub(super) fn opt_str(&self, k: &str) -> IdResult<Option<String>> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.chars().count() <= 255 || k == "description" => {
                Ok(Some(s.clone()))
            }
            Some(_) => Err(bad(k, "a string of at most 255 characters is required")),
        }
    }

    pub(super) fn required_str(&self, k: &str) -> IdResult<String> {
        self.opt_str(k)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad(k, "it is a required property"))
    }

    pub(super) fn resource_name(&self) -> IdResult<String> {
        self.required_str("resource_name")
    }

    pub(super) fn required_limit(&self, k: &str) -> IdResult<i64> {
        match self.0.get(k).and_then(Value::as_i64) {
            Some(n) if (-1..=i64::from(i32::MAX)).contains(&n) => Ok(n),
            _ => Err(bad(k, "an integer from -1 to 2147483647 is required")),
        }
    }
}
