//! Other kinds beside instances: fake network and port drivers are
//! registered with the engine (nothing else about the loop changes) and
//! converged alongside instances, in the order the engine states: a
//! network before its ports, a port before the VM that uses it, and the VM
//! gone before its port is unwired. Tokio's paused clock makes every wait
//! deterministic and instant.

mod common;

use common::{config, desired, spec, Harness, HOST, WAIT};
use ferrostack_agent::drivers::{FakeEvent, FakeObjects, ObjectDriver};
use ferrostack_agent::{DesiredPower, MemoryDesiredState, MemoryObservedState, TaskOutcome};
use ferrostack_host_contract::network::{DesiredNetwork, DesiredPort, Segment};
use ferrostack_host_contract::{Kind, NicSpec, ObjectKey, ObjectPhase};
use ferrostack_hypervisor::{Operation, PowerState};
use std::sync::Arc;
use std::time::Duration;

fn network(id: &str) -> DesiredNetwork {
    DesiredNetwork {
        id: id.into(),
        segment: Segment::Vxlan {
            segmentation_id: 1001,
            group: Some("239.1.1.5".into()),
            peers: Vec::new(),
        },
        mtu: 1450,
        admin_state_up: true,
        generation: 1,
        deleted: false,
    }
}

fn port(id: &str, network_id: &str, device: Option<String>) -> DesiredPort {
    DesiredPort {
        id: id.into(),
        network_id: network_id.into(),
        tap: format!("tap{}", &id[..8.min(id.len())]),
        mac_address: "fa:16:3e:00:00:01".into(),
        fixed_ips: vec![],
        allowed_address_pairs: vec![],
        port_security_enabled: true,
        security_groups: vec![],
        admin_state_up: true,
        device_id: device,
        generation: 1,
        deleted: false,
    }
}

struct World {
    h: Harness,
    networks: FakeObjects,
    ports: FakeObjects,
}

fn world() -> World {
    let networks = FakeObjects::new(Kind::Network);
    let ports = FakeObjects::new(Kind::Port);
    let drivers: Vec<Arc<dyn ObjectDriver>> =
        vec![Arc::new(networks.clone()), Arc::new(ports.clone())];
    let h = Harness::with_drivers(
        common::big_fake(),
        Arc::new(MemoryDesiredState::new()),
        Arc::new(MemoryObservedState::new()),
        drivers,
        config(),
    );
    World { h, networks, ports }
}

