//! Privileged netlink tests: `Kernel`'s requests against a real kernel, in
//! a namespace per test (root needed; `SKIP:` and a pass without it).
//!
//! What they hold: a tap made by ioctl is the tap `ip tuntap add` made and
//! lives in the namespace asked for; devices made by netlink have exactly
//! the attributes iproute2's commands gave them (compared with `ip -d
//! -json`); a link change and an FDB or address change read back the same
//! through `ip`/`bridge` and through `Kernel`.

mod support;

use ferrostack_hostnet::kernel::{BridgeOptions, Kernel, LinkState};
use serde_json::Value;
use std::os::fd::AsRawFd;
use support::*;

fn kernel(host: &TestHost) -> Kernel {
    Kernel::new(Some(host.ns.clone()))
}

/// `ip -d -json link show dev <name>` in the host.
fn details(host: &TestHost, name: &str) -> Value {
    let out = host.ip(&["-d", "-json", "link", "show", "dev", name]);
    let v: Value = serde_json::from_str(&out).expect("ip -json");
    v[0].clone()
}

#[tokio::test]
async fn a_tap_is_made_persistent_in_the_namespace_like_ip_tuntap() {
    if skip("a_tap_is_made_persistent_in_the_namespace_like_ip_tuntap") {
        return;
    }
    let host = TestHost::new();
    let k = kernel(&host);
    k.create_tap("tapnl0").await.expect("tap");
    host.ip(&["tuntap", "add", "dev", "tapip0", "mode", "tap"]);
    let ours = details(&host, "tapnl0");
    let theirs = details(&host, "tapip0");
    assert_eq!(ours["linkinfo"]["info_kind"], "tun");
    assert_eq!(
        ours["linkinfo"]["info_data"], theirs["linkinfo"]["info_data"],
        "same tun flags as ip tuntap (type tap, pi off, vnet_hdr off, persist on)"
    );
    assert_eq!(ours["flags"], theirs["flags"]);
    assert!(
        !sh_ok(&["ip", "link", "show", "dev", "tapnl0"]),
        "the tap must not appear in the test's own namespace"
    );
    let l = k.link("tapnl0").await.expect("read").expect("exists");
    assert_eq!(l.kind(), Some("tun"));
    assert_eq!(l.data("type").and_then(Value::as_str), Some("tap"));
    assert_eq!(l.data("persist").and_then(Value::as_bool), Some(true));
    assert!(
        k.create_tap("tapnl0").await.is_ok(),
        "a tap again is the same tap"
    );
    k.delete_link("tapnl0").await.expect("delete");
    k.delete_link("tapnl0").await.expect("absent is fine");
    assert!(!host.has_link("tapnl0"));
}

#[tokio::test]
async fn devices_made_by_netlink_match_what_iproute2_made() {
    if skip("devices_made_by_netlink_match_what_iproute2_made") {
        return;
    }
    let host = TestHost::new();
    let k = kernel(&host);
    let local = "10.99.0.1".parse().expect("ip");
    for (ours, theirs, group) in [
        ("vxlan-7", "vxlan-8", None),
        ("vxlan-9", "vxlan-10", Some("239.1.1.5")),
    ] {
        let vni = ours.trim_start_matches("vxlan-").parse().expect("vni");
        k.create_vxlan(
            ours,
            vni,
            local,
            "ul0",
            4789,
            group.map(|g| g.parse().expect("ip")),
        )
        .await
        .expect("vxlan");
        let vni2 = theirs.trim_start_matches("vxlan-");
        let mut argv = vec![
            "link",
            "add",
            "name",
            theirs,
            "type",
            "vxlan",
            "id",
            vni2,
            "local",
            "10.99.0.1",
            "dev",
            "ul0",
            "dstport",
            "4789",
        ];
        if let Some(g) = group {
            argv.extend(["group", g]);
        }
        host.ip(&argv);
        let mut a = details(&host, ours)["linkinfo"]["info_data"].clone();
        let mut b = details(&host, theirs)["linkinfo"]["info_data"].clone();
        a["id"] = Value::Null;
        b["id"] = Value::Null;
        assert_eq!(a, b, "{ours} against {theirs}");
        let l = k.link(ours).await.expect("read").expect("exists");
        assert_eq!(l.data("id").and_then(Value::as_u64), Some(u64::from(vni)));
        assert_eq!(l.data("local").and_then(Value::as_str), Some("10.99.0.1"));
        assert_eq!(l.data("link").and_then(Value::as_str), Some("ul0"));
        assert_eq!(l.data("port").and_then(Value::as_u64), Some(4789));
        assert_eq!(l.data("group").and_then(Value::as_str), group);
        assert_eq!(l.data("learning").and_then(Value::as_bool), Some(true));
    }

    let options = BridgeOptions {
        stp: Some(false),
        forward_delay: Some(0),
        ..BridgeOptions::default()
    };
    k.create_bridge("brqnl", &options).await.expect("bridge");
    host.ip(&[
        "link",
        "add",
        "name",
        "brqip",
        "type",
        "bridge",
        "stp_state",
        "0",
        "forward_delay",
        "0",
    ]);
    let keys = [
        "stp_state",
        "forward_delay",
        "nf_call_iptables",
        "nf_call_ip6tables",
    ];
    let pick = |v: &Value| -> Vec<Value> {
        keys.iter()
            .map(|k| v["linkinfo"]["info_data"][*k].clone())
            .collect()
    };
    assert_eq!(
        pick(&details(&host, "brqnl")),
        pick(&details(&host, "brqip"))
    );
    let hooks = BridgeOptions {
        nf_call_iptables: Some(true),
        nf_call_ip6tables: Some(true),
        ..BridgeOptions::default()
    };
    k.set_bridge("brqnl", &hooks).await.expect("options");
    let br = k.link("brqnl").await.expect("read").expect("exists");
    assert_eq!(br.data("nf_call_iptables").and_then(Value::as_u64), Some(1));
    assert_eq!(
        br.data("nf_call_ip6tables").and_then(Value::as_u64),
        Some(1)
    );
    assert_eq!(br.data("stp_state").and_then(Value::as_u64), Some(0));
}

