//! The reconcile loop: one task per host agent.
//!
//! ```text
//!   start ── hypervisor.list() ──> adopt what runs (never respawn it)
//!         ── sink.last_reported() ──> remember finished generations, reboots
//!            │
//!            v
//!   ┌──> read desired (source.assigned) ── drop generations older than seen
//!   │        │
//!   │        v
//!   │    plan each idle instance (not busy, not backing off):
//!   │      deleted ─────────────────────────────> destroy
//!   │      not assigned (orphan) ───────────────> report; destroy only if reap
//!   │      reboot id not yet performed ─────────> reboot (power_on if Shutoff)
//!   │      snapshot id not yet performed ───────> snapshot (on the host; a
//!   │                                             failure is reported in
//!   │                                             snapshot_error, never Failed)
//!   │      generation already finished ─────────> nothing (drift is reported)
//!   │      not on host ─────────────────────────> spawn (base image ensured
//!   │                                             first if the spec has an id)
//!   │      resize Keep, size differs ───────────> power_off, then resize
//!   │      resize Revert, backup on host ───────> power_off, then revert_resize
//!   │      resize None, backup on host ─────────> confirm_resize
//!   │      power differs ───────────────────────> one step: power_on/off,
//!   │                                             (un)pause, suspend/resume
//!   │      matches ─────────────────────────────> finished: observed_generation
//!   │        │
//!   │        v
//!   │    dispatch up to `max_concurrent` operations, one per instance,
//!   │    each under a deadline:
//!   │        ok ──> observe, plan again (the next step, or finished)
//!   │        err ─> fault reported; observe the real state (a failed
//!   │               spawn is destroyed first); retry after 2^n backoff
//!   │               (capped) ... after `max_attempts`: Failed (ERROR),
//!   │               generation finished, no more retries
//!   │        │
//!   │        v
//!   │    report changed instances (sink.report)
//!   │        │
//!   │        v
//!   └── wait: an operation ends | source.watch() says the revision moved
//!            | backoff expires | resync tick (list + full report) | shutdown
//!
//!   shutdown: dispatch nothing more, let running operations end (each is
//!             bounded by its deadline), report, return.
//! ```
//!
//! Other kinds (networks, ports, DHCP, volume attachments and exports)
//! go through the same loop with one driver each ([`crate::drivers`]):
//! the document's objects of every registered kind are tracked beside the
//! instances, planned (`objects.rs`: ensure, remove, or settle), run under
//! the same deadline, concurrency bound and backoff, and reported with
//! `ObservedStateSink::report_objects`. Between kinds, one rule
//! (`Engine::gate`) orders the work: an object is brought up only when
//! what it requires is ready (network < port < VM; boot volume < VM), and
//! taken down only when nothing that requires it is left on the host (VM
//! gone < port unwired). A requirement that failed for good fails what
//! needs it, with its fault.
//!
//! Decisions:
//!
//! - **A generation is acted on once.** Once the host matched it (or the
//!   agent gave up), drift is reported and not corrected. A VM that dies
//!   behind the agent's back is reported `Shutoff` and is *not* restarted,
//!   as Nova's `sync_power_states` does (it marks the server SHUTOFF and
//!   leaves it); the control plane restarts it by writing a new generation.
//!   Rejected: restarting whatever should run, which fights an operator
//!   who stopped a guest from inside and crash-loops a broken guest.
//! - **Failures end.** Each failure records a [`Fault`] and is retried
//!   with exponential backoff up to `max_attempts`; then the instance is
//!   reported [`TaskOutcome::Failed`] at that generation. A spawn that
//!   failed is destroyed before anything else, so nothing leaks.
//! - **Progress is checked, too.** More than `MAX_STEPS` (6) operations
//!   that succeed without the instance converging (a driver that lies, a
//!   guest that undoes them) count as one failure, so even then the
//!   instance ends Failed instead of looping.
//! - **A deadline is the agent's, not only the driver's.** Every call is
//!   wrapped in `tokio::time::timeout`; after a timeout (or any failure)
//!   the agent asks the hypervisor for the instance's real state and
//!   reports that, so the reported state is always one the host is in.
//! - **Orphans are left alone** unless [`AgentConfig::reap_orphans`]: a VM
//!   the control plane does not assign here may be mid-migration or the
//!   store may be behind; destroying it is an operator's decision.
//! - **A snapshot is a request, not a state.** Like a reboot it is acted
//!   on once per request id, whatever the result; its failure is reported
//!   in `snapshot_error` (and the fault) but does not count towards
//!   `max_attempts` or end the instance Failed: the server is as fine as
//!   before, only the image is missing. It runs in any power state and
//!   leaves the power as it was (the driver pauses a running guest).
//! - **A resize is a size, not a request.** `ResizeDesire::Keep` with a
//!   spec whose size differs from the host's is converged like power:
//!   power off, resize, then the power steps — each a step under
//!   `MAX_STEPS`. The backup stays until the desire is `None` (confirm)
//!   or `Revert`. A second resize while a backup exists is refused by the
//!   driver and ends Failed: the control plane confirms or reverts first.
//! - **NICs change in place.** A spec whose `nics` differ from the NICs
//!   the instance has (as the driver reports them, so an agent restart
//!   sees hot-plugged ones) is converged one NIC at a time, with no
//!   respawn: an added NIC waits for its own port to be wired (not the
//!   VM's other requirements), and a port whose NIC was removed from the
//!   spec is unwired only once no VM on the host has a NIC on it (the
//!   unplug is done), not when the spec stops naming it. A NIC change
//!   that happened does not count towards `MAX_STEPS`; a failed one
//!   follows the backoff and `Failed` rules of any operation.
//! - **Volumes change in place too.** An attached volume is a disk of the
//!   spec (`spec.volumes`), converged like NICs against the volumes the
//!   driver reports (from its stored spec, so a restart sees hot-plugged
//!   ones): volumes no longer named, or named as another disk (another
//!   connection, serial, read-only or root flag) are detached first, new
//!   ones attached, then changed limits, a larger size or a newer top
//!   generation (a live snapshot's switch) applied in place
//!   (`update_volume`), then the root disk's limits (`set_root_limits`),
//!   one volume per operation and never by a respawn: a respawn would
//!   reboot the guest under its other disks, and a guest that never
//!   stops is what hotplug is for. No host object gates them (QEMU opens
//!   the file, the RBD image or the export itself), so they are not
//!   ordered against anything. A boot volume is in the spec before the
//!   spawn and goes only with the instance; a spec that drops it, or
//!   shrinks a volume, fails like any refused operation.
//! - **One owner.** The loop owns all per-instance bookkeeping; operations
//!   run as tasks in a `JoinSet` and hand their result back, so there are
//!   no locks and "one operation per instance" is a flag, not a mutex.

