//! Tests of the SQLite [`NetworkStore`]: IPAM, segments and the in-use rules.

use super::*;
use crate::network::Pool;
use std::sync::Arc;

fn store() -> (crate::testing::Keep, SqliteStore) {
    crate::testing::store()
}

fn network(id: &str) -> Network {
    Network {
        id: id.into(),
        project_id: "p1".into(),
        name: id.into(),
        description: String::new(),
        admin_state_up: true,
        shared: false,
        external: false,
        mtu: 1450,
        port_security_enabled: true,
        network_type: "local".into(),
        physical_network: None,
        segmentation_id: None,
        availability_zone_hints: vec![],
        status: "ACTIVE".into(),
        tags: vec![],
        created_at: 1,
        updated_at: 1,
        revision_number: 1,
        contents_changed_at: 0,
    }
}

fn subnet(id: &str, net: &str, start: &str, end: &str) -> Subnet {
    Subnet {
        id: id.into(),
        network_id: net.into(),
        project_id: "p1".into(),
        name: String::new(),
        description: String::new(),
        ip_version: 4,
        cidr: "10.0.0.0/28".into(),
        gateway_ip: Some("10.0.0.1".into()),
        allocation_pools: vec![Pool {
            start: start.into(),
            end: end.into(),
        }],
        dns_nameservers: vec![],
        host_routes: vec![],
        enable_dhcp: false,
        ipv6_ra_mode: None,
        ipv6_address_mode: None,
        tags: vec![],
        created_at: 1,
        updated_at: 1,
        revision_number: 1,
    }
}

fn port(id: &str, net: &str, mac: &str, owner: &str) -> Port {
    Port {
        id: id.into(),
        network_id: net.into(),
        project_id: "p1".into(),
        name: String::new(),
        description: String::new(),
        admin_state_up: true,
        mac_address: mac.into(),
        fixed_ips: vec![],
        device_owner: owner.into(),
        device_id: String::new(),
        host_id: String::new(),
        vnic_type: "normal".into(),
        vif_details: Default::default(),
        profile: Default::default(),
        allowed_address_pairs: vec![],
        port_security_enabled: true,
        security_groups: vec![],
        status: "DOWN".into(),
        tags: vec![],
        created_at: 1,
        updated_at: 1,
        revision_number: 1,
    }
}

fn any(subnet: &str) -> IpRequest {
    IpRequest {
        subnet_id: subnet.into(),
        ip_address: None,
    }
}

fn conflict(e: StoreError) -> NetworkConflict {
    e.network_conflict().cloned().expect("a network conflict")
}

#[test]
fn ports_take_the_first_free_addresses_and_a_full_pool_refuses() {
    let (_d, s) = store();
    s.create_network(&network("n"), &SegmentRequest::None)
        .unwrap();
    s.create_subnet(&subnet("s", "n", "10.0.0.2", "10.0.0.3"), None)
        .unwrap();
    let a = s
        .create_port(&port("a", "n", "m1", ""), &[any("s")])
        .unwrap();
    assert_eq!(a.fixed_ips[0].ip_address, "10.0.0.2");
    let b = s
        .create_port(&port("b", "n", "m2", ""), &[any("s")])
        .unwrap();
    assert_eq!(b.fixed_ips[0].ip_address, "10.0.0.3");
    let e = s
        .create_port(&port("c", "n", "m3", ""), &[any("s")])
        .unwrap_err();
    assert!(matches!(
        conflict(e),
        NetworkConflict::IpAddressGenerationFailure { .. }
    ));
    assert!(s.get_port("c").unwrap().is_none(), "nothing half-created");
    s.delete_port("a").unwrap();
    let c = s
        .create_port(&port("c", "n", "m3", ""), &[any("s")])
        .unwrap();
    assert_eq!(c.fixed_ips[0].ip_address, "10.0.0.2", "freed on delete");
}

#[test]
fn allocation_follows_the_hint_past_given_addresses_and_reuses_a_freed_one() {
    let (_d, s) = store();
    s.create_network(&network("n"), &SegmentRequest::None)
        .unwrap();
    s.create_subnet(&subnet("s", "n", "10.0.0.2", "10.0.0.20"), None)
        .unwrap();
    let given = IpRequest {
        subnet_id: "s".into(),
        ip_address: Some("10.0.0.4".into()),
    };
    s.create_port(&port("g", "n", "m0", ""), &[given]).unwrap();
    let addr = |id: &str, mac: &str| {
        s.create_port(&port(id, "n", mac, ""), &[any("s")])
            .unwrap()
            .fixed_ips[0]
            .ip_address
            .clone()
    };
    assert_eq!(addr("a", "m1"), "10.0.0.2");
    assert_eq!(addr("b", "m2"), "10.0.0.3");
    assert_eq!(addr("c", "m3"), "10.0.0.5", "the given address is skipped");
    assert_eq!(addr("d", "m4"), "10.0.0.6");
    s.delete_port("b").unwrap();
    assert_eq!(
        addr("e", "m5"),
        "10.0.0.3",
        "a freed address is the first free"
    );
    assert_eq!(addr("f", "m6"), "10.0.0.7");
}

