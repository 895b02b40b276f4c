//! The host agent's reconcile engine.
//!
//! OpenStack drives hosts with fire-and-forget RPC: a lost message leaves a
//! server in BUILD forever. ferrostack does not send the host commands. The
//! control plane stores the *desired* state of every instance
//! ([`DesiredInstance`]); the agent on each host reads what is assigned to
//! it through a [`DesiredStateSource`], converges the host to it through the
//! [`Hypervisor`](ferrostack_hypervisor::Hypervisor) trait, and writes what
//! it *observes* ([`ObservedInstance`]) to an [`ObservedStateSink`]. Nothing
//! is lost when either side restarts: the desired state is in the store, the
//! VMs are re-adopted from the hypervisor, and the agent's memory of what it
//! has already done (the generation it converged, the reboot it performed)
//! is read back from the sink.
//!
//! The engine has no HTTP and no database: the source and the sink are
//! traits. [`memory`] has in-memory implementations for tests; the
//! controller's store-backed one is `ferrostack_compute::hostlink`, used
//! in process by `allinone`; [`remote`] is the same pair over the
//! controller's HTTP host API, for `ferrostack agent` on another machine.
//! The loop itself is in [`engine`], whose module doc draws it.
//!
//! # The contract with the control plane
//!
//! - Every write of an instance's desired state bumps its `generation`. The
//!   agent never lets an older generation override a newer one it has seen.
//! - The agent acts on a generation once. When the host matches it (or the
//!   agent gave up on it) the agent reports `observed_generation =
//!   generation`. Afterwards drift is *reported, not corrected*: a VM that
//!   powered off behind the agent's back is reported `Shutoff` and stays
//!   off, as Nova's `sync_power_states` does. The control plane decides
//!   (by writing a new generation) whether it should run again.
//! - A reboot is a request with an id, acted on once; the agent reports the
//!   id it last performed in `last_reboot`, and the control plane may then
//!   clear the request.
//! - A snapshot is a request with an id too, acted on once whether it
//!   worked or not: the agent reports the id in `last_snapshot` and, when
//!   it failed, why in `snapshot_error`. A failed snapshot does not fail
//!   the instance.
//! - A resize is [`ResizeDesire::Keep`] with the new size in `spec`: the
//!   agent powers the instance off, resizes it keeping a backup, and
//!   brings its power back to `power`. [`ResizeDesire::Revert`] restores
//!   the backup; [`ResizeDesire::None`] (confirm) drops it. The agent
//!   reports `size` and `resize_backup`.
//! - A delete is `deleted: true`; the agent destroys the VM and reports
//!   [`TaskOutcome::Deleted`], after which the control plane drops the
//!   record.

pub mod engine;
pub mod images;
pub mod memory;
pub mod remote;

pub use engine::{Agent, AgentConfig};
pub use images::{BaseImages, LocalBaseImages};
pub use memory::{MemoryDesiredState, MemoryObservedState};
pub use remote::{RemoteBaseImages, RemoteControlPlane};

use ferrostack_hypervisor::{InstanceSpec, Operation, PowerState};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use uuid::Uuid;

/// The power state the control plane wants an instance in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredPower {
    /// The guest runs (Nova ACTIVE).
    Running,
    /// No VM process; the disk is kept (Nova SHUTOFF).
    Stopped,
    /// vCPUs halted (Nova PAUSED).
    Paused,
    /// Suspended (Nova SUSPENDED).
    Suspended,
}

impl DesiredPower {
    /// Whether an observed power state satisfies this desire.
    pub fn satisfied_by(self, state: PowerState) -> bool {
        matches!(
            (self, state),
            (DesiredPower::Running, PowerState::Running)
                | (DesiredPower::Stopped, PowerState::Shutoff)
                | (DesiredPower::Paused, PowerState::Paused)
                | (DesiredPower::Suspended, PowerState::Suspended)
        )
    }
}

/// A request to reboot an instance, acted on once per `request_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebootRequest {
    /// Hard (reset) or soft (ACPI power off, start again).
    pub hard: bool,
    /// The request's id (e.g. the API request id); a new id is a new reboot.
    pub request_id: String,
}

/// A request to snapshot an instance's disk into an image, acted on once
/// per `request_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRequest {
    /// The request's id; a new id is a new snapshot.
    pub request_id: String,
    /// The image the snapshot becomes: written to
    /// `AgentConfig::snapshot_dir/<image_id>.qcow2`.
    pub image_id: String,
}

/// A request to rebuild an instance from its (new) spec, acted on once
/// per `request_id`: the VM and its disk are destroyed and spawned again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildRequest {
    /// The request's id; a new id is a new rebuild.
    pub request_id: String,
}

/// What the control plane wants of an instance's resize backup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeDesire {
    /// No backup wanted: one on the host is dropped (resize confirmed).
    #[default]
    None,
    /// The instance should have `spec`'s size: if it differs, power off,
    /// resize keeping a backup, then converge the power.
    Keep,
    /// Go back to the size before the resize: if a backup exists, power
    /// off, revert to it, then converge the power.
    Revert,
}

/// The size an instance has on its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSize {
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Root disk in GiB (0: the image's size).
    pub root_disk_gib: u64,
}

