//! Floating IPs through HTTP: create from an external network,
//! association through the router that router ports show (made here as
//! plain ports with the router owners, as the router service makes them),
//! Neutron's errors, quota, and nothing left behind by a refused request.

#![allow(clippy::unwrap_used)]

mod common;

use common::{create, ids, net_with_subnet, neutron_error, post};
use ferrostack_network::floating_ips::{desired_floating_ips, floating_ips_generation};
use ferrostack_network::NetworkState;
use ferrostack_testkit::{Personas, Reply, Served};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};

/// The network service, and its state for the in-process calls.
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

/// An external network (pool .10-.12 of 203.0.113.0/24), the member's
/// tenant network 10.0.0.0/24 with a VM port, and router `r1` joining
/// them (interface 10.0.0.1, gateway bound to `net-host`).
struct World {
    n: Served,
    state: Arc<NetworkState>,
    p: Personas,
    ext: String,
    tenant_subnet: String,
    vm: Value,
}

async fn world() -> World {
    let (n, state) = start().await;
    let p = n.s.personas(&n.project).await;
    let ext = create(
        &n,
        &p.admin,
        "network",
        json!({"name": "public", "router:external": true,
               "provider:network_type": "flat", "provider:physical_network": "physnet1"}),
    )
    .await;
    create(
        &n,
        &p.admin,
        "subnet",
        json!({"network_id": ext["id"], "ip_version": 4, "cidr": "203.0.113.0/24",
               "enable_dhcp": false,
               "allocation_pools": [{"start": "203.0.113.10", "end": "203.0.113.12"}]}),
    )
    .await;
    let (net, subnet) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;
    let vm = create(
        &n,
        &p.member,
        "port",
        json!({"network_id": net["id"], "device_owner": "compute:nova", "device_id": "server-1"}),
    )
    .await;
    let w = World {
        ext: ext["id"].as_str().unwrap().into(),
        tenant_subnet: subnet["id"].as_str().unwrap().into(),
        n,
        state,
        p,
        vm,
    };
    router_ports(&w, "r1", net["id"].as_str().unwrap(), Some("10.0.0.1")).await;
    w
}

/// Router `router`'s ports: a gateway on the external network and an
/// interface on `network` (at `address` of the tenant subnet).
async fn router_ports(w: &World, router: &str, network: &str, address: Option<&str>) {
    let fixed = match address {
        Some(a) => json!([{"subnet_id": w.tenant_subnet, "ip_address": a}]),
        None => json!([{"subnet_id": w.tenant_subnet}]),
    };
    create(
        &w.n,
        &w.p.admin,
        "port",
        json!({"network_id": network, "device_owner": "network:router_interface",
               "device_id": router, "fixed_ips": fixed, "project_id": w.n.project}),
    )
    .await;
    create(
        &w.n,
        &w.p.admin,
        "port",
        json!({"network_id": w.ext, "device_owner": "network:router_gateway",
               "device_id": router, "binding:host_id": "net-host", "project_id": ""}),
    )
    .await;
}

/// A floating IP the member allocates on the external network.
async fn member_fip(w: &World) -> Value {
    create(
        &w.n,
        &w.p.member,
        "floatingip",
        json!({"floating_network_id": w.ext}),
    )
    .await
}

async fn put(w: &World, token: &str, id: &Value, body: Value) -> Reply {
    let url = w.n.url(&format!("/floatingips/{}", id.as_str().unwrap()));
    w.n.s
        .send(Method::PUT, &url, token, json!({ "floatingip": body }))
        .await
}

async fn fip_count(w: &World) -> usize {
    ids(
        &w.n.s.get(&w.n.url("/floatingips"), &w.p.admin).await,
        "floatingips",
    )
    .len()
}

/// The floating IP ports on the external network.
async fn fip_ports(w: &World) -> usize {
    let url = w.n.url("/ports?device_owner=network:floatingip");
    ids(&w.n.s.get(&url, &w.p.admin).await, "ports").len()
}

