//! `resize` with `confirmResize` and `revertResize`: the API actions and
//! the changes of a server's row they make (the steps that reserve quota
//! and room and apply them are in [`super::resize_steps`]).
//!
//! A resize runs on the server's own host (Nova's
//! `allow_resize_to_same_host`, the only choice with one host; moving
//! hosts needs shared or copied disks and is left for migration). The
//! extra quota and placement the new flavor needs are held by a second
//! consumer (`<uuid>/resize`) until confirm, so a revert gives them back
//! without touching what the server held before.

use super::lifecycle::{from_store, quota_of, resources_of, start_action, to_store};
use super::resize_steps::{self, ResizeOp};
use super::{
    conflict_state, desired, doc, set_desired, set_doc, task, vm, FlavorSnapshot, PendingTask,
};
use crate::error::{ComputeError, ComputeResult};
use crate::hostlink::{resize_consumer, resize_delta};
use crate::ComputeState;
use ferrostack_compute_types::server_action::Resize;
use ferrostack_host_contract::{DesiredPower, ResizeDesire};
use ferrostack_policy::AuthContext;
use ferrostack_quota::COMPUTE;
use ferrostack_store::placement::Allocation;
use ferrostack_store::server::Instance;
use ferrostack_store::StoreError;
use std::collections::BTreeMap;

/// `resize`.
pub fn resize(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
    request_id: &str,
    args: &Resize,
) -> ComputeResult<Instance> {
    super::actions::check_lock(caller, i)?;
    let flavor_ref = args.flavor_id()?;
    let disk_config =
        ferrostack_compute_types::server_action::disk_config(args.disk_config.as_ref())?;
    let new = match state.compute.get_flavor(&flavor_ref)? {
        Some(f) if crate::routes::flavors::visible(&f, caller) => FlavorSnapshot::from(&f),
        _ => {
            return Err(ComputeError::BadRequest(format!(
                "Flavor {flavor_ref} could not be found."
            )))
        }
    };
    if i.task_state.is_some() || ![vm::ACTIVE, vm::STOPPED].contains(&i.vm_state.as_str()) {
        return Err(conflict_state(&i.uuid, "resize", i));
    }
    let d = doc(i)?;
    let old = d.flavor.clone();
    if new.id == old.id {
        return Err(ComputeError::BadRequest(
            "When resizing, instances must change flavor!".into(),
        ));
    }
    // A volume-backed root disk is the volume's size, not the flavor's.
    let from_volume = d.boots_from_volume();
    if new.disk < old.disk && !from_volume {
        return Err(ComputeError::BadRequest(
            "Resize error: Unable to resize disk down.".into(),
        ));
    }
    let Some(host) = i.host.clone() else {
        return Err(conflict_state(&i.uuid, "resize", i));
    };
    // The extra quota, then the extra room on the host, then the change:
    // steps of the runner, each undone at once if a later one fails.
    let (o, n) = (
        resources_of(&old, from_volume).resources(),
        resources_of(&new, from_volume).resources(),
    );
    let placement: BTreeMap<String, u64> = n
        .iter()
        .filter_map(|(k, v)| {
            let more = v.saturating_sub(o.get(k).copied().unwrap_or(0));
            (more > 0).then(|| (k.clone(), more))
        })
        .collect();
    let op = ResizeOp {
        server: i.uuid.clone(),
        project_id: i.project_id.clone(),
        user_id: i.user_id.clone(),
        host,
        request_id: request_id.to_string(),
        quota: resize_delta(&old, &new),
        new,
        placement,
        disk_config,
    };
    let out = std::cell::RefCell::new(None);
    let live = resize_steps::Live { caller, out: &out };
    let steps = resize_steps::steps(state, Some(live));
    state
        .operations
        .run(resize_steps::KIND, &i.uuid, op, steps)?;
    state.link.kick();
    out.into_inner()
        .ok_or_else(|| ComputeError::Internal("a resize ended without its server".into()))
}

/// True when `row` carries the resize of `op`: the new flavor, with the
/// old one kept for confirm or revert.
pub(super) fn resize_in_effect(row: &Instance, op: &ResizeOp) -> ComputeResult<bool> {
    let d = doc(row)?;
    Ok(d.old_flavor.is_some() && d.flavor.id == op.new.id)
}

/// The `apply` step of a resize: new flavor and size, task resize_prep.
pub(super) fn apply_resize(state: &ComputeState, op: &ResizeOp) -> ComputeResult<Instance> {
    let request = op.request_id.clone();
    let new = op.new.clone();
    state
        .servers
        .modify_instance(&op.server, &mut |row| {
            if row.task_state.is_some()
                || ![vm::ACTIVE, vm::STOPPED].contains(&row.vm_state.as_str())
            {
                return Err(to_store(conflict_state(&row.uuid, "resize", row)));
            }
            let Some(mut want) = desired(row).map_err(to_store)? else {
                return Err(to_store(conflict_state(&row.uuid, "resize", row)));
            };
            want.spec.vcpus = new.vcpus.max(1) as u32;
            want.spec.memory_mib = new.ram.max(1) as u64;
            want.spec.root_disk_gib = new.disk.max(0) as u64;
            want.resize = ResizeDesire::Keep;
            want.power = if row.vm_state == vm::STOPPED {
                DesiredPower::Stopped
            } else {
                DesiredPower::Running
            };
            set_desired(row, want).map_err(to_store)?;
            row.task_state = Some(task::RESIZE_PREP.into());
            let mut d = doc(row).map_err(to_store)?;
            d.old_flavor = Some(d.flavor.clone());
            d.flavor = new.clone();
            if let Some(c) = &op.disk_config {
                d.disk_config = c.clone();
            }
            d.pending = Some(PendingTask {
                request_id: request.clone(),
                generation: row.generation,
            });
            set_doc(row, &d).map_err(to_store)
        })
        .map_err(from_store)
}

