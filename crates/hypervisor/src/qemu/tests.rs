//! Unit tests of the QEMU driver: command lines, spec checks, paths.

use super::*;
use crate::{BaseFormat, NicSpec};

fn spec() -> InstanceSpec {
    InstanceSpec {
        id: Uuid::parse_str("6c1f8a1e-6c1e-4b4e-9f0a-3b1d2c3d4e5f").expect("uuid"),
        name: "web,1".into(),
        vcpus: 2,
        memory_mib: 256,
        root_disk_gib: 1,
        image_id: String::new(),
        base_image: "/images/base.qcow2".into(),
        base_format: BaseFormat::Qcow2,
        config_drive: Some(ConfigDrive::default()),
        nics: vec![NicSpec {
            tap: "tap0abc".into(),
            mac: "fa:16:3e:00:00:01".into(),
            port_id: None,
        }],
        volumes: Vec::new(),
        root_limits: Default::default(),
    }
}

#[test]
fn argv_is_what_the_design_asks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = QemuConfig::new(dir.path());
    cfg.accelerator = Some(Accelerator::Tcg);
    let hv = QemuHypervisor::new(cfg).expect("new");
    let sp = spec();
    let argv = hv.qemu_argv(&sp, &hv.paths(sp.id), Accelerator::Tcg);
    let joined = argv.join(" ");
    for needle in [
        "-name guest=web,,1",
        "-uuid 6c1f8a1e-6c1e-4b4e-9f0a-3b1d2c3d4e5f",
        "-accel tcg",
        "-nodefaults",
        "-display none",
        "append=on",
        "-serial chardev:serial0",
        "format=raw,if=virtio,readonly=on",
        "server=on,wait=off",
        "-pidfile",
        "-daemonize",
        "tap,id=net-tap0abc,ifname=tap0abc,script=no,downscript=no",
        "virtio-net-pci,id=nic-tap0abc,netdev=net-tap0abc,mac=fa:16:3e:00:00:01",
    ] {
        assert!(joined.contains(needle), "{needle:?} missing from {joined}");
    }
    assert!(!joined.contains("-nic none"));
    assert!(
        !joined.contains("-nographic"),
        "cannot be combined with -daemonize"
    );
    let mut sp2 = sp.clone();
    sp2.nics.clear();
    sp2.config_drive = None;
    let joined = hv
        .qemu_argv(&sp2, &hv.paths(sp2.id), Accelerator::Kvm)
        .join(" ");
    assert!(joined.contains("-nic none") && joined.contains("-accel kvm -cpu host"));
    assert!(!joined.contains("readonly=on"));
}

/// The JSON arguments of every `flag` in `argv`.
fn json_args(argv: &[String], flag: &str) -> Vec<Value> {
    argv.windows(2)
        .filter(|w| w[0] == flag && w[1].starts_with('{'))
        .map(|w| serde_json::from_str(&w[1]).expect("a JSON argument"))
        .collect()
}

fn file_volume(id: &str, path: &str) -> crate::VolumeSpec {
    crate::VolumeSpec {
        volume_id: id.into(),
        attachment_id: format!("att-{id}"),
        connection: crate::Connection::File {
            path: path.into(),
            format: "qcow2".into(),
        },
        serial: crate::VolumeSpec::serial_for(id),
        read_only: false,
        boot_index: None,
        limits: Default::default(),
        size_gib: 1,
        top_generation: 0,
    }
}

