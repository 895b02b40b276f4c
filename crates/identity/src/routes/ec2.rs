//! EC2 credentials: `/v3/users/{user_id}/credentials/OS-EC2[/{access}]`
//! and `POST /v3/ec2tokens`.
//!
//! An EC2 credential is a credential of type `ec2` ([`super::credentials`])
//! whose blob holds a random access key and secret; this API makes and
//! shows them in the legacy shape (`access`, `secret`, `tenant_id`) and
//! names them by access key. The user (or the admin) manages them; to
//! anyone else they do not exist.
//!
//! `ec2tokens` is how EC2-compatible front ends authenticate a signed
//! request they cannot check themselves: the access key finds the
//! credential, [`crate::ec2_signature`] recomputes the signature with its
//! secret, and a match gives a token scoped to the credential's project
//! (method `ec2credential`), after the same checks a password login makes
//! (user and project enabled, a role on the project) and Keystone's
//! timestamp check (a signed time older than 15 minutes is refused).
//! An unknown access key is 404, a wrong signature 401, as Keystone.

use super::credentials::{self, ec2_id, EC2};
use super::Caller;
use crate::ec2_signature::{self, SignedRequest};
use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use crate::token::{methods, TokenScope};
use crate::views;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;
use ferrostack_common::time::now_micros;
use ferrostack_identity_types::catalog_extras::Ec2CredentialBody;
use ferrostack_policy::AuthContext;
use ferrostack_store::credential::Credential;
use http::{HeaderValue, StatusCode};
use rand::RngCore;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// How old a signed timestamp may be (Keystone's `[credential] auth_ttl`).
const AUTH_TTL_MICROS: i64 = 15 * 60 * 1_000_000;

fn random_hex() -> String {
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    hex::encode(raw)
}

/// Self or admin; to anyone else the user does not exist.
fn may_manage(id: &Identity, caller: &AuthContext, user_id: &str) -> IdResult<()> {
    if !caller.is_admin() && caller.user_id != user_id {
        return Err(IdentityError::not_found("user", user_id));
    }
    id.store.get_user(user_id)?;
    Ok(())
}

fn blob_map(blob: &str) -> Map<String, Value> {
    serde_json::from_str(blob).unwrap_or_default()
}

fn render(base: &str, c: &Credential, blob: &Map<String, Value>) -> Value {
    let access = blob.get("access").cloned().unwrap_or(Value::Null);
    json!({
        "user_id": c.user_id,
        "tenant_id": c.project_id,
        "access": access,
        "secret": blob.get("secret").cloned().unwrap_or(Value::Null),
        "trust_id": blob.get("trust_id").cloned().unwrap_or(Value::Null),
        "links": {"self": format!(
            "{base}/v3/users/{}/credentials/OS-EC2/{}",
            c.user_id,
            access.as_str().unwrap_or_default()
        )},
    })
}

/// `POST /v3/users/{user_id}/credentials/OS-EC2`: a new access key and
/// secret for a project.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
    Json(body): Json<Ec2CredentialBody>,
) -> IdResult<Response> {
    may_manage(&id, &caller, &user_id)?;
    credentials::refuse_ec2_token(&caller)?;
    let project_id = body.tenant_id.ok_or_else(|| {
        IdentityError::BadRequest("Invalid input for field 'tenant_id': required.".into())
    })?;
    id.store.get_project(&project_id)?;
    let mut blob = Map::new();
    let access = random_hex();
    blob.insert("access".into(), json!(access));
    blob.insert("secret".into(), json!(random_hex()));
    blob.insert("trust_id".into(), json!(caller.trust_id));
    let record = Credential {
        id: ec2_id(&access),
        user_id,
        project_id: Some(project_id),
        kind: EC2.into(),
        sealed_blob: String::new(),
        created_at: now_micros(),
    };
    let record = credentials::store_new(&id, record, &Value::Object(blob.clone()).to_string())?;
    let view = render(&id.config.public_url, &record, &blob);
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "credential": view })),
    )
        .into_response())
}

/// `GET /v3/users/{user_id}/credentials/OS-EC2`.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    may_manage(&id, &caller, &user_id)?;
    let base = &id.config.public_url;
    let mut out = Vec::new();
    for r in id.store.list_credentials(Some(&user_id), Some(EC2))? {
        let blob = id.open_credential_blob(&r.id, &r.sealed_blob)?;
        out.push(render(base, &r, &blob_map(&blob)));
    }
    Ok(axum::Json(json!({
        "credentials": out,
        "links": views::collection_links(base, &format!("/v3/users/{user_id}/credentials/OS-EC2")),
    })))
}

/// The user's EC2 credential with this access key.
fn find(id: &Identity, user_id: &str, access: &str) -> IdResult<credentials::Opened> {
    let c = credentials::load(id, &ec2_id(access))?;
    if c.record.kind != EC2 || c.record.user_id != user_id {
        return Err(IdentityError::not_found("credential", access));
    }
    Ok(c)
}

