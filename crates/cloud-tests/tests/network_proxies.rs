//! Nova's network proxies through HTTP, the parts that are the compute
//! API's own: the microversion caps (404 from 2.36, the floating IP
//! actions from 2.44), nova-network's removed actions (410), Nova's body
//! checks answered before the network service is asked, and 501 from a
//! network service without the proxies. The proxies over the real network
//! service are tested in the binary (`nova_proxies`).

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, Compute};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_proxies_are_gone_from_2_36() {
    let c = Compute::start_with_networks().await;
    let p = c.s.personas(&c.project).await;
    for path in [
        "/os-security-groups",
        "/os-floating-ips",
        "/os-floating-ip-pools",
        "/os-networks",
        "/os-tenant-networks",
    ] {
        let r = c.get_at(path, &p.member, "2.36").await;
        assert_fault(&r, 404, "itemNotFound");
        // Up to 2.35 they reach the network service, which here has no
        // proxies: 501, never a fake answer.
        let r = c.get_at(path, &p.member, "2.35").await;
        assert_fault(&r, 501, "notImplemented");
    }
}

#[tokio::test]
async fn nova_networks_actions_are_410_and_need_an_admin() {
    let c = Compute::start_with_networks().await;
    let p = c.s.personas(&c.project).await;
    let body = Some(json!({"network": {"label": "x"}}));
    let r = c
        .at(Method::POST, "/os-networks", &p.admin, "2.35", body.clone())
        .await;
    assert_eq!(r.status, 410, "{}", r.body);
    let r = c
        .at(
            Method::POST,
            "/os-networks",
            &p.member,
            "2.35",
            body.clone(),
        )
        .await;
    assert_fault(&r, 403, "forbidden");
    let r = c
        .at(Method::POST, "/os-networks", &p.admin, "2.36", body)
        .await;
    assert_fault(&r, 404, "itemNotFound");
}

#[tokio::test]
async fn bad_rule_and_group_bodies_are_400_before_the_network_service() {
    let c = Compute::start_with_networks().await;
    let p = c.s.personas(&c.project).await;
    let post = |path: &'static str, body: serde_json::Value| {
        let c = &c;
        let token = p.member.clone();
        async move { c.at(Method::POST, path, &token, "2.35", Some(body)).await }
    };
    let r = post(
        "/os-security-group-rules",
        json!({"security_group_rule": {
        "parent_group_id": "not-a-uuid", "ip_protocol": "tcp", "from_port": 22, "to_port": 22}}),
    )
    .await;
    let m = assert_fault(&r, 400, "badRequest");
    assert!(m.contains("uuid"), "{m}");
    let r = post("/os-security-group-rules", json!({})).await;
    assert_fault(&r, 400, "badRequest");
    let r = post(
        "/os-security-groups",
        json!({"security_group": {"name": "x"}}),
    )
    .await;
    let m = assert_fault(&r, 400, "badRequest");
    assert!(m.contains("description"), "{m}");
    let long = "n".repeat(256);
    let r = post(
        "/os-security-groups",
        json!({"security_group": {"name": long, "description": ""}}),
    )
    .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .get_at("/os-security-groups/nope", &p.member, "2.35")
        .await;
    assert_fault(&r, 400, "badRequest");
}
