//! Traffic through the data plane between real QEMU guests (TCG), driven
//! by a real `Agent` with the QEMU hypervisor and the three hostnet
//! drivers, from a `MemoryDesiredState` document.
//!
//! The privileged tier: needs root, QEMU, nft, dnsmasq and the guest image
//! (`guest-image/build.sh`); prints `SKIP:` and passes otherwise. The host
//! side lives in a test namespace, so QEMU runs there too, through a
//! wrapper (`ip netns exec <ns> qemu-system-x86_64 "$@"`) given as
//! `QemuConfig::qemu`: a tap is opened by name in the opener's namespace.
//!
//! One test, because each guest boot under TCG costs seconds: two guests
//! get their fixed addresses from dnsmasq; a security group without ICMP
//! blocks their ping; a new generation of the group that allows it lets
//! the ping through; pings from a spoofed source never get an answer,
//! until port security is turned off (the control). Then one VXLAN network
//! across two stand-in hosts, flooding by unicast to the peers and by a
//! multicast group.

mod support;

use ferrostack_agent::drivers::ObjectDriver;
use ferrostack_agent::{
    Agent, AgentConfig, DesiredInstance, DesiredPower, MemoryDesiredState, MemoryObservedState,
};
use ferrostack_host_contract::network::*;
use ferrostack_host_contract::NicSpec;
use ferrostack_hostnet::{DhcpDriver, NetworkDriver, PortDriver};
use ferrostack_hypervisor::testing::{guest_image, have, VmCleanup};
use ferrostack_hypervisor::{
    BaseFormat, ConfigDrive, Hypervisor, InstanceSpec, QemuConfig, QemuHypervisor,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use uuid::Uuid;

const HOST: &str = "hostnet-guests";
const WAIT: Duration = Duration::from_secs(240);

struct Guest {
    id: Uuid,
    port: DesiredPort,
}

fn guest_port(n: u8) -> DesiredPort {
    port(
        &format!("9a9a9a9a-0000-4000-8000-00000000000{n}"),
        &format!("tapg{n}"),
        &format!("fa:16:3e:00:01:0{n}"),
        &format!("10.0.0.1{n}"),
        &["sg"],
    )
}

/// Pings the other guest every second from its own address and from a
/// spoofed one, printing the outcome on the console.
fn prober(peer: &str) -> String {
    format!(
        "#!/bin/sh\nip addr add 10.0.0.99/32 dev eth0\n(i=0; while true; do i=$((i+1));\n\
         if ping -c1 -W1 {peer} >/dev/null 2>&1; then echo \"fst: ping ok $i\"; else echo \"fst: ping fail $i\"; fi;\n\
         if ping -c1 -W1 -I 10.0.0.99 {peer} >/dev/null 2>&1; then echo \"fst: spoof ok $i\"; else echo \"fst: spoof fail $i\"; fi;\n\
         sleep 1; done) &\n"
    )
}

fn spec(id: Uuid, image: PathBuf, port: &DesiredPort, user_data: Option<String>) -> InstanceSpec {
    InstanceSpec {
        id,
        name: format!("g-{}", &port.tap),
        vcpus: 1,
        memory_mib: 256,
        root_disk_gib: 1,
        image_id: String::new(),
        base_image: image,
        base_format: BaseFormat::Qcow2,
        config_drive: Some(ConfigDrive {
            meta_data_json: format!(r#"{{"name": "g", "hostname": "g", "uuid": "{id}"}}"#),
            user_data: user_data.map(String::into_bytes),
            network_data_json: Some("{}".into()),
        }),
        nics: vec![NicSpec {
            tap: port.tap.clone(),
            mac: port.mac_address.clone(),
            port_id: Some(port.id.clone()),
        }],
        volumes: Vec::new(),
        root_limits: Default::default(),
    }
}

async fn console_until(
    hv: &QemuHypervisor,
    id: Uuid,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = hv.console_log(id, 1 << 20).await.unwrap_or_default();
        if pred(&log) {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: never seen on the console:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The numbers of the console's `fst: <kind> <n>` lines.
fn marks(log: &str, kind: &str) -> Vec<u32> {
    let prefix = format!("fst: {kind} ");
    log.lines()
        .filter_map(|l| l.find(&prefix).map(|i| &l[i + prefix.len()..]))
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

fn prerequisites(test: &str) -> Option<PathBuf> {
    if skip(test) {
        return None;
    }
    for p in ["qemu-system-x86_64", "qemu-img", "mkfs.vfat", "mcopy"] {
        if !have(p) {
            eprintln!("SKIP: {test}: {p} not installed");
            return None;
        }
    }
    let image = guest_image();
    if image.is_none() {
        eprintln!("SKIP: {test}: no guest image (run guest-image/build.sh)");
    }
    image
}

/// A QEMU driver whose VMs run in `host`'s namespace (so they open its
/// taps), keeping them under `dir/vms`.
fn qemu_in(host: &TestHost, dir: &Path) -> Arc<QemuHypervisor> {
    let wrapper = dir.join("qemu-in-netns");
    let script = format!(
        "#!/bin/sh\nexec ip netns exec {} qemu-system-x86_64 \"$@\"\n",
        host.ns
    );
    std::fs::write(&wrapper, script).expect("wrapper");
    sh(&["chmod", "755", wrapper.to_str().expect("utf-8")]);
    let mut qcfg = QemuConfig::new(dir.join("vms"));
    qcfg.qemu = wrapper;
    Arc::new(QemuHypervisor::new(qcfg).expect("qemu driver"))
}

fn cleanup(dir: &Path, guests: &[Guest]) -> Vec<VmCleanup> {
    guests
        .iter()
        .map(|g| VmCleanup {
            pidfile: dir.join("vms").join(g.id.to_string()).join("qemu.pid"),
            id: g.id,
        })
        .collect()
}

/// A real agent for `name` with the QEMU driver and the three hostnet
/// drivers of `host`.
fn start_agent(
    name: &'static str,
    host: &TestHost,
    hv: Arc<QemuHypervisor>,
    desired: Arc<MemoryDesiredState>,
    observed: Arc<MemoryObservedState>,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::watch::Sender<bool>,
) {
    let drivers: Vec<Arc<dyn ObjectDriver>> = vec![
        Arc::new(NetworkDriver::new(host.cfg.clone())),
        Arc::new(PortDriver::new(host.cfg.clone())),
        Arc::new(DhcpDriver::new(host.cfg.clone())),
    ];
    let (stop, rx) = tokio::sync::watch::channel(false);
    let config = AgentConfig {
        graceful_shutdown: Duration::from_secs(5),
        ..AgentConfig::default()
    };
    let agent = tokio::spawn(Agent::run_with_drivers(
        name, desired, observed, hv, drivers, config, rx,
    ));
    (agent, stop)
}

fn running(g: &Guest, image: PathBuf, user_data: Option<String>) -> DesiredInstance {
    DesiredInstance {
        spec: spec(g.id, image, &g.port, user_data),
        power: DesiredPower::Running,
        reboot: None,
        snapshot: None,
        rebuild: None,
        resize: Default::default(),
        deleted: false,
        generation: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_get_dhcp_and_security_groups_and_anti_spoofing_hold() {
    let Some(image) = prerequisites("guests_get_dhcp_and_security_groups_and_anti_spoofing_hold")
    else {
        return;
    };
    let t0 = Instant::now();
    let host = TestHost::new();
    let vmdir = tempfile::Builder::new()
        .prefix("hostnet-vms-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let hv = qemu_in(&host, vmdir.path());

    let guests: Vec<Guest> = (1..=2u8)
        .map(|n| Guest {
            id: Uuid::new_v4(),
            port: guest_port(n),
        })
        .collect();
    let _cleanup = cleanup(vmdir.path(), &guests);
    let no_icmp = group(
        "sg",
        vec![
            rule(RuleDirection::Egress, None, None, None),
            rule(RuleDirection::Ingress, Some(6), Some(22), Some(22)),
        ],
    );
    let hosts = dhcp_hosts(&guests.iter().collect::<Vec<_>>());
    let desired = Arc::new(MemoryDesiredState::new());
    desired.update_network(HOST, |n| {
        n.networks = vec![network(Segment::Local)];
        n.ports = guests.iter().map(|g| g.port.clone()).collect();
        n.security_groups = vec![no_icmp.clone()];
        n.dhcp = vec![dhcp(hosts)];
    });
    let observed = Arc::new(MemoryObservedState::new());
    let (agent, stop) = start_agent(HOST, &host, hv.clone(), desired.clone(), observed.clone());
    for (i, g) in guests.iter().enumerate() {
        let user_data = (i == 0).then(|| prober("10.0.0.12"));
        desired.put(HOST, running(g, image.clone(), user_data));
    }

    // DHCP: each guest gets exactly its fixed address.
    for g in &guests {
        let want = format!(
            "ferrostack-guest: eth0 {}/24",
            g.port.fixed_ips[0].ip_address
        );
        console_until(&hv, g.id, &want, |l| l.contains(&want)).await;
        eprintln!(
            "[{:?}] {} has its address by DHCP",
            t0.elapsed(),
            g.port.tap
        );
    }

    // No ICMP in the group: pings fail.
    let a = guests[0].id;
    let log = console_until(&hv, a, "three failed pings", |l| {
        marks(l, "ping fail").len() >= 3
    })
    .await;
    assert!(
        marks(&log, "ping ok").is_empty(),
        "ping passed a group without ICMP:\n{log}"
    );
    eprintln!("[{:?}] ping blocked without an ICMP rule", t0.elapsed());

    // The group gains ICMP (a new generation of it and of its ports).
    let mut with_icmp = no_icmp.clone();
    with_icmp
        .rules
        .push(rule(RuleDirection::Ingress, Some(1), None, None));
    with_icmp.generation = 2;
    desired.update_network(HOST, |n| {
        n.security_groups = vec![with_icmp];
        for p in &mut n.ports {
            p.generation += 1;
        }
    });
    let log = console_until(&hv, a, "a ping answered", |l| {
        !marks(l, "ping ok").is_empty()
    })
    .await;
    eprintln!("[{:?}] ping answered once ICMP is allowed", t0.elapsed());

    // Spoofed sources reach no one, before or after ICMP was allowed.
    let first_ok = marks(&log, "ping ok")[0];
    let log = console_until(&hv, a, "spoofing tried after ICMP allowed", |l| {
        marks(l, "spoof fail").iter().any(|n| *n > first_ok + 1)
    })
    .await;
    assert!(
        marks(&log, "spoof ok").is_empty(),
        "a spoofed ping was answered:\n{log}"
    );
    eprintln!("[{:?}] spoofed pings dropped", t0.elapsed());

    // The control: port security off on both ports, and the same spoofed
    // ping is answered (so the drops above were the anti-spoofing rules).
    desired.update_network(HOST, |n| {
        for p in &mut n.ports {
            p.port_security_enabled = false;
            p.generation += 1;
        }
    });
    console_until(
        &hv,
        a,
        "a spoofed ping answered with port security off",
        |l| !marks(l, "spoof ok").is_empty(),
    )
    .await;
    eprintln!(
        "[{:?}] port security off: the spoofed ping passes",
        t0.elapsed()
    );

    for g in &guests {
        desired.update(HOST, g.id, |d| d.deleted = true);
    }
    // The engine removes what the document marks deleted (never what it
    // merely stops mentioning).
    desired.update_network(HOST, |n| {
        for p in &mut n.ports {
            p.deleted = true;
            p.generation += 1;
        }
        for d in &mut n.dhcp {
            d.deleted = true;
            d.generation += 1;
        }
        for net in &mut n.networks {
            net.deleted = true;
            net.generation += 1;
        }
    });
    let deadline = Instant::now() + WAIT;
    while !torn_down(&host) {
        assert!(
            Instant::now() < deadline,
            "the data plane was not torn down"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!("[{:?}] torn down", t0.elapsed());
    stop.send(true).expect("agent running");
    agent.await.expect("agent");
    assert!(hv.list().await.expect("list").is_empty());
}

fn torn_down(host: &TestHost) -> bool {
    !host.has_link("tapg1") && !host.has_link("tapg2") && !host.has_link("brq3f2a9c1e-0b")
}

const HOST_A: &str = "hostnet-a";
const HOST_B: &str = "hostnet-b";

/// One VXLAN network across two stand-in hosts (each a namespace with its
/// own bridge and VXLAN device; the underlay a veth between them; flooding
/// by unicast to the peer the document names): a guest on each, DHCP on
/// the first host only (so the second guest's lease crosses the tunnel),
/// and they ping each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_on_two_hosts_share_a_vxlan_network() {
    vxlan_between_hosts("guests_on_two_hosts_share_a_vxlan_network", None).await;
}

/// The same with flooding to a multicast group instead of the peers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_on_two_hosts_share_a_multicast_vxlan_network() {
    vxlan_between_hosts(
        "guests_on_two_hosts_share_a_multicast_vxlan_network",
        Some("239.1.1.5"),
    )
    .await;
}

async fn vxlan_between_hosts(test: &str, mcast: Option<&str>) {
    let Some(image) = prerequisites(test) else {
        return;
    };
    let t0 = Instant::now();
    let (ha, hb) = TestHost::pair();
    let vma = tempfile::Builder::new()
        .prefix("hostnet-vms-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let vmb = tempfile::Builder::new()
        .prefix("hostnet-vms-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let (hva, hvb) = (qemu_in(&ha, vma.path()), qemu_in(&hb, vmb.path()));
    let g1 = Guest {
        id: Uuid::new_v4(),
        port: guest_port(1),
    };
    let g2 = Guest {
        id: Uuid::new_v4(),
        port: guest_port(2),
    };
    let _cleanup = [
        cleanup(vma.path(), std::slice::from_ref(&g1)),
        cleanup(vmb.path(), std::slice::from_ref(&g2)),
    ];
    let sg = group(
        "sg",
        vec![
            rule(RuleDirection::Egress, None, None, None),
            rule(RuleDirection::Ingress, Some(1), None, None),
        ],
    );
    let vxlan = |peer: &str| {
        network(Segment::Vxlan {
            segmentation_id: 1001,
            group: mcast.map(str::to_owned),
            peers: if mcast.is_some() {
                Vec::new()
            } else {
                vec![peer.into()]
            },
        })
    };
    let desired = Arc::new(MemoryDesiredState::new());
    desired.update_network(HOST_A, |n| {
        n.networks = vec![vxlan("10.99.0.2")];
        n.ports = vec![g1.port.clone()];
        n.security_groups = vec![sg.clone()];
        n.dhcp = vec![dhcp(dhcp_hosts(&[&g1, &g2]))];
    });
    desired.update_network(HOST_B, |n| {
        n.networks = vec![vxlan("10.99.0.1")];
        n.ports = vec![g2.port.clone()];
        n.security_groups = vec![sg.clone()];
    });
    let observed = Arc::new(MemoryObservedState::new());
    let (agent_a, stop_a) =
        start_agent(HOST_A, &ha, hva.clone(), desired.clone(), observed.clone());
    let (agent_b, stop_b) =
        start_agent(HOST_B, &hb, hvb.clone(), desired.clone(), observed.clone());
    desired.put(
        HOST_A,
        running(&g1, image.clone(), Some(prober("10.0.0.12"))),
    );
    desired.put(HOST_B, running(&g2, image, None));

    for (hv, g) in [(&hvb, &g2), (&hva, &g1)] {
        let want = format!(
            "ferrostack-guest: eth0 {}/24",
            g.port.fixed_ips[0].ip_address
        );
        console_until(hv, g.id, &want, |l| l.contains(&want)).await;
        eprintln!(
            "[{:?}] {} has its address by DHCP",
            t0.elapsed(),
            g.port.tap
        );
    }
    console_until(&hva, g1.id, "a ping across the tunnel", |l| {
        !marks(l, "ping ok").is_empty()
    })
    .await;
    eprintln!("[{:?}] ping answered across VXLAN", t0.elapsed());

    for stop in [stop_a, stop_b] {
        stop.send(true).expect("agent running");
    }
    agent_a.await.expect("agent a");
    agent_b.await.expect("agent b");
}

fn dhcp_hosts(guests: &[&Guest]) -> Vec<DhcpHost> {
    guests
        .iter()
        .map(|g| DhcpHost {
            mac_address: g.port.mac_address.clone(),
            ip_address: g.port.fixed_ips[0].ip_address.clone(),
            hostname: g.port.tap.clone(),
            instance_id: None,
        })
        .collect()
}
