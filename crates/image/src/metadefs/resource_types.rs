//! `/v2/metadefs/resource_types` and a namespace's resource type
//! associations (`/v2/metadefs/namespaces/{namespace}/resource_types`).
//! Associating a namespace with a resource type the catalog does not know
//! yet creates the resource type, as Glance does.

use super::{association_view, change, load, protected, validate};
use crate::error::{ImageError, ImageResult};
use crate::routes::Caller;
use crate::{ImageState, Json};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::time::{iso_seconds, now_micros};
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// `GET /v2/metadefs/resource_types`.
pub async fn list_types(
    State(state): State<Arc<ImageState>>,
    Caller(_caller): Caller,
) -> ImageResult<axum::Json<Value>> {
    let types: Vec<Value> = state
        .metadefs
        .list_resource_types()?
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "created_at": iso_seconds(t.created_at),
                "updated_at": iso_seconds(t.updated_at),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "resource_types": types })))
}

/// `GET .../namespaces/{namespace}/resource_types`.
pub async fn list(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(ns): Path<String>,
) -> ImageResult<axum::Json<Value>> {
    let namespace = load(&state, &caller, &ns)?;
    let list: Vec<Value> = namespace
        .body
        .resource_type_associations
        .iter()
        .map(association_view)
        .collect();
    Ok(axum::Json(json!({ "resource_type_associations": list })))
}

/// `POST .../namespaces/{namespace}/resource_types` (admin): 201.
pub async fn create(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(ns): Path<String>,
    Json(body): Json<Value>,
) -> ImageResult<Response> {
    let association = validate::association(&body, now_micros())?;
    change(&state, &caller, &ns, |namespace| {
        let list = &mut namespace.body.resource_type_associations;
        if list.iter().any(|a| a.name == association.name) {
            return Err(ImageError::Conflict(format!(
                "The metadata definition resource-type association of resource-type={} to namespace={ns} already exists.",
                association.name
            )));
        }
        list.push(association.clone());
        Ok(())
    })?;
    Ok((
        StatusCode::CREATED,
        axum::Json(association_view(&association)),
    )
        .into_response())
}

/// `DELETE .../namespaces/{namespace}/resource_types/{type}` (admin):
/// 204; in a protected namespace 403.
pub async fn delete(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> ImageResult<StatusCode> {
    change(&state, &caller, &ns, |namespace| {
        let list = &mut namespace.body.resource_type_associations;
        let at = list.iter().position(|a| a.name == name).ok_or_else(|| {
            ImageError::NotFound(format!(
                "The metadata definition resource-type association of resource-type={name} to namespace={ns}, was not found."
            ))
        })?;
        if namespace.protected {
            return Err(protected("resource-type-association", &name));
        }
        list.remove(at);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
