//! NIC hotplug against the fake: the rules both drivers share (Running,
//! Paused and Shutoff only; idempotent both ways; clashes refused; the set
//! survives a stop/start; injected failures change nothing).

use ferrostack_hypervisor::{
    BaseFormat, FakeHypervisor, Hypervisor, HypervisorError, InstanceSpec, NicSpec, Operation,
    PowerState,
};
use std::time::Duration;
use uuid::Uuid;

fn nic(n: u8) -> NicSpec {
    NicSpec {
        tap: format!("tap{n}"),
        mac: format!("fa:16:3e:00:00:{n:02x}"),
        port_id: Some(format!("port-{n}")),
    }
}

fn spec(nics: Vec<NicSpec>) -> InstanceSpec {
    InstanceSpec {
        id: Uuid::new_v4(),
        name: "vm".into(),
        vcpus: 1,
        memory_mib: 256,
        root_disk_gib: 1,
        image_id: String::new(),
        base_image: "/images/base.qcow2".into(),
        base_format: BaseFormat::Qcow2,
        config_drive: None,
        nics,
        volumes: Vec::new(),
        root_limits: Default::default(),
    }
}

#[tokio::test]
async fn attach_and_detach_change_the_nic_set() {
    let hv = FakeHypervisor::default();
    let s = spec(vec![nic(1)]);
    let id = s.id;
    hv.spawn(s).await.expect("spawn");
    let i = hv.attach_nic(id, nic(2)).await.expect("attach");
    assert_eq!(i.nics, [nic(1), nic(2)]);
    assert_eq!(i.state, PowerState::Running);
    // Again: nothing changes.
    let i = hv.attach_nic(id, nic(2)).await.expect("attach again");
    assert_eq!(i.nics.len(), 2);
    // By port id, then by tap; an unknown NIC is Ok.
    let i = hv.detach_nic(id, "port-1").await.expect("detach by port");
    assert_eq!(i.nics, [nic(2)]);
    let i = hv.detach_nic(id, "tap2").await.expect("detach by tap");
    assert!(i.nics.is_empty());
    hv.detach_nic(id, "tap9").await.expect("detach unknown");
}

#[tokio::test]
async fn clashes_are_refused() {
    let hv = FakeHypervisor::default();
    let s = spec(vec![nic(1)]);
    let id = s.id;
    hv.spawn(s).await.expect("spawn");
    let same_tap = NicSpec {
        mac: "fa:16:3e:00:00:99".into(),
        ..nic(1)
    };
    let same_mac = NicSpec {
        tap: "tap9".into(),
        port_id: None,
        ..nic(1)
    };
    for bad in [same_tap, same_mac] {
        assert!(matches!(
            hv.attach_nic(id, bad).await,
            Err(HypervisorError::InvalidSpec(_))
        ));
    }
    assert_eq!(hv.state(id).await.expect("state").nics, [nic(1)]);
}

#[tokio::test]
async fn only_running_paused_or_stopped_and_the_set_survives_a_restart() {
    let hv = FakeHypervisor::default();
    let s = spec(vec![nic(1)]);
    let id = s.id;
    hv.spawn(s).await.expect("spawn");
    hv.suspend(id).await.expect("suspend");
    assert!(matches!(
        hv.attach_nic(id, nic(2)).await,
        Err(HypervisorError::InvalidState {
            op: Operation::AttachNic,
            state: PowerState::Suspended,
            ..
        })
    ));
    hv.resume(id).await.expect("resume");
    hv.pause(id).await.expect("pause");
    let i = hv.attach_nic(id, nic(2)).await.expect("attach paused");
    assert_eq!(i.state, PowerState::Paused);
    hv.power_off(id, Duration::ZERO).await.expect("stop");
    hv.detach_nic(id, "tap1").await.expect("detach stopped");
    let i = hv.power_on(id).await.expect("start");
    assert_eq!(i.nics, [nic(2)], "the next start has the last NIC set");
}

#[tokio::test]
async fn injected_failures_change_nothing() {
    let hv = FakeHypervisor::default();
    let s = spec(vec![nic(1)]);
    let id = s.id;
    hv.spawn(s).await.expect("spawn");
    hv.fail_next(Operation::AttachNic, 1);
    hv.fail_next(Operation::DetachNic, 1);
    assert!(matches!(
        hv.attach_nic(id, nic(2)).await,
        Err(HypervisorError::Injected { .. })
    ));
    assert!(matches!(
        hv.detach_nic(id, "tap1").await,
        Err(HypervisorError::Injected { .. })
    ));
    assert_eq!(hv.state(id).await.expect("state").nics, [nic(1)]);
    hv.detach_nic(id, "tap1").await.expect("the retry works");
}
