//! `/v3/credentials`: secrets Keystone keeps for other services (EC2 key
//! pairs, TOTP seeds, certificates), one owner each.
//!
//! As Keystone's default policy: the cloud admin sees and manages every
//! credential; anyone else only their own, and to them another user's
//! credential does not exist (404, where Keystone says 403: ferrostack's
//! rule for another owner's resources). Lists are narrowed the same way,
//! whatever `user_id` filter is asked.
//!
//! Blobs are sealed before they reach the store ([`crate::credentials`]).
//! An `ec2` credential's id is the SHA-256 of its access key, as Keystone
//! makes it, so `POST /v3/ec2tokens` finds it from the key alone
//! ([`super::ec2`]). A token issued from an EC2 credential cannot create
//! credentials, so a leaked EC2 secret cannot mint itself successors.

use super::Caller;
use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use crate::token::methods;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::ids::new_hex_id;
use ferrostack_common::time::now_micros;
use ferrostack_identity_types::catalog_extras::CredentialBody;
use ferrostack_policy::AuthContext;
use ferrostack_store::credential::Credential;
use http::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// The type of EC2 credentials.
pub const EC2: &str = "ec2";

/// Keystone's id for an EC2 access key: its SHA-256, in hex.
pub fn ec2_id(access: &str) -> String {
    hex::encode(Sha256::digest(access.as_bytes()))
}

fn not_found(cred_id: &str) -> IdentityError {
    IdentityError::not_found("credential", cred_id)
}

/// A credential with its blob opened.
pub struct Opened {
    /// The record.
    pub record: Credential,
    /// The blob in the clear.
    pub blob: String,
}

/// Seal and store a new credential.
pub fn store_new(id: &Identity, record: Credential, blob: &str) -> IdResult<Credential> {
    let sealed = id.seal_credential_blob(&record.id, blob)?;
    let record = Credential {
        sealed_blob: sealed,
        ..record
    };
    id.store.create_credential(&record)?;
    tracing::info!(credential_id = %record.id, user_id = %record.user_id, kind = %record.kind,
        "credential created");
    Ok(record)
}

/// A credential by id, opened.
pub fn load(id: &Identity, cred_id: &str) -> IdResult<Opened> {
    let record = id.store.get_credential(cred_id)?;
    let blob = id.open_credential_blob(&record.id, &record.sealed_blob)?;
    Ok(Opened { record, blob })
}

/// A token from an EC2 credential may not make credentials.
pub fn refuse_ec2_token(caller: &AuthContext) -> IdResult<()> {
    if caller
        .methods
        .iter()
        .any(|m| methods::names(methods::EC2_CREDENTIAL).contains(m))
    {
        return Err(IdentityError::Forbidden(
            "A token issued from an EC2 credential cannot create credentials.".into(),
        ));
    }
    Ok(())
}

fn render(base: &str, c: &Credential, blob: &str) -> Value {
    json!({
        "id": c.id,
        "user_id": c.user_id,
        "project_id": c.project_id,
        "type": c.kind,
        "blob": blob,
        "links": {"self": format!("{base}/v3/credentials/{}", c.id)},
    })
}

/// Owner or admin; to anyone else the credential does not exist.
fn visible(caller: &AuthContext, c: &Credential) -> IdResult<()> {
    if caller.is_admin() || caller.user_id == c.user_id {
        Ok(())
    } else {
        Err(not_found(&c.id))
    }
}

fn required(field: &str, v: Option<String>) -> IdResult<String> {
    v.filter(|s| !s.is_empty()).ok_or_else(|| {
        IdentityError::BadRequest(format!(
            "Invalid input for field '{field}': it is a required property."
        ))
    })
}

/// The access key of an `ec2` blob, which must be a JSON object naming one.
fn ec2_access(blob: &str) -> IdResult<(String, serde_json::Map<String, Value>)> {
    let parsed: Value = serde_json::from_str(blob)
        .map_err(|_| IdentityError::BadRequest("Invalid blob in credential".into()))?;
    let Value::Object(map) = parsed else {
        return Err(IdentityError::BadRequest(
            "Invalid input for field 'blob': an ec2 credential's blob is a JSON object.".into(),
        ));
    };
    match map.get("access") {
        Some(Value::String(a)) if !a.is_empty() => Ok((a.clone(), map)),
        _ => Err(IdentityError::BadRequest(
            "Invalid input for field 'access': an ec2 credential's blob names its access key."
                .into(),
        )),
    }
}

