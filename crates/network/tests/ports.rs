//! Ports through HTTP: race-free IPAM, fixed IPs, bindings hidden from
//! members, port security, and Neutron's errors with nothing created.

#![allow(clippy::unwrap_used)]

mod common;

use common::{create, ids, net_with_subnet, neutron_error, post, start};
use reqwest::Method;
use serde_json::json;
use std::collections::HashSet;

#[tokio::test]
async fn fifty_concurrent_creates_on_a_slash_28_get_unique_addresses_then_409() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let (net, _) = net_with_subnet(&n, &p.member, "10.0.0.0/28", false).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let http = n.s.http.clone();
        let url = n.url("/ports");
        let token = p.member.clone();
        let body = json!({"port": {"network_id": net["id"]}});
        tasks.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .header("X-Auth-Token", token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }));
    }
    let mut addresses = HashSet::new();
    let mut full = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            201 => assert!(addresses.insert(
                body["port"]["fixed_ips"][0]["ip_address"]
                    .as_str()
                    .unwrap()
                    .to_string()
            )),
            409 => {
                assert_eq!(body["NeutronError"]["type"], "IpAddressGenerationFailure");
                full += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    // .2 to .14 (.1 is the gateway, .15 the broadcast).
    assert_eq!(addresses.len(), 13);
    assert_eq!(full, 37);
    let r = n.s.get(&n.url("/ports"), &p.member).await;
    assert_eq!(ids(&r, "ports").len(), 13, "no port without its address");
}

#[tokio::test]
async fn fixed_ips_by_address_and_their_errors() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let (net, s) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;
    let port = create(
        &n,
        &p.member,
        "port",
        json!({"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.50"}]}),
    )
    .await;
    assert_eq!(
        port["fixed_ips"],
        json!([{"subnet_id": s["id"], "ip_address": "10.0.0.50"}])
    );
    let r = post(
        &n,
        &p.member,
        "port",
        json!({"network_id": net["id"], "fixed_ips": [{"subnet_id": s["id"], "ip_address": "10.0.0.50"}]}),
    )
    .await;
    assert_eq!(neutron_error(&r, 409).0, "IpAddressAlreadyAllocated");
    let r = post(
        &n,
        &p.member,
        "port",
        json!({"network_id": net["id"], "fixed_ips": [{"ip_address": "192.168.0.5"}]}),
    )
    .await;
    assert_eq!(neutron_error(&r, 400).0, "InvalidInput");
    let r = post(
        &n,
        &p.member,
        "port",
        json!({"network_id": net["id"], "fixed_ips": [{"subnet_id": s["id"], "ip_address": "10.0.0.255"}]}),
    )
    .await;
    assert_eq!(neutron_error(&r, 400).0, "InvalidInput");
    let r = n.s.get(&n.url("/ports"), &p.member).await;
    assert_eq!(ids(&r, "ports").len(), 1, "nothing half-created");

    // Changing the address frees the old one.
    let id = port["id"].as_str().unwrap();
    let r =
        n.s.send(
            Method::PUT,
            &n.url(&format!("/ports/{id}")),
            &p.member,
            json!({"port": {"fixed_ips": [{"ip_address": "10.0.0.60"}]}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["port"]["fixed_ips"][0]["ip_address"], "10.0.0.60");
    create(
        &n,
        &p.member,
        "port",
        json!({"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.50"}]}),
    )
    .await;
}

#[tokio::test]
async fn macs_are_generated_and_unique_per_network() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let (net, _) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;
    let port = create(&n, &p.member, "port", json!({"network_id": net["id"]})).await;
    let mac = port["mac_address"].as_str().unwrap();
    assert!(mac.starts_with("fa:16:3e:"), "{mac}");
    let r = post(
        &n,
        &p.member,
        "port",
        json!({"network_id": net["id"], "mac_address": mac}),
    )
    .await;
    assert_eq!(neutron_error(&r, 409).0, "MacAddressInUse");
}

