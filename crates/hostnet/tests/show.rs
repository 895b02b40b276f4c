//! `net show` against a real data plane: the drivers build a VXLAN
//! network, two ports (one with security groups, one without) and its
//! DHCP server with metadata in a namespace, and the report must name
//! what an operator looks for: the bridge and its network, the VXLAN
//! uplink with VNI and peers, the taps with their port ids and instance,
//! (by address, or by the MAC learned behind a tap without port
//! security), the chains, the DHCP namespace with a live dnsmasq; then a dead
//! dnsmasq must show as dead. Root, iproute2, nft and dnsmasq needed;
//! prints `SKIP:` and passes without them.
//!
//! `FERROSTACK_SHOW_HOLD_SECS=N` keeps the data plane for N seconds after
//! the checks (the namespace name is printed), to run the real
//! `ferrostack net show --netns ... --state-dir ...` against it by hand.

mod support;

use ferrostack_agent::drivers::ObjectDriver;
use ferrostack_agent::metadata_proxy::MetadataProxy;
use ferrostack_host_contract::metadata::{MetadataAnswer, MetadataSource};
use ferrostack_host_contract::network::*;
use ferrostack_hostnet::show::{render_text, show, UplinkView};
use ferrostack_hostnet::{DhcpDriver, NetworkDriver, PortDriver};
use std::sync::Arc;
use support::*;

const WEB: &str = "7b1e2f3a-aaaa-4bbb-8ccc-000000000001";
const BARE: &str = "7b1e2f3a-aaaa-4bbb-8ccc-000000000002";
const VM: &str = "0c9d8e7f-1234-4567-89ab-cdef01234567";
const VM2: &str = "0c9d8e7f-1234-4567-89ab-cdef01234568";

struct NoMetadata;

impl MetadataSource for NoMetadata {
    fn metadata<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
    ) -> ferrostack_host_contract::StateFuture<'a, Option<MetadataAnswer>> {
        Box::pin(async { Ok(None) })
    }
}

fn section() -> NetworkSection {
    let web = group(
        "sg-web",
        vec![
            rule(RuleDirection::Ingress, Some(6), Some(22), Some(22)),
            rule(RuleDirection::Egress, None, None, None),
        ],
    );
    let mut bare = port(BARE, "tapfst2", "fa:16:3e:00:00:11", "10.0.0.11", &[]);
    bare.port_security_enabled = false;
    NetworkSection {
        networks: vec![network(Segment::Vxlan {
            segmentation_id: 1001,
            group: None,
            peers: vec!["10.99.0.2".into(), "10.99.0.3".into()],
        })],
        ports: vec![
            port(
                WEB,
                "tapfst1",
                "fa:16:3e:00:00:10",
                "10.0.0.10",
                &["sg-web"],
            ),
            bare,
        ],
        security_groups: vec![web],
        dhcp: vec![dhcp(vec![
            DhcpHost {
                mac_address: "fa:16:3e:00:00:10".into(),
                ip_address: "10.0.0.10".into(),
                hostname: "vm-1".into(),
                instance_id: Some(VM.into()),
            },
            DhcpHost {
                mac_address: "fa:16:3e:00:00:11".into(),
                ip_address: "10.0.0.11".into(),
                hostname: "vm-2".into(),
                instance_id: Some(VM2.into()),
            },
        ])],
        ..Default::default()
    }
}

