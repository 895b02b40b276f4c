//! Who may call what: each persona against each quota route, the routes
//! not built yet, and the policy table's coverage of the router.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, Compute};
use ferrostack_compute::policy::RULES;
use ferrostack_policy::Rule;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn members_and_readers_see_their_projects_quota_by_id_or_name() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    for token in [&p.member, &p.reader] {
        for path in [
            format!("/os-quota-sets/{}", c.project),
            "/os-quota-sets/myproject".to_string(),
            format!("/os-quota-sets/{}/detail", c.project),
            format!("/os-quota-sets/{}/defaults", c.project),
        ] {
            let r = c.s.get(&c.url(&path), token).await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
        }
    }
    let r = c.s.get(&c.url("/os-quota-sets/myproject"), &p.reader).await;
    assert_eq!(r.body["quota_set"]["id"], json!(c.project));
}

#[tokio::test]
async fn another_projects_quota_is_not_found() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    for token in [&p.outsider, &p.nobody] {
        for path in [
            format!("/os-quota-sets/{}", c.project),
            "/os-quota-sets/myproject".to_string(),
            format!("/os-quota-sets/{}/detail", c.project),
        ] {
            let r = c.s.get(&c.url(&path), token).await;
            assert_fault(&r, 404, "itemNotFound");
        }
    }
}

#[tokio::test]
async fn anyone_with_a_token_may_read_defaults() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let r =
        c.s.get(
            &c.url(&format!("/os-quota-sets/{}/defaults", c.project)),
            &p.outsider,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["quota_set"]["cores"], 20);
}

#[tokio::test]
async fn only_admins_change_quotas_or_read_classes() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let set = c.url("/os-quota-sets/myproject");
    for token in [&p.member, &p.reader, &p.outsider] {
        let put =
            c.s.send(Method::PUT, &set, token, json!({"quota_set": {"cores": 1}}))
                .await;
        assert_fault(&put, 403, "forbidden");
        let del = c.s.call(c.s.req(Method::DELETE, &set, token)).await;
        assert_fault(&del, 403, "forbidden");
        let class = c.s.get(&c.url("/os-quota-class-sets/default"), token).await;
        assert_fault(&class, 403, "forbidden");
        let class_put =
            c.s.send(
                Method::PUT,
                &c.url("/os-quota-class-sets/default"),
                token,
                json!({"quota_class_set": {"cores": 1}}),
            )
            .await;
        assert_fault(&class_put, 403, "forbidden");
    }
    assert_eq!(c.quota_set(&p.admin, &c.project).await["cores"], 20);
}

#[tokio::test]
async fn no_token_is_401_in_keystones_shape() {
    let c = Compute::start().await;
    for path in [
        "/os-quota-sets/myproject",
        "/limits",
        "/os-quota-class-sets/default",
    ] {
        let r = c.s.get(&c.url(path), "").await;
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.body["error"]["code"], 401, "{path}: {}", r.body);
    }
    let garbage = c.s.get(&c.url("/limits"), "not-a-token").await;
    assert_eq!(garbage.status, 401);
}

#[tokio::test]
async fn unbuilt_apis_are_501_after_authentication() {
    let c = Compute::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let r = c.s.get(&c.url("/os-security-groups"), &member).await;
    assert_fault(&r, 501, "notImplemented");
    assert_eq!(r.header("x-openstack-nova-api-version"), Some("2.1"));
    assert_eq!(c.s.get(&c.url("/os-security-groups"), "").await.status, 401);
    let volume =
        c.s.call(c.s.req(Method::DELETE, &c.url("/os-floating-ips/42"), &member))
            .await;
    assert_fault(&volume, 501, "notImplemented");
}

#[tokio::test]
async fn paths_nova_does_not_have_are_404_and_wrong_methods_405() {
    let c = Compute::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let r = c.s.get(&c.url("/no-such-thing"), &member).await;
    assert_fault(&r, 404, "itemNotFound");
    let r =
        c.s.call(c.s.req(Method::POST, &c.url("/limits"), &member))
            .await;
    assert_fault(&r, 405, "badMethod");
}

#[tokio::test]
async fn every_row_of_the_policy_table_is_a_served_route() {
    let c = Compute::start().await;
    for rule in RULES {
        let path = rule
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(rule.method.as_bytes()).unwrap();
        let r =
            c.s.call(c.s.req(method, &format!("{}{}", c.root, path), ""))
                .await;
        let expected = if rule.rule == Rule::Public { 200 } else { 401 };
        assert_eq!(
            r.status, expected,
            "{} {}: {}",
            rule.method, rule.path, r.body
        );
    }
}
