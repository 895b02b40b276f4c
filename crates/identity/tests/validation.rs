//! Bad input over HTTP: every refusal answers the right 4xx in Keystone's
//! `{"error": {"code", "title", "message"}}` shape, creates nothing, and
//! carries an `X-OpenStack-Request-Id`; and no response ever echoes a
//! password.

// Test helpers panic on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_keystone_error, Server};
use reqwest::Method;
use serde_json::{json, Value};

/// Collections whose create body is `{"<member>": {"name": ...}}`.
const NAMED: &[(&str, &str, &str)] = &[
    ("/v3/users", "user", "users"),
    ("/v3/projects", "project", "projects"),
    ("/v3/groups", "group", "groups"),
    ("/v3/roles", "role", "roles"),
    ("/v3/domains", "domain", "domains"),
];

async fn count(s: &Server, token: &str, path: &str, key: &str) -> usize {
    let (status, body) = s.get(path, token).await;
    assert_eq!(status, 200, "listing {path}: {body}");
    body[key].as_array().map_or(0, Vec::len)
}

/// Send a raw body; assert the status, the error shape and the request id.
async fn refused(
    s: &Server,
    token: &str,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    want: u16,
) -> String {
    let resp = s
        .authed(method, path, token)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert!(
        resp.headers()
            .get("x-openstack-request-id")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("req-")),
        "no request id on {path}"
    );
    let text = resp.text().await.unwrap();
    assert_eq!(status, want, "{path}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert_keystone_error(&body, want)
}

#[tokio::test]
async fn malformed_bodies_are_refused_and_create_nothing() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let huge = json!({"x": "a".repeat(70 * 1024)}).to_string();
    for (path, member, key) in NAMED {
        let before = count(&s, &admin, path, key).await;
        let cases: Vec<(&str, Vec<u8>, u16)> = vec![
            ("application/json", b"{\"".to_vec(), 400),
            ("application/json", b"not json".to_vec(), 400),
            (
                "text/plain",
                json!({*member: {"name": "x1"}}).to_string().into_bytes(),
                415,
            ),
            (
                "application/json",
                json!({*member: {"name": "x2"}, "surprise": 1})
                    .to_string()
                    .into_bytes(),
                400,
            ),
            (
                "application/json",
                json!({*member: {}}).to_string().into_bytes(),
                400,
            ),
            (
                "application/json",
                json!({*member: {"name": ""}}).to_string().into_bytes(),
                400,
            ),
            ("application/json", json!({}).to_string().into_bytes(), 400),
            ("application/json", huge.clone().into_bytes(), 413),
        ];
        for (ct, body, want) in cases {
            refused(&s, &admin, Method::POST, path, ct, body, want).await;
        }
        assert_eq!(count(&s, &admin, path, key).await, before, "{path} grew");
    }
}

#[tokio::test]
async fn duplicate_names_conflict_and_create_nothing() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    for (path, member, key) in NAMED {
        let body = json!({*member: {"name": "twin"}});
        let (status, _) = s.send_json(Method::POST, path, &admin, body.clone()).await;
        assert_eq!(status, 201, "{path}");
        let before = count(&s, &admin, path, key).await;
        let (status, err) = s.send_json(Method::POST, path, &admin, body).await;
        assert_eq!(status, 409, "{path}: {err}");
        assert_keystone_error(&err, 409);
        assert_eq!(count(&s, &admin, path, key).await, before);
    }
}

#[tokio::test]
async fn unknown_ids_are_404_on_show_update_and_delete() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    for (path, member, _) in NAMED {
        let one = format!("{path}/0123456789abcdef0123456789abcdef");
        refused(
            &s,
            &admin,
            Method::GET,
            &one,
            "application/json",
            vec![],
            404,
        )
        .await;
        let patch = json!({*member: {"description": "d"}})
            .to_string()
            .into_bytes();
        refused(
            &s,
            &admin,
            Method::PATCH,
            &one,
            "application/json",
            patch,
            404,
        )
        .await;
        refused(
            &s,
            &admin,
            Method::DELETE,
            &one,
            "application/json",
            vec![],
            404,
        )
        .await;
    }
    for path in [
        "/v3/regions/nowhere",
        "/v3/services/nothing",
        "/v3/endpoints/nothing",
        "/v3/groups/nothing/users",
        "/v3/roles/nothing/implies",
        "/v3/projects/nothing/tags",
    ] {
        refused(
            &s,
            &admin,
            Method::GET,
            path,
            "application/json",
            vec![],
            404,
        )
        .await;
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let cases = [
        (Method::GET, "/", None, 300),
        (Method::GET, "/v3", None, 200),
        (Method::GET, "/v3/users", Some(admin.as_str()), 200),
        (Method::GET, "/v3/users", None, 401),
        (Method::GET, "/v3/users", Some("bogus"), 401),
        (Method::GET, "/no/such/path", None, 404),
        (Method::PUT, "/v3/users", Some(admin.as_str()), 405),
        (Method::POST, "/v3/users", Some(admin.as_str()), 415),
        (Method::GET, "/v2.0", None, 200),
    ];
    let mut seen = std::collections::HashSet::new();
    for (method, path, token, want) in cases {
        let mut rb = s.req(method.clone(), path);
        if let Some(t) = token {
            rb = rb.header("X-Auth-Token", t);
        }
        let resp = rb.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), want, "{method} {path}");
        let id = resp
            .headers()
            .get("x-openstack-request-id")
            .unwrap_or_else(|| panic!("no request id on {method} {path}"))
            .to_str()
            .unwrap()
            .to_string();
        assert!(id.starts_with("req-"), "{id}");
        assert!(seen.insert(id), "request ids repeat");
        if want >= 400 {
            let body: Value = resp.json().await.unwrap();
            assert_keystone_error(&body, want);
        }
    }
}

