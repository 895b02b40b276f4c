//! Lists as clients read them (filters, fields, sorting, paging links),
//! tags, IP availability, quota usage and the extension list.

#![allow(clippy::unwrap_used)]

mod common;

use common::{create, ids, net_with_subnet, neutron_error, post, start};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn filters_fields_sorting_and_paging() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    for (name, up) in [("a", true), ("b", false), ("c", true)] {
        create(
            &n,
            &p.member,
            "network",
            json!({"name": name, "admin_state_up": up}),
        )
        .await;
    }
    let names = |r: &ferrostack_testkit::Reply| -> Vec<String> {
        r.body["networks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    };
    let r =
        n.s.get(
            &n.url("/networks?name=a&name=c&sort_key=name&sort_dir=asc"),
            &p.member,
        )
        .await;
    assert_eq!(names(&r), ["a", "c"]);
    let r =
        n.s.get(&n.url("/networks?admin_state_up=False"), &p.member)
            .await;
    assert_eq!(names(&r), ["b"]);
    let r =
        n.s.get(&n.url("/networks?sort_key=name&sort_dir=desc"), &p.member)
            .await;
    assert_eq!(names(&r), ["c", "b", "a"]);
    let r =
        n.s.get(
            &n.url("/networks?fields=name&sort_key=name&sort_dir=asc"),
            &p.member,
        )
        .await;
    assert_eq!(r.body["networks"][0], json!({"name": "a"}));
    let r = n.s.get(&n.url("/networks?colour=red"), &p.member).await;
    neutron_error(&r, 400);

    let r =
        n.s.get(
            &n.url("/networks?sort_key=name&sort_dir=asc&limit=2"),
            &p.member,
        )
        .await;
    assert_eq!(names(&r), ["a", "b"]);
    let next = r.body["networks_links"][0].clone();
    assert_eq!(next["rel"], "next");
    let r = n.s.get(next["href"].as_str().unwrap(), &p.member).await;
    assert_eq!(names(&r), ["c"]);
    let links = r.body["networks_links"].as_array().unwrap();
    assert_eq!(links.len(), 1, "the last page has no next");
    assert_eq!(links[0]["rel"], "previous");
    let r = n.s.get(links[0]["href"].as_str().unwrap(), &p.member).await;
    assert_eq!(names(&r), ["a", "b"]);
}

#[tokio::test]
async fn ports_filter_by_fixed_ip() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let (net, _) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;
    let a = create(&n, &p.member, "port", json!({"network_id": net["id"]})).await;
    create(&n, &p.member, "port", json!({"network_id": net["id"]})).await;
    let ip = a["fixed_ips"][0]["ip_address"].as_str().unwrap();
    let r =
        n.s.get(
            &n.url(&format!("/ports?fixed_ips=ip_address%3D{ip}")),
            &p.member,
        )
        .await;
    assert_eq!(ids(&r, "ports"), [a["id"].as_str().unwrap()]);
    let r =
        n.s.get(
            &n.url(&format!(
                "/ports?network_id={}",
                net["id"].as_str().unwrap()
            )),
            &p.member,
        )
        .await;
    assert_eq!(ids(&r, "ports").len(), 2);
}

