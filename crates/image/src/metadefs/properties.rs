//! `/v2/metadefs/namespaces/{namespace}/properties[/{property}]`: property
//! definitions by name.

use super::namespaces::clear_parts;
use super::validate::{self, NAME_MAX};
use super::{change, load, property_view, protected};
use crate::error::{ImageError, ImageResult};
use crate::routes::Caller;
use crate::{ImageState, Json};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

fn not_found(ns: &str, name: &str) -> ImageError {
    ImageError::NotFound(format!(
        "The metadata definition property with name={name} was not found in namespace={ns}."
    ))
}

fn duplicate(ns: &str, name: &str) -> ImageError {
    ImageError::Conflict(format!(
        "A metadata definition property with name={name} already exists in namespace={ns}."
    ))
}

/// A body's name and definition.
fn from_body(body: &Value) -> ImageResult<(String, Value)> {
    let map = validate::object_body(body)?;
    let name = validate::string(map, "name", NAME_MAX)?;
    let definition = validate::property(&name, body)?;
    Ok((name, definition))
}

/// `GET .../properties`: `{"properties": {name: definition}}`.
pub async fn list(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(ns): Path<String>,
) -> ImageResult<axum::Json<Value>> {
    let namespace = load(&state, &caller, &ns)?;
    Ok(axum::Json(
        json!({ "properties": namespace.body.properties }),
    ))
}

/// `POST .../properties` (admin): 201.
pub async fn create(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(ns): Path<String>,
    Json(body): Json<Value>,
) -> ImageResult<Response> {
    let (name, definition) = from_body(&body)?;
    change(&state, &caller, &ns, |namespace| {
        if namespace.body.properties.contains_key(&name) {
            return Err(duplicate(&ns, &name));
        }
        namespace
            .body
            .properties
            .insert(name.clone(), definition.clone());
        Ok(())
    })?;
    Ok((
        StatusCode::CREATED,
        axum::Json(property_view(&name, &definition)),
    )
        .into_response())
}

/// `GET .../properties/{property}`. A name may carry the prefix of one
/// of the namespace's resource type associations, as Glance accepts.
pub async fn show(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> ImageResult<axum::Json<Value>> {
    let namespace = load(&state, &caller, &ns)?;
    if let Some(d) = namespace.body.properties.get(&name) {
        return Ok(axum::Json(property_view(&name, d)));
    }
    for a in &namespace.body.resource_type_associations {
        let Some(prefix) = a.prefix.as_deref().filter(|p| !p.is_empty()) else {
            continue;
        };
        if let Some(bare) = name.strip_prefix(prefix) {
            if let Some(d) = namespace.body.properties.get(bare) {
                return Ok(axum::Json(property_view(&name, d)));
            }
        }
    }
    Err(not_found(&ns, &name))
}

/// `PUT .../properties/{property}` (admin): replaces it (a new `name`
/// renames).
pub async fn update(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((ns, name)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> ImageResult<axum::Json<Value>> {
    let (new_name, definition) = from_body(&body)?;
    change(&state, &caller, &ns, |namespace| {
        let props = &mut namespace.body.properties;
        if !props.contains_key(&name) {
            return Err(not_found(&ns, &name));
        }
        if new_name != name && props.contains_key(&new_name) {
            return Err(duplicate(&ns, &new_name));
        }
        props.remove(&name);
        props.insert(new_name.clone(), definition.clone());
        Ok(())
    })?;
    Ok(axum::Json(property_view(&new_name, &definition)))
}

/// `DELETE .../properties/{property}` (admin): 204; in a protected
/// namespace 403.
pub async fn delete(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> ImageResult<StatusCode> {
    change(&state, &caller, &ns, |namespace| {
        if !namespace.body.properties.contains_key(&name) {
            return Err(not_found(&ns, &name));
        }
        if namespace.protected {
            return Err(protected("property", &name));
        }
        namespace.body.properties.remove(&name);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE .../properties` (admin): every property; 204.
pub async fn delete_all(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(ns): Path<String>,
) -> ImageResult<StatusCode> {
    clear_parts(&state, &caller, &ns, |b| b.properties.clear())
}
