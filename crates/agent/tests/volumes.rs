//! Volumes through the engine: a spec whose volumes change on an instance
//! that exists is converged in place (attach, detach, limits and size,
//! the root disk's limits), never by a respawn; a boot volume is there at
//! the spawn; a restarted agent adopts the volumes the instance has.
//! Against the fake hypervisor; Tokio's paused clock makes every wait
//! instant.

mod common;

use common::{big_fake, config, desired, spec, Harness, HOST};
use ferrostack_agent::{DesiredPower, TaskOutcome};
use ferrostack_hypervisor::{Connection, Hypervisor, IoLimits, Operation, PowerState, VolumeSpec};
use uuid::Uuid;

fn vol(n: u8) -> VolumeSpec {
    let volume_id = format!("0000000{n}-aaaa-4bbb-8ccc-dddddddddddd");
    VolumeSpec {
        serial: VolumeSpec::serial_for(&volume_id),
        attachment_id: format!("att-{n}"),
        connection: Connection::File {
            path: format!("/volumes/{n}.qcow2"),
            format: "qcow2".into(),
        },
        volume_id,
        read_only: false,
        boot_index: None,
        limits: IoLimits::default(),
        size_gib: 1,
        top_generation: 0,
    }
}

/// A running VM with volumes `vs`, converged at generation 1.
async fn vm(h: &Harness, vs: Vec<VolumeSpec>) -> Uuid {
    let mut s = spec("vm");
    let id = s.id;
    s.volumes = vs;
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    h.converged(id, 1).await;
    id
}

fn no_respawn(h: &Harness) {
    for (op, n) in [
        (Operation::Spawn, 1),
        (Operation::Destroy, 0),
        (Operation::PowerOff, 0),
        (Operation::PowerOn, 0),
        (Operation::Reboot, 0),
    ] {
        assert_eq!(h.hv.calls(op), n, "{op:?}: no respawn");
    }
}

#[tokio::test(start_paused = true)]
async fn volumes_are_attached_and_detached_in_place() {
    let h = Harness::new(big_fake(), config());
    let id = vm(&h, vec![vol(1)]).await;
    assert_eq!(h.get(id).expect("reported").volumes, [vol(1)]);

    h.desired
        .update(HOST, id, |d| d.spec.volumes = vec![vol(1), vol(2), vol(3)]);
    let o = h.converged(id, 2).await;
    assert_eq!(o.volumes, [vol(1), vol(2), vol(3)]);
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert_eq!(h.hv.calls(Operation::AttachVolume), 2, "one per volume");

    h.desired
        .update(HOST, id, |d| d.spec.volumes = vec![vol(3)]);
    let o = h.converged(id, 3).await;
    assert_eq!(o.volumes, [vol(3)]);
    assert_eq!(h.hv.calls(Operation::DetachVolume), 2);
    no_respawn(&h);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn limits_and_size_change_in_place() {
    let h = Harness::new(big_fake(), config());
    let id = vm(&h, vec![vol(1)]).await;
    let mut changed = vol(1);
    changed.limits.write_iops_sec = 20;
    changed.size_gib = 5;
    let root = IoLimits {
        total_bytes_sec: 1 << 20,
        ..IoLimits::default()
    };
    h.desired.update(HOST, id, |d| {
        d.spec.volumes = vec![changed.clone()];
        d.spec.root_limits = root;
    });
    let o = h.converged(id, 2).await;
    assert_eq!(
        o.volumes,
        std::slice::from_ref(&changed),
        "with the limits in force"
    );
    assert_eq!(h.fake.state(id).await.expect("state").root_limits, root);
    assert_eq!(h.hv.calls(Operation::UpdateVolume), 1);
    assert_eq!(h.hv.calls(Operation::SetRootLimits), 1);
    assert_eq!(h.hv.calls(Operation::AttachVolume), 0);

    // The same volume as another disk (now read-only): detach, attach.
    let mut ro = changed.clone();
    ro.read_only = true;
    h.desired
        .update(HOST, id, |d| d.spec.volumes = vec![ro.clone()]);
    let o = h.converged(id, 3).await;
    assert_eq!(o.volumes, [ro]);
    assert_eq!(
        (
            h.hv.calls(Operation::DetachVolume),
            h.hv.calls(Operation::AttachVolume)
        ),
        (1, 1)
    );
    no_respawn(&h);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_shrink_is_refused_and_the_vm_runs_on() {
    let h = Harness::new(big_fake(), config());
    let id = vm(&h, vec![vol(1)]).await;
    let mut smaller = vol(1);
    smaller.size_gib = 0;
    h.desired
        .update(HOST, id, |d| d.spec.volumes = vec![smaller]);
    let o = h
        .wait(id, "failed", |o| {
            matches!(o.task, TaskOutcome::Failed { .. })
        })
        .await;
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert_eq!(o.volumes, [vol(1)], "unchanged");
    assert!(o.fault.is_some_and(|f| f.message.contains("never shrink")));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_boot_volume_is_there_at_the_spawn() {
    let h = Harness::new(big_fake(), config());
    let mut root = vol(1);
    root.boot_index = Some(0);
    let mut s = spec("bfv");
    let id = s.id;
    s.base_image = "".into();
    s.volumes = vec![root.clone(), vol(2)];
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    let o = h.converged(id, 1).await;
    assert_eq!(o.volumes, [root, vol(2)]);
    assert_eq!(h.hv.calls(Operation::AttachVolume), 0, "given at the spawn");
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stopped_vm_gets_its_volumes_at_the_next_start() {
    let h = Harness::new(big_fake(), config());
    let mut s = spec("stopped");
    let id = s.id;
    s.volumes = vec![vol(1)];
    h.desired.put(HOST, desired(s, DesiredPower::Stopped, 1));
    h.converged(id, 1).await;
    h.desired.update(HOST, id, |d| {
        d.spec.volumes = vec![vol(2)];
        d.power = DesiredPower::Running;
    });
    let o = h.converged(id, 2).await;
    assert_eq!(
        (o.volumes, o.power_state),
        (vec![vol(2)], Some(PowerState::Running))
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn attached_volumes_survive_an_agent_restart() {
    let h = Harness::new(big_fake(), config());
    let id = vm(&h, vec![vol(1)]).await;
    let mut limited = vol(2);
    limited.limits.read_iops_sec = 100;
    h.desired
        .update(HOST, id, |d| d.spec.volumes = vec![vol(1), limited.clone()]);
    h.converged(id, 2).await;

    let (fake, desired_state, observed) = (h.fake.clone(), h.desired.clone(), h.observed.clone());
    h.stop().await;
    let h = Harness::over(fake, desired_state, observed, config());
    h.let_resync().await;
    let o = h.get(id).expect("reported");
    assert_eq!(
        o.volumes,
        [vol(1), limited.clone()],
        "adopted with its volumes"
    );
    for op in [
        Operation::AttachVolume,
        Operation::DetachVolume,
        Operation::UpdateVolume,
        Operation::Spawn,
    ] {
        assert_eq!(h.hv.calls(op), 0, "{op:?} after a restart");
    }
    // The new agent detaches what the old one attached.
    h.desired
        .update(HOST, id, |d| d.spec.volumes = vec![vol(1)]);
    let o = h.converged(id, 3).await;
    assert_eq!(o.volumes, [vol(1)]);
    h.stop().await;
}