#[tokio::test]
async fn create_takes_the_next_free_address_or_a_given_one() {
    let w = world().await;
    // .10 is the router's gateway.
    let a = member_fip(&w).await;
    assert_eq!(a["floating_ip_address"], "203.0.113.11");
    assert_eq!(a["status"], "DOWN");
    assert_eq!(a["port_id"], Value::Null);
    assert_eq!(a["router_id"], Value::Null);
    assert_eq!(a["project_id"], w.n.project);
    assert_eq!(a["port_details"], Value::Null);

    // Naming the address is for admins.
    let body = json!({"floating_network_id": w.ext, "floating_ip_address": "203.0.113.12"});
    let r = post(&w.n, &w.p.member, "floatingip", body.clone()).await;
    neutron_error(&r, 403);
    let mut as_admin = body.clone();
    as_admin["project_id"] = json!(w.n.project);
    let b = create(&w.n, &w.p.admin, "floatingip", as_admin.clone()).await;
    assert_eq!(b["floating_ip_address"], "203.0.113.12");

    let r = post(&w.n, &w.p.admin, "floatingip", as_admin).await;
    assert_eq!(neutron_error(&r, 409).0, "IpAddressAlreadyAllocated");
    let r = post(
        &w.n,
        &w.p.member,
        "floatingip",
        json!({"floating_network_id": w.ext}),
    )
    .await;
    assert_eq!(neutron_error(&r, 400).0, "ExternalIpAddressExhausted");
    assert_eq!(
        (fip_count(&w).await, fip_ports(&w).await),
        (2, 2),
        "nothing half-made"
    );

    // The member sees its own; the address is free again after a delete.
    let listed =
        w.n.s
            .get(
                &w.n.url("/floatingips?floating_ip_address=203.0.113.12"),
                &w.p.member,
            )
            .await;
    assert_eq!(ids(&listed, "floatingips"), [b["id"].as_str().unwrap()]);
    let url =
        w.n.url(&format!("/floatingips/{}", b["id"].as_str().unwrap()));
    assert_eq!(
        w.n.s
            .send(Method::DELETE, &url, &w.p.member, Value::Null)
            .await
            .status,
        204
    );
    let c = member_fip(&w).await;
    assert_eq!(c["floating_ip_address"], "203.0.113.12");
}

#[tokio::test]
async fn a_network_that_is_not_external_is_a_400() {
    let w = world().await;
    let net = w.vm["network_id"].clone();
    let r = post(
        &w.n,
        &w.p.member,
        "floatingip",
        json!({"floating_network_id": net}),
    )
    .await;
    let (kind, message) = neutron_error(&r, 400);
    assert_eq!(kind, "BadRequest");
    assert!(
        message.contains("is not a valid external network"),
        "{message}"
    );
    let r = post(
        &w.n,
        &w.p.member,
        "floatingip",
        json!({"floating_network_id": "nope"}),
    )
    .await;
    neutron_error(&r, 400);
    assert_eq!(fip_ports(&w).await, 0);
}

