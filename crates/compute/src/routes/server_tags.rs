//! `/v2.1/servers/{id}/tags[/{tag}]` (2.26+; 404 below) and
//! `/v2.1/servers/{id}/os-server-password`.
//!
//! Tags live in the server's record (the same list a 2.52 create sets
//! and the 2.26 view shows): at most 50, each 1-60 characters without
//! `/` or `,`, as Nova's; a server still building cannot be tagged (409).
//!
//! The password API answers what Nova answers for a server whose guest
//! never posted an encrypted password to the metadata service: an empty
//! one (this cloud's metadata service serves `password` empty and keeps
//! none), and a delete that leaves it empty.

use super::Caller;
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::servers::lifecycle::{from_store, to_store};
use crate::servers::{self, doc, set_doc, vm};
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_compute_types::body::python_repr;
use ferrostack_compute_types::ApiVersion;
use ferrostack_policy::AuthContext;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// Nova's `MAX_TAG_COUNT`.
const MAX_TAGS: usize = 50;

fn gone_below(v: ApiVersion) -> ComputeResult<()> {
    if !v.at_least(26) {
        return Err(ComputeError::NotFound(
            "The resource could not be found.".into(),
        ));
    }
    Ok(())
}

fn check_tag(t: &Value) -> ComputeResult<String> {
    t.as_str()
        .filter(|s| !s.is_empty() && s.chars().count() <= 60 && !s.contains(['/', ',']))
        .map(str::to_string)
        .ok_or_else(|| {
            ComputeError::BadRequest(format!(
                "Invalid input for field/attribute tags. Value: {}. is not a valid tag",
                python_repr(t)
            ))
        })
}

fn too_many() -> ComputeError {
    ComputeError::BadRequest(format!(
        "The number of tags exceeded the per-server limit {MAX_TAGS}"
    ))
}

/// Changes the tags of server `id` with `f`; a building server is 409.
fn change(
    state: &ComputeState,
    caller: &AuthContext,
    id: &str,
    mut f: impl FnMut(&mut Vec<String>) -> ComputeResult<()>,
) -> ComputeResult<Vec<String>> {
    servers::find(state, caller, id, false)?;
    let i = state
        .servers
        .modify_instance(id, &mut |row| {
            if row.vm_state == vm::BUILDING {
                return Err(to_store(ComputeError::Conflict(format!(
                    "Cannot 'update tags' instance {id} while it is in vm_state building"
                ))));
            }
            let mut d = doc(row).map_err(to_store)?;
            f(&mut d.tags).map_err(to_store)?;
            set_doc(row, &d).map_err(to_store)
        })
        .map_err(from_store)?;
    Ok(doc(&i)?.tags)
}

/// `GET /servers/{id}/tags`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    gone_below(v)?;
    let i = servers::find(&state, &caller, &id, false)?;
    Ok(axum::Json(json!({ "tags": doc(&i)?.tags })))
}

/// `PUT /servers/{id}/tags`: `{"tags": [...]}` replaces them all.
pub async fn replace(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    gone_below(v)?;
    let Some(Value::Array(sent)) = body.get("tags") else {
        return Err(ComputeError::BadRequest(
            "Invalid input for field/attribute tags. 'tags' is a required property".into(),
        ));
    };
    let mut new: Vec<String> = Vec::new();
    for t in sent {
        let t = check_tag(t)?;
        if !new.contains(&t) {
            new.push(t);
        }
    }
    if new.len() > MAX_TAGS {
        return Err(too_many());
    }
    let tags = change(&state, &caller, &id, |tags| {
        *tags = new.clone();
        Ok(())
    })?;
    Ok(axum::Json(json!({ "tags": tags })))
}

/// `DELETE /servers/{id}/tags`: 204.
pub async fn delete_all(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<Response> {
    gone_below(v)?;
    change(&state, &caller, &id, |tags| {
        tags.clear();
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn tag_not_found(id: &str, tag: &str) -> ComputeError {
    ComputeError::NotFound(format!("Instance {id} has no tag '{tag}'"))
}

/// `GET /servers/{id}/tags/{tag}`: 204 when the server has it.
pub async fn check(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path((id, tag)): Path<(String, String)>,
) -> ComputeResult<Response> {
    gone_below(v)?;
    let i = servers::find(&state, &caller, &id, false)?;
    if doc(&i)?.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(tag_not_found(&id, &tag))
    }
}

/// `PUT /servers/{id}/tags/{tag}`: 201 with `Location` when added, 204
/// when already there.
pub async fn add(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path((id, tag)): Path<(String, String)>,
) -> ComputeResult<Response> {
    gone_below(v)?;
    let tag = check_tag(&json!(tag))?;
    let mut added = false;
    change(&state, &caller, &id, |tags| {
        if tags.contains(&tag) {
            return Ok(());
        }
        if tags.len() >= MAX_TAGS {
            return Err(too_many());
        }
        tags.push(tag.clone());
        added = true;
        Ok(())
    })?;
    if !added {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let location = format!("{}/v2.1/servers/{id}/tags/{tag}", state.public_url);
    Ok((StatusCode::CREATED, [(http::header::LOCATION, location)]).into_response())
}

/// `DELETE /servers/{id}/tags/{tag}`: 204; a tag it lacks is 404.
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path((id, tag)): Path<(String, String)>,
) -> ComputeResult<Response> {
    gone_below(v)?;
    change(&state, &caller, &id, |tags| {
        let before = tags.len();
        tags.retain(|t| t != &tag);
        if tags.len() == before {
            return Err(tag_not_found(&id, &tag));
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /servers/{id}/os-server-password`: empty (no guest posts one here).
pub async fn password(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    servers::find(&state, &caller, &id, false)?;
    Ok(axum::Json(json!({"password": ""})))
}

/// `DELETE /servers/{id}/os-server-password`: 204; it stays empty.
pub async fn clear_password(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ComputeResult<Response> {
    servers::find(&state, &caller, &id, false)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
