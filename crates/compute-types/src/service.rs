//! The body of `PUT /os-services/{service_id}` (2.53+).
//!
//! Why a type: Nova's `service_update_v253` schema is a bare object (no
//! wrapper) of three optional fields with no other keys; naming them
//! once here keeps the service handler to what it decides (which
//! service, which combinations make sense) rather than how fields read.

use crate::body::{self, python_repr, unexpected_message, BodyError};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The fields a 2.53 update may carry.
pub const UPDATE_FIELDS: &[&str] = &["status", "disabled_reason", "forced_down"];

/// `PUT /os-services/{service_id}`, kept as sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceUpdateBody {
    /// The whole body.
    pub sent: Value,
}

impl<'de> Deserialize<'de> for ServiceUpdateBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|sent| ServiceUpdateBody { sent })
    }
}

/// A 2.53 service update as checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceUpdate {
    /// `enabled` (false) or `disabled` (true), if given.
    pub disable: Option<bool>,
    /// The reason, if given.
    pub disabled_reason: Option<String>,
    /// `forced_down`, if given.
    pub forced_down: Option<bool>,
}

impl ServiceUpdateBody {
    /// The update, checked as Nova's `service_update_v253` schema: an
    /// object of [`UPDATE_FIELDS`] only (every other key named), `status`
    /// one of `enabled`/`disabled`, `disabled_reason` 1-255 characters,
    /// `forced_down` a boolean ([`body::boolean`]).
    pub fn checked(&self) -> Result<ServiceUpdate, BodyError> {
        let Value::Object(m) = &self.sent else {
            return Err(BodyError::BadRequest(format!(
                "{} is not of type 'object'",
                python_repr(&self.sent)
            )));
        };
        let extra: Vec<&str> = m
            .keys()
            .map(String::as_str)
            .filter(|k| !UPDATE_FIELDS.contains(k))
            .collect();
        if !extra.is_empty() {
            return Err(BodyError::BadRequest(unexpected_message(&extra)));
        }
        let mut update = ServiceUpdate::default();
        if let Some(status) = m.get("status") {
            update.disable = Some(match status.as_str() {
                Some("enabled") => false,
                Some("disabled") => true,
                _ => {
                    return Err(BodyError::invalid(
                        "status",
                        status,
                        &format!(
                            "{} is not one of ['enabled', 'disabled']",
                            python_repr(status)
                        ),
                    ))
                }
            });
        }
        if let Some(reason) = m.get("disabled_reason") {
            let Value::String(s) = reason else {
                return Err(BodyError::invalid(
                    "disabled_reason",
                    reason,
                    &format!("{} is not of type 'string'", python_repr(reason)),
                ));
            };
            let len = s.chars().count();
            if len == 0 {
                return Err(BodyError::invalid(
                    "disabled_reason",
                    reason,
                    "'' is too short",
                ));
            }
            if len > 255 {
                return Err(BodyError::invalid(
                    "disabled_reason",
                    reason,
                    &format!("'{s}' is too long"),
                ));
            }
            update.disabled_reason = Some(s.clone());
        }
        if let Some(forced) = m.get("forced_down") {
            update.forced_down = Some(body::boolean("forced_down", forced)?);
        }
        Ok(update)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn checked(sent: Value) -> Result<ServiceUpdate, String> {
        ServiceUpdateBody { sent }
            .checked()
            .map_err(|e| e.to_string())
    }

    #[test]
    fn update_bodies_follow_the_2_53_schema() {
        assert_eq!(
            checked(json!({"status": "disabled", "disabled_reason": "maint"})).unwrap(),
            ServiceUpdate {
                disable: Some(true),
                disabled_reason: Some("maint".into()),
                forced_down: None
            }
        );
        assert_eq!(
            checked(json!({"forced_down": "yes"})).unwrap().forced_down,
            Some(true)
        );
        assert_eq!(checked(json!({})), Ok(ServiceUpdate::default()));
    }

    #[test]
    fn refusals_are_worded_as_novas_schema() {
        assert_eq!(
            checked(json!({"status": "off"})).unwrap_err(),
            "Invalid input for field/attribute status. Value: 'off'. 'off' is not one of ['enabled', 'disabled']"
        );
        assert_eq!(
            checked(json!({"disabled_reason": ""})).unwrap_err(),
            "Invalid input for field/attribute disabled_reason. Value: ''. '' is too short"
        );
        assert!(checked(json!({"disabled_reason": 3}))
            .unwrap_err()
            .ends_with("3 is not of type 'string'"));
        assert_eq!(
            checked(json!({"host": "h", "binary": "b"})).unwrap_err(),
            "Additional properties are not allowed ('binary', 'host' were unexpected)"
        );
        assert_eq!(
            checked(json!([])).unwrap_err(),
            "[] is not of type 'object'"
        );
        assert!(checked(json!({"forced_down": "maybe"}))
            .unwrap_err()
            .contains("is not one of [True"));
    }
}
