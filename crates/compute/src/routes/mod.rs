//! Handlers, one file per resource, and what they share: the caller, the
//! query string, Nova-style body validation, and which project a
//! `{project_id}` in the URL means for this caller.

pub mod admin;
pub mod availability_zones;
pub mod extra_specs;
pub mod flavor_access;
pub mod flavors;
pub mod hypervisors;
pub mod instance_actions;
pub mod keypairs;
pub mod limits;
pub mod quota_classes;
pub mod quota_sets;
pub mod server_actions;
pub mod server_groups;
pub mod servers;
pub mod services;
pub mod unbuilt;
pub mod versions;

use crate::error::{ComputeError, ComputeResult};
use crate::ComputeState;
use axum::extract::{FromRequestParts, Query};
pub use ferrostack_compute_types::body::python_repr;
use ferrostack_compute_types::ApiVersion;
use ferrostack_policy::AuthContext;
pub use ferrostack_quota::IfUnknown;
use ferrostack_quota::{admin_target, caller_target, own_project, TargetError, MAX_LIMIT};
use http::request::Parts;
use serde_json::Value;

/// The validated caller. Present on every route whose rule is not `Public`.
pub struct Caller(pub AuthContext);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ComputeError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthContext>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| {
                ComputeError::Status(
                    http::StatusCode::UNAUTHORIZED,
                    "The request you have made requires authentication.".into(),
                )
            })
    }
}

/// Every query parameter, in order, repeats kept.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ComputeError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| QueryPairs(pairs))
            .map_err(|_| ComputeError::BadRequest("Malformed query string.".into()))
    }
}

impl QueryPairs {
    /// The last value of `name`, as Nova's `req.GET.get` reads it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// From 2.75 Nova refuses query parameters it does not know; before, it ignores them.
    pub fn check_known(&self, v: ApiVersion, known: &[&str]) -> ComputeResult<()> {
        if !v.at_least(75) {
            return Ok(());
        }
        match self.0.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some((k, value)) => Err(ComputeError::BadRequest(format!(
                "Invalid input for query parameters {k}. Value: {value}. Additional properties are not allowed ('{k}' was unexpected)"
            ))),
        }
    }
}

impl From<TargetError> for ComputeError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::NotVisible(raw) => {
                ComputeError::NotFound(format!("Project {raw} could not be found."))
            }
            TargetError::Forbidden(_) => ComputeError::Forbidden(
                "You are not authorized to perform the requested action.".into(),
            ),
            // Nova's words when Keystone does not know the project.
            TargetError::Unknown(raw) => {
                ComputeError::BadRequest(format!("Project ID {raw} is not a valid project."))
            }
            TargetError::Ambiguous { name, count } => ComputeError::Conflict(format!(
                "{count} projects are named {name}; give the project ID instead."
            )),
            TargetError::Store(e) => e.into(),
        }
    }
}

/// The project an admin names: Nova refuses unknown projects except on
/// delete and limits, where `unknown` says to take the string as given.
pub fn resolve_admin(state: &ComputeState, raw: &str, unknown: IfUnknown) -> ComputeResult<String> {
    Ok(admin_target(state.projects.as_ref(), raw, unknown)?)
}

/// The project whose quota a reader asks about: any for an admin, else
/// only the token's own (another is "not found").
pub fn readable_project(
    state: &ComputeState,
    ctx: &AuthContext,
    raw: &str,
) -> ComputeResult<String> {
    Ok(caller_target(
        state.projects.as_ref(),
        ctx,
        raw,
        IfUnknown::Refuse,
        false,
    )?)
}

/// The project whose defaults are asked for: like Nova, anyone may ask,
/// and for a project the caller cannot look up the string is used as given.
pub fn defaults_project(
    state: &ComputeState,
    ctx: &AuthContext,
    raw: &str,
) -> ComputeResult<String> {
    if ctx.is_admin() {
        return resolve_admin(state, raw, IfUnknown::Refuse);
    }
    Ok(own_project(ctx, raw).unwrap_or_else(|| raw.to_string()))
}

