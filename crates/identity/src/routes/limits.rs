//! Keystone's unified limits: `/v3/registered_limits` (a service's default
//! for a resource), `/v3/limits` (a project's or domain's own limit of a
//! registered resource) and `/v3/limits/model` (`flat`: the project tree
//! is not considered, as Keystone's default model).
//!
//! Writes are the admin's; registered limits are readable by any
//! authenticated caller; limits by the admin, or by a caller scoped to the
//! project or domain they limit (others' are 404, and left out of lists).
//! Creates take lists and store all or nothing. Keystone's rules: a limit
//! needs a registered limit (403), a registered limit with limits cannot
//! change what it registers nor be deleted (403), duplicates 409, a
//! service, region, project or domain that does not exist 400.

use super::Caller;
use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use ferrostack_common::ids::new_hex_id;
use ferrostack_policy::{AuthContext, Scope};
use ferrostack_store::unified_limit::{Limit, LimitFilter, RegisteredLimit, NO_REGISTERED_LIMIT};
use ferrostack_store::StoreError;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

mod fields;
use fields::Fields;

fn registered_view(base: &str, r: &RegisteredLimit) -> Value {
    json!({
        "id": r.id,
        "service_id": r.service_id,
        "region_id": r.region_id,
        "resource_name": r.resource_name,
        "default_limit": r.default_limit,
        "description": r.description,
        "links": {"self": format!("{base}/v3/registered_limits/{}", r.id)},
    })
}

fn limit_view(base: &str, l: &Limit) -> Value {
    json!({
        "id": l.id,
        "service_id": l.service_id,
        "region_id": l.region_id,
        "resource_name": l.resource_name,
        "project_id": l.project_id,
        "domain_id": l.domain_id,
        "resource_limit": l.resource_limit,
        "description": l.description,
        "links": {"self": format!("{base}/v3/limits/{}", l.id)},
    })
}

/// The objects of a create's list (`registered_limits` or `limits`).
fn batch(body: &Value, key: &str) -> IdResult<Vec<Map<String, Value>>> {
    let items = body.get(key).and_then(Value::as_array).ok_or_else(|| {
        IdentityError::BadRequest(format!(
            "Invalid input for field '{key}': a list of objects is required."
        ))
    })?;
    if items.is_empty() {
        return Err(IdentityError::BadRequest(format!(
            "Invalid input for field '{key}': the list is empty."
        )));
    }
    items
        .iter()
        .map(|i| {
            i.as_object().cloned().ok_or_else(|| {
                IdentityError::BadRequest(format!(
                    "Invalid input for field '{key}': each item must be an object."
                ))
            })
        })
        .collect()
}

/// The object under `key` of an update.
fn single(body: &Value, key: &str) -> IdResult<Map<String, Value>> {
    body.get(key)
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| {
            IdentityError::BadRequest(format!(
                "Invalid input for field '{key}': an object is required."
            ))
        })
}

fn check_service_region(id: &Identity, service_id: &str, region_id: Option<&str>) -> IdResult<()> {
    if id.store.get_service(service_id).is_err() {
        return Err(IdentityError::BadRequest(format!(
            "Invalid input for field 'service_id': service {service_id} does not exist."
        )));
    }
    if let Some(r) = region_id {
        if id.store.get_region(r).is_err() {
            return Err(IdentityError::BadRequest(format!(
                "Invalid input for field 'region_id': region {r} does not exist."
            )));
        }
    }
    Ok(())
}

/// A store refusal of Keystone's `RegisteredLimitError`/`NoLimitReference`: 403.
fn forbidden_rule(e: StoreError) -> IdentityError {
    match e {
        StoreError::Invalid(m) => IdentityError::Forbidden(m),
        StoreError::NotFound { kind, .. } if kind == NO_REGISTERED_LIMIT => {
            IdentityError::Forbidden(
                "Unable to create a limit that has no corresponding registered limit.".into(),
            )
        }
        other => other.into(),
    }
}

/// `GET /v3/limits/model`.
pub async fn model() -> axum::Json<Value> {
    axum::Json(json!({"model": {
        "name": "flat",
        "description": "Limit enforcement and validation does not take project hierarchy into consideration.",
    }}))
}