use crate::drivers::ObjectDriver;
use crate::{
    images::is_plain_uuid, BaseImages, DesiredInstance, DesiredPower, DesiredStateSource, Fault,
    InstanceSize, ObservedInstance, ObservedStateSink, ResizeDesire, SourceError, TaskOutcome,
};
use ferrostack_host_contract::{Direction, HostDesired, Kind, ObjectKey, ObjectPhase};
use ferrostack_hypervisor::{
    Hypervisor, HypervisorError, InstanceInfo, InstanceSpec, IoLimits, NicSpec, Operation,
    PowerState, VolumeSpec,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, Instant};
use tracing::{debug, info, warn};
use uuid::Uuid;

mod execute;
mod objects;
mod order;
mod plan;

use execute::execute;
use objects::{apply_desired_objects, complete_object, ObjectDone, TrackedObject};
use plan::plan;

/// Successful operations on one instance without converging before the
/// agent calls it a failure (see `Engine::complete`).
const MAX_STEPS: u32 = 6;

/// How the agent behaves.
#[derive(Clone)]
pub struct AgentConfig {
    /// At most this many hypervisor operations run at once.
    pub max_concurrent: usize,
    /// A full resync (hypervisor list, desired read, report of everything)
    /// happens this often even without change notifications.
    pub resync_interval: Duration,
    /// How long one long poll of the source waits.
    pub watch_timeout: Duration,
    /// The deadline of a spawn.
    pub spawn_deadline: Duration,
    /// The deadline of any other operation (a power off gets
    /// `graceful_shutdown` on top).
    pub op_deadline: Duration,
    /// How long a power off waits for the guest to honour ACPI.
    pub graceful_shutdown: Duration,
    /// The first retry delay after a failure; doubled per failure.
    pub backoff_initial: Duration,
    /// The longest retry delay.
    pub backoff_max: Duration,
    /// Failures of one generation before the agent gives up (Failed).
    pub max_attempts: u32,
    /// Destroy VMs on the host that are not assigned to it.
    pub reap_orphans: bool,
    /// Snapshots of image `X` are written to `snapshot_dir/X.qcow2`;
    /// `None`: snapshot requests fail (reported in `snapshot_error`).
    pub snapshot_dir: Option<PathBuf>,
    /// Fetches base images before a spawn when the spec has an
    /// `image_id`; `None`: the spec's `base_image` is used as given.
    pub images: Option<Arc<dyn BaseImages>>,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("max_concurrent", &self.max_concurrent)
            .field("resync_interval", &self.resync_interval)
            .field("watch_timeout", &self.watch_timeout)
            .field("spawn_deadline", &self.spawn_deadline)
            .field("op_deadline", &self.op_deadline)
            .field("graceful_shutdown", &self.graceful_shutdown)
            .field("backoff_initial", &self.backoff_initial)
            .field("backoff_max", &self.backoff_max)
            .field("max_attempts", &self.max_attempts)
            .field("reap_orphans", &self.reap_orphans)
            .field("snapshot_dir", &self.snapshot_dir)
            .field("images", &self.images.as_ref().map(|_| "BaseImages"))
            .finish()
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            max_concurrent: 8,
            resync_interval: Duration::from_secs(10),
            watch_timeout: Duration::from_secs(30),
            spawn_deadline: Duration::from_secs(120),
            op_deadline: Duration::from_secs(60),
            graceful_shutdown: Duration::from_secs(60),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            max_attempts: 5,
            reap_orphans: false,
            snapshot_dir: None,
            images: None,
        }
    }
}

