//! `/v2/metadefs/namespaces/{namespace}/tags[/{tag}]`: tag definitions,
//! one at a time or in bulk (`POST .../tags` replaces them all, or adds to
//! them with `X-Openstack-Append: true`). Names are unique in a namespace
//! without regard to case, as in Glance.

use super::namespaces::clear_parts;
use super::{change, load, protected, tag_view, validate};
use crate::error::{ImageError, ImageResult};
use crate::routes::Caller;
use crate::{ImageState, Json};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::time::now_micros;
use ferrostack_store::metadefs::MetaTag;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

fn not_found(ns: &str, name: &str) -> ImageError {
    ImageError::NotFound(format!(
        "The metadata definition tag with name={name} was not found in namespace={ns}."
    ))
}

fn duplicate(ns: &str, name: &str) -> ImageError {
    ImageError::Conflict(format!(
        "A metadata tag with name={name} already exists in namespace={ns}. \
         (Please note that metadata tag names are case insensitive)."
    ))
}

fn same(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// Add `tag` to `tags` unless a tag of that name (any case) is there: 409.
pub fn push_unique(tags: &mut Vec<MetaTag>, ns: &str, tag: MetaTag) -> ImageResult<()> {
    if tags.iter().any(|t| same(&t.name, &tag.name)) {
        return Err(duplicate(ns, &tag.name));
    }
    tags.push(tag);
    Ok(())
}

/// `GET .../tags`.
pub async fn list(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(ns): Path<String>,
) -> ImageResult<axum::Json<Value>> {
    let namespace = load(&state, &caller, &ns)?;
    let tags: Vec<Value> = namespace.body.tags.iter().map(tag_view).collect();
    Ok(axum::Json(json!({ "tags": tags })))
}

/// `POST .../tags` (admin): `{"tags": [{"name"}]}`; 201 with the names.
pub async fn create_many(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(ns): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> ImageResult<Response> {
    let append = headers
        .get("x-openstack-append")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            // As oslo's bool_from_string reads it.
            ["true", "1", "yes", "on", "y", "t"]
                .iter()
                .any(|t| v.trim().eq_ignore_ascii_case(t))
        });
    let map = validate::object_body(&body)?;
    let mut names = Vec::new();
    for t in validate::array(map, "tags")? {
        names.push(validate::tag_name(t)?);
    }
    let now = now_micros();
    change(&state, &caller, &ns, |namespace| {
        let tags = &mut namespace.body.tags;
        if !append {
            tags.clear();
        }
        for name in &names {
            let tag = MetaTag {
                name: name.clone(),
                created_at: now,
                updated_at: now,
            };
            push_unique(tags, &ns, tag)?;
        }
        Ok(())
    })?;
    let created: Vec<Value> = names.iter().map(|n| json!({ "name": n })).collect();
    Ok((StatusCode::CREATED, axum::Json(json!({ "tags": created }))).into_response())
}

/// `POST .../tags/{tag}` (admin): 201.
pub async fn create(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> ImageResult<Response> {
    if name.is_empty() || name.chars().count() > validate::NAME_MAX {
        return Err(ImageError::BadRequest(format!(
            "Invalid tag name '{name}'."
        )));
    }
    let now = now_micros();
    let tag = MetaTag {
        name: name.clone(),
        created_at: now,
        updated_at: now,
    };
    change(&state, &caller, &ns, |namespace| {
        push_unique(&mut namespace.body.tags, &ns, tag.clone())
    })?;
    Ok((StatusCode::CREATED, axum::Json(tag_view(&tag))).into_response())
}

/// `GET .../tags/{tag}`.
pub async fn show(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> ImageResult<axum::Json<Value>> {
    let namespace = load(&state, &caller, &ns)?;
    let tag = namespace
        .body
        .tags
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| not_found(&ns, &name))?;
    Ok(axum::Json(tag_view(tag)))
}

/// `PUT .../tags/{tag}` (admin): `{"name"}` renames it.
pub async fn update(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((ns, name)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> ImageResult<axum::Json<Value>> {
    let new_name = validate::tag_name(&body)?;
    let now = now_micros();
    let mut result = None;
    change(&state, &caller, &ns, |namespace| {
        let tags = &mut namespace.body.tags;
        let at = tags
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| not_found(&ns, &name))?;
        if tags
            .iter()
            .enumerate()
            .any(|(i, t)| i != at && same(&t.name, &new_name))
        {
            return Err(duplicate(&ns, &new_name));
        }
        tags[at].name = new_name.clone();
        tags[at].updated_at = now;
        result = Some(tags[at].clone());
        Ok(())
    })?;
    let tag = result.ok_or_else(|| not_found(&ns, &name))?;
    Ok(axum::Json(tag_view(&tag)))
}

/// `DELETE .../tags/{tag}` (admin): 204; in a protected namespace 403.
pub async fn delete(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> ImageResult<StatusCode> {
    change(&state, &caller, &ns, |namespace| {
        let at = namespace
            .body
            .tags
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| not_found(&ns, &name))?;
        if namespace.protected {
            return Err(protected("tag", &name));
        }
        namespace.body.tags.remove(at);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE .../tags` (admin): every tag; 204.
pub async fn delete_all(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(ns): Path<String>,
) -> ImageResult<StatusCode> {
    clear_parts(&state, &caller, &ns, |b| b.tags.clear())
}
