//! Server tags and the server password API through HTTP, on a server
//! booted through the fake agent.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, Compute};
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

async fn active_server(c: &Compute, admin: &str, member: &str) -> String {
    let flavor = json!({"flavor": {"name": "f1", "id": "1", "vcpus": 1, "ram": 256, "disk": 1}});
    assert_eq!(
        c.at(Method::POST, "/flavors", admin, "", Some(flavor))
            .await
            .status,
        200
    );
    let image = c.image(&c.project, "qcow2");
    c.start_fake_agent("host-1", None);
    let server =
        json!({"server": {"name": "vm", "imageRef": image, "flavorRef": "1", "networks": "none"}});
    let r = c
        .at(Method::POST, "/servers", member, "2.37", Some(server))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = c
            .at(Method::GET, &format!("/servers/{id}"), member, "", None)
            .await;
        if r.body["server"]["status"] == "ACTIVE"
            && r.body["server"]["OS-EXT-STS:task_state"].is_null()
        {
            return id;
        }
        assert!(Instant::now() < deadline, "never ACTIVE: {}", r.body);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn tags_are_added_replaced_checked_and_deleted_as_nova_does() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let id = active_server(&c, &p.admin, &p.member).await;
    let tags = format!("/servers/{id}/tags");
    let r = c
        .at(Method::PUT, &format!("{tags}/t1"), &p.member, "2.26", None)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = c
        .at(Method::PUT, &format!("{tags}/t1"), &p.member, "2.26", None)
        .await;
    assert_eq!(r.status, 204);
    let r = c
        .at(Method::GET, &format!("{tags}/t1"), &p.reader, "2.26", None)
        .await;
    assert_eq!(r.status, 204);
    let r = c
        .at(Method::GET, &format!("{tags}/t2"), &p.reader, "2.26", None)
        .await;
    assert_fault(&r, 404, "itemNotFound");
    let body = Some(json!({"tags": ["a", "b", "a"]}));
    let r = c.at(Method::PUT, &tags, &p.member, "2.26", body).await;
    assert_eq!(r.body, json!({"tags": ["a", "b"]}));
    let r = c
        .at(
            Method::GET,
            &format!("/servers/{id}"),
            &p.member,
            "2.26",
            None,
        )
        .await;
    assert_eq!(r.body["server"]["tags"], json!(["a", "b"]));
    let bad = Some(json!({"tags": ["x/y"]}));
    assert_fault(
        &c.at(Method::PUT, &tags, &p.member, "2.26", bad).await,
        400,
        "badRequest",
    );
    let many: Vec<String> = (0..51).map(|n| format!("t{n}")).collect();
    let r = c
        .at(
            Method::PUT,
            &tags,
            &p.member,
            "2.26",
            Some(json!({"tags": many})),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .at(
            Method::DELETE,
            &format!("{tags}/a"),
            &p.member,
            "2.26",
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = c
        .at(
            Method::DELETE,
            &format!("{tags}/a"),
            &p.member,
            "2.26",
            None,
        )
        .await;
    assert_fault(&r, 404, "itemNotFound");
    assert_eq!(
        c.at(Method::DELETE, &tags, &p.member, "2.26", None)
            .await
            .status,
        204
    );
    let r = c.at(Method::GET, &tags, &p.reader, "2.26", None).await;
    assert_eq!(r.body, json!({"tags": []}));
    // Readers do not write, other projects do not see, 2.25 has no tags.
    let r = c.at(Method::DELETE, &tags, &p.reader, "2.26", None).await;
    assert_fault(&r, 403, "forbidden");
    let r = c.at(Method::GET, &tags, &p.outsider, "2.26", None).await;
    assert_fault(&r, 404, "itemNotFound");
    let r = c.at(Method::GET, &tags, &p.member, "2.25", None).await;
    assert_fault(&r, 404, "itemNotFound");
    // The password is empty, and a delete leaves it so.
    let pw = format!("/servers/{id}/os-server-password");
    let r = c.at(Method::GET, &pw, &p.member, "", None).await;
    assert_eq!(r.body, json!({"password": ""}));
    assert_eq!(
        c.at(Method::DELETE, &pw, &p.member, "", None).await.status,
        204
    );
}

#[tokio::test]
async fn disk_config_follows_update_rebuild_and_resize() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let id = active_server(&c, &p.admin, &p.member).await;
    let path = format!("/servers/{id}");
    let body = Some(json!({"server": {"OS-DCF:diskConfig": "AUTO"}}));
    let r = c.at(Method::PUT, &path, &p.member, "", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c.at(Method::GET, &path, &p.member, "", None).await;
    assert_eq!(r.body["server"]["OS-DCF:diskConfig"], "AUTO");
    let body = Some(json!({"server": {"OS-DCF:diskConfig": "SOMETIMES"}}));
    let r = c.at(Method::PUT, &path, &p.member, "", body).await;
    assert_fault(&r, 400, "badRequest");
    let flavor = json!({"flavor": {"name": "f2", "id": "2", "vcpus": 1, "ram": 512, "disk": 1}});
    assert_eq!(
        c.at(Method::POST, "/flavors", &p.admin, "", Some(flavor))
            .await
            .status,
        200
    );
    let body = Some(json!({"resize": {"flavorRef": "2", "OS-DCF:diskConfig": "MANUAL"}}));
    let r = c
        .at(Method::POST, &format!("{path}/action"), &p.member, "", body)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = c.at(Method::GET, &path, &p.member, "", None).await;
    assert_eq!(r.body["server"]["OS-DCF:diskConfig"], "MANUAL");
}
