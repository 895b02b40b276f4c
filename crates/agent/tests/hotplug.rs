//! NIC hotplug through the engine: a spec whose NICs change on an instance
//! that exists is converged in place, against the fake hypervisor and fake
//! network and port drivers (the order with ports is what matters: a NIC
//! is plugged only once its port is wired, a port is unwired only once its
//! NIC is unplugged). Tokio's paused clock makes every wait instant.

mod common;

use common::{config, desired, spec, Harness, HOST, WAIT};
use ferrostack_agent::drivers::{FakeEvent, FakeObjects, ObjectDriver};
use ferrostack_agent::{DesiredPower, MemoryDesiredState, MemoryObservedState, TaskOutcome};
use ferrostack_host_contract::network::{DesiredNetwork, DesiredPort, Segment};
use ferrostack_host_contract::{Kind, NicSpec, ObjectKey, ObjectPhase};
use ferrostack_hypervisor::{FakeHypervisor, Hypervisor, Operation, PowerState};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

fn nic(n: u8) -> NicSpec {
    NicSpec {
        tap: format!("tapp{n}"),
        mac: format!("fa:16:3e:00:00:{n:02x}"),
        port_id: Some(format!("p{n}")),
    }
}

fn network() -> DesiredNetwork {
    DesiredNetwork {
        id: "net1".into(),
        segment: Segment::Local,
        mtu: 1500,
        admin_state_up: true,
        generation: 1,
        deleted: false,
    }
}

fn port(n: u8, vm: Uuid) -> DesiredPort {
    let nic = nic(n);
    DesiredPort {
        id: nic.port_id.expect("port"),
        network_id: "net1".into(),
        tap: nic.tap,
        mac_address: nic.mac,
        fixed_ips: vec![],
        allowed_address_pairs: vec![],
        port_security_enabled: true,
        security_groups: vec![],
        admin_state_up: true,
        device_id: Some(vm.to_string()),
        generation: 1,
        deleted: false,
    }
}

fn port_key(n: u8) -> ObjectKey {
    ObjectKey::new(Kind::Port, format!("p{n}"))
}

struct World {
    h: Harness,
    ports: FakeObjects,
    networks: FakeObjects,
}

impl World {
    fn new() -> World {
        Self::over(
            common::big_fake(),
            Arc::new(MemoryDesiredState::new()),
            Arc::new(MemoryObservedState::new()),
            FakeObjects::new(Kind::Network),
            FakeObjects::new(Kind::Port),
        )
    }

    /// An agent over an existing host and control plane (a restart).
    fn over(
        fake: FakeHypervisor,
        desired: Arc<MemoryDesiredState>,
        observed: Arc<MemoryObservedState>,
        networks: FakeObjects,
        ports: FakeObjects,
    ) -> World {
        let drivers: Vec<Arc<dyn ObjectDriver>> =
            vec![Arc::new(networks.clone()), Arc::new(ports.clone())];
        let h = Harness::with_drivers(fake, desired, observed, drivers, config());
        World { h, ports, networks }
    }

    async fn restart(self) -> World {
        let (fake, desired, observed) = (
            self.h.fake.clone(),
            self.h.desired.clone(),
            self.h.observed.clone(),
        );
        let (networks, ports) = (self.networks.clone(), self.ports.clone());
        self.h.stop().await;
        World::over(fake, desired, observed, networks, ports)
    }

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

    /// A running VM with NICs `ns`, their ports wired, converged at 1.
    async fn vm(&self, ns: &[u8]) -> Uuid {
        let mut s = spec("vm");
        let vm = s.id;
        s.nics = ns.iter().map(|n| nic(*n)).collect();
        self.h.desired.update_network(HOST, |net| {
            net.networks.push(network());
            net.ports.extend(ns.iter().map(|n| port(*n, vm)));
        });
        self.h
            .desired
            .put(HOST, desired(s, DesiredPower::Running, 1));
        self.h.converged(vm, 1).await;
        vm
    }

