//! Servers: the record the API keeps of each instance, Nova's state
//! vocabulary, and the steps that move a server through its life.
//!
//! A server is one [`Instance`] row. Its `doc` column holds a
//! [`ServerDoc`] (flavor snapshot, image, key, metadata, lock, fault...),
//! its `desired` column the host agent's [`DesiredInstance`], and its
//! `observed` column what the agent last reported. The API never talks
//! to a host: it changes the desired state (bumping its generation) and
//! sets Nova's `task_state`; the host link ([`crate::hostlink`]) turns
//! the agent's reports back into `vm_state`, `power_state` and faults.
//!
//! - [`lifecycle`]: create (quota, schedule, assign: explicit steps, each
//!   undone if a later one fails), delete and its completion, and the
//!   recovery of servers a crash left half-built.
//! - [`views`]: the JSON a client sees, per microversion.
//! - [`actions`]: the `POST /servers/{id}/action` state machine.
//! - [`snapshot`]: the `createImage` action.
//! - [`interfaces`]: NICs attached to and detached from a server that
//!   runs (`os-interface`).
//! - [`resize`]: resize with confirm/revert; [`resize_steps`]: its steps on
//!   the step/undo runner.

pub mod actions;
pub mod admin_actions;
pub mod create;
pub mod interfaces;
pub mod lifecycle;
pub mod resize;
pub mod resize_steps;
pub mod snapshot;
pub mod views;
pub mod volume_image;
pub mod volumes;

use crate::error::{ComputeError, ComputeResult};
use ferrostack_host_contract::DesiredInstance;
use ferrostack_policy::AuthContext;
use ferrostack_store::server::Instance;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Nova's `vm_state` values ferrostack uses.
pub mod vm {
    /// Being created.
    pub const BUILDING: &str = "building";
    /// Running.
    pub const ACTIVE: &str = "active";
    /// Powered off.
    pub const STOPPED: &str = "stopped";
    /// vCPUs halted.
    pub const PAUSED: &str = "paused";
    /// Suspended.
    pub const SUSPENDED: &str = "suspended";
    /// Resized, waiting for confirm or revert.
    pub const RESIZED: &str = "resized";
    /// Failed.
    pub const ERROR: &str = "error";
    /// Gone.
    pub const DELETED: &str = "deleted";
}

/// Nova's `task_state` values ferrostack uses.
pub mod task {
    /// Choosing a host.
    pub const SCHEDULING: &str = "scheduling";
    /// The host is creating the VM.
    pub const SPAWNING: &str = "spawning";
    /// Being deleted.
    pub const DELETING: &str = "deleting";
    /// Stopping.
    pub const POWERING_OFF: &str = "powering-off";
    /// Starting.
    pub const POWERING_ON: &str = "powering-on";
    /// Soft reboot.
    pub const REBOOTING: &str = "rebooting";
    /// Hard reboot.
    pub const REBOOTING_HARD: &str = "rebooting_hard";
    /// Pausing.
    pub const PAUSING: &str = "pausing";
    /// Unpausing.
    pub const UNPAUSING: &str = "unpausing";
    /// Suspending.
    pub const SUSPENDING: &str = "suspending";
    /// Resuming.
    pub const RESUMING: &str = "resuming";
    /// Taking a snapshot.
    pub const IMAGE_SNAPSHOT: &str = "image_snapshot";
    /// `createBackup` running.
    pub const IMAGE_BACKUP: &str = "image_backup";
    /// Resizing.
    pub const RESIZE_PREP: &str = "resize_prep";
    /// Reverting a resize.
    pub const RESIZE_REVERTING: &str = "resize_reverting";
    /// Confirming a resize.
    pub const RESIZE_CONFIRMING: &str = "resize_confirming";
    /// Rebuilding from an image.
    pub const REBUILDING: &str = "rebuilding";
}

