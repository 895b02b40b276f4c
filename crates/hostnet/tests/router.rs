//! The router driver in a stand-in host (see `support::lab`): a router
//! joins two tenant bridges and the external one; traffic between real
//! namespaces shows SNAT, floating IPs (DNAT in, SNAT out, hairpin), a
//! removed floating IP cut, an established connection surviving an
//! agent restart and a re-apply, and repair of a deleted namespace or a
//! flushed table. Root only; prints `SKIP:` otherwise.

mod support;

use ferrostack_agent::drivers::ObjectDriver;
use ferrostack_hostnet::PortDriver;
use std::time::Duration;
use support::lab::*;
use support::*;

const FIP1: &str = "172.24.4.20";
const FIP2: &str = "172.24.4.21";

fn short() -> Duration {
    Duration::from_millis(700)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_forwards_translates_and_survives_restarts() {
    if skip("a_router_forwards_translates_and_survives_restarts") {
        return;
    }
    let lab = Lab::new().await;
    // A port with security on makes the host's bridge and inet tables
    // exist: the router's veths (not ports) must pass them untouched.
    let mut p = port(
        "7b1e2f3a-aaaa-4bbb-8ccc-0000000000e9",
        "taprtr",
        "fa:16:3e:00:00:e9",
        "10.0.1.9",
        &[],
    );
    p.network_id = NET1.into();
    let mut d = lab_doc(router(&[(FIP1, G1_IP)]));
    d.network.ports = vec![p.clone()];
    PortDriver::new(lab.host.cfg.clone())
        .converge(&d, &p)
        .await
        .expect("port");
    assert!(lab.host.ruleset().contains("jump spoof"));

    let driver = lab.driver();
    let details = driver.ensure(&d, ROUTER).await.expect("router");
    assert_eq!(details["gateway_ip"], GW_IP);
    assert_eq!(driver.list().await.expect("list"), vec![ROUTER.to_owned()]);
    let again = driver.ensure(&d, ROUTER).await.expect("idempotent");
    assert_eq!(again, details);

    // Inside -> outside: a guest without a floating IP leaves as the
    // gateway's address, one with a floating IP as that address.
    let l_out = listen(&lab.out, "172.24.4.1:7000");
    let _c = connect(&lab.g2, "172.24.4.1:7000", short()).expect("g2 -> outside");
    assert_eq!(accept(&l_out).1, GW_IP, "SNAT to the gateway");
    let _c = connect(&lab.g1, "172.24.4.1:7000", short()).expect("g1 -> outside");
    assert_eq!(accept(&l_out).1, FIP1, "SNAT to the floating IP");
    // Between tenant networks: routed, not translated.
    let l_g2 = listen(&lab.g2, "10.0.2.5:7002");
    let _c = connect(&lab.g1, "10.0.2.5:7002", short()).expect("g1 -> g2");
    assert_eq!(accept(&l_g2).1, G1_IP);

    // Outside -> floating IP reaches guest 1; hairpin from guest 2 too.
    let l_g1 = listen(&lab.g1, "10.0.1.5:7001");
    let mut held = connect(&lab.out, "172.24.4.20:7001", short()).expect("outside -> FIP");
    let (mut held_in, peer) = accept(&l_g1);
    assert_eq!(peer, OUT_IP);
    assert!(carries(&mut held, &mut held_in));
    let _c = connect(&lab.g2, "172.24.4.20:7001", short()).expect("hairpin");
    assert_eq!(accept(&l_g1).1, GW_IP, "hairpin comes from the gateway");

    // Agent restart: a new driver adopts the router, and a re-apply with
    // another floating IP keeps the established connection.
    drop(driver);
    let driver = lab.driver();
    assert_eq!(driver.list().await.expect("adopt"), vec![ROUTER.to_owned()]);
    let mut d2 = lab_doc(router(&[(FIP1, G1_IP), (FIP2, G2_IP)]));
    d2.network.ports = d.network.ports.clone();
    driver.ensure(&d2, ROUTER).await.expect("second FIP");
    assert!(
        carries(&mut held, &mut held_in),
        "connection survives re-apply"
    );
    assert!(carries(&mut held_in, &mut held), "both ways");
    let _c = connect(&lab.out, "172.24.4.21:7002", short()).expect("outside -> FIP2");
    assert_eq!(accept(&l_g2).1, OUT_IP);

    // Removing floating IP 1 cuts new and established connections.
    let d3 = lab_doc(router(&[(FIP2, G2_IP)]));
    driver.ensure(&d3, ROUTER).await.expect("FIP removed");
    assert!(
        connect(&lab.out, "172.24.4.20:7001", short()).is_err(),
        "FIP1 still reachable"
    );
    assert!(
        !carries(&mut held, &mut held_in),
        "established connection not cut"
    );
    let qg = lab
        .host
        .ip(&["netns", "exec", &lab.router_ns(), "ip", "-4", "addr"]);
    assert!(!qg.contains(FIP1) && qg.contains(FIP2), "{qg}");

    // A flushed table and a deleted namespace are reported absent, and
    // come back on ensure.
    sh(&[
        "ip",
        "netns",
        "exec",
        &lab.router_ns(),
        "nft",
        "flush",
        "ruleset",
    ]);
    assert!(driver.list().await.expect("list").is_empty());
    driver.ensure(&d3, ROUTER).await.expect("repair table");
    assert_eq!(driver.list().await.expect("list"), vec![ROUTER.to_owned()]);
    sh(&["ip", "netns", "del", &lab.router_ns()]);
    assert!(driver.list().await.expect("list").is_empty());
    driver.ensure(&d3, ROUTER).await.expect("repair namespace");
    let _c = connect(&lab.out, "172.24.4.21:7002", short()).expect("FIP2 after repair");
    assert_eq!(accept(&l_g2).1, OUT_IP);
    // A deleted veth: the router is reported absent, and repaired.
    lab.host
        .ip(&["link", "del", "dev", &format!("rq-{}", &IF1[..11])]);
    assert!(driver.list().await.expect("list").is_empty());
    driver.ensure(&d3, ROUTER).await.expect("repair veth");
    let _c = connect(&lab.g1, "172.24.4.1:7000", short()).expect("g1 out after repair");
    assert_eq!(accept(&l_out).1, GW_IP, "g1 has no floating IP now");

    // `net show` reads it all back from the kernel.
    let view = ferrostack_hostnet::show::show(&lab.host.cfg)
        .await
        .expect("show");
    let text = ferrostack_hostnet::show::render_text(&view);
    println!("{text}");
    for want in [
        format!("Router {ROUTER}"),
        format!("namespace: {}", lab.router_ns()),
        "forwarding: on".to_owned(),
        "nat: 8 rules, SNAT to 172.24.4.2".to_owned(),
        "floating ip 172.24.4.21: DNAT to 10.0.2.5".to_owned(),
        "route: default via 172.24.4.1 dev qg-".to_owned(),
        format!("Router port rg-{} (router {ROUTER})", &GW_PORT[..11]),
    ] {
        assert!(text.contains(&want), "{want} not in:\n{text}");
    }
    assert!(!text.contains("MISSING"), "{text}");

    // Admin down: links down, nothing forwarded.
    let mut down = router(&[(FIP2, G2_IP)]);
    down.admin_state_up = false;
    driver.ensure(&lab_doc(down), ROUTER).await.expect("down");
    assert!(connect(&lab.g1, "172.24.4.1:7000", short()).is_err());

    driver.remove(ROUTER).await.expect("remove");
    assert!(driver.list().await.expect("list").is_empty());
    assert!(!sh_ok(&["ip", "netns", "exec", &lab.router_ns(), "true"]));
    let links = lab.host.ip(&["link"]);
    assert!(!links.contains("rq-") && !links.contains("rg-"), "{links}");
    driver.remove(ROUTER).await.expect("remove again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_routes_and_the_default_route_are_the_routers_own() {
    if skip("static_routes_and_the_default_route_are_the_routers_own") {
        return;
    }
    let lab = Lab::new().await;
    let driver = lab.driver();
    let mut r = router(&[]);
    r.routes = vec![("192.168.50.0/24".into(), "10.0.1.254".into())];
    driver
        .ensure(&lab_doc(r.clone()), ROUTER)
        .await
        .expect("router");
    let ns = lab.router_ns();
    let routes = sh(&["ip", "-n", &ns, "route"]);
    assert!(
        routes.contains("default via 172.24.4.1 dev qg-"),
        "{routes}"
    );
    assert!(
        routes.contains("192.168.50.0/24 via 10.0.1.254 dev qr-"),
        "{routes}"
    );
    let link = sh(&[
        "ip",
        "-n",
        &ns,
        "link",
        "show",
        "dev",
        &format!("qr-{}", &IF1[..11]),
    ]);
    assert!(
        link.contains("mtu 1450") && link.contains("fa:16:3e:01:00:01"),
        "{link}"
    );
    r.routes.clear();
    driver
        .ensure(&lab_doc(r), ROUTER)
        .await
        .expect("route gone");
    let routes = sh(&["ip", "-n", &ns, "route"]);
    assert!(!routes.contains("192.168.50.0"), "{routes}");
    assert!(routes.contains("default via 172.24.4.1"), "{routes}");
    // Another host's router namespace (same prefix, not ours) is not listed.
    let other = TestHost::new();
    let mut cfg = (*other.cfg).clone();
    cfg.router_netns_prefix = lab.host.cfg.router_netns_prefix.clone();
    let foreign = ferrostack_hostnet::RouterDriver::new(std::sync::Arc::new(cfg));
    assert!(foreign.list().await.expect("list").is_empty());
    driver.remove(ROUTER).await.expect("remove");
}

fn poll(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The engine and the driver together: a real `Agent` (fake hypervisor,
/// short resync) brings the router up after its networks, and puts back
/// a deleted namespace and a flushed table at its resyncs, at the same
/// generation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_repairs_a_router_at_resync() {
    use ferrostack_agent::{Agent, AgentConfig, MemoryDesiredState, MemoryObservedState};
    use ferrostack_host_contract::{Kind, ObjectKey, ObjectPhase};
    use ferrostack_hostnet::NetworkDriver;
    use ferrostack_hypervisor::{FakeConfig, FakeHypervisor};
    use std::sync::Arc;
    if skip("the_agent_repairs_a_router_at_resync") {
        return;
    }
    const HOST: &str = "hostnet-router-drift";
    let lab = Lab::new().await;
    let desired = Arc::new(MemoryDesiredState::new());
    let d = lab_doc(router(&[(FIP1, G1_IP)]));
    desired.update_network(HOST, |n| *n = d.network.clone());
    let observed = Arc::new(MemoryObservedState::new());
    let drivers: Vec<Arc<dyn ObjectDriver>> = vec![
        Arc::new(NetworkDriver::new(lab.host.cfg.clone())),
        Arc::new(lab.driver()),
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
    let key = ObjectKey::new(Kind::Router, ROUTER.to_owned());
    let ready = observed
        .wait_for_object(HOST, &key, Duration::from_secs(20), |o| {
            o.phase == ObjectPhase::Ready
        })
        .await;
    assert!(ready.is_some(), "{:?}", observed.object(HOST, &key));
    let l_g1 = listen(&lab.g1, "10.0.1.5:7001");
    let reachable = || connect(&lab.out, "172.24.4.20:7001", short()).is_ok();
    tokio::task::block_in_place(|| poll("floating IP reachable", reachable));
    let _ = accept(&l_g1);

    let ns = lab.router_ns();
    sh(&["ip", "netns", "del", &ns]);
    // A deleted namespace dies asynchronously: wait for the new one.
    let back = || std::path::Path::new("/run/netns").join(&ns).exists();
    tokio::task::block_in_place(|| poll("namespace back", || back() && reachable()));
    let _ = accept(&l_g1);
    sh(&["ip", "netns", "exec", &ns, "nft", "flush", "ruleset"]);
    tokio::task::block_in_place(|| {
        poll("table back", || {
            sh(&["ip", "netns", "exec", &ns, "nft", "list", "ruleset"]).contains("fip_in")
        })
    });
    tokio::task::block_in_place(|| poll("floating IP reachable again", reachable));
    let o = observed.object(HOST, &key).expect("reported");
    assert_eq!(o.observed_generation, 1, "repaired at the same generation");

    stop.send(true).expect("agent running");
    agent.await.expect("agent");
    lab.driver().remove(ROUTER).await.expect("remove");
}

/// A SLAAC subnet behind the router: the guest namespace configures an
/// address in its prefix and a default route from the router's
/// advertisements, and again from a restarted agent's (answering the
/// solicitation a link coming up sends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slaac_subnets_get_router_advertisements() {
    use ferrostack_host_contract::network::{FixedIp, RouterSubnet};
    if skip("slaac_subnets_get_router_advertisements") {
        return;
    }
    let lab = Lab::new().await;
    let mut r = router(&[]);
    let v6 = "53535353-0000-4000-8000-000000000006";
    r.subnets.push(RouterSubnet {
        id: v6.into(),
        cidr: "2001:db8:1::/64".into(),
        gateway_ip: Some("2001:db8:1::1".into()),
        ipv6_ra_mode: Some("slaac".into()),
    });
    r.interfaces[0].fixed_ips.push(FixedIp {
        subnet_id: v6.into(),
        ip_address: "2001:db8:1::1".into(),
    });
    let d = lab_doc(r);
    let driver = lab.driver();
    driver.ensure(&d, ROUTER).await.expect("router");
    let configured = || {
        let addr = sh(&["ip", "-n", &lab.g1, "-6", "addr", "show", "dev", "eth0"]);
        let route = sh(&["ip", "-n", &lab.g1, "-6", "route"]);
        addr.contains("inet6 2001:db8:1:") && route.contains("default via fe80::")
    };
    tokio::task::block_in_place(|| poll("SLAAC address and default route", configured));
    let qr = sh(&["ip", "-n", &lab.router_ns(), "-6", "addr"]);
    assert!(qr.contains("2001:db8:1::1/64"), "{qr}");

    // Agent restart: the advertiser comes back with the listing.
    drop(driver);
    // The old advertiser ends within a second; only the restored one can
    // answer the solicitation below.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let driver = lab.driver();
    assert_eq!(driver.list().await.expect("adopt"), vec![ROUTER.to_owned()]);
    sh(&[
        "ip", "-n", &lab.g1, "-6", "addr", "flush", "dev", "eth0", "scope", "global",
    ]);
    sh(&["ip", "-n", &lab.g1, "link", "set", "eth0", "down"]);
    sh(&["ip", "-n", &lab.g1, "link", "set", "eth0", "up"]);
    tokio::task::block_in_place(|| poll("SLAAC again after a restart", configured));
    driver.remove(ROUTER).await.expect("remove");
}

/// A new floating IP is announced: the outside (accepting gratuitous
/// ARP, as an upstream router configured for it does) learns its MAC
/// without sending anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_floating_ip_is_announced_by_gratuitous_arp() {
    if skip("a_new_floating_ip_is_announced_by_gratuitous_arp") {
        return;
    }
    let lab = Lab::new().await;
    let driver = lab.driver();
    driver
        .ensure(&lab_doc(router(&[])), ROUTER)
        .await
        .expect("router");
    sh(&[
        "ip",
        "netns",
        "exec",
        &lab.out,
        "sh",
        "-c",
        "echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_accept",
    ]);
    let neigh = || sh(&["ip", "-n", &lab.out, "neigh", "show", "172.24.4.22"]);
    assert!(!neigh().contains("lladdr"), "{}", neigh());
    driver
        .ensure(&lab_doc(router(&[("172.24.4.22", G1_IP)])), ROUTER)
        .await
        .expect("fip");
    tokio::task::block_in_place(|| {
        poll("the outside learns the floating IP's MAC", || {
            neigh().contains("lladdr fa:16:3e:0e:00:01")
        })
    });
    driver.remove(ROUTER).await.expect("remove");
}
