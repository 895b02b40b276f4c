//! `/v3/users`: create, list, show, update, delete, change own password,
//! and the user's projects.

use super::{list_filter, require_name, Caller};
use crate::bootstrap::DEFAULT_DOMAIN_ID;
use crate::compliance;
use crate::error::{IdResult, IdentityError, Json};
use crate::password;
use crate::roles;
use crate::service::Identity;
use crate::views;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use ferrostack_common::ids::new_hex_id;
use ferrostack_common::time::now_micros;
use ferrostack_identity_types::resources::{PasswordChangeBody, UserBody};
use ferrostack_policy::AuthContext;
use ferrostack_store::identity::{ListFilter, User};
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const MAX_PASSWORD_LEN: usize = 4096;

async fn hash_password(pw: String) -> IdResult<String> {
    if pw.is_empty() || pw.len() > MAX_PASSWORD_LEN {
        return Err(IdentityError::BadRequest(format!(
            "Invalid input for field 'password': 1 to {MAX_PASSWORD_LEN} characters."
        )));
    }
    tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| IdentityError::internal(&e))?
        .map_err(|e| IdentityError::Internal(e.to_string()))
}

/// `POST /v3/users`.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Json(body): Json<UserBody>,
) -> IdResult<impl IntoResponse> {
    let f = body.user;
    let name = require_name("user", f.name.as_ref())?;
    let domain_id = f
        .domain_id
        .clone()
        .unwrap_or_else(|| DEFAULT_DOMAIN_ID.to_string());
    if id.store.get_domain(&domain_id).is_err() {
        // Keystone's DomainNotFound: 404, as for any reference to a
        // domain that does not exist.
        return Err(IdentityError::not_found("domain", &domain_id));
    }
    if let Some(p) = &f.default_project_id {
        if id.store.get_project(p).is_err() {
            return Err(IdentityError::BadRequest(format!(
                "Default project {p} does not exist."
            )));
        }
    }
    let mut user = User {
        id: new_hex_id(),
        name,
        domain_id,
        enabled: f.enabled.unwrap_or(true),
        password_changed_at: None,
        password_hash: None,
        default_project_id: f.default_project_id,
        description: f.description.unwrap_or_default(),
        email: f.email,
        extra: f.extra,
        security: Default::default(),
    };
    if let Some(options) = f.options {
        compliance::merge_options(&mut user.security.options, options)?;
    }
    if let Some(pw) = f.password {
        let policy = &id.config.security;
        policy.validate_new_password(&pw)?;
        let hash = hash_password(pw).await?;
        policy.set_password(&mut user, hash, false, now_micros());
    }
    id.store.create_user(&user)?;
    tracing::info!(user_id = %user.id, name = %user.name, "user created");
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "user": views::user(&id.config.public_url, &user) })),
    ))
}

/// `GET /v3/users`.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let users = id.store.list_users(&list_filter(&q)?)?;
    let base = &id.config.public_url;
    Ok(axum::Json(json!({
        "users": users.iter().map(|u| views::user(base, u)).collect::<Vec<_>>(),
        "links": views::collection_links(base, "/v3/users"),
    })))
}

/// A user record the caller may see: their own, or any for an admin.
fn visible_user(id: &Identity, caller: &AuthContext, user_id: &str) -> IdResult<User> {
    if !caller.is_admin() && caller.user_id != user_id {
        return Err(IdentityError::not_found("user", user_id));
    }
    Ok(id.store.get_user(user_id)?)
}

/// `GET /v3/users/{user_id}`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    let user = visible_user(&id, &caller, &user_id)?;
    Ok(axum::Json(
        json!({ "user": views::user(&id.config.public_url, &user) }),
    ))
}

