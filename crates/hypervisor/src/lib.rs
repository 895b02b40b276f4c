//! The hypervisor seam of the host agent.
//!
//! The control plane stores the desired state of every instance; the host
//! agent converges its host to it through the [`Hypervisor`] trait and
//! reports what it observes. Two implementations share one state machine:
//!
//! - [`QemuHypervisor`] runs real VMs: one `qemu-system-x86_64` per
//!   instance, daemonized into its own session so it survives an agent
//!   restart, with everything about the instance in one directory (qcow2
//!   overlay, config drive, QMP socket, pidfile, console log, the spec it was
//!   spawned from). Its state is read from the OS on every call, never
//!   cached, so a new driver over the same directory re-adopts running VMs
//!   and reports a VM that died behind its back as `Shutoff`.
//! - [`FakeHypervisor`] keeps the same state machine in memory, with
//!   configurable capacity, injected failures and delays: control-plane
//!   tests and scale benchmarks run against it with no root and no QEMU.
//!
//! # State machine
//!
//! ```text
//!                      spawn (overlay, config drive, start QEMU)
//!                        |
//!                        v
//!   PAUSED <--pause--- RUNNING ---suspend--> SUSPENDED
//!     |    --unpause->  ^  |  <--resume----     |
//!     |                 |  |                    |
//!     |     power_on,   |  | power_off          |
//!     |     reboot(hard)|  | (ACPI button, then |
//!     |                 |  |  hard stop)        |
//!     |                 |  v                    |
//!     +--power_off--> SHUTOFF <--power_off------+
//!                        ^
//!                        +-- the guest powers itself off, QEMU dies
//!
//!   reboot(soft):  RUNNING -> RUNNING   (ACPI power off, start again)
//!   reboot(hard):  any     -> RUNNING   (QMP system_reset, or start)
//!   CRASHED:       the guest panicked (QMP guest-panicked); left by
//!                  power_off -> SHUTOFF or reboot(hard) -> RUNNING
//!   destroy:       any     -> gone      (process, disk, config drive,
//!                  socket, log); an unknown id is not an error
//!   resize:        SHUTOFF -> SHUTOFF   (new vCPUs/memory, disk grown;
//!                  the old disk and spec kept as a backup)
//!   confirm_resize: any    -> same      (drops the backup)
//!   revert_resize: SHUTOFF -> SHUTOFF   (the backup restored)
//!   snapshot:      any     -> same      (a RUNNING guest is paused for
//!                  the copy and continued)
//!   attach_nic,    RUNNING, PAUSED -> same (hotplug); SHUTOFF -> SHUTOFF
//!   detach_nic:    (only the stored spec: the next start has the NIC set)
//!   attach_volume, RUNNING, PAUSED -> same (hotplug, limits live);
//!   detach_volume, SHUTOFF -> SHUTOFF (the stored spec)
//!   update_volume,
//!   set_root_limits:
//! ```
//!
//! NIC hotplug changes the NIC set the instance keeps (the stored spec),
//! so a stop/start or a new driver after an agent restart has exactly the
//! NICs plugged last: a hot-plugged NIC stays, a detached one does not
//! come back. Both are idempotent (attaching a NIC the instance has, or
//! detaching one it has not, changes nothing), so an operation cut short
//! by a crash is finished by doing it again. An unplug needs the guest's
//! cooperation (ACPI eject): it waits, bounded, for the guest to let the
//! device go, and until then the instance keeps the NIC.
//!
//! Volumes follow the same rules (`volumes.rs` states them once for both
//! drivers): an attached volume is a disk of the stored spec, plugged and
//! unplugged over QMP and kept by the next start; its I/O limits and its
//! size change in place (`update_volume`), as do the root disk's limits
//! (`set_root_limits`), never by a restart. A volume with `boot_index:
//! Some(0)` is the root disk of a boot-from-volume instance: given at
//! spawn (the instance then has no overlay and needs no base image) and
//! gone only with the instance.
//!
//! Any other request is [`HypervisorError::InvalidState`] and changes
//! nothing. Every operation runs under a deadline ([`Deadlines`]) and ends
//! in one of the states above: when an operation fails half way the driver
//! undoes what it did (a failed spawn leaves no directory and no process),
//! and [`Hypervisor::state`] always reports what is true rather than what
//! was asked for.
//!
//! A resize keeps exactly one backup, as Nova's resize does until the
//! user confirms or reverts: a second resize before that is refused rather
//! than silently dropping the only way back. Disks only grow: shrinking a
//! qcow2 under a guest's filesystem destroys data.
//!
//! Suspend, for QEMU, is `stop` plus a marker file: vCPUs halt and memory
//! stays resident, exactly like pause, but the instance reports
//! `Suspended` and only `resume` leaves it. Rejected for now: saving RAM to
//! a file (`migrate` to `exec:`/`file:` and `-incoming` on resume), which
//! frees host memory but needs a restore path and disk space per instance;
//! it can replace the marker without changing the trait.
//!
//! The trait is object-safe (`Arc<dyn Hypervisor>`): methods return boxed
//! futures ([`HvFuture`]) rather than `async fn`, which a `dyn` trait
//! cannot have on this toolchain.

