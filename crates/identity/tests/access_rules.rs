//! Application credential access rules and expiry over HTTP: rules stored
//! with the credential, shared per user, listed, refused deletion while in
//! use, and enforced on the credential's tokens by the policy layer; the
//! expiry shown as Keystone shows it and never outlived by a token.

// Test helpers panic on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_keystone_error, subject_token, Server, USER_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

async fn member(s: &Server) -> (String, String, String) {
    let u = s.user("rules");
    let p = s.project("rules-project");
    s.grant(&u.id, &p.id, "member");
    let token = s.login(&u.id, USER_PASSWORD, Some(&p.id)).await;
    (u.id, p.id, token)
}

async fn make_cred(s: &Server, uid: &str, token: &str, body: Value) -> (u16, Value) {
    s.send_json(
        Method::POST,
        &format!("/v3/users/{uid}/application_credentials"),
        token,
        json!({ "application_credential": body }),
    )
    .await
}

async fn cred_token(s: &Server, cred: &Value) -> (u16, Option<String>, Value) {
    let resp = s
        .req(Method::POST, "/v3/auth/tokens")
        .json(&json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": cred["id"], "secret": cred["secret"]},
        }}}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let token = (status == 201).then(|| subject_token(&resp));
    (status, token, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn rules_are_stored_shared_listed_and_kept_while_in_use() {
    let s = Server::start().await;
    let (uid, _, token) = member(&s).await;
    let rule = json!({"path": "/v2.1/servers/*/ips", "method": "GET", "service": "compute"});
    let (status, made) = make_cred(
        &s,
        &uid,
        &token,
        json!({"name": "a", "access_rules": [rule]}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let mut shown = made["application_credential"]["access_rules"][0].clone();
    let rule_id = shown["id"].as_str().unwrap().to_string();
    shown.as_object_mut().unwrap().remove("id");
    assert_eq!(shown, rule);

    // The same triple, or the rule's id, is the same rule.
    let (status, second) = make_cred(
        &s,
        &uid,
        &token,
        json!({"name": "b", "access_rules": [rule]}),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(
        second["application_credential"]["access_rules"][0]["id"],
        json!(rule_id)
    );
    let (status, third) = make_cred(
        &s,
        &uid,
        &token,
        json!({"name": "c", "access_rules": [{"id": rule_id}]}),
    )
    .await;
    assert_eq!(status, 201, "{third}");
    let base = format!("/v3/users/{uid}/access_rules");
    let (status, listed) = s.get(&base, &token).await;
    assert_eq!(status, 200);
    assert_eq!(
        listed["access_rules"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    let (status, one) = s.get(&format!("{base}/{rule_id}"), &token).await;
    assert_eq!(status, 200);
    assert_eq!(one["access_rule"]["path"], "/v2.1/servers/*/ips");

    // In use: 403; after its credentials are gone: deleted.
    let (status, body) = s
        .call(s.authed(Method::DELETE, &format!("{base}/{rule_id}"), &token))
        .await;
    assert_eq!(status, 403, "{body}");
    assert_keystone_error(&body, 403);
    for c in [&made, &second, &third] {
        let cid = c["application_credential"]["id"].as_str().unwrap();
        let (status, _) = s
            .call(s.authed(
                Method::DELETE,
                &format!("/v3/users/{uid}/application_credentials/{cid}"),
                &token,
            ))
            .await;
        assert_eq!(status, 204);
    }
    assert_eq!(
        s.get(&base, &token).await.1["access_rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, _) = s
        .call(s.authed(Method::DELETE, &format!("{base}/{rule_id}"), &token))
        .await;
    assert_eq!(status, 204);
    assert_eq!(s.get(&format!("{base}/{rule_id}"), &token).await.0, 404);

    // Malformed rules and another user's rule are refused; nothing is created.
    for bad in [
        json!([{"path": "servers", "method": "GET", "service": "compute"}]),
        json!([{"path": "/x", "method": "FETCH", "service": "compute"}]),
        json!([{"path": "/x", "method": "GET"}]),
        json!([{"path": "/x", "method": "GET", "service": "compute", "extra": 1}]),
    ] {
        let (status, body) = make_cred(
            &s,
            &uid,
            &token,
            json!({"name": "bad", "access_rules": bad}),
        )
        .await;
        assert_eq!(status, 400, "{body}");
    }
    let (status, _) = make_cred(
        &s,
        &uid,
        &token,
        json!({"name": "bad", "access_rules": [{"id": "0123456789abcdef0123456789abcdef"}]}),
    )
    .await;
    assert_eq!(status, 404);
    let (_, creds) = s
        .get(&format!("/v3/users/{uid}/application_credentials"), &token)
        .await;
    assert!(creds["application_credentials"]
        .as_array()
        .unwrap()
        .is_empty());

    // Another user sees neither the rules nor that the user exists.
    let other = s.user("other");
    let p = s.project("other-project");
    s.grant(&other.id, &p.id, "member");
    let other_token = s.login(&other.id, USER_PASSWORD, Some(&p.id)).await;
    assert_eq!(s.get(&base, &other_token).await.0, 404);
}

#[tokio::test]
async fn a_credential_token_serves_only_requests_its_rules_allow() {
    let s = Server::start().await;
    let (uid, _, token) = member(&s).await;
    let (status, made) = make_cred(
        &s,
        &uid,
        &token,
        json!({"name": "narrow", "access_rules": [
            {"service": "identity", "method": "GET", "path": "/v3/auth/projects"},
            {"service": "compute", "method": "GET", "path": "/v2.1/servers/**"},
        ]}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let (status, narrow, body) = cred_token(&s, &made["application_credential"]).await;
    assert_eq!(status, 201, "{body}");
    let narrow = narrow.unwrap();
    let (status, _) = s.get("/v3/auth/projects", &narrow).await;
    assert_eq!(status, 200, "the rule's own request");
    for path in ["/v3/auth/domains", &format!("/v3/users/{uid}")] {
        let (status, body) = s.get(path, &narrow).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert_keystone_error(&body, 401);
    }
    // The owner's password token is not restricted by the credential's rules.
    assert_eq!(s.get("/v3/auth/domains", &token).await.0, 200);

    // A credential without rules is not restricted.
    let (_, wide) = make_cred(&s, &uid, &token, json!({"name": "wide"})).await;
    let (_, wide, _) = cred_token(&s, &wide["application_credential"]).await;
    assert_eq!(s.get("/v3/auth/domains", &wide.unwrap()).await.0, 200);
}

#[tokio::test]
async fn expiry_is_shown_as_sent_and_bounds_the_credential_and_its_tokens() {
    let s = Server::start().await;
    let (uid, _, token) = member(&s).await;
    let (status, made) = make_cred(
        &s,
        &uid,
        &token,
        json!({"name": "soon", "expires_at": "2099-03-04T05:06:07.123456"}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        made["application_credential"]["expires_at"],
        "2099-03-04T05:06:07.123456"
    );

    // A credential that expires in a moment issues tokens that end with it.
    let soon = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (status, made) = make_cred(
        &s,
        &uid,
        &token,
        json!({"name": "brief", "expires_at": soon.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let cred = &made["application_credential"];
    let (status, issued, body) = cred_token(&s, cred).await;
    assert_eq!(status, 201, "{body}");
    let expires = body["token"]["expires_at"].as_str().unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(expires).unwrap();
    assert!(
        expires <= soon + chrono::Duration::milliseconds(1),
        "{expires} after {soon}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(!s.token_works(&issued.unwrap()).await);
    let (status, _, _) = cred_token(&s, cred).await;
    assert_eq!(status, 401, "an expired credential cannot authenticate");
}
