//! Volumes of a server that already exists (Nova's
//! `os-volume_attachments`, `openstack server add/remove volume`): the
//! volume is reserved and connected on the server's host, the server's
//! document and the desired VM's disks gain it, and the host agent, which
//! compares the desired disks with the VM's, hot-plugs it (QMP
//! `blockdev-add` + `device_add`). The attachment completes (the volume
//! `in-use`) when the host reports the disk (see the host link's
//! `volumes`).
//!
//! ```text
//! attach: check state -> draw the attachment id -> record it (reserving)
//!         -> Cinder: reserve (404/400) -> connect on the host
//!         -> one modify_instance: re-check state and host, the disk's
//!            connection, desired disks + generation -> agent plugs
//!         -> report at that generation: complete (in-use), or release
//!            if the disk is not there
//!         (a refusal after the reservation releases it and drops the record)
//! detach: check state -> one modify_instance: move the volume to
//!         detaching, desired disks + generation -> Cinder: detaching
//!         -> agent unplugs -> report without the disk: release (available)
//! ```
//!
//! The attachment id is recorded before Cinder hears of it, so a crash
//! anywhere leaves a record the server's delete releases; Cinder's
//! reservation alone never outlives its server.

use super::lifecycle::{start_action, to_store};
use super::{conflict_state, desired, doc, set_desired, set_doc, vm, PendingTask, ServerDoc};
use crate::error::{ComputeError, ComputeResult};
use crate::hostlink::HostLink;
use crate::volumes::{next_device, ServerVolume, ServerVolumes};
use crate::ComputeState;
use ferrostack_host_contract::ObservedInstance;
use ferrostack_policy::AuthContext;
use ferrostack_store::server::{Instance, ServerStore};
use std::sync::Arc;

/// The `vm_state`s a volume may be attached or detached in (Nova's, less
/// the shelved and soft-deleted ones ferrostack does not have).
const STATES: &[&str] = &[vm::ACTIVE, vm::PAUSED, vm::STOPPED, vm::RESIZED];

/// What an attach asks for (the checked body of the request).
#[derive(Clone, Debug, Default)]
pub struct Attach {
    /// The volume.
    pub volume_id: String,
    /// The device tag (2.49).
    pub tag: Option<String>,
    /// Delete the volume with the server (2.79).
    pub delete_on_termination: bool,
}

fn service(state: &ComputeState) -> ComputeResult<&Arc<dyn ServerVolumes>> {
    state.link.volumes().ok_or_else(|| {
        ComputeError::Conflict("This cloud has no block storage service to attach from.".into())
    })
}

fn check_state(i: &Instance, action: &str) -> ComputeResult<()> {
    let placed = i.host.is_some() && i.desired.is_some();
    if i.deleted_at.is_some()
        || i.task_state.is_some()
        || !STATES.contains(&i.vm_state.as_str())
        || !placed
    {
        return Err(conflict_state(&i.uuid, action, i));
    }
    Ok(())
}

/// Write the server's disks into the desired VM (new generation) with the
/// pending action `request_id`.
fn set_disks(row: &mut Instance, d: &mut ServerDoc, request_id: &str) -> ComputeResult<()> {
    let Some(mut want) = desired(row)? else {
        return Err(conflict_state(&row.uuid, "attach_volume", row));
    };
    want.spec.volumes = d.volumes.iter().filter_map(ServerVolume::spec).collect();
    set_desired(row, want)?;
    d.pending_nics.push(PendingTask {
        request_id: request_id.to_string(),
        generation: row.generation,
    });
    set_doc(row, d)
}

/// Nova's 404 for a volume that is not one of the server's.
pub fn not_attached(server_id: &str, volume_id: &str) -> ComputeError {
    ComputeError::NotFound(format!(
        "volume_id not found: {volume_id} is not attached to server {server_id}"
    ))
}

