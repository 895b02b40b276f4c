//! Networks and subnets through HTTP: CRUD, provider segments, who sees
//! what, and bad input answered in Neutron's shape with nothing created.

#![allow(clippy::unwrap_used)]

mod common;

use common::{create, ids, net_with_subnet, neutron_error, post, start};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_member_creates_shows_updates_and_deletes_a_network() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let net = create(
        &n,
        &p.member,
        "network",
        json!({"name": "blue", "description": "d"}),
    )
    .await;
    assert_eq!(net["name"], "blue");
    assert_eq!(net["project_id"], n.project.as_str());
    assert_eq!(net["tenant_id"], n.project.as_str());
    assert_eq!(net["status"], "ACTIVE");
    assert_eq!(net["mtu"], 1450, "VXLAN tenant network: underlay minus 50");
    assert_eq!(net["admin_state_up"], true);
    assert_eq!(net["shared"], false);
    assert_eq!(net["router:external"], false);
    assert_eq!(net["port_security_enabled"], true);
    assert_eq!(net["revision_number"], 1);
    assert!(net["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(
        net.get("provider:network_type").is_none(),
        "hidden from members"
    );

    let id = net["id"].as_str().unwrap();
    let r =
        n.s.send(
            Method::PUT,
            &n.url(&format!("/networks/{id}")),
            &p.member,
            json!({"network": {"name": "green"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["network"]["name"], "green");
    assert_eq!(r.body["network"]["revision_number"], 2);

    let r = n.s.get(&n.url(&format!("/networks/{id}")), &p.admin).await;
    assert_eq!(r.body["network"]["provider:network_type"], "vxlan");
    assert_eq!(r.body["network"]["provider:segmentation_id"], 10);

    let r =
        n.s.call(n.s.req(
            Method::DELETE,
            &n.url(&format!("/networks/{id}")),
            &p.member,
        ))
        .await;
    assert_eq!(r.status, 204);
    let r = n.s.get(&n.url(&format!("/networks/{id}")), &p.member).await;
    let (kind, _) = neutron_error(&r, 404);
    assert_eq!(kind, "NetworkNotFound");
}

#[tokio::test]
async fn another_projects_network_is_404_unless_shared() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let net = create(&n, &p.member, "network", json!({"name": "mine"})).await;
    let id = net["id"].as_str().unwrap();
    let r =
        n.s.get(&n.url(&format!("/networks/{id}")), &p.outsider)
            .await;
    neutron_error(&r, 404);
    let r = n.s.get(&n.url("/networks"), &p.outsider).await;
    assert!(ids(&r, "networks").is_empty());
    let r =
        n.s.call(n.s.req(
            Method::DELETE,
            &n.url(&format!("/networks/{id}")),
            &p.outsider,
        ))
        .await;
    neutron_error(&r, 404);

    let shared = create(
        &n,
        &p.admin,
        "network",
        json!({"name": "pub", "shared": true}),
    )
    .await;
    let r = n.s.get(&n.url("/networks"), &p.outsider).await;
    assert_eq!(ids(&r, "networks"), [shared["id"].as_str().unwrap()]);
}

#[tokio::test]
async fn a_reader_cannot_create_and_a_member_cannot_share() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let r = post(&n, &p.reader, "network", json!({"name": "x"})).await;
    neutron_error(&r, 403);
    let r = post(
        &n,
        &p.member,
        "network",
        json!({"name": "x", "shared": true}),
    )
    .await;
    neutron_error(&r, 403);
    let r = post(
        &n,
        &p.member,
        "network",
        json!({"name": "x", "provider:network_type": "vlan"}),
    )
    .await;
    neutron_error(&r, 403);
    let r = n.s.get(&n.url("/networks"), &p.admin).await;
    assert!(ids(&r, "networks").is_empty(), "nothing created");
}

#[tokio::test]
async fn admin_provider_networks_and_their_errors() {
    let n = start().await;
    let admin = n.s.admin_token().await;
    let vlan = create(
        &n,
        &admin,
        "network",
        json!({"provider:network_type": "vlan", "provider:physical_network": "physnet1",
               "provider:segmentation_id": 200, "project_id": n.project}),
    )
    .await;
    assert_eq!(vlan["mtu"], 1500);
    assert_eq!(vlan["provider:segmentation_id"], 200);
    assert_eq!(vlan["project_id"], n.project.as_str());

    let r = post(
        &n,
        &admin,
        "network",
        json!({"provider:network_type": "vlan", "provider:physical_network": "physnet1",
               "provider:segmentation_id": 200}),
    )
    .await;
    assert_eq!(neutron_error(&r, 409).0, "VlanIdInUse");
    let r = post(
        &n,
        &admin,
        "network",
        json!({"provider:network_type": "vlan", "provider:physical_network": "physnet1",
               "provider:segmentation_id": 5000}),
    )
    .await;
    let (kind, message) = neutron_error(&r, 400);
    assert_eq!(kind, "InvalidInput");
    assert!(message.contains("out of range"), "{message}");
    let r = post(
        &n,
        &admin,
        "network",
        json!({"provider:network_type": "vxlan", "provider:segmentation_id": 16777216}),
    )
    .await;
    neutron_error(&r, 400);
    let r = post(
        &n,
        &admin,
        "network",
        json!({"provider:network_type": "gre"}),
    )
    .await;
    neutron_error(&r, 400);
    let flat = create(
        &n,
        &admin,
        "network",
        json!({"provider:network_type": "flat", "provider:physical_network": "physnet1",
               "router:external": true}),
    )
    .await;
    assert_eq!(flat["provider:segmentation_id"], serde_json::Value::Null);
    let r = post(
        &n,
        &admin,
        "network",
        json!({"provider:network_type": "flat", "provider:physical_network": "physnet1"}),
    )
    .await;
    assert_eq!(neutron_error(&r, 409).0, "FlatNetworkInUse");
    // The external network is visible to every project.
    let p = n.s.personas(&n.project).await;
    let r =
        n.s.get(
            &n.url(&format!("/networks/{}", flat["id"].as_str().unwrap())),
            &p.outsider,
        )
        .await;
    assert_eq!(r.status, 200);
    let r =
        n.s.get(&n.url("/networks?router:external=true"), &p.admin)
            .await;
    assert_eq!(ids(&r, "networks").len(), 1);
}

#[tokio::test]
async fn tenant_segments_run_out_with_neutrons_error() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    for vni in 10..=12 {
        let net = create(&n, &p.member, "network", json!({})).await;
        let r =
            n.s.get(
                &n.url(&format!("/networks/{}", net["id"].as_str().unwrap())),
                &p.admin,
            )
            .await;
        assert_eq!(r.body["network"]["provider:segmentation_id"], vni);
    }
    let r = post(&n, &p.member, "network", json!({})).await;
    assert_eq!(neutron_error(&r, 503).0, "NoNetworkAvailable");
    let r = n.s.get(&n.url("/networks"), &p.admin).await;
    assert_eq!(ids(&r, "networks").len(), 3);
}

