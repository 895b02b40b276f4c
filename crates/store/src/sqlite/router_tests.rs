//! Tests of the SQLite [`RouterStore`]: ports with their router in one
//! transaction, refusals that leave nothing, the host's revision.

use super::*;
use crate::network::{HostRoute, Network, NetworkStore, Pool, SegmentRequest, Subnet};
use crate::server::ServerStore;

fn store() -> (crate::testing::Keep, SqliteStore) {
    crate::testing::store()
}

/// A network `id` with one subnet `{id}-s` of 10.0.`n`.0/24.
fn net_with_subnet(s: &SqliteStore, id: &str, n: u8) {
    let network = Network {
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
    };
    s.create_network(&network, &SegmentRequest::None).unwrap();
    let subnet = Subnet {
        id: format!("{id}-s"),
        network_id: id.into(),
        project_id: "p1".into(),
        name: String::new(),
        description: String::new(),
        ip_version: 4,
        cidr: format!("10.0.{n}.0/24"),
        gateway_ip: Some(format!("10.0.{n}.1")),
        allocation_pools: vec![Pool {
            start: format!("10.0.{n}.2"),
            end: format!("10.0.{n}.254"),
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

fn router(id: &str) -> Router {
    Router {
        id: id.into(),
        project_id: "p1".into(),
        name: id.into(),
        description: String::new(),
        admin_state_up: true,
        status: "ACTIVE".into(),
        gateway: None,
        routes: vec![],
        availability_zone_hints: vec![],
        tags: vec![],
        host: "net-host".into(),
        created_at: 1,
        updated_at: 1,
        contents_changed_at: 1,
        revision_number: 1,
    }
}

fn port(id: &str, net: &str, mac: &str, owner: &str, router: &str) -> Port {
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
        device_id: router.into(),
        host_id: "net-host".into(),
        vnic_type: "normal".into(),
        vif_details: Default::default(),
        profile: Default::default(),
        allowed_address_pairs: vec![],
        port_security_enabled: true,
        security_groups: vec![],
        status: "ACTIVE".into(),
        tags: vec![],
        created_at: 1,
        updated_at: 1,
        revision_number: 1,
    }
}

fn at(subnet: &str, ip: &str) -> IpRequest {
    IpRequest {
        subnet_id: subnet.into(),
        ip_address: Some(ip.into()),
    }
}

fn accept(_: &Router, _: &[Port]) -> Result<(), Refusal> {
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error("no")]
struct No;

#[test]
fn a_gateway_without_an_address_leaves_no_router_and_no_port() {
    let (_d, s) = store();
    net_with_subnet(&s, "ext", 9);
    let gw = port("gw", "ext", "m1", ROUTER_GATEWAY_OWNER, "r1");
    // A second router asking for the first one's gateway address.
    s.create_router(
        &router("r0"),
        Some((&gw, &[at("ext-s", "10.0.9.5")])),
        &mut accept,
    )
    .unwrap();
    let gw2 = port("gw2", "ext", "m2", ROUTER_GATEWAY_OWNER, "r1");
    let e = s
        .create_router(
            &router("r1"),
            Some((&gw2, &[at("ext-s", "10.0.9.5")])),
            &mut accept,
        )
        .unwrap_err();
    assert!(e.network_conflict().is_some(), "{e:?}");
    assert!(s.get_router("r1").unwrap().is_none());
    assert!(s.get_port("gw2").unwrap().is_none());
}

#[test]
fn a_refused_interface_leaves_no_port_and_an_interface_keeps_the_router_in_use() {
    let (_d, s) = store();
    net_with_subnet(&s, "a", 1);
    s.create_router(&router("r1"), None, &mut accept).unwrap();
    let p = port("i1", "a", "m1", ROUTER_INTERFACE_OWNER, "r1");
    let ips = [at("a-s", "10.0.1.1")];
    let add = InterfaceAdd::NewPort {
        port: &p,
        ips: &ips,
    };
    let e = s
        .add_interface("r1", add, &mut |_, _| Err(Box::new(No)))
        .unwrap_err();
    assert!(matches!(e, StoreError::Refused(_)));
    assert!(s.get_port("i1").unwrap().is_none());

    let before = s.get_router("r1").unwrap().unwrap();
    let added = s.add_interface("r1", add, &mut accept).unwrap();
    assert_eq!(added.fixed_ips[0].ip_address, "10.0.1.1");
    let after = s.get_router("r1").unwrap().unwrap();
    assert!(after.contents_changed_at > before.contents_changed_at);
    assert_eq!(s.router_ports("r1").unwrap().len(), 1);

    let e = s.delete_router("r1").unwrap_err();
    assert_eq!(
        e.router_conflict(),
        Some(&RouterConflict::RouterInUse {
            router_id: "r1".into(),
            ports: "i1".into()
        })
    );
    let removed = s
        .remove_interface("r1", InterfaceRemove::Subnet("a-s"), &mut accept)
        .unwrap();
    assert!(removed.deleted);
    assert!(s.get_port("i1").unwrap().is_none());
    assert!(s.get_router("r1").unwrap().unwrap().contents_changed_at > after.contents_changed_at);
    assert!(s.delete_router("r1").unwrap().is_some());
}

#[test]
fn an_existing_port_of_a_device_is_in_use() {
    let (_d, s) = store();
    net_with_subnet(&s, "a", 1);
    s.create_router(&router("r1"), None, &mut accept).unwrap();
    let vm = port("vm", "a", "m1", "compute:nova", "server-1");
    s.create_port(&vm, &[at("a-s", "10.0.1.7")]).unwrap();
    let add = InterfaceAdd::Existing {
        port_id: "vm",
        attach: &|_| {},
    };
    let e = s.add_interface("r1", add, &mut accept).unwrap_err();
    assert!(matches!(
        e.router_conflict(),
        Some(RouterConflict::PortInUse { .. })
    ));
    let free = port("free", "a", "m2", "", "");
    s.create_port(&free, &[at("a-s", "10.0.1.8")]).unwrap();
    let add = InterfaceAdd::Existing {
        port_id: "free",
        attach: &|p| p.status = "ACTIVE".into(),
    };
    let p = s.add_interface("r1", add, &mut accept).unwrap();
    assert_eq!(
        (
            p.device_owner.as_str(),
            p.device_id.as_str(),
            p.host_id.as_str()
        ),
        (ROUTER_INTERFACE_OWNER, "r1", "net-host")
    );
}

#[test]
fn a_route_change_moves_the_router_hosts_revision_and_a_rename_does_not() {
    let (_d, s) = store();
    s.create_router(&router("r1"), None, &mut accept).unwrap();
    let before = s.host_revision("net-host").unwrap();
    s.update_router(
        "r1",
        &mut |r| {
            r.routes.push(HostRoute {
                destination: "10.9.0.0/16".into(),
                nexthop: "10.0.1.9".into(),
            });
            Ok(())
        },
        GatewayPort::Keep,
        &mut accept,
    )
    .unwrap();
    let routed = s.host_revision("net-host").unwrap();
    assert!(routed > before);
    s.update_router(
        "r1",
        &mut |r| {
            r.name = "renamed".into();
            Ok(())
        },
        GatewayPort::Keep,
        &mut accept,
    )
    .unwrap();
    assert_eq!(s.host_revision("net-host").unwrap(), routed);
}
