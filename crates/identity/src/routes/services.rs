//! `/v3/services`: the catalog's services.
//!
//! A service is a type (`compute`) and a name (`nova`); its endpoints hang
//! off it and go with it when it is deleted. Disabled services stay listed
//! here but drop out of the catalog tokens carry ([`crate::catalog`]).

use super::parse_bool;
use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use crate::views;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use ferrostack_common::ids::new_hex_id;
use ferrostack_identity_types::resources::ServiceBody;
use ferrostack_store::identity::{ListFilter, Service};
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

fn service_json(id: &Identity, s: &Service) -> axum::Json<Value> {
    axum::Json(json!({ "service": views::service(&id.config.public_url, s) }))
}

fn check_type(t: &str) -> IdResult<String> {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > 255 {
        return Err(IdentityError::BadRequest(
            "Invalid input for field 'type': 1 to 255 characters.".into(),
        ));
    }
    Ok(t.to_string())
}

/// `POST /v3/services`: `type` is required.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Json(body): Json<ServiceBody>,
) -> IdResult<impl IntoResponse> {
    let f = body.service;
    let service_type = match &f.service_type {
        Some(t) => check_type(t)?,
        None => {
            return Err(IdentityError::BadRequest(
                "Invalid input for field 'type': a service needs a type.".into(),
            ))
        }
    };
    let service = Service {
        id: new_hex_id(),
        service_type,
        name: f.name.unwrap_or_default(),
        description: f.description.unwrap_or_default(),
        enabled: f.enabled.unwrap_or(true),
        extra: f.extra,
    };
    id.store.create_service(&service)?;
    tracing::info!(service_id = %service.id, service_type = %service.service_type, "service created");
    Ok((StatusCode::CREATED, service_json(&id, &service)))
}

/// `GET /v3/services` with `type`, `name` and `enabled` filters.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let enabled = q
        .get("enabled")
        .map(|v| parse_bool("enabled", v))
        .transpose()?;
    let services: Vec<Service> = id
        .store
        .list_services(&ListFilter {
            name: q.get("name").cloned(),
            ..Default::default()
        })?
        .into_iter()
        .filter(|s| q.get("type").is_none_or(|t| *t == s.service_type))
        .filter(|s| enabled.is_none_or(|e| e == s.enabled))
        .collect();
    let base = &id.config.public_url;
    Ok(axum::Json(json!({
        "services": services.iter().map(|s| views::service(base, s)).collect::<Vec<_>>(),
        "links": views::collection_links(base, "/v3/services"),
    })))
}

/// `GET /v3/services/{service_id}`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Path(service_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    Ok(service_json(&id, &id.store.get_service(&service_id)?))
}

/// `PATCH /v3/services/{service_id}`.
pub async fn update(
    State(id): State<Arc<Identity>>,
    Path(service_id): Path<String>,
    Json(body): Json<ServiceBody>,
) -> IdResult<axum::Json<Value>> {
    let f = body.service;
    let mut service = id.store.get_service(&service_id)?;
    if let Some(t) = &f.service_type {
        service.service_type = check_type(t)?;
    }
    if let Some(n) = f.name {
        service.name = n;
    }
    if let Some(d) = f.description {
        service.description = d;
    }
    if let Some(e) = f.enabled {
        service.enabled = e;
    }
    for (k, v) in f.extra {
        service.extra.insert(k, v);
    }
    id.store.update_service(&service)?;
    Ok(service_json(&id, &service))
}

/// `DELETE /v3/services/{service_id}`: its endpoints go too.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Path(service_id): Path<String>,
) -> IdResult<StatusCode> {
    id.store.delete_service(&service_id)?;
    tracing::info!(service_id, "service deleted");
    Ok(StatusCode::NO_CONTENT)
}