/// The undo of `apply`: a server that carries this resize goes back to
/// its old flavor the way `revertResize` does (the agent reverts from its
/// backup if it had begun); one that does not is left alone.
pub(super) fn take_back_resize(state: &ComputeState, op: &ResizeOp) -> ComputeResult<()> {
    match state.servers.get_instance(&op.server)? {
        Some(row) if resize_in_effect(&row, op)? => {}
        _ => return Ok(()),
    }
    let request = op.request_id.clone();
    state
        .servers
        .modify_instance(&op.server, &mut |row| {
            if !resize_in_effect(row, op).map_err(to_store)? {
                return Ok(());
            }
            back_to_old_flavor(row, &request)
        })
        .map_err(from_store)?;
    Ok(())
}

/// Sizes and flavor back to the old ones, `ResizeDesire::Revert`, task
/// resize_reverting (for `revertResize` and a resize's undo).
fn back_to_old_flavor(row: &mut Instance, request: &str) -> Result<(), StoreError> {
    let mut d = doc(row).map_err(to_store)?;
    let (Some(old), Some(mut want)) = (d.old_flavor.take(), desired(row).map_err(to_store)?) else {
        return Err(to_store(conflict_state(&row.uuid, "revertResize", row)));
    };
    want.spec.vcpus = old.vcpus.max(1) as u32;
    want.spec.memory_mib = old.ram.max(1) as u64;
    want.spec.root_disk_gib = old.disk.max(0) as u64;
    want.resize = ResizeDesire::Revert;
    set_desired(row, want).map_err(to_store)?;
    row.task_state = Some(task::RESIZE_REVERTING.into());
    d.flavor = old;
    d.pending = Some(PendingTask {
        request_id: request.to_string(),
        generation: row.generation,
    });
    set_doc(row, &d).map_err(to_store)
}

/// `confirmResize`: the new flavor stays; the backup is dropped and the
/// server's quota and placement are re-taken as one consumer.
pub fn confirm_resize(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
    request_id: &str,
) -> ComputeResult<Instance> {
    super::actions::check_lock(caller, i)?;
    let request = request_id.to_string();
    let updated = state
        .servers
        .modify_instance(&i.uuid, &mut |row| {
            if row.vm_state != vm::RESIZED || row.task_state.is_some() {
                return Err(to_store(conflict_state(&row.uuid, "confirmResize", row)));
            }
            let Some(mut want) = desired(row).map_err(to_store)? else {
                return Err(to_store(conflict_state(&row.uuid, "confirmResize", row)));
            };
            want.resize = ResizeDesire::None;
            set_desired(row, want).map_err(to_store)?;
            row.task_state = Some(task::RESIZE_CONFIRMING.into());
            let mut d = doc(row).map_err(to_store)?;
            d.old_flavor = None;
            d.pending = Some(PendingTask {
                request_id: request.clone(),
                generation: row.generation,
            });
            set_doc(row, &d).map_err(to_store)
        })
        .map_err(from_store)?;
    // Fold the resize consumer into the server's own: release both, take
    // the new flavor (it fits: what was released is at least as much).
    let d = doc(&updated)?;
    let consumer = resize_consumer(&i.uuid);
    state.quotas.release(&COMPUTE, &consumer)?;
    state.quotas.release(&COMPUTE, &i.uuid)?;
    if let Err(e) = state.quotas.reserve_as(
        &COMPUTE,
        &i.project_id,
        &i.user_id,
        &i.uuid,
        &quota_of(&d.flavor),
    ) {
        tracing::warn!(server = %i.uuid, error = %e, "re-taking quota after a resize confirm failed");
    }
    if let Some(host) = &updated.host {
        state.placement.release(&consumer)?;
        state.placement.release(&i.uuid)?;
        let claim = state.placement.claim(&[Allocation {
            consumer: i.uuid.clone(),
            provider: host.clone(),
            resources: resources_of(&d.flavor, d.boots_from_volume()).resources(),
        }])?;
        if let Err(e) = claim {
            tracing::warn!(server = %i.uuid, error = %e, "re-claiming after a resize confirm failed");
        }
    }
    start_action(
        state,
        caller,
        &updated,
        "confirmResize",
        request_id,
        "compute_confirm_resize",
    )?;
    state.link.kick();
    Ok(updated)
}

/// `revertResize`: back to the old flavor and disk.
pub fn revert_resize(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
    request_id: &str,
) -> ComputeResult<Instance> {
    super::actions::check_lock(caller, i)?;
    let request = request_id.to_string();
    let updated = state
        .servers
        .modify_instance(&i.uuid, &mut |row| {
            if row.vm_state != vm::RESIZED || row.task_state.is_some() {
                return Err(to_store(conflict_state(&row.uuid, "revertResize", row)));
            }
            back_to_old_flavor(row, &request)
        })
        .map_err(from_store)?;
    let consumer = resize_consumer(&i.uuid);
    state.quotas.release(&COMPUTE, &consumer)?;
    state.placement.release(&consumer)?;
    start_action(
        state,
        caller,
        &updated,
        "revertResize",
        request_id,
        "compute_revert_resize",
    )?;
    state.link.kick();
    Ok(updated)
}
