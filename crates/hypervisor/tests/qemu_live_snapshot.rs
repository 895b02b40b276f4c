//! A live snapshot's VM half on the repo's test guest: the volume's file
//! is frozen under the running guest the way the local backend does it
//! (a second name for the inode QEMU writes, a new top backed by it renamed
//! over the path), then `update_volume` with the next top generation
//! switches the disk onto the new top. What the guest wrote before the
//! switch is in the frozen layer, what is written after only in the new
//! top; repeats, a fresh driver (an agent restart) and a switch cut short
//! between its two QMP steps are handled.
//!
//! Needs root, QEMU, `qemu-img`, `mkfs.vfat`, `mcopy` and the guest image;
//! skips with a printed reason otherwise.

use ferrostack_hypervisor::qemu::volume_group;
use ferrostack_hypervisor::qmp::QmpClient;
use ferrostack_hypervisor::testing::{guest_test_preflight, wait_for_line, VmCleanup};
use ferrostack_hypervisor::{
    BaseFormat, ConfigDrive, Connection, Hypervisor, InstanceSpec, IoLimits, QemuConfig,
    QemuHypervisor, VolumeSpec,
};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use uuid::Uuid;

fn qemu_img(args: &[&str]) -> Vec<u8> {
    let out = Command::new("qemu-img")
        .args(args)
        .output()
        .expect("qemu-img");
    assert!(out.status.success(), "qemu-img {args:?}: {out:?}");
    out.stdout
}

/// The local backend's freeze (steps 1 to 3) of `top` (`size` bytes) as
/// `layer`.
fn freeze(top: &Path, layer: &Path, size: u64) {
    std::fs::hard_link(top, layer).expect("link the top as the layer");
    let tmp = top.with_extension("tmp");
    // `-u`: the layer is QEMU's open file, locked; its size is given.
    qemu_img(&[
        "create",
        "-q",
        "-u",
        "-f",
        "qcow2",
        "-b",
        &layer.to_string_lossy(),
        "-F",
        "qcow2",
        &tmp.to_string_lossy(),
        &size.to_string(),
    ]);
    std::fs::rename(&tmp, top).expect("rename the new top into place");
}

/// The guest's marker `k` as read on the host from a qcow2 chain at
/// `k` MiB (`-U`: QEMU may still have the file open).
fn marker_in(dir: &Path, qcow2: &Path, k: u64) -> bool {
    use std::io::{Read, Seek};
    let raw = dir.join("check.raw");
    qemu_img(&[
        "convert",
        "-U",
        "-f",
        "qcow2",
        "-O",
        "raw",
        &qcow2.to_string_lossy(),
        &raw.to_string_lossy(),
    ]);
    let mut f = std::fs::File::open(&raw).expect("raw");
    let want = format!("live-marker-{k}\n");
    let mut got = vec![0u8; want.len()];
    f.seek(std::io::SeekFrom::Start(k << 20)).expect("seek");
    let read = f.read_exact(&mut got).is_ok();
    let _ = std::fs::remove_file(&raw);
    read && got == want.as_bytes()
}

