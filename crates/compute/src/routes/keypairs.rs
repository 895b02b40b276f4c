//! `/v2.1/os-keypairs`: list, show, create (import or generate), delete.
//!
//! Key pairs belong to a user, not a project: another user's key pair is
//! "not found". Admins reach other users' with `user_id` from 2.10 (a
//! non-admin naming someone else is refused with 403, as Nova's policy
//! does). Each key pair holds one `key_pairs` unit of quota, counted per
//! user against the caller's project's limit, as Nova counts them.
//!
//! Imported OpenSSH public keys (`ssh-rsa`, `ssh-ed25519`,
//! `ecdsa-sha2-*`, `ssh-dss`) are parsed, and their fingerprint is the
//! MD5 of the key blob in colon hex, which is what `ssh-keygen -l -E md5`
//! prints. x509 certificates (type `x509`, 2.2+) get Nova's SHA-1
//! fingerprint of the DER. Generated keys (before 2.92, when no
//! `public_key` is sent) are Ed25519 where Nova makes RSA-2048: quicker to
//! make and accepted by every current SSH server and cloud-init; the
//! private key is returned once and never stored. Generated x509
//! certificates are made in [`super::keypair_x509`].

use super::{next_link, paging, Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ferrostack_compute_types::keypair::{
    create_status, delete_status, shows_type, CreateKeyPairBody,
};
use ferrostack_compute_types::ApiVersion;
use ferrostack_policy::AuthContext;
use ferrostack_quota::{QuotaError, ResourceMap, COMPUTE};
use ferrostack_store::compute::KeyPair;
use http::StatusCode;
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn not_found(name: &str, user_id: &str) -> ComputeError {
    ComputeError::NotFound(format!("Keypair {name} not found for user {user_id}"))
}

fn invalid_keypair(reason: &str) -> ComputeError {
    ComputeError::BadRequest(format!("Keypair data is invalid: {reason}"))
}

/// Colon-separated lowercase hex, as Nova prints fingerprints.
fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Nova's fingerprint of an OpenSSH public key: MD5 of the key blob.
pub fn ssh_fingerprint(public_key: &str) -> ComputeResult<String> {
    let fail = || invalid_keypair("failed to generate fingerprint");
    let key = ssh_key::PublicKey::from_openssh(public_key.trim_end()).map_err(|_| fail())?;
    let supported = matches!(
        key.algorithm(),
        ssh_key::Algorithm::Rsa { .. }
            | ssh_key::Algorithm::Ed25519
            | ssh_key::Algorithm::Ecdsa { .. }
            | ssh_key::Algorithm::Dsa
    );
    if !supported {
        return Err(fail());
    }
    let blob = key.to_bytes().map_err(|_| fail())?;
    Ok(colon_hex(&Md5::digest(&blob)))
}

/// Nova's fingerprint of an x509 certificate (PEM): SHA-1 of the DER.
pub fn x509_fingerprint(pem: &str) -> ComputeResult<String> {
    let fail = || {
        invalid_keypair(
            "failed to generate X509 fingerprint. Error message: the certificate is not valid PEM",
        )
    };
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN CERTIFICATE-----")
        .and_then(|rest| rest.strip_suffix("-----END CERTIFICATE-----"))
        .ok_or_else(fail)?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| fail())?;
    // A certificate is one DER SEQUENCE spanning the whole buffer.
    if !der_sequence_spans(&der) {
        return Err(fail());
    }
    Ok(colon_hex(&sha1::Sha1::digest(&der)))
}

fn der_sequence_spans(der: &[u8]) -> bool {
    let (Some(&0x30), Some(&first)) = (der.first(), der.get(1)) else {
        return false;
    };
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || der.len() < 2 + n {
            return false;
        }
        let len = der[2..2 + n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, 2 + n)
    };
    header + len == der.len()
}

/// A fresh Ed25519 key: (private key in OpenSSH PEM, public key line, fingerprint).
fn generate() -> ComputeResult<(String, String, String)> {
    let mut key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .map_err(|e| ComputeError::Internal(format!("key generation failed: {e}")))?;
    key.set_comment("Generated-by-Nova");
    let private = key
        .to_openssh(ssh_key::LineEnding::LF)
        .map_err(|e| ComputeError::Internal(format!("key encoding failed: {e}")))?;
    let public = key
        .public_key()
        .to_openssh()
        .map_err(|e| ComputeError::Internal(format!("key encoding failed: {e}")))?;
    let fingerprint = ssh_fingerprint(&public)?;
    Ok((private.to_string(), public, fingerprint))
}