#[tokio::test]
async fn tags_sub_resource_and_tag_filters() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let a = create(&n, &p.member, "network", json!({"name": "a"})).await;
    let b = create(&n, &p.member, "network", json!({"name": "b"})).await;
    let a_id = a["id"].as_str().unwrap();
    let b_id = b["id"].as_str().unwrap();
    let r =
        n.s.send(
            Method::PUT,
            &n.url(&format!("/networks/{a_id}/tags")),
            &p.member,
            json!({"tags": ["red", "blue"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r =
        n.s.call(n.s.req(
            Method::PUT,
            &n.url(&format!("/networks/{b_id}/tags/red")),
            &p.member,
        ))
        .await;
    assert_eq!(r.status, 201);
    let r =
        n.s.get(&n.url(&format!("/networks/{a_id}/tags/blue")), &p.member)
            .await;
    assert_eq!(r.status, 204);
    let r =
        n.s.get(&n.url(&format!("/networks/{b_id}/tags/blue")), &p.member)
            .await;
    assert_eq!(neutron_error(&r, 404).0, "TagNotFound");
    let r = n.s.get(&n.url("/networks?tags=red,blue"), &p.member).await;
    assert_eq!(ids(&r, "networks"), [a_id]);
    let r =
        n.s.get(&n.url("/networks?not-tags-any=blue"), &p.member)
            .await;
    assert_eq!(ids(&r, "networks"), [b_id]);
    let r =
        n.s.get(&n.url(&format!("/networks/{a_id}")), &p.member)
            .await;
    assert_eq!(r.body["network"]["tags"], json!(["red", "blue"]));
    assert_eq!(r.body["network"]["revision_number"], 2);
    let r =
        n.s.call(n.s.req(
            Method::DELETE,
            &n.url(&format!("/networks/{a_id}/tags")),
            &p.member,
        ))
        .await;
    assert_eq!(r.status, 204);
    let r =
        n.s.get(&n.url(&format!("/networks/{a_id}/tags")), &p.member)
            .await;
    assert_eq!(r.body, json!({"tags": []}));
}

#[tokio::test]
async fn ip_availability_counts_pools_and_allocations() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let (net, _) = net_with_subnet(&n, &p.member, "10.0.0.0/28", true).await;
    create(&n, &p.member, "port", json!({"network_id": net["id"]})).await;
    let id = net["id"].as_str().unwrap();
    let r =
        n.s.get(
            &n.url(&format!("/network-ip-availabilities/{id}")),
            &p.admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = &r.body["network_ip_availability"];
    assert_eq!(a["total_ips"], 13);
    assert_eq!(a["used_ips"], 2, "the DHCP port and ours");
    assert_eq!(a["subnet_ip_availability"][0]["cidr"], "10.0.0.0/28");
    let r =
        n.s.get(&n.url("/network-ip-availabilities"), &p.member)
            .await;
    neutron_error(&r, 403);
}

#[tokio::test]
async fn quota_usage_is_real_and_over_quota_is_409() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let (net, _) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;
    let port = create(&n, &p.member, "port", json!({"network_id": net["id"]})).await;
    let r =
        n.s.get(&n.url(&format!("/quotas/{}/details", n.project)), &p.member)
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["quota"]["network"]["used"], 1);
    assert_eq!(r.body["quota"]["subnet"]["used"], 1);
    assert_eq!(r.body["quota"]["port"]["used"], 1);

    let r =
        n.s.send(
            Method::PUT,
            &n.url(&format!("/quotas/{}", n.project)),
            &p.admin,
            json!({"quota": {"port": 1}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(&n, &p.member, "port", json!({"network_id": net["id"]})).await;
    let (kind, message) = neutron_error(&r, 409);
    assert_eq!(kind, "OverQuota");
    assert_eq!(message, "Quota exceeded for resources: ['port'].");
    let r =
        n.s.call(n.s.req(
            Method::DELETE,
            &n.url(&format!("/ports/{}", port["id"].as_str().unwrap())),
            &p.member,
        ))
        .await;
    assert_eq!(r.status, 204);
    create(&n, &p.member, "port", json!({"network_id": net["id"]})).await;
}

#[tokio::test]
async fn extensions_list_what_is_served_and_qos_stays_501() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let r = n.s.get(&n.url("/extensions"), &p.member).await;
    let aliases: Vec<&str> = r.body["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["alias"].as_str().unwrap())
        .collect();
    for a in [
        "provider",
        "external-net",
        "binding",
        "standard-attr-tag",
        "net-mtu",
        "quotas",
        "router",
    ] {
        assert!(aliases.contains(&a), "{a} missing from {aliases:?}");
    }
    assert!(!aliases.contains(&"qos"));
    let r = n.s.get(&n.url("/qos/policies"), &p.member).await;
    neutron_error(&r, 501);
}
