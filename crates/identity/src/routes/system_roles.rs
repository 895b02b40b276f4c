//! System role grants: `/v3/system/users/{user_id}/roles[/{role_id}]`.
//!
//! A role on the system lets a user ask for a system-scoped token
//! (`openstack role add --system all`). Kept apart from the project and
//! domain grants in [`super::roles`] because the route has no target id:
//! the system is the one target.

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

fn system_grant(id: &Identity, user_id: &str, role_id: &str) -> IdResult<Assignment> {
    id.store.get_user(user_id)?;
    id.store.get_role(role_id)?;
    Ok(Assignment {
        actor: Actor::User(user_id.to_string()),
        target: Target::System,
        role_id: role_id.to_string(),
        inherited: false,
    })
}

fn grant_not_found(user_id: &str, role_id: &str) -> IdentityError {
    IdentityError::NotFound(format!(
        "Could not find role assignment with role: {role_id}, user: {user_id}, target: system."
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

/// `GET /v3/system/users/{user_id}/roles`: the user's direct system roles.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Path(user_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    id.store.get_user(&user_id)?;
    let role_ids: BTreeSet<String> = id
        .store
        .list_assignments(&AssignmentFilter {
            actors: Some(vec![Actor::User(user_id.clone())]),
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
    Ok(axum::Json(json!({
        "roles": roles,
        "links": views::collection_links(base, &format!("/v3/system/users/{user_id}/roles")),
    })))
}

/// `PUT /v3/system/users/{user_id}/roles/{role_id}` (idempotent).
pub async fn grant(
    State(id): State<Arc<Identity>>,
    Path((user_id, role_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    let a = system_grant(&id, &user_id, &role_id)?;
    id.store.grant(&a)?;
    tracing::info!(user_id, role_id, "system role granted");
    Ok(StatusCode::NO_CONTENT)
}

/// `HEAD/GET /v3/system/users/{user_id}/roles/{role_id}`: 204 or 404.
pub async fn check(
    State(id): State<Arc<Identity>>,
    Path((user_id, role_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    let a = system_grant(&id, &user_id, &role_id)?;
    if has_grant(&id, &a)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(grant_not_found(&user_id, &role_id))
    }
}

/// `DELETE /v3/system/users/{user_id}/roles/{role_id}`: the user's tokens end.
pub async fn revoke(
    State(id): State<Arc<Identity>>,
    Path((user_id, role_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    let a = system_grant(&id, &user_id, &role_id)?;
    id.store.revoke(&a).map_err(|e| match e {
        ferrostack_store::StoreError::NotFound { .. } => grant_not_found(&user_id, &role_id),
        other => other.into(),
    })?;
    revoke_tokens_for(&id, &a)?;
    tracing::info!(user_id, role_id, "system role revoked");
    Ok(StatusCode::NO_CONTENT)
}
