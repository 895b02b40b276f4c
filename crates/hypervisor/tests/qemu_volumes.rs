//! Volumes on the repo's test guest through [`QemuHypervisor`]: a qcow2
//! file plugged into a running guest appears there with its serial, the
//! guest writes to it, an unplug takes it away and the data is in the
//! file; a guest spawned with volumes sees them at boot and can boot from
//! one (no image overlay); I/O limits are in force (a guest's timed
//! writes) and change live (read back over QMP), and a live grow reaches
//! the guest.
//!
//! What the guest sees comes from a user_data script
//! ([`watch_disks_user_data`]) that prints `volume-test: disks [...]`
//! (virtio disks with serial and size from `/sys/block/vd*`) on the serial
//! console whenever the list changes, writes a marker to the disk whose
//! serial it was given and times direct writes to another.
//!
//! Needs root, `qemu-system-x86_64`, `qemu-img`, `mkfs.vfat` and `mcopy`,
//! and the guest image (`guest-image/build.sh`, or
//! `FERROSTACK_GUEST_IMAGE`); skips with a printed reason otherwise.

use ferrostack_hypervisor::qemu::{group_limits, volume_group, ROOT_GROUP};
use ferrostack_hypervisor::qmp::QmpClient;
use ferrostack_hypervisor::testing::{
    guest_test_preflight, wait_for_line, watch_disks_user_data, VmCleanup,
};
use ferrostack_hypervisor::{
    BaseFormat, ConfigDrive, Connection, Hypervisor, InstanceSpec, IoLimits, PowerState,
    QemuConfig, QemuHypervisor, VolumeSpec,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn qemu_img(args: &[&str]) {
    let out = Command::new("qemu-img")
        .args(args)
        .output()
        .expect("qemu-img");
    assert!(out.status.success(), "qemu-img {args:?}: {out:?}");
}

/// A volume on a new qcow2 file in `dir`: the serial is the first 20
/// characters of its (uuid) id, as Nova sets it.
fn new_volume(dir: &Path, size: &str) -> VolumeSpec {
    let volume_id = Uuid::new_v4().to_string();
    let path = dir.join(format!("{volume_id}.qcow2"));
    qemu_img(&["create", "-q", "-f", "qcow2", &path.to_string_lossy(), size]);
    VolumeSpec {
        serial: VolumeSpec::serial_for(&volume_id),
        attachment_id: Uuid::new_v4().to_string(),
        connection: Connection::File {
            path: path.to_string_lossy().into_owned(),
            format: "qcow2".into(),
        },
        volume_id,
        read_only: false,
        boot_index: None,
        limits: IoLimits::default(),
        size_gib: 0,
        top_generation: 0,
    }
}

fn file_of(v: &VolumeSpec) -> PathBuf {
    match &v.connection {
        Connection::File { path, .. } => PathBuf::from(path),
        other => panic!("{other:?}"),
    }
}

/// A test guest's driver and state. Fields drop in order: the VM is
/// killed (if the test failed half way) before its directory, which holds
/// the pidfile, goes.
struct Guest {
    _cleanup: VmCleanup,
    state: tempfile::TempDir,
    config: QemuConfig,
    hv: QemuHypervisor,
    id: Uuid,
}

fn guest(name: &str) -> Guest {
    let state = tempfile::Builder::new()
        .prefix("hv-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let config = QemuConfig::new(state.path());
    let hv = QemuHypervisor::new(config.clone()).expect("driver");
    let id = Uuid::new_v4();
    let _cleanup = VmCleanup {
        pidfile: state.path().join(id.to_string()).join("qemu.pid"),
        id,
    };
    eprintln!("{name}: instance {id}");
    Guest {
        _cleanup,
        state,
        config,
        hv,
        id,
    }
}

fn spec(g: &Guest, image: PathBuf, user_data: String, volumes: Vec<VolumeSpec>) -> InstanceSpec {
    InstanceSpec {
        id: g.id,
        name: "volumes".into(),
        vcpus: 1,
        memory_mib: 256,
        root_disk_gib: 0,
        image_id: String::new(),
        base_image: image,
        base_format: BaseFormat::Qcow2,
        config_drive: Some(ConfigDrive {
            meta_data_json: format!(r#"{{"uuid": "{}", "hostname": "volumes"}}"#, g.id),
            user_data: Some(user_data.into_bytes()),
            network_data_json: None,
        }),
        nics: Vec::new(),
        volumes,
        root_limits: IoLimits::default(),
    }
}

/// The guest's last disk listing satisfying `pred`.
async fn disks(hv: &QemuHypervisor, id: Uuid, what: &str, pred: impl Fn(&str) -> bool) -> String {
    wait_for_line(hv, id, what, "volume-test: disks [", pred).await
}

/// The first 512 bytes of a qcow2 file, read on the host.
fn first_sector(dir: &Path, qcow2: &Path) -> Vec<u8> {
    let raw = dir.join("check.raw");
    qemu_img(&[
        "convert",
        "-f",
        "qcow2",
        "-O",
        "raw",
        &qcow2.to_string_lossy(),
        &raw.to_string_lossy(),
    ]);
    let mut bytes = std::fs::read(&raw).expect("raw");
    bytes.truncate(512);
    let _ = std::fs::remove_file(&raw);
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hotplugs_a_volume_the_guest_writes_to() {
    let Some(image) = guest_test_preflight(&[]) else {
        return;
    };
    let t0 = Instant::now();
    let g = guest("hotplug");
    let (hv, id) = (&g.hv, g.id);
    let vols = tempfile::tempdir_in("/tmp").expect("tempdir");
    let v = new_volume(vols.path(), "64M");
    let serial = v.serial.clone();
    let user_data = watch_disks_user_data(&serial, "");
    hv.spawn(spec(&g, image, user_data, Vec::new()))
        .await
        .expect("spawn");
    disks(hv, id, "its disks", |_| true).await;
    eprintln!("[{:?}] guest up", t0.elapsed());

    let t = Instant::now();
    let info = hv.attach_volume(id, v.clone()).await.expect("attach");
    let plugged = t.elapsed();
    assert_eq!(info.volumes, std::slice::from_ref(&v));
    assert_eq!(info.state, PowerState::Running);
    let listing = disks(hv, id, "the plugged volume", |l| l.contains(&serial)).await;
    let wrote = wait_for_line(hv, id, "the marker written", "volume-test: wrote", |_| true).await;
    eprintln!(
        "[{:?}] attach_volume took {plugged:?}; the guest saw it after {:?}: {listing}; {wrote}",
        t0.elapsed(),
        t.elapsed()
    );
    assert!(
        listing.contains(&format!("={serial}:131072")),
        "64 MiB = 131072 sectors, serial {serial}: {listing}"
    );
    hv.attach_volume(id, v.clone())
        .await
        .expect("attach again: a no-op");

    // A new driver (an agent restart) sees the volume and unplugs it by
    // its derived ids.
    let again = QemuHypervisor::new(g.config.clone()).expect("second driver");
    assert_eq!(
        again.list().await.expect("list")[0].volumes,
        std::slice::from_ref(&v)
    );
    let t = Instant::now();
    let info = again.detach_volume(id, &v.volume_id).await.expect("detach");
    eprintln!(
        "[{:?}] detach_volume (guest ejected) took {:?}",
        t0.elapsed(),
        t.elapsed()
    );
    assert!(info.volumes.is_empty());
    disks(&again, id, "the volume gone", |l| !l.contains(&serial)).await;
    again
        .detach_volume(id, &v.volume_id)
        .await
        .expect("detach again: a no-op");

    // QEMU closed the file: the host reads what the guest wrote.
    let sector = first_sector(vols.path(), &file_of(&v));
    let want = format!("ferrostack-volume-marker {serial}\n");
    assert_eq!(
        &sector[..want.len()],
        want.as_bytes(),
        "the guest's marker is in the file"
    );
    eprintln!("[{:?}] the file holds {want:?}", t0.elapsed());

    // Operations cut short (the agent died half way) are finished by
    // doing them again. An attach that left a group and a node without
    // the device:
    let qmp = g.state.path().join(id.to_string()).join("qmp.sock");
    let group = volume_group(&v.volume_id);
    let key = group.strip_prefix("tg-").expect("tg-KEY").to_owned();
    let mut c = QmpClient::connect(&qmp, Duration::from_secs(5))
        .await
        .expect("qmp");
    c.execute(
        "object-add",
        Some(json!({ "qom-type": "throttle-group", "id": group })),
    )
    .await
    .expect("object-add");
    c.execute(
        "blockdev-add",
        Some(json!({
            "driver": "file", "node-name": format!("{key}-p"),
            "filename": file_of(&v).to_string_lossy(),
        })),
    )
    .await
    .expect("blockdev-add");
    // QEMU serves one QMP client at a time.
    drop(c);
    let info = again
        .attach_volume(id, v.clone())
        .await
        .expect("attach over the leftovers");
    assert_eq!(info.volumes, std::slice::from_ref(&v));
    disks(&again, id, "the volume back", |l| l.contains(&serial)).await;
    // A detach that got the device out of the guest but left the nodes
    // and spec.json:
    let device = format!("disk-{key}");
    let mut c = QmpClient::connect(&qmp, Duration::from_secs(5))
        .await
        .expect("qmp");
    c.execute("device_del", Some(json!({ "id": device })))
        .await
        .expect("device_del");
    c.wait_event(
        "DEVICE_DELETED",
        |d| d["device"] == device.as_str(),
        Duration::from_secs(30),
    )
    .await
    .expect("the guest let it go");
    drop(c);
    assert_eq!(again.state(id).await.expect("state").volumes.len(), 1);
    let info = again
        .detach_volume(id, &v.volume_id)
        .await
        .expect("detach finishes the job");
    assert!(info.volumes.is_empty());
    let mut c = QmpClient::connect(&qmp, Duration::from_secs(5))
        .await
        .expect("qmp");
    let nodes = c
        .execute("query-named-block-nodes", Some(json!({ "flat": true })))
        .await
        .expect("nodes")
        .to_string();
    assert!(
        !nodes.contains(&key),
        "the volume's nodes are gone: {nodes}"
    );
    drop(c);
    first_sector(vols.path(), &file_of(&v));
    eprintln!("[{:?}] repeats after crashes finished", t0.elapsed());
    again.destroy(id).await.expect("destroy");
    assert!(file_of(&v).exists(), "destroy leaves the volume's file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_from_a_volume_with_a_data_volume() {
    let Some(image) = guest_test_preflight(&[]) else {
        return;
    };
    let t0 = Instant::now();
    let g = guest("boot-from-volume");
    let (hv, id) = (&g.hv, g.id);
    let vols = tempfile::tempdir_in("/tmp").expect("tempdir");
    // The root volume: a qcow2 overlay of the guest image.
    let root_id = Uuid::new_v4().to_string();
    let root_path = vols.path().join("root.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        &image.to_string_lossy(),
        "-F",
        "qcow2",
        &root_path.to_string_lossy(),
    ]);
    let root = VolumeSpec {
        serial: VolumeSpec::serial_for(&root_id),
        attachment_id: Uuid::new_v4().to_string(),
        connection: Connection::File {
            path: root_path.to_string_lossy().into_owned(),
            format: "qcow2".into(),
        },
        volume_id: root_id,
        read_only: false,
        boot_index: Some(0),
        limits: IoLimits::default(),
        top_generation: 0,
        size_gib: 1,
    };
    let data = new_volume(vols.path(), "32M");
    let user_data = watch_disks_user_data("", "");
    let mut sp = spec(
        &g,
        PathBuf::new(),
        user_data,
        vec![data.clone(), root.clone()],
    );
    sp.root_disk_gib = 0;
    hv.spawn(sp).await.expect("spawn from a volume");
    let instance_dir = g.state.path().join(id.to_string());
    assert!(
        !instance_dir.join("disk.qcow2").exists(),
        "no image overlay"
    );
    wait_for_line(hv, id, "ready", "ferrostack-guest: ready", |_| true).await;
    let listing = disks(hv, id, "both volumes", |l| {
        l.contains(&root.serial) && l.contains(&data.serial)
    })
    .await;
    eprintln!("[{:?}] booted from the volume: {listing}", t0.elapsed());
    // Nothing else is bootable (no overlay; the config drive is vfat
    // without a boot sector): the guest came from the root volume.
    let info = hv.state(id).await.expect("state");
    assert_eq!(info.volumes, [data.clone(), root.clone()]);
    assert!(
        hv.detach_volume(id, &root.volume_id).await.is_err(),
        "the root disk stays"
    );
    // A paused guest gets a volume and loses one, and stays paused (its
    // vCPUs run only for the eject).
    let extra = new_volume(vols.path(), "16M");
    hv.pause(id).await.expect("pause");
    let info = hv
        .attach_volume(id, extra.clone())
        .await
        .expect("attach paused");
    assert_eq!((info.state, info.volumes.len()), (PowerState::Paused, 3));
    let t = Instant::now();
    let info = hv
        .detach_volume(id, &data.volume_id)
        .await
        .expect("detach paused");
    eprintln!(
        "[{:?}] detach_volume of a paused guest took {:?}",
        t0.elapsed(),
        t.elapsed()
    );
    assert_eq!(info.state, PowerState::Paused);
    assert_eq!(info.volumes, [root.clone(), extra.clone()]);
    hv.unpause(id).await.expect("unpause");
    let listing = disks(hv, id, "the paused changes", |l| {
        l.contains(&extra.serial) && !l.contains(&data.serial)
    })
    .await;
    eprintln!("[{:?}] after the paused changes: {listing}", t0.elapsed());
    hv.destroy(id).await.expect("destroy");
    assert!(root_path.exists(), "destroy leaves the root volume");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_in_force_and_change_live() {
    let Some(image) = guest_test_preflight(&[]) else {
        return;
    };
    let t0 = Instant::now();
    let g = guest("limits");
    let (hv, id) = (&g.hv, g.id);
    let vols = tempfile::tempdir_in("/tmp").expect("tempdir");
    let mut v = new_volume(vols.path(), "64M");
    v.limits.write_iops_sec = 20;
    v.size_gib = 0;
    let user_data = watch_disks_user_data("", &v.serial);
    let mut sp = spec(&g, image, user_data, vec![v.clone()]);
    sp.root_limits.total_bytes_sec = 50 << 20;
    hv.spawn(sp).await.expect("spawn");
    let dd = wait_for_line(hv, id, "the timed writes", "volume-test: dd", |_| true).await;
    let times: Vec<f64> = dd
        .split_whitespace()
        .rev()
        .take(2)
        .map(|t| t.parse().expect("uptime"))
        .collect();
    let took = times[0] - times[1];
    eprintln!(
        "[{:?}] 100 direct 4 KiB writes at write_iops_sec=20 took {took:.2} s in the guest ({dd})",
        t0.elapsed()
    );
    assert!(took >= 4.0, "the limit is not in force: {took:.2} s");

    let qmp = g.state.path().join(id.to_string()).join("qmp.sock");
    let group = volume_group(&v.volume_id);
    let q = Duration::from_secs(5);
    assert_eq!(
        group_limits(&qmp, &group, q).await.expect("qom-get"),
        v.limits
    );
    assert_eq!(
        group_limits(&qmp, ROOT_GROUP, q)
            .await
            .expect("root")
            .total_bytes_sec,
        50 << 20
    );

    // Live: new limits, a bigger volume, new root limits.
    let mut changed = v.clone();
    changed.limits = IoLimits {
        total_iops_sec: 300,
        read_bytes_sec: 10 << 20,
        ..IoLimits::default()
    };
    changed.size_gib = 1;
    let info = hv.update_volume(id, changed.clone()).await.expect("update");
    assert_eq!(info.volumes, [changed.clone()]);
    assert_eq!(
        group_limits(&qmp, &group, q).await.expect("qom-get"),
        changed.limits,
        "the old write limit is cleared, the new ones are in force"
    );
    let grown = disks(hv, id, "the grown volume", |l| {
        l.contains(&format!("{}:2097152", v.serial))
    })
    .await;
    eprintln!("[{:?}] live limits and grow: {grown}", t0.elapsed());
    let root = IoLimits {
        write_iops_sec: 1000,
        ..IoLimits::default()
    };
    let info = hv.set_root_limits(id, root).await.expect("root limits");
    assert_eq!(info.root_limits, root);
    assert_eq!(group_limits(&qmp, ROOT_GROUP, q).await.expect("root"), root);
    assert!(
        hv.update_volume(
            id,
            VolumeSpec {
                size_gib: 0,
                ..changed.clone()
            }
        )
        .await
        .is_err(),
        "volumes never shrink"
    );
    // A stop/start keeps the changed limits (from the stored spec).
    hv.power_off(id, Duration::ZERO).await.expect("off");
    hv.power_on(id).await.expect("on");
    assert_eq!(
        group_limits(&qmp, &group, q).await.expect("qom-get"),
        changed.limits
    );
    hv.destroy(id).await.expect("destroy");
    eprintln!("[{:?}] done", t0.elapsed());
}