/// What the control plane wants of one instance on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredInstance {
    /// What to spawn if the instance is not on the host.
    pub spec: InstanceSpec,
    /// The power state to converge to.
    pub power: DesiredPower,
    /// A reboot to perform, if its id was not performed yet.
    pub reboot: Option<RebootRequest>,
    /// A snapshot to take, if its id was not performed yet.
    #[serde(default)]
    pub snapshot: Option<SnapshotRequest>,
    /// What to do about a resize (see [`ResizeDesire`]).
    #[serde(default)]
    pub resize: ResizeDesire,
    /// A rebuild to perform (destroy, then spawn `spec` afresh, keeping the
    /// id), if its id was not performed yet.
    #[serde(default)]
    pub rebuild: Option<RebuildRequest>,
    /// The instance is being deleted: destroy it.
    pub deleted: bool,
    /// Bumped by every write; an older generation never overrides a newer one.
    pub generation: u64,
}

/// Where an instance's convergence stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "task")]
pub enum TaskOutcome {
    /// The host matched `observed_generation` when the agent last acted, or
    /// the instance is an orphan the agent leaves alone.
    Idle,
    /// An operation is running.
    Working {
        /// Which.
        operation: Operation,
    },
    /// The last operation failed; it is tried again after a backoff.
    Retrying {
        /// The failed operation.
        operation: Operation,
        /// How many times it has failed for this generation.
        attempt: u32,
    },
    /// The agent gave up on `observed_generation` (Nova ERROR); a new
    /// generation is needed to try again.
    Failed {
        /// The operation that failed last.
        operation: Operation,
    },
    /// The instance was deleted and nothing of it is left on the host.
    Deleted,
}

/// Why the last operation on an instance failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The error chain, safe to show to the instance's owner.
    pub message: String,
    /// The operation that failed.
    pub operation: Operation,
}

/// What the agent sees of one instance on its host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedInstance {
    /// The server id.
    pub id: Uuid,
    /// The power state on the host; `None` when the instance is not there.
    pub power_state: Option<PowerState>,
    /// Where convergence stands.
    pub task: TaskOutcome,
    /// The last failure, until the instance converges again.
    pub fault: Option<Fault>,
    /// The desired generation the agent has finished acting on (converged
    /// or given up); 0 before the first.
    pub observed_generation: u64,
    /// The VM process while there is one.
    pub pid: Option<u32>,
    /// The id of the last reboot request performed.
    pub last_reboot: Option<String>,
    /// On the host but not assigned to it.
    pub orphan: bool,
    /// The id of the last snapshot request performed (successfully or not).
    #[serde(default)]
    pub last_snapshot: Option<String>,
    /// Why the last snapshot failed; `None` when it succeeded.
    #[serde(default)]
    pub snapshot_error: Option<String>,
    /// The id of the last rebuild request started (its spawn may still be
    /// running or retrying; the generation says when it is done).
    #[serde(default)]
    pub last_rebuild: Option<String>,
    /// A resize backup exists on the host (revert is possible).
    #[serde(default)]
    pub resize_backup: bool,
    /// The size the instance has on the host; `None` when not there.
    #[serde(default)]
    pub size: Option<InstanceSize>,
}

/// The desired state of one host at one revision.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Assigned {
    /// The source's revision this snapshot was read at; pass it to
    /// [`DesiredStateSource::watch`].
    pub revision: u64,
    /// Every instance assigned to the host, deleted ones included until the
    /// control plane purges them.
    pub instances: Vec<DesiredInstance>,
}

/// Why a source or a sink failed. The agent logs it and tries again; it
/// never gives up on its host.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The backend (store, controller) could not be reached or failed.
    #[error("desired/observed state backend unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The future the source and sink methods return (boxed so the traits are
/// object-safe, like [`ferrostack_hypervisor::HvFuture`]).
pub type StateFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SourceError>> + Send + 'a>>;

/// Where the agent reads the desired state of its host.
pub trait DesiredStateSource: Send + Sync {
    /// Everything assigned to `host`, with the revision it was read at.
    fn assigned<'a>(&'a self, host: &'a str) -> StateFuture<'a, Assigned>;

    /// Waits until the desired state of `host` may have changed since
    /// `since_revision`, or `timeout` passes (long poll), and returns the
    /// current revision. Returning early or spuriously is allowed: the
    /// agent re-reads [`assigned`](Self::assigned) when the revision moved.
    fn watch<'a>(
        &'a self,
        host: &'a str,
        since_revision: u64,
        timeout: Duration,
    ) -> StateFuture<'a, u64>;
}

/// Where the agent reports what it observes.
pub trait ObservedStateSink: Send + Sync {
    /// Records these instances' observed state (an upsert by id; a full
    /// resync reports every instance the agent knows).
    fn report<'a>(&'a self, host: &'a str, observed: Vec<ObservedInstance>) -> StateFuture<'a, ()>;

    /// What was last reported for `host`: the agent reads it at start so a
    /// restart neither re-acts on a generation it finished nor repeats a
    /// reboot.
    fn last_reported<'a>(&'a self, host: &'a str) -> StateFuture<'a, Vec<ObservedInstance>>;
}