/// `POST /v3/credentials`.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Json(body): Json<CredentialBody>,
) -> IdResult<Response> {
    let f = body.credential;
    let user_id = required("user_id", f.user_id)?;
    let kind = required("type", f.kind)?;
    let mut blob = required("blob", f.blob)?;
    if !caller.is_admin() && caller.user_id != user_id {
        return Err(IdentityError::forbidden());
    }
    refuse_ec2_token(&caller)?;
    id.store.get_user(&user_id)?;
    if let Some(p) = &f.project_id {
        id.store.get_project(p)?;
    }
    let cred_id = if kind == EC2 {
        if f.project_id.is_none() {
            return Err(IdentityError::BadRequest(
                "Invalid input for field 'project_id': an ec2 credential needs a project.".into(),
            ));
        }
        let (access, mut map) = ec2_access(&blob)?;
        // A credential made with a trust-scoped token yields trust-scoped
        // tokens at ec2tokens, as in Keystone.
        if let Some(t) = &caller.trust_id {
            map.insert("trust_id".into(), json!(t));
            blob = Value::Object(map).to_string();
        }
        ec2_id(&access)
    } else {
        new_hex_id()
    };
    let record = Credential {
        id: cred_id,
        user_id,
        project_id: f.project_id,
        kind,
        sealed_blob: String::new(),
        created_at: now_micros(),
    };
    let record = store_new(&id, record, &blob)?;
    let view = render(&id.config.public_url, &record, &blob);
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "credential": view })),
    )
        .into_response())
}

/// `GET /v3/credentials`, filters `user_id` and `type`.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let mut user = q.get("user_id").cloned();
    if !caller.is_admin() {
        match &user {
            Some(u) if *u != caller.user_id => {
                return Ok(axum::Json(list_body(&id, Vec::new())));
            }
            _ => user = Some(caller.user_id.clone()),
        }
    }
    let records = id
        .store
        .list_credentials(user.as_deref(), q.get("type").map(String::as_str))?;
    let base = &id.config.public_url;
    let mut out = Vec::new();
    for r in records {
        let blob = id.open_credential_blob(&r.id, &r.sealed_blob)?;
        out.push(render(base, &r, &blob));
    }
    Ok(axum::Json(list_body(&id, out)))
}

fn list_body(id: &Identity, credentials: Vec<Value>) -> Value {
    json!({
        "credentials": credentials,
        "links": crate::views::collection_links(&id.config.public_url, "/v3/credentials"),
    })
}

/// `GET /v3/credentials/{credential_id}`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(cred_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    let c = load(&id, &cred_id)?;
    visible(&caller, &c.record)?;
    Ok(axum::Json(
        json!({"credential": render(&id.config.public_url, &c.record, &c.blob)}),
    ))
}

/// `PATCH /v3/credentials/{credential_id}`: only the blob changes; the
/// id, owner, project and type are fixed at creation (a different value
/// is refused, the same one accepted).
pub async fn update(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(cred_id): Path<String>,
    Json(body): Json<CredentialBody>,
) -> IdResult<axum::Json<Value>> {
    let c = load(&id, &cred_id)?;
    visible(&caller, &c.record)?;
    let f = body.credential;
    let fixed = [
        ("id", f.id.as_deref(), Some(c.record.id.as_str())),
        (
            "user_id",
            f.user_id.as_deref(),
            Some(c.record.user_id.as_str()),
        ),
        ("type", f.kind.as_deref(), Some(c.record.kind.as_str())),
        (
            "project_id",
            f.project_id.as_deref(),
            c.record.project_id.as_deref(),
        ),
    ];
    for (field, given, current) in fixed {
        if given.is_some() && given != current {
            return Err(IdentityError::BadRequest(format!(
                "Invalid input for field '{field}': a credential's {field} cannot be changed."
            )));
        }
    }
    let blob = match f.blob {
        Some(b) => {
            if c.record.kind == EC2 {
                ec2_access(&b)?;
            }
            let sealed = id.seal_credential_blob(&c.record.id, &b)?;
            id.store.update_credential_blob(&c.record.id, &sealed)?;
            b
        }
        None => c.blob,
    };
    Ok(axum::Json(
        json!({"credential": render(&id.config.public_url, &c.record, &blob)}),
    ))
}

/// `DELETE /v3/credentials/{credential_id}`.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(cred_id): Path<String>,
) -> IdResult<StatusCode> {
    let c = id.store.get_credential(&cred_id)?;
    visible(&caller, &c)?;
    id.store.delete_credential(&cred_id)?;
    tracing::info!(credential_id = %cred_id, "credential deleted");
    Ok(StatusCode::NO_CONTENT)
}
