//! Volumes against the fake: the rules both drivers share (attach and
//! detach idempotent in Running, Paused and Shutoff; limits and size
//! changed in place; clashes, shrinking and root-disk detach refused; the
//! set survives a stop/start; a boot volume needs no base image).

use ferrostack_hypervisor::{
    BaseFormat, Connection, FakeHypervisor, Hypervisor, HypervisorError, InstanceSpec, IoLimits,
    Operation, PowerState, VolumeSpec,
};
use std::time::Duration;
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

fn spec(volumes: Vec<VolumeSpec>) -> InstanceSpec {
    InstanceSpec {
        id: Uuid::new_v4(),
        name: "vm".into(),
        vcpus: 1,
        memory_mib: 256,
        root_disk_gib: 1,
        image_id: String::new(),
        base_image: "/images/base.qcow2".into(),
        base_format: BaseFormat::Qcow2,
        config_drive: None,
        nics: Vec::new(),
        volumes,
        root_limits: IoLimits::default(),
    }
}

#[tokio::test]
async fn attach_detach_and_update_change_the_volume_set() {
    let hv = FakeHypervisor::default();
    let s = spec(vec![vol(1)]);
    let id = s.id;
    assert_eq!(hv.spawn(s).await.expect("spawn").volumes, [vol(1)]);
    let i = hv.attach_volume(id, vol(2)).await.expect("attach");
    assert_eq!(i.volumes, [vol(1), vol(2)]);
    assert_eq!(i.state, PowerState::Running);
    let i = hv.attach_volume(id, vol(2)).await.expect("attach again");
    assert_eq!(i.volumes.len(), 2, "nothing changes");

    let mut limited = vol(2);
    limited.limits.write_iops_sec = 20;
    limited.size_gib = 3;
    let i = hv.update_volume(id, limited.clone()).await.expect("update");
    assert_eq!(i.volumes[1], limited);
    let mut smaller = limited.clone();
    smaller.size_gib = 2;
    assert!(matches!(
        hv.update_volume(id, smaller).await,
        Err(HypervisorError::InvalidSpec(_))
    ));
    let limits = IoLimits {
        total_bytes_sec: 1 << 20,
        ..IoLimits::default()
    };
    let i = hv.set_root_limits(id, limits).await.expect("root limits");
    assert_eq!(i.root_limits, limits);

    let i = hv
        .detach_volume(id, &vol(1).volume_id)
        .await
        .expect("detach");
    assert_eq!(i.volumes, [limited.clone()]);
    hv.detach_volume(id, "no-such-volume")
        .await
        .expect("detach unknown");
    // A stop/start keeps the set and the limits.
    hv.power_off(id, Duration::ZERO).await.expect("off");
    let i = hv.power_on(id).await.expect("on");
    assert_eq!((i.volumes, i.root_limits), (vec![limited], limits));
}

#[tokio::test]
async fn clashes_are_refused() {
    let hv = FakeHypervisor::default();
    let s = spec(vec![vol(1)]);
    let id = s.id;
    hv.spawn(s).await.expect("spawn");
    let mut read_only = vol(1);
    read_only.read_only = true;
    let mut same_serial = vol(2);
    same_serial.serial = vol(1).serial;
    let mut root = vol(3);
    root.boot_index = Some(0);
    let mut bad = vol(4);
    bad.serial = "a,b".into();
    for v in [read_only.clone(), same_serial, root, bad] {
        assert!(
            matches!(
                hv.attach_volume(id, v.clone()).await,
                Err(HypervisorError::InvalidSpec(_))
            ),
            "{v:?}"
        );
    }
    assert!(matches!(
        hv.update_volume(id, read_only).await,
        Err(HypervisorError::InvalidSpec(_))
    ));
    assert_eq!(hv.state(id).await.expect("state").volumes, [vol(1)]);
}

#[tokio::test]
async fn a_boot_volume_is_the_root_disk_and_stays() {
    let hv = FakeHypervisor::default();
    let mut root = vol(1);
    root.boot_index = Some(0);
    let mut s = spec(vec![root.clone(), vol(2)]);
    s.base_image = "".into();
    let id = s.id;
    hv.spawn(s).await.expect("spawn from a volume");
    assert!(matches!(
        hv.detach_volume(id, &root.volume_id).await,
        Err(HypervisorError::InvalidSpec(_))
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        hv.snapshot(id, &dir.path().join("s.qcow2")).await,
        Err(HypervisorError::InvalidSpec(_))
    ));
    let i = hv.detach_volume(id, &vol(2).volume_id).await.expect("data");
    assert_eq!(i.volumes, [root]);
}

#[tokio::test]
async fn a_resize_revert_keeps_the_volumes_of_now() {
    let hv = FakeHypervisor::default();
    let s = spec(vec![vol(1)]);
    let id = s.id;
    hv.spawn(s.clone()).await.expect("spawn");
    hv.power_off(id, Duration::ZERO).await.expect("off");
    hv.resize(InstanceSpec { vcpus: 2, ..s })
        .await
        .expect("resize");
    hv.attach_volume(id, vol(2)).await.expect("attach");
    hv.detach_volume(id, &vol(1).volume_id)
        .await
        .expect("detach");
    let i = hv.revert_resize(id).await.expect("revert");
    assert_eq!((i.vcpus, i.volumes), (1, vec![vol(2)]));
}

#[tokio::test]
async fn states_and_failures() {
    let hv = FakeHypervisor::default();
    let s = spec(Vec::new());
    let id = s.id;
    hv.spawn(s).await.expect("spawn");
    hv.pause(id).await.expect("pause");
    let i = hv.attach_volume(id, vol(1)).await.expect("attach paused");
    assert_eq!((i.state, i.volumes.len()), (PowerState::Paused, 1));
    hv.unpause(id).await.expect("unpause");
    hv.suspend(id).await.expect("suspend");
    assert!(matches!(
        hv.detach_volume(id, &vol(1).volume_id).await,
        Err(HypervisorError::InvalidState { .. })
    ));
    hv.resume(id).await.expect("resume");
    hv.fail_next(Operation::DetachVolume, 1);
    assert!(hv.detach_volume(id, &vol(1).volume_id).await.is_err());
    assert_eq!(hv.state(id).await.expect("state").volumes.len(), 1);
    let i = hv
        .detach_volume(id, &vol(1).volume_id)
        .await
        .expect("the retry works");
    assert!(i.volumes.is_empty());
}
