//! Routers through HTTP: lifecycle, the gateway on an external network,
//! interfaces by subnet and by port with Neutron's errors (and nothing
//! created when refused), static routes, other projects' routers, the
//! router quota, and the network host's document (with the floating IPs
//! associated through a router, which keep its interface and gateway).

#![allow(clippy::unwrap_used)]

mod common;

use common::{create, ids, net_with_subnet, neutron_error, post};
use ferrostack_host_contract::network::{
    DesiredPort, DesiredRouter, FixedIp, FloatingIp, RouterSubnet,
};
use ferrostack_network::host_section::{tap_name, HostSections};
use ferrostack_network::NetworkState;
use ferrostack_quota::NETWORK;
use ferrostack_store::server::ServerStore;
use ferrostack_testkit::{Reply, Served};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};

async fn start() -> (Served, Arc<NetworkState>) {
    let slot: Arc<OnceLock<Arc<NetworkState>>> = Arc::default();
    let keep = slot.clone();
    let n = Served::start("/v2.0", move |s, public_url| {
        let config = ferrostack_network::NetworkConfig {
            public_url,
            validator: s.validator(),
            quotas: s.quotas.clone(),
            projects: s.projects.clone(),
            store: Arc::new(s.store.clone()),
            ml2: common::ml2(),
            security_groups: Arc::new(s.store.clone()),
            routers: Arc::new(s.store.clone()),
        };
        let state = NetworkState::new(&config);
        keep.set(state.clone()).ok();
        ferrostack_network::router_for(state, config.validator)
    })
    .await;
    let state = slot.get().unwrap().clone();
    (n, state)
}

/// The admin's external flat network on physnet1 with 172.24.4.0/24.
async fn external(n: &Served, admin: &str) -> (Value, Value) {
    let net = create(
        n,
        admin,
        "network",
        json!({"name": "public", "router:external": true,
               "provider:network_type": "flat", "provider:physical_network": "physnet1"}),
    )
    .await;
    let subnet = create(
        n,
        admin,
        "subnet",
        json!({"network_id": net["id"], "ip_version": 4, "cidr": "172.24.4.0/24",
               "enable_dhcp": false}),
    )
    .await;
    (net, subnet)
}

async fn put(n: &Served, token: &str, path: &str, body: Value) -> Reply {
    n.s.send(Method::PUT, &n.url(path), token, body).await
}

async fn delete(n: &Served, token: &str, path: &str) -> Reply {
    n.s.call(n.s.req(Method::DELETE, &n.url(path), token)).await
}

async fn add_interface(n: &Served, token: &str, router: &Value, body: Value) -> Reply {
    let id = router["id"].as_str().unwrap();
    put(
        n,
        token,
        &format!("/routers/{id}/add_router_interface"),
        body,
    )
    .await
}

async fn remove_interface(n: &Served, token: &str, router: &Value, body: Value) -> Reply {
    let id = router["id"].as_str().unwrap();
    put(
        n,
        token,
        &format!("/routers/{id}/remove_router_interface"),
        body,
    )
    .await
}

async fn router_ports(n: &Served, token: &str, router: &Value) -> Vec<Value> {
    let id = router["id"].as_str().unwrap();
    let r =
        n.s.get(&n.url(&format!("/ports?device_id={id}")), token)
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["ports"].as_array().unwrap().clone()
}

