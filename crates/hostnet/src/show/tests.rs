//! The view and its text from output captured on a real host (iproute2
//! 6.1, nftables 1.0.6), trimmed to the fields read.

use super::text::esc;
use super::view::*;
use super::*;

const LINKS: &str = r#"[
 {"ifname":"lo","mtu":65536,"flags":["LOOPBACK"],"operstate":"DOWN","address":"00:00:00:00:00:00"},
 {"ifname":"ul0","mtu":1500,"flags":["BROADCAST","MULTICAST","UP"],"operstate":"UP","address":"36:71:b6:cb:98:a3","linkinfo":{"info_kind":"veth"}},
 {"ifname":"brqnet-1","mtu":1450,"flags":["BROADCAST","MULTICAST","UP"],"operstate":"UP","ifalias":"net-1","address":"46:2c:63:04:55:69","linkinfo":{"info_kind":"bridge","info_data":{"nf_call_iptables":1}}},
 {"ifname":"vxlan-7","mtu":1450,"flags":["BROADCAST","MULTICAST","UP"],"operstate":"UNKNOWN","master":"brqnet-1","address":"a6:a4:b0:a0:15:c6","linkinfo":{"info_kind":"vxlan","info_data":{"id":7,"local":"10.99.0.1","link":"ul0","port":4789,"learning":true},"info_slave_kind":"bridge"}},
 {"ifname":"tapx","mtu":1450,"flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"operstate":"DOWN","master":"brqnet-1","ifalias":"port-1","address":"46:2c:63:04:55:6a","linkinfo":{"info_kind":"tun","info_data":{"type":"tap","persist":true},"info_slave_kind":"bridge"}},
 {"ifname":"dhqnet-1","mtu":1450,"flags":["BROADCAST","MULTICAST","UP"],"operstate":"UP","master":"brqnet-1","address":"9a:00:00:00:00:01","linkinfo":{"info_kind":"veth"}},
 {"ifname":"brqnet-2","mtu":1500,"flags":["BROADCAST","MULTICAST"],"operstate":"DOWN","ifalias":"net-2\u001b[31m","linkinfo":{"info_kind":"bridge"}},
 {"ifname":"vxlan-8","mtu":1500,"flags":["UP"],"operstate":"UNKNOWN","master":"brqnet-2","linkinfo":{"info_kind":"vxlan","info_data":{"id":8,"group":"239.1.1.5","local":"10.99.0.1","link":"ul0","port":4789}}},
 {"ifname":"tapy","mtu":1500,"flags":["UP"],"operstate":"DOWN","ifalias":"port-2","linkinfo":{"info_kind":"tun"}}
]"#;

const FDB: &str = r#"[{"mac":"a6:a4:b0:a0:15:c6","flags":[],"master":"brqnet-1","state":"permanent"},
 {"mac":"00:00:00:00:00:00","dst":"10.99.0.3","flags":["self"],"state":"permanent"},
 {"mac":"00:00:00:00:00:00","dst":"10.99.0.2","flags":["self"],"state":"permanent"}]"#;

const NFT_BRIDGE: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
 {"table": {"family": "bridge", "name": "t", "handle": 1}},
 {"set": {"family": "bridge", "name": "ports", "table": "t", "type": "ifname", "handle": 1, "elem": ["tapx"]}},
 {"set": {"family": "bridge", "name": "macs", "table": "t", "type": ["ifname", "ether_addr"], "handle": 2, "elem": [{"concat": ["tapx", "fa:16:3e:00:00:10"]}]}},
 {"chain": {"family": "bridge", "table": "t", "name": "spoof", "handle": 3}},
 {"rule": {"family": "bridge", "table": "t", "chain": "spoof", "handle": 4, "expr": [{"drop": null}]}}]}"#;

const NFT_INET: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
 {"table": {"family": "inet", "name": "t", "handle": 2}},
 {"map": {"family": "inet", "name": "egress4", "table": "t", "type": ["ifname", "ipv4_addr"], "handle": 1, "map": "verdict", "elem": [[{"elem": {"val": {"concat": ["brqnet-1", "10.0.0.10"]}, "comment": "tapx"}}, {"jump": {"target": "pe_00000000000000aa"}}]]}},
 {"map": {"family": "inet", "name": "ingress4", "table": "t", "type": ["ifname", "ipv4_addr"], "handle": 3, "map": "verdict", "elem": [[{"elem": {"val": {"concat": ["brqnet-1", "10.0.0.10"]}, "comment": "tapx"}}, {"jump": {"target": "pi_00000000000000aa"}}]]}},
 {"chain": {"family": "inet", "table": "t", "name": "pe_00000000000000aa", "handle": 2}},
 {"rule": {"family": "inet", "table": "t", "chain": "pe_00000000000000aa", "handle": 3, "expr": [{"drop": null}]}},
 {"chain": {"family": "inet", "table": "t", "name": "pi_00000000000000aa", "handle": 4}}]}"#;

