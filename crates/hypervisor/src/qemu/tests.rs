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
        "format=qcow2,if=virtio",
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
