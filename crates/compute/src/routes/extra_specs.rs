//! `/v2.1/flavors/{flavor_id}/os-extra_specs[/{key}]`: read by anyone who
//! sees the flavor, written by admins.
//!
//! Keys match Nova's `^[a-zA-Z0-9-_:. ]{1,255}$`; values are strings, or
//! numbers and booleans stored as their Python string form. From 2.86 Nova
//! validates specs in namespaces it knows; ferrostack checks the CPU
//! policy specs (`hw:cpu_policy`, `hw:cpu_thread_policy`) and the disk I/O
//! limits (`quota:disk_*_sec`, integers: the root disk's throttle) and lets the
//! rest through, as Nova does for namespaces it does not know. The bodies
//! and those rules are types in
//! [`ferrostack_compute_types::flavor_body`].

use super::Caller;
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::routes::flavors::{find_visible, not_found};
use crate::ComputeState;
use axum::extract::{Path, State};
use ferrostack_compute_types::flavor_body::{CreateExtraSpecsBody, UpdateExtraSpecBody};
use serde_json::{json, Value};
use std::sync::Arc;

/// `GET .../os-extra_specs`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let flavor = find_visible(&state, &caller, &id)?;
    Ok(axum::Json(json!({"extra_specs": flavor.extra_specs})))
}

/// `POST .../os-extra_specs` (admin): add or replace; answers with the body's specs.
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Version(v): Version,
    Path(id): Path<String>,
    Json(body): Json<CreateExtraSpecsBody>,
) -> ComputeResult<axum::Json<Value>> {
    let parsed = body.checked(v)?;
    if !state.compute.set_extra_specs(&id, &parsed)? {
        return Err(not_found(&id));
    }
    Ok(axum::Json(body.sent))
}

/// `GET .../os-extra_specs/{key}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
) -> ComputeResult<axum::Json<Value>> {
    let flavor = find_visible(&state, &caller, &id)?;
    match flavor.extra_specs.get(&key) {
        Some(value) => Ok(axum::Json(json!({ key: value }))),
        None => Err(no_such_key(&id, &key)),
    }
}

fn no_such_key(id: &str, key: &str) -> ComputeError {
    ComputeError::NotFound(format!("Flavor {id} has no extra specs with key {key}."))
}

/// `PUT .../os-extra_specs/{key}` (admin): the body is `{key: value}`.
pub async fn update(
    State(state): State<Arc<ComputeState>>,
    Version(v): Version,
    Path((id, key)): Path<(String, String)>,
    Json(body): Json<UpdateExtraSpecBody>,
) -> ComputeResult<axum::Json<Value>> {
    let parsed = body.checked(v, &key)?;
    if !state.compute.set_extra_specs(&id, &parsed)? {
        return Err(not_found(&id));
    }
    Ok(axum::Json(body.sent))
}

/// `DELETE .../os-extra_specs/{key}` (admin): 200 with no body, as Nova.
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Path((id, key)): Path<(String, String)>,
) -> ComputeResult<()> {
    if state.compute.get_flavor(&id)?.is_none() {
        return Err(not_found(&id));
    }
    if !state.compute.delete_extra_spec(&id, &key)? {
        return Err(no_such_key(&id, &key));
    }
    Ok(())
}
