//! `/v3/groups`: create, list, show, update, delete; membership
//! (`/v3/groups/{group_id}/users[/{user_id}]`); and a user's groups
//! (`/v3/users/{user_id}/groups`).
//!
//! Groups matter for authorization because roles granted to a group reach
//! every member. Roles are recomputed on every validation, so losing a
//! membership already drops the roles it gave. The handlers still revoke
//! the member's tokens, as Keystone does, so a client is told plainly to
//! authenticate again instead of holding a token whose roles shrank.

use super::{list_filter, require_name, Caller};
use crate::bootstrap::DEFAULT_DOMAIN_ID;
use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use crate::views;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use ferrostack_common::ids::new_hex_id;
use ferrostack_identity_types::resources::GroupBody;
use ferrostack_store::identity::{Actor, AssignmentFilter, Group, ListFilter};
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

fn group_json(id: &Identity, g: &Group) -> axum::Json<Value> {
    axum::Json(json!({ "group": views::group(&id.config.public_url, g) }))
}

/// `POST /v3/groups`.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Json(body): Json<GroupBody>,
) -> IdResult<impl IntoResponse> {
    let f = body.group;
    let name = require_name("group", f.name.as_ref())?;
    let domain_id = f.domain_id.unwrap_or_else(|| DEFAULT_DOMAIN_ID.to_string());
    if id.store.get_domain(&domain_id).is_err() {
        // Keystone's DomainNotFound: 404, as for any reference to a
        // domain that does not exist.
        return Err(IdentityError::not_found("domain", &domain_id));
    }
    let group = Group {
        id: new_hex_id(),
        name,
        domain_id,
        description: f.description.unwrap_or_default(),
        extra: f.extra,
    };
    id.store.create_group(&group)?;
    tracing::info!(group_id = %group.id, name = %group.name, "group created");
    Ok((StatusCode::CREATED, group_json(&id, &group)))
}

/// `GET /v3/groups` with `name` and `domain_id` filters.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let groups = id.store.list_groups(&list_filter(&q)?)?;
    let base = &id.config.public_url;
    Ok(axum::Json(json!({
        "groups": groups.iter().map(|g| views::group(base, g)).collect::<Vec<_>>(),
        "links": views::collection_links(base, "/v3/groups"),
    })))
}

/// `GET /v3/groups/{group_id}`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Path(group_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    Ok(group_json(&id, &id.store.get_group(&group_id)?))
}

/// `PATCH /v3/groups/{group_id}`.
pub async fn update(
    State(id): State<Arc<Identity>>,
    Path(group_id): Path<String>,
    Json(body): Json<GroupBody>,
) -> IdResult<axum::Json<Value>> {
    let f = body.group;
    let mut group = id.store.get_group(&group_id)?;
    if f.domain_id.as_ref().is_some_and(|d| *d != group.domain_id) {
        return Err(IdentityError::BadRequest(
            "A group cannot move to another domain.".into(),
        ));
    }
    if f.name.is_some() {
        group.name = require_name("group", f.name.as_ref())?;
    }
    if let Some(d) = f.description {
        group.description = d;
    }
    for (k, v) in f.extra {
        group.extra.insert(k, v);
    }
    id.store.update_group(&group)?;
    Ok(group_json(&id, &group))
}

/// `DELETE /v3/groups/{group_id}`: members lose the group's roles at once.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Path(group_id): Path<String>,
) -> IdResult<StatusCode> {
    let members = id.store.list_group_user_ids(&group_id)?;
    let held_roles = !id
        .store
        .list_assignments(&AssignmentFilter {
            actors: Some(vec![Actor::Group(group_id.clone())]),
            ..Default::default()
        })?
        .is_empty();
    id.store.delete_group(&group_id)?;
    if held_roles {
        for user_id in members {
            id.revoke_user_tokens(&user_id)?;
        }
    }
    tracing::info!(group_id, "group deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v3/groups/{group_id}/users`.
pub async fn list_users(
    State(id): State<Arc<Identity>>,
    Path(group_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    id.store.get_group(&group_id)?;
    let ids = id.store.list_group_user_ids(&group_id)?;
    let users = id.store.list_users(&ListFilter {
        ids: Some(ids),
        ..Default::default()
    })?;
    let base = &id.config.public_url;
    Ok(axum::Json(json!({
        "users": users.iter().map(|u| views::user(base, u)).collect::<Vec<_>>(),
        "links": views::collection_links(base, &format!("/v3/groups/{group_id}/users")),
    })))
}

fn check_both_exist(id: &Identity, group_id: &str, user_id: &str) -> IdResult<()> {
    id.store.get_group(group_id)?;
    id.store.get_user(user_id)?;
    Ok(())
}

fn not_a_member(group_id: &str, user_id: &str) -> IdentityError {
    IdentityError::NotFound(format!(
        "User {user_id} is not a member of group {group_id}."
    ))
}

/// `PUT /v3/groups/{group_id}/users/{user_id}`: add (idempotent).
pub async fn add_user(
    State(id): State<Arc<Identity>>,
    Path((group_id, user_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    check_both_exist(&id, &group_id, &user_id)?;
    id.store.add_user_to_group(&user_id, &group_id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `HEAD/GET /v3/groups/{group_id}/users/{user_id}`: 204 for a member, else 404.
pub async fn check_user(
    State(id): State<Arc<Identity>>,
    Path((group_id, user_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    check_both_exist(&id, &group_id, &user_id)?;
    if id.store.list_user_group_ids(&user_id)?.contains(&group_id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_a_member(&group_id, &user_id))
    }
}

/// `DELETE /v3/groups/{group_id}/users/{user_id}`: the user's tokens are
/// revoked, since roles held through the group may be gone.
pub async fn remove_user(
    State(id): State<Arc<Identity>>,
    Path((group_id, user_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    check_both_exist(&id, &group_id, &user_id)?;
    id.store
        .remove_user_from_group(&user_id, &group_id)
        .map_err(|e| match e {
            ferrostack_store::StoreError::NotFound { .. } => not_a_member(&group_id, &user_id),
            other => other.into(),
        })?;
    id.revoke_user_tokens(&user_id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v3/users/{user_id}/groups`: the caller's own groups, or any
/// user's for an admin; another user's are "not found".
pub async fn user_groups(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    if !caller.is_admin() && caller.user_id != user_id {
        return Err(IdentityError::not_found("user", &user_id));
    }
    id.store.get_user(&user_id)?;
    let ids = id.store.list_user_group_ids(&user_id)?;
    let groups = id.store.list_groups(&ListFilter {
        ids: Some(ids),
        ..Default::default()
    })?;
    let base = &id.config.public_url;
    Ok(axum::Json(json!({
        "groups": groups.iter().map(|g| views::group(base, g)).collect::<Vec<_>>(),
        "links": views::collection_links(base, &format!("/v3/users/{user_id}/groups")),
    })))
}
