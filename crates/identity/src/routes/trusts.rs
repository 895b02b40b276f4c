//! `/v3/OS-TRUST/trusts`: create, list, show and delete trusts, and read
//! the roles they delegate. The rules are in [`crate::trusts`]; who may see
//! what follows Keystone's default policy: the trustor and the trustee see
//! a trust, the trustor (or an admin) deletes it, only an admin lists every
//! trust, and a user lists the trusts where they are trustor or trustee.

use super::Caller;
use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use crate::trusts;
use crate::views;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use ferrostack_identity_types::resources::TrustCreateBody;
use ferrostack_policy::AuthContext;
use ferrostack_store::identity::Role;
use ferrostack_store::trust::Trust;
use ferrostack_store::StoreError;
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The trust's roles that still exist (a deleted role is simply no longer
/// delegated, as in Keystone).
fn roles_of(id: &Identity, t: &Trust) -> IdResult<Vec<Role>> {
    let mut roles = Vec::new();
    for r in &t.role_ids {
        match id.store.get_role(r) {
            Ok(role) => roles.push(role),
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(roles)
}

fn render(id: &Identity, t: &Trust) -> IdResult<Value> {
    let roles = roles_of(id, t)?;
    Ok(json!({"trust": views::trust(&id.config.public_url, t, Some(&roles))}))
}

/// A restricted application credential may not manage trusts (it could
/// otherwise hand on more than it was given).
fn refuse_restricted(id: &Identity, caller: &AuthContext) -> IdResult<()> {
    if let Some(cred_id) = &caller.application_credential_id {
        let unrestricted = id
            .store
            .get_app_credential(cred_id)
            .map(|c| c.unrestricted)
            .unwrap_or(false);
        if !unrestricted {
            return Err(IdentityError::Forbidden(
                "Using method 'application_credential' is not allowed for managing trusts.".into(),
            ));
        }
    }
    Ok(())
}

/// The trust, for a caller who is its trustor or trustee (or an admin).
/// A missing trust is 404 before anyone's relation to it is asked.
fn visible(id: &Identity, caller: &AuthContext, trust_id: &str) -> IdResult<Trust> {
    let t = trusts::usable(id.store.as_ref(), trust_id)?;
    if caller.is_admin()
        || caller.user_id == t.trustor_user_id
        || caller.user_id == t.trustee_user_id
    {
        Ok(t)
    } else {
        Err(IdentityError::Forbidden(
            "You are not authorized to perform the requested action: Requested user has no relation to this trust".into(),
        ))
    }
}

/// `POST /v3/OS-TRUST/trusts`.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Json(body): Json<TrustCreateBody>,
) -> IdResult<impl IntoResponse> {
    refuse_restricted(&id, &caller)?;
    let t = trusts::build(id.store.as_ref(), &caller, body.trust)?;
    id.store.create_trust(&t)?;
    tracing::info!(trust_id = %t.id, trustor = %t.trustor_user_id, trustee = %t.trustee_user_id, "trust created");
    Ok((StatusCode::CREATED, axum::Json(render(&id, &t)?)))
}

/// `GET /v3/OS-TRUST/trusts`, optionally `?trustor_user_id=` or `?trustee_user_id=`.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let trustor = q.get("trustor_user_id");
    let trustee = q.get("trustee_user_id");
    let allowed = caller.is_admin()
        || match (trustor, trustee) {
            (Some(u), _) => *u == caller.user_id,
            (None, Some(u)) => *u == caller.user_id,
            (None, None) => false,
        };
    if !allowed {
        return Err(IdentityError::forbidden());
    }
    let now = ferrostack_common::time::now_micros();
    let base = &id.config.public_url;
    let found: Vec<Value> = id
        .store
        .list_trusts(trustor.map(String::as_str), trustee.map(String::as_str))?
        .iter()
        .filter(|t| !trusts::is_spent(t, now))
        .map(|t| views::trust(base, t, None))
        .collect();
    Ok(axum::Json(json!({
        "trusts": found,
        "links": views::collection_links(base, "/v3/OS-TRUST/trusts"),
    })))
}

/// `GET /v3/OS-TRUST/trusts/{trust_id}`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(trust_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    let t = visible(&id, &caller, &trust_id)?;
    Ok(axum::Json(render(&id, &t)?))
}

/// `DELETE /v3/OS-TRUST/trusts/{trust_id}`: the trust, the trusts
/// redelegated from it, and with them every token they gave.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(trust_id): Path<String>,
) -> IdResult<StatusCode> {
    let t = trusts::usable(id.store.as_ref(), &trust_id)?;
    if !caller.is_admin() && caller.user_id != t.trustor_user_id {
        return Err(IdentityError::Forbidden(
            "You are not authorized to perform the requested action: Only admin or trustor can delete a trust".into(),
        ));
    }
    refuse_restricted(&id, &caller)?;
    id.store.delete_trust(&trust_id)?;
    tracing::info!(trust_id = %trust_id, "trust deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v3/OS-TRUST/trusts/{trust_id}/roles`.
pub async fn list_roles(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(trust_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    let t = visible(&id, &caller, &trust_id)?;
    let base = &id.config.public_url;
    Ok(axum::Json(json!({
        "roles": roles_of(&id, &t)?.iter().map(|r| views::role(base, r)).collect::<Vec<_>>(),
        "links": views::collection_links(base, &format!("/v3/OS-TRUST/trusts/{trust_id}/roles")),
    })))
}

/// `GET/HEAD /v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}`.
pub async fn show_role(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path((trust_id, role_id)): Path<(String, String)>,
) -> IdResult<axum::Json<Value>> {
    let t = visible(&id, &caller, &trust_id)?;
    let role = roles_of(&id, &t)?
        .into_iter()
        .find(|r| r.id == role_id)
        .ok_or_else(|| IdentityError::not_found("role", &role_id))?;
    Ok(axum::Json(
        json!({"role": views::role(&id.config.public_url, &role)}),
    ))
}
