//! OS-OAUTH1 consumers over HTTP: the secret is shown once and stored
//! sealed, changes and deletes take effect, members can do nothing.

// Test helpers panic on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_keystone_error, Server};
use reqwest::Method;
use serde_json::json;

const CONSUMERS: &str = "/v3/OS-OAUTH1/consumers";

#[tokio::test]
async fn a_consumer_shows_its_secret_once_and_keeps_it_sealed() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let (status, body) = s
        .send_json(
            Method::POST,
            CONSUMERS,
            &admin,
            json!({"consumer": {"description": "billing app", "team": "ops"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let c = &body["consumer"];
    let id = c["id"].as_str().unwrap().to_string();
    let secret = c["secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 32, "{secret}");
    assert_eq!(c["description"], "billing app");
    assert_eq!(c["team"], "ops");
    assert!(c["links"]["self"].as_str().unwrap().ends_with(&id));

    // Never again in an answer, never in the clear in the store.
    let (status, shown) = s.get(&format!("{CONSUMERS}/{id}"), &admin).await;
    assert_eq!(status, 200);
    assert!(shown["consumer"].get("secret").is_none(), "{shown}");
    let (_, listed) = s.get(CONSUMERS, &admin).await;
    let row = listed["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap();
    assert!(row.get("secret").is_none(), "{row}");
    let stored = s.identity.store.get_consumer(&id).unwrap();
    assert!(!stored.sealed_secret.contains(&secret));
    assert_eq!(
        s.identity
            .open_credential_blob(&id, &stored.sealed_secret)
            .unwrap(),
        secret
    );
}

#[tokio::test]
async fn a_consumer_changes_its_description_not_its_secret_and_is_deleted() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let (_, body) = s
        .send_json(Method::POST, CONSUMERS, &admin, json!({"consumer": {}}))
        .await;
    let id = body["consumer"]["id"].as_str().unwrap().to_string();
    let path = format!("{CONSUMERS}/{id}");
    let before = s.identity.store.get_consumer(&id).unwrap();

    let (status, body) = s
        .send_json(
            Method::PATCH,
            &path,
            &admin,
            json!({"consumer": {"secret": "mine", "description": "x"}}),
        )
        .await;
    assert_keystone_error(&body, 400);
    assert_eq!(status, 400);
    assert_eq!(
        s.identity.store.get_consumer(&id).unwrap(),
        before,
        "nothing changed"
    );

    let (status, body) = s
        .send_json(
            Method::PATCH,
            &path,
            &admin,
            json!({"consumer": {"description": "renamed"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        s.get(&path, &admin).await.1["consumer"]["description"],
        "renamed"
    );
    let after = s.identity.store.get_consumer(&id).unwrap();
    assert_eq!(after.sealed_secret, before.sealed_secret);

    let (status, _) = s.call(s.authed(Method::DELETE, &path, &admin)).await;
    assert_eq!(status, 204);
    let (status, body) = s.get(&path, &admin).await;
    assert_eq!(status, 404);
    assert_keystone_error(&body, 404);
}

#[tokio::test]
async fn a_member_can_neither_see_nor_make_consumers() {
    let s = Server::start().await;
    let project = s.project("p").id;
    let user = s.user("alice").id;
    s.grant(&user, &project, "member");
    let member = s.mint_project(&user, &project);
    let (status, body) = s
        .send_json(Method::POST, CONSUMERS, &member, json!({"consumer": {}}))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(s.identity.store.list_consumers().unwrap().is_empty());
    let (status, _) = s.get(CONSUMERS, &member).await;
    assert_eq!(status, 403);
}