const ADDRS: &str = r#"[{"ifindex":2,"ifname":"ns-dhcp","addr_info":[
 {"family":"inet","local":"10.0.0.2","prefixlen":24,"scope":"global"},
 {"family":"inet","local":"169.254.169.254","prefixlen":32,"scope":"global"},
 {"family":"inet6","local":"fe80::f816:3eff:fe00:2","prefixlen":64,"scope":"link"}]}]"#;

fn snapshot() -> Snapshot {
    let mut s = Snapshot {
        links: serde_json::from_str(LINKS).expect("links"),
        nft_bridge: Some(serde_json::from_str(NFT_BRIDGE).expect("bridge")),
        nft_inet: Some(serde_json::from_str(NFT_INET).expect("inet")),
        ..Snapshot::default()
    };
    let fdb: Value = serde_json::from_str(FDB).expect("fdb");
    s.peers.insert("vxlan-7".into(), view::flood_peers(&fdb));
    let mut d = DhcpView {
        network_id: "net-1".into(),
        namespace: "qdhcp-net-1".into(),
        present: true,
        dnsmasq_pid: Some(4242),
        dnsmasq_alive: true,
        addresses: addresses(&serde_json::from_str(ADDRS).expect("addrs")),
        hosts: Some(2),
        files: Some("/run/ferrostack/network-x/dhcp/net-1".into()),
        ..DhcpView::default()
    };
    d.instances.insert("10.0.0.10".into(), "vm-uuid-1".into());
    s.dhcp.insert("net-1".into(), d);
    s.dhcp.insert(
        "net-9".into(),
        DhcpView {
            network_id: "net-9".into(),
            namespace: "qdhcp-net-9".into(),
            present: true,
            dnsmasq_pid: Some(99),
            ..DhcpView::default()
        },
    );
    s
}

fn host(s: &Snapshot) -> HostView {
    let (networks, unattached_ports, orphan_dhcp) = build(s, "brq");
    HostView {
        netns: Some("h1".into()),
        nft_table: "t".into(),
        state_dir: "/run/ferrostack/network-x".into(),
        networks,
        unattached_ports,
        orphan_dhcp,
        routers: Vec::new(),
        notes: vec!["no nft table inet t\n".into()],
    }
}

#[test]
fn bridges_carry_their_uplink_taps_chains_and_dhcp() {
    let h = host(&snapshot());
    assert_eq!(h.networks.len(), 2);
    let n = &h.networks[0];
    assert_eq!(n.network_id.as_deref(), Some("net-1"));
    assert_eq!((n.mtu, n.admin_up, n.state.as_str()), (1450, true, "UP"));
    match &n.uplinks[..] {
        [UplinkView::Vxlan {
            vni,
            local,
            group,
            peers,
            ..
        }] => {
            assert_eq!(
                (*vni, local.as_deref(), group),
                (Some(7), Some("10.99.0.1"), &None)
            );
            assert_eq!(peers, &["10.99.0.2", "10.99.0.3"]);
        }
        other => panic!("uplinks {other:?}"),
    }
    let p = &n.ports[0];
    assert_eq!(
        (p.tap.as_str(), p.port_id.as_deref()),
        ("tapx", Some("port-1"))
    );
    assert_eq!(p.addresses, ["10.0.0.10"]);
    assert_eq!(p.port_macs, ["fa:16:3e:00:00:10"]);
    assert_eq!(p.instance_id.as_deref(), Some("vm-uuid-1"));
    let chains: Vec<(&str, &str, usize)> = p
        .chains
        .iter()
        .map(|c| (c.family.as_str(), c.name.as_str(), c.rules))
        .collect();
    assert_eq!(
        chains,
        [
            ("inet", "pe_00000000000000aa", 1),
            ("inet", "pi_00000000000000aa", 0)
        ]
    );
    let d = n.dhcp.as_ref().expect("dhcp");
    assert_eq!(d.veth.as_deref(), Some("dhqnet-1"));
    assert_eq!(d.addresses, ["10.0.0.2/24", "169.254.169.254/32"]);
    // The DHCP veth is the DHCP server's, not an uplink or a port.
    assert_eq!((n.uplinks.len(), n.ports.len()), (1, 1));
    // A tap out of every bridge and a DHCP namespace without a bridge.
    assert_eq!(h.unattached_ports[0].port_id.as_deref(), Some("port-2"));
    assert_eq!(h.orphan_dhcp[0].network_id, "net-9");
}

