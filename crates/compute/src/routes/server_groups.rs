//! `/v2.1/os-server-groups`: list, create, show and delete server groups.
//!
//! A group belongs to the project that made it. Another project's group
//! is "not found" for everyone but admins (Nova answers 403 from its
//! policy; a 404 does not tell a token which group ids exist elsewhere),
//! and admins list every project's with `all_projects` (a non-admin's
//! `all_projects` is ignored, as Nova ignores it). Each group holds one
//! `server_groups` unit of its project's quota, taken on create under the
//! group's uuid and given back on delete.
//!
//! Microversions: one-element `policies` (`affinity`, `anti-affinity`)
//! and an empty `metadata` before 2.64; the soft policies from 2.15;
//! `project_id` and `user_id` from 2.13; from 2.64 a single `policy` and
//! `rules` (`max_server_per_host`, for `anti-affinity` only). `members`
//! are the group's servers that are not deleted; servers join a group
//! when they are created into it, never through this API.

use super::{invalid, only_allowed, python_repr, wrapped, Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_compute_types::ApiVersion;
use ferrostack_policy::AuthContext;
use ferrostack_quota::{QuotaError, ResourceMap, COMPUTE};
use ferrostack_store::server::ServerGroup;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn not_found(id: &str) -> ComputeError {
    ComputeError::NotFound(format!("Instance group {id} could not be found."))
}

/// The members that are servers not deleted.
fn live_members(state: &ComputeState, g: &ServerGroup) -> ComputeResult<Vec<String>> {
    let mut out = Vec::with_capacity(g.members.len());
    for uuid in &g.members {
        if let Some(i) = state.servers.get_instance(uuid)? {
            if i.deleted_at.is_none() {
                out.push(uuid.clone());
            }
        }
    }
    Ok(out)
}

fn view(state: &ComputeState, v: ApiVersion, g: &ServerGroup) -> ComputeResult<Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(g.uuid));
    m.insert("name".into(), json!(g.name));
    if v.at_least(64) {
        m.insert("policy".into(), json!(g.policy));
        let rules = if g.rules.is_object() {
            g.rules.clone()
        } else {
            json!({})
        };
        m.insert("rules".into(), rules);
    } else {
        m.insert("policies".into(), json!([g.policy]));
        m.insert("metadata".into(), json!({}));
    }
    m.insert("members".into(), json!(live_members(state, g)?));
    if v.at_least(13) {
        m.insert("project_id".into(), json!(g.project_id));
        m.insert("user_id".into(), json!(g.user_id));
    }
    Ok(Value::Object(m))
}

/// A `limit` or `offset` as Nova's `non_negative_integer` takes it.
fn non_negative(q: &QueryPairs, name: &str) -> ComputeResult<Option<usize>> {
    let Some(raw) = q.get(name) else {
        return Ok(None);
    };
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ComputeError::BadRequest(format!(
            "Invalid input for query parameters {name}. Value: {raw}. '{raw}' does not match '^[0-9]*$'"
        )));
    }
    Ok(Some(raw.parse::<usize>().unwrap_or(usize::MAX)))
}

/// The group `id` if the caller may see it (its project's, or an admin).
fn visible(state: &ComputeState, caller: &AuthContext, id: &str) -> ComputeResult<ServerGroup> {
    let g = state.servers.get_group(id)?.ok_or_else(|| not_found(id))?;
    if caller.is_admin() || caller.project_id() == Some(g.project_id.as_str()) {
        Ok(g)
    } else {
        Err(not_found(id))
    }
}

/// `GET /v2.1/os-server-groups`: the caller's project's groups, or every
/// project's for an admin with `all_projects`; `limit` and `offset`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    q.check_known(v, &["all_projects", "limit", "offset"])?;
    let limit = non_negative(&q, "limit")?
        .unwrap_or(super::flavors::MAX_PAGE)
        .min(super::flavors::MAX_PAGE);
    let offset = non_negative(&q, "offset")?.unwrap_or(0);
    let groups = if q.get("all_projects").is_some() && caller.is_admin() {
        state.servers.list_groups(None)?
    } else {
        let project = caller.project_id().unwrap_or_default();
        state.servers.list_groups(Some(project))?
    };
    let mut items = Vec::new();
    for g in groups.iter().skip(offset).take(limit) {
        items.push(view(&state, v, g)?);
    }
    Ok(axum::Json(json!({ "server_groups": items })))
}

