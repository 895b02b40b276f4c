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
        }],
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
        "tap,id=net0,ifname=tap0abc,script=no,downscript=no",
        "virtio-net-pci,netdev=net0,mac=fa:16:3e:00:00:01",
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
