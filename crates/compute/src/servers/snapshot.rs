//! `createImage` and `createBackup`: a snapshot of a server's disk into
//! the image service.
//!
//! A snapshot is an image record created at once (`queued`, then
//! `saving`, owned by the server's project), and a snapshot request in
//! the desired state. The agent writes a standalone qcow2; the host link
//! hands it to the image service's importer, which inspects it like any
//! upload before the image turns `active` (or `killed`).
//!
//! A backup is the same snapshot with `image_type=backup` and a
//! `backup_type` property; once it is imported the host link deletes the
//! oldest backups of that type of the server beyond `rotation` (Nova's
//! `_rotate_backups`, run after the upload, so a rotation of 0 keeps
//! none, the new one included). [`backups_beyond`] chooses them.
//!

use super::lifecycle::{from_store, start_action, to_store};
use super::{
    conflict_state, desired, doc, set_desired, set_doc, task, vm, BackupRotation, PendingSnapshot,
};
use crate::error::{ComputeError, ComputeResult};
use crate::ComputeState;
use axum::response::{IntoResponse, Response};
use ferrostack_common::time::now_micros;
use ferrostack_compute_types::server_action::{CreateBackup, CreateImage};
use ferrostack_compute_types::ApiVersion;
use ferrostack_host_contract::SnapshotRequest;
use ferrostack_policy::AuthContext;
use ferrostack_store::image::Image;
use ferrostack_store::server::Instance;
use http::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;

/// `createImage`.
pub async fn create_image(
    state: &ComputeState,
    caller: &AuthContext,
    v: ApiVersion,
    i: &Instance,
    request_id: &str,
    args: &CreateImage,
) -> ComputeResult<Response> {
    super::actions::check_lock(caller, i)?;
    let name = args.name()?;
    let extra = args.metadata()?;
    let image_id = if doc(i)?.boots_from_volume() {
        super::volume_image::create(state, caller, i, request_id, name, extra)?
    } else {
        snapshot(state, caller, i, request_id, name, extra, None)?
    };
    Ok(answer(state, v, &image_id, true))
}

/// `createBackup`: like `createImage`, then rotated. From 2.45 the
/// answer is `{"image_id"}`; before, a `Location` unless `rotation` is 0.
pub async fn create_backup(
    state: &ComputeState,
    caller: &AuthContext,
    v: ApiVersion,
    i: &Instance,
    request_id: &str,
    args: &CreateBackup,
) -> ComputeResult<Response> {
    super::actions::check_lock(caller, i)?;
    let rotation = args.rotation;
    let backup = BackupRotation {
        backup_type: args.backup_type.clone(),
        rotation,
    };
    if doc(i)?.boots_from_volume() {
        return Err(ComputeError::BadRequest(
            "Backup is not supported for volume-backed instances.".into(),
        ));
    }
    let mut extra = args.metadata.clone();
    extra.insert("backup_type".into(), args.backup_type.clone());
    let image_id = snapshot(
        state,
        caller,
        i,
        request_id,
        args.name.clone(),
        extra,
        Some(backup),
    )?;
    Ok(answer(state, v, &image_id, rotation > 0))
}

/// 202, with `{"image_id"}` from 2.45, else a `Location` when `located`.
fn answer(state: &ComputeState, v: ApiVersion, image_id: &str, located: bool) -> Response {
    if v.at_least(45) {
        return (
            StatusCode::ACCEPTED,
            axum::Json(json!({ "image_id": image_id })),
        )
            .into_response();
    }
    let mut resp = StatusCode::ACCEPTED.into_response();
    let location = format!("{}/v2/images/{image_id}", state.image_url());
    if let Ok(h) = http::HeaderValue::from_str(&location) {
        if located {
            resp.headers_mut().insert(http::header::LOCATION, h);
        }
    }
    resp
}

/// The images among `images` that a rotation of `rotation` deletes: the
/// backups of `server` of `backup_type`, newest first, past the first
/// `rotation` (none deleted while deleting).
pub fn backups_beyond(
    images: &[Image],
    server: &str,
    backup_type: &str,
    rotation: u64,
) -> Vec<String> {
    fn prop<'a>(img: &'a Image, k: &str) -> Option<&'a str> {
        img.properties.get(k).map(String::as_str)
    }
    let mut backups: Vec<&Image> = images
        .iter()
        .filter(|img| {
            prop(img, "image_type") == Some("backup")
                && prop(img, "instance_uuid") == Some(server)
                && prop(img, "backup_type") == Some(backup_type)
                && img.status != "deleted"
                && img.status != "pending_delete"
        })
        .collect();
    backups.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    backups
        .into_iter()
        .skip(usize::try_from(rotation).unwrap_or(usize::MAX))
        .map(|img| img.id.clone())
        .collect()
}