#[test]
fn a_taken_address_or_mac_is_refused_and_nothing_is_written() {
    let (_d, s) = store();
    s.create_network(&network("n"), &SegmentRequest::None)
        .unwrap();
    s.create_subnet(&subnet("s", "n", "10.0.0.2", "10.0.0.14"), None)
        .unwrap();
    let want = IpRequest {
        subnet_id: "s".into(),
        ip_address: Some("10.0.0.9".into()),
    };
    s.create_port(&port("a", "n", "m1", ""), std::slice::from_ref(&want))
        .unwrap();
    let e = s
        .create_port(&port("b", "n", "m2", ""), &[any("s"), want])
        .unwrap_err();
    assert!(matches!(
        conflict(e),
        NetworkConflict::IpAddressAlreadyAllocated { .. }
    ));
    assert!(s.get_port("b").unwrap().is_none());
    // b's first address was rolled back with it.
    let c = s
        .create_port(&port("c", "n", "m2", ""), &[any("s")])
        .unwrap();
    assert_eq!(c.fixed_ips[0].ip_address, "10.0.0.2");
    let e = s.create_port(&port("d", "n", "m1", ""), &[]).unwrap_err();
    assert!(matches!(
        conflict(e),
        NetworkConflict::MacAddressInUse { .. }
    ));
}

#[test]
fn concurrent_creates_never_share_an_address() {
    let (_d, s) = store();
    let s = Arc::new(s);
    s.create_network(&network("n"), &SegmentRequest::None)
        .unwrap();
    s.create_subnet(&subnet("s", "n", "10.0.0.2", "10.0.0.14"), None)
        .unwrap();
    let threads: Vec<_> = (0..30)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || {
                s.create_port(
                    &port(&format!("p{i}"), "n", &format!("m{i}"), ""),
                    &[any("s")],
                )
            })
        })
        .collect();
    let mut addresses = HashSet::new();
    let mut failures = 0;
    for t in threads {
        match t.join().unwrap() {
            Ok(p) => assert!(addresses.insert(p.fixed_ips[0].ip_address.clone())),
            Err(e) => {
                assert!(matches!(
                    conflict(e),
                    NetworkConflict::IpAddressGenerationFailure { .. }
                ));
                failures += 1;
            }
        }
    }
    assert_eq!(addresses.len(), 13);
    assert_eq!(failures, 17);
}

#[test]
fn segments_come_from_the_ranges_and_never_twice() {
    let (_d, s) = store();
    let ranges = SegmentRequest::FromRanges {
        network_type: "vxlan".into(),
        ranges: vec![(String::new(), 5, 6)],
    };
    let given = SegmentRequest::Given {
        network_type: "vxlan".into(),
        physical_network: String::new(),
        segmentation_id: 5,
    };
    let a = s.create_network(&network("a"), &given).unwrap();
    assert_eq!(a.segmentation_id, Some(5));
    let b = s.create_network(&network("b"), &ranges).unwrap();
    assert_eq!(b.segmentation_id, Some(6));
    let e = s.create_network(&network("c"), &ranges).unwrap_err();
    assert_eq!(conflict(e), NetworkConflict::NoNetworkAvailable);
    assert!(s.get_network("c").unwrap().is_none());
    let e = s.create_network(&network("c"), &given).unwrap_err();
    assert!(matches!(conflict(e), NetworkConflict::SegmentInUse { .. }));
    s.delete_network("a").unwrap();
    let c = s.create_network(&network("c"), &ranges).unwrap();
    assert_eq!(c.segmentation_id, Some(5), "freed with its network");
}

