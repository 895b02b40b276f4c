//! How long the port driver takes to program many ports: a bench command
//! that prints a table (run as root; it works in a namespace of its own,
//! `fst-bench-<pid>`, and deletes it at the end).
//!
//! ```text
//! cargo run --release -p ferrostack-hostnet --example ports_bench -- 1000 8
//! ```
//!
//! Arguments: the number of ports (default 1000) and how many ensures run
//! at once (default 8, the agent's `max_concurrent`). Each port has one
//! fixed IP and a security group of three rules. Rows: first ensure
//! (taps created, elements written), a second ensure (nothing to change:
//! the cost of a resync), and the nft transactions alone; then the
//! processes started and netlink requests made by the two ensures.

use ferrostack_agent::drivers::ObjectDriver;
use ferrostack_host_contract::network::*;
use ferrostack_host_contract::HostDesired;
use ferrostack_hostnet::nft::{self, PortRules};
use ferrostack_hostnet::{HostNetConfig, NetworkDriver, PortDriver};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NET: &str = "bench000-0000-4000-8000-000000000000";

fn port(i: usize) -> DesiredPort {
    DesiredPort {
        id: format!("bench-port-{i:05}"),
        network_id: NET.into(),
        tap: format!("tapb{i:05}"),
        mac_address: format!("fa:16:3e:00:{:02x}:{:02x}", i / 256, i % 256),
        fixed_ips: vec![FixedIp {
            subnet_id: "s".into(),
            ip_address: format!("10.{}.{}.{}", 1 + i / 65536, (i / 256) % 256, i % 256),
        }],
        allowed_address_pairs: vec![],
        port_security_enabled: true,
        security_groups: vec!["sg".into()],
        admin_state_up: true,
        device_id: None,
        generation: 1,
        deleted: false,
    }
}

fn rule(direction: RuleDirection, protocol: Option<u8>, port: Option<u16>) -> DesiredRule {
    DesiredRule {
        id: format!("{direction:?}-{protocol:?}"),
        direction,
        ethertype: "IPv4".into(),
        protocol,
        port_range_min: port,
        port_range_max: port,
        remote_prefixes: vec!["10.0.0.0/8".into()],
    }
}

fn document(n: usize) -> HostDesired {
    let network = NetworkSection {
        networks: vec![DesiredNetwork {
            id: NET.into(),
            segment: Segment::Local,
            mtu: 1500,
            admin_state_up: true,
            generation: 1,
            deleted: false,
        }],
        ports: (0..n).map(port).collect(),
        security_groups: vec![DesiredSecurityGroup {
            id: "sg".into(),
            stateful: true,
            rules: vec![
                rule(RuleDirection::Ingress, Some(6), Some(22)),
                rule(RuleDirection::Ingress, Some(1), None),
                rule(RuleDirection::Egress, None, None),
            ],
            generation: 1,
        }],
        ..Default::default()
    };
    HostDesired {
        revision: 1,
        instances: Vec::new(),
        network,
        block_devices: Default::default(),
    }
}

async fn ensure_all(
    ports: &PortDriver,
    doc: &Arc<HostDesired>,
    n: usize,
    width: usize,
) -> Duration {
    let t = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(width));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let (ports, doc, sem) = (ports.clone(), doc.clone(), sem.clone());
        set.spawn(async move {
            let _permit = sem.acquire().await.expect("semaphore");
            let id = format!("bench-port-{i:05}");
            ports.ensure(&doc, &id).await.expect("ensure");
        });
    }
    while set.join_next().await.is_some() {}
    t.elapsed()
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(1000);
    let width = args.get(1).copied().unwrap_or(8);
    if let Err(why) = ferrostack_hostnet::prerequisites() {
        eprintln!("SKIP: ports_bench: {why}");
        return;
    }
    let ns = format!("fst-bench-{}", std::process::id());
    let ok = Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .map(|s| s.success());
    assert_eq!(ok.ok(), Some(true), "ip netns add {ns}");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = HostNetConfig::new(dir.path().to_path_buf());
    cfg.netns = Some(ns.clone());
    cfg.nft_table = "fstbench".into();
    let cfg = Arc::new(cfg);
    let doc = Arc::new(document(n));
    NetworkDriver::new(cfg.clone())
        .ensure(&doc, NET)
        .await
        .expect("network");
    let ports = PortDriver::new(cfg.clone());

    use ferrostack_hostnet::kernel::{commands_run, netlink_requests};
    let (cmds, reqs) = (commands_run(), netlink_requests());
    let first = ensure_all(&ports, &doc, n, width).await;
    let first_counts = (commands_run() - cmds, netlink_requests() - reqs);
    let (cmds, reqs) = (commands_run(), netlink_requests());
    if std::env::var_os("BENCH_FIRST_ONLY").is_some() {
        println!("first ensure: {:.2}s", first.as_secs_f64());
        println!("kept namespace {ns}");
        return;
    }
    let again = ensure_all(&ports, &doc, n, width).await;
    let again_counts = (commands_run() - cmds, netlink_requests() - reqs);
    let groups: Vec<&DesiredSecurityGroup> = doc.network.security_groups.iter().collect();
    let kernel = ferrostack_hostnet::kernel::Kernel::new(Some(ns.clone()));
    let t = Instant::now();
    for p in &doc.network.ports {
        let r = PortRules::new(p, "brqbench000-00", &groups).expect("rules");
        kernel
            .nft(&nft::port_transaction(
                "fstbench",
                &r.tap,
                None,
                &[],
                &r.elements(),
            ))
            .await
            .expect("nft");
    }
    let nft_only = t.elapsed();

    println!("{n} ports, {width} at once");
    println!("{:<34} {:>10} {:>12}", "what", "total", "per port");
    for (what, d) in [
        ("first ensure (tap + chains)", first),
        ("second ensure (no change)", again),
        ("nft transactions alone, serial", nft_only),
    ] {
        println!(
            "{what:<34} {:>9.2}s {:>10.2}ms",
            d.as_secs_f64(),
            d.as_secs_f64() * 1000.0 / n as f64
        );
    }
    for (what, (c, r)) in [
        ("first ensure: commands / netlink", first_counts),
        ("second ensure: commands / netlink", again_counts),
    ] {
        println!(
            "{what:<34} {:>10} {:>12}",
            format!("{c} / {r}"),
            format!("{:.1} / {:.1}", c as f64 / n as f64, r as f64 / n as f64)
        );
    }
    if std::env::var_os("BENCH_KEEP_NETNS").is_some() {
        println!("kept namespace {ns}");
        return;
    }
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
}