/// The user whose key pairs a request is about: the caller's own, or
/// (2.10+) `requested` when the caller is an admin.
fn target_user(
    caller: &AuthContext,
    v: ApiVersion,
    requested: Option<&str>,
    action: &str,
) -> ComputeResult<String> {
    match requested.filter(|_| v.at_least(10)) {
        Some(user) if user != caller.user_id => {
            if caller.is_admin() {
                Ok(user.to_string())
            } else {
                Err(ComputeError::Forbidden(format!(
                    "Policy doesn't allow os_compute_api:os-keypairs:{action} to be performed."
                )))
            }
        }
        _ => Ok(caller.user_id.clone()),
    }
}

fn consumer(k: &KeyPair) -> String {
    format!("keypair:{}:{}:{}", k.user_id, k.name, k.created_at)
}

fn summary(v: ApiVersion, k: &KeyPair) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(k.name));
    m.insert("public_key".into(), json!(k.public_key));
    m.insert("fingerprint".into(), json!(k.fingerprint));
    if shows_type(v) {
        m.insert("type".into(), json!(k.key_type));
    }
    m
}

/// `GET /v2.1/os-keypairs`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    q.check_known(v, &["user_id", "limit", "marker"])?;
    let user = target_user(&caller, v, q.get("user_id"), "index")?;
    let mut pairs = state.compute.list_key_pairs(&user)?;
    pairs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut body = Map::new();
    if v.at_least(35) {
        // Names are unique per user and sorted, so the marker's position
        // is where the names after it start.
        let page = paging(&q)?;
        pairs = page
            .apply(
                pairs,
                |k, m| k.name == m,
                |m| ComputeError::BadRequest(format!("Marker {m} could not be found.")),
            )?
            .items;
        if let Some(last) = pairs.last().filter(|_| page.is_full(pairs.len())) {
            body.insert(
                "keypairs_links".into(),
                next_link(&state, "os-keypairs", &q, page.limit, &last.name),
            );
        }
    }
    let items: Vec<Value> = pairs
        .iter()
        .map(|k| json!({"keypair": summary(v, k)}))
        .collect();
    body.insert("keypairs".into(), Value::Array(items));
    Ok(axum::Json(Value::Object(body)))
}

/// `GET /v2.1/os-keypairs/{keypair_name}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(name): Path<String>,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    q.check_known(v, &["user_id"])?;
    let user = target_user(&caller, v, q.get("user_id"), "show")?;
    let k = state
        .compute
        .get_key_pair(&user, &name)?
        .ok_or_else(|| not_found(&name, &user))?;
    let mut m = summary(v, &k);
    m.insert("user_id".into(), json!(k.user_id));
    m.insert("id".into(), json!(k.id));
    m.insert(
        "created_at".into(),
        json!(ferrostack_common::time::nova_time(k.created_at)),
    );
    m.insert("updated_at".into(), Value::Null);
    m.insert("deleted_at".into(), Value::Null);
    m.insert("deleted".into(), json!(false));
    Ok(axum::Json(json!({ "keypair": m })))
}

/// `DELETE /v2.1/os-keypairs/{keypair_name}`: 202 before 2.2, 204 after.
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(name): Path<String>,
    q: QueryPairs,
) -> ComputeResult<Response> {
    q.check_known(v, &["user_id"])?;
    let user = target_user(&caller, v, q.get("user_id"), "delete")?;
    let k = state
        .compute
        .get_key_pair(&user, &name)?
        .ok_or_else(|| not_found(&name, &user))?;
    if !state.compute.delete_key_pair(&user, &name)? {
        return Err(not_found(&name, &user));
    }
    state.quotas.release_for_user(&COMPUTE, &consumer(&k))?;
    tracing::info!(user_id = user, name, "key pair deleted");
    Ok(StatusCode::from_u16(delete_status(v))
        .unwrap_or(StatusCode::NO_CONTENT)
        .into_response())
}