pub mod exports;
pub mod fake;
mod fake_qcow2;
pub mod host_facts;
mod nics;
pub mod qemu;
pub mod qmp;
#[cfg(feature = "test-support")]
pub mod testing;
mod volumes;

pub use fake::{FakeConfig, FakeHypervisor};
pub use ferrostack_host_contract::block::{Connection, IoLimits, VolumeSpec};
pub use ferrostack_host_contract::{
    Accelerator, BaseFormat, Capabilities, ConfigDrive, InstanceSpec, NicSpec, Operation,
    PowerState,
};
pub use qemu::{QemuConfig, QemuHypervisor};

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;
use uuid::Uuid;

/// The future every [`Hypervisor`] method returns.
pub type HvFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, HypervisorError>> + Send + 'a>>;

/// What the agent drives: one host's VMs.
///
/// Operations on one instance are serialized by the implementation;
/// operations on different instances may run concurrently.
pub trait Hypervisor: Send + Sync {
    /// What this host offers: hypervisor type, accelerator, size.
    fn capabilities(&self) -> HvFuture<'_, Capabilities>;

    /// Creates and starts an instance; ends `Running` or leaves nothing.
    fn spawn(&self, spec: InstanceSpec) -> HvFuture<'_, InstanceInfo>;

    /// Stops the instance hard and removes everything it had on the host.
    /// Idempotent: an unknown id is `Ok`.
    fn destroy(&self, id: Uuid) -> HvFuture<'_, ()>;

    /// Presses the ACPI power button, waits up to `graceful_timeout` for
    /// the guest to power off, then stops it hard. Ends `Shutoff`. A
    /// paused, suspended or crashed guest cannot see the button, and a zero
    /// timeout asks for none: those are stopped hard at once.
    fn power_off(&self, id: Uuid, graceful_timeout: Duration) -> HvFuture<'_, PowerOffOutcome>;

    /// Starts a `Shutoff` instance from its existing disk.
    fn power_on(&self, id: Uuid) -> HvFuture<'_, InstanceInfo>;

    /// Soft (power off gracefully, start; `Running` only) or hard (reset a
    /// live VM, start a stopped one; any state) reboot. Ends `Running`.
    fn reboot(&self, id: Uuid, hard: bool) -> HvFuture<'_, InstanceInfo>;

    /// Halts the vCPUs of a `Running` instance.
    fn pause(&self, id: Uuid) -> HvFuture<'_, InstanceInfo>;

    /// Continues a `Paused` instance.
    fn unpause(&self, id: Uuid) -> HvFuture<'_, InstanceInfo>;

    /// Suspends a `Running` instance (see the module doc for what that
    /// means for QEMU).
    fn suspend(&self, id: Uuid) -> HvFuture<'_, InstanceInfo>;

    /// Resumes a `Suspended` instance.
    fn resume(&self, id: Uuid) -> HvFuture<'_, InstanceInfo>;

    /// The observed state of one instance.
    fn state(&self, id: Uuid) -> HvFuture<'_, InstanceInfo>;

    /// Every instance this driver knows, running or not (for re-adoption
    /// after an agent restart).
    fn list(&self) -> HvFuture<'_, Vec<InstanceInfo>>;