/// Attach a volume to server `i` (already found for `caller`); the
/// mapping it got. Nothing is left reserved when it fails.
pub fn attach(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
    request_id: &str,
    req: &Attach,
) -> ComputeResult<ServerVolume> {
    super::actions::check_lock(caller, i)?;
    check_state(i, "attach_volume")?;
    let service = service(state)?;
    let d = doc(i)?;
    if d.volumes.iter().any(|v| v.volume_id == req.volume_id) {
        return Err(ComputeError::BadRequest(format!(
            "Invalid volume: volume {} already attached",
            req.volume_id
        )));
    }
    let host = i.host.clone().unwrap_or_default();
    let attachment_id = uuid::Uuid::new_v4().to_string();
    let mut record = ServerVolume {
        volume_id: req.volume_id.clone(),
        attachment_id: attachment_id.clone(),
        device: String::new(),
        connection: None,
        size_gib: 0,
        read_only: false,
        limits: Default::default(),
        boot_index: None,
        delete_on_termination: req.delete_on_termination,
        tag: req.tag.clone(),
        attached: false,
        top_generation: 0,
    };
    // Recorded before Cinder reserves it, so a crash leaves a record the
    // server's delete releases.
    state
        .servers
        .modify_instance(&i.uuid, &mut |row| {
            check_state(row, "attach_volume").map_err(to_store)?;
            let mut d = doc(row).map_err(to_store)?;
            let taken: Vec<ServerVolume> = d
                .volumes
                .iter()
                .chain(&d.detaching_volumes)
                .cloned()
                .collect();
            record.device = next_device(&taken).ok_or_else(|| {
                to_store(ComputeError::Forbidden(
                    "The maximum allowed number of disk devices (26) to attach to a single \
                     instance has been exceeded."
                        .into(),
                ))
            })?;
            d.volumes.push(record.clone());
            set_doc(row, &d).map_err(to_store)
        })
        .map_err(super::lifecycle::from_store)?;
    let connected = service
        .reserve(caller, &req.volume_id, &i.uuid, &attachment_id)
        .and_then(|()| service.connect(&attachment_id, &host));
    let written = connected.and_then(|c| {
        record.connection = Some(c.connection);
        record.size_gib = c.size_gib;
        record.read_only = c.read_only;
        record.limits = c.limits;
        state
            .servers
            .modify_instance(&i.uuid, &mut |row| {
                check_state(row, "attach_volume").map_err(to_store)?;
                if row.host.as_deref() != Some(host.as_str()) {
                    return Err(to_store(conflict_state(&row.uuid, "attach_volume", row)));
                }
                let mut d = doc(row).map_err(to_store)?;
                for v in d.volumes.iter_mut() {
                    if v.attachment_id == attachment_id {
                        *v = record.clone();
                    }
                }
                set_disks(row, &mut d, request_id).map_err(to_store)
            })
            .map_err(super::lifecycle::from_store)
    });
    let updated = match written {
        Ok(row) => row,
        Err(e) => {
            undo(state, service, &i.uuid, &attachment_id);
            return Err(e);
        }
    };
    start_action(
        state,
        caller,
        &updated,
        "attach_volume",
        request_id,
        "compute_attach_volume",
    )?;
    state.link.kick();
    Ok(record)
}

/// Release the reservation of an attach that failed, then its record.
fn undo(state: &ComputeState, service: &Arc<dyn ServerVolumes>, uuid: &str, attachment_id: &str) {
    if let Err(e) = service.release(attachment_id) {
        tracing::warn!(server = %uuid, error = %e, "cannot release the reservation of a failed attach; the server's delete will");
        return;
    }
    let result = state.servers.modify_instance(uuid, &mut |row| {
        let mut d = doc(row).map_err(to_store)?;
        d.volumes.retain(|v| v.attachment_id != attachment_id);
        set_doc(row, &d).map_err(to_store)
    });
    if let Err(e) = result {
        tracing::warn!(server = %uuid, error = %e, "cannot drop the record of an undone attach");
    }
}

/// Detach volume `volume_id` from server `i`: 404 when the server has no
/// such volume, 400 for the root volume of a server booted from volume.
pub fn detach(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
    request_id: &str,
    volume_id: &str,
) -> ComputeResult<()> {
    super::actions::check_lock(caller, i)?;
    check_state(i, "detach_volume")?;
    let service = service(state)?;
    let mut removed = None;
    let updated = state
        .servers
        .modify_instance(&i.uuid, &mut |row| {
            check_state(row, "detach_volume").map_err(to_store)?;
            let mut d = doc(row).map_err(to_store)?;
            let Some(at) = d.volumes.iter().position(|v| v.volume_id == volume_id) else {
                return Err(to_store(not_attached(&row.uuid, volume_id)));
            };
            if d.volumes[at].boot_index == Some(0) {
                return Err(to_store(ComputeError::BadRequest(
                    "Can't detach root device volume".into(),
                )));
            }
            if d.volumes[at].connection.is_none() {
                return Err(to_store(ComputeError::Conflict(format!(
                    "Volume {volume_id} is still being attached; try again when it is in-use"
                ))));
            }
            let gone = d.volumes.remove(at);
            d.detaching_volumes.push(gone.clone());
            set_disks(row, &mut d, request_id).map_err(to_store)?;
            removed = Some(gone);
            Ok(())
        })
        .map_err(super::lifecycle::from_store)?;
    if let Some(v) = removed {
        if let Err(e) = service.begin_detaching(&v.attachment_id) {
            tracing::warn!(server = %i.uuid, volume = %v.volume_id, error = %e, "cannot mark a volume detaching");
        }
    }
    start_action(
        state,
        caller,
        &updated,
        "detach_volume",
        request_id,
        "compute_detach_volume",
    )?;
    state.link.kick();
    Ok(())
}