/// `POST /v2.1/os-keypairs`: import or generate; 200 before 2.2, 201 after.
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Json(body): Json<CreateKeyPairBody>,
) -> ComputeResult<Response> {
    let req = body.checked(v)?;
    let user = target_user(&caller, v, req.user_id.as_deref(), "create")?;
    let (public_key, fingerprint, private_key) = match &req.public_key {
        Some(pk) => {
            let fp = if req.key_type == "x509" {
                x509_fingerprint(pk)?
            } else {
                ssh_fingerprint(pk)?
            };
            (pk.clone(), fp, None)
        }
        None if req.key_type == "x509" => {
            let (private, cert, fp) = super::keypair_x509::generate(&user)?;
            (cert, fp, Some(private))
        }
        None => {
            let (private, public, fp) = generate()?;
            (public, fp, Some(private))
        }
    };
    if state.compute.get_key_pair(&user, &req.name)?.is_some() {
        return Err(exists(&req.name));
    }
    let record = KeyPair {
        id: 0,
        user_id: user.clone(),
        name: req.name.clone(),
        key_type: req.key_type.clone(),
        public_key,
        fingerprint,
        created_at: ferrostack_common::time::now_micros(),
    };
    let project = caller.project_id().unwrap_or_default();
    let one = ResourceMap::from([("key_pairs".to_string(), 1)]);
    match state
        .quotas
        .reserve_for_user(&COMPUTE, project, &user, &consumer(&record), &one)
    {
        Ok(()) => {}
        Err(QuotaError::OverQuota(_)) => {
            return Err(ComputeError::Forbidden(
                "Quota exceeded, too many key pairs.".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let Some(stored) = state.compute.create_key_pair(&record)? else {
        // Lost a race with a create of the same name.
        state
            .quotas
            .release_for_user(&COMPUTE, &consumer(&record))?;
        return Err(exists(&req.name));
    };
    tracing::info!(user_id = user, name = stored.name, "key pair created");
    let mut m = summary(v, &stored);
    m.insert("user_id".into(), json!(stored.user_id));
    if let Some(private) = private_key {
        m.insert("private_key".into(), json!(private));
    }
    let status = StatusCode::from_u16(create_status(v)).unwrap_or(StatusCode::CREATED);
    Ok((status, axum::Json(json!({ "keypair": m }))).into_response())
}

fn exists(name: &str) -> ComputeError {
    ComputeError::Conflict(format!("Key pair '{name}' already exists."))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys made with `ssh-keygen` and what `ssh-keygen -l -E md5 -f` printed for them.
    const KNOWN: &[(&str, &str)] = &[
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOYqNB63LMemG1AwEE2HXt/r49qchkOVW0IqgznlqyBF test",
            "31:5a:f2:62:20:1a:bb:3e:59:06:13:00:30:3a:12:b0",
        ),
        (
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCuztcI4oI+aYPTsWWp1vDai5WhHoGl+if1tqIXwVbvBgdXcpQ1ddteQy/lz7mIufegAAkZ0Tp3euoX2UrB+JceUXA1qDbOWpY7Ts5iIo3SpoguvcvJyUXepfhIEujbWkNNh/bQpl26Ktrb+F0LZ+1sUR089fm+VqVkFhTNMTzdV9mHrLdFpTaKCh+b876PotvbWBfJ3qJJQz6Yq8sm81KxicJ74PxR8nyOvwMbMospB0jSBRKjAST2CAWVzetwCv5Sh0+Kut5vgr8jOaHR/Z8o0hx0jyHKKmcn2xerSNrfm6mJcfYHYkEe3ARFUII/iRqvez7+dwSQ0oMHH3NSOrBL rsa",
            "24:82:ca:ac:60:94:9e:ef:94:63:1f:13:ff:49:0f:02",
        ),
        (
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBMnRoJ52ES7xnH9AXmN6oMHo/yktPU1wTWsZmdZ2vGCz4ZquGajBPMaL07ngtgP4qBPESLp16Sdu4BloeFJSuko= ec",
            "33:28:16:4a:83:47:c0:db:fd:9f:03:5e:46:6e:72:e3",
        ),
    ];

    #[test]
    fn fingerprints_match_ssh_keygen_md5() {
        for (key, expected) in KNOWN {
            assert_eq!(ssh_fingerprint(key).unwrap(), *expected, "{key}");
        }
        // A trailing newline, as `cat id.pub` gives, changes nothing.
        let (key, expected) = KNOWN[0];
        assert_eq!(ssh_fingerprint(&format!("{key}\n")).unwrap(), expected);
    }

    #[test]
    fn garbage_keys_are_refused() {
        for bad in [
            "",
            "ssh-rsa",
            "ssh-rsa notbase64!",
            "hello world",
            "ssh-ed25519 AAAA",
        ] {
            assert!(ssh_fingerprint(bad).is_err(), "{bad:?}");
        }
        assert!(
            x509_fingerprint("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
                .is_err()
        );
    }

    #[test]
    fn a_generated_key_parses_back() {
        let (private, public, fp) = generate().unwrap();
        assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        assert!(public.starts_with("ssh-ed25519 "));
        assert_eq!(ssh_fingerprint(&public).unwrap(), fp);
    }
}
