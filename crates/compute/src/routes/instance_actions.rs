//! `/v2.1/servers/{server_id}/os-instance-actions`: what was done to a
//! server, and (show) the events of one action.
//!
//! The server must be the caller's project's (or the caller an admin);
//! another project's server is "not found" exactly like a missing one, so
//! a token cannot learn which server ids exist elsewhere. Deleted servers
//! are found from 2.21, as Nova reads them with `read_deleted=yes`.
//!
//! Actions and their events are recorded by the server code (the events
//! as a JSON list, see [`Event`]); this API only shows them, with Nova's
//! microversion differences: events for admins at every version and for
//! everyone from 2.51 (the `traceback` stays admin-only); `hostId` (a
//! per-project hash of the host) for everyone and the `host` itself for
//! admins from 2.62; `details` from 2.84; and from 2.58 `updated_at`,
//! paging (`limit`, `marker` = a request id, a `links` next link) and the
//! `changes-since` filter, with `changes-before` from 2.66. An action's
//! `updated_at` is its latest recorded time: start, finish, or any
//! event's start or finish, which is what Nova's row holds.

use super::{Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult};
use crate::microversion::{Version, MAX};
use crate::ComputeState;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use ferrostack_common::time::nova_time;
use ferrostack_compute_types::ApiVersion;
use ferrostack_policy::AuthContext;
use ferrostack_store::server::{Instance, InstanceAction};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha224};
use std::sync::Arc;

/// One element of [`InstanceAction::events`], as the server code writes it.
#[derive(Debug, Default, Deserialize)]
pub struct Event {
    /// E.g. `compute_start_instance`.
    #[serde(default)]
    pub event: String,
    /// µs since the epoch.
    #[serde(default)]
    pub start_time: i64,
    /// µs since the epoch, once finished.
    #[serde(default)]
    pub finish_time: Option<i64>,
    /// `Success`, `Error`, or none while running.
    #[serde(default)]
    pub result: Option<String>,
    /// The failure's traceback (admins only).
    #[serde(default)]
    pub traceback: Option<String>,
    /// The compute host it ran on.
    #[serde(default)]
    pub host: Option<String>,
    /// A message for the user about a failure (2.84).
    #[serde(default)]
    pub details: Option<String>,
}

