//! Resize, confirm, revert and snapshot against the fake: the rules both
//! drivers share (Shutoff only, one backup, disks never shrink, capacity
//! follows the size, injected failures change nothing).

use ferrostack_hypervisor::{
    BaseFormat, Capabilities, FakeConfig, FakeHypervisor, Hypervisor, HypervisorError,
    InstanceSpec, Operation, PowerState,
};
use std::time::Duration;
use uuid::Uuid;

fn spec(vcpus: u32, mem: u64, disk: u64) -> InstanceSpec {
    InstanceSpec {
        id: Uuid::new_v4(),
        name: "vm".into(),
        vcpus,
        memory_mib: mem,
        root_disk_gib: disk,
        image_id: String::new(),
        base_image: "/images/base.qcow2".into(),
        base_format: BaseFormat::Qcow2,
        config_drive: None,
        nics: vec![],
        volumes: Vec::new(),
        root_limits: Default::default(),
    }
}

fn resized(s: &InstanceSpec, vcpus: u32, mem: u64, disk: u64) -> InstanceSpec {
    InstanceSpec {
        vcpus,
        memory_mib: mem,
        root_disk_gib: disk,
        ..s.clone()
    }
}

#[tokio::test]
async fn resize_confirm_revert_follow_the_rules() {
    let hv = FakeHypervisor::new(FakeConfig {
        capabilities: Capabilities {
            vcpus: 4,
            ..FakeConfig::default().capabilities
        },
        ..FakeConfig::default()
    });
    let s = spec(1, 128, 2);
    let id = s.id;
    hv.spawn(s.clone()).await.expect("spawn");
    assert!(matches!(
        hv.resize(resized(&s, 2, 256, 4)).await,
        Err(HypervisorError::InvalidState {
            op: Operation::Resize,
            state: PowerState::Running,
            ..
        })
    ));
    hv.power_off(id, Duration::ZERO).await.expect("off");
    assert!(matches!(
        hv.resize(resized(&s, 2, 256, 1)).await,
        Err(HypervisorError::InvalidSpec(_))
    ));
    assert!(matches!(
        hv.resize(resized(&s, 5, 256, 0)).await,
        Err(HypervisorError::InsufficientCapacity {
            resource: "vcpus",
            ..
        })
    ));
    let st = hv.state(id).await.expect("state");
    assert_eq!(
        (st.vcpus, st.memory_mib, st.root_disk_gib, st.resize_backup),
        (1, 128, 2, false),
        "refused resizes change nothing"
    );

    let i = hv.resize(resized(&s, 2, 256, 0)).await.expect("resize");
    assert_eq!(
        (
            i.state,
            i.vcpus,
            i.memory_mib,
            i.root_disk_gib,
            i.resize_backup
        ),
        (PowerState::Shutoff, 2, 256, 2, true),
        "0 keeps the disk"
    );
    assert!(
        matches!(
            hv.resize(resized(&s, 3, 256, 0)).await,
            Err(HypervisorError::InvalidState { .. })
        ),
        "one backup at a time"
    );
    let i = hv.revert_resize(id).await.expect("revert");
    assert_eq!((i.vcpus, i.memory_mib, i.resize_backup), (1, 128, false));
    assert!(matches!(
        hv.revert_resize(id).await,
        Err(HypervisorError::InvalidState { .. })
    ));

    hv.resize(resized(&s, 4, 512, 8)).await.expect("resize");
    hv.confirm_resize(id).await.expect("confirm");
    hv.confirm_resize(id).await.expect("confirm is idempotent");
    let st = hv.list().await.expect("list").remove(0);
    assert_eq!(
        (st.vcpus, st.memory_mib, st.root_disk_gib, st.resize_backup),
        (4, 512, 8, false)
    );
    // Capacity follows the new size: all 4 vCPUs are held.
    assert!(matches!(
        hv.spawn(spec(1, 64, 1)).await,
        Err(HypervisorError::InsufficientCapacity {
            resource: "vcpus",
            ..
        })
    ));

    hv.fail_next(Operation::Resize, 1);
    assert!(matches!(
        hv.resize(resized(&s, 1, 64, 0)).await,
        Err(HypervisorError::Injected { .. })
    ));
    assert!(!hv.state(id).await.expect("state").resize_backup);
    hv.resize(resized(&s, 1, 64, 0)).await.expect("resize");
    hv.power_on(id).await.expect("on");
    assert!(matches!(
        hv.revert_resize(id).await,
        Err(HypervisorError::InvalidState {
            op: Operation::RevertResize,
            ..
        })
    ));
}

#[tokio::test]
async fn snapshots_write_the_file_and_keep_the_state() {
    let hv = FakeHypervisor::new(FakeConfig {
        deadline: Duration::from_millis(50),
        ..FakeConfig::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let s = spec(1, 64, 1);
    let id = s.id;
    hv.spawn(s).await.expect("spawn");
    let dest = dir.path().join("snap.qcow2");
    let info = hv.snapshot(id, &dest).await.expect("snapshot");
    assert_eq!(info.format, BaseFormat::Qcow2);
    assert_eq!(info.virtual_size, 1 << 30);
    assert_eq!(std::fs::metadata(&dest).expect("written").len(), info.size);
    assert_eq!(
        hv.state(id).await.expect("state").state,
        PowerState::Running
    );
    hv.pause(id).await.expect("pause");
    hv.snapshot(id, &dest).await.expect("paused snapshot");
    assert_eq!(hv.state(id).await.expect("state").state, PowerState::Paused);

    let other = dir.path().join("other.qcow2");
    hv.fail_next(Operation::Snapshot, 1);
    assert!(hv.snapshot(id, &other).await.is_err());
    hv.set_delay(Operation::Snapshot, Duration::from_secs(5));
    assert!(matches!(
        hv.snapshot(id, &other).await,
        Err(HypervisorError::Timeout { .. })
    ));
    hv.set_delay(Operation::Snapshot, Duration::ZERO);
    assert!(matches!(
        hv.snapshot(id, &dir.path().join("no/such/dir.qcow2")).await,
        Err(HypervisorError::Io { .. })
    ));
    assert!(!other.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("readdir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("snap.qcow2")]);
    assert!(matches!(
        hv.snapshot(Uuid::new_v4(), &other).await,
        Err(HypervisorError::NotFound { .. })
    ));
}