/// Nova's power state codes.
pub mod power {
    /// Unknown / not there.
    pub const NOSTATE: i64 = 0;
    /// Running.
    pub const RUNNING: i64 = 1;
    /// Paused.
    pub const PAUSED: i64 = 3;
    /// Shut down.
    pub const SHUTDOWN: i64 = 4;
    /// Crashed.
    pub const CRASHED: i64 = 6;
    /// Suspended.
    pub const SUSPENDED: i64 = 7;
}

/// The flavor a server was booted with, copied at boot (Nova embeds it,
/// so deleting or changing the flavor later does not change the server).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlavorSnapshot {
    /// The flavor's API id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// vCPUs.
    pub vcpus: i64,
    /// RAM in MiB.
    pub ram: i64,
    /// Root disk in GiB.
    pub disk: i64,
    /// Ephemeral disk in GiB.
    pub ephemeral: i64,
    /// Swap in MiB.
    pub swap: i64,
    /// Extra specs.
    pub extra_specs: BTreeMap<String, String>,
}

impl From<&ferrostack_store::compute::Flavor> for FlavorSnapshot {
    fn from(f: &ferrostack_store::compute::Flavor) -> Self {
        FlavorSnapshot {
            id: f.id.clone(),
            name: f.name.clone(),
            vcpus: f.vcpus,
            ram: f.memory_mb,
            disk: f.root_gb,
            ephemeral: f.ephemeral_gb,
            swap: f.swap,
            extra_specs: f.extra_specs.clone(),
        }
    }
}

/// A fault shown on a server in ERROR.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultDoc {
    /// HTTP-like code (500 for a failed build).
    pub code: i64,
    /// What went wrong, safe for the owner.
    pub message: String,
    /// More detail (admins only in Nova).
    pub details: Option<String>,
    /// µs since the epoch.
    pub created: i64,
}

/// A task the API started and the host link finishes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingTask {
    /// The instance action's request id.
    pub request_id: String,
    /// The desired generation that completes it.
    pub generation: i64,
}

/// A snapshot the API asked for and the host link imports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingSnapshot {
    /// The agent's request id (also the instance action's).
    pub request_id: String,
    /// The image that receives the data.
    pub image_id: String,
    /// A `createBackup`: the rotation to apply once it is imported.
    #[serde(default)]
    pub backup: Option<BackupRotation>,
}

/// What a backup's rotation keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRotation {
    /// The `backup_type` property shared by the backups rotated together.
    pub backup_type: String,
    /// How many of them to keep.
    pub rotation: u64,
}

/// A port an interface attach is creating (`created`) or binding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachingPort {
    /// The port's id (drawn before it is created).
    pub port_id: String,
    /// The attach creates it (delete it on undo), else it is the user's.
    pub created: bool,
}