/// `POST /v3/registered_limits`.
pub async fn create_registered(
    State(id): State<Arc<Identity>>,
    Json(body): Json<Value>,
) -> IdResult<impl IntoResponse> {
    let mut made = Vec::new();
    for item in batch(&body, "registered_limits")? {
        let f = Fields::new(
            item,
            &[
                "service_id",
                "region_id",
                "resource_name",
                "default_limit",
                "description",
            ],
        )?;
        let r = RegisteredLimit {
            id: new_hex_id(),
            service_id: f.required_str("service_id")?,
            region_id: f.opt_str("region_id")?,
            resource_name: f.resource_name()?,
            default_limit: f.required_limit("default_limit")?,
            description: f.opt_str("description")?,
        };
        check_service_region(&id, &r.service_id, r.region_id.as_deref())?;
        made.push(r);
    }
    id.store.create_registered_limits(&made)?;
    let base = &id.config.public_url;
    Ok((
        StatusCode::CREATED,
        axum::Json(
            json!({"registered_limits": made.iter().map(|r| registered_view(base, r)).collect::<Vec<_>>()}),
        ),
    ))
}

fn filter(q: &HashMap<String, String>) -> LimitFilter {
    LimitFilter {
        service_id: q.get("service_id").cloned(),
        region_id: q.get("region_id").cloned(),
        resource_name: q.get("resource_name").cloned(),
        project_id: q.get("project_id").cloned(),
        domain_id: q.get("domain_id").cloned(),
    }
}

/// `GET /v3/registered_limits`: filters `service_id`, `region_id`, `resource_name`.
pub async fn list_registered(
    State(id): State<Arc<Identity>>,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let base = &id.config.public_url;
    let all = id.store.list_registered_limits(&filter(&q))?;
    Ok(axum::Json(json!({
        "registered_limits": all.iter().map(|r| registered_view(base, r)).collect::<Vec<_>>(),
        "links": crate::views::collection_links(base, "/v3/registered_limits"),
    })))
}

/// `GET /v3/registered_limits/{id}`.
pub async fn show_registered(
    State(id): State<Arc<Identity>>,
    Path(rid): Path<String>,
) -> IdResult<axum::Json<Value>> {
    let r = id.store.get_registered_limit(&rid)?;
    Ok(axum::Json(
        json!({"registered_limit": registered_view(&id.config.public_url, &r)}),
    ))
}

/// `PATCH /v3/registered_limits/{id}`.
pub async fn update_registered(
    State(id): State<Arc<Identity>>,
    Path(rid): Path<String>,
    Json(body): Json<Value>,
) -> IdResult<axum::Json<Value>> {
    let f = Fields::new(
        single(&body, "registered_limit")?,
        &[
            "service_id",
            "region_id",
            "resource_name",
            "default_limit",
            "description",
        ],
    )?;
    let mut r = id.store.get_registered_limit(&rid)?;
    if f.has("service_id") {
        r.service_id = f.required_str("service_id")?;
    }
    if f.has("region_id") {
        r.region_id = f.opt_str("region_id")?;
    }
    if f.has("resource_name") {
        r.resource_name = f.resource_name()?;
    }
    if f.has("default_limit") {
        r.default_limit = f.required_limit("default_limit")?;
    }
    if f.has("description") {
        r.description = f.opt_str("description")?;
    }
    check_service_region(&id, &r.service_id, r.region_id.as_deref())?;
    id.store
        .update_registered_limit(&r)
        .map_err(forbidden_rule)?;
    Ok(axum::Json(
        json!({"registered_limit": registered_view(&id.config.public_url, &r)}),
    ))
}

