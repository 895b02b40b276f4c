//! `/v3/users/{user_id}/application_credentials`: secrets an application
//! uses instead of its owner's password.
//!
//! A credential belongs to one user and one project (the project of the
//! token that created it) and delegates a subset of the creator's roles on
//! that project, by default all of them. Only the user may create one —
//! not even an admin creates them for someone else — and only the owner or
//! an admin sees or deletes them; to anyone else they do not exist.
//!
//! The secret is shown once, in the create response; the store keeps only
//! its Argon2 hash ([`crate::password`]). Tokens issued from a credential
//! name it, and validation ([`Identity::context_for`]) looks it up each
//! time, so deleting the credential ends those tokens at once without a
//! revocation event. A *restricted* credential (the default) cannot be
//! used to create or delete credentials, so a leaked one cannot mint
//! itself successors.

use super::{require_name, Caller};
use crate::error::{IdResult, IdentityError, Json};
use crate::password;
use crate::service::Identity;
use crate::views;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, NaiveDateTime};
use ferrostack_common::ids::new_hex_id;
use ferrostack_common::time::now_micros;
use ferrostack_identity_types::resources::{AppCredentialBody, RoleRefBody};
use ferrostack_policy::AuthContext;
use ferrostack_store::identity::{ApplicationCredential, Role};
use http::StatusCode;
use rand::RngCore;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const MAX_SECRET_LEN: usize = 4096;

/// A new random secret: 48 bytes, 64 URL-safe base64 characters.
pub fn generate_secret() -> String {
    let mut raw = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

/// Parse an ISO 8601 time as clients send it: with a zone (`Z`, `+02:00`)
/// or without one (taken as UTC), with or without fractional seconds.
/// Returns microseconds since the epoch.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

fn render(id: &Identity, c: &ApplicationCredential) -> Value {
    let roles: Vec<Role> = c
        .role_ids
        .iter()
        .filter_map(|r| id.store.get_role(r).ok())
        .collect();
    let rules = id
        .store
        .app_credential_access_rules(&c.id)
        .unwrap_or_default();
    views::app_credential(&id.config.public_url, c, &roles, &rules)
}

fn not_found(cred_id: &str) -> IdentityError {
    IdentityError::not_found("application credential", cred_id)
}

/// Owner or admin; everyone else is told the user does not exist.
fn may_see(caller: &AuthContext, user_id: &str) -> IdResult<()> {
    if caller.is_admin() || caller.user_id == user_id {
        Ok(())
    } else {
        Err(IdentityError::not_found("user", user_id))
    }
}

/// A token from a restricted credential may not manage credentials.
fn refuse_restricted(id: &Identity, caller: &AuthContext) -> IdResult<()> {
    if let Some(cred_id) = &caller.application_credential_id {
        let unrestricted = id
            .store
            .get_app_credential(cred_id)
            .map(|c| c.unrestricted)
            .unwrap_or(false);
        if !unrestricted {
            return Err(IdentityError::Forbidden(
                "A restricted application credential cannot be used to manage application credentials."
                    .into(),
            ));
        }
    }
    Ok(())
}

/// The role ids to delegate: each requested role must be one the caller
/// holds on the project; none requested means all of them.
fn delegated_roles(
    caller: &AuthContext,
    project_id: &str,
    requested: Option<Vec<RoleRefBody>>,
) -> IdResult<Vec<String>> {
    let requested = requested.unwrap_or_default();
    if requested.is_empty() {
        return Ok(caller.roles.iter().map(|r| r.id.clone()).collect());
    }
    let mut out: Vec<String> = Vec::new();
    for want in requested {
        let held = caller.roles.iter().find(|r| match (&want.id, &want.name) {
            (Some(i), _) => *i == r.id,
            (None, Some(n)) => *n == r.name,
            (None, None) => false,
        });
        let Some(held) = held else {
            let named = want.id.or(want.name).unwrap_or_default();
            return Err(IdentityError::BadRequest(format!(
                "Invalid application credential: the user holds no role {named} on project {project_id}."
            )));
        };
        if !out.contains(&held.id) {
            out.push(held.id.clone());
        }
    }
    Ok(out)
}

/// `POST /v3/users/{user_id}/application_credentials`: 201 with the secret, once.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
    Json(body): Json<AppCredentialBody>,
) -> IdResult<Response> {
    if caller.user_id != user_id {
        return Err(IdentityError::Forbidden(
            "Cannot create an application credential for another user.".into(),
        ));
    }
    refuse_restricted(&id, &caller)?;
    let project_id = caller.project_id().map(str::to_owned).ok_or_else(|| {
        IdentityError::BadRequest(
            "Application credentials are created with a project-scoped token.".into(),
        )
    })?;
    let f = body.application_credential;
    let name = require_name("application credential", f.name.as_ref())?;
    let rules = super::access_rules::requested(&id, &user_id, f.access_rules.as_deref())?;
    let expires_at = match f.expires_at.as_deref() {
        None => None,
        Some(s) => {
            let t = parse_iso8601(s).ok_or_else(|| {
                IdentityError::BadRequest(
                    "Invalid input for field 'expires_at': expected an ISO 8601 time.".into(),
                )
            })?;
            if t <= now_micros() {
                return Err(IdentityError::BadRequest(
                    "Invalid input for field 'expires_at': the time is in the past.".into(),
                ));
            }
            Some(t)
        }
    };
    let role_ids = delegated_roles(&caller, &project_id, f.roles)?;
    let secret = match f.secret {
        Some(s) if s.is_empty() || s.len() > MAX_SECRET_LEN => {
            return Err(IdentityError::BadRequest(format!(
                "Invalid input for field 'secret': 1 to {MAX_SECRET_LEN} characters."
            )))
        }
        Some(s) => s,
        None => generate_secret(),
    };
    let to_hash = secret.clone();
    let secret_hash = tokio::task::spawn_blocking(move || password::hash(&to_hash))
        .await
        .map_err(|e| IdentityError::internal(&e))?
        .map_err(|e| IdentityError::Internal(e.to_string()))?;
    let cred = ApplicationCredential {
        id: new_hex_id(),
        name,
        user_id,
        project_id,
        secret_hash,
        description: f.description.unwrap_or_default(),
        expires_at,
        unrestricted: f.unrestricted.unwrap_or(false),
        role_ids,
    };
    if rules.is_empty() {
        id.store.create_app_credential(&cred)?;
    } else {
        id.store.create_app_credential_with_rules(&cred, &rules)?;
    }
    tracing::info!(app_cred_id = %cred.id, user_id = %cred.user_id, "application credential created");
    let mut view = render(&id, &cred);
    view["secret"] = json!(secret);
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "application_credential": view })),
    )
        .into_response())
}

