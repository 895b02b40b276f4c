//! Token lifecycle over HTTP: issue, validate, revoke, and every change
//! that must end existing tokens at once (the next request, not the next
//! cache expiry).

// Test helpers panic on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_keystone_error, subject_token, Server, ADMIN_PASSWORD, USER_PASSWORD};
use ferrostack_identity::key_store::{MasterKey, SharedKeys};
use ferrostack_store::SqliteStore;
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn issue_validate_and_revoke_a_token() {
    let s = Server::start().await;
    let resp = s
        .password_login(&s.admin_id, ADMIN_PASSWORD, Some(&s.admin_project_id))
        .await;
    assert_eq!(resp.status().as_u16(), 201);
    let token = subject_token(&resp);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["token"]["user"]["id"], json!(s.admin_id));
    assert_eq!(body["token"]["project"]["id"], json!(s.admin_project_id));
    assert!(body["token"]["catalog"]
        .as_array()
        .is_some_and(|c| !c.is_empty()));

    let (status, body) = s
        .call(
            s.authed(Method::GET, "/v3/auth/tokens", &token)
                .header("X-Subject-Token", &token),
        )
        .await;
    assert_eq!(status, 200);
    let roles: Vec<&str> = body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        roles.contains(&"admin") && roles.contains(&"reader"),
        "{roles:?}"
    );

    let (status, _) = s
        .call(
            s.authed(Method::DELETE, "/v3/auth/tokens", &token)
                .header("X-Subject-Token", &token),
        )
        .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let user = s.user("alice");
    let victim = s.login(&user.id, USER_PASSWORD, None).await;
    assert!(s.token_works(&victim).await);
    let (status, _) = s
        .call(
            s.authed(Method::DELETE, "/v3/auth/tokens", &admin)
                .header("X-Subject-Token", &victim),
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = s.get("/v3/auth/projects", &victim).await;
    assert_eq!(status, 401);
    assert_keystone_error(&body, 401);
    let (status, _) = s
        .call(
            s.authed(Method::GET, "/v3/auth/tokens", &admin)
                .header("X-Subject-Token", &victim),
        )
        .await;
    assert_eq!(status, 404, "a revoked token does not validate");
    assert!(s.token_works(&admin).await, "only the subject was revoked");
}

#[tokio::test]
async fn disabling_a_user_ends_their_tokens() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let user = s.user("bob");
    let token = s.login(&user.id, USER_PASSWORD, None).await;
    assert!(s.token_works(&token).await);
    let (status, _) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/users/{}", user.id),
            &admin,
            json!({"user": {"enabled": false}}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(!s.token_works(&token).await);
    let resp = s.password_login(&user.id, USER_PASSWORD, None).await;
    assert_eq!(resp.status().as_u16(), 401, "a disabled user cannot log in");
}

#[tokio::test]
async fn deleting_a_project_ends_tokens_scoped_to_it() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let user = s.user("carol");
    let project = s.project("doomed");
    s.grant(&user.id, &project.id, "member");
    let scoped = s.login(&user.id, USER_PASSWORD, Some(&project.id)).await;
    let unscoped = s.login(&user.id, USER_PASSWORD, None).await;
    assert!(s.token_works(&scoped).await);
    let (status, _) = s
        .call(s.authed(
            Method::DELETE,
            &format!("/v3/projects/{}", project.id),
            &admin,
        ))
        .await;
    assert_eq!(status, 204);
    assert!(!s.token_works(&scoped).await);
    assert!(
        s.token_works(&unscoped).await,
        "tokens on other scopes survive"
    );
}

#[tokio::test]
async fn removing_a_role_ends_tokens_that_relied_on_it() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let user = s.user("dave");
    let project = s.project("p");
    s.grant(&user.id, &project.id, "member");
    let token = s.login(&user.id, USER_PASSWORD, Some(&project.id)).await;
    assert!(s.token_works(&token).await);
    let member = s.role_id("member");
    let (status, _) = s
        .call(s.authed(
            Method::DELETE,
            &format!(
                "/v3/projects/{}/users/{}/roles/{member}",
                project.id, user.id
            ),
            &admin,
        ))
        .await;
    assert_eq!(status, 204);
    assert!(!s.token_works(&token).await);
}

#[tokio::test]
async fn changing_a_password_ends_old_tokens_and_the_old_password() {
    let s = Server::start().await;
    let user = s.user("erin");
    let token = s.login(&user.id, USER_PASSWORD, None).await;
    assert!(s.token_works(&token).await);
    let (status, _) = s
        .call(
            s.req(Method::POST, &format!("/v3/users/{}/password", user.id))
                .json(&json!({"user": {"original_password": USER_PASSWORD, "password": "brand-new-pw-9"}})),
        )
        .await;
    assert_eq!(status, 204);
    assert!(!s.token_works(&token).await);
    let old = s.password_login(&user.id, USER_PASSWORD, None).await;
    assert_eq!(old.status().as_u16(), 401);
    let fresh = s.login(&user.id, "brand-new-pw-9", None).await;
    assert!(s.token_works(&fresh).await);
}

