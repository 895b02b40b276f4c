//! `/v2/metadefs/namespaces/{namespace}/objects[/{object}]`.

use super::namespaces::clear_parts;
use super::{change, load, object_view, protected, validate};
use crate::error::{ImageError, ImageResult};
use crate::routes::Caller;
use crate::{ImageState, Json};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::time::now_micros;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

fn not_found(ns: &str, name: &str) -> ImageError {
    ImageError::NotFound(format!(
        "The metadata definition object with name={name} was not found in namespace={ns}."
    ))
}

fn duplicate(ns: &str, name: &str) -> ImageError {
    ImageError::Conflict(format!(
        "A metadata definition object with name={name} already exists in namespace={ns}."
    ))
}

/// `GET .../objects`.
pub async fn list(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(ns): Path<String>,
) -> ImageResult<axum::Json<Value>> {
    let namespace = load(&state, &caller, &ns)?;
    let objects: Vec<Value> = namespace
        .body
        .objects
        .iter()
        .map(|o| object_view(&ns, o))
        .collect();
    Ok(axum::Json(json!({
        "objects": objects,
        "schema": "v2/schemas/metadefs/objects",
    })))
}

/// `POST .../objects` (admin): 201.
pub async fn create(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(ns): Path<String>,
    Json(body): Json<Value>,
) -> ImageResult<Response> {
    let object = validate::object(&body, now_micros())?;
    change(&state, &caller, &ns, |namespace| {
        if namespace.body.objects.iter().any(|o| o.name == object.name) {
            return Err(duplicate(&ns, &object.name));
        }
        namespace.body.objects.push(object.clone());
        Ok(())
    })?;
    Ok((StatusCode::CREATED, axum::Json(object_view(&ns, &object))).into_response())
}

/// `GET .../objects/{object}`.
pub async fn show(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> ImageResult<axum::Json<Value>> {
    let namespace = load(&state, &caller, &ns)?;
    let object = namespace
        .body
        .objects
        .iter()
        .find(|o| o.name == name)
        .ok_or_else(|| not_found(&ns, &name))?;
    Ok(axum::Json(object_view(&ns, object)))
}

/// `PUT .../objects/{object}` (admin): replaces it (a new `name` renames).
pub async fn update(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((ns, name)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> ImageResult<axum::Json<Value>> {
    let new = validate::object(&body, now_micros())?;
    let mut result = None;
    change(&state, &caller, &ns, |namespace| {
        let objects = &mut namespace.body.objects;
        let at = objects
            .iter()
            .position(|o| o.name == name)
            .ok_or_else(|| not_found(&ns, &name))?;
        if new.name != name && objects.iter().any(|o| o.name == new.name) {
            return Err(duplicate(&ns, &new.name));
        }
        let mut object = new.clone();
        object.created_at = objects[at].created_at;
        objects[at] = object.clone();
        result = Some(object);
        Ok(())
    })?;
    let object = result.ok_or_else(|| not_found(&ns, &name))?;
    Ok(axum::Json(object_view(&ns, &object)))
}

/// `DELETE .../objects/{object}` (admin): 204; in a protected namespace 403.
pub async fn delete(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> ImageResult<StatusCode> {
    change(&state, &caller, &ns, |namespace| {
        let at = namespace
            .body
            .objects
            .iter()
            .position(|o| o.name == name)
            .ok_or_else(|| not_found(&ns, &name))?;
        if namespace.protected {
            return Err(protected("object", &name));
        }
        namespace.body.objects.remove(at);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE .../objects` (admin): every object; 204.
pub async fn delete_all(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(ns): Path<String>,
) -> ImageResult<StatusCode> {
    clear_parts(&state, &caller, &ns, |b| b.objects.clear())
}
