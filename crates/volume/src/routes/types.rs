//! `/v3/types`: volume types, their extra specs and project access.
//! `volume_backend_name` in a type's extra specs selects the backend of
//! its volumes; `__DEFAULT__` exists from the start and cannot go.

use super::{boolean, opt_string, param, wrapped};
use crate::error::{Json, VolumeError, VolumeResult};
use crate::service::Caller;
use crate::views;
use crate::VolumeState;
use axum::extract::{Path, Query, State};
use ferrostack_policy::AuthContext;
use ferrostack_store::volume::{VolumeType, DEFAULT_TYPE};
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

fn admin(caller: &Caller) -> VolumeResult<()> {
    if caller.is_admin {
        Ok(())
    } else {
        Err(VolumeError::Forbidden(
            "Policy doesn't allow volume_extension:types_manage to be performed.".into(),
        ))
    }
}

fn specs(v: Option<&Value>) -> VolumeResult<BTreeMap<String, String>> {
    let Some(o) = v.filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let o = o.as_object().ok_or_else(|| {
        VolumeError::BadRequest("Invalid input received: extra_specs must be a dict".into())
    })?;
    o.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Bool(_) | Value::Number(_) => v.to_string(),
                _ => {
                    return Err(VolumeError::BadRequest(format!(
                        "Invalid input received: extra spec {k} must be a string"
                    )))
                }
            };
            if k.is_empty() || k.len() > 255 || v.len() > 255 {
                return Err(VolumeError::BadRequest(
                    "Invalid input received: extra spec keys and values must be 1 to 255 characters".into(),
                ));
            }
            Ok((k.clone(), v))
        })
        .collect()
}

fn find(state: &VolumeState, caller: &Caller, id: &str) -> VolumeResult<VolumeType> {
    let id = if id == "default" { DEFAULT_TYPE } else { id };
    state.volume_type(caller, id)
}

/// `GET /v3/types`.
pub async fn list(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Query(q): Query<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    let all = caller.is_admin
        && q.get("is_public")
            .is_some_and(|v| v.eq_ignore_ascii_case("none") || v == "all");
    let mut out = Vec::new();
    for t in state.store.list_types()? {
        let visible =
            all || t.is_public || state.store.type_access(&t.id)?.contains(&caller.project_id);
        if visible {
            out.push(views::volume_type(&t, caller.is_admin));
        }
    }
    Ok(axum::Json(json!({"volume_types": out})))
}

/// `GET /v3/types/{type_id}` (and `default`).
pub async fn show(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    let t = find(&state, &caller, param(&p, "type_id")?)?;
    Ok(axum::Json(
        json!({"volume_type": views::volume_type(&t, caller.is_admin)}),
    ))
}

/// `POST /v3/types`.
pub async fn create(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    admin(&caller)?;
    let o = wrapped(&body, "volume_type")?;
    let name = opt_string(o, "name")?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| VolumeError::BadRequest("'name' is a required property".into()))?;
    let is_public = match o
        .get("os-volume-type-access:is_public")
        .or(o.get("is_public"))
    {
        None | Some(Value::Null) => true,
        Some(v) => boolean("is_public", v)?,
    };
    let t = VolumeType {
        id: ferrostack_common::ids::new_uuid(),
        name: name.clone(),
        description: opt_string(o, "description")?,
        is_public,
        extra_specs: specs(o.get("extra_specs"))?,
        created_at: ferrostack_common::time::now_micros(),
    };
    state
        .store
        .create_type(&t)
        .map_err(crate::service::store_error)?;
    Ok(axum::Json(
        json!({"volume_type": views::volume_type_created(&t)}),
    ))
}

/// `PUT /v3/types/{type_id}`.
pub async fn update(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    admin(&caller)?;
    let id = param(&p, "type_id")?;
    let o = wrapped(&body, "volume_type")?;
    let name = opt_string(o, "name")?;
    let description = opt_string(o, "description")?;
    let is_public = match o.get("is_public") {
        None | Some(Value::Null) => None,
        Some(v) => Some(boolean("is_public", v)?),
    };
    let t = state
        .store
        .update_type(id, &mut |t| {
            if let Some(n) = &name {
                if t.name == DEFAULT_TYPE && n != DEFAULT_TYPE {
                    return Err(crate::service::invalid(
                        "Invalid volume type: the default volume type cannot be renamed.",
                    ));
                }
                t.name = n.clone();
            }
            if o.contains_key("description") {
                t.description = description.clone();
            }
            if let Some(p) = is_public {
                t.is_public = p;
            }
            Ok(())
        })
        .map_err(crate::service::store_error)?
        .ok_or_else(|| VolumeError::NotFound(format!("Volume type {id} could not be found.")))?;
    Ok(axum::Json(
        json!({"volume_type": views::volume_type_updated(&t)}),
    ))
}

