//! Interfaces of a server that already runs (Nova's `os-interface`,
//! `openstack server add/remove port|network`): a port is bound to the
//! server's host, the server's NICs (its document's `nics`, Nova's
//! network info cache) gain or lose it, and the desired instance's NICs
//! change with them, so the host agent, which compares the desired NICs
//! with the VM's, hotplugs or unplugs it (QMP `device_add`/`device_del`).
//!
//! ```text
//! attach: check state -> resolve (404/409/400) -> allocate the port on the
//!         server's host -> one modify_instance: re-check state, add the
//!         NIC, desired NICs + generation -> agent plugs when the port is
//!         wired -> the report at that generation ends the action
//!         (a refusal after the allocation gives the port back)
//! detach: check state -> one modify_instance: drop the NIC, desired NICs
//!         + generation -> give the port back (delete what the attach
//!         created, unbind what the user brought) -> agent unplugs; the
//!         port's wiring goes only once the VM has let go of it
//! ```
//!
//! Each change is one atomic read-modify-write of the server's row, so
//! two attaches (or an attach and a detach) racing on one server both
//! land: neither can write a NIC list read before the other's. Nova
//! allows both from `ACTIVE`, `PAUSED` and `STOPPED` with no task
//! running; ferrostack also needs the server placed on a host.
//!
//! Rejected: waiting in the API for the agent's hotplug (Nova's call is
//! synchronous). The desired state is the promise here as for every
//! other action; the instance action (`attach_interface`,
//! `detach_interface`) stays open until the host reaches the generation.
//! The port is recorded in the server's document (`attaching`) before it
//! is created or bound, and the record goes when the NIC is written or
//! the attach is undone: a crash in between leaves a port bound to the
//! server but not plugged, and the server's delete gives it back with its
//! NICs (deleted if the attach made it, unbound if it was the user's).

use super::lifecycle::{config_drive, from_store, nic_specs, start_action, to_store, DEFAULT_ZONE};
use super::{
    conflict_state, desired, doc, set_desired, set_doc, vm, AttachingPort, PendingTask, ServerDoc,
};
use crate::error::{ComputeError, ComputeResult};
use crate::networks::{Allocation, NicRequest, ServerNetworks, ServerNic};
use crate::ComputeState;
use ferrostack_policy::AuthContext;
use ferrostack_store::server::Instance;
use std::sync::Arc;

/// The `vm_state`s an interface may be attached or detached in.
const STATES: &[&str] = &[vm::ACTIVE, vm::PAUSED, vm::STOPPED];

/// What an attach asks for (the checked body of the request).
#[derive(Clone, Debug, Default)]
pub struct Attach {
    /// An existing port.
    pub port_id: Option<String>,
    /// A network to create a port on.
    pub network_id: Option<String>,
    /// The address wanted on `network_id`.
    pub fixed_ip: Option<String>,
    /// The device tag.
    pub tag: Option<String>,
}

fn service(state: &ComputeState) -> ComputeResult<&Arc<dyn ServerNetworks>> {
    state.link.networks().ok_or_else(|| {
        ComputeError::Conflict(
            "This cloud has no network service to attach interfaces from.".into(),
        )
    })
}

/// 409 unless `i` may take an interface change now (`action` names it in
/// Nova's message).
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

/// Write `nics` as the server's NICs: its document, the desired VM's
/// NICs and config drive (a later respawn gets them), a new generation,
/// and the pending action `request_id`, in one change of the row.
fn set_nics(
    row: &mut Instance,
    d: &mut ServerDoc,
    nics: Vec<ServerNic>,
    request_id: &str,
) -> ComputeResult<()> {
    d.nics = nics;
    let Some(mut want) = desired(row)? else {
        return Err(conflict_state(&row.uuid, "attach_interface", row));
    };
    want.spec.nics = nic_specs(&d.nics);
    want.spec.config_drive = Some(config_drive(row, d)?);
    set_desired(row, want)?;
    d.pending_nics.push(PendingTask {
        request_id: request_id.to_string(),
        generation: row.generation,
    });
    set_doc(row, d)
}