impl AgentConfig {
    /// The delay before retrying after the `failures`-th failure.
    pub fn backoff(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(20);
        self.backoff_initial
            .saturating_mul(1 << shift)
            .min(self.backoff_max)
    }
}

/// The host agent. See the module doc for the loop.
#[derive(Debug)]
pub struct Agent;

impl Agent {
    /// Runs the reconcile loop for `host` until `shutdown` becomes true (or
    /// its sender is dropped). Never gives up on its own: failures of the
    /// source, the sink or the hypervisor are logged and retried.
    pub async fn run(
        host: impl Into<String>,
        source: Arc<dyn DesiredStateSource>,
        sink: Arc<dyn ObservedStateSink>,
        hypervisor: Arc<dyn Hypervisor>,
        config: AgentConfig,
        shutdown: watch::Receiver<bool>,
    ) {
        Agent::run_with_drivers(host, source, sink, hypervisor, Vec::new(), config, shutdown).await
    }

    /// [`run`](Self::run), converging the objects of other kinds too: one
    /// driver per kind (a second one for a kind replaces the first).
    /// Registering a kind is only this; the loop does not change. Objects
    /// of a kind with no driver here are not touched, and nothing that
    /// requires them is brought up.
    pub async fn run_with_drivers(
        host: impl Into<String>,
        source: Arc<dyn DesiredStateSource>,
        sink: Arc<dyn ObservedStateSink>,
        hypervisor: Arc<dyn Hypervisor>,
        object_drivers: Vec<Arc<dyn ObjectDriver>>,
        config: AgentConfig,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let drivers = object_drivers
            .iter()
            .map(|d| (d.kind(), d.clone()))
            .collect();
        let mut engine = Engine {
            host: host.into(),
            source,
            sink,
            hv: hypervisor,
            cfg: Arc::new(config),
            tracked: BTreeMap::new(),
            inflight: JoinSet::new(),
            dirty: BTreeSet::new(),
            revision: None,
            drivers,
            objects: BTreeMap::new(),
            dirty_objects: BTreeSet::new(),
            doc: Arc::default(),
            requires: BTreeMap::new(),
        };
        if !engine.start(&mut shutdown).await {
            return;
        }
        engine.run(&mut shutdown).await;
    }
}

/// An operation the loop decided on.
#[derive(Debug, Clone)]
enum Action {
    Spawn(Box<InstanceSpec>),
    Destroy,
    PowerOn,
    PowerOff,
    Pause,
    Unpause,
    Suspend,
    Resume,
    Reboot {
        hard: bool,
    },
    Resize(Box<InstanceSpec>),
    ConfirmResize,
    RevertResize,
    Snapshot {
        request_id: String,
        image_id: String,
    },
    /// Plug this NIC in (hotplug, or the next start of a stopped VM).
    AttachNic(NicSpec),
    /// Unplug the NIC on this tap.
    DetachNic(String),
    /// Plug this volume in (hotplug, or the next start of a stopped VM).
    AttachVolume(Box<VolumeSpec>),
    /// Unplug the volume with this id.
    DetachVolume(String),
    /// Apply this volume's limits and size to its disk.
    UpdateVolume(Box<VolumeSpec>),
    /// Apply these limits to the image root disk.
    SetRootLimits(IoLimits),
}