/// `DELETE /v3/types/{type_id}`.
pub async fn delete(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<StatusCode> {
    let caller = Caller::of(&auth);
    admin(&caller)?;
    let t = find(&state, &caller, param(&p, "type_id")?)?;
    if t.name == DEFAULT_TYPE {
        return Err(VolumeError::BadRequest(
            "Default volume type can not be deleted.".into(),
        ));
    }
    state
        .store
        .delete_type(&t.id)
        .map_err(crate::service::store_error)?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /v3/types/{type_id}/extra_specs`.
pub async fn specs_show(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    let t = find(&state, &caller, param(&p, "type_id")?)?;
    let shown = views::volume_type(&t, caller.is_admin)["extra_specs"].clone();
    Ok(axum::Json(json!({"extra_specs": shown})))
}

/// `POST /v3/types/{type_id}/extra_specs`: add or replace.
pub async fn specs_set(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    admin(&caller)?;
    let t = find(&state, &caller, param(&p, "type_id")?)?;
    let given = match body.get("extra_specs") {
        None => {
            return Err(VolumeError::BadRequest(
                "'extra_specs' is a required property".into(),
            ))
        }
        Some(Value::Null) => {
            return Err(VolumeError::BadRequest(
                "Invalid input for field/attribute extra_specs. None is not of type 'object'"
                    .into(),
            ))
        }
        Some(v) => specs(Some(v))?,
    };
    state.store.set_type_specs(&t.id, &given)?;
    Ok(axum::Json(json!({"extra_specs": given})))
}

/// `GET /v3/types/{type_id}/extra_specs/{key}`.
pub async fn spec_show(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    let t = find(&state, &caller, param(&p, "type_id")?)?;
    let key = param(&p, "key")?;
    let v = t.extra_specs.get(key).ok_or_else(|| {
        VolumeError::NotFound(format!(
            "Volume Type {} has no extra specs with key {key}.",
            t.id
        ))
    })?;
    Ok(axum::Json(json!({key: v})))
}

/// `PUT /v3/types/{type_id}/extra_specs/{key}`.
pub async fn spec_set(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    admin(&caller)?;
    let t = find(&state, &caller, param(&p, "type_id")?)?;
    let key = param(&p, "key")?;
    let given = specs(Some(&body))?;
    if given.len() != 1 || !given.contains_key(key) {
        return Err(VolumeError::BadRequest(
            "Request body and URI mismatch".into(),
        ));
    }
    state.store.set_type_specs(&t.id, &given)?;
    Ok(axum::Json(json!(given)))
}

/// `DELETE /v3/types/{type_id}/extra_specs/{key}`.
pub async fn spec_delete(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<StatusCode> {
    let caller = Caller::of(&auth);
    admin(&caller)?;
    let t = find(&state, &caller, param(&p, "type_id")?)?;
    let key = param(&p, "key")?;
    if !state.store.delete_type_spec(&t.id, key)? {
        return Err(VolumeError::NotFound(format!(
            "Volume Type {} has no extra specs with key {key}.",
            t.id
        )));
    }
    Ok(StatusCode::ACCEPTED)
}

/// `GET /v3/types/{type_id}/os-volume-type-access`.
pub async fn access_list(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    admin(&caller)?;
    let t = find(&state, &caller, param(&p, "type_id")?)?;
    if t.is_public {
        return Err(VolumeError::NotFound(
            "Access list not available for public volume types.".into(),
        ));
    }
    let rows: Vec<Value> = state
        .store
        .type_access(&t.id)?
        .into_iter()
        .map(|p| json!({"volume_type_id": t.id, "project_id": p}))
        .collect();
    Ok(axum::Json(json!({"volume_type_access": rows})))
}

/// `POST /v3/types/{type_id}/action`: `addProjectAccess`, `removeProjectAccess`.
pub async fn act(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<StatusCode> {
    let caller = Caller::of(&auth);
    admin(&caller)?;
    let t = find(&state, &caller, param(&p, "type_id")?)?;
    let (add, o) = match (
        body.get("addProjectAccess"),
        body.get("removeProjectAccess"),
    ) {
        (Some(o), None) => (true, o),
        (None, Some(o)) => (false, o),
        _ => {
            return Err(VolumeError::BadRequest(
                "Invalid request body: addProjectAccess or removeProjectAccess expected.".into(),
            ))
        }
    };
    let project = o.get("project").and_then(Value::as_str).ok_or_else(|| {
        VolumeError::BadRequest("Missing required element 'project' in request body.".into())
    })?;
    if t.is_public {
        return Err(VolumeError::BadRequest(
            "Invalid volume type: Type access modification is not applicable to public volume type.".into(),
        ));
    }
    let changed = if add {
        state.store.add_type_access(&t.id, project)?
    } else {
        state.store.remove_type_access(&t.id, project)?
    };
    match (changed, add) {
        (true, _) => Ok(StatusCode::ACCEPTED),
        (false, true) => Err(VolumeError::Conflict(format!(
            "Volume type access for {} / {project} combination already exists.",
            t.id
        ))),
        (false, false) => Err(VolumeError::NotFound(format!(
            "Volume type access not found for {} / {project} combination.",
            t.id
        ))),
    }
}