/// Attach an interface to server `i` (already found for `caller`); the
/// NIC it got. Nothing is left behind when it fails.
pub fn attach(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
    request_id: &str,
    req: &Attach,
) -> ComputeResult<ServerNic> {
    super::actions::check_lock(caller, i)?;
    check_state(i, "attach_interface")?;
    let service = service(state)?;
    let request = service.resolve_attach(
        caller,
        &NicRequest {
            network_id: req.network_id.clone(),
            port_id: req.port_id.clone(),
            fixed_ip: req.fixed_ip.clone(),
            tag: req.tag.clone(),
        },
    )?;
    let host = i.host.clone().unwrap_or_default();
    let zone = doc(i)?
        .availability_zone
        .unwrap_or_else(|| DEFAULT_ZONE.to_string());
    let new_port_ids: Vec<String> = match request.port_id {
        Some(_) => Vec::new(),
        None => vec![uuid::Uuid::new_v4().to_string()],
    };
    // The port is named in the server's document before it is made or
    // bound, so a crash between the two leaves a record the delete gives
    // back (see `ServerDoc::attaching`).
    let intent = AttachingPort {
        port_id: (request.port_id.clone())
            .or_else(|| new_port_ids.first().cloned())
            .unwrap_or_default(),
        created: request.port_id.is_none(),
    };
    state
        .servers
        .modify_instance(&i.uuid, &mut |row| {
            check_state(row, "attach_interface").map_err(to_store)?;
            let mut d = doc(row).map_err(to_store)?;
            d.attaching.push(intent.clone());
            set_doc(row, &d).map_err(to_store)
        })
        .map_err(from_store)?;
    // A port made here gets the groups of the server's other ports (none:
    // the project's default group), as Nova gives it the instance's.
    let groups = match request.port_id {
        Some(_) => Vec::new(),
        None => service.server_security_group_ids(&i.uuid)?,
    };
    let allocation = Allocation {
        project_id: &i.project_id,
        server_id: &i.uuid,
        host: &host,
        zone: &zone,
        requests: std::slice::from_ref(&request),
        new_port_ids: &new_port_ids,
        security_groups: &groups,
    };
    let allocated = service.allocate(&allocation).and_then(|nics| {
        nics.into_iter()
            .next()
            .ok_or_else(|| ComputeError::Internal("an attach allocated no port".into()))
    });
    let written = allocated.and_then(|nic| {
        state
            .servers
            .modify_instance(&i.uuid, &mut |row| {
                check_state(row, "attach_interface").map_err(to_store)?;
                if row.host.as_deref() != Some(host.as_str()) {
                    return Err(to_store(conflict_state(&row.uuid, "attach_interface", row)));
                }
                let mut d = doc(row).map_err(to_store)?;
                d.attaching.retain(|a| a != &intent);
                let mut nics = d.nics.clone();
                nics.retain(|n| n.port_id != nic.port_id);
                nics.push(nic.clone());
                set_nics(row, &mut d, nics, request_id).map_err(to_store)
            })
            .map(|row| (row, nic))
            .map_err(from_store)
    });
    let (updated, nic) = match written {
        Ok(done) => done,
        Err(e) => {
            // Give back what this attach took (the port it created, or
            // the user's port it bound), then its record.
            let unbind: Vec<String> = request.port_id.iter().cloned().collect();
            match service.release(&i.uuid, &new_port_ids, &unbind) {
                Ok(()) => forget(state, &i.uuid, &intent),
                Err(undo) => {
                    tracing::warn!(server = %i.uuid, error = %undo, "cannot give back the port of a failed attach; the server's delete will")
                }
            }
            return Err(e);
        }
    };
    start_action(
        state,
        caller,
        &updated,
        "attach_interface",
        request_id,
        "compute_attach_interface",
    )?;
    state.link.kick();
    Ok(nic)
}

/// Detach the interface of port `port_id` from server `i`: 404 when the
/// server has no such NIC. The port is deleted if an attach or the boot
/// created it, unbound if the user brought it.
pub fn detach(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
    request_id: &str,
    port_id: &str,
) -> ComputeResult<()> {
    super::actions::check_lock(caller, i)?;
    check_state(i, "detach_interface")?;
    let service = service(state)?;
    let mut removed = None;
    let updated = state
        .servers
        .modify_instance(&i.uuid, &mut |row| {
            check_state(row, "detach_interface").map_err(to_store)?;
            let mut d = doc(row).map_err(to_store)?;
            let Some(gone) = d.nics.iter().find(|n| n.port_id == port_id).cloned() else {
                return Err(to_store(not_attached(port_id)));
            };
            let nics = d
                .nics
                .iter()
                .filter(|n| n.port_id != port_id)
                .cloned()
                .collect();
            set_nics(row, &mut d, nics, request_id).map_err(to_store)?;
            removed = Some(gone);
            Ok(())
        })
        .map_err(from_store)?;
    start_action(
        state,
        caller,
        &updated,
        "detach_interface",
        request_id,
        "compute_detach_interface",
    )?;
    if let Some(nic) = removed {
        let id = [nic.port_id.clone()];
        let (delete, unbind) = if nic.preserve_on_delete {
            (&[][..], &id[..])
        } else {
            (&id[..], &[][..])
        };
        // The NIC has left the server's document either way; a port that
        // cannot be given back now is logged (it stays bound, unused).
        if let Err(e) = service.release(&i.uuid, delete, unbind) {
            tracing::error!(server = %i.uuid, port = %nic.port_id, error = %e, "cannot give back a detached port");
        }
    }
    state.link.kick();
    Ok(())
}

/// Drop the record of an attach that was undone.
fn forget(state: &ComputeState, uuid: &str, intent: &AttachingPort) {
    let result = state.servers.modify_instance(uuid, &mut |row| {
        let mut d = doc(row).map_err(to_store)?;
        d.attaching.retain(|a| a != intent);
        set_doc(row, &d).map_err(to_store)
    });
    if let Err(e) = result {
        tracing::warn!(server = %uuid, error = %e, "cannot drop the record of an undone attach");
    }
}

/// Nova's 404 for a port that is not one of the server's.
pub fn not_attached(port_id: &str) -> ComputeError {
    ComputeError::NotFound(format!("Port {port_id} is not attached"))
}