#[tokio::test]
async fn a_link_change_reads_back_through_ip_and_through_links() {
    if skip("a_link_change_reads_back_through_ip_and_through_links") {
        return;
    }
    let host = TestHost::new();
    let k = kernel(&host);
    k.create_bridge("brqrt", &BridgeOptions::default())
        .await
        .expect("bridge");
    k.create_tap("taprt").await.expect("tap");
    let have = k.link("taprt").await.expect("read").expect("exists");
    let want = LinkState {
        mtu: 1400,
        alias: Some("port-1"),
        master: Some("brqrt"),
        up: true,
    };
    k.converge_link(&have, &want).await.expect("converge");
    let ip = details(&host, "taprt");
    assert_eq!(ip["mtu"], 1400);
    assert_eq!(ip["ifalias"], "port-1");
    assert_eq!(ip["master"], "brqrt");
    assert!(ip["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .any(|f| f == "UP"));

    let all = k.links(None).await.expect("dump");
    let tap = all
        .iter()
        .find(|l| l.ifname == "taprt")
        .expect("in the dump");
    let one = k.link("taprt").await.expect("read").expect("exists");
    for l in [tap, &one] {
        assert_eq!(l.mtu, 1400);
        assert_eq!(l.ifalias.as_deref(), Some("port-1"));
        assert_eq!(l.master.as_deref(), Some("brqrt"));
        assert!(l.is_up());
        assert_eq!(
            l.address.as_ref(),
            ip["address"].as_str().map(str::to_owned).as_ref()
        );
        assert_eq!(
            l.operstate.as_ref(),
            ip["operstate"].as_str().map(str::to_owned).as_ref()
        );
    }
    let taps = k.links(Some("tun")).await.expect("taps");
    assert_eq!(
        taps.iter().map(|l| l.ifname.as_str()).collect::<Vec<_>>(),
        ["taprt"]
    );
    assert!(k.link("nosuchlink").await.expect("read").is_none());

    let down = LinkState {
        up: false,
        ..want.clone()
    };
    let before = ferrostack_hostnet::kernel::netlink_requests();
    k.converge_link(&one, &want).await.expect("nothing to do");
    assert_eq!(
        ferrostack_hostnet::kernel::netlink_requests(),
        before,
        "no request when nothing differs"
    );
    k.converge_link(&one, &down).await.expect("down");
    assert!(!k
        .link("taprt")
        .await
        .expect("read")
        .expect("exists")
        .is_up());
    assert!(k.set_master("taprt", "nosuchbridge").await.is_err());
}

#[tokio::test]
async fn a_refused_request_names_itself_and_says_the_kernels_reason() {
    if skip("a_refused_request_names_itself_and_says_the_kernels_reason") {
        return;
    }
    let host = TestHost::new();
    let k = kernel(&host);
    k.create_bridge("brqtwice", &BridgeOptions::default())
        .await
        .expect("bridge");
    let e = k
        .create_bridge("brqtwice", &BridgeOptions::default())
        .await
        .expect_err("it exists");
    let chain = ferrostack_hostnet::error_chain(&e);
    assert!(
        chain.contains("RTM_NEWLINK brqtwice (bridge)") && chain.contains("File exists"),
        "{chain}"
    );
    if !std::path::Path::new("/proc/net/vlan").exists() {
        // No 8021q here: the kernel's own words come with the errno.
        let e = k
            .create_vlan("vl5-test", "ul0", 5)
            .await
            .expect_err("no 8021q");
        let chain = ferrostack_hostnet::error_chain(&e);
        assert!(chain.contains("Unknown device type"), "{chain}");
    }
}

#[tokio::test]
async fn flooding_fdb_entries_append_and_delete_one_peer_at_a_time() {
    if skip("flooding_fdb_entries_append_and_delete_one_peer_at_a_time") {
        return;
    }
    let host = TestHost::new();
    let k = kernel(&host);
    let local = "10.99.0.1".parse().expect("ip");
    k.create_vxlan("vxlan-42", 42, local, "ul0", 4789, None)
        .await
        .expect("vxlan");
    let p2 = "10.99.0.2".parse().expect("ip");
    let p3 = "10.99.0.3".parse().expect("ip");
    k.flood_add("vxlan-42", p2).await.expect("append");
    k.flood_add("vxlan-42", p3).await.expect("append");
    let shown = host.ip(&["link", "show"]);
    assert!(shown.contains("vxlan-42"));
    let fdb = sh(&["bridge", "-n", &host.ns, "fdb", "show", "dev", "vxlan-42"]);
    for p in ["10.99.0.2", "10.99.0.3"] {
        assert!(
            fdb.contains(&format!("00:00:00:00:00:00 dst {p} self permanent")),
            "{fdb}"
        );
    }
    let mut peers = k.flood_peers("vxlan-42").await.expect("read");
    peers.sort();
    assert_eq!(peers, ["10.99.0.2", "10.99.0.3"]);
    k.flood_del("vxlan-42", p2).await.expect("delete");
    k.flood_del("vxlan-42", p2).await.expect("absent is fine");
    let fdb = sh(&["bridge", "-n", &host.ns, "fdb", "show", "dev", "vxlan-42"]);
    assert!(!fdb.contains("dst 10.99.0.2"), "{fdb}");
    assert!(fdb.contains("dst 10.99.0.3"), "{fdb}");
    assert_eq!(
        k.flood_peers("vxlan-42").await.expect("read"),
        ["10.99.0.3"]
    );
}

#[tokio::test]
async fn a_veth_end_goes_to_another_namespace_and_takes_addresses_there() {
    if skip("a_veth_end_goes_to_another_namespace_and_takes_addresses_there") {
        return;
    }
    let host = TestHost::new();
    let other = format!("{}-d-x", host.ns);
    sh(&["ip", "netns", "add", &other]);
    let k = kernel(&host);
    k.create_veth("dhqnl", "ns-dhcp", Some(&other))
        .await
        .expect("veth");
    assert!(host.has_link("dhqnl"));
    assert!(!host.has_link("ns-dhcp"));
    let inner = Kernel::new(Some(other.clone()));
    inner
        .set_mac("ns-dhcp", "fa:16:3e:00:00:02")
        .await
        .expect("mac");
    inner.set_up("ns-dhcp").await.expect("up");
    inner.set_up("lo").await.expect("lo up");
    inner
        .add_address("ns-dhcp", "10.0.0.2/24")
        .await
        .expect("add");
    inner
        .add_address("ns-dhcp", "169.254.169.254/32")
        .await
        .expect("add");
    let shown = sh(&["ip", "-n", &other, "addr", "show", "dev", "ns-dhcp"]);
    assert!(shown.contains("inet 10.0.0.2/24"), "{shown}");
    assert!(shown.contains("fa:16:3e:00:00:02"), "{shown}");
    let mut have = inner.addresses("ns-dhcp").await.expect("read");
    have.sort();
    assert_eq!(have, ["10.0.0.2/24", "169.254.169.254/32"]);
    inner
        .del_address("ns-dhcp", "10.0.0.2/24")
        .await
        .expect("del");
    assert_eq!(
        inner.addresses("ns-dhcp").await.expect("read"),
        ["169.254.169.254/32"]
    );
    let l = inner.link("ns-dhcp").await.expect("read").expect("exists");
    assert_eq!(l.address.as_deref(), Some("fa:16:3e:00:00:02"));
    assert_eq!(l.link, None, "its peer is in another namespace");
    k.delete_link("dhqnl").await.expect("delete");
    assert!(inner.link("ns-dhcp").await.expect("read").is_none());
}

#[test]
fn a_kernel_without_a_namespace_talks_to_the_threads_own() {
    if skip("a_kernel_without_a_namespace_talks_to_the_threads_own") {
        return;
    }
    // What the network benchmark does: runtime threads that entered the
    // host namespace, and `Kernel::new(None)`.
    let host = TestHost::new();
    let ns = std::fs::File::open(format!("/run/netns/{}", host.ns)).expect("netns");
    let fd = ns.as_raw_fd();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            // SAFETY: setns(2) on this runtime's own threads, with a
            // namespace file that outlives the runtime.
            #[allow(unsafe_code)]
            let rc = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns");
        })
        .build()
        .expect("runtime");
    rt.block_on(async {
        tokio::spawn(async {
            let k = Kernel::new(None);
            k.create_tap("tapself").await.expect("tap");
            k.create_bridge("brqself", &BridgeOptions::default())
                .await
                .expect("bridge");
            assert!(k.link("ul0").await.expect("read").is_some());
        })
        .await
        .expect("task");
    });
    drop(rt);
    assert!(host.has_link("tapself"));
    assert!(host.has_link("brqself"));
    assert!(!sh_ok(&["ip", "link", "show", "dev", "tapself"]));
}