/// Everything the API shows of a server beyond the indexed columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerDoc {
    /// The flavor booted with (the new one during a resize).
    pub flavor: FlavorSnapshot,
    /// The flavor before a resize, until it is confirmed or reverted.
    #[serde(default)]
    pub old_flavor: Option<FlavorSnapshot>,
    /// The image booted from.
    pub image_id: String,
    /// The key pair's name.
    pub key_name: Option<String>,
    /// The key pair's public key, copied at boot.
    pub key_data: Option<String>,
    /// User data, base64 as given.
    pub user_data: Option<String>,
    /// Server metadata.
    pub metadata: BTreeMap<String, String>,
    /// Whether a config drive was asked for (one is always attached).
    pub config_drive: bool,
    /// The zone the server is in.
    pub availability_zone: Option<String>,
    /// The zone asked for at boot, if any (2.96).
    #[serde(default)]
    pub pinned_availability_zone: Option<String>,
    /// `accessIPv4`.
    #[serde(default)]
    pub access_ipv4: String,
    /// `accessIPv6`.
    #[serde(default)]
    pub access_ipv6: String,
    /// Free text (2.19).
    #[serde(default)]
    pub description: Option<String>,
    /// Locked against changes by non-admins.
    #[serde(default)]
    pub locked: bool,
    /// Why it is locked (2.73).
    #[serde(default)]
    pub locked_reason: Option<String>,
    /// `admin` or `owner`: who locked it.
    #[serde(default)]
    pub locked_by: Option<String>,
    /// The guest's host name.
    pub hostname: String,
    /// `r-...`, shared by a multi-create.
    pub reservation_id: String,
    /// Position in a multi-create.
    pub launch_index: i64,
    /// First became ACTIVE, µs since the epoch.
    #[serde(default)]
    pub launched_at: Option<i64>,
    /// Deleted, µs since the epoch.
    #[serde(default)]
    pub terminated_at: Option<i64>,
    /// The last failure while in ERROR.
    #[serde(default)]
    pub fault: Option<FaultDoc>,
    /// Tags (2.26).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Server groups it belongs to.
    #[serde(default)]
    pub server_groups: Vec<String>,
    /// `AUTO` or `MANUAL`.
    #[serde(default = "manual")]
    pub disk_config: String,
    /// The task the host link finishes when the agent reaches its generation.
    #[serde(default)]
    pub pending: Option<PendingTask>,
    /// A snapshot waiting for the agent.
    #[serde(default)]
    pub pending_snapshot: Option<PendingSnapshot>,
    /// Its ports, as bound at boot and attached since (Nova's network
    /// info cache).
    #[serde(default)]
    pub nics: Vec<crate::networks::ServerNic>,
    /// Ports an attach is creating or binding, not yet in `nics` (given
    /// back by the delete if a crash stopped the attach half way).
    #[serde(default)]
    pub attaching: Vec<AttachingPort>,
    /// Interface and volume attaches and detaches the host has not
    /// reached yet (their instance actions end with the generation, as
    /// `pending`'s).
    #[serde(default)]
    pub pending_nics: Vec<PendingTask>,
    /// Its volumes (Nova's block device mappings), reserving, attached,
    /// or waiting for the host to plug them.
    #[serde(default)]
    pub volumes: Vec<crate::volumes::ServerVolume>,
    /// Volumes being detached: out of the VM's spec, their attachments
    /// released once the host reports the guest has let go.
    #[serde(default)]
    pub detaching_volumes: Vec<crate::volumes::ServerVolume>,
}

fn manual() -> String {
    "MANUAL".into()
}

impl ServerDoc {
    /// Its root disk is a volume.
    pub fn boots_from_volume(&self) -> bool {
        self.volumes.iter().any(|v| v.boot_index == Some(0))
    }
}

/// Read a server's document.
pub fn doc(i: &Instance) -> ComputeResult<ServerDoc> {
    serde_json::from_value(i.doc.clone())
        .map_err(|e| ComputeError::Internal(format!("server {} document: {e}", i.uuid)))
}

/// Write a server's document.
pub fn set_doc(i: &mut Instance, d: &ServerDoc) -> ComputeResult<()> {
    i.doc = serde_json::to_value(d)
        .map_err(|e| ComputeError::Internal(format!("server document: {e}")))?;
    Ok(())
}

/// Read a server's desired state.
pub fn desired(i: &Instance) -> ComputeResult<Option<DesiredInstance>> {
    i.desired
        .clone()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| ComputeError::Internal(format!("server {} desired state: {e}", i.uuid)))
}

/// Write a server's desired state, bumping its generation.
pub fn set_desired(i: &mut Instance, mut d: DesiredInstance) -> ComputeResult<()> {
    i.generation += 1;
    d.generation = i.generation as u64;
    i.desired = Some(
        serde_json::to_value(&d)
            .map_err(|e| ComputeError::Internal(format!("desired state: {e}")))?,
    );
    Ok(())
}