#[tokio::test]
async fn an_admin_password_reset_ends_the_users_tokens() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let user = s.user("frank");
    let token = s.login(&user.id, USER_PASSWORD, None).await;
    let (status, _) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/users/{}", user.id),
            &admin,
            json!({"user": {"password": "reset-by-admin-1"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(!s.token_works(&token).await);
}

#[tokio::test]
async fn tokens_survive_one_key_rotation_and_not_two() {
    let s = Server::start().await;
    let user = s.user("gina");
    let old = s.login(&user.id, USER_PASSWORD, None).await;
    s.keys.rotate(3).unwrap();
    s.identity.reload_keys().unwrap();
    assert!(s.token_works(&old).await, "valid after one rotation");
    let newer = s.login(&user.id, USER_PASSWORD, None).await;
    assert!(s.token_works(&newer).await);
    s.keys.rotate(3).unwrap();
    s.identity.reload_keys().unwrap();
    assert!(
        !s.token_works(&old).await,
        "its key retired on the second rotation"
    );
    assert!(s.token_works(&newer).await);
}

#[tokio::test]
async fn a_forged_or_garbage_token_is_401_in_keystone_shape() {
    let s = Server::start().await;
    let user = s.user("hank");
    let token = s.login(&user.id, USER_PASSWORD, None).await;
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    for bad in [String::from_utf8(forged).unwrap(), "garbage".to_string()] {
        let resp = s
            .authed(Method::GET, "/v3/auth/projects", &bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        assert!(resp.headers().contains_key("www-authenticate"));
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_keystone_error(&body, 401);
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let s = Server::start().await;
    let user = s.user("ivy");
    let wrong = s.password_login(&user.id, "not-it", None).await;
    let nobody = s.password_login("no-such-user", "not-it", None).await;
    assert_eq!(wrong.status().as_u16(), 401);
    assert_eq!(nobody.status().as_u16(), 401);
    let a: serde_json::Value = wrong.json().await.unwrap();
    let b: serde_json::Value = nobody.json().await.unwrap();
    assert_eq!(a["error"]["message"], b["error"]["message"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_read_the_keys_only_when_they_changed_and_the_timer_picks_up_other_writers() {
    let s = Server::start().await;
    let user = s.user("ivy");
    let old = s.login(&user.id, USER_PASSWORD, None).await;
    assert!(s.token_works(&old).await);
    let before = s.identity.key_loads();
    let mut tokens = vec![old.clone()];
    for _ in 0..3 {
        tokens.push(s.login(&user.id, USER_PASSWORD, None).await);
    }
    for token in &tokens {
        assert!(s.token_works(token).await);
        assert!(s.token_works(token).await);
    }
    assert_eq!(s.identity.key_loads(), before, "a request read the keys");

    // Another process on the same SQLite file (`ferrostack admin
    // rotate-token-keys`) rotates twice: this process's generations do not
    // move, so requests keep the keys in memory and only the timer reads
    // the change.
    let other = SqliteStore::open(&s.data_dir().join("ferrostack.db")).unwrap();
    let master = MasterKey::load(s.keys.master_key_path()).unwrap();
    let elsewhere = SharedKeys::new(Arc::new(other), master);
    elsewhere.rotate(3).unwrap();
    elsewhere.rotate(3).unwrap();
    assert!(
        s.token_works(&old).await,
        "validated with the keys in memory"
    );
    assert_eq!(s.identity.key_loads(), before, "a request read the keys");

    let period = std::time::Duration::from_millis(200);
    let reloader = tokio::spawn(s.identity.clone().reload_keys_every(period));
    let deadline = std::time::Instant::now() + period * 10;
    while s.token_works(&old).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the rotation was not picked up within the reload period"
        );
        tokio::time::sleep(period / 4).await;
    }
    let newer = s.login(&user.id, USER_PASSWORD, None).await;
    assert!(s.token_works(&newer).await);
    reloader.abort();
}

#[tokio::test]
async fn a_rotation_through_this_process_is_used_at_once() {
    let s = Server::start().await;
    let user = s.user("ivo");
    let old = s.login(&user.id, USER_PASSWORD, None).await;
    let primary = s.keys.rotate(3).unwrap();
    let newer = s.login(&user.id, USER_PASSWORD, None).await;
    assert_eq!(
        ferrostack_identity::token::key_number(&newer).ok(),
        Some(primary)
    );
    assert!(s.token_works(&old).await && s.token_works(&newer).await);
    s.keys.rotate(3).unwrap();
    assert!(
        !s.token_works(&old).await,
        "its key retired, no timer needed"
    );
}
