//! Privileged structure tests: the drivers against a real kernel, inside a
//! network namespace per test (root, iproute2, nft and dnsmasq needed;
//! each test prints `SKIP:` and passes without them).
//!
//! What a user would notice: the bridge, VXLAN device and tap exist with
//! the right attributes, the port's nft chains are there, a second ensure
//! repairs what was deleted behind the agent's back, `list` finds what
//! exists (a restarted agent adopts it), and remove leaves nothing.

mod support;

use ferrostack_agent::drivers::ObjectDriver;
use ferrostack_host_contract::network::*;
use ferrostack_hostnet::{DhcpDriver, NetworkDriver, PortDriver};
use support::*;

const PORT: &str = "7b1e2f3a-aaaa-4bbb-8ccc-000000000001";

fn section() -> NetworkSection {
    let web = group(
        "sg-web",
        vec![
            rule(RuleDirection::Ingress, Some(6), Some(22), Some(22)),
            rule(RuleDirection::Ingress, Some(1), Some(8), None),
            rule(RuleDirection::Egress, None, None, None),
        ],
    );
    NetworkSection {
        networks: vec![network(Segment::Vxlan {
            segmentation_id: 1001,
            group: None,
            peers: vec!["10.99.0.2".into(), "10.99.0.3".into()],
        })],
        ports: vec![port(
            PORT,
            "tapfst1",
            "fa:16:3e:00:00:10",
            "10.0.0.10",
            &["sg-web"],
        )],
        security_groups: vec![web],
        ..Default::default()
    }
}

#[tokio::test]
async fn network_and_port_are_built_repaired_adopted_and_removed() {
    if skip("network_and_port_are_built_repaired_adopted_and_removed") {
        return;
    }
    let host = TestHost::new();
    let desired = doc(section());
    let nets = NetworkDriver::new(host.cfg.clone());
    let ports = PortDriver::new(host.cfg.clone());
    let br = "brq3f2a9c1e-0b";

    nets.ensure(&desired, NET).await.expect("network");
    ports.ensure(&desired, PORT).await.expect("port");
    let link = host.ip(&["-d", "link", "show", "dev", br]);
    assert!(
        link.contains("mtu 1450") && link.contains("nf_call_iptables 1"),
        "{link}"
    );
    let vx = host.ip(&["-d", "link", "show", "dev", "vxlan-1001"]);
    assert!(
        vx.contains("id 1001") && vx.contains("local 10.99.0.1"),
        "{vx}"
    );
    assert!(vx.contains(&format!("master {br}")), "{vx}");
    let fdb = support::sh(&["bridge", "-n", &host.ns, "fdb", "show", "dev", "vxlan-1001"]);
    assert!(
        fdb.contains("dst 10.99.0.2") && fdb.contains("dst 10.99.0.3"),
        "{fdb}"
    );
    let tap = host.ip(&["-d", "link", "show", "dev", "tapfst1"]);
    assert!(
        tap.contains("tun type tap") && tap.contains("persist"),
        "{tap}"
    );
    assert!(
        tap.contains("mtu 1450") && tap.contains(&format!("master {br}")),
        "{tap}"
    );
    let rules = host.ruleset();
    let zone = format!("\"{br}\" : {}", ferrostack_hostnet::nft::zone(NET));
    assert!(rules.contains(&zone), "{zone} missing:\n{rules}");
    for needle in [
        "elements = { \"tapfst1\" }",
        "comment \"tapfst1\" : jump pe_",
        "comment \"tapfst1\" : jump pi_",
        "tcp dport 22 accept",
    ] {
        assert!(rules.contains(needle), "{needle} missing:\n{rules}");
    }

    // A restarted agent's drivers find both from the kernel.
    let fresh_nets = NetworkDriver::new(host.cfg.clone());
    let fresh_ports = PortDriver::new(host.cfg.clone());
    assert_eq!(fresh_nets.list().await.expect("list"), vec![NET.to_owned()]);
    assert_eq!(
        fresh_ports.list().await.expect("list"),
        vec![PORT.to_owned()]
    );

    // Drift: the table flushed. The driver that applied the rules puts
    // them back when it next lists (each resync), the port still present.
    support::sh(&["ip", "netns", "exec", &host.ns, "nft", "flush", "ruleset"]);
    assert_eq!(ports.list().await.expect("list"), vec![PORT.to_owned()]);
    assert!(
        host.ruleset().contains("comment \"tapfst1\""),
        "rules restored by list"
    );

    // Drift: the bridge deleted. The network's ensure (it lists absent)
    // makes it again and puts the port's tap back in it.
    host.ip(&["link", "del", "dev", br]);
    assert!(nets.list().await.expect("list").is_empty());
    nets.ensure(&desired, NET).await.expect("network again");
    assert!(host
        .ip(&["link", "show", "dev", "tapfst1"])
        .contains(&format!("master {br}")));

    // A restarted agent's drivers, after a flush: an ensure repairs.
    support::sh(&["ip", "netns", "exec", &host.ns, "nft", "flush", "ruleset"]);
    fresh_ports
        .ensure(&desired, PORT)
        .await
        .expect("port again");
    assert!(host.ruleset().contains("comment \"tapfst1\""));

    // Peers change: the FDB follows exactly.
    let mut changed = section();
    changed.networks[0].segment = Segment::Vxlan {
        segmentation_id: 1001,
        group: None,
        peers: vec!["10.99.0.3".into()],
    };
    fresh_nets.ensure(&doc(changed), NET).await.expect("peers");
    let fdb = support::sh(&["bridge", "-n", &host.ns, "fdb", "show", "dev", "vxlan-1001"]);
    assert!(
        !fdb.contains("dst 10.99.0.2") && fdb.contains("dst 10.99.0.3"),
        "{fdb}"
    );

    fresh_ports.remove(PORT).await.expect("remove port");
    fresh_ports.remove(PORT).await.expect("remove port twice");
    fresh_nets.remove(NET).await.expect("remove network");
    assert!(!host.has_link("tapfst1") && !host.has_link(br) && !host.has_link("vxlan-1001"));
    assert!(!host.ruleset().contains("tapfst1"));
    assert!(fresh_nets.list().await.expect("list").is_empty());
}

