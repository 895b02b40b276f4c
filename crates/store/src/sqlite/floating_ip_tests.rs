//! Tests of the SQLite [`FloatingIpStore`]: the port and the row together,
//! the association's uniqueness, and what a write bumps.

use super::*;
use crate::floating_ip::FLOATINGIP_OWNER;
use crate::network::{Network, NetworkStore, Pool, SegmentRequest, Subnet};
use crate::server::ServerStore;

fn store() -> (crate::testing::Keep, SqliteStore) {
    crate::testing::store()
}

fn network(s: &SqliteStore, id: &str, cidr: &str, start: &str, end: &str) {
    let json = serde_json::json!({
        "id": id, "project_id": "admin", "name": id, "description": "",
        "admin_state_up": true, "shared": false, "external": true, "mtu": 1500,
        "port_security_enabled": true, "network_type": "local",
        "physical_network": null, "segmentation_id": null,
        "availability_zone_hints": [], "status": "ACTIVE", "tags": [],
        "created_at": 1, "updated_at": 1, "revision_number": 1,
    });
    let n: Network = serde_json::from_value(json).unwrap();
    s.create_network(&n, &SegmentRequest::None).unwrap();
    let subnet = Subnet {
        id: format!("{id}-s"),
        network_id: id.into(),
        project_id: "admin".into(),
        name: String::new(),
        description: String::new(),
        ip_version: 4,
        cidr: cidr.into(),
        gateway_ip: None,
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
    };
    s.create_subnet(&subnet, None).unwrap();
}

fn port(id: &str, net: &str, mac: &str, owner: &str, device: &str, host: &str) -> Port {
    let json = serde_json::json!({
        "id": id, "network_id": net, "project_id": "p1", "name": "", "description": "",
        "admin_state_up": true, "mac_address": mac, "fixed_ips": [],
        "device_owner": owner, "device_id": device, "host_id": host,
        "vnic_type": "normal", "vif_details": {}, "profile": {},
        "allowed_address_pairs": [], "port_security_enabled": false,
        "security_groups": [], "status": "ACTIVE", "tags": [],
        "created_at": 1, "updated_at": 1, "revision_number": 1,
    });
    serde_json::from_value(json).unwrap()
}

fn any(subnet: &str) -> IpRequest {
    IpRequest {
        subnet_id: subnet.into(),
        ip_address: None,
    }
}

fn fip(id: &str) -> FloatingIpRecord {
    FloatingIpRecord {
        id: id.into(),
        project_id: "p1".into(),
        floating_network_id: "ext".into(),
        floating_ip_address: String::new(),
        floating_port_id: String::new(),
        port_id: None,
        fixed_ip_address: None,
        router_id: None,
        description: String::new(),
        tags: vec![],
        status: "DOWN".into(),
        created_at: 1,
        updated_at: 1,
        revision_number: 1,
    }
}

fn fip_port(fip: &str, mac: &str) -> Port {
    let mut p = port(
        &format!("{fip}-port"),
        "ext",
        mac,
        FLOATINGIP_OWNER,
        fip,
        "",
    );
    p.project_id = String::new();
    p
}

/// An external network `ext` (203.0.113.10-11), a tenant network `t` with
/// a VM port `vm` (10.0.0.x), and router `r1`: an interface port on `t`
/// and a gateway port on `ext` bound to `net-host`.
fn topology() -> (crate::testing::Keep, SqliteStore) {
    let (d, s) = store();
    network(&s, "ext", "203.0.113.0/24", "203.0.113.10", "203.0.113.11");
    network(&s, "t", "10.0.0.0/24", "10.0.0.2", "10.0.0.50");
    let vm = port("vm", "t", "m1", "compute:nova", "server", "compute-1");
    s.create_port(&vm, &[any("t-s")]).unwrap();
    let gw = port("gw", "ext", "m2", ROUTER_GATEWAY_OWNER, "r1", "net-host");
    s.create_port(&gw, &[any("ext-s")]).unwrap();
    (d, s)
}

fn associate(s: &SqliteStore, id: &str) -> StoreResult<Option<FloatingIpRecord>> {
    s.update_floating_ip(id, &mut |f| {
        f.port_id = Some("vm".into());
        f.fixed_ip_address = Some("10.0.0.2".into());
        f.router_id = Some("r1".into());
        Ok(())
    })
}

