//! Snapshot of a running guest and resize of a shut-off one, against real
//! QEMU: the snapshot is a standalone qcow2 and the guest keeps running;
//! a resize to 2 vCPUs and a bigger disk boots with them and reverts.
//!
//! The privileged tier: needs root, QEMU and the guest image
//! (`guest-image/build.sh`, or `FERROSTACK_GUEST_IMAGE`); skips with a
//! printed reason otherwise, and never builds the image itself.

use ferrostack_hypervisor::testing::{guest_image, have, is_root, VmCleanup};
use ferrostack_hypervisor::{
    BaseFormat, Hypervisor, HypervisorError, InstanceSpec, PowerState, QemuConfig, QemuHypervisor,
};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use uuid::Uuid;

async fn wait_ready(hv: &dyn Hypervisor, id: Uuid, count: usize) {
    let start = Instant::now();
    loop {
        let log = hv.console_log(id, 1 << 20).await.expect("console_log");
        if log.matches("ferrostack-guest: ready").count() >= count {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "guest not ready ({count}); console:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `qemu-img info` as JSON (`-U`: the image may be open in QEMU).
fn img_info(path: &Path) -> serde_json::Value {
    let out = Command::new("qemu-img")
        .args(["info", "-U", "-f", "qcow2", "--output=json"])
        .arg(path)
        .output()
        .expect("qemu-img");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("json")
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_a_running_guest_resize_and_revert() {
    if !is_root() {
        eprintln!("SKIP: not root (QEMU guests are the privileged tier)");
        return;
    }
    for p in ["qemu-system-x86_64", "qemu-img"] {
        if !have(p) {
            eprintln!("SKIP: {p} not installed");
            return;
        }
    }
    let Some(image) = guest_image() else {
        eprintln!("SKIP: no guest image (run guest-image/build.sh or set FERROSTACK_GUEST_IMAGE)");
        return;
    };
    let t0 = Instant::now();
    let state = tempfile::Builder::new()
        .prefix("hv-rs-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let hv = QemuHypervisor::new(QemuConfig::new(state.path().join("s"))).expect("driver");
    let id = Uuid::new_v4();
    let dir = state.path().join("s").join(id.to_string());
    let _cleanup = VmCleanup {
        pidfile: dir.join("qemu.pid"),
        id,
    };
    let spec = InstanceSpec {
        id,
        name: "hv-resize".into(),
        vcpus: 1,
        memory_mib: 256,
        root_disk_gib: 1,
        image_id: String::new(),
        base_image: image,
        base_format: BaseFormat::Qcow2,
        config_drive: None,
        nics: vec![],
        volumes: Vec::new(),
        root_limits: Default::default(),
    };
    let info = hv.spawn(spec.clone()).await.expect("spawn");
    let pid = info.pid.expect("pid");
    assert_eq!((info.vcpus, info.resize_backup), (1, false));
    wait_ready(&hv, id, 1).await;
    eprintln!("[{:?}] guest ready", t0.elapsed());

    // Snapshot while running: paused for the copy, running afterwards.
    let dest = state.path().join("snap.qcow2");
    let t = Instant::now();
    let snap = hv.snapshot(id, &dest).await.expect("snapshot");
    eprintln!(
        "[{:?}] snapshot in {:?}: {snap:?}",
        t0.elapsed(),
        t.elapsed()
    );
    assert_eq!(snap.format, BaseFormat::Qcow2);
    assert_eq!(snap.virtual_size, 1 << 30);
    let v = img_info(&dest);
    assert_eq!(v["format"], "qcow2");
    assert!(v.get("backing-filename").is_none(), "standalone: {v}");
    assert_eq!(v["virtual-size"].as_u64(), Some(1 << 30));
    let st = hv.state(id).await.expect("state");
    assert_eq!((st.state, st.pid), (PowerState::Running, Some(pid)));
    let leftovers: Vec<_> = std::fs::read_dir(state.path())
        .expect("readdir")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n.to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Resize needs Shutoff.
    let bigger = InstanceSpec {
        vcpus: 2,
        memory_mib: 320,
        root_disk_gib: 2,
        ..spec.clone()
    };
    assert!(matches!(
        hv.resize(bigger.clone()).await,
        Err(HypervisorError::InvalidState { .. })
    ));
    hv.power_off(id, Duration::from_secs(60))
        .await
        .expect("power_off");
    let i = hv.resize(bigger).await.expect("resize");
    assert_eq!(
        (
            i.state,
            i.vcpus,
            i.memory_mib,
            i.root_disk_gib,
            i.resize_backup
        ),
        (PowerState::Shutoff, 2, 320, 2, true)
    );
    assert_eq!(
        img_info(&dir.join("disk.qcow2"))["virtual-size"].as_u64(),
        Some(2 << 30)
    );
    eprintln!("[{:?}] resized", t0.elapsed());

    // A new driver (an agent restart) sees the new size and the backup,
    // and boots the guest with it.
    drop(hv);
    let hv = QemuHypervisor::new(QemuConfig::new(state.path().join("s"))).expect("driver");
    assert!(hv.list().await.expect("list")[0].resize_backup);
    let i = hv.power_on(id).await.expect("power_on");
    let pid = i.pid.expect("pid");
    let argv = cmdline(pid);
    assert!(argv.contains("-smp 2 -m 320"), "{argv}");
    wait_ready(&hv, id, 2).await;
    eprintln!("[{:?}] booted with 2 vCPUs and a 2 GiB disk", t0.elapsed());

    hv.power_off(id, Duration::from_secs(60))
        .await
        .expect("power_off");
    let i = hv.revert_resize(id).await.expect("revert");
    assert_eq!(
        (
            i.state,
            i.vcpus,
            i.memory_mib,
            i.root_disk_gib,
            i.resize_backup
        ),
        (PowerState::Shutoff, 1, 256, 1, false)
    );
    assert_eq!(
        img_info(&dir.join("disk.qcow2"))["virtual-size"].as_u64(),
        Some(1 << 30)
    );
    let i = hv.power_on(id).await.expect("power_on");
    assert!(
        cmdline(i.pid.expect("pid")).contains("-smp 1 -m 256"),
        "reverted size"
    );
    wait_ready(&hv, id, 3).await;
    eprintln!("[{:?}] reverted, booted again", t0.elapsed());

    hv.destroy(id).await.expect("destroy");
    assert!(!dir.exists());
    eprintln!("[{:?}] done", t0.elapsed());
}