impl Action {
    fn operation(&self) -> Operation {
        match self {
            Action::Spawn(_) => Operation::Spawn,
            Action::Destroy => Operation::Destroy,
            Action::PowerOn => Operation::PowerOn,
            Action::PowerOff => Operation::PowerOff,
            Action::Pause => Operation::Pause,
            Action::Unpause => Operation::Unpause,
            Action::Suspend => Operation::Suspend,
            Action::Resume => Operation::Resume,
            Action::Reboot { .. } => Operation::Reboot,
            Action::Resize(_) => Operation::Resize,
            Action::ConfirmResize => Operation::ConfirmResize,
            Action::RevertResize => Operation::RevertResize,
            Action::Snapshot { .. } => Operation::Snapshot,
            Action::AttachNic(_) => Operation::AttachNic,
            Action::DetachNic(_) => Operation::DetachNic,
            Action::AttachVolume(_) => Operation::AttachVolume,
            Action::DetachVolume(_) => Operation::DetachVolume,
            Action::UpdateVolume(_) => Operation::UpdateVolume,
            Action::SetRootLimits(_) => Operation::SetRootLimits,
        }
    }
}

/// What the host showed after an operation.
#[derive(Debug)]
enum Seen {
    Present(InstanceInfo),
    Absent,
    Unknown,
}

/// An operation's result, handed back to the loop.
#[derive(Debug)]
struct Done {
    id: Uuid,
    operation: Operation,
    /// The reboot request this operation performed, if any.
    reboot_id: Option<String>,
    /// The snapshot request this operation performed, if any.
    snapshot_id: Option<String>,
    /// A NIC or volume operation that changed the instance as asked:
    /// progress, not a step towards `MAX_STEPS` (a VM may have many NICs
    /// and volumes to change).
    in_place_progress: bool,
    error: Option<String>,
    seen: Seen,
}

/// What the ordering rules say of an operation (see `Engine::gate`).
#[derive(Debug)]
enum Gate {
    /// Go ahead.
    Go,
    /// Not yet: what it requires is not ready, or what requires it is
    /// still there.
    Wait,
    /// Never at this generation: a requirement failed for good.
    Blocked(String),
}

/// An operation's result of either family.
#[derive(Debug)]
enum Finished {
    Instance(Done),
    Object(ObjectDone),
}

/// The loop's bookkeeping for one instance.
#[derive(Debug, Default)]
struct Tracked {
    /// The newest desired state seen; `None` when not assigned.
    desired: Option<DesiredInstance>,
    /// The power state on the host (`None`: not there).
    power: Option<PowerState>,
    pid: Option<u32>,
    busy: Option<Operation>,
    /// The generation the agent finished acting on.
    finished_generation: u64,
    /// Failures of the current generation.
    failures: u32,
    /// Successful operations since the instance last converged.
    steps: u32,
    retry_at: Option<Instant>,
    fault: Option<Fault>,
    task: Option<TaskOutcome>,
    last_reboot: Option<String>,
    last_snapshot: Option<String>,
    snapshot_error: Option<String>,
    last_rebuild: Option<String>,
    resize_backup: bool,
    size: Option<InstanceSize>,
    /// The NICs the instance has on the host (as the driver reports them).
    nics: Vec<NicSpec>,
    /// The volumes the instance has on the host, with their limits (as
    /// the driver reports them).
    volumes: Vec<VolumeSpec>,
    /// The limits of the image root disk on the host.
    root_limits: IoLimits,
    /// The port of the NIC an in-flight attach is plugging: in use from
    /// the moment the attach starts (see `Engine::gate`).
    plugging: Option<String>,
    /// The task to go back to when a snapshot ends (a snapshot does not
    /// change where convergence stands).
    task_before_snapshot: Option<TaskOutcome>,
}

impl Tracked {
    fn observed(&self, id: Uuid) -> ObservedInstance {
        ObservedInstance {
            id,
            power_state: self.power,
            task: self.task.unwrap_or(TaskOutcome::Idle),
            fault: self.fault.clone(),
            observed_generation: self.finished_generation,
            pid: self.pid,
            last_reboot: self.last_reboot.clone(),
            orphan: self.desired.is_none() && self.power.is_some(),
            last_snapshot: self.last_snapshot.clone(),
            snapshot_error: self.snapshot_error.clone(),
            last_rebuild: self.last_rebuild.clone(),
            resize_backup: self.resize_backup,
            size: self.size,
            nics: self.nics.clone(),
            volumes: self.volumes.clone(),
        }
    }

