//! A volume served by `qemu-storage-daemon` (NBD over TLS with a
//! pre-shared key) reaches a real guest through [`QemuHypervisor`] as an
//! export connection: a wrong key is refused, the right one gives the
//! guest the disk, it writes to it, and after the unplug and the export's
//! removal the bytes are in the storage host's file. A second driver (an
//! agent restart) finds the running daemon and its exports; a daemon
//! killed behind its back is started again, export included, by the next
//! ensure.
//!
//! Loopback only; the NBD port is fixed (20809, this test's own): NBD
//! servers need a known port, port 0 would leave the client guessing.
//!
//! Needs root, `qemu-system-x86_64`, `qemu-storage-daemon`, `qemu-img`,
//! `mkfs.vfat` and `mcopy`, and the guest image; skips otherwise.

use ferrostack_host_contract::block::PskKey;
use ferrostack_hypervisor::exports::{ExportConfig, ExportSpec, StorageDaemon};
use ferrostack_hypervisor::testing::{
    guest_test_preflight, wait_for_line, watch_disks_user_data, VmCleanup,
};
use ferrostack_hypervisor::{
    BaseFormat, ConfigDrive, Connection, Hypervisor, InstanceSpec, IoLimits, QemuConfig,
    QemuHypervisor, VolumeSpec,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use uuid::Uuid;

const PORT: u16 = 20809;

fn qemu_img(args: &[&str]) {
    let out = Command::new("qemu-img")
        .args(args)
        .output()
        .expect("qemu-img");
    assert!(out.status.success(), "qemu-img {args:?}: {out:?}");
}

/// Kills the daemon if the test stops half way (it is not our child).
struct DaemonCleanup(PathBuf);

impl Drop for DaemonCleanup {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        }
    }
}

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
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_writes_to_an_export_over_tls_psk() {
    let Some(image) = guest_test_preflight(&["qemu-storage-daemon"]) else {
        return;
    };
    let t0 = Instant::now();
    // The storage host: a volume file and the daemon serving it.
    let storage = tempfile::Builder::new()
        .prefix("exp-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let volume_id = Uuid::new_v4().to_string();
    let file = storage.path().join(format!("{volume_id}.qcow2"));
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        &file.to_string_lossy(),
        "64M",
    ]);
    let mut config = ExportConfig::new(storage.path().join("daemon"), "127.0.0.1");
    config.port = PORT;
    let _daemon_cleanup = DaemonCleanup(config.state_dir.join("daemon.pid"));
    let daemon = StorageDaemon::new(config.clone());
    assert!(
        daemon.list().await.expect("list").is_empty(),
        "not started yet"
    );
    let key = PskKey::random();
    let export = ExportSpec {
        name: volume_id.clone(),
        path: file.clone(),
        format: "qcow2".into(),
        key: key.clone(),
    };
    daemon.ensure(&export).await.expect("export");
    daemon.ensure(&export).await.expect("export again: a no-op");
    eprintln!("[{:?}] exported at {}", t0.elapsed(), daemon.address());

    // The client host: a guest.
    let state = tempfile::Builder::new()
        .prefix("hv-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let hv = QemuHypervisor::new(QemuConfig::new(state.path())).expect("driver");
    let id = Uuid::new_v4();
    let _vm_cleanup = VmCleanup {
        pidfile: state.path().join(id.to_string()).join("qemu.pid"),
        id,
    };
    let serial = VolumeSpec::serial_for(&volume_id);
    hv.spawn(InstanceSpec {
        id,
        name: "exports".into(),
        vcpus: 1,
        memory_mib: 256,
        root_disk_gib: 0,
        image_id: String::new(),
        base_image: image,
        base_format: BaseFormat::Qcow2,
        config_drive: Some(ConfigDrive {
            meta_data_json: format!(r#"{{"uuid": "{id}", "hostname": "exports"}}"#),
            user_data: Some(watch_disks_user_data(&serial, "").into_bytes()),
            network_data_json: None,
        }),
        nics: Vec::new(),
        volumes: Vec::new(),
        root_limits: IoLimits::default(),
    })
    .await
    .expect("spawn");
    wait_for_line(&hv, id, "its disks", "volume-test: disks [", |_| true).await;
    eprintln!("[{:?}] guest up", t0.elapsed());

    let volume = |key: PskKey| VolumeSpec {
        volume_id: volume_id.clone(),
        attachment_id: Uuid::new_v4().to_string(),
        connection: Connection::Export {
            address: daemon.address(),
            name: volume_id.clone(),
            key,
        },
        serial: serial.clone(),
        read_only: false,
        boot_index: None,
        limits: IoLimits::default(),
        size_gib: 0,
        top_generation: 0,
    };
    // A wrong key: the TLS handshake fails, nothing is plugged.
    let wrong = hv.attach_volume(id, volume(PskKey::random())).await;
    assert!(wrong.is_err(), "a wrong key is refused: {wrong:?}");
    assert!(hv.state(id).await.expect("state").volumes.is_empty());
    eprintln!(
        "[{:?}] wrong key refused: {}",
        t0.elapsed(),
        wrong.unwrap_err()
    );

    let v = volume(key.clone());
    hv.attach_volume(id, v.clone()).await.expect("attach");
    let listing = wait_for_line(&hv, id, "the export", "volume-test: disks [", |l| {
        l.contains(&serial)
    })
    .await;
    assert!(
        listing.contains(&format!("={serial}:131072")),
        "64 MiB over NBD: {listing}"
    );
    wait_for_line(&hv, id, "the marker written", "volume-test: wrote", |_| {
        true
    })
    .await;
    eprintln!("[{:?}] the guest wrote over NBD: {listing}", t0.elapsed());
    // The key is in a 0600 file, never on a command line.
    let pid =
        std::fs::read_to_string(state.path().join(id.to_string()).join("qemu.pid")).expect("pid");
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid.trim())).expect("cmdline");
    assert!(!String::from_utf8_lossy(&cmdline).contains(key.expose()));

    // An agent restart: a new driver adopts the daemon and its export.
    let again = StorageDaemon::new(config.clone());
    assert_eq!(again.list().await.expect("list"), vec![volume_id.clone()]);
    again.ensure(&export).await.expect("ensure after adoption");
    assert_eq!(again.pid(), daemon.pid(), "the same daemon");

    // The daemon killed behind the agent's back: the export is missing,
    // and an ensure (the agent's resync) brings both back; the guest's
    // disk reconnects to it.
    let pid = again.pid().expect("pid");
    assert!(Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill")
        .success());
    let until = Instant::now() + std::time::Duration::from_secs(10);
    while again.pid().is_some() && Instant::now() < until {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        again.list().await.expect("list").is_empty(),
        "nothing served"
    );
    again.ensure(&export).await.expect("ensure brings it back");
    assert_ne!(again.pid(), Some(pid), "a new daemon");
    assert_eq!(again.list().await.expect("list"), vec![volume_id.clone()]);
    eprintln!(
        "[{:?}] a killed daemon is started again with its export",
        t0.elapsed()
    );

    hv.detach_volume(id, &volume_id).await.expect("detach");
    again.remove(&volume_id).await.expect("remove");
    again
        .remove(&volume_id)
        .await
        .expect("remove again: a no-op");
    assert!(again.list().await.expect("list").is_empty());
    let sector = first_sector(storage.path(), &file);
    let want = format!("ferrostack-volume-marker {serial}\n");
    assert_eq!(
        &sector[..want.len()],
        want.as_bytes(),
        "the marker is in the file"
    );
    eprintln!(
        "[{:?}] the storage host's file holds {want:?}",
        t0.elapsed()
    );
    hv.destroy(id).await.expect("destroy");
    again.stop().await;
    assert!(again.pid().is_none(), "the daemon stopped");
}
