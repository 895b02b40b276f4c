//! Neutron's quota API and extension list through HTTP.

#![allow(clippy::unwrap_used)]

use ferrostack_quota::{ResourceMap, NETWORK};
use ferrostack_testkit::{Reply, Served};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

async fn start() -> Served {
    Served::start("/v2.0", |s, public_url| {
        ferrostack_network::router(ferrostack_network::NetworkConfig {
            public_url,
            validator: s.validator(),
            quotas: s.quotas.clone(),
            projects: s.projects.clone(),
            store: std::sync::Arc::new(s.store.clone()),
            ml2: ferrostack_network::Ml2Config::default(),
            security_groups: Arc::new(s.store.clone()),
            routers: Arc::new(s.store.clone()),
        })
    })
    .await
}

async fn quota(n: &Served, token: &str) -> Value {
    let r =
        n.s.get(&n.url(&format!("/quotas/{}", n.project)), token)
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["quota"].clone()
}

fn assert_neutron_error(r: &Reply, code: u16) -> (String, String) {
    assert_eq!(r.status, code, "body: {}", r.body);
    let e = &r.body["NeutronError"];
    let kind = e["type"]
        .as_str()
        .unwrap_or_else(|| panic!("no type: {}", r.body));
    let message = e["message"].as_str().unwrap().to_string();
    assert!(!message.is_empty());
    assert_eq!(e["detail"], "");
    (kind.to_string(), message)
}

#[tokio::test]
async fn a_fresh_project_shows_neutrons_defaults() {
    let n = start().await;
    let admin = n.s.admin_token().await;
    assert_eq!(
        quota(&n, &admin).await,
        json!({"network": 100, "subnet": 100, "port": 500, "router": 10,
               "floatingip": 50, "security_group": 10, "security_group_rule": 100,
               "rbac_policy": 10, "subnetpool": -1})
    );
}

