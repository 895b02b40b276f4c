//! The agent drives a real QEMU guest: desired Running -> the test guest
//! boots (`ferrostack-guest: ready` on its console), desired Stopped ->
//! Shutoff, deleted -> nothing left in the state directory.
//!
//! The privileged tier: needs root, QEMU and the guest image
//! (`guest-image/build.sh`, or `FERROSTACK_GUEST_IMAGE`); skips with a
//! printed reason otherwise, and never builds the image itself.

use ferrostack_agent::{
    Agent, AgentConfig, DesiredInstance, DesiredPower, MemoryDesiredState, MemoryObservedState,
    TaskOutcome,
};
use ferrostack_hypervisor::testing::{guest_image, have, is_root, VmCleanup};
use ferrostack_hypervisor::{
    BaseFormat, ConfigDrive, Hypervisor, InstanceSpec, PowerState, QemuConfig, QemuHypervisor,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const HOST: &str = "qemu-host";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_a_real_guest() {
    if !is_root() {
        eprintln!("SKIP: not root (QEMU guests are the privileged tier)");
        return;
    }
    for p in ["qemu-system-x86_64", "qemu-img", "mkfs.vfat", "mcopy"] {
        if !have(p) {
            eprintln!("SKIP: {p} not installed");
            return;
        }
    }
    let Some(image) = guest_image() else {
        eprintln!("SKIP: no guest image (run guest-image/build.sh target/guest-image)");
        return;
    };
    let t0 = Instant::now();
    let state = tempfile::Builder::new()
        .prefix("agent-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let hv = Arc::new(QemuHypervisor::new(QemuConfig::new(state.path())).expect("driver"));
    let id = Uuid::new_v4();
    let dir = state.path().join(id.to_string());
    let _cleanup = VmCleanup {
        pidfile: dir.join("qemu.pid"),
        id,
    };
    let spec = InstanceSpec {
        id,
        name: "agent-test".into(),
        vcpus: 1,
        memory_mib: 256,
        root_disk_gib: 1,
        image_id: String::new(),
        base_image: image,
        base_format: BaseFormat::Qcow2,
        config_drive: Some(ConfigDrive {
            meta_data_json: format!(
                r#"{{"name": "agent-test", "hostname": "agent-test", "uuid": "{id}"}}"#
            ),
            user_data: None,
            network_data_json: Some("{}".into()),
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
        AgentConfig {
            graceful_shutdown: Duration::from_secs(10),
            ..AgentConfig::default()
        },
        rx,
    ));
    let wait = Duration::from_secs(30);

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
    let o = observed
        .wait_for(HOST, id, wait, |o| {
            o.observed_generation == 1 && o.task == TaskOutcome::Idle
        })
        .await
        .unwrap_or_else(|| panic!("not running: {:?}", observed.get(HOST, id)));
    assert_eq!(o.power_state, Some(PowerState::Running));
    eprintln!("[{:?}] running, pid {:?}", t0.elapsed(), o.pid);

    let deadline = Instant::now() + wait;
    loop {
        let log = hv.console_log(id, 1 << 20).await.expect("console");
        if log.contains("ferrostack-guest: ready") {
            break;
        }
        assert!(Instant::now() < deadline, "guest never ready:\n{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("[{:?}] guest ready", t0.elapsed());

    desired.update(HOST, id, |d| d.power = DesiredPower::Stopped);
    let o = observed
        .wait_for(HOST, id, wait, |o| {
            o.observed_generation == 2 && o.task == TaskOutcome::Idle
        })
        .await
        .unwrap_or_else(|| panic!("not stopped: {:?}", observed.get(HOST, id)));
    assert_eq!((o.power_state, o.pid), (Some(PowerState::Shutoff), None));
    eprintln!("[{:?}] stopped", t0.elapsed());

    desired.update(HOST, id, |d| d.deleted = true);
    observed
        .wait_for(HOST, id, wait, |o| o.task == TaskOutcome::Deleted)
        .await
        .unwrap_or_else(|| panic!("not deleted: {:?}", observed.get(HOST, id)));
    assert!(!dir.exists(), "nothing left of the instance");
    assert!(hv.list().await.expect("list").is_empty());
    eprintln!("[{:?}] deleted", t0.elapsed());

    stop.send(true).expect("agent running");
    agent.await.expect("agent");
}
