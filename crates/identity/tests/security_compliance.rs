//! Keystone's `[security_compliance]` over HTTP: what a user notices of
//! each rule (refused logins and changes, and that a refused change leaves
//! the old password working).

mod common;

use common::{Server, USER_PASSWORD};
use ferrostack_identity::compliance::SecurityCompliance;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

async fn login_status(s: &Server, user_id: &str, pw: &str) -> (u16, Value) {
    let resp = s.password_login(user_id, pw, None).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn change_own(s: &Server, user_id: &str, original: &str, new: &str) -> (u16, Value) {
    s.call(
        s.req(Method::POST, &format!("/v3/users/{user_id}/password"))
            .json(&json!({"user": {"original_password": original, "password": new}})),
    )
    .await
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_locked_user_cannot_log_in_even_with_the_right_password_until_the_lockout_ends() {
    let s = Server::start_with(SecurityCompliance {
        lockout_failure_attempts: Some(2),
        lockout_duration: Some(2),
        ..Default::default()
    })
    .await;
    let u = s.user("alice");
    // One failure, then a success: the count starts again.
    assert_eq!(login_status(&s, &u.id, "wrong").await.0, 401);
    assert_eq!(login_status(&s, &u.id, USER_PASSWORD).await.0, 201);
    assert_eq!(login_status(&s, &u.id, "wrong").await.0, 401);
    assert_eq!(login_status(&s, &u.id, USER_PASSWORD).await.0, 201);
    // Two in a row lock the account.
    for _ in 0..2 {
        assert_eq!(login_status(&s, &u.id, "wrong").await.0, 401);
    }
    let (status, body) = login_status(&s, &u.id, USER_PASSWORD).await;
    assert_eq!(status, 401);
    assert_eq!(
        message(&body),
        format!("The account is locked for user: {}.", u.id)
    );
    // A self-service change is refused too.
    assert_eq!(
        change_own(&s, &u.id, USER_PASSWORD, "Other-pw-1").await.0,
        401
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(login_status(&s, &u.id, USER_PASSWORD).await.0, 201);
}

#[tokio::test]
async fn an_exempt_user_is_never_locked_and_enabling_a_user_lifts_a_lockout() {
    let s = Server::start_with(SecurityCompliance {
        lockout_failure_attempts: Some(1),
        ..Default::default()
    })
    .await;
    let admin = s.admin_token().await;
    let exempt = s.user("service");
    let (st, _) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/users/{}", exempt.id),
            &admin,
            json!({"user": {"options": {"ignore_lockout_failure_attempts": true}}}),
        )
        .await;
    assert_eq!(st, 200);
    let locked = s.user("bob");
    for u in [&exempt, &locked] {
        assert_eq!(login_status(&s, &u.id, "wrong").await.0, 401);
    }
    assert_eq!(login_status(&s, &exempt.id, USER_PASSWORD).await.0, 201);
    // No duration: locked until an administrator enables the user.
    assert_eq!(login_status(&s, &locked.id, USER_PASSWORD).await.0, 401);
    let (st, body) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/users/{}", locked.id),
            &admin,
            json!({"user": {"enabled": true}}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(login_status(&s, &locked.id, USER_PASSWORD).await.0, 201);
}

#[tokio::test]
async fn refused_password_changes_leave_the_old_password_working() {
    let s = Server::start_with(SecurityCompliance {
        password_regex: Some(SecurityCompliance::compile_regex(r"^(?=.*\d).{8,}$").unwrap()),
        password_regex_description: Some("at least 8 characters with a digit".into()),
        unique_last_password_count: 2,
        ..Default::default()
    })
    .await;
    let u = s.user("carol");
    // Any user may read the rule, as clients do to explain a refusal.
    let token = s.login(&u.id, USER_PASSWORD, None).await;
    let (st, body) = s
        .get("/v3/domains/default/config/security_compliance", &token)
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        body["config"]["security_compliance"],
        json!({"password_regex": r"^(?=.*\d).{8,}$",
               "password_regex_description": "at least 8 characters with a digit"})
    );
    let (st, body) = change_own(&s, &u.id, USER_PASSWORD, "short1").await;
    assert_eq!(st, 400);
    assert_eq!(
        message(&body),
        "The password does not meet the requirements: at least 8 characters with a digit."
    );
    // The current password cannot be chosen again.
    let (st, body) = change_own(&s, &u.id, USER_PASSWORD, USER_PASSWORD).await;
    assert_eq!(st, 400);
    assert!(message(&body).starts_with("The new password cannot be identical"));
    assert_eq!(login_status(&s, &u.id, USER_PASSWORD).await.0, 201);
    // A good one works; the previous one is remembered.
    assert_eq!(
        change_own(&s, &u.id, USER_PASSWORD, "second-pw-2").await.0,
        204
    );
    assert_eq!(
        change_own(&s, &u.id, "second-pw-2", USER_PASSWORD).await.0,
        400
    );
    assert_eq!(login_status(&s, &u.id, "second-pw-2").await.0, 201);
    assert_eq!(login_status(&s, &u.id, USER_PASSWORD).await.0, 401);
    // An administrator's create and reset obey the regex too.
    let admin = s.admin_token().await;
    let (st, _) = s
        .send_json(
            Method::POST,
            "/v3/users",
            &admin,
            json!({"user": {"name": "dave", "password": "weak"}}),
        )
        .await;
    assert_eq!(st, 400);
    let (st, body) = s.get("/v3/users?name=dave", &admin).await;
    assert_eq!(st, 200);
    assert_eq!(
        body["users"].as_array().map(Vec::len),
        Some(0),
        "nothing created"
    );
    let (st, _) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/users/{}", u.id),
            &admin,
            json!({"user": {"password": "weak"}}),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(login_status(&s, &u.id, "second-pw-2").await.0, 201);
}

#[tokio::test]
async fn lock_password_and_minimum_age_refuse_self_service_changes() {
    let s = Server::start_with(SecurityCompliance {
        minimum_password_age: 1,
        ..Default::default()
    })
    .await;
    let u = s.user("erin");
    // Set by an administrator: the minimum age does not apply yet.
    assert_eq!(change_own(&s, &u.id, USER_PASSWORD, "mine-1").await.0, 204);
    let (st, body) = change_own(&s, &u.id, "mine-1", "mine-2").await;
    assert_eq!(st, 400);
    assert!(message(&body).contains("minimum password age"), "{body}");
    assert_eq!(login_status(&s, &u.id, "mine-1").await.0, 201);

    let admin = s.admin_token().await;
    let other = s.user("frank");
    let (st, body) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/users/{}", other.id),
            &admin,
            json!({"user": {"options": {"lock_password": true}}}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(body["user"]["options"]["lock_password"], true);
    let (st, body) = change_own(&s, &other.id, USER_PASSWORD, "mine-3").await;
    assert_eq!(st, 400);
    assert!(
        message(&body).contains("disallowing password changes"),
        "{body}"
    );
    assert_eq!(login_status(&s, &other.id, USER_PASSWORD).await.0, 201);
}

#[tokio::test]
async fn an_admin_set_password_must_be_changed_before_it_logs_in() {
    let s = Server::start_with(SecurityCompliance {
        change_password_upon_first_use: true,
        password_expires_days: Some(30),
        ..Default::default()
    })
    .await;
    let admin = s.admin_token().await;
    let (st, body) = s
        .send_json(
            Method::POST,
            "/v3/users",
            &admin,
            json!({"user": {"name": "gina", "password": "first-pw-1"}}),
        )
        .await;
    assert_eq!(st, 201);
    let id = body["user"]["id"].as_str().unwrap().to_string();
    assert!(body["user"]["password_expires_at"].is_string(), "{body}");
    let (st, body) = login_status(&s, &id, "first-pw-1").await;
    assert_eq!(st, 401);
    assert_eq!(
        message(&body),
        format!("The password is expired and needs to be changed for user: {id}.")
    );
    // The expired password still changes itself; the new one logs in and
    // expires in 30 days.
    assert_eq!(change_own(&s, &id, "first-pw-1", "own-pw-2").await.0, 204);
    assert_eq!(login_status(&s, &id, "own-pw-2").await.0, 201);
    let (_, body) = s.get(&format!("/v3/users/{id}"), &admin).await;
    let expires = body["user"]["password_expires_at"]
        .as_str()
        .unwrap()
        .to_string();
    let days = (chrono::NaiveDateTime::parse_from_str(&expires, "%Y-%m-%dT%H:%M:%S%.f").unwrap()
        - chrono::Utc::now().naive_utc())
    .num_days();
    assert!((29..=30).contains(&days), "{expires}");
}

#[tokio::test]
async fn a_token_revoked_by_a_password_change_is_not_found_by_the_token_method() {
    let s = Server::start().await;
    let u = s.user("hana");
    let old = s.login(&u.id, USER_PASSWORD, None).await;
    assert_eq!(
        change_own(&s, &u.id, USER_PASSWORD, "new-pw-1").await.0,
        204
    );
    let body = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": old}}}});
    let (st, body) = s
        .call(s.req(Method::POST, "/v3/auth/tokens").json(&body))
        .await;
    assert_eq!(st, 404, "{body}");
    // A token that was never ours stays 401.
    let body = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": "garbage"}}}});
    let (st, _) = s
        .call(s.req(Method::POST, "/v3/auth/tokens").json(&body))
        .await;
    assert_eq!(st, 401);
}