#[tokio::test]
async fn update_by_name_as_openstackclient_sends_it() {
    let n = start().await;
    let admin = n.s.admin_token().await;
    let r =
        n.s.send(
            Method::PUT,
            &n.url("/quotas/myproject"),
            &admin,
            json!({"quota": {"network": 7, "port": "30", "check_limit": true}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["quota"]["network"], 7);
    let q = quota(&n, &admin).await;
    assert_eq!(
        (q["network"].clone(), q["port"].clone()),
        (json!(7), json!(30))
    );
}

#[tokio::test]
async fn default_and_details_have_neutrons_shapes() {
    let n = start().await;
    let admin = n.s.admin_token().await;
    n.s.send(
        Method::PUT,
        &n.url("/quotas/myproject"),
        &admin,
        json!({"quota": {"router": 2}}),
    )
    .await;
    let held = ResourceMap::from([("router".to_string(), 1)]);
    n.s.quotas
        .reserve(&NETWORK, &n.project, "r1", &held)
        .unwrap();
    let default =
        n.s.get(&n.url(&format!("/quotas/{}/default", n.project)), &admin)
            .await;
    assert_eq!(default.body["quota"]["router"], 10);
    let details =
        n.s.get(&n.url(&format!("/quotas/{}/details", n.project)), &admin)
            .await;
    assert_eq!(
        details.body["quota"]["router"],
        json!({"limit": 2, "used": 1, "reserved": 0})
    );
}

#[tokio::test]
async fn check_limit_refuses_a_limit_below_usage_and_force_allows_it() {
    let n = start().await;
    let admin = n.s.admin_token().await;
    let held = ResourceMap::from([("port".to_string(), 5)]);
    n.s.quotas
        .reserve(&NETWORK, &n.project, "p", &held)
        .unwrap();
    let url = n.url("/quotas/myproject");
    let r =
        n.s.send(
            Method::PUT,
            &url,
            &admin,
            json!({"quota": {"port": 2, "check_limit": true}}),
        )
        .await;
    let (kind, _) = assert_neutron_error(&r, 400);
    assert_eq!(kind, "InvalidQuotaValue");
    assert_eq!(quota(&n, &admin).await["port"], 500);
    let r =
        n.s.send(
            Method::PUT,
            &url,
            &admin,
            json!({"quota": {"port": 2, "force": true}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(quota(&n, &admin).await["port"], 2);
}

#[tokio::test]
async fn the_list_has_only_projects_with_overrides() {
    let n = start().await;
    let admin = n.s.admin_token().await;
    n.s.project("untouched");
    n.s.send(
        Method::PUT,
        &n.url("/quotas/myproject"),
        &admin,
        json!({"quota": {"subnet": 3}}),
    )
    .await;
    let r = n.s.get(&n.url("/quotas"), &admin).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.body["quotas"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", r.body);
    assert_eq!(list[0]["project_id"], json!(n.project));
    assert_eq!(list[0]["tenant_id"], json!(n.project));
    assert_eq!(list[0]["subnet"], 3);
    assert_eq!(list[0]["network"], 100);
}

#[tokio::test]
async fn delete_restores_the_defaults_with_204() {
    let n = start().await;
    let admin = n.s.admin_token().await;
    n.s.send(
        Method::PUT,
        &n.url("/quotas/myproject"),
        &admin,
        json!({"quota": {"subnet": 3}}),
    )
    .await;
    let r =
        n.s.call(n.s.req(Method::DELETE, &n.url("/quotas/myproject"), &admin))
            .await;
    assert_eq!(r.status, 204);
    assert_eq!(quota(&n, &admin).await["subnet"], 100);
}

#[tokio::test]
async fn bad_updates_are_400_neutron_errors_and_change_nothing() {
    let n = start().await;
    let admin = n.s.admin_token().await;
    let before = quota(&n, &admin).await;
    for (body, expected_kind) in [
        (json!({"quota": {"network": "many"}}), "InvalidInput"),
        (json!({"quota": {"network": -2}}), "InvalidInput"),
        (
            json!({"quota": {"network": 1, "cores": 2}}),
            "HTTPBadRequest",
        ),
        (json!({"quota_set": {"network": 1}}), "HTTPBadRequest"),
        (
            json!({"quota": {"network": 1, "check_limit": "perhaps"}}),
            "InvalidInput",
        ),
    ] {
        let r =
            n.s.send(
                Method::PUT,
                &n.url("/quotas/myproject"),
                &admin,
                body.clone(),
            )
            .await;
        let (kind, _) = assert_neutron_error(&r, 400);
        assert_eq!(kind, expected_kind, "{body}");
    }
    assert_eq!(quota(&n, &admin).await, before);
}

#[tokio::test]
async fn extensions_list_the_quota_extensions() {
    let n = start().await;
    let member = n.s.user_token("m", &n.project, "member").await;
    let r = n.s.get(&n.url("/extensions"), &member).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let aliases: Vec<&str> = r.body["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["alias"].as_str().unwrap())
        .collect();
    assert!(aliases.contains(&"quotas") && aliases.contains(&"quota_details"));
    let one = n.s.get(&n.url("/extensions/quota_details"), &member).await;
    assert_eq!(one.body["extension"]["alias"], "quota_details");
    let none = n.s.get(&n.url("/extensions/nope"), &member).await;
    assert_neutron_error(&none, 404);
}

#[tokio::test]
async fn personas_get_what_they_should() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let url = n.url("/quotas/myproject");
    assert_eq!(n.s.get(&url, &p.member).await.status, 200);
    assert_eq!(n.s.get(&url, &p.reader).await.status, 200);
    assert_neutron_error(&n.s.get(&url, &p.outsider).await, 404);
    assert_eq!(n.s.get(&url, "").await.status, 401);
    let put =
        n.s.send(
            Method::PUT,
            &url,
            &p.member,
            json!({"quota": {"network": 1}}),
        )
        .await;
    assert_neutron_error(&put, 403);
    assert_neutron_error(&n.s.get(&n.url("/quotas"), &p.member).await, 403);
    assert_eq!(quota(&n, &p.admin).await["network"], 100);
}

#[tokio::test]
async fn other_apis_want_a_token_then_are_501_neutron_errors() {
    let n = start().await;
    let admin = n.s.admin_token().await;
    let member = n.s.user_token("member", &n.project, "member").await;
    let unbuilt = [
        n.url("/qos/policies"),
        n.url("/metering/metering-labels/abc"),
        // Deeper than a built route: still the catch-all.
        n.url(&format!("/quotas/{}/details/more", n.project)),
        format!("{}/v2.1/networks", n.root),
    ];
    for url in &unbuilt {
        n.s.get(url, "").await.assert_unauthorized();
        n.s.get(url, "not-a-token").await.assert_unauthorized();
        for token in [&admin, &member] {
            let (kind, _) = assert_neutron_error(&n.s.get(url, token).await, 501);
            assert_eq!(kind, "HTTPNotImplemented");
        }
    }
    let create = n.url("/qos/policies");
    let body = json!({"policy": {"name": "p1"}});
    n.s.send(Method::POST, &create, "", body.clone())
        .await
        .assert_unauthorized();
    let r = n.s.send(Method::POST, &create, &member, body).await;
    assert_neutron_error(&r, 501);
    n.s.send(Method::DELETE, &n.url("/qos/policies/abc"), "", json!({}))
        .await
        .assert_unauthorized();
}

#[tokio::test]
async fn version_discovery_stays_public_beside_the_catch_all() {
    let n = start().await;
    assert_eq!(n.s.get(&format!("{}/", n.root), "").await.status, 200);
}
