//! What goes wrong: failed and stuck operations, VMs that die behind the
//! agent's back, agent restarts, and many instances at once.

mod common;

use common::{config, desired, spec, Harness, HOST, WAIT};
use ferrostack_agent::{
    Agent, AgentConfig, DesiredPower, MemoryDesiredState, MemoryObservedState, TaskOutcome,
};
use ferrostack_hypervisor::{
    HvFuture, InstanceInfo, InstanceSpec, Operation, PowerOffOutcome, PowerState,
};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

#[tokio::test(start_paused = true)]
async fn a_failed_spawn_is_cleaned_up_retried_with_backoff_then_failed() {
    let h = Harness::new(common::big_fake(), config());
    h.fake.fail_next(Operation::Spawn, 100);
    let s = spec("doomed");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));

    let o = h.wait(id, "reported a fault", |o| o.fault.is_some()).await;
    assert_eq!(
        o.fault.as_ref().map(|f| f.operation),
        Some(Operation::Spawn)
    );
    assert!(
        o.fault
            .as_ref()
            .is_some_and(|f| f.message.contains("injected")),
        "{o:?}"
    );
    assert!(h.fake.is_empty(), "the failed spawn left nothing");

    let o = h
        .wait(id, "failed", |o| {
            matches!(o.task, TaskOutcome::Failed { .. })
        })
        .await;
    assert_eq!(
        o.task,
        TaskOutcome::Failed {
            operation: Operation::Spawn
        }
    );
    assert_eq!((o.observed_generation, o.power_state), (1, None));
    assert!(h.fake.is_empty());
    assert!(
        h.hv.calls(Operation::Destroy) >= 3,
        "each failure cleaned up"
    );

    // Three attempts, 1 s then 2 s apart (exponential backoff) ...
    let t = h.hv.started(Operation::Spawn);
    assert_eq!(t.len(), 3);
    assert!(t[1] - t[0] >= Duration::from_secs(1), "{:?}", t[1] - t[0]);
    assert!(t[2] - t[1] >= Duration::from_secs(2), "{:?}", t[2] - t[1]);
    // ... and not retried forever.
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(h.hv.calls(Operation::Spawn), 3);

    // A new generation (the control plane's "try again") starts afresh.
    h.fake.fail_next(Operation::Spawn, 0);
    let g = h.desired.update(HOST, id, |_| {}).expect("assigned");
    let o = h.converged(id, g.generation).await;
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert_eq!(o.fault, None, "the fault clears once converged");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_operation_beyond_its_deadline_times_out_to_a_definite_state() {
    let h = Harness::new(common::big_fake(), config());
    let s = spec("stuck");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    h.converged(id, 1).await;

    // Pausing hangs far beyond the agent's 5 s deadline.
    h.fake
        .set_delay(Operation::Pause, Duration::from_secs(3600));
    let started = tokio::time::Instant::now();
    h.desired
        .update(HOST, id, |d| d.power = DesiredPower::Paused)
        .expect("assigned");
    let o = h.wait(id, "timed out", |o| o.fault.is_some()).await;
    let fault = o.fault.clone().expect("fault");
    assert_eq!(fault.operation, Operation::Pause);
    assert!(fault.message.contains("did not finish"), "{fault:?}");
    assert_eq!(o.power_state, Some(PowerState::Running), "what is true");
    assert!(started.elapsed() < Duration::from_secs(10));

    let o = h
        .wait(id, "failed", |o| {
            matches!(o.task, TaskOutcome::Failed { .. })
        })
        .await;
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert_eq!(o.observed_generation, 2);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "3 attempts with deadlines and backoff end within a minute: {:?}",
        started.elapsed()
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_vm_that_dies_behind_the_agents_back_is_reported_shutoff_and_not_restarted() {
    let h = Harness::new(common::big_fake(), config());
    let s = spec("fragile");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    h.converged(id, 1).await;

    h.fake.guest_powered_off(id).expect("power off");
    let o = h
        .wait(id, "reported Shutoff", |o| {
            o.power_state == Some(PowerState::Shutoff)
        })
        .await;
    assert_eq!((o.pid, o.observed_generation), (None, 1));

    h.let_resync().await;
    h.let_resync().await;
    assert_eq!(h.hv.calls(Operation::PowerOn), 0, "not restarted");
    assert_eq!(h.hv.calls(Operation::Spawn), 1);
    assert_eq!(
        h.get(id).expect("reported").power_state,
        Some(PowerState::Shutoff)
    );

    // The control plane decides: a new generation starts it.
    let g = h.desired.update(HOST, id, |_| {}).expect("assigned");
    let o = h.converged(id, g.generation).await;
    assert_eq!(o.power_state, Some(PowerState::Running));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restarted_agent_adopts_running_instances_without_respawning() {
    let first = Harness::new(common::big_fake(), config());
    let mut ids = Vec::new();
    for (i, power) in [
        DesiredPower::Running,
        DesiredPower::Stopped,
        DesiredPower::Paused,
    ]
    .into_iter()
    .enumerate()
    {
        let s = spec(&format!("vm{i}"));
        ids.push(s.id);
        first.desired.put(HOST, desired(s, power, 1));
    }
    for id in &ids {
        first.converged(*id, 1).await;
    }
    let pids: Vec<_> = ids
        .iter()
        .map(|id| first.get(*id).expect("reported").pid)
        .collect();
    let (fake, desired_state, observed) = (
        first.fake.clone(),
        first.desired.clone(),
        first.observed.clone(),
    );
    first.stop().await;

    let reports = observed.report_count();
    let second = Harness::over(fake.clone(), desired_state, observed.clone(), config());
    assert!(
        observed
            .wait_until(HOST, WAIT, |_| observed.report_count() > reports)
            .await
    );
    second.let_resync().await;
    for (id, pid) in ids.iter().zip(&pids) {
        let o = second.get(*id).expect("reported");
        assert_eq!(o.pid, *pid, "the same VM process");
        assert_eq!((o.task, o.observed_generation), (TaskOutcome::Idle, 1));
    }
    for op in [
        Operation::Spawn,
        Operation::PowerOn,
        Operation::PowerOff,
        Operation::Pause,
        Operation::Destroy,
    ] {
        assert_eq!(second.hv.calls(op), 0, "{op:?} after a restart");
    }
    assert_eq!(fake.len(), 3);
    second.stop().await;
}

#[tokio::test(start_paused = true)]
async fn two_hundred_instances_converge_with_bounded_concurrency() {
    let limit = 4;
    let h = Harness::new(
        common::big_fake(),
        AgentConfig {
            max_concurrent: limit,
            ..config()
        },
    );
    // Each spawn takes 100 ms, so operations overlap as much as allowed.
    h.fake
        .set_delay(Operation::Spawn, Duration::from_millis(100));
    let mut ids = Vec::new();
    for i in 0..200 {
        let s = spec(&format!("vm{i}"));
        ids.push(s.id);
        h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    }
    assert!(
        h.observed
            .wait_until(HOST, Duration::from_secs(600), |m| ids.iter().all(|id| m
                .get(id)
                .is_some_and(
                    |o| o.observed_generation == 1 && o.power_state == Some(PowerState::Running)
                )))
            .await,
        "all 200 running"
    );
    assert_eq!(h.fake.len(), 200);
    assert_eq!(h.hv.calls(Operation::Spawn), 200);
    assert_eq!(
        h.hv.max_in_flight(),
        limit,
        "the limit is used and never exceeded"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_destroy_that_keeps_failing_ends_failed_without_a_hot_loop() {
    let h = Harness::new(common::big_fake(), config());
    let s = spec("sticky");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    h.converged(id, 1).await;

    h.fake.fail_next(Operation::Destroy, 100);
    h.desired.update(HOST, id, |d| d.deleted = true);
    let o = h
        .wait(id, "failed", |o| {
            matches!(o.task, TaskOutcome::Failed { .. })
        })
        .await;
    assert_eq!(
        o.fault.map(|f| f.operation),
        Some(Operation::Destroy),
        "the fault says what failed"
    );
    assert_eq!(
        o.power_state,
        Some(PowerState::Running),
        "still there, and said so"
    );
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(
        h.hv.calls(Operation::Destroy),
        3,
        "three attempts, then stop"
    );

    // Deleting again (a new generation) works once the host recovers.
    h.fake.fail_next(Operation::Destroy, 0);
    h.desired.update(HOST, id, |_| {});
    h.wait(id, "deleted", |o| o.task == TaskOutcome::Deleted)
        .await;
    assert!(h.fake.is_empty());
    h.stop().await;
}

/// A host whose `power_on` answers "done" and starts nothing.
struct LyingHost(ferrostack_hypervisor::FakeHypervisor);

impl ferrostack_hypervisor::Hypervisor for LyingHost {
    fn capabilities(&self) -> HvFuture<'_, ferrostack_hypervisor::Capabilities> {
        self.0.capabilities()
    }
    fn spawn(&self, spec: InstanceSpec) -> HvFuture<'_, InstanceInfo> {
        self.0.spawn(spec)
    }
    fn destroy(&self, id: Uuid) -> HvFuture<'_, ()> {
        self.0.destroy(id)
    }
    fn power_off(&self, id: Uuid, t: Duration) -> HvFuture<'_, PowerOffOutcome> {
        self.0.power_off(id, t)
    }
    fn power_on(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.0.state(id)
    }
    fn reboot(&self, id: Uuid, hard: bool) -> HvFuture<'_, InstanceInfo> {
        self.0.reboot(id, hard)
    }
    fn pause(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.0.pause(id)
    }
    fn unpause(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.0.unpause(id)
    }
    fn suspend(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.0.suspend(id)
    }
    fn resume(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.0.resume(id)
    }
    fn state(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.0.state(id)
    }
    fn list(&self) -> HvFuture<'_, Vec<InstanceInfo>> {
        self.0.list()
    }
    fn console_log(&self, id: Uuid, max: usize) -> HvFuture<'_, String> {
        self.0.console_log(id, max)
    }
    fn resize(&self, spec: InstanceSpec) -> HvFuture<'_, InstanceInfo> {
        self.0.resize(spec)
    }
    fn confirm_resize(&self, id: Uuid) -> HvFuture<'_, ()> {
        self.0.confirm_resize(id)
    }
    fn revert_resize(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        self.0.revert_resize(id)
    }
    fn snapshot<'a>(
        &'a self,
        id: Uuid,
        dest: &'a std::path::Path,
    ) -> HvFuture<'a, ferrostack_hypervisor::SnapshotInfo> {
        self.0.snapshot(id, dest)
    }
    fn attach_nic(
        &self,
        id: Uuid,
        nic: ferrostack_hypervisor::NicSpec,
    ) -> HvFuture<'_, InstanceInfo> {
        self.0.attach_nic(id, nic)
    }
    fn detach_nic<'a>(&'a self, id: Uuid, nic: &'a str) -> HvFuture<'a, InstanceInfo> {
        self.0.detach_nic(id, nic)
    }
    fn attach_volume(
        &self,
        id: Uuid,
        volume: ferrostack_hypervisor::VolumeSpec,
    ) -> HvFuture<'_, InstanceInfo> {
        self.0.attach_volume(id, volume)
    }
    fn detach_volume<'a>(&'a self, id: Uuid, volume_id: &'a str) -> HvFuture<'a, InstanceInfo> {
        self.0.detach_volume(id, volume_id)
    }
    fn update_volume(
        &self,
        id: Uuid,
        volume: ferrostack_hypervisor::VolumeSpec,
    ) -> HvFuture<'_, InstanceInfo> {
        self.0.update_volume(id, volume)
    }
    fn set_root_limits(
        &self,
        id: Uuid,
        limits: ferrostack_hypervisor::IoLimits,
    ) -> HvFuture<'_, InstanceInfo> {
        self.0.set_root_limits(id, limits)
    }
}

