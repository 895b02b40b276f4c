//! `/v3/volumes`: create, list (summary and detail), show, update,
//! delete (metadata is `metadata.rs`).

use super::{boolean, integer, metadata, opt_string, param, wrapped};
use crate::error::{Json, VolumeError, VolumeResult};
use crate::list::{collection_url, metadata_matches, ListParams, ProjectInPath};
use crate::microversion::Version;
use crate::service::{Caller, NewVolume};
use crate::views::{self, VolumeContext};
use crate::VolumeState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use ferrostack_policy::AuthContext;
use ferrostack_store::volume::Volume;
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

type Pairs = Query<Vec<(String, String)>>;

/// Sort keys of volume lists: wire name to record field.
const SORT_KEYS: &[(&str, &str)] = &[
    ("created_at", "created_at"),
    ("updated_at", "updated_at"),
    ("id", "id"),
    ("name", "name"),
    ("display_name", "name"),
    ("size", "size_gib"),
    ("status", "status"),
    ("availability_zone", "availability_zone"),
    ("bootable", "bootable"),
];

impl VolumeState {
    /// The detail view of `v` for `caller` at `version`.
    pub fn volume_view(
        &self,
        v: &Volume,
        caller: &Caller,
        version: Version,
        extended: bool,
    ) -> VolumeResult<Value> {
        let names = self.type_names()?;
        let attachments = self.store.volume_attachments(&v.id)?;
        Ok(self.view_with(v, caller, version, &names, &attachments, extended))
    }

    fn view_with(
        &self,
        v: &Volume,
        caller: &Caller,
        version: Version,
        names: &HashMap<String, String>,
        attachments: &[ferrostack_store::volume::Attachment],
        extended: bool,
    ) -> Value {
        let type_name = names
            .get(&v.volume_type_id)
            .map(String::as_str)
            .unwrap_or("");
        views::volume(
            v,
            &VolumeContext {
                base: &self.public_url,
                version,
                admin: caller.is_admin,
                type_name,
                attachments,
                extended,
            },
        )
    }

    pub(crate) fn type_names(&self) -> VolumeResult<HashMap<String, String>> {
        Ok(self
            .store
            .list_types()?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect())
    }
}

/// `POST /v3/volumes`.
pub async fn create(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Json(body): Json<Value>,
) -> VolumeResult<Response> {
    let caller = Caller::of(&auth);
    let o = wrapped(&body, "volume")?;
    if o.get("backup_id").is_some_and(|b| !b.is_null()) {
        return Err(VolumeError::Status(
            StatusCode::NOT_IMPLEMENTED,
            "Creating a volume from a backup is not implemented by ferrostack yet.".into(),
        ));
    }
    let size = match o.get("size") {
        None | Some(Value::Null) => None,
        Some(v) => Some(integer("size", v, 0).map_err(|_| {
            VolumeError::BadRequest(format!(
                "Invalid input received: Volume size '{v}' must be an integer and greater than 0"
            ))
        })? as u64),
    };
    let image = opt_string(o, "imageRef")?.or(opt_string(o, "image_id")?);
    let req = NewVolume {
        ready_status: None,
        id: None,
        size_gib: size,
        name: opt_string(o, "name")?.or(opt_string(o, "display_name")?),
        description: opt_string(o, "description")?.or(opt_string(o, "display_description")?),
        metadata: metadata(o.get("metadata"))?,
        volume_type: opt_string(o, "volume_type")?,
        availability_zone: opt_string(o, "availability_zone")?,
        snapshot_id: opt_string(o, "snapshot_id")?,
        source_volid: opt_string(o, "source_volid")?,
        image_id: image,
        multiattach: match o.get("multiattach") {
            None | Some(Value::Null) => false,
            Some(v) => boolean("multiattach", v)?,
        },
    };
    if req.size_gib.is_none() && req.snapshot_id.is_none() && req.source_volid.is_none() {
        return Err(VolumeError::BadRequest(
            "Invalid input received: Volume size '' must be an integer and greater than 0".into(),
        ));
    }
    let v = state.create_volume(&caller, req).await?;
    let view = state.volume_view(&v, &caller, version, false)?;
    Ok((StatusCode::ACCEPTED, axum::Json(json!({"volume": view}))).into_response())
}