/// Nova's `status` for a `vm_state` and `task_state` (its `_STATE_MAP`).
pub fn status(vm_state: &str, task_state: Option<&str>) -> &'static str {
    match (vm_state, task_state) {
        (vm::ACTIVE, Some(task::REBOOTING)) => "REBOOT",
        (vm::ACTIVE, Some(task::REBOOTING_HARD)) => "HARD_REBOOT",
        (vm::ACTIVE | vm::STOPPED, Some(task::RESIZE_PREP)) => "RESIZE",
        (vm::RESIZED, Some(task::RESIZE_REVERTING)) => "REVERT_RESIZE",
        (vm::ACTIVE | vm::STOPPED | vm::ERROR, Some(task::REBUILDING)) => "REBUILD",
        (vm::ACTIVE, _) => "ACTIVE",
        (vm::BUILDING, _) => "BUILD",
        (vm::STOPPED, _) => "SHUTOFF",
        (vm::PAUSED, _) => "PAUSED",
        (vm::SUSPENDED, _) => "SUSPENDED",
        (vm::RESIZED, _) => "VERIFY_RESIZE",
        (vm::ERROR, _) => "ERROR",
        (vm::DELETED, _) => "DELETED",
        _ => "UNKNOWN",
    }
}

/// The `vm_state`s a status filter (`?status=`) means, as Nova maps them.
pub fn vm_states_for_status(status: &str) -> Option<&'static [&'static str]> {
    Some(match status.to_ascii_uppercase().as_str() {
        "ACTIVE" | "REBOOT" | "HARD_REBOOT" | "RESIZE" | "REBUILD" => &[vm::ACTIVE],
        "BUILD" => &[vm::BUILDING],
        "SHUTOFF" => &[vm::STOPPED],
        "PAUSED" => &[vm::PAUSED],
        "SUSPENDED" => &[vm::SUSPENDED],
        "VERIFY_RESIZE" | "REVERT_RESIZE" => &[vm::RESIZED],
        "ERROR" => &[vm::ERROR],
        "DELETED" => &[vm::DELETED],
        _ => return None,
    })
}

/// Nova's words for a server the caller cannot see.
pub fn not_found(id: &str) -> ComputeError {
    ComputeError::NotFound(format!("Instance {id} could not be found."))
}

/// The server `id` if `caller` may see it (own project, or admin), not
/// deleted unless `deleted_too`.
pub fn find(
    state: &crate::ComputeState,
    caller: &AuthContext,
    id: &str,
    deleted_too: bool,
) -> ComputeResult<Instance> {
    match state.servers.get_instance(id)? {
        Some(i)
            if (deleted_too || i.deleted_at.is_none())
                && (caller.is_admin() || caller.project_id() == Some(i.project_id.as_str())) =>
        {
            Ok(i)
        }
        _ => Err(not_found(id)),
    }
}

/// Nova's 409 for an action in the wrong state.
pub fn conflict_state(id: &str, action: &str, i: &Instance) -> ComputeError {
    let (attr, state) = match &i.task_state {
        Some(t) => ("task_state", t.as_str()),
        None => ("vm_state", i.vm_state.as_str()),
    };
    ComputeError::Conflict(format!(
        "Cannot '{action}' instance {id} while it is in {attr} {state}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_novas_state_map() {
        assert_eq!(status(vm::ACTIVE, None), "ACTIVE");
        assert_eq!(
            status(vm::ACTIVE, Some(task::REBOOTING_HARD)),
            "HARD_REBOOT"
        );
        assert_eq!(status(vm::ACTIVE, Some(task::POWERING_OFF)), "ACTIVE");
        assert_eq!(status(vm::BUILDING, Some(task::SPAWNING)), "BUILD");
        assert_eq!(status(vm::STOPPED, None), "SHUTOFF");
        assert_eq!(status(vm::RESIZED, None), "VERIFY_RESIZE");
        assert_eq!(status(vm::ERROR, None), "ERROR");
        assert_eq!(vm_states_for_status("shutoff"), Some(&[vm::STOPPED][..]));
        assert_eq!(vm_states_for_status("bogus"), None);
    }
}
