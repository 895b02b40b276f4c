//! `POST /servers/{id}/action`: Nova's server actions as changes of the
//! desired state, each guarded by the states Nova allows it from.
//!
//! Every action is one atomic [`ServerStore::modify_instance`]: the state
//! check (409 `conflictingRequest` when the server is in the wrong
//! `vm_state` or busy with a task) and the change (task state, desired
//! power, generation) commit together, so two racing actions cannot both
//! pass. The host agent does the work; the host link ends the task.
//!
//! [`ServerStore::modify_instance`]: ferrostack_store::server::ServerStore::modify_instance

use super::lifecycle::{from_store, start_action, to_store};
use super::{conflict_state, desired, doc, set_desired, set_doc, task, vm, PendingTask};
use crate::error::{ComputeError, ComputeResult};
use crate::ComputeState;
use ferrostack_host_contract::{DesiredInstance, DesiredPower, RebootRequest};
use ferrostack_policy::AuthContext;
use ferrostack_store::server::Instance;
use ferrostack_store::StoreError;

/// 409 when a non-admin acts on a locked server.
pub fn check_lock(caller: &AuthContext, i: &Instance) -> ComputeResult<()> {
    let d = doc(i)?;
    if d.locked && !caller.is_admin() {
        return Err(ComputeError::Conflict(format!(
            "Instance {} is locked",
            i.uuid
        )));
    }
    Ok(())
}

/// A power action: which states it starts from, the task it sets, and
/// how it changes the desired state.
pub struct Transition<'a> {
    /// Nova's action name for messages (`stop`, `reboot`, ...).
    pub action: &'a str,
    /// The instance action's name (`stop`, `start`, ...).
    pub record: &'a str,
    /// The instance action event (`compute_stop_instance`).
    pub event: &'a str,
    /// `vm_state`s it may start from (with no task running).
    pub from: &'a [&'a str],
    /// The task state while it runs.
    pub task: &'a str,
    /// What it asks of the host.
    pub change: &'a (dyn Fn(&mut DesiredInstance) + Sync),
}

/// Apply `t` to server `i` as `caller`.
pub fn transition(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
    request_id: &str,
    t: &Transition<'_>,
) -> ComputeResult<Instance> {
    check_lock(caller, i)?;
    let request = request_id.to_string();
    let updated = state
        .servers
        .modify_instance(&i.uuid, &mut |row| {
            if row.task_state.is_some() || !t.from.contains(&row.vm_state.as_str()) {
                let e = conflict_state(&row.uuid, t.action, row);
                return Err(to_store(e));
            }
            let Some(mut want) = desired(row).map_err(to_store)? else {
                return Err(to_store(conflict_state(&row.uuid, t.action, row)));
            };
            (t.change)(&mut want);
            set_desired(row, want).map_err(to_store)?;
            row.task_state = Some(t.task.to_string());
            let mut d = doc(row).map_err(to_store)?;
            d.pending = Some(PendingTask {
                request_id: request.clone(),
                generation: row.generation,
            });
            set_doc(row, &d).map_err(to_store)
        })
        .map_err(from_store)?;
    start_action(state, caller, &updated, t.record, request_id, t.event)?;
    state.link.kick();
    Ok(updated)
}

/// `addSecurityGroup` (`add`) or `removeSecurityGroup`: the group is
/// added to or removed from every port of the server (the network service
/// rewires the host), in any state, as Nova allows.
pub fn security_group(
    s: &ComputeState,
    c: &AuthContext,
    i: &Instance,
    group: &str,
    add: bool,
) -> ComputeResult<()> {
    let Some(service) = s.link.networks() else {
        return Err(ComputeError::NotFound(format!(
            "instance_id {} could not be found as device id on any ports",
            i.uuid
        )));
    };
    service.change_security_group(c, &i.uuid, group, add)
}

/// `os-stop`.
pub fn stop(s: &ComputeState, c: &AuthContext, i: &Instance, r: &str) -> ComputeResult<Instance> {
    transition(
        s,
        c,
        i,
        r,
        &Transition {
            action: "stop",
            record: "stop",
            event: "compute_stop_instance",
            from: &[vm::ACTIVE, vm::ERROR],
            task: task::POWERING_OFF,
            change: &|d| d.power = DesiredPower::Stopped,
        },
    )
}