#[tokio::test]
async fn passwords_never_come_back() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let secret = "Sentinel-Passw0rd-7f3a";
    let mut bodies: Vec<String> = Vec::new();
    let mut keep = |b: &Value| bodies.push(b.to_string());

    let (status, created) = s
        .send_json(
            Method::POST,
            "/v3/users",
            &admin,
            json!({"user": {"name": "pat", "password": secret}}),
        )
        .await;
    assert_eq!(status, 201);
    keep(&created);
    let uid = created["user"]["id"].as_str().unwrap().to_string();
    keep(&s.get(&format!("/v3/users/{uid}"), &admin).await.1);
    keep(&s.get("/v3/users", &admin).await.1);
    keep(&s.get("/v3/users?name=pat", &admin).await.1);
    let (_, patched) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/users/{uid}"),
            &admin,
            json!({"user": {"password": secret, "description": "x"}}),
        )
        .await;
    keep(&patched);
    // A token issued with the password, and its validation.
    let resp = s.password_login(&uid, secret, None).await;
    let token = common::subject_token(&resp);
    keep(&resp.json().await.unwrap());
    keep(
        &s.call(
            s.authed(Method::GET, "/v3/auth/tokens", &admin)
                .header("X-Subject-Token", &token),
        )
        .await
        .1,
    );
    // Refusals that had the password in the request.
    keep(
        &s.password_login(&uid, &format!("{secret}x"), None)
            .await
            .json()
            .await
            .unwrap(),
    );
    keep(
        &s.send_json(
            Method::POST,
            "/v3/users",
            &admin,
            json!({"user": {"name": "pat", "password": secret}}),
        )
        .await
        .1,
    );
    keep(
        &s.send_json(
            Method::POST,
            "/v3/users",
            &admin,
            json!({"user": {"name": "pat2", "password": secret, "enabled": secret}}),
        )
        .await
        .1,
    );
    keep(
        &s.send_json(
            Method::POST,
            "/v3/auth/tokens",
            "",
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": uid, "password": [secret]}}}}}),
        )
        .await
        .1,
    );
    keep(
        &s.send_json(
            Method::POST,
            &format!("/v3/users/{uid}/password"),
            "",
            json!({"user": {"original_password": "wrong", "password": secret}}),
        )
        .await
        .1,
    );
    keep(
        &s.send_json(
            Method::POST,
            "/v2.0/tokens",
            "",
            json!({"auth": {"passwordCredentials": {"username": "pat", "password": secret}}}),
        )
        .await
        .1,
    );
    assert!(bodies.len() >= 12);
    for b in &bodies {
        assert!(!b.contains(secret), "password echoed: {b}");
        assert!(!b.contains("argon2"), "hash echoed: {b}");
    }
}

#[tokio::test]
async fn malformed_auth_requests_are_400_not_500() {
    let s = Server::start().await;
    for body in [
        json!({}),
        json!({"auth": {}}),
        json!({"auth": {"identity": {"methods": []}}}),
        json!({"auth": {"identity": {"methods": ["password"]}}}),
        json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "password": "x"}}}}}),
        json!({"auth": {"identity": {"methods": ["token"]}}}),
        json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": s.admin_id, "password": common::ADMIN_PASSWORD}}}, "scope": {"project": {}}}}),
    ] {
        let (status, err) = s
            .send_json(Method::POST, "/v3/auth/tokens", "", body.clone())
            .await;
        assert_eq!(status, 400, "{body} -> {err}");
        assert_keystone_error(&err, 400);
    }
}