/// `DELETE /v3/registered_limits/{id}`.
pub async fn delete_registered(
    State(id): State<Arc<Identity>>,
    Path(rid): Path<String>,
) -> IdResult<StatusCode> {
    id.store
        .delete_registered_limit(&rid)
        .map_err(forbidden_rule)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v3/limits`.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Json(body): Json<Value>,
) -> IdResult<impl IntoResponse> {
    let mut made = Vec::new();
    for item in batch(&body, "limits")? {
        let f = Fields::new(
            item,
            &[
                "service_id",
                "region_id",
                "resource_name",
                "resource_limit",
                "description",
                "project_id",
                "domain_id",
            ],
        )?;
        let l = Limit {
            id: new_hex_id(),
            service_id: f.required_str("service_id")?,
            region_id: f.opt_str("region_id")?,
            resource_name: f.resource_name()?,
            project_id: f.opt_str("project_id")?,
            domain_id: f.opt_str("domain_id")?,
            resource_limit: f.required_limit("resource_limit")?,
            description: f.opt_str("description")?,
        };
        check_service_region(&id, &l.service_id, l.region_id.as_deref())?;
        match (&l.project_id, &l.domain_id) {
            (Some(p), None) if id.store.get_project(p).is_ok() => {}
            (None, Some(d)) if id.store.get_domain(d).is_ok() => {}
            (Some(_), None) | (None, Some(_)) => {
                return Err(IdentityError::BadRequest(
                    "Invalid input for field 'project_id' or 'domain_id': it does not exist."
                        .into(),
                ))
            }
            _ => return Err(IdentityError::BadRequest(
                "Invalid input for field 'limits': a limit has either a project_id or a domain_id."
                    .into(),
            )),
        }
        made.push(l);
    }
    id.store.create_limits(&made).map_err(forbidden_rule)?;
    let base = &id.config.public_url;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"limits": made.iter().map(|l| limit_view(base, l)).collect::<Vec<_>>()})),
    ))
}

/// May `caller` see `l`? The admin any; others their scope's own.
fn visible(caller: &AuthContext, l: &Limit) -> bool {
    if caller.is_admin() {
        return true;
    }
    match &caller.scope {
        Scope::Project { id, .. } => l.project_id.as_deref() == Some(id.as_str()),
        Scope::Domain { id, .. } => l.domain_id.as_deref() == Some(id.as_str()),
        _ => false,
    }
}

/// `GET /v3/limits`: filters `service_id`, `region_id`, `resource_name`,
/// `project_id`, `domain_id`; only what the caller may see.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let base = &id.config.public_url;
    let all = id.store.list_limits(&filter(&q))?;
    Ok(axum::Json(json!({
        "limits": all.iter().filter(|l| visible(&caller, l)).map(|l| limit_view(base, l)).collect::<Vec<_>>(),
        "links": crate::views::collection_links(base, "/v3/limits"),
    })))
}

fn visible_limit(id: &Identity, caller: &AuthContext, lid: &str) -> IdResult<Limit> {
    let l = id.store.get_limit(lid)?;
    if !visible(caller, &l) {
        return Err(IdentityError::not_found("limit", lid));
    }
    Ok(l)
}

/// `GET /v3/limits/{id}`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(lid): Path<String>,
) -> IdResult<axum::Json<Value>> {
    let l = visible_limit(&id, &caller, &lid)?;
    Ok(axum::Json(
        json!({"limit": limit_view(&id.config.public_url, &l)}),
    ))
}

/// `PATCH /v3/limits/{id}`: `resource_limit` and `description` only.
pub async fn update(
    State(id): State<Arc<Identity>>,
    Path(lid): Path<String>,
    Json(body): Json<Value>,
) -> IdResult<axum::Json<Value>> {
    let f = Fields::new(single(&body, "limit")?, &["resource_limit", "description"])?;
    let mut l = id.store.get_limit(&lid)?;
    if f.has("resource_limit") {
        l.resource_limit = f.required_limit("resource_limit")?;
    }
    if f.has("description") {
        l.description = f.opt_str("description")?;
    }
    id.store.update_limit(&l)?;
    Ok(axum::Json(
        json!({"limit": limit_view(&id.config.public_url, &l)}),
    ))
}

/// `DELETE /v3/limits/{id}`.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Path(lid): Path<String>,
) -> IdResult<StatusCode> {
    id.store.delete_limit(&lid)?;
    Ok(StatusCode::NO_CONTENT)
}