    fn set_seen(&mut self, seen: Seen) {
        match seen {
            Seen::Present(i) => {
                self.power = Some(i.state);
                self.pid = i.pid;
                self.resize_backup = i.resize_backup;
                self.size = Some(InstanceSize {
                    vcpus: i.vcpus,
                    memory_mib: i.memory_mib,
                    root_disk_gib: i.root_disk_gib,
                });
                self.nics = i.nics;
                self.volumes = i.volumes;
                self.root_limits = i.root_limits;
            }
            Seen::Absent => {
                self.power = None;
                self.pid = None;
                self.resize_backup = false;
                self.size = None;
                self.nics.clear();
                self.volumes.clear();
                self.root_limits = IoLimits::default();
            }
            Seen::Unknown => {}
        }
    }
}

type WatchFuture = Pin<Box<dyn Future<Output = Result<u64, SourceError>> + Send>>;

struct Engine {
    host: String,
    source: Arc<dyn DesiredStateSource>,
    sink: Arc<dyn ObservedStateSink>,
    hv: Arc<dyn Hypervisor>,
    cfg: Arc<AgentConfig>,
    tracked: BTreeMap<Uuid, Tracked>,
    inflight: JoinSet<Finished>,
    /// Instances whose observation changed since the last report.
    dirty: BTreeSet<Uuid>,
    revision: Option<u64>,
    /// The driver of each registered kind other than instances.
    drivers: BTreeMap<Kind, Arc<dyn ObjectDriver>>,
    /// Objects of the registered kinds.
    objects: BTreeMap<ObjectKey, TrackedObject>,
    /// Objects whose observation changed since the last report.
    dirty_objects: BTreeSet<ObjectKey>,
    /// The newest document (drivers read their objects' specs in it).
    doc: Arc<HostDesired>,
    /// What each object requires (from the document; kept for objects
    /// that left it while they are still on the host).
    requires: BTreeMap<ObjectKey, BTreeSet<ObjectKey>>,
}

impl Engine {
    /// Re-adopts the host's VMs and the agent's memory. Returns false if
    /// shut down before that succeeded.
    async fn start(&mut self, shutdown: &mut watch::Receiver<bool>) -> bool {
        let mut failures = 0;
        let list = loop {
            match timeout(self.cfg.op_deadline, self.hv.list()).await {
                Ok(Ok(list)) => break list,
                Ok(Err(e)) => warn!(host = %self.host, error = %chain(&e), "cannot list VMs"),
                Err(_) => warn!(host = %self.host, "listing VMs timed out"),
            }
            failures += 1;
            if !self.pause_or_shutdown(failures, shutdown).await {
                return false;
            }
        };
        info!(host = %self.host, adopted = list.len(), "agent starting; VMs on the host adopted");
        for i in list {
            let t = self.tracked.entry(i.id).or_default();
            t.set_seen(Seen::Present(i));
        }
        let mut failures = 0;
        let last = loop {
            match self.sink.last_reported(&self.host).await {
                Ok(last) => break last,
                Err(e) => warn!(host = %self.host, error = %chain(&e), "cannot read last report"),
            }
            failures += 1;
            if !self.pause_or_shutdown(failures, shutdown).await {
                return false;
            }
        };
        for o in last {
            // Only memory of what the agent did; the host's truth came
            // from list() above.
            if let Some(t) = self.tracked.get_mut(&o.id) {
                t.finished_generation = o.observed_generation;
                t.last_reboot = o.last_reboot;
                t.last_snapshot = o.last_snapshot;
                t.snapshot_error = o.snapshot_error;
                t.last_rebuild = o.last_rebuild;
                t.fault = o.fault;
            } else if o.power_state.is_some() || o.task != TaskOutcome::Deleted {
                // Reported before but gone from the host now: track it so
                // the change is reported and a finished generation is not
                // spawned again.
                let t = self.tracked.entry(o.id).or_default();
                t.finished_generation = o.observed_generation;
                t.last_reboot = o.last_reboot;
                t.last_snapshot = o.last_snapshot;
                t.snapshot_error = o.snapshot_error;
                t.last_rebuild = o.last_rebuild;
                t.fault = o.fault;
                t.task = Some(o.task);
                self.dirty.insert(o.id);
            }
        }
        self.dirty.extend(self.tracked.keys().copied());
        self.adopt_objects().await;
        true
    }

