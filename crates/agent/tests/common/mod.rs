//! Test harness: an agent over a [`FakeHypervisor`] wrapped in a counter
//! of calls and of concurrent operations, with in-memory desired and
//! observed state.

#![allow(dead_code, missing_docs)]

use ferrostack_agent::{
    Agent, AgentConfig, DesiredInstance, DesiredPower, MemoryDesiredState, MemoryObservedState,
    ObservedInstance, ResizeDesire, TaskOutcome,
};
use ferrostack_hypervisor::{
    BaseFormat, Capabilities, ConfigDrive, FakeConfig, FakeHypervisor, HvFuture, Hypervisor,
    InstanceInfo, InstanceSpec, NicSpec, Operation, PowerOffOutcome, SnapshotInfo,
};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

pub const HOST: &str = "host-1";
/// How long a test waits for a condition (virtual time under `start_paused`).
pub const WAIT: Duration = Duration::from_secs(120);

/// Counts calls per operation and the most operations in flight at once.
pub struct CountingHv {
    pub inner: FakeHypervisor,
    calls: Mutex<HashMap<Operation, u32>>,
    started: Mutex<Vec<(Operation, Instant)>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

impl CountingHv {
    pub fn new(inner: FakeHypervisor) -> Self {
        CountingHv {
            inner,
            calls: Mutex::default(),
            started: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    pub fn calls(&self, op: Operation) -> u32 {
        self.calls
            .lock()
            .expect("lock")
            .get(&op)
            .copied()
            .unwrap_or(0)
    }

    /// When each call of `op` started.
    pub fn started(&self, op: Operation) -> Vec<Instant> {
        self.started
            .lock()
            .expect("lock")
            .iter()
            .filter(|(o, _)| *o == op)
            .map(|(_, t)| *t)
            .collect()
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    fn counted<'a, T: Send + 'a>(
        &'a self,
        op: Operation,
        fut: impl Future<Output = ferrostack_hypervisor::Result<T>> + Send + 'a,
    ) -> HvFuture<'a, T> {
        *self.calls.lock().expect("lock").entry(op).or_default() += 1;
        self.started
            .lock()
            .expect("lock")
            .push((op, Instant::now()));
        let read_only = matches!(
            op,
            Operation::State | Operation::List | Operation::ConsoleLog | Operation::Capabilities
        );
        Box::pin(async move {
            if read_only {
                return fut.await;
            }
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let r = fut.await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            r
        })
    }
}

impl Hypervisor for CountingHv {
    fn capabilities(&self) -> HvFuture<'_, Capabilities> {
        self.counted(Operation::Capabilities, self.inner.capabilities())
    }
    fn spawn(&self, spec: InstanceSpec) -> HvFuture<'_, InstanceInfo> {
        self.counted(Operation::Spawn, self.inner.spawn(spec))
    }
    fn destroy(&self, id: Uuid) -> HvFuture<'_, ()> {
        self.counted(Operation::Destroy, self.inner.destroy(id))
    }
    fn power_off(&self, id: Uuid, graceful: Duration) -> HvFuture<'_, PowerOffOutcome> {
        self.counted(Operation::PowerOff, self.inner.power_off(id, graceful))
    }
    fn power_on(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.counted(Operation::PowerOn, self.inner.power_on(id))
    }
    fn reboot(&self, id: Uuid, hard: bool) -> HvFuture<'_, InstanceInfo> {
        self.counted(Operation::Reboot, self.inner.reboot(id, hard))
    }
    fn pause(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.counted(Operation::Pause, self.inner.pause(id))
    }
    fn unpause(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.counted(Operation::Unpause, self.inner.unpause(id))
    }
    fn suspend(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.counted(Operation::Suspend, self.inner.suspend(id))
    }
    fn resume(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.counted(Operation::Resume, self.inner.resume(id))
    }
    fn state(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.counted(Operation::State, self.inner.state(id))
    }
    fn list(&self) -> HvFuture<'_, Vec<InstanceInfo>> {
        self.counted(Operation::List, self.inner.list())
    }
    fn console_log(&self, id: Uuid, max_bytes: usize) -> HvFuture<'_, String> {
        self.counted(Operation::ConsoleLog, self.inner.console_log(id, max_bytes))
    }
    fn resize(&self, spec: InstanceSpec) -> HvFuture<'_, InstanceInfo> {
        self.counted(Operation::Resize, self.inner.resize(spec))
    }
    fn confirm_resize(&self, id: Uuid) -> HvFuture<'_, ()> {
        self.counted(Operation::ConfirmResize, self.inner.confirm_resize(id))
    }
    fn revert_resize(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.counted(Operation::RevertResize, self.inner.revert_resize(id))
    }
    fn snapshot<'a>(&'a self, id: Uuid, dest: &'a std::path::Path) -> HvFuture<'a, SnapshotInfo> {
        self.counted(Operation::Snapshot, self.inner.snapshot(id, dest))
    }
    fn attach_nic(&self, id: Uuid, nic: NicSpec) -> HvFuture<'_, InstanceInfo> {
        self.counted(Operation::AttachNic, self.inner.attach_nic(id, nic))
    }
    fn detach_nic<'a>(&'a self, id: Uuid, nic: &'a str) -> HvFuture<'a, InstanceInfo> {
        self.counted(Operation::DetachNic, self.inner.detach_nic(id, nic))
    }
    fn attach_volume(
        &self,
        id: Uuid,
        volume: ferrostack_hypervisor::VolumeSpec,
    ) -> HvFuture<'_, InstanceInfo> {
        self.counted(
            Operation::AttachVolume,
            self.inner.attach_volume(id, volume),
        )
    }
    fn detach_volume<'a>(&'a self, id: Uuid, volume_id: &'a str) -> HvFuture<'a, InstanceInfo> {
        self.counted(
            Operation::DetachVolume,
            self.inner.detach_volume(id, volume_id),
        )
    }
    fn update_volume(
        &self,
        id: Uuid,
        volume: ferrostack_hypervisor::VolumeSpec,
    ) -> HvFuture<'_, InstanceInfo> {
        self.counted(
            Operation::UpdateVolume,
            self.inner.update_volume(id, volume),
        )
    }
    fn set_root_limits(
        &self,
        id: Uuid,
        limits: ferrostack_hypervisor::IoLimits,
    ) -> HvFuture<'_, InstanceInfo> {
        self.counted(
            Operation::SetRootLimits,
            self.inner.set_root_limits(id, limits),
        )
    }
}