#[tokio::test]
async fn port_security_off_removes_the_rules_and_a_bad_rule_fails_only_its_port() {
    if skip("port_security_off_removes_the_rules_and_a_bad_rule_fails_only_its_port") {
        return;
    }
    let host = TestHost::new();
    let mut s = section();
    let mut bad = port(
        "7b1e2f3a-aaaa-4bbb-8ccc-000000000002",
        "tapfst2",
        "fa:16:3e:00:00:11",
        "10.0.0.11",
        &["sg-bad"],
    );
    bad.generation = 1;
    s.ports.push(bad);
    let mut broken = rule(RuleDirection::Ingress, Some(6), Some(90), Some(80));
    broken.id = "bad".into();
    s.security_groups.push(group("sg-bad", vec![broken]));
    let nets = NetworkDriver::new(host.cfg.clone());
    let ports = PortDriver::new(host.cfg.clone());
    nets.ensure(&doc(s.clone()), NET).await.expect("network");
    let err = ports
        .ensure(&doc(s.clone()), "7b1e2f3a-aaaa-4bbb-8ccc-000000000002")
        .await
        .expect_err("inverted port range");
    assert!(err.contains("port range"), "{err}");
    ports
        .ensure(&doc(s.clone()), PORT)
        .await
        .expect("the good port still programs");
    assert!(host.ruleset().contains("comment \"tapfst1\""));

    s.ports[0].port_security_enabled = false;
    ports
        .ensure(&doc(s.clone()), PORT)
        .await
        .expect("security off");
    let rules = host.ruleset();
    // Nothing keyed on the port any more; only the mark that its traffic
    // is deliberately unfiltered (so a restarted agent knows it is done).
    assert_eq!(rules.matches("tapfst1").count(), 1, "{rules}");
    let open = support::sh(&[
        "ip", "netns", "exec", &host.ns, "nft", "list", "set", "bridge", "fsttest", "open",
    ]);
    assert!(open.contains("\"tapfst1\""), "{open}");
    assert_eq!(
        PortDriver::new(host.cfg.clone())
            .list()
            .await
            .expect("list"),
        vec![PORT.to_owned()],
        "a port with security off is programmed too"
    );
}

