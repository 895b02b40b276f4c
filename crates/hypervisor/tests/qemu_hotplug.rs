//! NIC hotplug on the repo's test guest through [`QemuHypervisor`]: a NIC
//! plugged into a running guest appears in it, an unplugged one goes (the
//! guest ejects it over ACPI), a paused guest can lose a NIC too, and a
//! stop/start or a new driver over the same directory keeps the last NIC
//! set.
//!
//! The guest needs no network: two taps the test creates itself (`ip
//! tuntap add`), attached to nothing. What the guest sees comes from a
//! user_data script that prints `hotplug-test: net [...]` (interfaces and
//! MACs from `/sys/class/net`) on the serial console whenever the list
//! changes.
//!
//! Needs root, `qemu-system-x86_64`, `qemu-img`, `mkfs.vfat`, `mcopy` and
//! `ip`, and the guest image (`guest-image/build.sh`, or
//! `FERROSTACK_GUEST_IMAGE`); skips with a printed reason otherwise.

use ferrostack_hypervisor::testing::{
    guest_image, have, is_root, wait_for_net, TestTaps, VmCleanup, WATCH_NET_USER_DATA,
};
use ferrostack_hypervisor::{
    BaseFormat, ConfigDrive, Hypervisor, InstanceSpec, NicSpec, PowerState, QemuConfig,
    QemuHypervisor,
};
use std::time::{Duration, Instant};
use uuid::Uuid;

fn nic(tap: &str, mac: &str, port: &str) -> NicSpec {
    NicSpec {
        tap: tap.into(),
        mac: mac.into(),
        port_id: Some(port.into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hotplugs_nics_on_the_test_guest() {
    if !is_root() {
        eprintln!("SKIP: not root (QEMU test guest needs the privileged tier)");
        return;
    }
    for p in ["qemu-system-x86_64", "qemu-img", "mkfs.vfat", "mcopy", "ip"] {
        if !have(p) {
            eprintln!("SKIP: {p} not installed");
            return;
        }
    }
    let Some(image) = guest_image() else {
        eprintln!("SKIP: no guest image: run guest-image/build.sh or set FERROSTACK_GUEST_IMAGE");
        return;
    };
    let suffix = &Uuid::new_v4().simple().to_string()[..6];
    let (tap_a, tap_b) = (format!("fsha{suffix}"), format!("fshb{suffix}"));
    let _taps = match TestTaps::create(&[tap_a.clone(), tap_b.clone()]) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("SKIP: cannot create taps: {e}");
            return;
        }
    };
    let (mac_a, mac_b) = ("fa:16:3e:aa:00:01", "fa:16:3e:bb:00:02");
    let (a, b) = (nic(&tap_a, mac_a, "port-a"), nic(&tap_b, mac_b, "port-b"));

    let t0 = Instant::now();
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
    let spec = InstanceSpec {
        id,
        name: "hotplug".into(),
        vcpus: 1,
        memory_mib: 256,
        root_disk_gib: 1,
        image_id: String::new(),
        base_image: image,
        base_format: BaseFormat::Qcow2,
        config_drive: Some(ConfigDrive {
            meta_data_json: format!(r#"{{"uuid": "{id}", "hostname": "hotplug"}}"#),
            user_data: Some(WATCH_NET_USER_DATA.as_bytes().to_vec()),
            network_data_json: None,
        }),
        nics: vec![a.clone()],
        volumes: Vec::new(),
        root_limits: Default::default(),
    };
    hv.spawn(spec).await.expect("spawn");
    wait_for_net(&hv, id, "its first NIC", 1, |l| l.contains(mac_a)).await;
    eprintln!("[{:?}] guest up with NIC a", t0.elapsed());

    // Plug b into the running guest.
    let t = Instant::now();
    let info = hv.attach_nic(id, b.clone()).await.expect("attach");
    let plugged = t.elapsed();
    assert_eq!(info.nics, [a.clone(), b.clone()]);
    assert_eq!(info.state, PowerState::Running);
    wait_for_net(&hv, id, "the plugged NIC", 1, |l| l.contains(mac_b)).await;
    eprintln!(
        "[{:?}] attach_nic took {plugged:?}, the guest saw it after {:?}",
        t0.elapsed(),
        t.elapsed()
    );
    hv.attach_nic(id, b.clone())
        .await
        .expect("attach again: a no-op");

    // Unplug it again: the guest ejects the device.
    let t = Instant::now();
    let info = hv.detach_nic(id, &tap_b).await.expect("detach");
    eprintln!(
        "[{:?}] detach_nic (guest ejected) took {:?}",
        t0.elapsed(),
        t.elapsed()
    );
    assert_eq!(info.nics, std::slice::from_ref(&a));
    wait_for_net(&hv, id, "the NIC gone", 1, |l| {
        !l.contains(mac_b) && l.contains(mac_a)
    })
    .await;

    // b again, then a goes while the guest is paused; it stays paused.
    hv.attach_nic(id, b.clone()).await.expect("attach b again");
    wait_for_net(&hv, id, "b again", 1, |l| l.contains(mac_b)).await;
    hv.pause(id).await.expect("pause");
    let t = Instant::now();
    let info = hv
        .detach_nic(id, "port-a")
        .await
        .expect("detach while paused");
    eprintln!(
        "[{:?}] detach_nic of a paused guest took {:?}",
        t0.elapsed(),
        t.elapsed()
    );
    assert_eq!(
        (info.state, info.nics),
        (PowerState::Paused, vec![b.clone()])
    );
    hv.unpause(id).await.expect("unpause");
    wait_for_net(&hv, id, "only b", 1, |l| {
        l.contains(mac_b) && !l.contains(mac_a)
    })
    .await;

    // A new driver (an agent restart) sees the NIC set; a stop/start keeps it.
    let again = QemuHypervisor::new(config).expect("second driver");
    let listed = again.list().await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].nics, std::slice::from_ref(&b));
    again
        .power_off(id, Duration::from_secs(60))
        .await
        .expect("power_off");
    again.power_on(id).await.expect("power_on");
    let l = wait_for_net(&again, id, "b after a restart", 2, |l| l.contains(mac_b)).await;
    assert!(!l.contains(mac_a), "a detached NIC came back: {l}");
    eprintln!("[{:?}] restarted with only b", t0.elapsed());

    again.destroy(id).await.expect("destroy");
    eprintln!("[{:?}] done", t0.elapsed());
}