/// Create the image record and ask the server's host for its disk.
/// `backup` makes it a backup (its task state and rotation).
fn snapshot(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
    request_id: &str,
    name: String,
    extra: BTreeMap<String, String>,
    backup: Option<BackupRotation>,
) -> ComputeResult<String> {
    let action = if backup.is_some() {
        "createBackup"
    } else {
        "createImage"
    };
    let allowed = [vm::ACTIVE, vm::STOPPED, vm::PAUSED, vm::SUSPENDED];
    if i.task_state.is_some() || !allowed.contains(&i.vm_state.as_str()) {
        return Err(conflict_state(&i.uuid, action, i));
    }
    let d = doc(i)?;
    if d.boots_from_volume() {
        return Err(ComputeError::BadRequest(format!(
            "{action} of a volume-backed server is not a disk snapshot."
        )));
    }
    let source = state.images.get_image(&d.image_id)?;
    let image_id = ferrostack_common::ids::new_uuid();
    let now = now_micros();
    let mut properties: BTreeMap<String, String> = BTreeMap::new();
    let image_type = if backup.is_some() {
        "backup"
    } else {
        "snapshot"
    };
    properties.insert("image_type".into(), image_type.into());
    properties.insert("instance_uuid".into(), i.uuid.clone());
    properties.insert("base_image_ref".into(), d.image_id.clone());
    properties.insert("user_id".into(), caller.user_id.clone());
    properties.insert("owner_project_name".into(), String::new());
    properties.retain(|_, v| !v.is_empty());
    properties.extend(extra);
    let image = Image {
        id: image_id.clone(),
        name: Some(name),
        status: "saving".into(),
        visibility: "private".into(),
        owner: Some(i.project_id.clone()),
        protected: false,
        os_hidden: false,
        disk_format: Some("qcow2".into()),
        container_format: Some("bare".into()),
        size: None,
        virtual_size: None,
        checksum: None,
        os_hash_algo: None,
        os_hash_value: None,
        min_disk: d
            .flavor
            .disk
            .max(source.as_ref().map(|s| s.min_disk).unwrap_or(0)),
        min_ram: source.as_ref().map(|s| s.min_ram).unwrap_or(0),
        tags: Vec::new(),
        properties,
        created_at: now,
        updated_at: now,
    };
    if !state.images.create_image(&image)? {
        return Err(ComputeError::Internal("image id clash".into()));
    }
    let request = request_id.to_string();
    let snapshot_image = image_id.clone();
    let task_state = if backup.is_some() {
        task::IMAGE_BACKUP
    } else {
        task::IMAGE_SNAPSHOT
    };
    let result = state.servers.modify_instance(&i.uuid, &mut |row| {
        if row.task_state.is_some() || !allowed.contains(&row.vm_state.as_str()) {
            return Err(to_store(conflict_state(&row.uuid, action, row)));
        }
        let Some(mut want) = desired(row).map_err(to_store)? else {
            return Err(to_store(conflict_state(&row.uuid, action, row)));
        };
        want.snapshot = Some(SnapshotRequest {
            request_id: request.clone(),
            image_id: snapshot_image.clone(),
        });
        set_desired(row, want).map_err(to_store)?;
        row.task_state = Some(task_state.into());
        let mut d = doc(row).map_err(to_store)?;
        d.pending_snapshot = Some(PendingSnapshot {
            request_id: request.clone(),
            image_id: snapshot_image.clone(),
            backup: backup.clone(),
        });
        set_doc(row, &d).map_err(to_store)
    });
    let updated = match result {
        Ok(u) => u,
        Err(e) => {
            state.images.delete_image(&image_id)?;
            return Err(from_store(e));
        }
    };
    start_action(
        state,
        caller,
        &updated,
        action,
        request_id,
        "compute_snapshot_instance",
    )?;
    state.link.kick();
    tracing::info!(server = %i.uuid, image = %image_id, action, "snapshot requested");
    Ok(image_id)
}
