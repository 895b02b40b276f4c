//! `createImage` of a volume-backed server, as Nova's
//! `snapshot_volume_backed` does it: each volume of the server is
//! snapshotted through the block storage service (a forced, live
//! snapshot of an attached volume), and the image is an empty record
//! (`active`, size 0, `raw`/`bare`) whose `block_device_mapping`
//! property lists the snapshots as block device mappings v2
//! (`source_type=snapshot`, `destination_type=volume`, `snapshot_id`,
//! `volume_size`, `boot_index`), with `bdm_v2` and `root_device_name`,
//! and the server's image's properties.
//!
//! No task runs on the server: the snapshots finish in the volume
//! service (clients wait for them to be `available`). A snapshot refused
//! part way (a volume in the wrong state) deletes the snapshots already
//! taken, so a refused request leaves neither image nor snapshots.
//!
//! Booting from such an image boots from new volumes made from its
//! snapshots: the create path takes the image's mappings as the boot's
//! ([`mappings`]), as Nova merges an image's block device mappings.

use super::lifecycle::start_action;
use super::{conflict_state, doc, vm};
use crate::error::{ComputeError, ComputeResult};
use crate::volumes::{BootVolumeSource, ServerVolumes, SnapshotCreate};
use crate::ComputeState;
use ferrostack_common::time::now_micros;
use ferrostack_compute_types::server::BootVolume;
use ferrostack_policy::AuthContext;
use ferrostack_store::image::Image;
use ferrostack_store::server::Instance;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Properties of the server's image not carried to its snapshot.
const NOT_INHERITED: &[&str] = &[
    "block_device_mapping",
    "bdm_v2",
    "root_device_name",
    "image_type",
    "image_location",
    "image_state",
    "instance_uuid",
    "user_id",
    "base_image_ref",
    "owner_project_name",
    "owner_user_name",
];

/// The image is a volume-backed server's snapshot (its data is in
/// volume snapshots named by `block_device_mapping`).
pub fn is_volume_image(image: &Image) -> bool {
    image.properties.contains_key("block_device_mapping")
}

/// The volumes a boot from `image` makes: one from each snapshot its
/// `block_device_mapping` names (an image without one: none). Anything
/// else in it is a 400, as Nova refuses mappings it cannot honour.
pub fn mappings(image: &Image) -> ComputeResult<Vec<BootVolume>> {
    let Some(raw) = image.properties.get("block_device_mapping") else {
        return Ok(Vec::new());
    };
    let invalid = |why: &str| {
        ComputeError::BadRequest(format!(
            "Block Device Mapping is Invalid: image {}'s block_device_mapping {why}.",
            image.id
        ))
    };
    let list: Vec<Value> = serde_json::from_str(raw).map_err(|_| invalid("is not a JSON list"))?;
    let mut out = Vec::new();
    for m in &list {
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default();
        if text("source_type") != "snapshot" || text("destination_type") != "volume" {
            return Err(invalid("has a mapping other than a volume from a snapshot"));
        }
        let snapshot_id = text("snapshot_id");
        if uuid::Uuid::parse_str(snapshot_id).is_err() {
            return Err(invalid("names no snapshot"));
        }
        out.push(BootVolume {
            source: BootVolumeSource::Snapshot(snapshot_id.to_string()),
            size_gib: m.get("volume_size").and_then(Value::as_u64).unwrap_or(0),
            boot_index: m
                .get("boot_index")
                .and_then(Value::as_u64)
                .and_then(|i| u32::try_from(i).ok()),
            delete_on_termination: m
                .get("delete_on_termination")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            volume_type: None,
            tag: None,
        });
    }
    Ok(out)
}

