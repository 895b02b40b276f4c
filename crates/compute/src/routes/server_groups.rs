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

use super::{bad_count, Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_compute_types::server_group::CreateServerGroupBody;
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
    let limit = super::PAGING
        .read(q.get("limit"), None, |raw| bad_count("limit", raw))?
        .limit;
    let offset = super::non_negative(&q, "offset")?.unwrap_or(0);
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

/// `POST /v2.1/os-server-groups`: 200 with the new group.
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Json(body): Json<CreateServerGroupBody>,
) -> ComputeResult<Response> {
    let req = body.checked(v)?;
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
