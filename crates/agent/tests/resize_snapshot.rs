//! Resize (keep, confirm, revert), snapshots acted on once per request,
//! and base images fetched before a spawn, against a fake host.

mod common;

use common::{config, desired, spec, Harness, HOST};
use ferrostack_agent::images::EnsureFuture;
use ferrostack_agent::{
    AgentConfig, BaseImages, DesiredPower, InstanceSize, ResizeDesire, SnapshotRequest, TaskOutcome,
};
use ferrostack_hypervisor::{BaseFormat, Operation, PowerState};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use uuid::Uuid;

fn size(vcpus: u32, memory_mib: u64, root_disk_gib: u64) -> Option<InstanceSize> {
    Some(InstanceSize {
        vcpus,
        memory_mib,
        root_disk_gib,
    })
}

#[tokio::test(start_paused = true)]
async fn resize_keep_then_confirm() {
    let h = Harness::new(common::big_fake(), config());
    let s = spec("web");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    let o = h.converged(id, 1).await;
    assert_eq!((o.size, o.resize_backup), (size(1, 64, 1), false));

    let g = h
        .desired
        .update(HOST, id, |d| {
            d.spec.vcpus = 2;
            d.spec.memory_mib = 128;
            d.spec.root_disk_gib = 3;
            d.resize = ResizeDesire::Keep;
        })
        .expect("assigned")
        .generation;
    let o = h.converged(id, g).await;
    assert_eq!(o.power_state, Some(PowerState::Running), "power converged");
    assert_eq!((o.size, o.resize_backup), (size(2, 128, 3), true));
    assert!(o.fault.is_none(), "{o:?}");
    assert_eq!(
        (
            h.hv.calls(Operation::PowerOff),
            h.hv.calls(Operation::Resize),
            h.hv.calls(Operation::PowerOn)
        ),
        (1, 1, 1),
        "graceful power off, resize, power on"
    );

    // Nothing more happens for the same size.
    let g = h
        .desired
        .update(HOST, id, |_| {})
        .expect("assigned")
        .generation;
    h.converged(id, g).await;
    assert_eq!(h.hv.calls(Operation::Resize), 1);

    // Confirm: the backup goes, the instance keeps running.
    let g = h
        .desired
        .update(HOST, id, |d| d.resize = ResizeDesire::None)
        .expect("assigned")
        .generation;
    let o = h.converged(id, g).await;
    assert_eq!((o.size, o.resize_backup), (size(2, 128, 3), false));
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert_eq!(
        (
            h.hv.calls(Operation::ConfirmResize),
            h.hv.calls(Operation::PowerOff)
        ),
        (1, 1)
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn resize_revert_restores_the_old_size() {
    let h = Harness::new(common::big_fake(), config());
    let s = spec("web");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Stopped, 1));
    h.converged(id, 1).await;
    let g = h
        .desired
        .update(HOST, id, |d| {
            d.spec.vcpus = 4;
            d.resize = ResizeDesire::Keep;
        })
        .expect("assigned")
        .generation;
    let o = h.converged(id, g).await;
    assert_eq!((o.size, o.resize_backup), (size(4, 64, 1), true));
    assert_eq!(o.power_state, Some(PowerState::Shutoff));

    let g = h
        .desired
        .update(HOST, id, |d| {
            d.spec.vcpus = 1;
            d.resize = ResizeDesire::Revert;
            d.power = DesiredPower::Running;
        })
        .expect("assigned")
        .generation;
    let o = h.converged(id, g).await;
    assert_eq!((o.size, o.resize_backup), (size(1, 64, 1), false));
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert_eq!(h.hv.calls(Operation::RevertResize), 1);

    // A revert with no backup left is nothing to do.
    let g = h
        .desired
        .update(HOST, id, |_| {})
        .expect("assigned")
        .generation;
    h.converged(id, g).await;
    assert_eq!(h.hv.calls(Operation::RevertResize), 1);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_shrink_ends_failed_at_the_old_size() {
    let h = Harness::new(common::big_fake(), config());
    let s = spec("web");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Stopped, 1));
    h.converged(id, 1).await;
    let g = h
        .desired
        .update(HOST, id, |d| {
            d.spec.root_disk_gib = 3;
            d.resize = ResizeDesire::Keep;
        })
        .expect("assigned")
        .generation;
    h.converged(id, g).await;
    let g = h
        .desired
        .update(HOST, id, |d| d.resize = ResizeDesire::None)
        .expect("assigned")
        .generation;
    let o = h.converged(id, g).await;
    assert_eq!((o.size, o.resize_backup), (size(1, 64, 3), false));

    let g = h
        .desired
        .update(HOST, id, |d| {
            d.spec.root_disk_gib = 2;
            d.resize = ResizeDesire::Keep;
        })
        .expect("assigned")
        .generation;
    let o = h
        .wait(id, "failed", |o| {
            matches!(o.task, TaskOutcome::Failed { .. }) && o.observed_generation == g
        })
        .await;
    assert_eq!(
        o.task,
        TaskOutcome::Failed {
            operation: Operation::Resize
        }
    );
    assert_eq!((o.size, o.resize_backup), (size(1, 64, 3), false));
    assert!(o.fault.expect("fault").message.contains("never shrink"));
    h.stop().await;
}