/// `GET /v2.1/os-server-groups/{server_group_id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let g = visible(&state, &caller, &id)?;
    Ok(axum::Json(json!({ "server_group": view(&state, v, &g)? })))
}

/// `DELETE /v2.1/os-server-groups/{server_group_id}`: 204, and the
/// group's quota is given back.
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ComputeResult<Response> {
    let g = visible(&state, &caller, &id)?;
    if !state.servers.delete_group(&g.uuid)? {
        return Err(not_found(&id));
    }
    state.quotas.release(&COMPUTE, &g.uuid)?;
    tracing::info!(
        group = g.uuid,
        project_id = g.project_id,
        "server group deleted"
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A validated create request.
#[derive(Debug, PartialEq)]
pub struct CreateRequest {
    /// Group name.
    pub name: String,
    /// The one policy.
    pub policy: String,
    /// Rules (2.64+), `{}` when none.
    pub rules: Value,
}

fn policies_for(v: ApiVersion) -> &'static [&'static str] {
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
fn positive_integer(field: &str, value: &Value) -> ComputeResult<u64> {
    let n = match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| {
            invalid(
                field,
                value,
                &format!("{n} is not of type 'integer', 'string'"),
            )
        })?,
        Value::String(s) => {
            if s.is_empty() {
                return Err(invalid(field, value, "'' is too short"));
            }
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(
                    field,
                    value,
                    &format!("'{s}' does not match '^[0-9]*$'"),
                ));
            }
            s.parse::<i64>().unwrap_or(i64::MAX)
        }
        other => {
            return Err(invalid(
                field,
                value,
                &format!("{} is not of type 'integer', 'string'", python_repr(other)),
            ))
        }
    };
    if n < 1 {
        return Err(invalid(
            field,
            value,
            &format!("{n} is less than the minimum of 1"),
        ));
    }
    Ok(n as u64)
}

/// Validate a create body as Nova's schema for `v` does.
pub fn parse_create(v: ApiVersion, body: &Value) -> ComputeResult<CreateRequest> {
    let g = wrapped(body, "server_group")?;
    let new_form = v.at_least(64);
    only_allowed("server_group", g, |k| match k {
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
            return Err(invalid(
                "server_group",
                &Value::Object(g.clone()),
                &format!("'{field}' is a required property"),
            ));
        }
    }
    let name =
        ferrostack_compute_types::flavor_body::name("name", g.get("name").unwrap_or(&Value::Null))?;
    let allowed = policies_for(v);
    if !new_form {
        let raw = g.get("policies").unwrap_or(&Value::Null);
        let Value::Array(items) = raw else {
            return Err(invalid(
                "policies",
                raw,
                &format!("{} is not of type 'array'", python_repr(raw)),
            ));
        };
        if items.is_empty() {
            return Err(invalid("policies", raw, "[] is too short"));
        }
        // jsonschema reports the item first, at its index.
        let first = &items[0];
        if !first.as_str().is_some_and(|p| allowed.contains(&p)) {
            return Err(invalid("0", first, &enum_message(first, allowed)));
        }
        if items.len() > 1 {
            return Err(invalid(
                "policies",
                raw,
                &format!("{} is too long", python_repr(raw)),
            ));
        }
        return Ok(CreateRequest {
            name,
            policy: first.as_str().unwrap_or_default().to_string(),
            rules: json!({}),
        });
    }
    let raw = g.get("policy").unwrap_or(&Value::Null);
    let policy = match raw.as_str() {
        Some(p) if allowed.contains(&p) => p.to_string(),
        _ => return Err(invalid("policy", raw, &enum_message(raw, allowed))),
    };
    let mut rules = Map::new();
    if let Some(raw_rules) = g.get("rules") {
        let Value::Object(given) = raw_rules else {
            return Err(invalid(
                "rules",
                raw_rules,
                &format!("{} is not of type 'object'", python_repr(raw_rules)),
            ));
        };
        only_allowed("rules", given, |k| k == "max_server_per_host")?;
        if let Some(max) = given.get("max_server_per_host") {
            rules.insert(
                "max_server_per_host".into(),
                json!(positive_integer("max_server_per_host", max)?),
            );
        }
    }
    if policy != "anti-affinity" && !rules.is_empty() {
        return Err(ComputeError::BadRequest(
            "Only anti-affinity policy supports rules.".into(),
        ));
    }
    Ok(CreateRequest {
        name,
        policy,
        rules: Value::Object(rules),
    })
}