/// Nova's validation message: `Invalid input for field/attribute <field>. Value: <v>. <why>`.
pub fn invalid(field: &str, value: &Value, why: &str) -> ComputeError {
    ComputeError::BadRequest(format!(
        "Invalid input for field/attribute {field}. Value: {}. {why}",
        python_repr(value)
    ))
}

/// A quota limit as Nova's schema takes it: an integer, or a string of
/// one, from -1 to 2^31-1.
pub fn limit_value(field: &str, value: &Value) -> ComputeResult<i64> {
    let parsed = match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| {
            invalid(
                field,
                value,
                &format!("{n} is not of type 'integer', 'string'"),
            )
        })?,
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(
                    field,
                    value,
                    &format!("'{s}' does not match '^-?[0-9]+$'"),
                ));
            }
            s.parse::<i64>().map_err(|_| {
                invalid(
                    field,
                    value,
                    &format!("{s} is greater than the maximum of {MAX_LIMIT}"),
                )
            })?
        }
        other => {
            return Err(invalid(
                field,
                value,
                &format!("{} is not of type 'integer', 'string'", python_repr(other)),
            ))
        }
    };
    if parsed < -1 {
        return Err(invalid(
            field,
            value,
            &format!("{parsed} is less than the minimum of -1"),
        ));
    }
    if parsed > MAX_LIMIT {
        return Err(invalid(
            field,
            value,
            &format!("{parsed} is greater than the maximum of {MAX_LIMIT}"),
        ));
    }
    Ok(parsed)
}

/// A boolean as Nova's `parameter_types.boolean` takes it.
pub fn boolean(field: &str, value: &Value) -> ComputeResult<bool> {
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
        other => Err(invalid(
            field,
            value,
            &format!(
                "{} is not one of [True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', False, 'False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']",
                python_repr(other)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(e: ComputeError) -> String {
        match e {
            ComputeError::BadRequest(m) => m,
            other => panic!("expected 400, got {other:?}"),
        }
    }

    #[test]
    fn limits_accept_integers_and_integer_strings() {
        assert_eq!(limit_value("cores", &json!(30)).unwrap(), 30);
        assert_eq!(limit_value("cores", &json!("30")).unwrap(), 30);
        assert_eq!(limit_value("cores", &json!(-1)).unwrap(), -1);
        assert_eq!(limit_value("cores", &json!("-1")).unwrap(), -1);
    }

    #[test]
    fn bad_limits_say_why_in_novas_words() {
        assert_eq!(
            message(limit_value("cores", &json!("lots")).unwrap_err()),
            "Invalid input for field/attribute cores. Value: 'lots'. 'lots' does not match '^-?[0-9]+$'"
        );
        assert!(message(limit_value("cores", &json!(-2)).unwrap_err())
            .ends_with("-2 is less than the minimum of -1"));
        assert!(message(limit_value("cores", &json!(1.5)).unwrap_err())
            .ends_with("1.5 is not of type 'integer', 'string'"));
        assert!(message(limit_value("cores", &json!(true)).unwrap_err())
            .ends_with("True is not of type 'integer', 'string'"));
        assert!(
            message(limit_value("cores", &json!(2147483648_i64)).unwrap_err())
                .ends_with("is greater than the maximum of 2147483647")
        );
        assert!(limit_value("cores", &json!("")).is_err());
        assert!(limit_value("cores", &json!("-")).is_err());
    }

    #[test]
    fn booleans_take_novas_spellings() {
        assert!(boolean("force", &json!("yes")).unwrap());
        assert!(!boolean("force", &json!(false)).unwrap());
        assert!(boolean("force", &json!("maybe")).is_err());
        assert!(boolean("force", &json!(1)).is_err());
    }
}