fn events_of(a: &InstanceAction) -> Vec<Event> {
    match &a.events {
        Value::Array(items) => items
            .iter()
            .filter_map(|e| match serde_json::from_value::<Event>(e.clone()) {
                Ok(ev) => Some(ev),
                Err(err) => {
                    tracing::warn!(request_id = a.request_id, error = %err, "unreadable instance action event skipped");
                    None
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The latest time recorded for the action.
fn updated_at(a: &InstanceAction, events: &[Event]) -> i64 {
    events
        .iter()
        .flat_map(|e| [Some(e.start_time), e.finish_time])
        .chain([Some(a.start_time), a.finish_time])
        .flatten()
        .max()
        .unwrap_or(a.start_time)
}

/// Nova's `hostId`: SHA-224 of project id and host, or "" without a host.
pub fn host_id(host: Option<&str>, project_id: &str) -> String {
    match host {
        Some(h) if !h.is_empty() => hex::encode(Sha224::digest(format!("{project_id}{h}"))),
        _ => String::new(),
    }
}

fn server_not_found(id: &str) -> ComputeError {
    ComputeError::NotFound(format!("Instance {id} could not be found."))
}

/// The server `id` if the caller may see it.
fn visible_server(
    state: &ComputeState,
    caller: &AuthContext,
    v: ApiVersion,
    id: &str,
) -> ComputeResult<Instance> {
    let i = state
        .servers
        .get_instance(id)?
        .ok_or_else(|| server_not_found(id))?;
    let deleted_hidden = i.deleted_at.is_some() && !v.at_least(21);
    let others = !caller.is_admin() && caller.project_id() != Some(i.project_id.as_str());
    if deleted_hidden || others {
        return Err(server_not_found(id));
    }
    Ok(i)
}

fn action_view(v: ApiVersion, a: &InstanceAction, events: &[Event]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("action".into(), json!(a.action));
    m.insert("instance_uuid".into(), json!(a.instance_uuid));
    m.insert("request_id".into(), json!(a.request_id));
    m.insert("user_id".into(), json!(a.user_id));
    m.insert("project_id".into(), json!(a.project_id));
    m.insert("start_time".into(), json!(nova_time(a.start_time)));
    m.insert("message".into(), json!(a.message));
    if v.at_least(58) {
        m.insert("updated_at".into(), json!(nova_time(updated_at(a, events))));
    }
    m
}

/// An ISO 8601 time as `oslo_utils.timeutils.parse_isotime` reads it, in
/// µs since the epoch (no zone means UTC).
pub fn parse_time(raw: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.timestamp_micros());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_micros())
}

fn time_param(q: &QueryPairs, name: &str) -> ComputeResult<Option<i64>> {
    let Some(raw) = q.get(name) else {
        return Ok(None);
    };
    parse_time(raw).map(Some).ok_or_else(|| {
        ComputeError::BadRequest(format!(
            "Invalid input for query parameters {name}. Value: {raw}. '{raw}' is not a 'date-time'"
        ))
    })
}

/// `GET /v2.1/servers/{server_id}/os-instance-actions`, newest first.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(server_id): Path<String>,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    let mut body = Map::new();
    let (mut since, mut before, mut page) = (None, None, None);
    if v.at_least(58) {
        // Nova's 2.58 query schema refuses unknown parameters.
        let known: &[&str] = if v.at_least(66) {
            &["limit", "marker", "changes-since", "changes-before"]
        } else {
            &["limit", "marker", "changes-since"]
        };
        q.check_known(MAX, known)?;
        since = time_param(&q, "changes-since")?;
        if v.at_least(66) {
            before = time_param(&q, "changes-before")?;
        }
        if let (Some(s), Some(b)) = (since, before) {
            if b < s {
                return Err(ComputeError::BadRequest(
                    "The value of changes-since must be less than or equal to changes-before."
                        .into(),
                ));
            }
        }
        page = Some(super::paging(&q)?);
    }
    let server = visible_server(&state, &caller, v, &server_id)?;
    let mut actions = state.servers.list_actions(&server.uuid)?;
    if let Some(page) = &page {
        page.skip_past_marker(
            &mut actions,
            |a, m| a.request_id == m,
            |m| ComputeError::BadRequest(format!("Marker {m} could not be found.")),
        )?;
    }
    let mut items: Vec<(String, Map<String, Value>)> = Vec::new();
    for a in &actions {
        let events = events_of(a);
        let updated = updated_at(a, &events);
        if since.is_some_and(|s| updated < s) || before.is_some_and(|b| updated > b) {
            continue;
        }
        items.push((a.request_id.clone(), action_view(v, a, &events)));
    }
    if let Some(page) = page {
        items.truncate(page.limit);
        if let Some((last, _)) = items.last().filter(|_| page.is_full(items.len())) {
            let path = format!("servers/{server_id}/os-instance-actions");
            body.insert(
                "links".into(),
                super::next_link(&state, &path, &q, page.limit, last),
            );
        }
    }
    let list: Vec<Value> = items.into_iter().map(|(_, m)| Value::Object(m)).collect();
    body.insert("instanceActions".into(), Value::Array(list));
    Ok(axum::Json(Value::Object(body)))
}

/// `GET /v2.1/servers/{server_id}/os-instance-actions/{request_id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path((server_id, request_id)): Path<(String, String)>,
) -> ComputeResult<axum::Json<Value>> {
    let server = visible_server(&state, &caller, v, &server_id)?;
    let action = state
        .servers
        .list_actions(&server.uuid)?
        .into_iter()
        .find(|a| a.request_id == request_id)
        .ok_or_else(|| ComputeError::NotFound(format!("Action {request_id} not found")))?;
    let events = events_of(&action);
    let mut m = action_view(v, &action, &events);
    let admin = caller.is_admin();
    if admin || v.at_least(51) {
        let project = if action.project_id.is_empty() {
            server.project_id.as_str()
        } else {
            action.project_id.as_str()
        };
        let shown: Vec<Value> = events
            .iter()
            .map(|e| {
                let mut ev = Map::new();
                ev.insert("event".into(), json!(e.event));
                ev.insert("start_time".into(), json!(nova_time(e.start_time)));
                ev.insert("finish_time".into(), json!(e.finish_time.map(nova_time)));
                ev.insert("result".into(), json!(e.result));
                if admin {
                    ev.insert("traceback".into(), json!(e.traceback));
                }
                if v.at_least(62) {
                    if admin {
                        ev.insert("host".into(), json!(e.host));
                    }
                    ev.insert("hostId".into(), json!(host_id(e.host.as_deref(), project)));
                }
                if v.at_least(84) {
                    ev.insert("details".into(), json!(e.details));
                }
                Value::Object(ev)
            })
            .collect();
        m.insert("events".into(), Value::Array(shown));
    }
    Ok(axum::Json(json!({ "instanceAction": m })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_are_novas_sha224() {
        // hashlib.sha224(b"p1" + b"h1").hexdigest()
        assert_eq!(
            host_id(Some("h1"), "p1"),
            hex::encode(Sha224::digest(b"p1h1"))
        );
        assert_eq!(host_id(Some("h1"), "p1").len(), 56);
        assert_eq!(host_id(None, "p1"), "");
        assert_eq!(host_id(Some(""), "p1"), "");
    }

    #[test]
    fn iso_times_parse_with_or_without_a_zone() {
        let z = parse_time("2023-11-14T22:13:20Z").unwrap();
        assert_eq!(z, 1_700_000_000_000_000);
        assert_eq!(parse_time("2023-11-14T22:13:20").unwrap(), z);
        assert_eq!(parse_time("2023-11-14T23:13:20+01:00").unwrap(), z);
        assert_eq!(parse_time("2023-11-14 22:13:20.000000").unwrap(), z);
        assert!(parse_time("2023-11-14").is_some());
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn updated_at_is_the_latest_recorded_time() {
        let a = InstanceAction {
            instance_uuid: "i".into(),
            request_id: "r".into(),
            action: "create".into(),
            project_id: "p".into(),
            user_id: "u".into(),
            message: None,
            start_time: 10,
            finish_time: None,
            events: json!([{"event": "e", "start_time": 20, "finish_time": 30}]),
        };
        let events = events_of(&a);
        assert_eq!(updated_at(&a, &events), 30);
        assert_eq!(updated_at(&a, &[]), 10);
    }
}