/// A guest script: each time the disk with serial `serial` appears or
/// changes size, the `k`-th time, it writes `live-marker-k` at `k` MiB and
/// prints `live-test: wrote k`.
fn marker_writer(serial: &str) -> String {
    format!(
        r#"#!/bin/sh
SER="{serial}"
(
  last=""; k=0
  while :; do
    for d in /sys/block/vd*; do
      [ "$(cat $d/serial 2>/dev/null)" = "$SER" ] || continue
      n=${{d##*/}}; sz=$(cat $d/size)
      if [ "$sz" != "$last" ]; then
        k=$((k+1))
        printf 'live-marker-%s\n' "$k" | dd of=/dev/$n bs=512 seek=$((k*2048)) count=1 conv=sync,fsync 2>/dev/null
        sync
        echo "live-test: wrote $k"
        last=$sz
      fi
    done
    sleep 0.2
  done
) &
"#
    )
}

async fn wrote(hv: &QemuHypervisor, id: Uuid, k: u64) {
    let line = format!("live-test: wrote {k}");
    wait_for_line(hv, id, &line, &line, |_| true).await;
}

async fn node_names(c: &mut QmpClient) -> Vec<String> {
    let v = c
        .execute("query-named-block-nodes", Some(json!({ "flat": true })))
        .await
        .expect("nodes");
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["node-name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_snapshot_switches_the_disk_onto_the_new_top() {
    let Some(image) = guest_test_preflight(&[]) else {
        return;
    };
    let state = tempfile::Builder::new()
        .prefix("hv-live-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let config = QemuConfig::new(state.path());
    let hv = QemuHypervisor::new(config.clone()).expect("driver");
    let id = Uuid::new_v4();
    let _cleanup = VmCleanup {
        pidfile: state.path().join(id.to_string()).join("qemu.pid"),
        id,
    };
    let vols = tempfile::tempdir_in("/tmp").expect("tempdir");
    let volume_id = Uuid::new_v4().to_string();
    let top = vols.path().join(&volume_id);
    qemu_img(&["create", "-q", "-f", "qcow2", &top.to_string_lossy(), "64M"]);
    let v = VolumeSpec {
        serial: VolumeSpec::serial_for(&volume_id),
        attachment_id: Uuid::new_v4().to_string(),
        connection: Connection::File {
            path: top.to_string_lossy().into_owned(),
            format: "qcow2".into(),
        },
        volume_id: volume_id.clone(),
        read_only: false,
        boot_index: None,
        limits: IoLimits::default(),
        size_gib: 0,
        top_generation: 0,
    };
    let spec = InstanceSpec {
        id,
        name: "live-snapshot".into(),
        vcpus: 1,
        memory_mib: 256,
        root_disk_gib: 0,
        image_id: String::new(),
        base_image: image,
        base_format: BaseFormat::Qcow2,
        config_drive: Some(ConfigDrive {
            meta_data_json: format!(r#"{{"uuid": "{id}", "hostname": "live"}}"#),
            user_data: Some(marker_writer(&v.serial).into_bytes()),
            network_data_json: None,
        }),
        nics: Vec::new(),
        volumes: Vec::new(),
        root_limits: IoLimits::default(),
    };
    hv.spawn(spec).await.expect("spawn");
    hv.attach_volume(id, v.clone()).await.expect("attach");
    // Marker 1: the guest's write when the disk appears.
    wrote(&hv, id, 1).await;
    let key = volume_group(&volume_id)
        .strip_prefix("tg-")
        .expect("tg-KEY")
        .to_owned();
    let qmp_path = state.path().join(id.to_string()).join("qmp.sock");
    let qmp = || QmpClient::connect(&qmp_path, Duration::from_secs(5));
    let dir = vols.path();

    // The backend's begin, then the switch.
    let layer1 = dir.join("layer1");
    freeze(&top, &layer1, 64 << 20);
    let mut next = v.clone();
    next.top_generation = 1;
    let info = hv.update_volume(id, next.clone()).await.expect("switch");
    assert_eq!(info.volumes[0].top_generation, 1, "the generation applied");
    let mut c = qmp().await.expect("qmp");
    let nodes = node_names(&mut c).await;
    assert!(nodes.contains(&format!("{key}_1")), "{nodes:?}");
    drop(c);
    // Marker 2: the guest writes again when its disk grows.
    next.size_gib = 1;
    hv.update_volume(id, next.clone()).await.expect("grow");
    wrote(&hv, id, 2).await;
    assert!(marker_in(dir, &layer1, 1), "written before: in the layer");
    assert!(
        !marker_in(dir, &layer1, 2),
        "written after: not in the layer"
    );
    assert!(
        marker_in(dir, &top, 1) && marker_in(dir, &top, 2),
        "the volume has both"
    );

    // Repeats are no-ops: the same generation, and a newer one with no
    // freeze behind it (QEMU has the file at the path open already, as a
    // guest started after a freeze has).
    hv.update_volume(id, next.clone()).await.expect("again");
    next.top_generation = 2;
    let info = hv.update_volume(id, next.clone()).await.expect("no freeze");
    assert_eq!(info.volumes[0].top_generation, 2);
    let mut c = qmp().await.expect("qmp");
    let nodes = node_names(&mut c).await;
    assert!(!nodes.contains(&format!("{key}_2")), "{nodes:?}");

    // A switch cut short after its blockdev-add (the agent died): a new
    // driver removes the stray overlay and switches.
    // Its new top is smaller than the disk, as after an extend that
    // reached the guest between the freeze and the switch.
    let layer2 = dir.join("layer2");
    freeze(&top, &layer2, 64 << 20);
    c.execute(
        "blockdev-add",
        Some(json!({
            "driver": "qcow2", "node-name": format!("{key}_2"),
            "file": { "driver": "file", "filename": top.to_string_lossy() },
            "backing": null,
        })),
    )
    .await
    .expect("stray overlay");
    drop(c);
    let again = QemuHypervisor::new(config.clone()).expect("second driver");
    assert_eq!(
        again.state(id).await.expect("state").volumes[0].top_generation,
        2,
        "the applied generation survives the driver"
    );
    next.top_generation = 3;
    again.update_volume(id, next.clone()).await.expect("switch");
    let mut c = qmp().await.expect("qmp");
    let sizes = c
        .execute("query-named-block-nodes", Some(json!({ "flat": true })))
        .await
        .expect("nodes");
    let size = sizes
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| n["node-name"] == format!("{key}_2").as_str())
        .and_then(|n| n["image"]["virtual-size"].as_u64());
    assert_eq!(size, Some(1 << 30), "the disk's new top did not shrink it");
    drop(c);
    next.size_gib = 2;
    again.update_volume(id, next.clone()).await.expect("grow");
    wrote(&hv, id, 3).await;
    assert!(marker_in(dir, &layer2, 2) && !marker_in(dir, &layer2, 3));
    assert!(marker_in(dir, &top, 3));

    // Detach removes the whole chain; the files hold everything.
    again.detach_volume(id, &volume_id).await.expect("detach");
    let mut c = qmp().await.expect("qmp");
    let nodes = node_names(&mut c).await;
    assert!(!nodes.iter().any(|n| n.contains(&key)), "{nodes:?}");
    drop(c);
    qemu_img(&["check", "-q", &top.to_string_lossy()]);
    assert!((1..=3).all(|k| marker_in(dir, &top, k)));
    again.destroy(id).await.expect("destroy");
}