fn matches(
    state: &VolumeState,
    v: &Volume,
    filters: &BTreeMap<String, String>,
) -> VolumeResult<bool> {
    for (k, want) in filters {
        let ok = match k.as_str() {
            "name" | "display_name" => v.name.as_deref() == Some(want.as_str()),
            "name~" => v.name.as_deref().is_some_and(|n| n.contains(want.as_str())),
            "status" => v.status.eq_ignore_ascii_case(want),
            "bootable" => super::boolean("bootable", &json!(want))? == v.bootable,
            "availability_zone" => &v.availability_zone == want,
            "metadata" => metadata_matches(want, &v.metadata)?,
            "volume_type" | "volume_type_id" => {
                &v.volume_type_id == want
                    || state
                        .store
                        .get_type_by_name(want)?
                        .is_some_and(|t| t.id == v.volume_type_id)
            }
            "id" => &v.id == want,
            // Unknown filters are dropped, as Cinder does below 3.34
            // for keys outside its resource filters.
            _ => true,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn list_any(
    state: &VolumeState,
    auth: &AuthContext,
    version: Version,
    pairs: Vec<(String, String)>,
    detail: bool,
    form: ProjectInPath,
) -> VolumeResult<Value> {
    let caller = Caller::of(auth);
    let params = ListParams::read(pairs, &caller, version, SORT_KEYS)?;
    let mut found = Vec::new();
    for v in state.store.list_volumes(params.project.as_deref())? {
        if matches(state, &v, &params.filters)? {
            found.push(v);
        }
    }
    let path = if detail { "volumes/detail" } else { "volumes" };
    let base = collection_url(&state.public_url, &caller, form, path);
    let (page, next, count) = params.apply(found, |v| v.id.as_str(), &base)?;
    let names = state.type_names()?;
    let mut items = Vec::with_capacity(page.len());
    for v in &page {
        items.push(if detail {
            let attachments = state.store.volume_attachments(&v.id)?;
            state.view_with(v, &caller, version, &names, &attachments, true)
        } else {
            views::volume_summary(v, &state.public_url)
        });
    }
    let mut out = json!({"volumes": items});
    if let Some(next) = next {
        out["volumes_links"] = next;
    }
    if params.with_count {
        out["count"] = json!(count);
    }
    Ok(out)
}

/// `GET /v3/volumes`.
pub async fn list(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    form: ProjectInPath,
    Query(pairs): Pairs,
) -> VolumeResult<axum::Json<Value>> {
    Ok(axum::Json(
        list_any(&state, &auth, version, pairs, false, form).await?,
    ))
}

/// `GET /v3/volumes/detail`.
pub async fn detail(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    form: ProjectInPath,
    Query(pairs): Pairs,
) -> VolumeResult<axum::Json<Value>> {
    Ok(axum::Json(
        list_any(&state, &auth, version, pairs, true, form).await?,
    ))
}

/// `GET /v3/volumes/{volume_id}`.
pub async fn show(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    let v = state.volume(&caller, param(&p, "volume_id")?)?;
    Ok(axum::Json(
        json!({"volume": state.volume_view(&v, &caller, version, true)?}),
    ))
}

/// `PUT /v3/volumes/{volume_id}`: name, description, metadata.
pub async fn update(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<axum::Json<Value>> {
    let caller = Caller::of(&auth);
    let id = param(&p, "volume_id")?;
    let o = wrapped(&body, "volume")?;
    if o.is_empty() {
        return Err(VolumeError::BadRequest(
            "Invalid input received: the volume update body is empty.".into(),
        ));
    }
    let name = opt_string(o, "name")?.or(opt_string(o, "display_name")?);
    let description = opt_string(o, "description")?.or(opt_string(o, "display_description")?);
    let meta = match o.get("metadata") {
        Some(m) => Some(metadata(Some(m))?),
        None => None,
    };
    let has = |k: &str| o.contains_key(k);
    let g = state.change(&caller, id, |g| {
        if has("name") || has("display_name") {
            g.volume.name = name.clone();
        }
        if has("description") || has("display_description") {
            g.volume.description = description.clone();
        }
        if let Some(m) = &meta {
            g.volume.metadata = m.clone();
        }
        Ok(())
    })?;
    Ok(axum::Json(
        json!({"volume": state.volume_view(&g.volume, &caller, version, false)?}),
    ))
}

/// `DELETE /v3/volumes/{volume_id}[?cascade=true][&force=true]`.
pub async fn delete(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Path(p): Path<HashMap<String, String>>,
    Query(q): Query<HashMap<String, String>>,
) -> VolumeResult<StatusCode> {
    let caller = Caller::of(&auth);
    let flag = |k: &str| -> VolumeResult<bool> {
        match q.get(k) {
            Some(v) => boolean(k, &json!(v)),
            None => Ok(false),
        }
    };
    let force = flag("force")?;
    if force && !caller.is_admin {
        return Err(VolumeError::Forbidden(
            "Policy doesn't allow volume:force_delete to be performed.".into(),
        ));
    }
    state.delete_volume(&caller, param(&p, "volume_id")?, flag("cascade")?, force)?;
    Ok(StatusCode::ACCEPTED)
}

/// `GET /v3/volumes/summary` (3.12+): count and total size of the
/// caller's volumes (every project's for an admin with `all_tenants`).
pub async fn summary(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Query(pairs): Pairs,
) -> VolumeResult<axum::Json<Value>> {
    if !version.at_least(12) {
        return Err(VolumeError::NotFound(
            "Volume summary could not be found.".into(),
        ));
    }
    let caller = Caller::of(&auth);
    let params = ListParams::read(pairs, &caller, version, SORT_KEYS)?;
    let volumes = state.store.list_volumes(params.project.as_deref())?;
    let total: u64 = volumes.iter().map(|v| v.size_gib).sum();
    let mut summary = json!({"total_size": total, "total_count": volumes.len()});
    if version.at_least(36) {
        let mut metadata: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for v in &volumes {
            for (k, val) in &v.metadata {
                let values = metadata.entry(k.clone()).or_default();
                if !values.contains(val) {
                    values.push(val.clone());
                }
            }
        }
        summary["metadata"] = json!(metadata);
    }
    Ok(axum::Json(json!({"volume-summary": summary})))
}