/// Snapshot the server's volumes and create the image; its id.
pub fn create(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
    request_id: &str,
    name: String,
    extra: BTreeMap<String, String>,
) -> ComputeResult<String> {
    let allowed = [vm::ACTIVE, vm::STOPPED, vm::PAUSED, vm::SUSPENDED];
    if i.task_state.is_some() || !allowed.contains(&i.vm_state.as_str()) {
        return Err(conflict_state(&i.uuid, "createImage", i));
    }
    let service = state.link.volumes().ok_or_else(|| {
        ComputeError::BadRequest("This cloud has no block storage service.".into())
    })?;
    let d = doc(i)?;
    let mut mappings = Vec::new();
    let mut taken = Vec::new();
    for v in &d.volumes {
        let req = SnapshotCreate {
            volume_id: v.volume_id.clone(),
            force: true,
            name: Some(format!("snapshot for {name}")),
            description: Some(String::new()),
        };
        match service.create_snapshot(caller, &req) {
            Ok(s) => {
                mappings.push(mapping(&s.id, s.size_gib, v));
                taken.push(s.id);
            }
            Err(e) => {
                undo(service, caller, &taken);
                return Err(e);
            }
        }
    }
    let image = image_record(state, caller, i, &d.image_id, name, extra, mappings)?;
    if let Err(e) = state.images.create_image(&image).and_then(|made| {
        made.then_some(())
            .ok_or_else(|| ferrostack_store::StoreError::Invalid("image id clash".into()))
    }) {
        undo(service, caller, &taken);
        return Err(e.into());
    }
    start_action(
        state,
        caller,
        i,
        "createImage",
        request_id,
        "api_snapshot_instance",
    )?;
    state.link.finish_action(&i.uuid, request_id, true);
    tracing::info!(server = %i.uuid, image = %image.id, snapshots = ?taken, "volume-backed snapshot");
    Ok(image.id)
}

fn undo(service: &Arc<dyn ServerVolumes>, caller: &AuthContext, taken: &[String]) {
    for id in taken {
        if let Err(e) = service.delete_snapshot(caller, id) {
            tracing::warn!(snapshot_id = %id, error = %e, "an undone snapshot stays");
        }
    }
}

/// One block device mapping v2 of the image (Nova's `snapshot_from_bdm`
/// as an image mapping).
fn mapping(snapshot_id: &str, size_gib: u64, v: &crate::volumes::ServerVolume) -> Value {
    json!({
        "source_type": "snapshot",
        "destination_type": "volume",
        "snapshot_id": snapshot_id,
        "volume_size": size_gib,
        "boot_index": v.boot_index,
        "device_name": v.device,
        "delete_on_termination": v.delete_on_termination,
        "tag": v.tag,
        "disk_bus": "virtio",
        "device_type": "disk",
        "guest_format": null,
        "volume_type": null,
        "no_device": null,
        "image_id": null,
        "volume_id": null,
    })
}

/// The image record: active and empty (Nova uploads zero bytes to make
/// it active), the server's image's properties and the mappings.
fn image_record(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
    base_image: &str,
    name: String,
    extra: BTreeMap<String, String>,
    mappings: Vec<Value>,
) -> ComputeResult<Image> {
    let source = match base_image {
        "" => None,
        id => state.images.get_image(id)?,
    };
    let mut properties: BTreeMap<String, String> = source
        .as_ref()
        .map(|s| s.properties.clone())
        .unwrap_or_default();
    properties.retain(|k, _| !NOT_INHERITED.contains(&k.as_str()));
    properties.insert("instance_uuid".into(), i.uuid.clone());
    properties.insert("user_id".into(), caller.user_id.clone());
    if !base_image.is_empty() {
        properties.insert("base_image_ref".into(), base_image.to_string());
    }
    properties.insert(
        "block_device_mapping".into(),
        Value::Array(mappings).to_string(),
    );
    properties.insert("bdm_v2".into(), "True".into());
    properties.insert("root_device_name".into(), "/dev/vda".into());
    properties.extend(extra);
    let now = now_micros();
    Ok(Image {
        id: ferrostack_common::ids::new_uuid(),
        name: Some(name),
        status: "active".into(),
        visibility: "private".into(),
        owner: Some(i.project_id.clone()),
        protected: false,
        os_hidden: false,
        disk_format: Some("raw".into()),
        container_format: Some("bare".into()),
        size: Some(0),
        virtual_size: None,
        checksum: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
        os_hash_algo: Some("sha512".into()),
        os_hash_value: Some(
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce\
             47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
                .into(),
        ),
        min_disk: source.as_ref().map(|s| s.min_disk).unwrap_or(0),
        min_ram: source.as_ref().map(|s| s.min_ram).unwrap_or(0),
        tags: Vec::new(),
        properties,
        created_at: now,
        updated_at: now,
    })
}