    /// The last `max_bytes` of the serial console log (lossy UTF-8).
    fn console_log(&self, id: Uuid, max_bytes: usize) -> HvFuture<'_, String>;

    /// Resizes a `Shutoff` instance to `spec`'s `vcpus`, `memory_mib` and
    /// `root_disk_gib`, keeping a backup of its disk and stored spec for
    /// [`revert_resize`](Self::revert_resize). The disk only grows: a
    /// `root_disk_gib` below the disk's current virtual size is
    /// [`HypervisorError::InvalidSpec`] and changes nothing; 0 keeps it.
    /// A backup that exists already is [`HypervisorError::InvalidState`]
    /// (confirm or revert first). Ends `Shutoff` with `resize_backup`.
    fn resize(&self, spec: InstanceSpec) -> HvFuture<'_, InstanceInfo>;

    /// Drops the resize backup. Idempotent: no backup is `Ok`.
    fn confirm_resize(&self, id: Uuid) -> HvFuture<'_, ()>;

    /// Restores the disk and spec of a `Shutoff` instance from its resize
    /// backup (none is [`HypervisorError::InvalidState`]), keeping the
    /// volumes it has now. Ends `Shutoff` without a backup.
    fn revert_resize(&self, id: Uuid) -> HvFuture<'_, InstanceInfo>;

    /// Writes a standalone qcow2 of the instance's disk (its backing chain
    /// flattened) to `dest`, through a temporary name in `dest`'s
    /// directory: nothing is left at `dest` on failure. A `Running` guest
    /// is paused for the copy and continued afterwards, also on failure.
    fn snapshot<'a>(&'a self, id: Uuid, dest: &'a std::path::Path) -> HvFuture<'a, SnapshotInfo>;

    /// Adds a NIC on `nic.tap` (which must exist, for a live guest) to a
    /// `Running` or `Paused` instance by hotplug, or to a `Shutoff` one's
    /// next start. A NIC the instance has already is `Ok`; another NIC
    /// with the same tap or MAC is [`HypervisorError::InvalidSpec`].
    fn attach_nic(&self, id: Uuid, nic: NicSpec) -> HvFuture<'_, InstanceInfo>;

    /// Removes the NIC whose tap or port id is `nic` from a `Running` or
    /// `Paused` instance by hot-unplug (the guest must release it within
    /// [`Deadlines::nic_unplug`], else [`HypervisorError::Timeout`] and
    /// the NIC stays), or from a `Shutoff` one's next start. A NIC the
    /// instance does not have is `Ok`.
    fn detach_nic<'a>(&'a self, id: Uuid, nic: &'a str) -> HvFuture<'a, InstanceInfo>;

    /// Adds volume `volume` as a virtio-blk disk (serial `volume.serial`,
    /// its limits in force) to a `Running` or `Paused` instance by
    /// hotplug, or to a `Shutoff` one's next start. A volume the instance
    /// has already as the same disk is `Ok` and changes nothing (limits
    /// are [`update_volume`](Self::update_volume)'s); the volume as
    /// another disk, another volume with its ids or serial, or a root disk
    /// (`boot_index`, only at spawn) is [`HypervisorError::InvalidSpec`].
    fn attach_volume(&self, id: Uuid, volume: VolumeSpec) -> HvFuture<'_, InstanceInfo>;

    /// Removes volume `volume_id` from a `Running` or `Paused` instance by
    /// hot-unplug (the guest must release it within
    /// [`Deadlines::nic_unplug`], else [`HypervisorError::Timeout`] and
    /// the volume stays; QEMU closes it only after that), or from a
    /// `Shutoff` one's next start. A volume the instance does not have is
    /// `Ok`; the root disk is [`HypervisorError::InvalidSpec`].
    fn detach_volume<'a>(&'a self, id: Uuid, volume_id: &'a str) -> HvFuture<'a, InstanceInfo>;

    /// Applies what can change under an attached volume: its limits (in
    /// force at once on a live guest) and a larger `size_gib` (QMP
    /// `block_resize` on a live guest, `qemu-img resize` of a file on a
    /// stopped one), and a higher `top_generation` (a live snapshot froze
    /// the volume's top: a running guest's disk is switched onto the file
    /// now at the volume's path, QMP `blockdev-snapshot`, unless QEMU has
    /// that file open already; a stopped one opens it at its next start);
    /// the attachment id is recorded. A volume the instance does not have,
    /// another disk under the same id, a smaller size or a lower top
    /// generation is [`HypervisorError::InvalidSpec`].
    fn update_volume(&self, id: Uuid, volume: VolumeSpec) -> HvFuture<'_, InstanceInfo>;

