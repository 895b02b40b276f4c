//! Keystone's rules that Tempest found broken: an endpoint named with the
//! legacy `region` field creates that region when it does not exist (for
//! clients written against v2; `region_id` still has to name an existing
//! region, and a refused endpoint leaves no region), project and domain
//! names are at most 64 characters, and a user or group in a domain that
//! does not exist is 404 (Keystone's DomainNotFound).

// Test helpers panic on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_keystone_error, Server};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_legacy_region_is_created_with_its_endpoint() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let (_, svc) = s
        .send_json(
            Method::POST,
            "/v3/services",
            &admin,
            json!({"service": {"type": "dns"}}),
        )
        .await;
    let sid = svc["service"]["id"].as_str().unwrap();

    let (status, ep) = s
        .send_json(
            Method::POST,
            "/v3/endpoints",
            &admin,
            json!({"endpoint": {"service_id": sid, "interface": "public",
                                "region": "region-new", "url": "http://dns:9001", "enabled": true}}),
        )
        .await;
    assert_eq!(status, 201, "{ep}");
    assert_eq!(ep["endpoint"]["region_id"], "region-new");
    let (status, region) = s.get("/v3/regions/region-new", &admin).await;
    assert_eq!(status, 200, "{region}");

    // On update too; a refused change leaves no region behind.
    let eid = ep["endpoint"]["id"].as_str().unwrap();
    let (status, patched) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/endpoints/{eid}"),
            &admin,
            json!({"endpoint": {"region": "region-moved"}}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["endpoint"]["region_id"], "region-moved");
    let (status, err) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/endpoints/{eid}"),
            &admin,
            json!({"endpoint": {"region": "region-never", "interface": "sideways"}}),
        )
        .await;
    assert_keystone_error(&err, 400);
    assert_eq!(status, 400);
    assert_eq!(s.get("/v3/regions/region-never", &admin).await.0, 404);
    // A string where a boolean belongs is 400, as in Keystone's schema.
    let (status, _) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/endpoints/{eid}"),
            &admin,
            json!({"endpoint": {"enabled": "True"}}),
        )
        .await;
    assert_eq!(status, 400);

    // `region_id` still names an existing region only.
    let (status, _) = s
        .send_json(
            Method::POST,
            "/v3/endpoints",
            &admin,
            json!({"endpoint": {"service_id": sid, "interface": "public",
                                "region_id": "Atlantis", "url": "http://dns:9001"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(s.get("/v3/regions/Atlantis", &admin).await.0, 404);
}

#[tokio::test]
async fn project_and_domain_names_are_at_most_64_characters() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    for (path, key) in [("/v3/projects", "project"), ("/v3/domains", "domain")] {
        let (status, err) = s
            .send_json(
                Method::POST,
                path,
                &admin,
                json!({ key: {"name": "n".repeat(65)} }),
            )
            .await;
        assert_eq!(status, 400, "{path}: {err}");
        assert_keystone_error(&err, 400);
        let (status, made) = s
            .send_json(
                Method::POST,
                path,
                &admin,
                json!({ key: {"name": "n".repeat(64)} }),
            )
            .await;
        assert_eq!(status, 201, "{path}: {made}");
    }
    // Users keep Keystone's 255.
    let (status, made) = s
        .send_json(
            Method::POST,
            "/v3/users",
            &admin,
            json!({"user": {"name": "u".repeat(200)}}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
}

#[tokio::test]
async fn a_user_or_group_in_a_missing_domain_is_404() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    for (path, key) in [("/v3/users", "user"), ("/v3/groups", "group")] {
        let (status, err) = s
            .send_json(
                Method::POST,
                path,
                &admin,
                json!({ key: {"name": "x", "domain_id": "0123456789abcdef0123456789abcdef"} }),
            )
            .await;
        assert_eq!(status, 404, "{path}: {err}");
        assert_keystone_error(&err, 404);
    }
}