#[tokio::test]
async fn bindings_are_for_admins_and_show_the_vif_type() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let (net, _) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;
    let port = create(&n, &p.member, "port", json!({"network_id": net["id"]})).await;
    assert!(port.get("binding:host_id").is_none());
    assert!(port.get("binding:vif_type").is_none());
    assert_eq!(port["binding:vnic_type"], "normal");
    assert_eq!(port["status"], "DOWN");
    let id = port["id"].as_str().unwrap();
    let r = n.s.get(&n.url(&format!("/ports/{id}")), &p.admin).await;
    assert_eq!(r.body["port"]["binding:vif_type"], "unbound");

    let r =
        n.s.send(
            Method::PUT,
            &n.url(&format!("/ports/{id}")),
            &p.member,
            json!({"port": {"binding:host_id": "h1"}}),
        )
        .await;
    neutron_error(&r, 403);
    let r =
        n.s.send(
            Method::PUT,
            &n.url(&format!("/ports/{id}")),
            &p.admin,
            json!({"port": {"binding:host_id": "h1", "device_id": "vm1", "device_owner": "compute:nova"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["port"]["binding:vif_type"], "tap");
    assert_eq!(r.body["port"]["binding:host_id"], "h1");
    assert_eq!(r.body["port"]["status"], "ACTIVE");
}

#[tokio::test]
async fn port_security_defaults_from_the_network_and_guards_pairs() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let net = create(
        &n,
        &p.member,
        "network",
        json!({"port_security_enabled": false}),
    )
    .await;
    let port = create(&n, &p.member, "port", json!({"network_id": net["id"]})).await;
    assert_eq!(port["port_security_enabled"], false);
    let r = post(
        &n,
        &p.member,
        "port",
        json!({"network_id": net["id"], "allowed_address_pairs": [{"ip_address": "10.0.0.9"}]}),
    )
    .await;
    assert_eq!(
        neutron_error(&r, 409).0,
        "AddressPairAndPortSecurityRequired"
    );
    let r =
        n.s.send(
            Method::POST,
            &n.url("/security-groups"),
            &p.member,
            json!({"security_group": {"name": "sg1"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let sg1 = r.body["security_group"]["id"].clone();
    let port = create(
        &n,
        &p.member,
        "port",
        json!({"network_id": net["id"], "port_security_enabled": true,
               "allowed_address_pairs": [{"ip_address": "10.0.0.0/24"}],
               "security_groups": [sg1]}),
    )
    .await;
    assert_eq!(
        port["allowed_address_pairs"][0]["mac_address"],
        port["mac_address"]
    );
    assert_eq!(port["security_groups"], json!([sg1]));
    // Not asked for: the project's default group; asked for one that
    // does not exist: 404 and no port.
    let port = create(
        &n,
        &p.member,
        "port",
        json!({"network_id": net["id"], "port_security_enabled": true}),
    )
    .await;
    assert_eq!(port["security_groups"].as_array().map(Vec::len), Some(1));
    assert_ne!(port["security_groups"][0], sg1);
    let r = post(&n, &p.member, "port", json!({"network_id": net["id"], "port_security_enabled": true, "security_groups": ["nope"]})).await;
    assert_eq!(neutron_error(&r, 404).0, "SecurityGroupNotFound");
    // A group a port uses cannot be deleted.
    let r =
        n.s.send(
            Method::DELETE,
            &n.url(&format!("/security-groups/{}", sg1.as_str().unwrap())),
            &p.member,
            json!(null),
        )
        .await;
    assert_eq!(neutron_error(&r, 409).0, "SecurityGroupInUse");
}

#[tokio::test]
async fn another_projects_port_is_404_and_shared_networks_take_ports() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let (net, _) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;
    let port = create(&n, &p.member, "port", json!({"network_id": net["id"]})).await;
    let r =
        n.s.get(
            &n.url(&format!("/ports/{}", port["id"].as_str().unwrap())),
            &p.outsider,
        )
        .await;
    assert_eq!(neutron_error(&r, 404).0, "PortNotFound");
    let r = post(&n, &p.outsider, "port", json!({"network_id": net["id"]})).await;
    neutron_error(&r, 404);

    let shared = create(&n, &p.admin, "network", json!({"shared": true})).await;
    create(
        &n,
        &p.admin,
        "subnet",
        json!({"network_id": shared["id"], "ip_version": 4, "cidr": "10.9.0.0/24", "enable_dhcp": false}),
    )
    .await;
    let theirs = create(&n, &p.outsider, "port", json!({"network_id": shared["id"]})).await;
    assert_eq!(theirs["fixed_ips"][0]["ip_address"], "10.9.0.2");
}