fn usage(n: &Served, resource: &str) -> i64 {
    n.s.quotas
        .usage(&NETWORK, &n.project)
        .unwrap()
        .get(resource)
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_router_is_created_shown_listed_updated_and_deleted() {
    let (n, _) = start().await;
    let p = n.s.personas(&n.project).await;
    let r = create(&n, &p.member, "router", json!({"name": "r1"})).await;
    assert_eq!(r["status"], "ACTIVE");
    assert_eq!(r["admin_state_up"], true);
    assert_eq!(r["external_gateway_info"], Value::Null);
    assert_eq!(r["routes"], json!([]));
    assert_eq!(r["availability_zones"], json!(["nova"]));
    assert_eq!(r["project_id"], n.project.as_str());
    assert_eq!(usage(&n, "router"), 1);
    let id = r["id"].as_str().unwrap();

    let shown = n.s.get(&n.url(&format!("/routers/{id}")), &p.reader).await;
    assert_eq!(shown.body["router"], r);
    let listed = n.s.get(&n.url("/routers?name=r1"), &p.reader).await;
    assert_eq!(ids(&listed, "routers"), [id]);

    let updated = put(
        &n,
        &p.member,
        &format!("/routers/{id}"),
        json!({"router": {"name": "r2", "admin_state_up": false}}),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["router"]["name"], "r2");
    assert_eq!(updated.body["router"]["admin_state_up"], false);
    assert_eq!(updated.body["router"]["revision_number"], 2);

    let refused = put(
        &n,
        &p.reader,
        &format!("/routers/{id}"),
        json!({"router": {"name": "r3"}}),
    )
    .await;
    neutron_error(&refused, 403);
    let refused = put(
        &n,
        &p.member,
        &format!("/routers/{id}"),
        json!({"router": {"status": "DOWN"}}),
    )
    .await;
    neutron_error(&refused, 400);

    assert_eq!(
        delete(&n, &p.member, &format!("/routers/{id}"))
            .await
            .status,
        204
    );
    let gone = n.s.get(&n.url(&format!("/routers/{id}")), &p.member).await;
    assert_eq!(neutron_error(&gone, 404).0, "RouterNotFound");
    assert_eq!(usage(&n, "router"), 0);
}

#[tokio::test]
async fn a_gateway_needs_an_external_network_and_snat_is_an_admins_choice() {
    let (n, _) = start().await;
    let p = n.s.personas(&n.project).await;
    let (public, public_subnet) = external(&n, &p.admin).await;
    let (private, _) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;

    // Not external: 400, and no router is left behind.
    let r = post(
        &n,
        &p.member,
        "router",
        json!({"name": "r", "external_gateway_info": {"network_id": private["id"]}}),
    )
    .await;
    let (kind, message) = neutron_error(&r, 400);
    assert_eq!(kind, "HTTPBadRequest");
    assert!(message.contains("is not an external network"), "{message}");
    // SNAT and the gateway's addresses are an admin's to choose.
    let r = post(
        &n,
        &p.member,
        "router",
        json!({"external_gateway_info": {"network_id": public["id"], "enable_snat": false}}),
    )
    .await;
    neutron_error(&r, 403);
    let listed = n.s.get(&n.url("/routers"), &p.member).await;
    assert!(ids(&listed, "routers").is_empty());
    assert_eq!(usage(&n, "router"), 0);

    let r = create(
        &n,
        &p.member,
        "router",
        json!({"name": "r", "external_gateway_info": {"network_id": public["id"]}}),
    )
    .await;
    let gw = &r["external_gateway_info"];
    assert_eq!(gw["network_id"], public["id"]);
    assert_eq!(gw["enable_snat"], true);
    assert_eq!(
        gw["external_fixed_ips"][0]["subnet_id"],
        public_subnet["id"]
    );
    assert_eq!(gw["external_fixed_ips"][0]["ip_address"], "172.24.4.2");

    // The gateway port is no project's: the member does not see it.
    assert!(router_ports(&n, &p.member, &r).await.is_empty());
    let ports = router_ports(&n, &p.admin, &r).await;
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["device_owner"], "network:router_gateway");
    assert_eq!(ports[0]["project_id"], "");
    assert_eq!(ports[0]["binding:host_id"], "net-host");
    assert_eq!(usage(&n, "port"), 0);

    // The network cannot stop being external under the gateway.
    let nid = public["id"].as_str().unwrap();
    let refused = put(
        &n,
        &p.admin,
        &format!("/networks/{nid}"),
        json!({"network": {"router:external": false}}),
    )
    .await;
    assert_eq!(neutron_error(&refused, 409).0, "ExternalNetworkInUse");

    // An admin turns SNAT off; clearing the gateway deletes its port.
    let id = r["id"].as_str().unwrap();
    let off = put(
        &n,
        &p.admin,
        &format!("/routers/{id}"),
        json!({"router": {"external_gateway_info":
            {"network_id": public["id"], "enable_snat": false}}}),
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(
        off.body["router"]["external_gateway_info"]["enable_snat"],
        false
    );
    assert_eq!(
        off.body["router"]["external_gateway_info"]["external_fixed_ips"], gw["external_fixed_ips"],
        "the same port keeps its address"
    );
    let cleared = put(
        &n,
        &p.member,
        &format!("/routers/{id}"),
        json!({"router": {"external_gateway_info": {}}}),
    )
    .await;
    assert_eq!(cleared.body["router"]["external_gateway_info"], Value::Null);
    assert!(router_ports(&n, &p.admin, &r).await.is_empty());
}

#[tokio::test]
async fn interfaces_by_subnet_and_by_port_and_their_errors() {
    let (n, _) = start().await;
    let p = n.s.personas(&n.project).await;
    let r = create(&n, &p.member, "router", json!({"name": "r"})).await;
    let (_, a) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;
    let info = add_interface(&n, &p.member, &r, json!({"subnet_id": a["id"]})).await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.body["id"], r["id"]);
    assert_eq!(info.body["subnet_ids"], json!([a["id"]]));
    let ports = router_ports(&n, &p.member, &r).await;
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["id"], info.body["port_id"]);
    assert_eq!(ports[0]["device_owner"], "network:router_interface");
    assert_eq!(ports[0]["fixed_ips"][0]["ip_address"], "10.0.0.1");
    assert_eq!(usage(&n, "port"), 1);

    // The same subnet again, an overlapping one, one with no gateway:
    // 400, and no port.
    let again = add_interface(&n, &p.member, &r, json!({"subnet_id": a["id"]})).await;
    assert!(neutron_error(&again, 400)
        .1
        .contains("already has a port on subnet"));
    let (net, wide) = net_with_subnet(&n, &p.member, "10.0.0.0/16", false).await;
    let overlap = add_interface(&n, &p.member, &r, json!({"subnet_id": wide["id"]})).await;
    assert!(neutron_error(&overlap, 400)
        .1
        .contains("overlaps with cidr 10.0.0.0/24"));
    // (The test's ML2 ranges have three VNIs: a second subnet on that network.)
    let nogw = create(
        &n,
        &p.member,
        "subnet",
        json!({"network_id": net["id"], "ip_version": 4, "cidr": "10.5.0.0/24",
               "gateway_ip": null, "enable_dhcp": false}),
    )
    .await;
    let r2 = add_interface(&n, &p.member, &r, json!({"subnet_id": nogw["id"]})).await;
    assert!(neutron_error(&r2, 400).1.contains("must have a gateway IP"));
    let neither = add_interface(&n, &p.member, &r, json!({})).await;
    neutron_error(&neither, 400);
    assert_eq!(router_ports(&n, &p.member, &r).await.len(), 1);
    assert_eq!(usage(&n, "port"), 1);

    // By port: a free port is taken; a server's is in use.
    let (c_net, c) = net_with_subnet(&n, &p.member, "10.2.0.0/24", false).await;
    let free = create(&n, &p.member, "port", json!({"network_id": c_net["id"]})).await;
    let by_port = add_interface(&n, &p.member, &r, json!({"port_id": free["id"]})).await;
    assert_eq!(by_port.status, 200, "{}", by_port.body);
    assert_eq!(by_port.body["subnet_ids"], json!([c["id"]]));
    let busy = create(
        &n,
        &p.member,
        "port",
        json!({"network_id": c_net["id"], "device_id": "a-server", "device_owner": "compute:nova"}),
    )
    .await;
    let in_use = add_interface(&n, &p.member, &r, json!({"port_id": busy["id"]})).await;
    assert_eq!(neutron_error(&in_use, 409).0, "PortInUse");

    // The router is in use; its ports are not for `port delete`.
    let rid = r["id"].as_str().unwrap();
    let refused = delete(&n, &p.member, &format!("/routers/{rid}")).await;
    assert_eq!(neutron_error(&refused, 409).0, "RouterInUse");
    let pid = free["id"].as_str().unwrap();
    let refused = delete(&n, &p.member, &format!("/ports/{pid}")).await;
    let (kind, message) = neutron_error(&refused, 409);
    assert_eq!(kind, "ServicePortInUse");
    assert!(message.contains("network:router_interface"), "{message}");

    let out = remove_interface(&n, &p.member, &r, json!({"subnet_id": a["id"]})).await;
    assert_eq!(out.status, 200, "{}", out.body);
    let out = remove_interface(&n, &p.member, &r, json!({"port_id": free["id"]})).await;
    assert_eq!(out.status, 200, "{}", out.body);
    let out = remove_interface(&n, &p.member, &r, json!({"port_id": free["id"]})).await;
    assert_eq!(neutron_error(&out, 404).0, "RouterInterfaceNotFound");
    let out = remove_interface(&n, &p.member, &r, json!({"subnet_id": a["id"]})).await;
    assert_eq!(
        neutron_error(&out, 404).0,
        "RouterInterfaceNotFoundForSubnet"
    );
    assert!(router_ports(&n, &p.member, &r).await.is_empty());
    // The port made for the subnet and the user's port (deleted with its
    // interface, as Neutron does) gave back their quota.
    assert_eq!(usage(&n, "port"), 1, "the server's port remains");
    assert_eq!(
        delete(&n, &p.member, &format!("/routers/{rid}"))
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn two_overlapping_subnets_added_at_once_leave_one_interface() {
    let (n, _) = start().await;
    let p = n.s.personas(&n.project).await;
    let r = create(&n, &p.member, "router", json!({"name": "r"})).await;
    let (_, a) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;
    let (_, b) = net_with_subnet(&n, &p.member, "10.0.0.0/16", false).await;
    let (ra, rb) = tokio::join!(
        add_interface(&n, &p.member, &r, json!({"subnet_id": a["id"]})),
        add_interface(&n, &p.member, &r, json!({"subnet_id": b["id"]})),
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "{} / {}", ra.body, rb.body);
    assert_eq!(router_ports(&n, &p.member, &r).await.len(), 1);
    assert_eq!(usage(&n, "port"), 1);
}

#[tokio::test]
async fn routes_need_a_connected_next_hop_and_hold_their_interface() {
    let (n, _) = start().await;
    let p = n.s.personas(&n.project).await;
    let r = create(&n, &p.member, "router", json!({"name": "r"})).await;
    let id = r["id"].as_str().unwrap();
    let (_, a) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;
    add_interface(&n, &p.member, &r, json!({"subnet_id": a["id"]})).await;

    let route = json!({"destination": "10.9.0.0/16", "nexthop": "10.0.0.5"});
    let ok = put(
        &n,
        &p.member,
        &format!("/routers/{id}"),
        json!({"router": {"routes": [route]}}),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["router"]["routes"], json!([route]));

    let far = json!({"destination": "10.8.0.0/16", "nexthop": "192.168.9.9"});
    let bad = put(
        &n,
        &p.member,
        &format!("/routers/{id}/add_extraroutes"),
        json!({"router": {"routes": [far]}}),
    )
    .await;
    let (kind, message) = neutron_error(&bad, 400);
    assert_eq!(kind, "InvalidRoutes");
    assert!(
        message.contains("the nexthop is not connected with router"),
        "{message}"
    );
    let own = json!({"destination": "10.7.0.0/16", "nexthop": "10.0.0.1"});
    let bad = put(
        &n,
        &p.member,
        &format!("/routers/{id}/add_extraroutes"),
        json!({"router": {"routes": [own]}}),
    )
    .await;
    assert!(neutron_error(&bad, 400)
        .1
        .contains("the nexthop is used by router"));

    let more = json!({"destination": "10.6.0.0/16", "nexthop": "10.0.0.6"});
    let added = put(
        &n,
        &p.member,
        &format!("/routers/{id}/add_extraroutes"),
        json!({"router": {"routes": [more]}}),
    )
    .await;
    assert_eq!(added.body["router"]["routes"], json!([route, more]));
    let removed = put(
        &n,
        &p.member,
        &format!("/routers/{id}/remove_extraroutes"),
        json!({"router": {"routes": [more]}}),
    )
    .await;
    assert_eq!(removed.body["router"]["routes"], json!([route]));

    let held = remove_interface(&n, &p.member, &r, json!({"subnet_id": a["id"]})).await;
    assert_eq!(neutron_error(&held, 409).0, "RouterInterfaceInUseByRoute");
    assert_eq!(router_ports(&n, &p.member, &r).await.len(), 1);
}

#[tokio::test]
async fn a_second_ipv6_subnet_joins_the_routers_ipv6_port_on_that_network() {
    let (n, state) = start().await;
    let p = n.s.personas(&n.project).await;
    let r = create(&n, &p.member, "router", json!({"name": "r"})).await;
    let net = create(&n, &p.member, "network", json!({"name": "v6"})).await;
    let v6 = |cidr: &str| {
        json!({"network_id": net["id"], "ip_version": 6, "cidr": cidr, "enable_dhcp": false,
               "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"})
    };
    let one = create(&n, &p.member, "subnet", v6("fd00:1::/64")).await;
    let two = create(&n, &p.member, "subnet", v6("fd00:2::/64")).await;
    let external_ra = create(
        &n,
        &p.member,
        "subnet",
        json!({"network_id": net["id"], "ip_version": 6, "cidr": "fd00:3::/64",
               "enable_dhcp": false, "ipv6_address_mode": "slaac"}),
    )
    .await;
    let refused = add_interface(&n, &p.member, &r, json!({"subnet_id": external_ra["id"]})).await;
    assert!(neutron_error(&refused, 400).1.contains("external router"));

    let a = add_interface(&n, &p.member, &r, json!({"subnet_id": one["id"]})).await;
    let b = add_interface(&n, &p.member, &r, json!({"subnet_id": two["id"]})).await;
    assert_eq!(b.status, 200, "{}", b.body);
    assert_eq!(a.body["port_id"], b.body["port_id"]);
    assert_eq!(b.body["subnet_ids"], json!([two["id"]]));
    let ports = router_ports(&n, &p.member, &r).await;
    assert_eq!(ports.len(), 1);
    let addresses: Vec<&str> = (ports[0]["fixed_ips"].as_array().unwrap().iter())
        .map(|ip| ip["ip_address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, ["fd00:1::1", "fd00:2::1"]);
    assert_eq!(usage(&n, "port"), 1);

    let section = HostSections::new(state, Arc::new(|_: &str| None))
        .section("net-host")
        .unwrap();
    let modes: Vec<Option<&str>> = (section.routers[0].subnets.iter())
        .map(|s| s.ipv6_ra_mode.as_deref())
        .collect();
    assert_eq!(modes, [Some("slaac"), Some("slaac")]);

    let out = remove_interface(&n, &p.member, &r, json!({"subnet_id": one["id"]})).await;
    assert_eq!(out.status, 200, "{}", out.body);
    let ports = router_ports(&n, &p.member, &r).await;
    assert_eq!(
        ports[0]["fixed_ips"].as_array().unwrap().len(),
        1,
        "the port stays"
    );
    remove_interface(&n, &p.member, &r, json!({"subnet_id": two["id"]})).await;
    assert!(router_ports(&n, &p.member, &r).await.is_empty());
    assert_eq!(usage(&n, "port"), 0);
}

#[tokio::test]
async fn another_projects_router_is_404() {
    let (n, _) = start().await;
    let p = n.s.personas(&n.project).await;
    let r = create(&n, &p.member, "router", json!({"name": "r"})).await;
    let id = r["id"].as_str().unwrap();
    let path = format!("/routers/{id}");
    let shown = n.s.get(&n.url(&path), &p.outsider).await;
    assert_eq!(neutron_error(&shown, 404).0, "RouterNotFound");
    let listed = n.s.get(&n.url("/routers"), &p.outsider).await;
    assert!(ids(&listed, "routers").is_empty());
    let r2 = put(&n, &p.outsider, &path, json!({"router": {"name": "x"}})).await;
    neutron_error(&r2, 404);
    let (_, theirs) = net_with_subnet(&n, &p.outsider, "10.3.0.0/24", false).await;
    let r2 = add_interface(&n, &p.outsider, &r, json!({"subnet_id": theirs["id"]})).await;
    neutron_error(&r2, 404);
    // Nor may the owner plug in another project's subnet.
    let r2 = add_interface(&n, &p.member, &r, json!({"subnet_id": theirs["id"]})).await;
    assert_eq!(neutron_error(&r2, 404).0, "SubnetNotFound");
    neutron_error(&delete(&n, &p.outsider, &path).await, 404);
    // Nor may another project's port name the router as its device.
    let their_net = theirs["network_id"].clone();
    let r2 = post(
        &n,
        &p.outsider,
        "port",
        json!({"network_id": their_net, "device_id": id,
               "device_owner": "network:router_interface"}),
    )
    .await;
    assert_eq!(neutron_error(&r2, 409).0, "DeviceIDNotOwnedByTenant");
    assert!(router_ports(&n, &p.admin, &r).await.is_empty());
    assert_eq!(n.s.get(&n.url(&path), &p.admin).await.status, 200);
}

#[tokio::test]
async fn over_the_router_quota_is_409_and_creates_nothing() {
    let (n, _) = start().await;
    let p = n.s.personas(&n.project).await;
    let q = put(
        &n,
        &p.admin,
        &format!("/quotas/{}", n.project),
        json!({"quota": {"router": 1}}),
    )
    .await;
    assert_eq!(q.status, 200, "{}", q.body);
    create(&n, &p.member, "router", json!({"name": "one"})).await;
    let r = post(&n, &p.member, "router", json!({"name": "two"})).await;
    let (kind, message) = neutron_error(&r, 409);
    assert_eq!(kind, "OverQuota");
    assert!(message.contains("['router']"), "{message}");
    let listed = n.s.get(&n.url("/routers"), &p.member).await;
    assert_eq!(ids(&listed, "routers").len(), 1);
    let details =
        n.s.get(&n.url(&format!("/quotas/{}/details", n.project)), &p.admin)
            .await;
    assert_eq!(details.body["quota"]["router"]["used"], 1);
}

fn desired(port: &Value) -> DesiredPort {
    let id = port["id"].as_str().unwrap().to_string();
    DesiredPort {
        tap: tap_name(&id),
        network_id: port["network_id"].as_str().unwrap().into(),
        mac_address: port["mac_address"].as_str().unwrap().into(),
        fixed_ips: (port["fixed_ips"].as_array().unwrap().iter())
            .map(|ip| FixedIp {
                subnet_id: ip["subnet_id"].as_str().unwrap().into(),
                ip_address: ip["ip_address"].as_str().unwrap().into(),
            })
            .collect(),
        allowed_address_pairs: vec![],
        port_security_enabled: false,
        security_groups: vec![],
        admin_state_up: true,
        device_id: port["device_id"].as_str().map(str::to_string),
        generation: 0,
        deleted: false,
        id,
    }
}

#[tokio::test]
async fn the_network_hosts_document_runs_the_router_and_a_route_wakes_it() {
    let (n, state) = start().await;
    let p = n.s.personas(&n.project).await;
    let (public, public_subnet) = external(&n, &p.admin).await;
    let (private, a) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;
    let r = create(
        &n,
        &p.member,
        "router",
        json!({"name": "r", "external_gateway_info": {"network_id": public["id"]}}),
    )
    .await;
    add_interface(&n, &p.member, &r, json!({"subnet_id": a["id"]})).await;
    let id = r["id"].as_str().unwrap();
    let ports = router_ports(&n, &p.admin, &r).await;
    let gw = ports
        .iter()
        .find(|p| p["device_owner"] == "network:router_gateway");
    let intf = ports
        .iter()
        .find(|p| p["device_owner"] == "network:router_interface");

    let sections = HostSections::new(state.clone(), Arc::new(|_: &str| None));
    let section = sections.section("net-host").unwrap();
    assert!(section.ports.is_empty(), "router ports are not VM taps");
    let mut carried: Vec<&str> = section.networks.iter().map(|n| n.id.as_str()).collect();
    carried.sort();
    let mut expected = vec![
        public["id"].as_str().unwrap(),
        private["id"].as_str().unwrap(),
    ];
    expected.sort();
    assert_eq!(carried, expected);
    let mut routers = section.routers.clone();
    assert_eq!(routers.len(), 1);
    let generation = routers[0].generation;
    assert!(generation > 0);
    routers[0].generation = 0;
    let mine = &mut routers[0];
    for port in mine.gateway.iter_mut().chain(mine.interfaces.iter_mut()) {
        assert!(port.generation > 0 && port.generation <= generation);
        port.generation = 0;
    }
    assert_eq!(
        routers[0],
        DesiredRouter {
            id: id.to_string(),
            gateway: gw.map(desired),
            enable_snat: true,
            interfaces: intf.into_iter().map(desired).collect(),
            subnets: vec![
                RouterSubnet {
                    id: public_subnet["id"].as_str().unwrap().into(),
                    cidr: "172.24.4.0/24".into(),
                    gateway_ip: Some("172.24.4.1".into()),
                    ipv6_ra_mode: None,
                },
                RouterSubnet {
                    id: a["id"].as_str().unwrap().into(),
                    cidr: "10.0.0.0/24".into(),
                    gateway_ip: Some("10.0.0.1".into()),
                    ipv6_ra_mode: None,
                },
            ],
            routes: vec![],
            floating_ips: vec![],
            admin_state_up: true,
            generation: 0,
            deleted: false,
        }
    );
    assert!(sections.section("elsewhere").unwrap().routers.is_empty());

    let revision = n.s.store.host_revision("net-host").unwrap();
    let routed = put(
        &n,
        &p.member,
        &format!("/routers/{id}"),
        json!({"router": {"routes": [{"destination": "10.9.0.0/16", "nexthop": "10.0.0.9"}]}}),
    )
    .await;
    assert_eq!(routed.status, 200, "{}", routed.body);
    assert!(n.s.store.host_revision("net-host").unwrap() > revision);
    let section = sections.section("net-host").unwrap();
    assert_eq!(
        section.routers[0].routes,
        [("10.9.0.0/16".to_string(), "10.0.0.9".to_string())]
    );
    assert!(section.routers[0].generation > generation);

    // Removing the interface still moves the generation, with no port left
    // to carry the change.
    let before = section.routers[0].generation;
    put(
        &n,
        &p.member,
        &format!("/routers/{id}"),
        json!({"router": {"routes": []}}),
    )
    .await;
    remove_interface(&n, &p.member, &r, json!({"subnet_id": a["id"]})).await;
    let section = sections.section("net-host").unwrap();
    assert!(section.routers[0].interfaces.is_empty());
    assert!(section.routers[0].generation > before);
}

#[tokio::test]
async fn a_floating_ip_is_in_its_routers_document_and_keeps_its_interface_and_gateway() {
    let (n, state) = start().await;
    let p = n.s.personas(&n.project).await;
    let (public, _) = external(&n, &p.admin).await;
    let (private, a) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;
    let r = create(
        &n,
        &p.member,
        "router",
        json!({"name": "r", "external_gateway_info": {"network_id": public["id"]}}),
    )
    .await;
    let added = add_interface(&n, &p.member, &r, json!({"subnet_id": a["id"]})).await;
    assert_eq!(added.status, 200, "{}", added.body);
    let vm = create(&n, &p.member, "port", json!({"network_id": private["id"]})).await;
    let fip = create(
        &n,
        &p.member,
        "floatingip",
        json!({"floating_network_id": public["id"], "port_id": vm["id"]}),
    )
    .await;
    let id = r["id"].as_str().unwrap();
    let sections = HostSections::new(state.clone(), Arc::new(|_: &str| None));
    let section = sections.section("net-host").unwrap();
    assert_eq!(
        section.routers[0].floating_ips,
        [FloatingIp {
            id: fip["id"].as_str().unwrap().into(),
            floating_ip_address: fip["floating_ip_address"].as_str().unwrap().into(),
            fixed_ip_address: vm["fixed_ips"][0]["ip_address"].as_str().unwrap().into(),
        }]
    );
    let associated = section.routers[0].generation;

    // While the floating IP goes through them, the interface and the
    // gateway stay (409), and the document does not change.
    let refused = remove_interface(&n, &p.member, &r, json!({"subnet_id": a["id"]})).await;
    assert_eq!(
        neutron_error(&refused, 409).0,
        "RouterInterfaceInUseByFloatingIP"
    );
    let cleared = put(
        &n,
        &p.member,
        &format!("/routers/{id}"),
        json!({"router": {"external_gateway_info": {}}}),
    )
    .await;
    assert_eq!(
        neutron_error(&cleared, 409).0,
        "RouterExternalGatewayInUseByFloatingIp"
    );
    let section = sections.section("net-host").unwrap();
    assert_eq!(section.routers[0].interfaces.len(), 1);
    assert!(section.routers[0].gateway.is_some());
    assert_eq!(section.routers[0].generation, associated);

    // Disassociated: gone from the document, whose generation moves.
    let fip_id = fip["id"].as_str().unwrap();
    let off = put(
        &n,
        &p.member,
        &format!("/floatingips/{fip_id}"),
        json!({"floatingip": {"port_id": null}}),
    )
    .await;
    assert_eq!(off.status, 200, "{}", off.body);
    let section = sections.section("net-host").unwrap();
    assert!(section.routers[0].floating_ips.is_empty());
    assert!(section.routers[0].generation > associated);
}

#[tokio::test]
async fn the_extensions_list_the_router_apis() {
    let (n, _) = start().await;
    let p = n.s.personas(&n.project).await;
    let r = n.s.get(&n.url("/extensions"), &p.member).await;
    let aliases: Vec<&str> = (r.body["extensions"].as_array().unwrap().iter())
        .map(|e| e["alias"].as_str().unwrap())
        .collect();
    for alias in [
        "router",
        "ext-gw-mode",
        "extraroute",
        "extraroute-atomic",
        "router_availability_zone",
    ] {
        assert!(aliases.contains(&alias), "{alias}");
    }
    assert!(!aliases.contains(&"l3-ha"));
}