/// `GET /v3/users/{user_id}/credentials/OS-EC2/{credential_id}` (the access key).
pub async fn show(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path((user_id, access)): Path<(String, String)>,
) -> IdResult<axum::Json<Value>> {
    may_manage(&id, &caller, &user_id)?;
    let c = find(&id, &user_id, &access)?;
    let view = render(&id.config.public_url, &c.record, &blob_map(&c.blob));
    Ok(axum::Json(json!({ "credential": view })))
}

/// `DELETE /v3/users/{user_id}/credentials/OS-EC2/{credential_id}`.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path((user_id, access)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    may_manage(&id, &caller, &user_id)?;
    let c = find(&id, &user_id, &access)?;
    id.store.delete_credential(&c.record.id)?;
    tracing::info!(credential_id = %c.record.id, "EC2 credential deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// A signed time as EC2 clients write it: ISO 8601 with or without a
/// zone, or version 4's basic `20261207T210000Z`. Microseconds since the epoch.
fn parse_signed_time(s: &str) -> Option<i64> {
    if let Some(t) = super::app_credentials::parse_iso8601(s) {
        return Some(t);
    }
    NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y%m%dT%H%M%S")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

/// `POST /v3/ec2tokens`: a token for a correctly signed request (200).
pub async fn ec2tokens(
    State(id): State<Arc<Identity>>,
    Json(body): Json<Value>,
) -> IdResult<Response> {
    let worker = id.clone();
    let (token, ctx) = tokio::task::spawn_blocking(move || authenticate(&worker, &body))
        .await
        .map_err(|e| IdentityError::internal(&e))??;
    let catalog = id.catalog_for(ctx.project_id())?;
    let mut body = views::token(&ctx, Some(&catalog), None);
    super::auth::add_trust(&id, &ctx, &mut body);
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        "x-subject-token",
        HeaderValue::from_str(&token).map_err(|e| IdentityError::internal(&e))?,
    );
    Ok(resp)
}

fn authenticate(id: &Identity, body: &Value) -> IdResult<(String, AuthContext)> {
    if body.as_object().is_none_or(Map::is_empty) {
        return Err(IdentityError::BadRequest(
            "request must include a request body".into(),
        ));
    }
    // Keystone reads any of the three names clients have used.
    let creds = ["credentials", "credential", "ec2Credentials"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_object))
        .cloned()
        .unwrap_or_default();
    let Some(access) = creds.get("access").and_then(Value::as_str) else {
        return Err(IdentityError::Unauthorized(
            "EC2 Signature not supplied".into(),
        ));
    };
    let key_not_found = || IdentityError::NotFound("EC2 access key not found.".into());
    let c = credentials::load(id, &ec2_id(access)).map_err(|e| match e {
        IdentityError::NotFound(_) => key_not_found(),
        other => other,
    })?;
    if c.record.kind != EC2 {
        return Err(key_not_found());
    }
    let blob = blob_map(&c.blob);
    let secret = blob.get("secret").and_then(Value::as_str).unwrap_or("");
    let Some(given) = creds
        .get("signature")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Err(IdentityError::Unauthorized(
            "EC2 signature not supplied.".into(),
        ));
    };
    let req = SignedRequest::from_json(&creds);
    let invalid = || IdentityError::Unauthorized("Invalid EC2 signature.".into());
    if !ec2_signature::verify(secret, &req, given).map_err(|_| invalid())? {
        tracing::info!(credential_id = %c.record.id, "EC2 signature refused");
        return Err(invalid());
    }
    let project_id = c.record.project_id.clone().ok_or_else(invalid)?;
    let user = id
        .store
        .get_user(&c.record.user_id)
        .map_err(|_| IdentityError::auth_required())?;
    let project = id
        .store
        .get_project(&project_id)
        .map_err(|_| IdentityError::auth_required())?;
    if !user.enabled || !project.enabled {
        return Err(IdentityError::auth_required());
    }
    if let Some(ts) = req.timestamp() {
        let t = parse_signed_time(ts).ok_or_else(|| {
            IdentityError::Unauthorized("Credential timestamp is invalid.".into())
        })?;
        if now_micros() > t + AUTH_TTL_MICROS {
            return Err(IdentityError::Unauthorized("Credential is expired".into()));
        }
    }
    if let Some(trust_id) = blob.get("trust_id").and_then(Value::as_str) {
        // The token names the trustee (the trustor if the trust impersonates).
        let t = crate::trusts::usable(id.store.as_ref(), trust_id)?;
        let trustee = id.store.get_user(&t.trustee_user_id)?;
        return super::auth::issue_for_trust(id, &trustee, methods::EC2_CREDENTIAL, None, trust_id);
    }
    let payload = id.new_payload(
        &user.id,
        methods::EC2_CREDENTIAL,
        TokenScope::Project(project.id),
    );
    let ctx = id.context_for(&payload).map_err(|e| match e {
        IdentityError::Internal(_) => e,
        _ => IdentityError::auth_required(),
    })?;
    if ctx.roles.is_empty() {
        return Err(IdentityError::Unauthorized(
            "User not valid for project.".into(),
        ));
    }
    let token = id.seal(&payload)?;
    tracing::info!(user_id = %ctx.user_id, credential_id = %c.record.id, "token issued from an EC2 credential");
    Ok((token, ctx))
}