#[tokio::test(start_paused = true)]
async fn operations_that_succeed_without_effect_end_failed_not_in_a_loop() {
    let fake = common::big_fake();
    let desired_state = Arc::new(MemoryDesiredState::new());
    let observed = Arc::new(MemoryObservedState::new());
    let (stop, rx) = tokio::sync::watch::channel(false);
    let agent = tokio::spawn(Agent::run(
        HOST,
        desired_state.clone(),
        observed.clone(),
        Arc::new(LyingHost(fake.clone())),
        config(),
        rx,
    ));
    let s = spec("stubborn");
    let id = s.id;
    desired_state.put(HOST, desired(s, DesiredPower::Stopped, 1));
    observed
        .wait_for(HOST, id, WAIT, |o| o.observed_generation == 1)
        .await
        .expect("stopped");

    desired_state.update(HOST, id, |d| d.power = DesiredPower::Running);
    let o = observed
        .wait_for(HOST, id, WAIT, |o| {
            matches!(o.task, TaskOutcome::Failed { .. })
        })
        .await
        .expect("gave up");
    assert_eq!(o.power_state, Some(PowerState::Shutoff));
    assert!(
        o.fault.is_some_and(|f| f.message.contains("still not")),
        "the fault says why"
    );
    stop.send(true).expect("running");
    agent.await.expect("agent");
}