#[test]
fn text_is_a_tree_with_untrusted_strings_escaped() {
    let text = render_text(&host(&snapshot()));
    for needle in [
        "host h1 (nft table t, DHCP state dir /run/ferrostack/network-x)\n",
        "    Bridge brqnet-1\n        network: net-1\n        mtu 1450, admin up, state UP\n",
        "        Uplink vxlan-7\n            type: vxlan, vni: 7, local: 10.99.0.1, dev: ul0, port: 4789\n            peers: [10.99.0.2, 10.99.0.3]\n",
        "        Port tapx\n            port_id: port-1\n            instance: vm-uuid-1\n",
        "            sends from: mac [fa:16:3e:00:00:10] ip [10.0.0.10]\n",
        "            chain inet pe_00000000000000aa: 1 rules\n",
        "        DHCP qdhcp-net-1\n            dnsmasq: pid 4242 running\n",
        "            addresses: [10.0.0.2/24, 169.254.169.254/32]\n            files: /run/ferrostack/network-x/dhcp/net-1\n            hosts: 2, metadata book: 1 instances\n",
        "            group: 239.1.1.5\n",
        "    Taps in no network bridge\n        Port tapy\n",
        "            chains: none",
        "    DHCP namespaces without a bridge\n        DHCP qdhcp-net-9\n            dnsmasq: pid 99 DEAD\n",
        "    note: no nft table inet t\\n\n",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    // An alias carrying a terminal escape is printed quoted and escaped.
    assert!(text.contains("network: \"net-2\\u{1b}[31m\""), "{text}");
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn json_is_one_document_with_typed_uplinks() {
    let v = serde_json::to_value(host(&snapshot())).expect("json");
    assert_eq!(v["networks"][0]["uplinks"][0]["type"], "vxlan");
    assert_eq!(v["networks"][0]["uplinks"][0]["vni"], 7);
    assert_eq!(v["networks"][0]["ports"][0]["port_id"], "port-1");
    assert_eq!(v["networks"][0]["dhcp"]["dnsmasq_pid"], 4242);
    assert_eq!(v["networks"][1]["network_id"], "net-2\u{1b}[31m");
}

#[test]
fn plain_names_are_printed_as_they_are() {
    assert_eq!(esc("brq3f2a9c1e-0b"), "brq3f2a9c1e-0b");
    assert_eq!(esc("a b"), "\"a b\"");
    assert_eq!(esc(""), "\"\"");
    assert_eq!(esc("x\ny"), "\"x\\ny\"");
}

#[test]
fn learned_macs_leave_out_the_ports_own_addresses() {
    let fdb: Value = serde_json::from_str(
        r#"[{"mac":"46:2c:63:04:55:6a","ifname":"tapx","master":"brqnet-1","state":"permanent"},
            {"mac":"fa:16:3e:00:00:11","ifname":"tapx","master":"brqnet-1","state":"static"},
            {"mac":"fa:16:3e:00:00:12","ifname":"tapx","master":"brqnet-1","flags":[]},
            {"mac":"00:00:00:00:00:00","ifname":"vxlan-7","dst":"10.99.0.2","state":"permanent"}]"#,
    )
    .expect("fdb");
    let learned = view::learned_macs(&fdb);
    assert_eq!(learned.len(), 1);
    assert_eq!(learned["tapx"], ["fa:16:3e:00:00:11", "fa:16:3e:00:00:12"]);
}

#[test]
fn a_port_on_a_host_without_its_dhcp_server_names_its_instance_from_qemu() {
    let argv = [
        "qemu-system-x86_64",
        "-name",
        "guest=vm-b",
        "-uuid",
        "vm-uuid-2",
        "-netdev",
        "tap,id=net-tapx,ifname=tapx,script=no,downscript=no",
        "-device",
        "virtio-net-pci,id=nic-tapx,netdev=net-tapx",
    ];
    assert_eq!(
        qemu_taps(argv),
        [("tapx".to_string(), "vm-uuid-2".to_string())]
    );
    assert!(qemu_taps(["qemu-system-x86_64", "-netdev", "tap,ifname=tapx"]).is_empty());
    let mut s = snapshot();
    s.dhcp.clear();
    s.vm_taps = qemu_taps(argv).into_iter().collect();
    let h = host(&s);
    assert_eq!(
        h.networks[0].ports[0].instance_id.as_deref(),
        Some("vm-uuid-2")
    );
}
