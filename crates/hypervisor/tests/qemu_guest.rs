//! Boots the repo's test guest through [`QemuHypervisor`]: config drive,
//! pause, graceful power off, power on, re-adoption by a new driver (an
//! agent restart), destroy.
//!
//! Needs root, `qemu-system-x86_64`, `qemu-img`, `mkfs.vfat` and `mcopy`;
//! skips with a printed reason otherwise. Builds the guest image with
//! `guest-image/build.sh` when it is missing (or takes
//! `FERROSTACK_GUEST_IMAGE`). The guest has no NIC (`-nic none`): no
//! network traffic.

use ferrostack_hypervisor::qemu::is_our_vm;
use ferrostack_hypervisor::testing::{have, is_root, workspace_root, VmCleanup};
use ferrostack_hypervisor::{
    BaseFormat, ConfigDrive, Hypervisor, InstanceSpec, PowerOffOutcome, PowerState, QemuConfig,
    QemuHypervisor,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use uuid::Uuid;

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHypervisorTestKeyOnlyForTheGuest hv-test";

fn guest_image() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("FERROSTACK_GUEST_IMAGE") {
        return Ok(PathBuf::from(p));
    }
    let root = workspace_root();
    let image = root.join("target/guest-image/ferrostack-guest.qcow2");
    if !image.exists() {
        let t = Instant::now();
        let status = Command::new(root.join("guest-image/build.sh"))
            .arg(root.join("target/guest-image"))
            .current_dir(&root)
            .status()
            .map_err(|e| format!("cannot run guest-image/build.sh: {e}"))?;
        if !status.success() {
            return Err(format!("guest-image/build.sh failed: {status}"));
        }
        eprintln!("built the guest image in {:?}", t.elapsed());
    }
    std::path::absolute(&image).map_err(|e| e.to_string())
}