/// `PATCH /v3/users/{user_id}`.
pub async fn update(
    State(id): State<Arc<Identity>>,
    Path(user_id): Path<String>,
    Json(body): Json<UserBody>,
) -> IdResult<axum::Json<Value>> {
    let f = body.user;
    let mut user = id.store.get_user(&user_id)?;
    if f.domain_id.as_ref().is_some_and(|d| *d != user.domain_id) {
        return Err(IdentityError::BadRequest(
            "A user cannot move to another domain.".into(),
        ));
    }
    if f.name.is_some() {
        user.name = require_name("user", f.name.as_ref())?;
    }
    if let Some(options) = f.options {
        compliance::merge_options(&mut user.security.options, options)?;
    }
    let mut revoke = false;
    if let Some(pw) = f.password {
        // An administrator's reset: the regex applies, the history and
        // the minimum age do not (as in Keystone).
        let policy = &id.config.security;
        policy.validate_new_password(&pw)?;
        let hash = hash_password(pw).await?;
        policy.set_password(&mut user, hash, false, now_micros());
        revoke = true;
    }
    if let Some(e) = f.enabled {
        revoke |= !e && user.enabled;
        user.enabled = e;
    }
    if let Some(p) = f.default_project_id {
        if id.store.get_project(&p).is_err() {
            return Err(IdentityError::BadRequest(format!(
                "Default project {p} does not exist."
            )));
        }
        user.default_project_id = Some(p);
    }
    if let Some(d) = f.description {
        user.description = d;
    }
    if let Some(e) = f.email {
        user.email = Some(e);
    }
    for (k, v) in f.extra {
        user.extra.insert(k, v);
    }
    id.store.update_user(&user)?;
    if f.enabled == Some(true) {
        // Enabling a user lifts a lockout, as in Keystone.
        id.store.clear_login_failures(&user.id)?;
    }
    if revoke {
        id.revoke_user_tokens(&user.id)?;
    }
    Ok(axum::Json(
        json!({ "user": views::user(&id.config.public_url, &user) }),
    ))
}

/// `DELETE /v3/users/{user_id}`.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Path(user_id): Path<String>,
) -> IdResult<StatusCode> {
    id.store.delete_user(&user_id)?;
    id.revoke_user_tokens(&user_id)?;
    tracing::info!(user_id, "user deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v3/users/{user_id}/password`: a user changes their own password.
/// Needs the current password, not a token, as in Keystone; an expired
/// current password still works here (that is how it gets replaced), a
/// locked account does not. The password policy applies
/// ([`compliance`]): `lock_password`, minimum age, regex, history.
pub async fn change_password(
    State(id): State<Arc<Identity>>,
    Path(user_id): Path<String>,
    Json(body): Json<PasswordChangeBody>,
) -> IdResult<StatusCode> {
    let mut user = id
        .store
        .get_user(&user_id)
        .map_err(|_| IdentityError::auth_required())?;
    let new = body.user.password;
    if new.is_empty() || new.len() > MAX_PASSWORD_LEN {
        return Err(IdentityError::BadRequest(format!(
            "Invalid input for field 'password': 1 to {MAX_PASSWORD_LEN} characters."
        )));
    }
    let worker = id.clone();
    let changed = tokio::task::spawn_blocking(move || -> IdResult<String> {
        let original = body.user.original_password;
        compliance::check_password(&worker, &user, &original, false)?;
        let policy = &worker.config.security;
        if compliance::option(&user.security, "lock_password") {
            return Err(compliance::self_service_disabled());
        }
        policy.check_minimum_age(&user, now_micros())?;
        policy.validate_new_password(&new)?;
        policy.check_history(&user, &new)?;
        let hash = password::hash(&new).map_err(|e| IdentityError::Internal(e.to_string()))?;
        policy.set_password(&mut user, hash, true, now_micros());
        worker.store.update_user(&user)?;
        Ok(user.id)
    })
    .await
    .map_err(|e| IdentityError::internal(&e))??;
    id.revoke_user_tokens(&changed)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v3/users/{user_id}/projects`: projects the user holds a role on.
pub async fn projects(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    let user = visible_user(&id, &caller, &user_id)?;
    let ids = roles::project_ids_for_user(id.store.as_ref(), &user.id)?;
    let projects = id.store.list_projects(&ListFilter {
        ids: Some(ids),
        ..Default::default()
    })?;
    let base = &id.config.public_url;
    Ok(axum::Json(json!({
        "projects": projects.iter().map(|p| views::project(base, p)).collect::<Vec<_>>(),
        "links": views::collection_links(base, &format!("/v3/users/{user_id}/projects")),
    })))
}