impl World {
    async fn phase(&self, key: &ObjectKey, phase: ObjectPhase) {
        let seen = self
            .h
            .observed
            .wait_for_object(HOST, key, WAIT, |o| o.phase == phase)
            .await;
        assert!(
            seen.is_some(),
            "{key} never {phase:?}; last: {:?}",
            self.h.observed.object(HOST, key)
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_port_is_wired_before_its_vm_spawns_and_others_do_not_wait() {
    let w = world();
    // The port fails twice first, so the VM that needs it must wait
    // through two backoffs while a VM without ports goes ahead.
    w.ports.fail_next_ensures(2);
    let mut with_port = spec("with-port");
    let vm = with_port.id;
    with_port.nics.push(NicSpec {
        tap: "tapp1".into(),
        mac: "fa:16:3e:00:00:01".into(),
        port_id: Some("p1".into()),
    });
    let plain = spec("plain");
    let plain_id = plain.id;
    w.h.desired.update_network(HOST, |n| {
        n.networks.push(network("net1"));
        n.ports.push(port("p1", "net1", Some(vm.to_string())));
    });
    w.h.desired
        .put(HOST, desired(with_port, DesiredPower::Running, 1));
    w.h.desired
        .put(HOST, desired(plain, DesiredPower::Running, 1));

    let p1 = ObjectKey::new(Kind::Port, "p1");
    w.phase(&p1, ObjectPhase::Retrying).await;
    w.h.converged(plain_id, 1).await;
    assert!(
        w.h.get(vm).is_none_or(|o| o.power_state.is_none()),
        "the VM must not spawn while its port is not wired: {:?}",
        w.h.get(vm)
    );
    assert_eq!(
        w.h.hv.calls(Operation::Spawn),
        1,
        "only the plain VM spawned"
    );

    let o = w.h.converged(vm, 1).await;
    assert_eq!(o.power_state, Some(PowerState::Running));
    w.phase(&p1, ObjectPhase::Ready).await;
    assert!(w.networks.is_present("net1") && w.ports.is_present("p1"));
    // The network was brought up before the port that needs it.
    assert_eq!(w.networks.events(), [FakeEvent::Ensured("net1".into())]);
    let report = w.h.observed.object(HOST, &p1).expect("reported");
    assert_eq!((report.observed_generation, report.present), (1, true));
    assert_eq!(report.fault, None, "the fault clears once it worked");
    w.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_port_is_unwired_only_after_its_vm_is_gone() {
    let w = world();
    let mut s = spec("vm");
    let vm = s.id;
    s.nics.push(NicSpec {
        tap: "tapp1".into(),
        mac: "fa:16:3e:00:00:01".into(),
        port_id: Some("p1".into()),
    });
    w.h.desired.update_network(HOST, |n| {
        n.networks.push(network("net1"));
        n.ports.push(port("p1", "net1", Some(vm.to_string())));
    });
    w.h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    w.h.converged(vm, 1).await;

    // Delete both in one revision; the destroy is slow.
    w.h.fake
        .set_delay(Operation::Destroy, Duration::from_secs(3));
    w.h.desired.update(HOST, vm, |d| d.deleted = true);
    w.h.desired.update_network(HOST, |n| {
        for p in &mut n.ports {
            p.deleted = true;
            p.generation += 1;
        }
    });
    let p1 = ObjectKey::new(Kind::Port, "p1");
    w.phase(&p1, ObjectPhase::Waiting).await;
    assert!(
        w.ports.is_present("p1"),
        "the port stays while its VM is still there"
    );
    w.h.wait(vm, "deleted", |o| o.task == TaskOutcome::Deleted)
        .await;
    w.phase(&p1, ObjectPhase::Deleted).await;
    assert!(!w.ports.is_present("p1"));
    let destroyed = w.h.hv.started(Operation::Destroy);
    assert_eq!(destroyed.len(), 1);
    assert_eq!(
        w.ports.events(),
        [
            FakeEvent::Ensured("p1".into()),
            FakeEvent::Removed("p1".into())
        ]
    );
    w.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn wiring_removed_behind_the_agents_back_comes_back() {
    let w = world();
    w.h.desired.update_network(HOST, |n| {
        n.networks.push(network("net1"));
        n.ports.push(port("p1", "net1", None));
    });
    let p1 = ObjectKey::new(Kind::Port, "p1");
    w.phase(&p1, ObjectPhase::Ready).await;
    w.ports.lose("p1");
    // The next resync finds it missing and ensures it again.
    w.h.let_resync().await;
    w.phase(&p1, ObjectPhase::Ready).await;
    assert!(w.ports.is_present("p1"));
    assert_eq!(
        w.ports.events(),
        [
            FakeEvent::Ensured("p1".into()),
            FakeEvent::Ensured("p1".into())
        ]
    );
    w.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_port_that_cannot_be_wired_fails_its_vm_with_the_ports_fault() {
    let w = world();
    w.ports.fail_next_ensures(100);
    let mut s = spec("vm");
    let vm = s.id;
    s.nics.push(NicSpec {
        tap: "tapp1".into(),
        mac: "fa:16:3e:00:00:01".into(),
        port_id: Some("p1".into()),
    });
    w.h.desired.update_network(HOST, |n| {
        n.networks.push(network("net1"));
        n.ports.push(port("p1", "net1", Some(vm.to_string())));
    });
    w.h.desired.put(HOST, desired(s, DesiredPower::Running, 1));
    let p1 = ObjectKey::new(Kind::Port, "p1");
    w.phase(&p1, ObjectPhase::Failed).await;
    let report = w.h.observed.object(HOST, &p1).expect("reported");
    assert!(
        report
            .fault
            .as_deref()
            .is_some_and(|f| f.contains("injected failure")),
        "{report:?}"
    );
    let o =
        w.h.wait(vm, "failed", |o| {
            matches!(o.task, TaskOutcome::Failed { .. })
        })
        .await;
    let fault = o.fault.expect("a fault").message;
    assert!(
        fault.contains("port/p1") && fault.contains("injected failure"),
        "{fault}"
    );
    assert_eq!(w.h.hv.calls(Operation::Spawn), 0, "the VM never spawned");
    w.h.stop().await;
}