async fn wait_for_console(
    hv: &dyn Hypervisor,
    id: Uuid,
    needle: &str,
    count: usize,
    timeout: Duration,
) -> String {
    let start = Instant::now();
    loop {
        let log = hv.console_log(id, 1 << 20).await.expect("console_log");
        if log.matches(needle).count() >= count {
            return log;
        }
        if start.elapsed() > timeout {
            panic!("no {count}x {needle:?} within {timeout:?}; console:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_the_test_guest() {
    if !is_root() {
        eprintln!("SKIP: not root (QEMU test guest needs the privileged tier)");
        return;
    }
    for p in ["qemu-system-x86_64", "qemu-img", "mkfs.vfat", "mcopy"] {
        if !have(p) {
            eprintln!("SKIP: {p} not installed");
            return;
        }
    }
    let image = match guest_image() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("SKIP: no guest image: {e}");
            return;
        }
    };
    let t0 = Instant::now();
    let state = tempfile::Builder::new()
        .prefix("hv-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let hv = QemuHypervisor::new(QemuConfig::new(state.path())).expect("driver");

    let caps = hv.capabilities().await.expect("capabilities");
    eprintln!("[{:?}] capabilities: {caps:?}", t0.elapsed());

    let id = Uuid::new_v4();
    let _cleanup = VmCleanup {
        pidfile: state.path().join(id.to_string()).join("qemu.pid"),
        id,
    };
    let meta = format!(
        r#"{{"name": "hv-test", "public_keys": {{"default": "{KEY}\n"}}, "hostname": "hv-test", "uuid": "{id}"}}"#
    );
    let spec = InstanceSpec {
        id,
        name: "hv-test".into(),
        vcpus: 1,
        memory_mib: 256,
        root_disk_gib: 1,
        image_id: String::new(),
        base_image: image,
        base_format: BaseFormat::Qcow2,
        config_drive: Some(ConfigDrive {
            meta_data_json: meta,
            user_data: None,
            network_data_json: Some("{}".into()),
        }),
        nics: vec![],
        volumes: Vec::new(),
        root_limits: Default::default(),
    };
    let base_spec = spec.clone();
    let info = hv.spawn(spec).await.expect("spawn");
    assert_eq!(info.state, PowerState::Running);
    let pid = info.pid.expect("pid");
    eprintln!("[{:?}] spawned, pid {pid}", t0.elapsed());
    let disk = state.path().join(id.to_string()).join("disk.qcow2");
    assert!(
        std::fs::metadata(&disk).expect("overlay").len() < 4 << 20,
        "the root disk is an overlay, not a copy"
    );

    let log = wait_for_console(
        &hv,
        id,
        "ferrostack-guest: ready",
        1,
        Duration::from_secs(120),
    )
    .await;
    eprintln!("[{:?}] guest ready", t0.elapsed());
    assert!(
        log.contains(&format!("ferrostack-guest: public-key {KEY}")),
        "{log}"
    );
    assert!(
        log.contains(&format!("ferrostack-guest: instance-id {id}")),
        "{log}"
    );

    assert_eq!(hv.pause(id).await.expect("pause").state, PowerState::Paused);
    assert_eq!(hv.state(id).await.expect("state").state, PowerState::Paused);
    assert!(
        hv.pause(id).await.is_err(),
        "pause twice is an invalid transition"
    );
    assert_eq!(
        hv.unpause(id).await.expect("unpause").state,
        PowerState::Running
    );
    assert_eq!(
        hv.suspend(id).await.expect("suspend").state,
        PowerState::Suspended
    );
    assert!(hv.unpause(id).await.is_err(), "unpause of a suspended VM");
    assert_eq!(
        hv.resume(id).await.expect("resume").state,
        PowerState::Running
    );
    eprintln!("[{:?}] paused/unpaused, suspended/resumed", t0.elapsed());

    let t = Instant::now();
    let out = hv
        .power_off(id, Duration::from_secs(60))
        .await
        .expect("power_off");
    assert_eq!(out, PowerOffOutcome::Graceful);
    let st = hv.state(id).await.expect("state");
    assert_eq!((st.state, st.pid), (PowerState::Shutoff, None));
    assert!(!is_our_vm(pid, id));
    eprintln!(
        "[{:?}] graceful power off in {:?}",
        t0.elapsed(),
        t.elapsed()
    );
    wait_for_console(
        &hv,
        id,
        "ferrostack-guest: power-button, powering off",
        1,
        Duration::from_secs(5),
    )
    .await;

    let info = hv.power_on(id).await.expect("power_on");
    assert_eq!(info.state, PowerState::Running);
    assert!(info.pid.is_some_and(|p| p != pid), "a new VM process");
    wait_for_console(
        &hv,
        id,
        "ferrostack-guest: ready",
        2,
        Duration::from_secs(120),
    )
    .await;
    eprintln!(
        "[{:?}] powered on, ready again (log appended)",
        t0.elapsed()
    );

    // Soft reboot: ACPI power off, then a new process.
    let info = hv.reboot(id, false).await.expect("soft reboot");
    assert_eq!(info.state, PowerState::Running);
    let pid = info.pid.expect("pid");
    wait_for_console(
        &hv,
        id,
        "ferrostack-guest: ready",
        3,
        Duration::from_secs(120),
    )
    .await;
    let log = hv.console_log(id, 1 << 20).await.expect("log");
    assert_eq!(
        log.matches("ferrostack-guest: power-button, powering off")
            .count(),
        2
    );
    eprintln!("[{:?}] soft reboot, ready again", t0.elapsed());

    // Hard reboot: a reset of the same process. It needs nothing from the
    // guest, so the test waits only for the guest's first marker.
    let info = hv.reboot(id, true).await.expect("hard reboot");
    assert_eq!((info.state, info.pid), (PowerState::Running, Some(pid)));
    wait_for_console(
        &hv,
        id,
        "ferrostack-guest: booted",
        4,
        Duration::from_secs(120),
    )
    .await;
    eprintln!("[{:?}] hard reboot, guest booted again", t0.elapsed());

    // The agent restarts: a new driver over the same directory.
    drop(hv);
    let hv2 = QemuHypervisor::new(QemuConfig::new(state.path())).expect("driver");
    let st = hv2.state(id).await.expect("state");
    assert_eq!((st.state, st.pid), (PowerState::Running, Some(pid)));
    let all = hv2.list().await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, id);
    eprintln!("[{:?}] re-adopted pid {pid}", t0.elapsed());

    hv2.destroy(id).await.expect("destroy");
    assert!(!is_our_vm(pid, id), "the VM process is gone");
    assert!(
        !Path::new(&format!("/proc/{pid}/cmdline")).exists()
            || std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| c.is_empty())
                .unwrap_or(true),
        "no live process at {pid}"
    );
    assert!(!state.path().join(id.to_string()).exists(), "no files left");
    hv2.destroy(id).await.expect("destroy is idempotent");
    assert!(hv2.list().await.expect("list").is_empty());
    eprintln!("[{:?}] destroyed", t0.elapsed());

    // A spawn that fails half way leaves nothing behind.
    let mut bad = base_spec.clone();
    bad.id = Uuid::new_v4();
    bad.base_image = state.path().join("no-such-image.qcow2");
    assert!(matches!(
        hv2.spawn(bad.clone()).await,
        Err(ferrostack_hypervisor::HypervisorError::Command { .. })
    ));
    assert!(!state.path().join(bad.id.to_string()).exists());

    // A VM that dies behind the driver's back is reported Shutoff.
    let mut quick = base_spec;
    quick.id = Uuid::new_v4();
    quick.config_drive = None;
    quick.root_disk_gib = 0;
    let _cleanup2 = VmCleanup {
        pidfile: state.path().join(quick.id.to_string()).join("qemu.pid"),
        id: quick.id,
    };
    let pid = hv2
        .spawn(quick.clone())
        .await
        .expect("spawn")
        .pid
        .expect("pid");
    assert!(is_our_vm(pid, quick.id));
    // This test started that VM (through the driver): kill it by pid.
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let start = Instant::now();
    while is_our_vm(pid, quick.id) && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let st = hv2.state(quick.id).await.expect("state");
    assert_eq!((st.state, st.pid), (PowerState::Shutoff, None));
    hv2.destroy(quick.id).await.expect("destroy");
    assert!(hv2.list().await.expect("list").is_empty());
    eprintln!(
        "[{:?}] failed spawn undone; dead VM seen as Shutoff; total {:?}",
        t0.elapsed(),
        t0.elapsed()
    );
}
