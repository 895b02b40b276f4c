//! The engine and the hostnet drivers together, without guests: a real
//! `Agent` (fake hypervisor, short resync) converges a network, a port and
//! a DHCP server into a test namespace, and repairs them at its resyncs
//! when they are broken behind its back: the bridge deleted, the nft table
//! flushed, dnsmasq killed. Root only; prints `SKIP:` otherwise.

mod support;

use ferrostack_agent::drivers::ObjectDriver;
use ferrostack_agent::{Agent, AgentConfig, MemoryDesiredState, MemoryObservedState};
use ferrostack_host_contract::network::*;
use ferrostack_host_contract::{Kind, ObjectKey, ObjectPhase};
use ferrostack_hostnet::{DhcpDriver, NetworkDriver, PortDriver};
use ferrostack_hypervisor::{FakeConfig, FakeHypervisor};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

const HOST: &str = "hostnet-drift";
const PORT: &str = "7b1e2f3a-aaaa-4bbb-8ccc-0000000000d1";
const BR: &str = "brq3f2a9c1e-0b";

fn poll(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn dnsmasq_pid(host: &TestHost) -> Option<String> {
    let pid = std::fs::read_to_string(host.dir.path().join("dhcp").join(NET).join("pid")).ok()?;
    let pid = pid.trim().to_owned();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    String::from_utf8_lossy(&cmdline)
        .contains("dnsmasq")
        .then_some(pid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_repairs_the_data_plane_at_resync() {
    if skip("the_agent_repairs_the_data_plane_at_resync") {
        return;
    }
    let host = TestHost::new();
    let desired = Arc::new(MemoryDesiredState::new());
    desired.update_network(HOST, |n| {
        n.networks = vec![network(Segment::Local)];
        n.ports = vec![port(
            PORT,
            "tapdrift",
            "fa:16:3e:00:00:d1",
            "10.0.0.21",
            &[],
        )];
        n.dhcp = vec![dhcp(vec![])];
    });
    let observed = Arc::new(MemoryObservedState::new());
    let drivers: Vec<Arc<dyn ObjectDriver>> = vec![
        Arc::new(NetworkDriver::new(host.cfg.clone())),
        Arc::new(PortDriver::new(host.cfg.clone())),
        Arc::new(DhcpDriver::new(host.cfg.clone())),
    ];
    let (stop, rx) = tokio::sync::watch::channel(false);
    let config = AgentConfig {
        resync_interval: Duration::from_millis(500),
        ..AgentConfig::default()
    };
    let hv = Arc::new(FakeHypervisor::new(FakeConfig::default()));
    let agent = tokio::spawn(Agent::run_with_drivers(
        HOST,
        desired.clone(),
        observed.clone(),
        hv,
        drivers,
        config,
        rx,
    ));
    for (kind, id) in [(Kind::Network, NET), (Kind::Port, PORT), (Kind::Dhcp, NET)] {
        let key = ObjectKey::new(kind, id.to_owned());
        let o = observed
            .wait_for_object(HOST, &key, Duration::from_secs(20), |o| {
                o.phase == ObjectPhase::Ready
            })
            .await;
        assert!(
            o.is_some(),
            "{key:?} not ready: {:?}",
            observed.object(HOST, &key)
        );
    }
    let in_bridge = || {
        host.ip(&["link", "show", "dev", "tapdrift"])
            .contains(&format!("master {BR}"))
    };
    assert!(in_bridge());

    host.ip(&["link", "del", "dev", BR]);
    tokio::task::block_in_place(|| {
        poll("bridge back with the tap in it", || {
            host.has_link(BR) && in_bridge()
        })
    });

    sh(&["ip", "netns", "exec", &host.ns, "nft", "flush", "ruleset"]);
    tokio::task::block_in_place(|| {
        poll("port elements back", || {
            host.ruleset().contains("comment \"tapdrift\"")
        })
    });

    let pid = dnsmasq_pid(&host).expect("dnsmasq runs");
    sh(&["kill", &pid]);
    tokio::task::block_in_place(|| {
        poll("dnsmasq running again", || {
            dnsmasq_pid(&host).is_some_and(|p| p != pid)
        })
    });

    stop.send(true).expect("agent running");
    agent.await.expect("agent");
    let dhcp = DhcpDriver::new(host.cfg.clone());
    dhcp.remove(NET).await.expect("stop dnsmasq");
}