#[test]
fn the_root_disk_is_a_throttled_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hv = QemuHypervisor::new(QemuConfig::new(dir.path())).expect("new");
    let mut sp = spec();
    sp.root_limits.total_iops_sec = 500;
    let paths = hv.paths(sp.id);
    let argv = hv.qemu_argv(&sp, &paths, Accelerator::Tcg);
    let objects = json_args(&argv, "-object");
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0]["qom-type"], "throttle-group");
    assert_eq!(objects[0]["id"], "tg-root");
    assert_eq!(objects[0]["limits"]["iops-total"], 500);
    let nodes = json_args(&argv, "-blockdev");
    let drivers: Vec<_> = nodes.iter().map(|n| n["driver"].clone()).collect();
    assert_eq!(drivers, ["file", "qcow2", "throttle"]);
    assert_eq!(nodes[0]["filename"], paths.disk.to_string_lossy().as_ref());
    assert_eq!(nodes[1]["file"], "root-p");
    assert_eq!(nodes[2]["file"], "root-f");
    assert_eq!(nodes[2]["throttle-group"], "tg-root");
    let devices = json_args(&argv, "-device");
    assert_eq!(devices[0]["driver"], "virtio-blk-pci");
    assert_eq!(devices[0]["drive"], "root");
    assert_eq!(devices[0]["id"], "disk-root");
    assert_eq!(devices[0]["bootindex"], 0);
}

#[test]
fn volumes_are_on_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hv = QemuHypervisor::new(QemuConfig::new(dir.path())).expect("new");
    let vid = "0b7c1c5e-2a55-4f4e-8a7e-3f2b1c0d9e8f";
    let mut data = file_volume(vid, "/volumes/data.raw");
    data.connection = crate::Connection::File {
        path: "/volumes/data.raw".into(),
        format: "raw".into(),
    };
    data.read_only = true;
    data.limits.write_iops_sec = 20;
    let mut sp = spec();
    sp.volumes = vec![data];
    assert!(hv.validate(&sp).is_ok());
    let argv = hv.qemu_argv(&sp, &hv.paths(sp.id), Accelerator::Tcg);
    let key = "vol-0b7c1c5e2a554f4e8a7e3f2b";
    let objects = json_args(&argv, "-object");
    assert_eq!(objects[1]["id"], format!("tg-{key}"));
    assert_eq!(objects[1]["limits"]["iops-write"], 20);
    let nodes = json_args(&argv, "-blockdev");
    assert_eq!(nodes.len(), 6, "root and volume chains");
    assert_eq!(nodes[3]["node-name"], format!("{key}-p"));
    assert_eq!(nodes[3]["filename"], "/volumes/data.raw");
    assert_eq!(nodes[4]["driver"], "raw");
    assert_eq!(nodes[5]["node-name"], key);
    assert!(nodes[3..].iter().all(|n| n["read-only"] == true));
    let devices = json_args(&argv, "-device");
    let disk = devices
        .iter()
        .find(|d| d["drive"] == key)
        .expect("the volume's device");
    assert_eq!(disk["id"], format!("disk-{key}"));
    assert_eq!(disk["serial"], "0b7c1c5e-2a55-4f4e-8");
    assert!(disk.get("bootindex").is_none(), "a data disk");
}

#[test]
fn a_boot_volume_replaces_the_overlay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hv = QemuHypervisor::new(QemuConfig::new(dir.path())).expect("new");
    let mut root = file_volume("root-vol", "/volumes/root.qcow2");
    root.boot_index = Some(0);
    let mut sp = spec();
    sp.base_image = "".into();
    sp.volumes = vec![file_volume("data-vol", "/volumes/data.qcow2"), root];
    assert!(hv.validate(&sp).is_ok(), "no base image needed");
    let argv = hv.qemu_argv(&sp, &hv.paths(sp.id), Accelerator::Tcg);
    assert!(!argv.join(" ").contains("disk.qcow2"), "no overlay");
    let devices = json_args(&argv, "-device");
    let disks: Vec<_> = devices
        .iter()
        .filter(|d| d["driver"] == "virtio-blk-pci")
        .collect();
    assert_eq!(disks.len(), 2);
    assert_eq!(disks[0]["drive"], "vol-rootvol", "the root disk first");
    assert_eq!(disks[0]["bootindex"], 0);
    assert!(disks[1].get("bootindex").is_none());
    // Without a boot volume the base image is needed again.
    sp.volumes.pop();
    assert!(hv.validate(&sp).is_err());
    // An export needs a well-formed key; with one it is a disk.
    let mut s2 = spec();
    let mut e = file_volume("exp", "/x");
    e.connection = crate::Connection::Export {
        address: "h:10809".into(),
        name: "exp".into(),
        key: serde_json::from_value(serde_json::json!("not-hex")).expect("key"),
    };
    s2.volumes = vec![e.clone()];
    assert!(hv.validate(&s2).is_err());
    e.connection = crate::Connection::Export {
        address: "h:10809".into(),
        name: "exp".into(),
        key: ferrostack_host_contract::block::PskKey::random(),
    };
    s2.volumes = vec![e];
    assert!(hv.validate(&s2).is_ok());
}