    /// Generation +1 with NICs `ns` (the ports are the caller's).
    fn set_nics(&self, vm: Uuid, ns: &[u8]) {
        self.h.desired.update(HOST, vm, |d| {
            d.spec.nics = ns.iter().map(|n| nic(*n)).collect();
        });
    }
}

#[tokio::test(start_paused = true)]
async fn a_nic_added_to_a_running_vm_waits_for_its_port_then_is_plugged() {
    let w = World::new();
    let vm = w.vm(&[1]).await;
    // The new port fails twice first: the attach waits through two
    // backoffs, and the VM meanwhile runs on untouched.
    w.ports.fail_next_ensures(2);
    w.h.desired
        .update_network(HOST, |net| net.ports.push(port(2, vm)));
    w.set_nics(vm, &[1, 2]);
    w.phase(&port_key(2), ObjectPhase::Retrying).await;
    assert_eq!(w.h.hv.calls(Operation::AttachNic), 0, "not before the port");

    let o = w.h.converged(vm, 2).await;
    assert_eq!(o.nics, [nic(1), nic(2)]);
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert_eq!(w.h.hv.calls(Operation::AttachNic), 1);
    for op in [Operation::Spawn, Operation::Destroy, Operation::PowerOff] {
        let expected = u32::from(op == Operation::Spawn);
        assert_eq!(w.h.hv.calls(op), expected, "{op:?}: no respawn");
    }
    assert!(w.ports.is_present("p2"));
    w.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_nic_whose_port_cannot_be_wired_fails_with_the_ports_fault_and_the_vm_runs_on() {
    let w = World::new();
    let vm = w.vm(&[1]).await;
    w.ports.fail_next_ensures(100);
    w.h.desired
        .update_network(HOST, |net| net.ports.push(port(2, vm)));
    w.set_nics(vm, &[1, 2]);
    let o =
        w.h.wait(vm, "failed", |o| {
            matches!(o.task, TaskOutcome::Failed { .. })
        })
        .await;
    let fault = o.fault.expect("a fault").message;
    assert!(fault.contains("port/p2"), "{fault}");
    assert_eq!(o.power_state, Some(PowerState::Running), "the VM runs on");
    assert_eq!(
        (o.nics, w.h.hv.calls(Operation::AttachNic)),
        (vec![nic(1)], 0)
    );
    w.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_removed_nic_is_unplugged_before_its_port_is_unwired() {
    let w = World::new();
    let vm = w.vm(&[1, 2]).await;
    // The unplug is slow (a guest taking its time to eject).
    w.h.fake
        .set_delay(Operation::DetachNic, Duration::from_secs(3));
    w.set_nics(vm, &[1]);
    w.h.desired.update_network(HOST, |net| {
        for p in net.ports.iter_mut().filter(|p| p.id == "p2") {
            p.deleted = true;
            p.generation += 1;
        }
    });
    w.phase(&port_key(2), ObjectPhase::Waiting).await;
    assert!(
        w.ports.is_present("p2"),
        "the port stays while the NIC is in the guest"
    );
    let o = w.h.converged(vm, 2).await;
    assert_eq!(o.nics, [nic(1)]);
    w.phase(&port_key(2), ObjectPhase::Deleted).await;
    assert!(!w.ports.is_present("p2") && w.ports.is_present("p1"));
    let detached = w.h.hv.started(Operation::DetachNic);
    assert_eq!(detached.len(), 1);
    assert_eq!(
        w.ports.events().last(),
        Some(&FakeEvent::Removed("p2".into()))
    );
    w.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_detach_is_retried_and_does_not_leave_the_vm_in_error() {
    let w = World::new();
    let vm = w.vm(&[1]).await;
    w.h.fake.fail_next(Operation::DetachNic, 2);
    w.set_nics(vm, &[]);
    let o =
        w.h.wait(vm, "retrying the detach", |o| {
            matches!(
                o.task,
                TaskOutcome::Retrying {
                    operation: Operation::DetachNic,
                    ..
                }
            )
        })
        .await;
    assert!(o.fault.is_some_and(|f| f.message.contains("injected")));
    let o = w.h.converged(vm, 2).await;
    assert_eq!((o.fault, o.nics.len()), (None, 0));
    assert_eq!(w.h.hv.calls(Operation::DetachNic), 3);
    w.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_detach_that_keeps_failing_ends_failed_until_a_new_generation() {
    let w = World::new();
    let vm = w.vm(&[1]).await;
    w.h.fake.fail_next(Operation::DetachNic, 100);
    w.set_nics(vm, &[]);
    w.h.wait(vm, "failed", |o| {
        o.task
            == TaskOutcome::Failed {
                operation: Operation::DetachNic,
            }
    })
    .await;
    // The port stays wired: the NIC is still in the guest.
    assert!(w.ports.is_present("p1"));
    w.h.fake.fail_next(Operation::DetachNic, 0);
    w.h.desired.update(HOST, vm, |_| {});
    let o = w.h.converged(vm, 3).await;
    assert!(o.nics.is_empty() && o.fault.is_none());
    w.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn many_nic_changes_in_one_generation_converge() {
    let w = World::new();
    let vm = w.vm(&[1, 2, 3, 4]).await;
    // Nine changes, more than the engine's step limit: each one that
    // happened is progress, not a step.
    w.h.desired.update_network(HOST, |net| {
        net.ports.extend((5..=9).map(|n| port(n, vm)));
    });
    w.set_nics(vm, &[5, 6, 7, 8, 9]);
    let o = w.h.converged(vm, 2).await;
    assert_eq!(o.nics, (5..=9).map(nic).collect::<Vec<_>>());
    assert_eq!(w.h.hv.calls(Operation::DetachNic), 4);
    assert_eq!(w.h.hv.calls(Operation::AttachNic), 5);
    w.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stopped_vm_gets_its_new_nics_at_the_next_start() {
    let w = World::new();
    let vm = w.vm(&[1]).await;
    w.h.desired
        .update(HOST, vm, |d| d.power = DesiredPower::Stopped);
    w.h.converged(vm, 2).await;
    w.h.desired
        .update_network(HOST, |net| net.ports.push(port(2, vm)));
    w.set_nics(vm, &[2]);
    let o = w.h.converged(vm, 3).await;
    assert_eq!(o.power_state, Some(PowerState::Shutoff), "not started");
    assert_eq!(o.nics, [nic(2)]);
    w.h.desired
        .update(HOST, vm, |d| d.power = DesiredPower::Running);
    let o = w.h.converged(vm, 4).await;
    assert_eq!(o.power_state, Some(PowerState::Running));
    assert_eq!(w.h.fake.state(vm).await.expect("state").nics, [nic(2)]);
    w.h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn hot_plugged_nics_survive_an_agent_restart() {
    let w = World::new();
    let vm = w.vm(&[1]).await;
    w.h.desired
        .update_network(HOST, |net| net.ports.push(port(2, vm)));
    w.set_nics(vm, &[1, 2]);
    w.h.converged(vm, 2).await;

    let w = w.restart().await;
    w.h.let_resync().await;
    let o = w.h.get(vm).expect("reported");
    assert_eq!(o.nics, [nic(1), nic(2)], "adopted with the hot-plugged NIC");
    for op in [Operation::AttachNic, Operation::DetachNic, Operation::Spawn] {
        assert_eq!(w.h.hv.calls(op), 0, "{op:?} after a restart");
    }
    // The new agent unplugs what the old one plugged.
    w.set_nics(vm, &[1]);
    let o = w.h.converged(vm, 3).await;
    assert_eq!(o.nics, [nic(1)]);
    w.h.stop().await;
}
