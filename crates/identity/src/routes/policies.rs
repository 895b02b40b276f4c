//! `/v3/policies`: policy documents Keystone stores for other services.
//!
//! Keystone keeps these blobs and their media type and enforces nothing
//! from them (its own rules come from its policy files, as ferrostack's
//! come from each service's route table); services that used to fetch
//! their policy from Keystone read them here. Admin only, as Keystone's
//! defaults say.

use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use ferrostack_common::ids::new_hex_id;
use ferrostack_identity_types::catalog_extras::PolicyBody;
use ferrostack_store::policies::PolicyDoc;
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

fn view(base: &str, p: &PolicyDoc) -> Value {
    let mut v = serde_json::Map::new();
    for (k, x) in &p.extra {
        v.insert(k.clone(), x.clone());
    }
    v.insert("id".into(), json!(p.id));
    v.insert("blob".into(), json!(p.blob));
    v.insert("type".into(), json!(p.kind));
    v.insert(
        "links".into(),
        json!({"self": format!("{base}/v3/policies/{}", p.id)}),
    );
    Value::Object(v)
}

fn one(id: &Identity, p: &PolicyDoc) -> axum::Json<Value> {
    axum::Json(json!({ "policy": view(&id.config.public_url, p) }))
}

fn required(field: &str, v: Option<String>) -> IdResult<String> {
    v.ok_or_else(|| {
        IdentityError::BadRequest(format!(
            "Invalid input for field '{field}': it is a required property."
        ))
    })
}

/// `POST /v3/policies`: `blob` and `type` are required.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Json(body): Json<PolicyBody>,
) -> IdResult<impl IntoResponse> {
    let f = body.policy;
    let p = PolicyDoc {
        id: new_hex_id(),
        blob: required("blob", f.blob)?,
        kind: required("type", f.kind)?,
        extra: f.extra,
    };
    id.store.create_policy(&p)?;
    tracing::info!(policy_id = %p.id, "policy created");
    Ok((StatusCode::CREATED, one(&id, &p)))
}

/// `GET /v3/policies`, filter `type`.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let base = &id.config.public_url;
    let policies: Vec<Value> = id
        .store
        .list_policies(q.get("type").map(String::as_str))?
        .iter()
        .map(|p| view(base, p))
        .collect();
    Ok(axum::Json(json!({
        "policies": policies,
        "links": crate::views::collection_links(base, "/v3/policies"),
    })))
}

/// `GET /v3/policies/{policy_id}`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Path(policy_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    Ok(one(&id, &id.store.get_policy(&policy_id)?))
}

/// `PATCH /v3/policies/{policy_id}`: given fields replace, extra
/// attributes merge.
pub async fn update(
    State(id): State<Arc<Identity>>,
    Path(policy_id): Path<String>,
    Json(body): Json<PolicyBody>,
) -> IdResult<axum::Json<Value>> {
    let mut p = id.store.get_policy(&policy_id)?;
    let f = body.policy;
    if f.id.as_ref().is_some_and(|i| *i != policy_id) {
        return Err(IdentityError::BadRequest(
            "Invalid input for field 'id': it cannot be changed.".into(),
        ));
    }
    if let Some(b) = f.blob {
        p.blob = b;
    }
    if let Some(k) = f.kind {
        p.kind = k;
    }
    p.extra.extend(f.extra);
    id.store.update_policy(&p)?;
    Ok(one(&id, &p))
}

/// `DELETE /v3/policies/{policy_id}`.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Path(policy_id): Path<String>,
) -> IdResult<StatusCode> {
    id.store.delete_policy(&policy_id)?;
    tracing::info!(policy_id, "policy deleted");
    Ok(StatusCode::NO_CONTENT)
}