    /// Sets the I/O limits of the image root disk (the flavor's
    /// `quota:disk_*`), in force at once on a live guest. A
    /// boot-from-volume root disk has its volume's limits.
    fn set_root_limits(&self, id: Uuid, limits: IoLimits) -> HvFuture<'_, InstanceInfo>;
}

/// One instance as the driver sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// The server id.
    pub id: Uuid,
    /// The display name.
    pub name: String,
    /// The observed power state.
    pub state: PowerState,
    /// The VM process id while there is one.
    pub pid: Option<u32>,
    /// Virtual CPUs the instance has now (from its stored spec).
    pub vcpus: u32,
    /// Memory in MiB the instance has now.
    pub memory_mib: u64,
    /// Root disk size in GiB the instance has now (0: the image's size).
    pub root_disk_gib: u64,
    /// A resize backup exists: the instance can be reverted to its size
    /// before the last [`Hypervisor::resize`] until it is confirmed.
    pub resize_backup: bool,
    /// The NICs the instance has (and gets at its next start).
    pub nics: Vec<NicSpec>,
    /// The volumes the instance has (and gets at its next start), with
    /// the limits in force.
    pub volumes: Vec<VolumeSpec>,
    /// The limits of the image root disk.
    pub root_limits: IoLimits,
}

/// A snapshot written by [`Hypervisor::snapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// The file's format; always [`BaseFormat::Qcow2`], without a backing
    /// file.
    pub format: BaseFormat,
    /// Bytes of the file.
    pub size: u64,
    /// The disk's virtual size in bytes.
    pub virtual_size: u64,
}

/// How a power-off ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerOffOutcome {
    /// The guest honoured the ACPI power button in time.
    Graceful,
    /// The timeout passed (or the guest could not be asked) and the VM was
    /// stopped hard.
    Forced,
}

/// The state machine's verdict: may `op` run on an instance in `state`?
/// Both drivers ask this before acting. `Spawn`, `Destroy` and the read
/// operations are always allowed on an existing instance.
pub fn transition_allowed(op: Operation, state: PowerState, hard: bool) -> bool {
    use Operation as O;
    use PowerState as S;
    match op {
        O::PowerOff => state != S::Shutoff,
        O::PowerOn => state == S::Shutoff,
        O::Reboot => hard || state == S::Running,
        O::Pause | O::Suspend => state == S::Running,
        O::Unpause => state == S::Paused,
        O::Resume => state == S::Suspended,
        O::Resize | O::RevertResize => state == S::Shutoff,
        O::AttachNic
        | O::DetachNic
        | O::AttachVolume
        | O::DetachVolume
        | O::UpdateVolume
        | O::SetRootLimits => {
            matches!(state, S::Running | S::Paused | S::Shutoff)
        }
        O::Capabilities
        | O::Spawn
        | O::Destroy
        | O::State
        | O::List
        | O::ConsoleLog
        | O::ConfirmResize
        | O::Snapshot => true,
    }
}

/// Deadlines for each kind of operation. The defaults allow for TCG on a
/// loaded machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Creating the overlay and config drive and starting QEMU.
    pub spawn: Duration,
    /// Starting QEMU again (`power_on`, the second half of reboots).
    pub start: Duration,
    /// One QMP command, connection included.
    pub qmp: Duration,
    /// Waiting for the process to go after a hard stop.
    pub hard_stop: Duration,
    /// How long a soft reboot waits for the guest to power off.
    pub soft_reboot: Duration,
    /// Copying or converting a whole disk (resize backup, snapshot).
    pub disk_copy: Duration,
    /// How long a NIC or volume unplug waits for the guest to release the
    /// device.
    pub nic_unplug: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            spawn: Duration::from_secs(60),
            start: Duration::from_secs(30),
            qmp: Duration::from_secs(5),
            hard_stop: Duration::from_secs(10),
            soft_reboot: Duration::from_secs(60),
            disk_copy: Duration::from_secs(600),
            nic_unplug: Duration::from_secs(30),
        }
    }
}

