//! The agent converges a fake host to the desired state: spawn, power
//! changes, reboots acted on once, delete, stale generations ignored.
//! Tokio's paused clock makes every wait deterministic and instant.

mod common;

use common::{config, desired, spec, Harness, HOST};
use ferrostack_agent::{DesiredPower, RebootRequest, TaskOutcome};
use ferrostack_hypervisor::{Hypervisor, Operation, PowerState};

#[tokio::test(start_paused = true)]
async fn spawns_to_running() {
    let h = Harness::new(common::big_fake(), config());
    let s = spec("web");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    let o = h.converged(id, 1).await;
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert!(o.pid.is_some() && o.fault.is_none() && !o.orphan, "{o:?}");
    assert_eq!(h.hv.calls(Operation::Spawn), 1);
    let log = h.fake.console_log(id, 4096).await.expect("console");
    assert!(log.contains("ferrostack-guest: ready"), "{log}");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stops_and_starts() {
    let h = Harness::new(common::big_fake(), config());
    let s = spec("vm");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    h.converged(id, 1).await;

    let g = h
        .desired
        .update(HOST, id, |d| d.power = DesiredPower::Stopped);
    let o = h.converged(id, g.expect("assigned").generation).await;
    assert_eq!((o.power_state, o.pid), (Some(PowerState::Shutoff), None));

    let g = h
        .desired
        .update(HOST, id, |d| d.power = DesiredPower::Running);
    let o = h.converged(id, g.expect("assigned").generation).await;
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert_eq!(
        (
            h.hv.calls(Operation::Spawn),
            h.hv.calls(Operation::PowerOff),
            h.hv.calls(Operation::PowerOn)
        ),
        (1, 1, 1)
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn pauses_unpauses_suspends_resumes() {
    let h = Harness::new(common::big_fake(), config());
    let s = spec("vm");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    h.converged(id, 1).await;
    for (power, state) in [
        (DesiredPower::Paused, PowerState::Paused),
        (DesiredPower::Running, PowerState::Running),
        (DesiredPower::Suspended, PowerState::Suspended),
        (DesiredPower::Running, PowerState::Running),
    ] {
        let g = h.desired.update(HOST, id, |d| d.power = power);
        let o = h.converged(id, g.expect("assigned").generation).await;
        assert_eq!(o.power_state, Some(state), "{power:?}");
    }
    for op in [
        Operation::Pause,
        Operation::Unpause,
        Operation::Suspend,
        Operation::Resume,
    ] {
        assert_eq!(h.hv.calls(op), 1, "{op:?}");
    }
    // A paused instance asked to stop goes straight to Shutoff.
    let g = h
        .desired
        .update(HOST, id, |d| d.power = DesiredPower::Paused);
    h.converged(id, g.expect("assigned").generation).await;
    let g = h
        .desired
        .update(HOST, id, |d| d.power = DesiredPower::Stopped);
    let o = h.converged(id, g.expect("assigned").generation).await;
    assert_eq!(o.power_state, Some(PowerState::Shutoff));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn reboots_soft_and_hard_once_per_request() {
    let h = Harness::new(common::big_fake(), config());
    let s = spec("vm");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    let first_pid = h.converged(id, 1).await.pid;

    h.desired.update(HOST, id, |d| {
        d.reboot = Some(RebootRequest {
            hard: false,
            request_id: "req-soft".into(),
        })
    });
    let o = h
        .wait(id, "soft-rebooted", |o| {
            o.last_reboot.as_deref() == Some("req-soft") && o.task == TaskOutcome::Idle
        })
        .await;
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert_ne!(o.pid, first_pid, "a new guest boot");
    let log = h.fake.console_log(id, 1 << 16).await.expect("console");
    assert_eq!(log.matches("power-button").count(), 1, "soft: ACPI first");

    // Resyncs do not repeat it while the request stays in the desired state.
    h.let_resync().await;
    h.let_resync().await;
    assert_eq!(h.hv.calls(Operation::Reboot), 1);

    h.desired.update(HOST, id, |d| {
        d.reboot = Some(RebootRequest {
            hard: true,
            request_id: "req-hard".into(),
        })
    });
    h.wait(id, "hard-rebooted", |o| {
        o.last_reboot.as_deref() == Some("req-hard") && o.task == TaskOutcome::Idle
    })
    .await;
    h.let_resync().await;
    assert_eq!(h.hv.calls(Operation::Reboot), 2);
    let log = h.fake.console_log(id, 1 << 16).await.expect("console");
    assert_eq!(log.matches("power-button").count(), 1, "hard: no ACPI");
    assert_eq!(log.matches("ferrostack-guest: ready").count(), 3);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn delete_destroys() {
    let h = Harness::new(common::big_fake(), config());
    let s = spec("vm");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Paused, 1));
    h.converged(id, 1).await;
    assert_eq!(h.fake.len(), 1);

    h.desired.update(HOST, id, |d| d.deleted = true);
    let o = h
        .wait(id, "deleted", |o| o.task == TaskOutcome::Deleted)
        .await;
    assert_eq!((o.power_state, o.pid), (None, None));
    assert!(h.fake.is_empty(), "nothing left on the host");

    // The control plane purges the record; the agent does not resurrect it.
    h.desired.remove(HOST, id);
    h.let_resync().await;
    assert!(h.fake.is_empty());
    assert_eq!(h.hv.calls(Operation::Spawn), 1);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_older_generation_never_overrides_a_newer_one() {
    let h = Harness::new(common::big_fake(), config());
    let s = spec("vm");
    let id = s.id;
    h.desired
        .put(HOST, desired(s.clone(), DesiredPower::Stopped, 5));
    let o = h.converged(id, 5).await;
    assert_eq!(o.power_state, Some(PowerState::Shutoff));

    // A stale write (generation 3 says Running) arrives after generation 5.
    h.desired.put(HOST, desired(s, DesiredPower::Running, 3));
    h.let_resync().await;
    let o = h.get(id).expect("reported");
    assert_eq!(o.power_state, Some(PowerState::Shutoff));
    assert_eq!(o.observed_generation, 5);
    assert_eq!(h.hv.calls(Operation::PowerOn), 0);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn orphans_are_reported_and_left_alone_unless_reaped() {
    let fake = common::big_fake();
    let stray = spec("stray");
    fake.spawn(stray.clone()).await.expect("spawn");

    let h = Harness::new(fake.clone(), config());
    let o = h
        .wait(stray.id, "reported as an orphan", |o| o.orphan)
        .await;
    assert_eq!(o.power_state, Some(PowerState::Running));
    h.let_resync().await;
    assert_eq!(fake.len(), 1, "left alone");
    h.stop().await;

    let h = Harness::new(
        fake.clone(),
        ferrostack_agent::AgentConfig {
            reap_orphans: true,
            ..config()
        },
    );
    h.wait(stray.id, "reaped", |o| o.power_state.is_none())
        .await;
    assert!(fake.is_empty());
    h.stop().await;
}