/// A fake host big enough for hundreds of small instances, whose own
/// deadline is far beyond the agent's (so the agent's deadline is tested).
pub fn big_fake() -> FakeHypervisor {
    let d = FakeConfig::default();
    FakeHypervisor::new(FakeConfig {
        capabilities: Capabilities {
            vcpus: 100_000,
            memory_mib: u64::MAX / 4,
            local_disk_gib: u64::MAX / 4,
            ..d.capabilities
        },
        deadline: Duration::from_secs(24 * 3600),
    })
}

/// Short, test-sized settings.
pub fn config() -> AgentConfig {
    AgentConfig {
        max_concurrent: 8,
        resync_interval: Duration::from_secs(10),
        watch_timeout: Duration::from_secs(30),
        spawn_deadline: Duration::from_secs(10),
        op_deadline: Duration::from_secs(5),
        graceful_shutdown: Duration::from_secs(2),
        backoff_initial: Duration::from_secs(1),
        backoff_max: Duration::from_secs(8),
        max_attempts: 3,
        reap_orphans: false,
        snapshot_dir: None,
        images: None,
    }
}

pub fn spec(name: &str) -> InstanceSpec {
    let id = Uuid::new_v4();
    InstanceSpec {
        id,
        name: name.into(),
        vcpus: 1,
        memory_mib: 64,
        root_disk_gib: 1,
        image_id: String::new(),
        base_image: "/images/base.qcow2".into(),
        base_format: BaseFormat::Qcow2,
        config_drive: Some(ConfigDrive {
            meta_data_json: format!(r#"{{"uuid": "{id}", "hostname": "{name}"}}"#),
            ..ConfigDrive::default()
        }),
        nics: vec![],
        volumes: Vec::new(),
        root_limits: Default::default(),
    }
}

pub fn desired(spec: InstanceSpec, power: DesiredPower, generation: u64) -> DesiredInstance {
    DesiredInstance {
        spec,
        power,
        reboot: None,
        snapshot: None,
        rebuild: None,
        resize: ResizeDesire::None,
        deleted: false,
        generation,
    }
}

/// One running agent and its world.
pub struct Harness {
    pub fake: FakeHypervisor,
    pub hv: Arc<CountingHv>,
    pub desired: Arc<MemoryDesiredState>,
    pub observed: Arc<MemoryObservedState>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Harness {
    pub fn new(fake: FakeHypervisor, config: AgentConfig) -> Self {
        Self::over(
            fake,
            Arc::new(MemoryDesiredState::new()),
            Arc::new(MemoryObservedState::new()),
            config,
        )
    }

    /// An agent over an existing host and control plane (a restart).
    pub fn over(
        fake: FakeHypervisor,
        desired: Arc<MemoryDesiredState>,
        observed: Arc<MemoryObservedState>,
        config: AgentConfig,
    ) -> Self {
        Self::with_drivers(fake, desired, observed, Vec::new(), config)
    }

    /// An agent that also converges other kinds with `drivers`.
    pub fn with_drivers(
        fake: FakeHypervisor,
        desired: Arc<MemoryDesiredState>,
        observed: Arc<MemoryObservedState>,
        drivers: Vec<Arc<dyn ferrostack_agent::drivers::ObjectDriver>>,
        config: AgentConfig,
    ) -> Self {
        let hv = Arc::new(CountingHv::new(fake.clone()));
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(Agent::run_with_drivers(
            HOST,
            desired.clone(),
            observed.clone(),
            hv.clone(),
            drivers,
            config,
            rx,
        ));
        Harness {
            fake,
            hv,
            desired,
            observed,
            shutdown,
            task,
        }
    }

    /// Signals shutdown and waits for the agent to return.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the agent stops within its deadlines")
            .expect("the agent task does not panic");
    }

    pub fn get(&self, id: Uuid) -> Option<ObservedInstance> {
        self.observed.get(HOST, id)
    }

    /// Waits until `id` is reported with `pred` true.
    pub async fn wait(
        &self,
        id: Uuid,
        what: &str,
        pred: impl Fn(&ObservedInstance) -> bool,
    ) -> ObservedInstance {
        match self.observed.wait_for(HOST, id, WAIT, pred).await {
            Some(o) => o,
            None => panic!("{id}: never {what}; last report: {:?}", self.get(id)),
        }
    }

    /// Waits until `id` has finished acting on `generation` and is idle.
    pub async fn converged(&self, id: Uuid, generation: u64) -> ObservedInstance {
        self.wait(id, &format!("converged at generation {generation}"), |o| {
            o.observed_generation >= generation && o.task == TaskOutcome::Idle
        })
        .await
    }

    /// Lets the agent run through at least one full resync.
    pub async fn let_resync(&self) {
        let n = self.observed.report_count();
        tokio::time::sleep(Duration::from_secs(25)).await;
        assert!(self.observed.report_count() > n, "the agent kept reporting");
    }
}