#[tokio::test]
async fn availability_zone_hints_name_a_zone() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let r = n.s.get(&n.url("/availability_zones"), &p.member).await;
    assert_eq!(
        r.body["availability_zones"],
        json!([{"name": "nova", "resource": "network", "state": "available"}])
    );
    let net = create(
        &n,
        &p.member,
        "network",
        json!({"availability_zone_hints": ["nova"]}),
    )
    .await;
    assert_eq!(net["availability_zone_hints"], json!(["nova"]));
    let r = post(
        &n,
        &p.member,
        "network",
        json!({"availability_zone_hints": ["mars"]}),
    )
    .await;
    assert_eq!(neutron_error(&r, 404).0, "AvailabilityZoneNotFound");
}

#[tokio::test]
async fn unknown_attributes_are_refused() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let r = post(&n, &p.member, "network", json!({"colour": "red"})).await;
    let (_, message) = neutron_error(&r, 400);
    assert!(message.contains("colour"), "{message}");
}

#[tokio::test]
async fn subnets_get_neutrons_defaults() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let (net, s) = net_with_subnet(&n, &p.member, "10.0.0.0/24", true).await;
    assert_eq!(s["gateway_ip"], "10.0.0.1");
    assert_eq!(
        s["allocation_pools"],
        json!([{"start": "10.0.0.2", "end": "10.0.0.254"}])
    );
    assert_eq!(s["enable_dhcp"], true);
    assert_eq!(s["ip_version"], 4);
    let r =
        n.s.get(
            &n.url(&format!("/networks/{}", net["id"].as_str().unwrap())),
            &p.member,
        )
        .await;
    assert_eq!(r.body["network"]["subnets"], json!([s["id"]]));

    // The DHCP port took the first address and is bound to the DHCP host.
    let r =
        n.s.get(&n.url("/ports?device_owner=network:dhcp"), &p.admin)
            .await;
    let ports = r.body["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 1, "{}", r.body);
    assert_eq!(ports[0]["fixed_ips"][0]["ip_address"], "10.0.0.2");
    assert_eq!(ports[0]["binding:host_id"], "net-host");
    assert_eq!(ports[0]["binding:vif_type"], "tap");

    // A second DHCP subnet gives that port a second address.
    create(
        &n,
        &p.member,
        "subnet",
        json!({"network_id": net["id"], "ip_version": 4, "cidr": "10.0.1.0/24"}),
    )
    .await;
    let r =
        n.s.get(&n.url("/ports?device_owner=network:dhcp"), &p.admin)
            .await;
    assert_eq!(r.body["ports"][0]["fixed_ips"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn turning_dhcp_off_frees_the_dhcp_address() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let (_, s) = net_with_subnet(&n, &p.member, "10.0.0.0/24", true).await;
    let url = n.url(&format!("/subnets/{}", s["id"].as_str().unwrap()));
    let r =
        n.s.send(
            Method::PUT,
            &url,
            &p.member,
            json!({"subnet": {"enable_dhcp": false}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["subnet"]["enable_dhcp"], false);
    let r = n.s.get(&n.url("/ports"), &p.admin).await;
    assert!(ids(&r, "ports").is_empty());
    let r =
        n.s.send(
            Method::PUT,
            &url,
            &p.member,
            json!({"subnet": {"enable_dhcp": "true"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r =
        n.s.get(&n.url("/ports?device_owner=network:dhcp"), &p.admin)
            .await;
    assert_eq!(r.body["ports"][0]["fixed_ips"][0]["ip_address"], "10.0.0.2");
}

#[tokio::test]
async fn ipv6_slaac_subnets_address_ports_by_eui64() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let net = create(&n, &p.member, "network", json!({})).await;
    let s = create(
        &n,
        &p.member,
        "subnet",
        json!({"network_id": net["id"], "ip_version": 6, "cidr": "2001:db8::/64",
               "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac", "enable_dhcp": false}),
    )
    .await;
    assert_eq!(s["gateway_ip"], "2001:db8::1");
    let port = create(
        &n,
        &p.member,
        "port",
        json!({"network_id": net["id"], "mac_address": "fa:16:3e:12:34:56"}),
    )
    .await;
    assert_eq!(
        port["fixed_ips"][0]["ip_address"],
        "2001:db8::f816:3eff:fe12:3456"
    );
}

#[tokio::test]
async fn bad_subnets_answer_neutrons_errors_and_create_nothing() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let net = create(&n, &p.member, "network", json!({})).await;
    let bad = [
        (
            json!({"cidr": "10.0.0.0/24", "gateway_ip": "10.1.0.1"}),
            400,
            "InvalidInput",
        ),
        (
            json!({"cidr": "10.0.0.0/24", "allocation_pools": [
            {"start": "10.0.0.10", "end": "10.0.0.20"}, {"start": "10.0.0.15", "end": "10.0.0.30"}]}),
            409,
            "OverlappingAllocationPools",
        ),
        (
            json!({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.10", "end": "10.0.1.20"}]}),
            400,
            "OutOfBoundsAllocationPool",
        ),
        (
            json!({"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.20"}]}),
            409,
            "GatewayConflictWithAllocationPools",
        ),
        (json!({"cidr": "10.0.0.0/33"}), 400, "InvalidInput"),
        (
            json!({"cidr": "10.0.0.0/24", "dns_nameservers": ["nope"]}),
            400,
            "InvalidInput",
        ),
    ];
    for (extra, code, kind) in bad {
        let mut body = json!({"network_id": net["id"], "ip_version": 4});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = post(&n, &p.member, "subnet", body.clone()).await;
        assert_eq!(neutron_error(&r, code).0, kind, "{body}");
    }
    let r = n.s.get(&n.url("/subnets"), &p.admin).await;
    assert!(ids(&r, "subnets").is_empty());
    let r = n.s.get(&n.url("/ports"), &p.admin).await;
    assert!(ids(&r, "ports").is_empty(), "no DHCP port left behind");
}

#[tokio::test]
async fn in_use_networks_and_subnets_are_not_deleted() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let (net, s) = net_with_subnet(&n, &p.member, "10.0.0.0/24", true).await;
    let port = create(&n, &p.member, "port", json!({"network_id": net["id"]})).await;
    let del = |path: String| {
        let n = &n;
        let t = p.member.clone();
        async move { n.s.call(n.s.req(Method::DELETE, &n.url(&path), &t)).await }
    };
    let r = del(format!("/subnets/{}", s["id"].as_str().unwrap())).await;
    assert_eq!(neutron_error(&r, 409).0, "SubnetInUse");
    let r = del(format!("/networks/{}", net["id"].as_str().unwrap())).await;
    assert_eq!(neutron_error(&r, 409).0, "NetworkInUse");
    let r = del(format!("/ports/{}", port["id"].as_str().unwrap())).await;
    assert_eq!(r.status, 204);
    // The DHCP port does not keep the network: it goes with it.
    let r = del(format!("/networks/{}", net["id"].as_str().unwrap())).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = n.s.get(&n.url("/ports"), &p.admin).await;
    assert!(ids(&r, "ports").is_empty());
}