    async fn pause_or_shutdown(&self, failures: u32, shutdown: &mut watch::Receiver<bool>) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(self.cfg.backoff(failures)) => true,
            _ = shutdown.wait_for(|s| *s) => false,
        }
    }

    async fn run(&mut self, shutdown: &mut watch::Receiver<bool>) {
        let mut need_desired = true;
        let mut need_list = false;
        let mut next_resync = Instant::now() + self.cfg.resync_interval;
        let mut watch_fut: Option<WatchFuture> = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if need_list {
                self.refresh_from_list().await;
                self.list_objects().await;
                self.dirty_objects.extend(self.objects.keys().cloned());
                need_list = false;
            }
            if need_desired {
                // Report first: an instance that is neither assigned nor on
                // the host any more is forgotten below.
                self.flush().await;
                match self.source.assigned(&self.host).await {
                    Ok(doc) => {
                        self.revision = Some(doc.revision);
                        self.apply_document(doc);
                    }
                    // Retried a second later (see the watch below).
                    Err(e) => {
                        self.revision = None;
                        warn!(host = %self.host, error = %chain(&e), "cannot read desired state");
                    }
                }
                need_desired = false;
            }
            self.dispatch();
            self.flush().await;

            let wf = watch_fut.get_or_insert_with(|| {
                let source = self.source.clone();
                let host = self.host.clone();
                let since = self.revision;
                let wait = self.cfg.watch_timeout;
                Box::pin(async move {
                    let Some(since) = since else {
                        // The desired state was never read: try again in a
                        // second rather than spin on a failing source.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        return Ok(u64::MAX);
                    };
                    let r = source.watch(&host, since, wait).await;
                    if r.is_err() {
                        // Do not spin on a source that fails at once.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    r
                })
            });
            let next_retry = self
                .tracked
                .values()
                .filter(|t| t.busy.is_none())
                .filter_map(|t| t.retry_at)
                .chain(
                    self.objects
                        .values()
                        .filter(|t| !t.busy)
                        .filter_map(|t| t.retry_at),
                )
                .min();
            tokio::select! {
                r = shutdown.changed() => {
                    if r.is_err() {
                        break;
                    }
                }
                Some(done) = self.inflight.join_next(), if !self.inflight.is_empty() => {
                    match done {
                        Ok(done) => self.finished(done),
                        // An operation task panicked: a bug. Its instance
                        // stays busy rather than risking a second
                        // concurrent operation on it.
                        Err(e) => tracing::error!(host = %self.host, error = %e, "operation task failed"),
                    }
                }
                r = wf => {
                    watch_fut = None;
                    match r {
                        Ok(rev) => need_desired |= Some(rev) != self.revision,
                        Err(e) => {
                            warn!(host = %self.host, error = %chain(&e), "watching desired state failed");
                            need_desired = true;
                        }
                    }
                }
                _ = sleep_until(next_resync) => {
                    need_list = true;
                    need_desired = true;
                    next_resync = Instant::now() + self.cfg.resync_interval;
                }
                _ = sleep_until(next_retry.unwrap_or(next_resync)), if next_retry.is_some() => {}
            }
        }
        info!(host = %self.host, running = self.inflight.len(), "agent stopping; letting running operations end");
        while let Some(done) = self.inflight.join_next().await {
            if let Ok(done) = done {
                self.finished(done);
            }
        }
        self.flush().await;
    }

    /// Reads the host's truth for every instance no operation is running on.
    async fn refresh_from_list(&mut self) {
        let list = match timeout(self.cfg.op_deadline, self.hv.list()).await {
            Ok(Ok(list)) => list,
            Ok(Err(e)) => {
                warn!(host = %self.host, error = %chain(&e), "cannot list VMs");
                return;
            }
            Err(_) => {
                warn!(host = %self.host, "listing VMs timed out");
                return;
            }
        };
        let mut on_host: HashMap<Uuid, InstanceInfo> =
            list.into_iter().map(|i| (i.id, i)).collect();
        for (id, t) in self.tracked.iter_mut() {
            if t.busy.is_some() {
                on_host.remove(id);
                continue;
            }
            let before = (t.power, t.pid);
            match on_host.remove(id) {
                Some(i) => t.set_seen(Seen::Present(i)),
                None => t.set_seen(Seen::Absent),
            }
            if before != (t.power, t.pid) {
                info!(host = %self.host, instance = %id, from = ?before.0, to = ?t.power, "power state changed behind the agent's back");
            }
        }
        for (id, i) in on_host {
            let t = self.tracked.entry(id).or_default();
            t.set_seen(Seen::Present(i));
        }
        // A resync reports everything.
        self.dirty.extend(self.tracked.keys().copied());
    }

    /// Takes a new document in: every section, and what requires what.
    fn apply_document(&mut self, mut doc: HostDesired) {
        let mut requires: BTreeMap<ObjectKey, BTreeSet<ObjectKey>> = BTreeMap::new();
        for (dependent, required) in doc.requirements() {
            requires.entry(dependent).or_default().insert(required);
        }
        // A dependent that left the document but is still on the host
        // keeps its edges: its port must not be unwired under it.
        for (dependent, required) in std::mem::take(&mut self.requires) {
            if !requires.contains_key(&dependent) && self.is_present(&dependent) {
                requires.insert(dependent, required);
            }
        }
        self.requires = requires;
        apply_desired_objects(
            &mut self.objects,
            &self.drivers,
            &doc,
            &mut self.dirty_objects,
        );
        let instances = std::mem::take(&mut doc.instances);
        self.doc = Arc::new(doc);
        self.apply_desired(instances);
    }

    /// Takes an instance snapshot in; older generations lose.
    fn apply_desired(&mut self, instances: Vec<DesiredInstance>) {
        let mut assigned = BTreeSet::new();
        for d in instances {
            let id = d.spec.id;
            assigned.insert(id);
            let t = self.tracked.entry(id).or_default();
            let newest = t.desired.as_ref().map_or(t.finished_generation, |o| {
                o.generation.max(t.finished_generation)
            });
            if d.generation < newest {
                debug!(host = %self.host, instance = %id, stale = d.generation, newest, "ignoring an older desired generation");
                continue;
            }
            if t.desired
                .as_ref()
                .is_some_and(|o| o.generation != d.generation)
            {
                // A new generation starts with a clean slate of retries.
                t.failures = 0;
                t.steps = 0;
                t.retry_at = None;
            }
            if t.desired.is_none() {
                self.dirty.insert(id);
            }
            t.desired = Some(d);
        }
        let host = &self.host;
        self.tracked.retain(|id, t| {
            if assigned.contains(id) {
                return true;
            }
            if t.desired.take().is_some() {
                debug!(host = %host, instance = %id, "no longer assigned to this host");
                self.dirty.insert(*id);
            }
            // Forget what is neither assigned nor on the host (a purged
            // delete); keep orphans to report them.
            t.power.is_some() || t.busy.is_some()
        });
    }

    /// Plans every idle instance and starts operations up to the limit.
    fn dispatch(&mut self) {
        let now = Instant::now();
        let ids: Vec<Uuid> = self.tracked.keys().copied().collect();
        for id in ids {
            let Some(t) = self.tracked.get_mut(&id) else {
                continue;
            };
            if t.busy.is_some() || t.retry_at.is_some_and(|r| r > now) {
                continue;
            }
            let before = t.observed(id);
            let action = plan(t, &self.cfg);
            if t.observed(id) != before {
                self.dirty.insert(id);
            }
            let Some(action) = action else {
                continue;
            };
            let key = ObjectKey::new(Kind::Instance, id.to_string());
            let gate = match &action {
                // A NIC added to a live VM waits for its own port only.
                Action::AttachNic(nic) => self.gate_nic(nic),
                a => self.gate(&key, a.operation().direction()),
            };
            match gate {
                Gate::Go => {}
                Gate::Wait => {
                    debug!(host = %self.host, instance = %id, operation = ?action.operation(), "waiting for what the instance requires");
                    continue;
                }
                Gate::Blocked(message) => {
                    let t = self.tracked.get_mut(&id).expect("present");
                    let operation = action.operation();
                    warn!(host = %self.host, instance = %id, ?operation, error = %message, "instance blocked");
                    t.fault = Some(Fault { message, operation });
                    t.task = Some(TaskOutcome::Failed { operation });
                    t.finished_generation = t
                        .desired
                        .as_ref()
                        .map_or(t.finished_generation, |d| d.generation);
                    self.dirty.insert(id);
                    continue;
                }
            }
            if self.inflight.len() >= self.cfg.max_concurrent {
                continue;
            }
            let t = self.tracked.get_mut(&id).expect("present");
            let operation = action.operation();
            let reboot_id = match action {
                Action::Reboot { .. } | Action::PowerOn => t
                    .desired
                    .as_ref()
                    .and_then(|d| d.reboot.as_ref())
                    .filter(|r| Some(&r.request_id) != t.last_reboot.as_ref())
                    .map(|r| r.request_id.clone()),
                _ => None,
            };
            if operation == Operation::Snapshot {
                t.task_before_snapshot = t.task;
            }
            if let Action::AttachNic(nic) = &action {
                t.plugging.clone_from(&nic.port_id);
            }
            t.busy = Some(operation);
            t.retry_at = None;
            t.task = Some(TaskOutcome::Working { operation });
            self.dirty.insert(id);
            debug!(host = %self.host, instance = %id, ?operation, "starting operation");
            let hv = self.hv.clone();
            let cfg = self.cfg.clone();
            self.inflight.spawn(async move {
                Finished::Instance(execute(hv, cfg, id, action, reboot_id).await)
            });
        }
        self.dispatch_objects(now);
    }

    /// Takes a finished operation of either family in.
    fn finished(&mut self, done: Finished) {
        match done {
            Finished::Instance(done) => self.complete(done),
            Finished::Object(done) => {
                let key = done.key.clone();
                if let Some(t) = self.objects.get_mut(&key) {
                    complete_object(t, done, &self.cfg);
                    self.dirty_objects.insert(key);
                }
            }
        }
    }

    /// Takes an operation's result in.
    fn complete(&mut self, done: Done) {
        let Some(t) = self.tracked.get_mut(&done.id) else {
            return;
        };
        t.busy = None;
        t.plugging = None;
        t.set_seen(done.seen);
        if let Some(r) = done.reboot_id {
            // Acted on once, whether it worked or not.
            t.last_reboot = Some(r);
        }
        if done.operation == Operation::Snapshot {
            // Acted on once too, and never a failure of the instance.
            t.last_snapshot = done.snapshot_id;
            t.snapshot_error = done.error.clone();
            t.task = t.task_before_snapshot.take();
            match done.error {
                Some(message) => {
                    warn!(host = %self.host, instance = %done.id, error = %message, "snapshot failed");
                    t.fault = Some(Fault {
                        message,
                        operation: Operation::Snapshot,
                    });
                }
                None => info!(host = %self.host, instance = %done.id, "snapshot written"),
            }
            self.dirty.insert(done.id);
            return;
        }
        let generation = t.desired.as_ref().map_or(0, |d| d.generation);
        // The longest path to any desired state is spawn, power_on, then one
        // more step; operations that "succeed" without getting there (a
        // driver that lies, a guest that undoes them) count as a failure
        // rather than loop.
        let error = done.error.or_else(|| {
            if done.in_place_progress {
                return None;
            }
            t.steps += 1;
            (t.steps > MAX_STEPS).then(|| {
                t.steps = 0;
                format!(
                    "{MAX_STEPS} operations succeeded but the instance is still not {:?}",
                    t.desired.as_ref().map(|d| d.power)
                )
            })
        });
        match error {
            None => {
                t.task = Some(TaskOutcome::Idle);
                // A destroy ends the instance only when it is being deleted
                // (or is an orphan); in a rebuild a spawn follows.
                let going = t.desired.as_ref().is_none_or(|d| d.deleted);
                if done.operation == Operation::Destroy && t.power.is_none() && going {
                    t.task = Some(TaskOutcome::Deleted);
                    t.fault = None;
                }
            }
            Some(message) => {
                t.failures += 1;
                warn!(host = %self.host, instance = %done.id, operation = ?done.operation, attempt = t.failures, error = %message, "operation failed");
                t.fault = Some(Fault {
                    message,
                    operation: done.operation,
                });
                if t.failures >= self.cfg.max_attempts {
                    t.task = Some(TaskOutcome::Failed {
                        operation: done.operation,
                    });
                    t.finished_generation = t.finished_generation.max(generation);
                    t.retry_at = None;
                } else {
                    t.task = Some(TaskOutcome::Retrying {
                        operation: done.operation,
                        attempt: t.failures,
                    });
                    t.retry_at = Some(Instant::now() + self.cfg.backoff(t.failures));
                }
            }
        }
        self.dirty.insert(done.id);
    }

    /// Reports what changed.
    async fn flush(&mut self) {
        self.flush_objects().await;
        if self.dirty.is_empty() {
            return;
        }
        let batch: Vec<ObservedInstance> = self
            .dirty
            .iter()
            .filter_map(|id| self.tracked.get(id).map(|t| t.observed(*id)))
            .collect();
        match self.sink.report(&self.host, batch).await {
            Ok(()) => self.dirty.clear(),
            // Kept dirty: reported again on the next pass.
            Err(e) => warn!(host = %self.host, error = %chain(&e), "cannot report observed state"),
        }
    }
}

/// The instance id of an instance's key.
fn instance_id(key: &ObjectKey) -> Option<Uuid> {
    Uuid::parse_str(&key.id).ok()
}

use ferrostack_host_contract::wire::error_chain as chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cfg = AgentConfig {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(10),
            ..AgentConfig::default()
        };
        let b: Vec<u64> = (1..=6).map(|n| cfg.backoff(n).as_secs()).collect();
        assert_eq!(b, [1, 2, 4, 8, 10, 10]);
        assert_eq!(cfg.backoff(u32::MAX), Duration::from_secs(10));
    }
}
