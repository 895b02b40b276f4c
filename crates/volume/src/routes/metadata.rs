//! `/v3/{volumes|snapshots}/{id}/metadata[/{key}]`: one set of handlers
//! for both owners (the path's id parameter says which), so the two keep
//! Cinder's same rules: show, merge (POST), replace (PUT), and one key
//! shown, set (the body's one key must be the URL's) or deleted (404 for
//! a key that is not there).

use super::{metadata, param};
use crate::error::{Json, VolumeError, VolumeResult};
use crate::service::Caller;
use crate::VolumeState;
use axum::extract::{Path, State};
use ferrostack_policy::AuthContext;
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

type Metadata = BTreeMap<String, String>;

/// Whose metadata a path names.
enum Owner<'a> {
    Volume(&'a str),
    Snapshot(&'a str),
}

impl<'a> Owner<'a> {
    fn of(p: &'a HashMap<String, String>) -> VolumeResult<Owner<'a>> {
        match p.get("snapshot_id") {
            Some(id) => Ok(Owner::Snapshot(id)),
            None => param(p, "volume_id").map(Owner::Volume),
        }
    }

    fn no_key(&self, key: &str) -> VolumeError {
        let (noun, id) = match self {
            Owner::Volume(id) => ("Volume", id),
            Owner::Snapshot(id) => ("Snapshot", id),
        };
        VolumeError::NotFound(format!("{noun} {id} has no metadata with key {key}."))
    }

    fn read(&self, state: &VolumeState, caller: &Caller) -> VolumeResult<Metadata> {
        Ok(match self {
            Owner::Volume(id) => state.volume(caller, id)?.metadata,
            Owner::Snapshot(id) => state.snapshot(caller, id)?.metadata,
        })
    }

    /// Change the metadata in one store transaction; what it became.
    fn write(
        &self,
        state: &VolumeState,
        caller: &Caller,
        mut f: impl FnMut(&mut Metadata),
    ) -> VolumeResult<Metadata> {
        Ok(match self {
            Owner::Volume(id) => {
                state
                    .change(caller, id, |g| {
                        f(&mut g.volume.metadata);
                        Ok(())
                    })?
                    .volume
                    .metadata
            }
            Owner::Snapshot(id) => {
                state
                    .update_snapshot(caller, id, |s| f(&mut s.metadata))?
                    .metadata
            }
        })
    }
}

/// `GET .../metadata`.
pub async fn show(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let m = Owner::of(&p)?.read(&state, &Caller::of(&auth))?;
    Ok(axum::Json(json!({ "metadata": m })))
}

fn write_all(
    state: &VolumeState,
    auth: &AuthContext,
    p: &HashMap<String, String>,
    body: &Value,
    replace: bool,
) -> VolumeResult<axum::Json<Value>> {
    let given = metadata(Some(body.get("metadata").ok_or_else(|| {
        VolumeError::BadRequest("Malformed request body: metadata is required".into())
    })?))?;
    let now = Owner::of(p)?.write(state, &Caller::of(auth), |m| {
        if replace {
            *m = given.clone();
        } else {
            m.extend(given.clone());
        }
    })?;
    Ok(axum::Json(json!({ "metadata": now })))
}

/// `POST .../metadata`: merge.
pub async fn merge(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    write_all(&state, &auth, &p, &body, false)
}

/// `PUT .../metadata`: replace.
pub async fn replace(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    write_all(&state, &auth, &p, &body, true)
}

/// `GET .../metadata/{key}`.
pub async fn key_show(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let owner = Owner::of(&p)?;
    let key = param(&p, "key")?;
    let m = owner.read(&state, &Caller::of(&auth))?;
    let value = m.get(key).ok_or_else(|| owner.no_key(key))?;
    Ok(axum::Json(json!({"meta": {key: value}})))
}

/// `PUT .../metadata/{key}`: `{"meta": {key: value}}` with the URL's key.
pub async fn key_set(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    let key = param(&p, "key")?;
    let meta = metadata(body.get("meta"))?;
    if meta.len() != 1 || !meta.contains_key(key) {
        return Err(VolumeError::BadRequest(
            "Request body and URI mismatch".into(),
        ));
    }
    Owner::of(&p)?.write(&state, &Caller::of(&auth), |m| m.extend(meta.clone()))?;
    Ok(axum::Json(json!({ "meta": meta })))
}

/// `DELETE .../metadata/{key}`.
pub async fn key_delete(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<StatusCode> {
    let owner = Owner::of(&p)?;
    let key = param(&p, "key")?;
    let caller = Caller::of(&auth);
    if !owner.read(&state, &caller)?.contains_key(key) {
        return Err(owner.no_key(key));
    }
    owner.write(&state, &caller, |m| {
        m.remove(key);
    })?;
    Ok(StatusCode::OK)
}