#[test]
fn create_takes_an_address_with_the_port_and_a_refused_one_leaves_nothing() {
    let (_d, s) = topology();
    let a = s
        .create_floating_ip(&fip("a"), &fip_port("a", "m3"), &any("ext-s"))
        .unwrap();
    // .10 went to the router's gateway.
    assert_eq!(a.floating_ip_address, "203.0.113.11");
    assert_eq!(a.floating_port_id, "a-port");
    let p = s.get_port("a-port").unwrap().unwrap();
    assert_eq!(p.device_owner, FLOATINGIP_OWNER);
    assert_eq!(s.get_floating_ip("a").unwrap(), Some(a.clone()));
    assert_eq!(s.list_floating_ips().unwrap(), [a]);

    let e = s
        .create_floating_ip(&fip("b"), &fip_port("b", "m4"), &any("ext-s"))
        .unwrap_err();
    assert!(e.network_conflict().is_some(), "{e}");
    assert!(s.get_floating_ip("b").unwrap().is_none());
    assert!(s.get_port("b-port").unwrap().is_none());

    assert!(s.delete_floating_ip("a").unwrap());
    assert!(s.get_port("a-port").unwrap().is_none(), "the port goes too");
    let b = s
        .create_floating_ip(&fip("b"), &fip_port("b", "m4"), &any("ext-s"))
        .unwrap();
    assert_eq!(b.floating_ip_address, "203.0.113.11", "the address is free");
    assert!(!s.delete_floating_ip("a").unwrap());
}

#[test]
fn one_floating_ip_per_fixed_address_and_network() {
    let (_d, s) = store();
    network(&s, "ext", "203.0.113.0/24", "203.0.113.10", "203.0.113.20");
    network(&s, "t", "10.0.0.0/24", "10.0.0.2", "10.0.0.50");
    s.create_port(
        &port("vm", "t", "m1", "compute:nova", "x", ""),
        &[any("t-s")],
    )
    .unwrap();
    for (id, mac) in [("a", "m3"), ("b", "m4")] {
        s.create_floating_ip(&fip(id), &fip_port(id, mac), &any("ext-s"))
            .unwrap();
    }
    let a = associate(&s, "a").unwrap().unwrap();
    assert_eq!(a.status, "ACTIVE");
    let e = associate(&s, "b").unwrap_err();
    assert!(
        matches!(
            e.floating_ip_conflict(),
            Some(FloatingIpConflict::PortAlreadyAssociated { fip_id, .. }) if fip_id == "b"
        ),
        "{e}"
    );
    assert_eq!(s.get_floating_ip("b").unwrap().unwrap().port_id, None);
}

#[test]
fn association_changes_bump_the_gateway_host_and_the_routers_change_time() {
    let (_d, s) = topology();
    s.create_floating_ip(&fip("a"), &fip_port("a", "m3"), &any("ext-s"))
        .unwrap();
    let rev = || s.host_revision("net-host").unwrap();
    let changed = || s.floating_ips_changed_at("r1").unwrap();
    assert_eq!(changed(), 0);

    let before = rev();
    associate(&s, "a").unwrap();
    assert!(rev() > before, "associate");
    let t1 = changed();
    assert!(t1 > 0);

    let before = rev();
    s.update_floating_ip("a", &mut |f| {
        f.description = "web".into();
        Ok(())
    })
    .unwrap();
    assert_eq!(rev(), before, "a description is not the host's business");

    s.update_floating_ip("a", &mut |f| {
        f.port_id = None;
        Ok(())
    })
    .unwrap();
    let a = s.get_floating_ip("a").unwrap().unwrap();
    assert_eq!(
        (a.status.as_str(), a.router_id, a.fixed_ip_address),
        ("DOWN", None, None)
    );
    assert!(rev() > before, "disassociate");
    assert!(changed() >= t1);

    associate(&s, "a").unwrap();
    let before = rev();
    s.delete_floating_ip("a").unwrap();
    assert!(rev() > before, "delete of an associated one");
}

#[test]
fn deleting_the_fixed_port_disassociates_and_bumps_the_gateway_host() {
    let (_d, s) = topology();
    s.create_floating_ip(&fip("a"), &fip_port("a", "m3"), &any("ext-s"))
        .unwrap();
    associate(&s, "a").unwrap();
    let before = s.host_revision("net-host").unwrap();
    assert!(s.delete_port("vm").unwrap());
    let a = s.get_floating_ip("a").unwrap().unwrap();
    assert_eq!(a.port_id, None);
    assert_eq!(a.status, "DOWN");
    assert!(s.host_revision("net-host").unwrap() > before);
}

#[test]
fn a_fixed_address_taken_off_the_port_loses_its_floating_ip() {
    let (_d, s) = topology();
    s.create_floating_ip(&fip("a"), &fip_port("a", "m3"), &any("ext-s"))
        .unwrap();
    associate(&s, "a").unwrap();
    let keep_it = |s: &SqliteStore| {
        s.update_port("vm", &mut |p| {
            p.name = "renamed".into();
            Ok(None)
        })
        .unwrap()
    };
    keep_it(&s);
    assert!(s.get_floating_ip("a").unwrap().unwrap().port_id.is_some());
    let other = IpRequest {
        subnet_id: "t-s".into(),
        ip_address: Some("10.0.0.40".into()),
    };
    s.update_port("vm", &mut |_| Ok(Some(vec![other.clone()])))
        .unwrap();
    let a = s.get_floating_ip("a").unwrap().unwrap();
    assert_eq!((a.port_id, a.status.as_str()), (None, "DOWN"));
}