/// Why a hypervisor operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HypervisorError {
    /// No instance with this id.
    #[error("instance {id} not found")]
    NotFound {
        /// The instance.
        id: Uuid,
    },
    /// An instance with this id already exists.
    #[error("instance {id} already exists")]
    AlreadyExists {
        /// The instance.
        id: Uuid,
    },
    /// The state machine does not allow the operation now.
    #[error("cannot {op:?} instance {id} while it is {state:?}")]
    InvalidState {
        /// The instance.
        id: Uuid,
        /// The refused operation.
        op: Operation,
        /// Its state when refused.
        state: PowerState,
    },
    /// The host has not enough of a resource left.
    #[error("not enough {resource} on this host: {requested} requested, {available} free")]
    InsufficientCapacity {
        /// `vcpus`, `memory_mib` or `disk_gib`.
        resource: &'static str,
        /// What the spec asked for.
        requested: u64,
        /// What is left.
        available: u64,
    },
    /// The spec cannot be honoured (bad name, missing base image, ...).
    #[error("invalid instance spec: {0}")]
    InvalidSpec(String),
    /// The operation did not finish within its deadline.
    #[error("{op:?} of instance {id} did not finish within {after:?}")]
    Timeout {
        /// The instance.
        id: Uuid,
        /// The operation.
        op: Operation,
        /// The deadline.
        after: Duration,
    },
    /// An external command could not be started.
    #[error("cannot run {argv:?}")]
    CommandSpawn {
        /// The full command line.
        argv: Vec<String>,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An external command failed.
    #[error("{argv:?} failed ({status}): {}", stderr.trim())]
    Command {
        /// The full command line.
        argv: Vec<String>,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A file of the instance could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// QMP failed for this instance.
    #[error("QMP for instance {id}: {source}")]
    Qmp {
        /// The instance.
        id: Uuid,
        /// Why.
        #[source]
        source: qmp::QmpError,
    },
    /// A process claims to be this instance's VM but its command line does
    /// not carry the instance id: it is left alone.
    #[error("pid {pid} in the pidfile of {id} is not its VM; refusing to touch it")]
    ForeignProcess {
        /// The instance.
        id: Uuid,
        /// The pid.
        pid: u32,
    },
    /// A failure injected into the fake.
    #[error("injected failure of {op:?}")]
    Injected {
        /// The failed operation.
        op: Operation,
    },
}

/// A temporary name next to `dest` (same directory, so the final rename
/// is atomic): `.<name>.tmp-<random>`.
pub(crate) fn temp_name(dest: &std::path::Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.tmp-{}", Uuid::new_v4().simple()))
}

/// Results of this crate.
pub type Result<T, E = HypervisorError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_diagram() {
        use Operation as O;
        use PowerState as S;
        assert!(transition_allowed(O::Pause, S::Running, false));
        assert!(!transition_allowed(O::Pause, S::Paused, false));
        assert!(!transition_allowed(O::Unpause, S::Suspended, false));
        assert!(transition_allowed(O::Resume, S::Suspended, false));
        assert!(!transition_allowed(O::PowerOn, S::Running, false));
        assert!(!transition_allowed(O::PowerOff, S::Shutoff, false));
        assert!(transition_allowed(O::PowerOff, S::Crashed, false));
        assert!(!transition_allowed(O::Reboot, S::Shutoff, false));
        assert!(transition_allowed(O::Reboot, S::Shutoff, true));
        assert!(transition_allowed(O::Destroy, S::Paused, false));
        assert!(transition_allowed(O::Resize, S::Shutoff, false));
        assert!(!transition_allowed(O::Resize, S::Running, false));
        assert!(!transition_allowed(O::RevertResize, S::Paused, false));
        assert!(transition_allowed(O::Snapshot, S::Running, false));
        assert!(transition_allowed(O::AttachNic, S::Paused, false));
        assert!(transition_allowed(O::DetachNic, S::Shutoff, false));
        assert!(!transition_allowed(O::AttachNic, S::Suspended, false));
        assert!(!transition_allowed(O::DetachNic, S::Crashed, false));
    }
}
