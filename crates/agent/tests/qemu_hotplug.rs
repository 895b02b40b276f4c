//! The agent hotplugs a NIC into a real QEMU guest when the desired spec
//! gains one, and unplugs it when the spec drops it, with no respawn: the
//! guest's own `/sys/class/net` (printed on its console by user_data) is
//! the proof. The tap is made by the test and belongs to no port (a NIC
//! with no `port_id` is not ordered against anything).
//!
//! The privileged tier: needs root, QEMU, `ip` and the guest image
//! (`guest-image/build.sh`, or `FERROSTACK_GUEST_IMAGE`); skips with a
//! printed reason otherwise, and never builds the image itself.

use ferrostack_agent::{
    Agent, AgentConfig, DesiredInstance, DesiredPower, MemoryDesiredState, MemoryObservedState,
    ObservedInstance, TaskOutcome,
};
use ferrostack_hypervisor::testing::{
    guest_image, have, is_root, wait_for_net, TestTaps, VmCleanup, WATCH_NET_USER_DATA,
};
use ferrostack_hypervisor::{
    BaseFormat, ConfigDrive, InstanceSpec, NicSpec, PowerState, QemuConfig, QemuHypervisor,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const HOST: &str = "qemu-host";

async fn converged(observed: &MemoryObservedState, id: Uuid, generation: u64) -> ObservedInstance {
    observed
        .wait_for(HOST, id, Duration::from_secs(60), |o| {
            o.observed_generation == generation && o.task == TaskOutcome::Idle
        })
        .await
        .unwrap_or_else(|| panic!("not at {generation}: {:?}", observed.get(HOST, id)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_hotplugs_a_nic_into_a_real_guest() {
    if !is_root() {
        eprintln!("SKIP: not root (QEMU guests are the privileged tier)");
        return;
    }
    for p in ["qemu-system-x86_64", "qemu-img", "mkfs.vfat", "mcopy", "ip"] {
        if !have(p) {
            eprintln!("SKIP: {p} not installed");
            return;
        }
    }
    let Some(image) = guest_image() else {
        eprintln!("SKIP: no guest image (run guest-image/build.sh target/guest-image)");
        return;
    };
    let tap = format!("fsag{}", &Uuid::new_v4().simple().to_string()[..6]);
    let _taps = match TestTaps::create(std::slice::from_ref(&tap)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("SKIP: cannot create a tap: {e}");
            return;
        }
    };
    let mac = "fa:16:3e:a9:00:01".to_owned();
    let nic = NicSpec {
        tap,
        mac: mac.clone(),
        port_id: None,
    };
    let t0 = Instant::now();
    let state = tempfile::Builder::new()
        .prefix("agent-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let hv = Arc::new(QemuHypervisor::new(QemuConfig::new(state.path())).expect("driver"));
    let id = Uuid::new_v4();
    let _cleanup = VmCleanup {
        pidfile: state.path().join(id.to_string()).join("qemu.pid"),
        id,
    };
    let spec = InstanceSpec {
        id,
        name: "agent-hotplug".into(),
        vcpus: 1,
        memory_mib: 256,
        root_disk_gib: 1,
        image_id: String::new(),
        base_image: image,
        base_format: BaseFormat::Qcow2,
        config_drive: Some(ConfigDrive {
            meta_data_json: format!(r#"{{"uuid": "{id}", "hostname": "agent-hotplug"}}"#),
            user_data: Some(WATCH_NET_USER_DATA.as_bytes().to_vec()),
            network_data_json: None,
        }),
        nics: vec![],
        volumes: Vec::new(),
        root_limits: Default::default(),
    };
    let desired = Arc::new(MemoryDesiredState::new());
    let observed = Arc::new(MemoryObservedState::new());
    let (stop, rx) = tokio::sync::watch::channel(false);
    let agent = tokio::spawn(Agent::run(
        HOST,
        desired.clone(),
        observed.clone(),
        hv.clone(),
        AgentConfig::default(),
        rx,
    ));
    desired.put(
        HOST,
        DesiredInstance {
            spec,
            power: DesiredPower::Running,
            reboot: None,
            snapshot: None,
            rebuild: None,
            resize: Default::default(),
            deleted: false,
            generation: 1,
        },
    );
    let pid = converged(&observed, id, 1).await.pid;
    wait_for_net(hv.as_ref(), id, "its first listing", 1, |_| true).await;
    eprintln!("[{:?}] guest up without a NIC", t0.elapsed());

    let t = Instant::now();
    desired.update(HOST, id, |d| d.spec.nics = vec![nic.clone()]);
    let o = converged(&observed, id, 2).await;
    assert_eq!(o.nics, std::slice::from_ref(&nic));
    assert_eq!((o.power_state, o.pid), (Some(PowerState::Running), pid));
    wait_for_net(hv.as_ref(), id, "the plugged NIC", 1, |l| l.contains(&mac)).await;
    eprintln!(
        "[{:?}] plugged and seen by the guest in {:?}",
        t0.elapsed(),
        t.elapsed()
    );

    let t = Instant::now();
    desired.update(HOST, id, |d| d.spec.nics.clear());
    let o = converged(&observed, id, 3).await;
    assert!(o.nics.is_empty() && o.pid == pid, "{o:?}");
    wait_for_net(hv.as_ref(), id, "the NIC gone", 1, |l| !l.contains(&mac)).await;
    eprintln!("[{:?}] unplugged in {:?}", t0.elapsed(), t.elapsed());

    desired.update(HOST, id, |d| d.deleted = true);
    observed
        .wait_for(HOST, id, Duration::from_secs(30), |o| {
            o.task == TaskOutcome::Deleted
        })
        .await
        .unwrap_or_else(|| panic!("not deleted: {:?}", observed.get(HOST, id)));
    stop.send(true).expect("agent running");
    agent.await.expect("agent");
}
