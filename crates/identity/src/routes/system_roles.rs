//! System role grants: `/v3/system/{users,groups}/{id}/roles[/{role_id}]`.
//!
//! A role on the system lets a user ask for a system-scoped token
//! (`openstack role add --system all`); granted to a group, it reaches
//! every member (effective roles expand groups, [`crate::roles`]). Kept
//! apart from the project and domain grants in [`super::roles`] because
//! the route has no target id: the system is the one target.

use super::roles::revoke_tokens_for;
use crate::error::{IdResult, IdentityError};
use crate::service::Identity;
use crate::views;
use axum::extract::{Path, State};
use ferrostack_store::identity::{Actor, Assignment, AssignmentFilter, Target};
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The actor of a route, checked to exist.
fn actor(id: &Identity, group: bool, actor_id: &str) -> IdResult<Actor> {
    if group {
        id.store.get_group(actor_id)?;
        Ok(Actor::Group(actor_id.to_string()))
    } else {
        id.store.get_user(actor_id)?;
        Ok(Actor::User(actor_id.to_string()))
    }
}

fn system_grant(id: &Identity, group: bool, actor_id: &str, role_id: &str) -> IdResult<Assignment> {
    let actor = actor(id, group, actor_id)?;
    id.store.get_role(role_id)?;
    Ok(Assignment {
        actor,
        target: Target::System,
        role_id: role_id.to_string(),
        inherited: false,
    })
}

fn grant_not_found(a: &Assignment) -> IdentityError {
    let (kind, actor_id) = match &a.actor {
        Actor::User(u) => ("user", u),
        Actor::Group(g) => ("group", g),
    };
    IdentityError::NotFound(format!(
        "Could not find role assignment with role: {}, {kind}: {actor_id}, target: system.",
        a.role_id
    ))
}

fn has_grant(id: &Identity, a: &Assignment) -> IdResult<bool> {
    Ok(id
        .store
        .list_assignments(&AssignmentFilter {
            actors: Some(vec![a.actor.clone()]),
            target: Some(Target::System),
            role_id: Some(a.role_id.clone()),
        })?
        .iter()
        .any(|x| !x.inherited))
}

fn list_for(id: &Identity, group: bool, actor_id: &str) -> IdResult<axum::Json<Value>> {
    let actor = actor(id, group, actor_id)?;
    let role_ids: BTreeSet<String> = id
        .store
        .list_assignments(&AssignmentFilter {
            actors: Some(vec![actor]),
            target: Some(Target::System),
            role_id: None,
        })?
        .into_iter()
        .filter(|a| !a.inherited)
        .map(|a| a.role_id)
        .collect();
    let base = &id.config.public_url;
    let mut roles = Vec::new();
    for r in role_ids {
        if let Ok(role) = id.store.get_role(&r) {
            roles.push(views::role(base, &role));
        }
    }
    let kind = if group { "groups" } else { "users" };
    Ok(axum::Json(json!({
        "roles": roles,
        "links": views::collection_links(base, &format!("/v3/system/{kind}/{actor_id}/roles")),
    })))
}

fn grant_for(id: &Identity, group: bool, actor_id: &str, role_id: &str) -> IdResult<StatusCode> {
    let a = system_grant(id, group, actor_id, role_id)?;
    id.store.grant(&a)?;
    tracing::info!(actor_id, group, role_id, "system role granted");
    Ok(StatusCode::NO_CONTENT)
}

fn check_for(id: &Identity, group: bool, actor_id: &str, role_id: &str) -> IdResult<StatusCode> {
    let a = system_grant(id, group, actor_id, role_id)?;
    if has_grant(id, &a)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(grant_not_found(&a))
    }
}

/// The revoked actor's tokens end (every member's, for a group).
fn revoke_for(id: &Identity, group: bool, actor_id: &str, role_id: &str) -> IdResult<StatusCode> {
    let a = system_grant(id, group, actor_id, role_id)?;
    id.store.revoke(&a).map_err(|e| match e {
        ferrostack_store::StoreError::NotFound { .. } => grant_not_found(&a),
        other => other.into(),
    })?;
    revoke_tokens_for(id, &a)?;
    tracing::info!(actor_id, group, role_id, "system role revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v3/system/users/{user_id}/roles`: the user's direct system roles.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Path(user_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    list_for(&id, false, &user_id)
}

/// `PUT /v3/system/users/{user_id}/roles/{role_id}` (idempotent).
pub async fn grant(
    State(id): State<Arc<Identity>>,
    Path((user_id, role_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    grant_for(&id, false, &user_id, &role_id)
}

/// `HEAD/GET /v3/system/users/{user_id}/roles/{role_id}`: 204 or 404.
pub async fn check(
    State(id): State<Arc<Identity>>,
    Path((user_id, role_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    check_for(&id, false, &user_id, &role_id)
}

/// `DELETE /v3/system/users/{user_id}/roles/{role_id}`: the user's tokens end.
pub async fn revoke(
    State(id): State<Arc<Identity>>,
    Path((user_id, role_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    revoke_for(&id, false, &user_id, &role_id)
}

/// `GET /v3/system/groups/{group_id}/roles`: the group's system roles.
pub async fn list_group(
    State(id): State<Arc<Identity>>,
    Path(group_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    list_for(&id, true, &group_id)
}

/// `PUT /v3/system/groups/{group_id}/roles/{role_id}` (idempotent).
pub async fn grant_group(
    State(id): State<Arc<Identity>>,
    Path((group_id, role_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    grant_for(&id, true, &group_id, &role_id)
}

/// `HEAD/GET /v3/system/groups/{group_id}/roles/{role_id}`: 204 or 404.
pub async fn check_group(
    State(id): State<Arc<Identity>>,
    Path((group_id, role_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    check_for(&id, true, &group_id, &role_id)
}

/// `DELETE /v3/system/groups/{group_id}/roles/{role_id}`: members' tokens end.
pub async fn revoke_group(
    State(id): State<Arc<Identity>>,
    Path((group_id, role_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    revoke_for(&id, true, &group_id, &role_id)
}