fn snapshot_config(dir: &std::path::Path) -> AgentConfig {
    AgentConfig {
        snapshot_dir: Some(dir.to_path_buf()),
        ..config()
    }
}

fn request(id: &str, image: Uuid) -> Option<SnapshotRequest> {
    Some(SnapshotRequest {
        request_id: id.into(),
        image_id: image.to_string(),
    })
}

#[tokio::test(start_paused = true)]
async fn snapshots_are_taken_once_per_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = Harness::new(common::big_fake(), snapshot_config(dir.path()));
    let s = spec("web");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    h.converged(id, 1).await;

    let image = Uuid::new_v4();
    h.desired
        .update(HOST, id, |d| d.snapshot = request("req-1", image));
    let o = h
        .wait(id, "snapshot req-1", |o| {
            o.last_snapshot.as_deref() == Some("req-1") && o.task == TaskOutcome::Idle
        })
        .await;
    assert_eq!(o.snapshot_error, None);
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert!(dir.path().join(format!("{image}.qcow2")).is_file());
    assert_eq!(h.hv.calls(Operation::Snapshot), 1);

    // Another write (the same request still there) does not repeat it.
    let g = h
        .desired
        .update(HOST, id, |d| d.power = DesiredPower::Paused)
        .expect("assigned")
        .generation;
    let o = h.converged(id, g).await;
    assert_eq!(o.power_state, Some(PowerState::Paused));
    h.let_resync().await;
    assert_eq!(h.hv.calls(Operation::Snapshot), 1);

    // An agent restart remembers it too.
    let (desired_state, observed) = (h.desired.clone(), h.observed.clone());
    let fake = h.fake.clone();
    h.stop().await;
    let h = Harness::over(fake, desired_state, observed, snapshot_config(dir.path()));
    h.let_resync().await;
    assert_eq!(h.hv.calls(Operation::Snapshot), 0);

    // A new request is a new snapshot, of a paused guest too.
    let image2 = Uuid::new_v4();
    h.desired
        .update(HOST, id, |d| d.snapshot = request("req-2", image2));
    let o = h
        .wait(id, "snapshot req-2", |o| {
            o.last_snapshot.as_deref() == Some("req-2")
        })
        .await;
    assert_eq!(o.snapshot_error, None);
    assert_eq!(o.power_state, Some(PowerState::Paused));
    assert!(dir.path().join(format!("{image2}.qcow2")).is_file());
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_snapshot_is_reported_and_leaves_the_instance_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = Harness::new(common::big_fake(), snapshot_config(dir.path()));
    let s = spec("web");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    h.converged(id, 1).await;

    h.fake.fail_next(Operation::Snapshot, 1);
    let g = h
        .desired
        .update(HOST, id, |d| d.snapshot = request("req-1", Uuid::new_v4()))
        .expect("assigned")
        .generation;
    let o = h
        .wait(id, "snapshot req-1 failed", |o| {
            o.last_snapshot.as_deref() == Some("req-1") && o.task == TaskOutcome::Idle
        })
        .await;
    assert!(
        o.snapshot_error
            .as_deref()
            .is_some_and(|e| e.contains("injected")),
        "{o:?}"
    );
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert_eq!(o.observed_generation, g);
    assert!(
        !matches!(o.task, TaskOutcome::Failed { .. }),
        "a snapshot failure is not the instance's"
    );
    h.let_resync().await;
    assert_eq!(h.hv.calls(Operation::Snapshot), 1, "not retried");
    assert_eq!(h.hv.calls(Operation::PowerOff), 0);

    // A bad image id fails before the hypervisor is asked.
    h.desired.update(HOST, id, |d| {
        d.snapshot = Some(SnapshotRequest {
            request_id: "req-2".into(),
            image_id: "../../etc/passwd".into(),
        })
    });
    let o = h
        .wait(id, "snapshot req-2 refused", |o| {
            o.last_snapshot.as_deref() == Some("req-2")
        })
        .await;
    assert!(o.snapshot_error.expect("error").contains("not a UUID"));
    assert_eq!(h.hv.calls(Operation::Snapshot), 1);

    // The next one works and clears the error.
    h.desired
        .update(HOST, id, |d| d.snapshot = request("req-3", Uuid::new_v4()));
    let o = h
        .wait(id, "snapshot req-3", |o| {
            o.last_snapshot.as_deref() == Some("req-3")
        })
        .await;
    assert_eq!(o.snapshot_error, None);
    h.stop().await;

    // Without a snapshot directory, requests fail.
    let h = Harness::new(common::big_fake(), config());
    let s = spec("web");
    let id = s.id;
    let mut d = desired(s, DesiredPower::Stopped, 1);
    d.snapshot = request("req-1", Uuid::new_v4());
    h.desired.put(HOST, d);
    let o = h
        .wait(id, "snapshot refused", |o| {
            o.last_snapshot.as_deref() == Some("req-1") && o.observed_generation == 1
        })
        .await;
    assert!(o
        .snapshot_error
        .expect("error")
        .contains("no snapshot directory"));
    assert_eq!(o.power_state, Some(PowerState::Shutoff));
    h.stop().await;
}