/// `os-start`.
pub fn start(s: &ComputeState, c: &AuthContext, i: &Instance, r: &str) -> ComputeResult<Instance> {
    transition(
        s,
        c,
        i,
        r,
        &Transition {
            action: "start",
            record: "start",
            event: "compute_start_instance",
            from: &[vm::STOPPED],
            task: task::POWERING_ON,
            change: &|d| d.power = DesiredPower::Running,
        },
    )
}

/// `reboot` (`SOFT` or `HARD`).
pub fn reboot(
    s: &ComputeState,
    c: &AuthContext,
    i: &Instance,
    r: &str,
    hard: bool,
) -> ComputeResult<Instance> {
    let request_id = r.to_string();
    let change = move |d: &mut DesiredInstance| {
        d.power = DesiredPower::Running;
        d.reboot = Some(RebootRequest {
            hard,
            request_id: request_id.clone(),
        });
    };
    let from: &[&str] = if hard {
        &[
            vm::ACTIVE,
            vm::STOPPED,
            vm::PAUSED,
            vm::SUSPENDED,
            vm::ERROR,
        ]
    } else {
        &[vm::ACTIVE]
    };
    let updated = transition(
        s,
        c,
        i,
        r,
        &Transition {
            action: "reboot",
            record: "reboot",
            event: "compute_reboot_instance",
            from,
            task: if hard {
                task::REBOOTING_HARD
            } else {
                task::REBOOTING
            },
            change: &change,
        },
    )?;
    Ok(updated)
}

/// `pause`, `unpause`, `suspend`, `resume`.
pub fn power_action(
    s: &ComputeState,
    c: &AuthContext,
    i: &Instance,
    r: &str,
    action: &str,
) -> ComputeResult<Instance> {
    let (from, task, power, event) = match action {
        "pause" => (
            vm::ACTIVE,
            task::PAUSING,
            DesiredPower::Paused,
            "compute_pause_instance",
        ),
        "unpause" => (
            vm::PAUSED,
            task::UNPAUSING,
            DesiredPower::Running,
            "compute_unpause_instance",
        ),
        "suspend" => (
            vm::ACTIVE,
            task::SUSPENDING,
            DesiredPower::Suspended,
            "compute_suspend_instance",
        ),
        "resume" => (
            vm::SUSPENDED,
            task::RESUMING,
            DesiredPower::Running,
            "compute_resume_instance",
        ),
        other => {
            return Err(ComputeError::Internal(format!(
                "unknown power action {other}"
            )))
        }
    };
    transition(
        s,
        c,
        i,
        r,
        &Transition {
            action,
            record: action,
            event,
            from: &[from],
            task,
            change: &move |d| d.power = power,
        },
    )
}

/// `lock` / `unlock`. Nova: an owner may unlock what the owner locked;
/// what an admin locked only an admin unlocks.
pub fn set_lock(
    s: &ComputeState,
    c: &AuthContext,
    i: &Instance,
    r: &str,
    locked: bool,
    reason: Option<String>,
) -> ComputeResult<Instance> {
    let admin = c.is_admin();
    let updated = s
        .servers
        .modify_instance(&i.uuid, &mut |row| {
            let mut d = doc(row).map_err(to_store)?;
            if !locked && d.locked && d.locked_by.as_deref() == Some("admin") && !admin {
                return Err(StoreError::Conflict(
                    "Unlocking of a server locked by an administrator is not allowed.".into(),
                ));
            }
            d.locked = locked;
            d.locked_reason = if locked { reason.clone() } else { None };
            d.locked_by = locked.then(|| if admin { "admin" } else { "owner" }.to_string());
            set_doc(row, &d).map_err(to_store)
        })
        .map_err(|e| match e {
            StoreError::Conflict(m) => ComputeError::Forbidden(m),
            other => from_store(other),
        })?;
    let name = if locked { "lock" } else { "unlock" };
    start_action(s, c, &updated, name, r, &format!("api_{name}"))?;
    s.link.finish_action(&updated.uuid, r, true);
    Ok(updated)
}