#[test]
fn in_use_rules_spare_dhcp_ports() {
    let (_d, s) = store();
    s.create_network(&network("n"), &SegmentRequest::None)
        .unwrap();
    let dhcp = port("d", "n", "md", DHCP_OWNER);
    s.create_subnet(&subnet("s", "n", "10.0.0.2", "10.0.0.14"), Some(&dhcp))
        .unwrap();
    let d = s.get_port("d").unwrap().unwrap();
    assert_eq!(d.fixed_ips[0].ip_address, "10.0.0.2");
    s.create_port(&port("vm", "n", "m1", "compute:nova"), &[any("s")])
        .unwrap();
    let e = s.delete_subnet("s").unwrap_err();
    assert!(matches!(conflict(e), NetworkConflict::SubnetInUse { .. }));
    let e = s.delete_network("n").unwrap_err();
    assert!(matches!(conflict(e), NetworkConflict::NetworkInUse { .. }));
    s.delete_port("vm").unwrap();
    assert!(s.delete_subnet("s").unwrap());
    assert!(s.get_port("d").unwrap().is_none(), "DHCP port went with it");
    assert!(s.delete_network("n").unwrap());
}

#[test]
fn update_port_replaces_addresses_in_one_transaction() {
    let (_d, s) = store();
    s.create_network(&network("n"), &SegmentRequest::None)
        .unwrap();
    s.create_subnet(&subnet("s", "n", "10.0.0.2", "10.0.0.14"), None)
        .unwrap();
    s.create_port(&port("a", "n", "m1", ""), &[any("s")])
        .unwrap();
    let p = s
        .update_port("a", &mut |p| {
            p.name = "x".into();
            Ok(Some(vec![IpRequest {
                subnet_id: "s".into(),
                ip_address: Some("10.0.0.7".into()),
            }]))
        })
        .unwrap()
        .unwrap();
    assert_eq!(p.fixed_ips[0].ip_address, "10.0.0.7");
    assert_eq!(p.revision_number, 2);
    let b = s
        .create_port(&port("b", "n", "m2", ""), &[any("s")])
        .unwrap();
    assert_eq!(b.fixed_ips[0].ip_address, "10.0.0.2", "old address freed");
}

#[test]
fn turning_dhcp_on_and_off_gives_and_takes_the_dhcp_address() {
    let (_d, s) = store();
    s.create_network(&network("n"), &SegmentRequest::None)
        .unwrap();
    s.create_subnet(&subnet("s", "n", "10.0.0.2", "10.0.0.14"), None)
        .unwrap();
    let dhcp = port("d", "n", "md", DHCP_OWNER);
    s.update_subnet(
        "s",
        &mut |s| {
            s.enable_dhcp = true;
            Ok(())
        },
        Some(&dhcp),
    )
    .unwrap();
    let d = s.get_port("d").unwrap().unwrap();
    assert_eq!(d.fixed_ips[0].ip_address, "10.0.0.2");
    s.update_subnet(
        "s",
        &mut |s| {
            s.enable_dhcp = false;
            Ok(())
        },
        None,
    )
    .unwrap();
    assert!(s.get_port("d").unwrap().is_none());
    let p = s
        .create_port(&port("a", "n", "m1", ""), &[any("s")])
        .unwrap();
    assert_eq!(p.fixed_ips[0].ip_address, "10.0.0.2", "the address is free");
}

#[test]
fn a_port_moving_hosts_wakes_the_networks_other_hosts_and_moves_its_contents_time() {
    use crate::server::ServerStore;
    let (_d, s) = store();
    s.create_network(&network("n"), &SegmentRequest::None)
        .unwrap();
    let mut on_a = port("a", "n", "m1", "compute:nova");
    on_a.host_id = "host-a".into();
    s.create_port(&on_a, &[]).unwrap();
    let mut other = network("o");
    other.project_id = "p2".into();
    s.create_network(&other, &SegmentRequest::None).unwrap();
    let mut b = port("b", "o", "m2", "compute:nova");
    b.project_id = "p2".into();
    s.create_port(&b, &[]).unwrap();
    // A port of another project (say, on a shared network) arriving on
    // host-b: host-a carries the network, so its VXLAN peers change.
    let mut c = port("c", "n", "m3", "compute:nova");
    c.project_id = "p2".into();
    s.create_port(&c, &[]).unwrap();
    let a_before = s.host_revision("host-a").unwrap();
    let contents_before = s.get_network("n").unwrap().unwrap().contents_changed_at;
    s.update_port("c", &mut |p| {
        p.host_id = "host-b".into();
        Ok(None)
    })
    .unwrap();
    assert!(s.host_revision("host-a").unwrap() > a_before);
    assert!(s.get_network("n").unwrap().unwrap().contents_changed_at > contents_before);
    // A name change moves neither.
    let a_before = s.host_revision("host-a").unwrap();
    s.update_port("c", &mut |p| {
        p.name = "renamed".into();
        Ok(None)
    })
    .unwrap();
    assert_eq!(s.host_revision("host-a").unwrap(), a_before);
}