#[tokio::test]
async fn show_reports_bridge_uplink_taps_chains_and_dhcp() {
    if skip("show_reports_bridge_uplink_taps_chains_and_dhcp") {
        return;
    }
    let host = TestHost::new();
    let desired = doc(section());
    let proxy = Arc::new(MetadataProxy::new("h1", Arc::new(NoMetadata)));
    let nets = NetworkDriver::new(host.cfg.clone());
    let ports = PortDriver::new(host.cfg.clone());
    let dhcps = DhcpDriver::new(host.cfg.clone()).with_metadata(proxy);
    nets.ensure(&desired, NET).await.expect("network");
    ports.ensure(&desired, WEB).await.expect("port");
    ports.ensure(&desired, BARE).await.expect("bare port");
    let details = dhcps.ensure(&desired, NET).await.expect("dhcp");
    let pid = details["pid"].as_i64().expect("pid") as i32;
    // The bridge has seen the second guest's NIC behind its tap (as it
    // learns it from the guest's first frame).
    sh(&[
        "bridge",
        "-n",
        &host.ns,
        "fdb",
        "add",
        "fa:16:3e:00:00:11",
        "dev",
        "tapfst2",
        "master",
        "static",
    ]);

    let view = show(&host.cfg).await.expect("show");
    let text = render_text(&view);
    eprintln!("{text}");
    assert_eq!(view.networks.len(), 1, "{text}");
    let n = &view.networks[0];
    assert_eq!(n.bridge, "brq3f2a9c1e-0b");
    assert_eq!(n.network_id.as_deref(), Some(NET));
    assert_eq!((n.mtu, n.admin_up), (1450, true));
    match &n.uplinks[..] {
        [UplinkView::Vxlan {
            device,
            vni,
            local,
            group,
            peers,
            ..
        }] => {
            assert_eq!(device, "vxlan-1001");
            assert_eq!(*vni, Some(1001));
            assert_eq!(local.as_deref(), Some("10.99.0.1"));
            assert_eq!(group, &None);
            assert_eq!(peers, &["10.99.0.2", "10.99.0.3"]);
        }
        other => panic!("uplinks {other:?}\n{text}"),
    }
    let taps: Vec<(&str, Option<&str>)> = n
        .ports
        .iter()
        .map(|p| (p.tap.as_str(), p.port_id.as_deref()))
        .collect();
    assert_eq!(taps, [("tapfst1", Some(WEB)), ("tapfst2", Some(BARE))]);
    let web = &n.ports[0];
    assert_eq!(web.instance_id.as_deref(), Some(VM), "{text}");
    assert!(web.addresses.contains(&"10.0.0.10".to_owned()), "{text}");
    assert_eq!(web.port_macs, ["fa:16:3e:00:00:10"]);
    let chains: Vec<(&str, &str)> = web
        .chains
        .iter()
        .map(|c| (c.family.as_str(), &c.name[..3]))
        .collect();
    assert_eq!(chains, [("inet", "pe_"), ("inet", "pi_")], "{text}");
    assert!(web.chains.iter().all(|c| c.rules > 0), "{text}");
    // Port security off: no chains; the instance from the MAC the bridge
    // learned behind the tap, its DHCP lease and the metadata book.
    let bare = &n.ports[1];
    assert!(bare.chains.is_empty(), "{text}");
    assert_eq!(bare.port_macs, ["fa:16:3e:00:00:11"], "{text}");
    assert_eq!(bare.addresses, ["10.0.0.11"], "{text}");
    assert_eq!(bare.instance_id.as_deref(), Some(VM2), "{text}");
    let d = n.dhcp.as_ref().expect("dhcp in the report");
    assert_eq!(d.namespace, format!("{}-d-{NET}", host.ns));
    assert!(d.present);
    assert_eq!((d.dnsmasq_pid, d.dnsmasq_alive), (Some(pid), true));
    assert_eq!(d.veth.as_deref(), Some("dhq3f2a9c1e-0b"));
    assert!(
        d.addresses.contains(&"10.0.0.2/24".to_owned())
            && d.addresses.contains(&"169.254.169.254/32".to_owned()),
        "{text}"
    );
    assert_eq!(d.hosts, Some(2));
    let files = host.cfg.state_dir.join("dhcp").join(NET);
    assert_eq!(d.files.as_deref(), Some(files.to_str().expect("utf-8")));
    assert!(text.contains("    Bridge brq3f2a9c1e-0b\n"), "{text}");
    assert!(
        text.contains(&format!("dnsmasq: pid {pid} running")),
        "{text}"
    );
    assert!(view.notes.is_empty(), "{:?}", view.notes);

    if let Some(secs) = std::env::var("FERROSTACK_SHOW_HOLD_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        eprintln!(
            "HOLD: netns {} state dir {} nft table {} dhcp prefix {}-d-",
            host.ns,
            host.cfg.state_dir.display(),
            host.cfg.nft_table,
            host.ns
        );
        tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
    }

    // A dnsmasq killed behind the agent's back shows as dead.
    sh(&["kill", &pid.to_string()]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let view = show(&host.cfg).await.expect("show");
        let d = view.networks[0].dhcp.clone().expect("dhcp");
        if !d.dnsmasq_alive {
            assert_eq!(d.dnsmasq_pid, Some(pid));
            assert!(render_text(&view).contains(&format!("dnsmasq: pid {pid} DEAD")));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "dnsmasq {pid} still alive"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    ports.remove(WEB).await.expect("remove port");
    ports.remove(BARE).await.expect("remove port");
    dhcps.remove(NET).await.expect("remove dhcp");
    nets.remove(NET).await.expect("remove network");
}
