//! `createImage`: a snapshot of a server's disk into the image service.
//!
//! A snapshot is an image record created at once (`queued`, then
//! `saving`, owned by the server's project), and a snapshot request in
//! the desired state. The agent writes a standalone qcow2; the host link
//! hands it to the image service's importer, which inspects it like any
//! upload before the image turns `active` (or `killed`).
//!

use super::lifecycle::{from_store, start_action, to_store};
use super::{conflict_state, desired, doc, set_desired, set_doc, task, vm, PendingSnapshot};
use crate::error::{ComputeError, ComputeResult};
use crate::ComputeState;
use axum::response::{IntoResponse, Response};
use ferrostack_common::time::now_micros;
use ferrostack_compute_types::server_action::CreateImage;
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
    let allowed = [vm::ACTIVE, vm::STOPPED, vm::PAUSED, vm::SUSPENDED];
    if i.task_state.is_some() || !allowed.contains(&i.vm_state.as_str()) {
        return Err(conflict_state(&i.uuid, "createImage", i));
    }
    let d = doc(i)?;
    if d.boots_from_volume() {
        return Err(ComputeError::BadRequest(
            "Snapshots of volume-backed servers (an image of volume snapshots) are not served \
             by ferrostack yet; snapshot the volume with the block storage API."
                .into(),
        ));
    }
    let source = state.images.get_image(&d.image_id)?;
    let image_id = ferrostack_common::ids::new_uuid();
    let now = now_micros();
    let mut properties: BTreeMap<String, String> = BTreeMap::new();
    properties.insert("image_type".into(), "snapshot".into());
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
    let result = state.servers.modify_instance(&i.uuid, &mut |row| {
        if row.task_state.is_some() || !allowed.contains(&row.vm_state.as_str()) {
            return Err(to_store(conflict_state(&row.uuid, "createImage", row)));
        }
        let Some(mut want) = desired(row).map_err(to_store)? else {
            return Err(to_store(conflict_state(&row.uuid, "createImage", row)));
        };
        want.snapshot = Some(SnapshotRequest {
            request_id: request.clone(),
            image_id: snapshot_image.clone(),
        });
        set_desired(row, want).map_err(to_store)?;
        row.task_state = Some(task::IMAGE_SNAPSHOT.into());
        let mut d = doc(row).map_err(to_store)?;
        d.pending_snapshot = Some(PendingSnapshot {
            request_id: request.clone(),
            image_id: snapshot_image.clone(),
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
        "createImage",
        request_id,
        "compute_snapshot_instance",
    )?;
    state.link.kick();
    tracing::info!(server = %i.uuid, image = %image_id, "snapshot requested");
    let location = format!("{}/v2/images/{image_id}", state.image_url());
    let mut resp = if v.at_least(45) {
        (
            StatusCode::ACCEPTED,
            axum::Json(json!({ "image_id": image_id })),
        )
            .into_response()
    } else {
        StatusCode::ACCEPTED.into_response()
    };
    if let Ok(h) = http::HeaderValue::from_str(&location) {
        resp.headers_mut().insert(http::header::LOCATION, h);
    }
    Ok(resp)
}