#[test]
fn validation_refuses_bad_specs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hv = QemuHypervisor::new(QemuConfig::new(dir.path())).expect("new");
    assert!(hv.validate(&spec()).is_ok());
    let mut s = spec();
    s.nics[0].tap = "tap;rm -rf".into();
    assert!(hv.validate(&s).is_err());
    let mut s = spec();
    s.nics[0].mac = "fa:16:3e:00:00".into();
    assert!(hv.validate(&s).is_err());
    let mut s = spec();
    s.base_image = "relative.qcow2".into();
    assert!(hv.validate(&s).is_err());
    let mut s = spec();
    s.vcpus = 0;
    assert!(hv.validate(&s).is_err());
}

#[test]
fn long_state_dirs_are_refused() {
    let long = std::env::temp_dir().join("x".repeat(80));
    assert!(matches!(
        QemuHypervisor::new(QemuConfig::new(&long)),
        Err(HypervisorError::InvalidSpec(_))
    ));
    let _ = std::fs::remove_dir_all(&long);
}

#[test]
fn our_vm_check_needs_the_uuid_in_the_cmdline() {
    let me = std::process::id();
    assert!(!is_our_vm(me, Uuid::new_v4()));
    assert!(!is_our_vm(u32::MAX, Uuid::new_v4()));
}

#[test]
fn tail_cuts_at_character_boundaries() {
    assert_eq!(tail_lossy(b"hello", 3), "llo");
    assert_eq!(tail_lossy(b"hi", 10), "hi");
    assert_eq!(tail_lossy("aé".as_bytes(), 1), "");
    assert_eq!(tail_lossy("aéb".as_bytes(), 2), "b");
    assert_eq!(tail_lossy("aéb".as_bytes(), 3), "éb");
}

#[tokio::test]
async fn unknown_instances() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = QemuConfig::new(dir.path());
    cfg.accelerator = Some(Accelerator::Tcg);
    let hv = QemuHypervisor::new(cfg).expect("new");
    let id = Uuid::new_v4();
    assert!(matches!(
        hv.state(id).await,
        Err(HypervisorError::NotFound { .. })
    ));
    assert!(matches!(
        hv.pause(id).await,
        Err(HypervisorError::NotFound { .. })
    ));
    hv.destroy(id).await.expect("destroying nothing is fine");
    // An unfinished spawn (no spec.json) is not listed.
    std::fs::create_dir(dir.path().join(id.to_string())).expect("mkdir");
    assert!(hv.list().await.expect("list").is_empty());
    hv.destroy(id).await.expect("destroy");
    assert!(!dir.path().join(id.to_string()).exists());
}