/// `os-resetState` (admins): the server's `vm_state` becomes `to`
/// (`active` or `error`) and its task ends, as Nova's does, whatever it
/// was; the guest itself is left as it is. How an operator clears a
/// server a failed operation left stuck.
pub fn reset_state(
    s: &ComputeState,
    c: &AuthContext,
    i: &Instance,
    to: &str,
) -> ComputeResult<Instance> {
    if !c.is_admin() {
        return Err(ComputeError::Forbidden(
            "Policy doesn't allow os_compute_api:os-admin-actions:reset_state to be performed."
                .into(),
        ));
    }
    s.servers
        .modify_instance(&i.uuid, &mut |row| {
            row.vm_state = to.to_string();
            row.task_state = None;
            Ok(())
        })
        .map_err(from_store)
}

/// `rebuild`: the server keeps its id, flavor and host; its disk is
/// recreated from `imageRef` (which may be the same image). A stopped
/// server stays stopped, as in Nova.
pub fn rebuild(
    state: &ComputeState,
    caller: &AuthContext,
    v: ferrostack_compute_types::ApiVersion,
    i: &Instance,
    request_id: &str,
    args: &ferrostack_compute_types::server_action::Rebuild,
) -> ComputeResult<Instance> {
    check_lock(caller, i)?;
    let d = doc(i)?;
    if d.boots_from_volume() {
        return Err(ComputeError::BadRequest(
            "Unable to rebuild a volume-backed server: reimaging its root volume is not served \
             by ferrostack yet."
                .into(),
        ));
    }
    let image_ref = args.image_id()?;
    let image = crate::routes::servers::bootable_image(
        state,
        caller,
        &image_ref,
        d.flavor.ram,
        d.flavor.disk,
    )?;
    let format = super::lifecycle::base_format(&image)?;
    let name = args.name()?;
    let metadata = args.metadata()?;
    let key = match args.key_name(v)? {
        None => None,
        Some(None) => Some(None),
        Some(Some(k)) => Some(Some(
            state
                .compute
                .get_key_pair(&caller.user_id, &k)?
                .ok_or_else(|| ComputeError::BadRequest("Invalid key_name provided.".into()))?,
        )),
    };
    let user_data = args.user_data(v)?;
    let disk_config =
        ferrostack_compute_types::server_action::disk_config(args.sent.get("OS-DCF:diskConfig"))?;
    let request = request_id.to_string();
    let from = [vm::ACTIVE, vm::STOPPED, vm::ERROR];
    let updated = state
        .servers
        .modify_instance(&i.uuid, &mut |row| {
            if row.task_state.is_some() || !from.contains(&row.vm_state.as_str()) {
                return Err(to_store(conflict_state(&row.uuid, "rebuild", row)));
            }
            let Some(mut want) = desired(row).map_err(to_store)? else {
                return Err(to_store(conflict_state(&row.uuid, "rebuild", row)));
            };
            let mut d = doc(row).map_err(to_store)?;
            d.image_id = image.id.clone();
            if let Some(m) = &metadata {
                d.metadata = m.clone();
            }
            if let Some(k) = &key {
                d.key_name = k.as_ref().map(|k| k.name.clone());
                d.key_data = k.as_ref().map(|k| k.public_key.clone());
            }
            if let Some(u) = &user_data {
                d.user_data = u.clone();
            }
            if let Some(c) = &disk_config {
                d.disk_config = c.clone();
            }
            if let Some(n) = &name {
                row.name = n.clone();
            }
            d.fault = None;
            let spec = super::lifecycle::instance_spec(row, &d, format).map_err(to_store)?;
            // A rebuilt disk has the flavor's size; any resize backup is gone.
            want.spec = spec;
            want.resize = ferrostack_host_contract::ResizeDesire::None;
            want.power = if row.vm_state == vm::STOPPED {
                DesiredPower::Stopped
            } else {
                DesiredPower::Running
            };
            want.rebuild = Some(ferrostack_host_contract::RebuildRequest {
                request_id: request.clone(),
            });
            set_desired(row, want).map_err(to_store)?;
            row.task_state = Some(task::REBUILDING.into());
            d.pending = Some(PendingTask {
                request_id: request.clone(),
                generation: row.generation,
            });
            set_doc(row, &d).map_err(to_store)
        })
        .map_err(from_store)?;
    start_action(
        state,
        caller,
        &updated,
        "rebuild",
        request_id,
        "compute_rebuild_instance",
    )?;
    state.link.kick();
    Ok(updated)
}