/// The storage backend froze the top of attached volume `volume_id` (a
/// live snapshot): the disk's top generation in server `uuid`'s spec
/// moves on, and its host switches the running guest onto the new top
/// (QMP `blockdev-snapshot`). Returns the generation the host must report
/// for the switch to be done; `None` when the server has no connected
/// disk of that volume (nothing of it holds the old top).
pub fn volume_top_frozen(
    servers: &dyn ServerStore,
    link: &HostLink,
    uuid: &str,
    volume_id: &str,
) -> ComputeResult<Option<u64>> {
    let mut target = None;
    servers
        .modify_instance(uuid, &mut |row| {
            target = None;
            if row.deleted_at.is_some() {
                return Ok(());
            }
            let mut d = doc(row).map_err(to_store)?;
            let Some(v) = d
                .volumes
                .iter_mut()
                .find(|v| v.volume_id == volume_id && v.connection.is_some())
            else {
                return Ok(());
            };
            v.top_generation += 1;
            target = Some(v.top_generation);
            if let Some(mut want) = desired(row).map_err(to_store)? {
                want.spec.volumes = d.volumes.iter().filter_map(ServerVolume::spec).collect();
                set_desired(row, want).map_err(to_store)?;
            }
            set_doc(row, &d).map_err(to_store)
        })
        .map_err(super::lifecycle::from_store)?;
    link.kick();
    Ok(target)
}

/// Whether server `uuid` no longer holds the old top of `volume_id` after
/// [`volume_top_frozen`] answered `generation`: its host reported the
/// disk at that generation or later, or reported the server's current
/// spec without the disk, or the server or its disk is gone.
pub fn volume_top_switched(
    servers: &dyn ServerStore,
    uuid: &str,
    volume_id: &str,
    generation: u64,
) -> ComputeResult<bool> {
    let Some(row) = servers
        .get_instance(uuid)
        .map_err(super::lifecycle::from_store)?
    else {
        return Ok(true);
    };
    let d = doc(&row)?;
    if !d
        .volumes
        .iter()
        .any(|v| v.volume_id == volume_id && v.connection.is_some())
    {
        return Ok(true);
    }
    let Some(o) = row
        .observed
        .as_ref()
        .and_then(|v| serde_json::from_value::<ObservedInstance>(v.clone()).ok())
    else {
        return Ok(false);
    };
    Ok(match o.volumes.iter().find(|v| v.volume_id == volume_id) {
        Some(v) => v.top_generation >= generation,
        None => o.observed_generation as i64 >= row.generation,
    })
}

/// Volume `volume_id` attached to server `uuid` was extended to
/// `size_gib` (Cinder's `volume-extended` event, in process): the disk's
/// size in the VM's spec follows, and the host grows it in the running
/// guest (QMP `block_resize`). A server without that volume is left alone.
/// Takes the store and the link rather than the compute state, because
/// the volume service calls it from outside compute's router.
pub fn volume_extended(
    servers: &dyn ServerStore,
    link: &HostLink,
    uuid: &str,
    volume_id: &str,
    size_gib: u64,
) -> ComputeResult<()> {
    servers
        .modify_instance(uuid, &mut |row| {
            let mut d = doc(row).map_err(to_store)?;
            let Some(v) = d.volumes.iter_mut().find(|v| v.volume_id == volume_id) else {
                return Ok(());
            };
            if v.size_gib >= size_gib {
                return Ok(());
            }
            v.size_gib = size_gib;
            let Some(mut want) = desired(row).map_err(to_store)? else {
                return set_doc(row, &d).map_err(to_store);
            };
            want.spec.volumes = d.volumes.iter().filter_map(ServerVolume::spec).collect();
            set_desired(row, want).map_err(to_store)?;
            set_doc(row, &d).map_err(to_store)
        })
        .map_err(super::lifecycle::from_store)?;
    link.kick();
    Ok(())
}