/// `POST /v2.1/os-server-groups`: 200 with the new group.
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Json(body): Json<Value>,
) -> ComputeResult<Response> {
    let req = parse_create(v, &body)?;
    let project = caller
        .project_id()
        .ok_or_else(|| {
            ComputeError::Forbidden(
                "A project-scoped token is needed to create a server group.".into(),
            )
        })?
        .to_string();
    let group = ServerGroup {
        uuid: uuid::Uuid::new_v4().to_string(),
        name: req.name,
        project_id: project.clone(),
        user_id: caller.user_id.clone(),
        policy: req.policy,
        rules: req.rules,
        members: Vec::new(),
        created_at: ferrostack_common::time::now_micros(),
    };
    let one = ResourceMap::from([("server_groups".to_string(), 1)]);
    match state.quotas.reserve(&COMPUTE, &project, &group.uuid, &one) {
        Ok(()) => {}
        Err(QuotaError::OverQuota(_)) => {
            return Err(ComputeError::Forbidden(
                "Quota exceeded, too many server groups.".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    if let Err(e) = state.servers.create_group(&group) {
        state.quotas.release(&COMPUTE, &group.uuid)?;
        return Err(e.into());
    }
    tracing::info!(
        group = group.uuid,
        project_id = project,
        policy = group.policy,
        "server group created"
    );
    Ok(axum::Json(json!({ "server_group": view(&state, v, &group)? })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(minor: u32) -> ApiVersion {
        ApiVersion::new(2, minor)
    }

    fn message(r: ComputeResult<CreateRequest>) -> String {
        match r.unwrap_err() {
            ComputeError::BadRequest(m) => m,
            other => panic!("expected 400, got {other:?}"),
        }
    }

    #[test]
    fn policies_before_2_64_and_policy_after() {
        let old = json!({"server_group": {"name": "g", "policies": ["affinity"]}});
        assert_eq!(parse_create(v(1), &old).unwrap().policy, "affinity");
        assert!(parse_create(v(64), &old).is_err());
        let new = json!({"server_group": {"name": "g", "policy": "anti-affinity",
            "rules": {"max_server_per_host": "2"}}});
        let r = parse_create(v(64), &new).unwrap();
        assert_eq!(r.rules, json!({"max_server_per_host": 2}));
        assert!(parse_create(v(63), &new).is_err());
    }

    #[test]
    fn soft_policies_arrive_at_2_15() {
        let soft = json!({"server_group": {"name": "g", "policies": ["soft-affinity"]}});
        assert_eq!(
            message(parse_create(v(14), &soft)),
            "Invalid input for field/attribute 0. Value: 'soft-affinity'. 'soft-affinity' is not one of ['anti-affinity', 'affinity']"
        );
        assert!(parse_create(v(15), &soft).is_ok());
    }

    #[test]
    fn bad_bodies_are_refused_in_novas_words() {
        assert!(message(parse_create(
            v(1),
            &json!({"server_group": {"name": "g", "policies": []}})
        ))
        .ends_with("[] is too short"));
        assert!(message(parse_create(
            v(1),
            &json!({"server_group": {"name": "g", "policies": ["affinity", "anti-affinity"]}})
        ))
        .ends_with("is too long"));
        assert!(
            message(parse_create(v(1), &json!({"server_group": {"name": "g"}})))
                .ends_with("'policies' is a required property")
        );
        assert_eq!(
            message(parse_create(
                v(64),
                &json!({"server_group": {"name": "g", "policy": "affinity",
                    "rules": {"max_server_per_host": 2}}})
            )),
            "Only anti-affinity policy supports rules."
        );
        assert!(message(parse_create(
            v(64),
            &json!({"server_group": {"name": "g", "policy": "anti-affinity",
                "rules": {"max_server_per_host": 0}}})
        ))
        .ends_with("0 is less than the minimum of 1"));
        assert!(parse_create(
            v(64),
            &json!({"server_group": {"name": "g", "policy": "anti-affinity", "rules": {"x": 1}}})
        )
        .is_err());
        assert!(parse_create(
            v(64),
            &json!({"server_group": {"name": " g", "policy": "affinity"}})
        )
        .is_err());
    }
}