fn qemu_img(args: &[&str]) -> String {
    let out = std::process::Command::new("qemu-img")
        .args(args)
        .output()
        .expect("qemu-img");
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have_qemu_img() -> bool {
    std::process::Command::new("qemu-img")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A `Shutoff` instance made by hand (what a spawn leaves once the VM is
/// off): no QEMU needed, only `qemu-img`.
fn shutoff_instance(hv: &QemuHypervisor, base_dir: &Path) -> InstanceSpec {
    let base = base_dir.join("base.qcow2");
    if !base.exists() {
        qemu_img(&["create", "-q", "-f", "qcow2", &s(&base), "64M"]);
    }
    let mut sp = spec();
    sp.id = Uuid::new_v4();
    sp.root_disk_gib = 1;
    sp.base_image = base.clone();
    let paths = hv.paths(sp.id);
    std::fs::create_dir(&paths.dir).expect("mkdir");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        &s(&base),
        "-F",
        "qcow2",
        &s(&paths.disk),
        "1G",
    ]);
    disk::write_private(&paths.spec, &serde_json::to_vec(&sp).expect("json")).expect("spec");
    sp
}

fn virtual_size(path: &Path) -> u64 {
    let v: Value = serde_json::from_str(&qemu_img(&[
        "info",
        "-U",
        "-f",
        "qcow2",
        "--output=json",
        &s(path),
    ]))
    .expect("json");
    v["virtual-size"].as_u64().expect("virtual-size")
}

#[tokio::test]
async fn resize_revert_confirm_on_disk() {
    if !have_qemu_img() {
        eprintln!("SKIP: qemu-img not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = QemuConfig::new(dir.path().join("state"));
    cfg.accelerator = Some(Accelerator::Tcg);
    let hv = QemuHypervisor::new(cfg).expect("new");
    let sp = shutoff_instance(&hv, dir.path());
    let id = sp.id;
    let paths = hv.paths(id);
    let bigger = |vcpus, disk| InstanceSpec {
        vcpus,
        memory_mib: 512,
        root_disk_gib: disk,
        ..sp.clone()
    };

    // The same size is not a shrink: a resize (of vCPUs only); undone.
    let i = hv.resize(bigger(2, 1)).await.expect("same disk size");
    assert_eq!((i.root_disk_gib, i.resize_backup), (1, true));
    hv.revert_resize(id).await.expect("revert");
    // Shrinking is refused and changes nothing.
    qemu_img(&["resize", "-q", "-f", "qcow2", &s(&paths.disk), "1536M"]);
    assert!(matches!(
        hv.resize(bigger(2, 1)).await,
        Err(HypervisorError::InvalidSpec(_))
    ));
    let st = hv.state(id).await.expect("state");
    assert_eq!((st.vcpus, st.resize_backup), (2, false));
    assert!(!paths.disk_backup.exists());
    assert_eq!(virtual_size(&paths.disk), 1536 << 20);

    let i = hv.resize(bigger(4, 2)).await.expect("grow");
    assert_eq!(
        (
            i.state,
            i.vcpus,
            i.memory_mib,
            i.root_disk_gib,
            i.resize_backup
        ),
        (PowerState::Shutoff, 4, 512, 2, true)
    );
    assert_eq!(virtual_size(&paths.disk), 2 << 30);
    let stored: InstanceSpec =
        serde_json::from_slice(&std::fs::read(&paths.spec).expect("spec")).expect("json");
    assert_eq!(
        (stored.vcpus, stored.root_disk_gib),
        (4, 2),
        "spec.json follows"
    );
    assert!(matches!(
        hv.resize(bigger(8, 3)).await,
        Err(HypervisorError::InvalidState { .. })
    ));
    let listed = hv.list().await.expect("list");
    assert!(listed[0].resize_backup);

    let i = hv.revert_resize(id).await.expect("revert");
    assert_eq!((i.vcpus, i.root_disk_gib, i.resize_backup), (2, 1, false));
    assert_eq!(virtual_size(&paths.disk), 1536 << 20);
    assert!(!paths.disk_backup.exists() && !paths.spec_backup.exists());
    assert!(matches!(
        hv.revert_resize(id).await,
        Err(HypervisorError::InvalidState { .. })
    ));

    // 0 keeps the disk; confirm drops the backup, twice is fine.
    let i = hv.resize(bigger(1, 0)).await.expect("resize");
    assert_eq!((i.vcpus, i.root_disk_gib), (1, 1));
    hv.confirm_resize(id).await.expect("confirm");
    hv.confirm_resize(id).await.expect("confirm again");
    assert!(!hv.state(id).await.expect("state").resize_backup);
    assert!(!paths.disk_backup.exists());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&paths.spec).expect("meta").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn snapshot_of_a_shutoff_disk_is_standalone() {
    if !have_qemu_img() {
        eprintln!("SKIP: qemu-img not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = QemuConfig::new(dir.path().join("state"));
    cfg.accelerator = Some(Accelerator::Tcg);
    let hv = QemuHypervisor::new(cfg).expect("new");
    let sp = shutoff_instance(&hv, dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let dest = out.join("snap.qcow2");
    let info = hv.snapshot(sp.id, &dest).await.expect("snapshot");
    assert_eq!(info.format, BaseFormat::Qcow2);
    assert_eq!(info.virtual_size, 1 << 30);
    assert_eq!(info.size, std::fs::metadata(&dest).expect("meta").len());
    let v: Value = serde_json::from_str(&qemu_img(&[
        "info",
        "-f",
        "qcow2",
        "--output=json",
        &s(&dest),
    ]))
    .expect("json");
    assert!(v.get("backing-filename").is_none(), "{v}");
    assert_eq!(
        hv.state(sp.id).await.expect("state").state,
        PowerState::Shutoff
    );
    // A failed snapshot leaves nothing behind.
    std::fs::remove_file(hv.paths(sp.id).disk).expect("rm disk");
    let dest2 = out.join("snap2.qcow2");
    assert!(hv.snapshot(sp.id, &dest2).await.is_err());
    let names: Vec<_> = std::fs::read_dir(&out)
        .expect("readdir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("snap.qcow2")]);
}

#[tokio::test]
async fn a_boot_from_volume_instance_resizes_without_a_disk_and_has_no_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = QemuConfig::new(dir.path().join("state"));
    cfg.accelerator = Some(Accelerator::Tcg);
    let hv = QemuHypervisor::new(cfg).expect("new");
    // A Shutoff boot-from-volume instance, made by hand: no overlay.
    let mut root = file_volume("root-vol", "/volumes/root.qcow2");
    root.boot_index = Some(0);
    let mut sp = spec();
    sp.id = Uuid::new_v4();
    sp.base_image = "".into();
    sp.root_disk_gib = 0;
    sp.volumes = vec![root];
    let paths = hv.paths(sp.id);
    std::fs::create_dir(&paths.dir).expect("mkdir");
    disk::write_private(&paths.spec, &serde_json::to_vec(&sp).expect("json")).expect("spec");

    let bigger = InstanceSpec {
        vcpus: 4,
        memory_mib: 1024,
        root_disk_gib: 20,
        ..sp.clone()
    };
    let i = hv.resize(bigger).await.expect("resize");
    assert_eq!(
        (i.vcpus, i.memory_mib, i.root_disk_gib, i.resize_backup),
        (4, 1024, 0, true),
        "the root disk is the volume's business"
    );
    assert!(!paths.disk.exists() && !paths.disk_backup.exists());
    let extra = file_volume("extra-vol", "/volumes/extra.qcow2");
    hv.attach_volume(sp.id, extra).await.expect("attach");
    let i = hv.revert_resize(sp.id).await.expect("revert");
    assert_eq!((i.vcpus, i.resize_backup), (2, false));
    assert_eq!(i.volumes.len(), 2, "a revert keeps the volumes it has now");
    hv.detach_volume(sp.id, "extra-vol").await.expect("detach");
    assert!(matches!(
        hv.snapshot(sp.id, &dir.path().join("s.qcow2")).await,
        Err(HypervisorError::InvalidSpec(_))
    ));
    // Live limits need a live VM; on a stopped one only the spec changes.
    let limits = crate::IoLimits {
        read_iops_sec: 7,
        ..Default::default()
    };
    let i = hv.set_root_limits(sp.id, limits).await.expect("limits");
    assert_eq!(i.root_limits, limits);
    let mut data = file_volume("data-vol", "/volumes/data.qcow2");
    let i = hv.attach_volume(sp.id, data.clone()).await.expect("attach");
    assert_eq!(i.volumes.len(), 2);
    data.limits.write_bytes_sec = 1 << 20;
    let i = hv.update_volume(sp.id, data.clone()).await.expect("update");
    assert_eq!(i.volumes[1], data);
    let i = hv.detach_volume(sp.id, "data-vol").await.expect("detach");
    assert_eq!(i.volumes.len(), 1);
    assert!(matches!(
        hv.detach_volume(sp.id, "root-vol").await,
        Err(HypervisorError::InvalidSpec(_))
    ));
}
