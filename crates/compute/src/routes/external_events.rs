//! `POST /v2.1/os-server-external-events`: the events Neutron and Cinder
//! send Nova (a port plugged or changed, a volume extended, ...).
//!
//! Nova's default policy lets the `service` role (and admins) send them.
//! Each event is answered on its own, as Nova does: 200 for a server
//! that exists and is on a host, 422 for one not yet on a host, 404 for
//! an unknown one; the request is 200 when all were accepted, 207 when
//! some were not, 404 when no server was found at all.
//!
//! Accepted events change nothing here: the network and volume services
//! of this cloud are in the same program and drive the hosts directly (a
//! port's addresses are read from the network service at each request,
//! a volume extend reaches the guest through the host link), so there is
//! no cache for `network-changed` to refresh and no wait for
//! `network-vif-plugged` to end. The names are checked against Nova's
//! list at the microversion asked.

use super::Caller;
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::ComputeState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use ferrostack_compute_types::body::python_repr;
use ferrostack_compute_types::ApiVersion;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// The event names Nova accepts at `v`.
fn names(v: ApiVersion) -> Vec<&'static str> {
    let mut n = vec![
        "network-changed",
        "network-vif-plugged",
        "network-vif-unplugged",
        "network-vif-deleted",
    ];
    if v.at_least(51) {
        n.push("volume-extended");
    }
    if v.at_least(76) {
        n.push("power-update");
    }
    if v.at_least(82) {
        n.push("accelerator-request-bound");
    }
    if v.at_least(93) {
        n.push("volume-reimaged");
    }
    n
}

const STATUSES: &[&str] = &["failed", "completed", "in-progress"];
const FIELDS: &[&str] = &["name", "server_uuid", "status", "tag"];

fn invalid(field: &str, value: &Value, why: String) -> ComputeError {
    ComputeError::BadRequest(format!(
        "Invalid input for field/attribute {field}. Value: {}. {why}",
        python_repr(value)
    ))
}

fn one_of(field: &str, value: &Value, allowed: &[&str]) -> ComputeResult<String> {
    match value.as_str() {
        Some(s) if allowed.contains(&s) => Ok(s.to_string()),
        _ => {
            let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
            Err(invalid(
                field,
                value,
                format!(
                    "{} is not one of [{}]",
                    python_repr(value),
                    quoted.join(", ")
                ),
            ))
        }
    }
}

/// The events of the body, checked as Nova's schema.
fn events(v: ApiVersion, body: &Value) -> ComputeResult<Vec<serde_json::Map<String, Value>>> {
    let list = body
        .get("events")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| invalid("events", body, "'events' is a required property".into()))?;
    let allowed = names(v);
    let mut out = Vec::new();
    for e in list {
        let Value::Object(m) = e else {
            return Err(invalid("events", e, "It is not of type 'object'".into()));
        };
        if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(invalid(
                "events",
                e,
                format!("Additional properties are not allowed ('{k}' was unexpected)"),
            ));
        }
        let name = m
            .get("name")
            .ok_or_else(|| invalid("events", e, "'name' is a required property".into()))?;
        let mut event = m.clone();
        event.insert("name".into(), json!(one_of("name", name, &allowed)?));
        let uuid = m
            .get("server_uuid")
            .ok_or_else(|| invalid("events", e, "'server_uuid' is a required property".into()))?;
        if !uuid.is_string() {
            return Err(invalid(
                "server_uuid",
                uuid,
                "It is not of type 'string'".into(),
            ));
        }
        let status = m.get("status").cloned().unwrap_or(json!("completed"));
        event.insert("status".into(), json!(one_of("status", &status, STATUSES)?));
        if let Some(tag) = m.get("tag") {
            if tag.as_str().is_none_or(|t| t.chars().count() > 255) {
                return Err(invalid(
                    "tag",
                    tag,
                    "It is not a string of at most 255".into(),
                ));
            }
        }
        out.push(event);
    }
    Ok(out)
}

/// `POST /v2.1/os-server-external-events`.
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Json(body): Json<Value>,
) -> ComputeResult<Response> {
    if !caller.is_admin() && !caller.has_role("service") {
        return Err(ComputeError::Forbidden(
            "Policy doesn't allow os_compute_api:os-server-external-events:create to be performed."
                .into(),
        ));
    }
    let mut answered = Vec::new();
    let (mut accepted, mut found) = (0, 0);
    for mut e in events(v, &body)? {
        let uuid = e["server_uuid"].as_str().unwrap_or_default().to_string();
        let server = state
            .servers
            .get_instance(&uuid)?
            .filter(|i| i.deleted_at.is_none());
        let code = match server {
            None => 404,
            Some(i) if i.host.is_none() => {
                found += 1;
                422
            }
            Some(_) => {
                found += 1;
                accepted += 1;
                200
            }
        };
        if code != 200 {
            e.insert("status".into(), json!("failed"));
        }
        e.insert("code".into(), json!(code));
        answered.push(Value::Object(e));
    }
    if found == 0 {
        return Err(ComputeError::NotFound(
            "No instances found for any event".into(),
        ));
    }
    let status = if accepted == answered.len() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok((status, axum::Json(json!({ "events": answered }))).into_response())
}
