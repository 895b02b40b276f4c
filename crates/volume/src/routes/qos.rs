//! `/v3/qos-specs` (admin): create, list, show, set and unset keys,
//! delete (`force` to drop associations), and the association calls,
//! which Cinder serves as GETs with `vol_type_id` in the query. The work
//! is in the service's `qos`.

use super::{param, wrapped};
use crate::error::{Json, VolumeError, VolumeResult};
use crate::service::Caller;
use crate::VolumeState;
use axum::extract::{Path, Query, State};
use ferrostack_policy::AuthContext;
use ferrostack_store::volume_extras::QosSpecs;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

fn view(q: &QosSpecs) -> Value {
    json!({"id": q.id, "name": q.name, "consumer": q.consumer, "specs": q.specs})
}

fn links(state: &VolumeState, caller: &Caller, id: &str) -> Value {
    let base = &state.public_url;
    let project = &caller.project_id;
    json!([
        {"rel": "self", "href": format!("{base}/v3/{project}/qos-specs/{id}")},
        {"rel": "bookmark", "href": format!("{base}/{project}/qos-specs/{id}")},
    ])
}

/// String values of an object (numbers taken as their text, as Cinder's
/// client sends `--property k=v` as strings anyway).
fn strings(o: &Map<String, Value>) -> VolumeResult<BTreeMap<String, String>> {
    o.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(VolumeError::BadRequest(format!(
                        "Invalid input received: the value of {k} must be a string."
                    )))
                }
            };
            Ok((k.clone(), text))
        })
        .collect()
}

/// `POST /v3/qos-specs`.
pub async fn create(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    let mut o = wrapped(&body, "qos_specs")?.clone();
    let name = match o.remove("name") {
        Some(Value::String(n)) => n,
        _ => {
            return Err(VolumeError::BadRequest(
                "Invalid input received: Please specify a name for QoS specs.".into(),
            ))
        }
    };
    let consumer = match o.remove("consumer") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(c),
        Some(_) => {
            return Err(VolumeError::BadRequest(
                "Invalid input received: consumer must be a string.".into(),
            ))
        }
    };
    let q = state.create_qos(name, consumer, strings(&o)?)?;
    Ok(axum::Json(
        json!({"qos_specs": view(&q), "links": links(&state, &caller, &q.id)}),
    ))
}

/// `GET /v3/qos-specs`.
pub async fn list(State(state): State<Arc<VolumeState>>) -> VolumeResult<axum::Json<Value>> {
    let all: Vec<Value> = state.store.list_qos()?.iter().map(view).collect();
    Ok(axum::Json(json!({ "qos_specs": all })))
}

/// `GET /v3/qos-specs/{qos_id}`.
pub async fn show(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    let q = state.qos(param(&p, "qos_id")?)?;
    Ok(axum::Json(
        json!({"qos_specs": view(&q), "links": links(&state, &caller, &q.id)}),
    ))
}

/// `PUT /v3/qos-specs/{qos_id}`: set keys.
pub async fn update(
    State(state): State<Arc<VolumeState>>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    let o = wrapped(&body, "qos_specs")?;
    let set = state.set_qos_keys(param(&p, "qos_id")?, strings(o)?)?;
    Ok(axum::Json(json!({ "qos_specs": set })))
}

/// `PUT /v3/qos-specs/{qos_id}/delete_keys`: `{"keys": [...]}`.
pub async fn delete_keys(
    State(state): State<Arc<VolumeState>>,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<StatusCode> {
    let keys: Vec<String> = body["keys"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .ok_or_else(|| VolumeError::BadRequest("'keys' is a required property".into()))?;
    state.unset_qos_keys(param(&p, "qos_id")?, &keys)?;
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE /v3/qos-specs/{qos_id}?force=`.
pub async fn delete(
    State(state): State<Arc<VolumeState>>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> VolumeResult<StatusCode> {
    let force = q
        .get("force")
        .is_some_and(|f| matches!(f.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    state.delete_qos(param(&p, "qos_id")?, force)?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /v3/qos-specs/{qos_id}/associations`.
pub async fn associations(
    State(state): State<Arc<VolumeState>>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let list: Vec<Value> = state
        .qos_associations(param(&p, "qos_id")?)?
        .into_iter()
        .map(|(id, name)| json!({"association_type": "volume_type", "id": id, "name": name}))
        .collect();
    Ok(axum::Json(json!({ "qos_associations": list })))
}

fn type_id(q: &HashMap<String, String>) -> VolumeResult<&str> {
    q.get("vol_type_id").map(String::as_str).ok_or_else(|| {
        VolumeError::BadRequest("Invalid input received: vol_type_id is required".into())
    })
}

/// `GET /v3/qos-specs/{qos_id}/associate?vol_type_id=`.
pub async fn associate(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> VolumeResult<StatusCode> {
    state.associate_qos(&Caller::of(&auth), param(&p, "qos_id")?, type_id(&q)?)?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /v3/qos-specs/{qos_id}/disassociate?vol_type_id=`.
pub async fn disassociate(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> VolumeResult<StatusCode> {
    state.disassociate_qos(&Caller::of(&auth), param(&p, "qos_id")?, type_id(&q)?)?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /v3/qos-specs/{qos_id}/disassociate_all`.
pub async fn disassociate_all(
    State(state): State<Arc<VolumeState>>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<StatusCode> {
    state.disassociate_all_qos(param(&p, "qos_id")?)?;
    Ok(StatusCode::ACCEPTED)
}