/// Hands out `/cache/<id>`, or fails, and counts calls.
struct FakeImages {
    calls: AtomicU32,
    fail: bool,
}

impl BaseImages for FakeImages {
    fn ensure<'a>(&'a self, image_id: &'a str, format: BaseFormat) -> EnsureFuture<'a> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            assert_eq!(format, BaseFormat::Qcow2);
            if self.fail {
                Err("the image service is down".into())
            } else {
                Ok(PathBuf::from("/cache").join(image_id))
            }
        })
    }
}

#[tokio::test(start_paused = true)]
async fn base_images_are_ensured_before_a_spawn() {
    for fail in [false, true] {
        let images = Arc::new(FakeImages {
            calls: AtomicU32::new(0),
            fail,
        });
        let h = Harness::new(
            common::big_fake(),
            AgentConfig {
                images: Some(images.clone()),
                ..config()
            },
        );
        let mut s = spec("web");
        s.image_id = Uuid::new_v4().to_string();
        let id = s.id;
        let plain = spec("no-image-id");
        h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
        h.desired
            .put(HOST, desired(plain.clone(), DesiredPower::Running, 1));
        h.converged(plain.id, 1).await;
        if fail {
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
            assert!(o
                .fault
                .expect("fault")
                .message
                .contains("image service is down"));
            assert_eq!(
                images.calls.load(Ordering::SeqCst),
                3,
                "retried, then given up"
            );
            assert_eq!(h.hv.calls(Operation::Spawn), 1, "only the image-less one");
        } else {
            let o = h.converged(id, 1).await;
            assert_eq!(o.power_state, Some(PowerState::Running));
            assert_eq!(images.calls.load(Ordering::SeqCst), 1);
            assert_eq!(h.hv.calls(Operation::Spawn), 2);
        }
        h.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_rebuild_destroys_and_spawns_once_per_request_and_is_not_a_delete() {
    let h = Harness::new(common::big_fake(), config());
    let s = spec("web");
    let id = s.id;
    h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    h.converged(id, 1).await;
    let g = h
        .desired
        .update(HOST, id, |d| {
            d.spec.image_id = "new-image".into();
            d.rebuild = Some(ferrostack_agent::RebuildRequest {
                request_id: "req-1".into(),
            });
        })
        .expect("assigned")
        .generation;
    let o = h.converged(id, g).await;
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert_eq!(o.last_rebuild.as_deref(), Some("req-1"));
    assert_ne!(o.task, TaskOutcome::Deleted, "a rebuild is not a delete");
    assert_eq!(
        (h.hv.calls(Operation::Destroy), h.hv.calls(Operation::Spawn)),
        (1, 2),
        "one destroy, then a second spawn"
    );
    // The same request again (a later generation) is not a new rebuild.
    let g = h
        .desired
        .update(HOST, id, |d| d.power = DesiredPower::Stopped)
        .expect("assigned")
        .generation;
    h.converged(id, g).await;
    assert_eq!(h.hv.calls(Operation::Destroy), 1);
    h.stop().await;
}