#[tokio::test]
async fn the_previous_layout_is_replaced_and_its_ports_programmed_again() {
    if skip("the_previous_layout_is_replaced_and_its_ports_programmed_again") {
        return;
    }
    let host = TestHost::new();
    let s = section();
    let desired = doc(s);
    NetworkDriver::new(host.cfg.clone())
        .ensure(&desired, NET)
        .await
        .expect("network");
    PortDriver::new(host.cfg.clone())
        .ensure(&desired, PORT)
        .await
        .expect("port");
    // What an agent of the layout before put in the tables for this tap:
    // a chain triple, dispatched by maps of their own.
    let legacy = "add map bridge fsttest spoof { type ifname : verdict; }
add chain bridge fsttest s_tapfst1
add rule bridge fsttest s_tapfst1 drop
add element bridge fsttest spoof { \"tapfst1\" : jump s_tapfst1 }
add map inet fsttest eg4 { type ifname . ipv4_addr : verdict; }
add chain inet fsttest e_tapfst1
add rule inet fsttest e_tapfst1 drop
add element inet fsttest eg4 { \"brq3f2a9c1e-0b\" . 10.0.0.10 : jump e_tapfst1 }
delete element bridge fsttest ports { \"tapfst1\" }
";
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", &host.ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("nft");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(legacy.as_bytes())
        .expect("write");
    assert!(child.wait().expect("nft").success());

    // The upgraded agent: the old objects go, and the tap, in neither set
    // now, is reported absent so the engine ensures it again.
    let upgraded = PortDriver::new(host.cfg.clone());
    assert!(upgraded.list().await.expect("list").is_empty());
    let rules = host.ruleset();
    for gone in ["s_tapfst1", "e_tapfst1", "map spoof", "map eg4"] {
        assert!(!rules.contains(gone), "{gone} left:\n{rules}");
    }
    upgraded.ensure(&desired, PORT).await.expect("port again");
    assert_eq!(upgraded.list().await.expect("list"), vec![PORT.to_owned()]);
    assert!(host.ruleset().contains("comment \"tapfst1\""));
}

#[tokio::test]
async fn dhcp_server_runs_reloads_is_adopted_and_removed() {
    if skip("dhcp_server_runs_reloads_is_adopted_and_removed") {
        return;
    }
    let host = TestHost::new();
    let mut s = section();
    s.networks[0].segment = Segment::Local;
    s.dhcp = vec![dhcp(vec![DhcpHost {
        mac_address: "fa:16:3e:00:00:10".into(),
        ip_address: "10.0.0.10".into(),
        hostname: "vm-1".into(),
        instance_id: None,
    }])];
    let nets = NetworkDriver::new(host.cfg.clone());
    let dhcps = DhcpDriver::new(host.cfg.clone());
    nets.ensure(&doc(s.clone()), NET).await.expect("network");
    let details = dhcps.ensure(&doc(s.clone()), NET).await.expect("dhcp");
    let pid = details["pid"].as_i64().expect("pid");
    let dir = host.dir.path().join("dhcp").join(NET);
    wait_reads(&dir, 1).await;
    let ns = format!("{}-d-{NET}", host.ns);
    let addr = support::sh(&["ip", "-n", &ns, "addr", "show", "dev", "ns-dhcp"]);
    assert!(
        addr.contains("10.0.0.2/24") && addr.contains("fa:16:3e:00:00:02"),
        "{addr}"
    );
    let hosts = std::fs::read_to_string(dir.join("hosts")).expect("hosts");
    assert_eq!(hosts, "fa:16:3e:00:00:10,10.0.0.10,vm-1\n");
    let opts = std::fs::read_to_string(dir.join("opts")).expect("opts");
    assert!(opts.contains("option:mtu,1450"), "{opts}");
    assert!(
        opts.contains("classless-static-route,192.168.50.0/24,10.0.0.254,0.0.0.0/0,10.0.0.1"),
        "{opts}"
    );

    // A new host entry: same dnsmasq (SIGHUP), new file.
    s.dhcp[0].hosts.push(DhcpHost {
        mac_address: "fa:16:3e:00:00:11".into(),
        ip_address: "10.0.0.11".into(),
        hostname: "vm-2".into(),
        instance_id: None,
    });
    let again = dhcps
        .ensure(&doc(s.clone()), NET)
        .await
        .expect("dhcp reload");
    assert_eq!(again["pid"].as_i64(), Some(pid));
    wait_reads(&dir, 2).await;
    assert!(std::fs::read_to_string(dir.join("hosts"))
        .expect("hosts")
        .contains("10.0.0.11"));

    // A restarted agent adopts it.
    let fresh = DhcpDriver::new(host.cfg.clone());
    assert_eq!(fresh.list().await.expect("list"), vec![NET.to_owned()]);
    let adopted = fresh.ensure(&doc(s), NET).await.expect("adopt");
    assert_eq!(adopted["pid"].as_i64(), Some(pid));

    // A dnsmasq that died is started again at the next list (resync).
    support::sh(&["kill", &pid.to_string()]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty()) {
        assert!(
            std::time::Instant::now() < deadline,
            "dnsmasq {pid} did not stop"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(fresh.list().await.expect("list"), vec![NET.to_owned()]);
    let pid: i64 = std::fs::read_to_string(dir.join("pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("restarted");
    assert!(String::from_utf8_lossy(&cmdline).contains("dnsmasq"));

    fresh.remove(NET).await.expect("remove");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
            let c = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            !String::from_utf8_lossy(&c).contains("dnsmasq")
        }
    );
    assert!(fresh.list().await.expect("list").is_empty());
    assert!(!host.has_link("dhq3f2a9c1e-0b"));
}

#[tokio::test]
async fn multicast_flat_vlan_and_gre_segments() {
    if skip("multicast_flat_vlan_and_gre_segments") {
        return;
    }
    let host = TestHost::new();
    let mut cfg = (*host.cfg).clone();
    cfg.physical_networks
        .insert("physnet1".into(), "ul1".into());
    let nets = NetworkDriver::new(std::sync::Arc::new(cfg));
    let br = "brq3f2a9c1e-0b";
    let with = |segment: Segment| {
        doc(NetworkSection {
            networks: vec![network(segment)],
            ..Default::default()
        })
    };

    // A multicast group: no FDB entries, the group on the device.
    let mcast = with(Segment::Vxlan {
        segmentation_id: 1002,
        group: Some("239.1.1.5".into()),
        peers: vec![],
    });
    nets.ensure(&mcast, NET).await.expect("multicast vxlan");
    let vx = host.ip(&["-d", "link", "show", "dev", "vxlan-1002"]);
    assert!(
        vx.contains("group 239.1.1.5") && vx.contains(&format!("master {br}")),
        "{vx}"
    );
    nets.remove(NET).await.expect("remove");

    // Flat: the mapped interface joins the bridge, and stays when it goes.
    let flat = with(Segment::Flat {
        physical_network: "physnet1".into(),
    });
    nets.ensure(&flat, NET).await.expect("flat");
    assert!(host
        .ip(&["link", "show", "dev", "ul1"])
        .contains(&format!("master {br}")));
    nets.remove(NET).await.expect("remove");
    assert!(host.has_link("ul1") && !host.has_link(br));

    // Flat on a mapped bridge (`br-ex` style): a veth pair joins the two.
    host.ip(&["link", "add", "brext", "type", "bridge"]);
    let mut cfg = (*host.cfg).clone();
    cfg.physical_networks
        .insert("physnet1".into(), "brext".into());
    let on_bridge = NetworkDriver::new(std::sync::Arc::new(cfg));
    on_bridge
        .ensure(&flat, NET)
        .await
        .expect("flat on a bridge");
    assert!(host
        .ip(&["link", "show", "dev", "pvq3f2a9c1e-0b"])
        .contains(&format!("master {br}")));
    assert!(host
        .ip(&["link", "show", "dev", "pbq3f2a9c1e-0b"])
        .contains("master brext"));
    on_bridge.remove(NET).await.expect("remove");
    assert!(!host.has_link("pbq3f2a9c1e-0b") && host.has_link("brext"));

    // An unmapped physical network and GRE say why not.
    let unmapped = with(Segment::Flat {
        physical_network: "physnet9".into(),
    });
    let err = nets.ensure(&unmapped, NET).await.expect_err("unmapped");
    assert!(err.contains("not mapped"), "{err}");
    let gre = with(Segment::Gre { segmentation_id: 5 });
    let err = nets.ensure(&gre, NET).await.expect_err("gre");
    assert!(err.contains("GRE"), "{err}");

    // VLAN: a sub-interface where the kernel has 8021q, else a clear error.
    let vlan = with(Segment::Vlan {
        physical_network: "physnet1".into(),
        segmentation_id: 100,
    });
    match nets.ensure(&vlan, NET).await {
        Ok(_) => {
            let l = host.ip(&["-d", "link", "show", "master", br]);
            assert!(l.contains("vlan protocol 802.1Q id 100"), "{l}");
        }
        Err(e) => {
            assert!(e.contains("8021q"), "{e}");
            eprintln!("NOTE: VLAN not testable here: {e}");
        }
    }
}

/// Waits until dnsmasq's log says it read its hosts file `n` times (at
/// start, then at each SIGHUP): it could reach the file as `nobody`.
async fn wait_reads(dir: &std::path::Path, n: usize) {
    let hosts = format!("read {}", dir.join("hosts").display());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        if log.lines().filter(|l| l.ends_with(&hosts)).count() >= n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "dnsmasq did not read its hosts file {n} times:\n{log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_port_the_kernel_refuses_fails_alone_in_its_batch() {
    if skip("a_port_the_kernel_refuses_fails_alone_in_its_batch") {
        return;
    }
    let host = TestHost::new();
    let mut s = section();
    let ids = [
        "7b1e2f3a-aaaa-4bbb-8ccc-0000000000b1",
        "7b1e2f3a-aaaa-4bbb-8ccc-0000000000b2",
        "7b1e2f3a-aaaa-4bbb-8ccc-0000000000b3",
    ];
    // The second port claims the first one's fixed address: its map
    // elements would clash (checks of the document alone cannot see it).
    s.ports = vec![
        port(
            ids[0],
            "tapb1",
            "fa:16:3e:00:00:b1",
            "10.0.0.31",
            &["sg-web"],
        ),
        port(
            ids[1],
            "tapb2",
            "fa:16:3e:00:00:b2",
            "10.0.0.31",
            &["sg-web"],
        ),
        port(
            ids[2],
            "tapb3",
            "fa:16:3e:00:00:b3",
            "10.0.0.33",
            &["sg-web"],
        ),
    ];
    let desired = doc(s);
    NetworkDriver::new(host.cfg.clone())
        .ensure(&desired, NET)
        .await
        .expect("network");
    let ports = PortDriver::new(host.cfg.clone());
    ports.ensure(&desired, ids[0]).await.expect("first port");
    // Concurrent ensures (usually one nft batch; either way only the
    // clashing port may fail).
    let (bad, good) = tokio::join!(
        ports.ensure(&desired, ids[1]),
        ports.ensure(&desired, ids[2])
    );
    let err = bad.expect_err("a clashing address");
    assert!(err.contains("already port tap tapb1's"), "{err}");
    good.expect("the other port of the batch is programmed");
    let rules = host.ruleset();
    assert!(
        rules.contains("comment \"tapb3\"") && rules.contains("comment \"tapb1\""),
        "{rules}"
    );
}