/// `GET /v3/users/{user_id}/application_credentials` with the `name` filter.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    may_see(&caller, &user_id)?;
    id.store.get_user(&user_id)?;
    let creds: Vec<Value> = id
        .store
        .list_app_credentials(&user_id)?
        .iter()
        .filter(|c| q.get("name").is_none_or(|n| *n == c.name))
        .map(|c| render(&id, c))
        .collect();
    Ok(axum::Json(json!({
        "application_credentials": creds,
        "links": views::collection_links(
            &id.config.public_url,
            &format!("/v3/users/{user_id}/application_credentials"),
        ),
    })))
}

fn owned(id: &Identity, user_id: &str, cred_id: &str) -> IdResult<ApplicationCredential> {
    match id.store.get_app_credential(cred_id) {
        Ok(c) if c.user_id == user_id => Ok(c),
        Ok(_) | Err(ferrostack_store::StoreError::NotFound { .. }) => Err(not_found(cred_id)),
        Err(e) => Err(e.into()),
    }
}

/// `GET /v3/users/{user_id}/application_credentials/{application_credential_id}`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path((user_id, cred_id)): Path<(String, String)>,
) -> IdResult<axum::Json<Value>> {
    may_see(&caller, &user_id)?;
    let cred = owned(&id, &user_id, &cred_id)?;
    Ok(axum::Json(
        json!({ "application_credential": render(&id, &cred) }),
    ))
}

/// `DELETE /v3/users/{user_id}/application_credentials/{application_credential_id}`:
/// tokens issued from it stop validating at once.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path((user_id, cred_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    may_see(&caller, &user_id)?;
    refuse_restricted(&id, &caller)?;
    owned(&id, &user_id, &cred_id)?;
    id.store.delete_app_credential(&cred_id)?;
    tracing::info!(app_cred_id = %cred_id, user_id, "application credential deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_parse_with_and_without_a_zone() {
        let utc = parse_iso8601("2030-01-02T03:04:05Z").unwrap();
        assert_eq!(parse_iso8601("2030-01-02T03:04:05"), Some(utc));
        assert_eq!(parse_iso8601("2030-01-02T03:04:05.000000"), Some(utc));
        assert_eq!(parse_iso8601("2030-01-02T05:04:05+02:00"), Some(utc));
        assert_eq!(parse_iso8601("2030-01-02T03:04:05.5Z"), Some(utc + 500_000));
        assert_eq!(parse_iso8601("tomorrow"), None);
        assert_eq!(parse_iso8601("2030-13-02T03:04:05"), None);
    }

    #[test]
    fn generated_secrets_are_64_url_safe_characters() {
        let s = generate_secret();
        assert_eq!(s.len(), 64);
        assert!(s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(s, generate_secret());
    }
}