#[tokio::test]
async fn associate_and_disassociate_through_the_router() {
    let w = world().await;
    let f = member_fip(&w).await;
    let r = put(&w, &w.p.member, &f["id"], json!({"port_id": w.vm["id"]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = &r.body["floatingip"];
    assert_eq!(got["port_id"], w.vm["id"]);
    assert_eq!(got["fixed_ip_address"], w.vm["fixed_ips"][0]["ip_address"]);
    assert_eq!(got["router_id"], "r1");
    assert_eq!(got["status"], "ACTIVE");
    assert_eq!(got["port_details"]["device_id"], "server-1");
    let url = w.n.url(&format!(
        "/floatingips?port_id={}",
        w.vm["id"].as_str().unwrap()
    ));
    assert_eq!(
        ids(&w.n.s.get(&url, &w.p.member).await, "floatingips").len(),
        1
    );

    // A second one asked at create for the same fixed address: 409, and
    // no floating IP, port or quota is left.
    let body = json!({"floating_network_id": w.ext, "port_id": w.vm["id"]});
    let r = post(&w.n, &w.p.member, "floatingip", body).await;
    assert_eq!(neutron_error(&r, 409).0, "FloatingIPPortAlreadyAssociated");
    assert_eq!((fip_count(&w).await, fip_ports(&w).await), (1, 1));
    let url = w.n.url(&format!("/quotas/{}/details", w.n.project));
    let quota = w.n.s.get(&url, &w.p.admin).await;
    assert_eq!(quota.body["quota"]["floatingip"]["used"], 1);
    // A second floating IP on the same fixed address: 409.
    let g = member_fip(&w).await;
    let r = put(&w, &w.p.member, &g["id"], json!({"port_id": w.vm["id"]})).await;
    assert_eq!(neutron_error(&r, 409).0, "FloatingIPPortAlreadyAssociated");

    let r = put(&w, &w.p.member, &f["id"], json!({"port_id": null})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = &r.body["floatingip"];
    assert_eq!(
        (got["port_id"].clone(), got["router_id"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(got["status"], "DOWN");
    // Now the other one may have it, at create time too.
    let r = put(&w, &w.p.member, &g["id"], json!({"port_id": w.vm["id"]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_port_with_several_ipv4_addresses_needs_one_chosen() {
    let w = world().await;
    let two = create(
        &w.n,
        &w.p.member,
        "port",
        json!({"network_id": w.vm["network_id"], "fixed_ips": [
            {"subnet_id": w.tenant_subnet}, {"subnet_id": w.tenant_subnet}]}),
    )
    .await;
    let f = member_fip(&w).await;
    let r = put(&w, &w.p.member, &f["id"], json!({"port_id": two["id"]})).await;
    let (kind, message) = neutron_error(&r, 400);
    assert_eq!(kind, "BadRequest");
    assert!(
        message.contains("multiple fixed IPv4 addresses"),
        "{message}"
    );
    let second = two["fixed_ips"][1]["ip_address"].clone();
    let r = put(
        &w,
        &w.p.member,
        &f["id"],
        json!({"port_id": two["id"], "fixed_ip_address": second}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["floatingip"]["fixed_ip_address"], second);
    let r = put(
        &w,
        &w.p.member,
        &f["id"],
        json!({"port_id": two["id"], "fixed_ip_address": "10.0.0.99"}),
    )
    .await;
    neutron_error(&r, 400);
    let r = put(
        &w,
        &w.p.member,
        &f["id"],
        json!({"fixed_ip_address": "10.0.0.99"}),
    )
    .await;
    neutron_error(&r, 400);
    let body = json!({"port_id": two["id"], "fixed_ip_address": "not-an-ip"});
    let (kind, message) = neutron_error(&put(&w, &w.p.member, &f["id"], body).await, 400);
    assert_eq!(kind, "InvalidInput");
    assert!(message.contains("fixed_ip_address"), "{message}");
}

#[tokio::test]
async fn no_router_between_the_subnet_and_the_network_is_a_404_and_creates_nothing() {
    let w = world().await;
    let (net, _) = net_with_subnet(&w.n, &w.p.member, "10.1.0.0/24", false).await;
    let lonely = create(&w.n, &w.p.member, "port", json!({"network_id": net["id"]})).await;
    let body = json!({"floating_network_id": w.ext, "port_id": lonely["id"]});
    let r = post(&w.n, &w.p.member, "floatingip", body).await;
    assert_eq!(
        neutron_error(&r, 404).0,
        "ExternalGatewayForFloatingIPNotFound"
    );
    assert_eq!((fip_count(&w).await, fip_ports(&w).await), (0, 0));
    let quota =
        w.n.s
            .get(
                &w.n.url(&format!("/quotas/{}/details", w.n.project)),
                &w.p.admin,
            )
            .await;
    assert_eq!(quota.body["quota"]["floatingip"]["used"], 0);

    // Associated at create when a router connects them.
    let body = json!({"floating_network_id": w.ext, "port_id": w.vm["id"]});
    let f = create(&w.n, &w.p.member, "floatingip", body).await;
    assert_eq!(f["router_id"], "r1");
    assert_eq!(f["status"], "ACTIVE");
}

#[tokio::test]
async fn another_projects_floating_ips_and_ports_are_404() {
    let w = world().await;
    let f = member_fip(&w).await;
    let url =
        w.n.url(&format!("/floatingips/{}", f["id"].as_str().unwrap()));
    assert_eq!(
        neutron_error(&w.n.s.get(&url, &w.p.outsider).await, 404).0,
        "FloatingIPNotFound"
    );
    let r = put(&w, &w.p.outsider, &f["id"], json!({"description": "mine"})).await;
    neutron_error(&r, 404);
    neutron_error(
        &w.n.s
            .send(Method::DELETE, &url, &w.p.outsider, Value::Null)
            .await,
        404,
    );
    assert!(ids(
        &w.n.s.get(&w.n.url("/floatingips"), &w.p.outsider).await,
        "floatingips"
    )
    .is_empty());
    // A reader reads but does not write.
    assert_eq!(w.n.s.get(&url, &w.p.reader).await.status, 200);
    neutron_error(
        &put(&w, &w.p.reader, &f["id"], json!({"description": "x"})).await,
        403,
    );

    // The outsider's floating IP may not take the member's port.
    let theirs = create(
        &w.n,
        &w.p.outsider,
        "floatingip",
        json!({"floating_network_id": w.ext}),
    )
    .await;
    let r = put(
        &w,
        &w.p.outsider,
        &theirs["id"],
        json!({"port_id": w.vm["id"]}),
    )
    .await;
    assert_eq!(neutron_error(&r, 404).0, "PortNotFound");
    // Nor is the floating IP's own port anyone's to see.
    let ports =
        w.n.s
            .get(
                &w.n.url("/ports?device_owner=network:floatingip"),
                &w.p.member,
            )
            .await;
    assert!(ids(&ports, "ports").is_empty());
}

#[tokio::test]
async fn quota_counts_floating_ips() {
    let w = world().await;
    let url = w.n.url(&format!("/quotas/{}", w.n.project));
    let r =
        w.n.s
            .send(
                Method::PUT,
                &url,
                &w.p.admin,
                json!({"quota": {"floatingip": 1}}),
            )
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let f = member_fip(&w).await;
    let r = post(
        &w.n,
        &w.p.member,
        "floatingip",
        json!({"floating_network_id": w.ext}),
    )
    .await;
    assert_eq!(neutron_error(&r, 409).0, "OverQuota");
    assert_eq!((fip_count(&w).await, fip_ports(&w).await), (1, 1));
    let del =
        w.n.url(&format!("/floatingips/{}", f["id"].as_str().unwrap()));
    assert_eq!(
        w.n.s
            .send(Method::DELETE, &del, &w.p.member, Value::Null)
            .await
            .status,
        204
    );
    member_fip(&w).await;
}

#[tokio::test]
async fn deleting_the_port_disassociates_and_the_floating_port_is_not_deletable() {
    let w = world().await;
    let body = json!({"floating_network_id": w.ext, "port_id": w.vm["id"]});
    let f = create(&w.n, &w.p.member, "floatingip", body).await;
    let port_url = w.n.url(&format!("/ports/{}", w.vm["id"].as_str().unwrap()));
    assert_eq!(
        w.n.s
            .send(Method::DELETE, &port_url, &w.p.member, Value::Null)
            .await
            .status,
        204
    );
    let url =
        w.n.url(&format!("/floatingips/{}", f["id"].as_str().unwrap()));
    let got = w.n.s.get(&url, &w.p.member).await.body["floatingip"].clone();
    assert_eq!(got["port_id"], Value::Null);
    assert_eq!(got["router_id"], Value::Null);
    assert_eq!(got["status"], "DOWN");

    let ports =
        w.n.s
            .get(
                &w.n.url("/ports?device_owner=network:floatingip"),
                &w.p.admin,
            )
            .await;
    let own = ids(&ports, "ports").remove(0);
    let r =
        w.n.s
            .send(
                Method::DELETE,
                &w.n.url(&format!("/ports/{own}")),
                &w.p.admin,
                Value::Null,
            )
            .await;
    assert_eq!(neutron_error(&r, 409).0, "ServicePortInUse");
    assert_eq!(fip_count(&w).await, 1);
}

#[tokio::test]
async fn tags_and_description_change_the_record_only() {
    let w = world().await;
    let body = json!({"floating_network_id": w.ext, "description": "web", "tags": ["a"]});
    let f = create(&w.n, &w.p.member, "floatingip", body).await;
    assert_eq!(
        (f["description"].clone(), f["tags"].clone()),
        (json!("web"), json!(["a"]))
    );
    let url = w.n.url(&format!(
        "/floatingips/{}/tags/b",
        f["id"].as_str().unwrap()
    ));
    assert_eq!(
        w.n.s
            .send(Method::PUT, &url, &w.p.member, Value::Null)
            .await
            .status,
        201
    );
    let r =
        w.n.s
            .get(&w.n.url("/floatingips?tags=a,b"), &w.p.member)
            .await;
    assert_eq!(ids(&r, "floatingips").len(), 1);
    let r = put(&w, &w.p.member, &f["id"], json!({"description": "db"})).await;
    assert_eq!(r.body["floatingip"]["description"], "db");
    let r = put(
        &w,
        &w.p.member,
        &f["id"],
        json!({"floating_ip_address": "1.2.3.4"}),
    )
    .await;
    neutron_error(&r, 400);
}

#[tokio::test]
async fn the_router_carries_its_floating_ips_and_keeps_the_ones_in_use() {
    let w = world().await;
    let body = json!({"floating_network_id": w.ext, "port_id": w.vm["id"]});
    let f = create(&w.n, &w.p.member, "floatingip", body).await;
    let store = w.state.store.clone();
    let fips = store.list_floating_ips().unwrap();
    let carried = desired_floating_ips(&fips, "r1");
    assert_eq!(carried.len(), 1);
    assert_eq!(carried[0].floating_ip_address, f["floating_ip_address"]);
    assert_eq!(
        carried[0].fixed_ip_address,
        w.vm["fixed_ips"][0]["ip_address"]
    );
    let g1 = floating_ips_generation(store.as_ref(), &fips, "r1").unwrap();

    // Its interface and gateway stay while the floating IP goes through.
    let e = w
        .state
        .check_interface_removal("r1", &w.tenant_subnet)
        .unwrap_err();
    assert_eq!(e.kind, "RouterInterfaceInUseByFloatingIP");
    let e = w.state.check_gateway_removal("r1", &w.ext).unwrap_err();
    assert_eq!(e.kind, "RouterExternalGatewayInUseByFloatingIp");

    put(&w, &w.p.member, &f["id"], json!({"port_id": null})).await;
    let fips = store.list_floating_ips().unwrap();
    assert!(desired_floating_ips(&fips, "r1").is_empty());
    let g2 = floating_ips_generation(store.as_ref(), &fips, "r1").unwrap();
    assert!(g2 > g1, "a disassociation moves the router's generation");
    w.state
        .check_interface_removal("r1", &w.tenant_subnet)
        .unwrap();
    w.state.check_gateway_removal("r1", &w.ext).unwrap();
}

#[tokio::test]
async fn pools_are_the_ipv4_subnets_of_external_networks() {
    let w = world().await;
    let r = w.n.s.get(&w.n.url("/floatingip_pools"), &w.p.member).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let pools = r.body["floatingip_pools"].as_array().unwrap().clone();
    assert_eq!(pools.len(), 1, "{pools:?}");
    assert_eq!(pools[0]["network_id"], w.ext.as_str());
    let ext =
        w.n.s
            .get(&w.n.url("/extensions/floatingip-pools"), &w.p.member)
            .await;
    assert_eq!(ext.status, 200);
}
