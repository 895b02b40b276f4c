//! Credentials and EC2 credentials over HTTP: who sees what, blobs sealed
//! at rest, and `POST /v3/ec2tokens` giving a token only for a correctly
//! signed, fresh request.

// Test helpers panic on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_keystone_error, Server};
use ferrostack_identity::ec2_signature::{self, SignedRequest};
use reqwest::Method;
use serde_json::{json, Value};

/// A server, a project and a member of it with their token.
async fn cast() -> (Server, String, String, String) {
    let s = Server::start().await;
    let project = s.project("ec2-project").id;
    let user = s.user("ec2-user").id;
    s.grant(&user, &project, "member");
    let token = s.mint_project(&user, &project);
    (s, project, user, token)
}

#[tokio::test]
async fn a_credential_is_its_owners_and_its_blob_is_sealed_at_rest() {
    let (s, project, user, token) = cast().await;
    let (status, made) = s
        .send_json(
            Method::POST,
            "/v3/credentials",
            &token,
            json!({"credential": {"user_id": user, "project_id": project, "type": "totp",
                                  "blob": "very-secret-seed"}}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let id = made["credential"]["id"].as_str().unwrap().to_string();
    assert_eq!(made["credential"]["blob"], "very-secret-seed");
    let row = s.identity.store.get_credential(&id).unwrap();
    assert!(!row.sealed_blob.contains("very-secret-seed"));

    let (status, shown) = s.get(&format!("/v3/credentials/{id}"), &token).await;
    assert_eq!(status, 200);
    assert_eq!(shown["credential"]["blob"], "very-secret-seed");

    // Another user: 404 on show, absent from lists, 403 creating for the owner.
    let other = s.user("other").id;
    s.grant(&other, &project, "member");
    let other_token = s.mint_project(&other, &project);
    let (status, body) = s.get(&format!("/v3/credentials/{id}"), &other_token).await;
    assert_keystone_error(&body, 404);
    assert_eq!(status, 404);
    let (_, list) = s.get("/v3/credentials", &other_token).await;
    assert_eq!(list["credentials"], json!([]));
    let (_, list) = s
        .get(&format!("/v3/credentials?user_id={user}"), &other_token)
        .await;
    assert_eq!(list["credentials"], json!([]));
    let (status, _) = s
        .send_json(
            Method::POST,
            "/v3/credentials",
            &other_token,
            json!({"credential": {"user_id": user, "type": "totp", "blob": "x"}}),
        )
        .await;
    assert_eq!(status, 403);

    // The admin sees it, filtered by type.
    let admin = s.admin_token().await;
    let (_, list) = s.get("/v3/credentials?type=totp", &admin).await;
    assert_eq!(list["credentials"][0]["id"], json!(id));
    let (_, list) = s.get("/v3/credentials?type=ec2", &admin).await;
    assert_eq!(list["credentials"], json!([]));

    // Only the blob changes.
    let (status, updated) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/credentials/{id}"),
            &token,
            json!({"credential": {"blob": "new-seed"}}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["credential"]["blob"], "new-seed");
    let (status, _) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/credentials/{id}"),
            &token,
            json!({"credential": {"user_id": other}}),
        )
        .await;
    assert_eq!(status, 400);

    let (status, _) = s
        .call(s.authed(
            Method::DELETE,
            &format!("/v3/credentials/{id}"),
            &other_token,
        ))
        .await;
    assert_eq!(status, 404);
    let (status, _) = s
        .call(s.authed(Method::DELETE, &format!("/v3/credentials/{id}"), &token))
        .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn an_ec2_credential_is_named_by_the_hash_of_its_access_key() {
    let (s, project, user, token) = cast().await;
    let (status, made) = s
        .send_json(
            Method::POST,
            "/v3/credentials",
            &token,
            json!({"credential": {"user_id": user, "project_id": project, "type": "ec2",
                                  "blob": "{\"access\": \"AK\", \"secret\": \"SK\"}"}}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let id = made["credential"]["id"].as_str().unwrap();
    assert_eq!(id, ferrostack_identity::routes::credentials::ec2_id("AK"));
    // The same access key again is a conflict.
    let (status, _) = s
        .send_json(
            Method::POST,
            "/v3/credentials",
            &token,
            json!({"credential": {"user_id": user, "project_id": project, "type": "ec2",
                                  "blob": "{\"access\": \"AK\", \"secret\": \"other\"}"}}),
        )
        .await;
    assert_eq!(status, 409);
    // An ec2 blob must name its access key, and an ec2 credential its project.
    for (blob, project) in [
        ("not json", Some(project.as_str())),
        ("{\"secret\": \"s\"}", Some(project.as_str())),
        ("{\"access\": \"AK2\"}", None),
    ] {
        let (status, body) = s
            .send_json(
                Method::POST,
                "/v3/credentials",
                &token,
                json!({"credential": {"user_id": user, "project_id": project, "type": "ec2",
                                      "blob": blob}}),
            )
            .await;
        assert_eq!(status, 400, "{blob}: {body}");
    }
}

/// Make an EC2 credential over OS-EC2 and return (access, secret).
async fn ec2_credential(s: &Server, user: &str, project: &str, token: &str) -> (String, String) {
    let (status, made) = s
        .send_json(
            Method::POST,
            &format!("/v3/users/{user}/credentials/OS-EC2"),
            token,
            json!({ "tenant_id": project }),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let c = &made["credential"];
    assert_eq!(c["user_id"], json!(user));
    assert_eq!(c["tenant_id"], json!(project));
    (
        c["access"].as_str().unwrap().to_string(),
        c["secret"].as_str().unwrap().to_string(),
    )
}

/// A signature-version-2 ec2tokens body, signed with `secret`.
fn signed(access: &str, secret: &str, timestamp: &str) -> Value {
    let mut creds = json!({"access": access, "host": "ec2.example.com:8773", "verb": "GET",
        "path": "/services/Cloud", "params": {"SignatureVersion": "2", "Action": "DescribeRegions",
        "AWSAccessKeyId": access, "Timestamp": timestamp}});
    let req = SignedRequest::from_json(creds.as_object().unwrap());
    creds["signature"] = json!(ec2_signature::generate(secret, &req).unwrap());
    json!({ "credentials": creds })
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[tokio::test]
async fn os_ec2_credentials_are_listed_shown_and_deleted_by_access_key() {
    let (s, project, user, token) = cast().await;
    let (access, secret) = ec2_credential(&s, &user, &project, &token).await;
    let (status, list) = s
        .get(&format!("/v3/users/{user}/credentials/OS-EC2"), &token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["credentials"][0]["access"], json!(access));
    let path = format!("/v3/users/{user}/credentials/OS-EC2/{access}");
    let (status, shown) = s.get(&path, &token).await;
    assert_eq!(status, 200);
    assert_eq!(shown["credential"]["secret"], json!(secret));
    // It is also a credential of type ec2.
    let (_, all) = s.get("/v3/credentials?type=ec2", &token).await;
    assert_eq!(all["credentials"].as_array().unwrap().len(), 1);
    // Someone else's: the user does not exist for them.
    let stranger = s.user("stranger").id;
    s.grant(&stranger, &project, "member");
    let stranger_token = s.mint_project(&stranger, &project);
    let (status, _) = s.get(&path, &stranger_token).await;
    assert_eq!(status, 404);
    let (status, _) = s.call(s.authed(Method::DELETE, &path, &token)).await;
    assert_eq!(status, 204);
    let (status, _) = s.get(&path, &token).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn ec2tokens_gives_a_project_token_for_a_good_signature_only() {
    let (s, project, user, token) = cast().await;
    let (access, secret) = ec2_credential(&s, &user, &project, &token).await;

    let resp = s
        .req(Method::POST, "/v3/ec2tokens")
        .json(&signed(&access, &secret, &now()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let issued = common::subject_token(&resp);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token"]["methods"], json!(["ec2credential"]));
    assert_eq!(body["token"]["project"]["id"], json!(project));
    assert_eq!(body["token"]["user"]["id"], json!(user));
    assert!(s.token_works(&issued).await);

    // A token from an EC2 credential makes no more credentials.
    let (status, _) = s
        .send_json(
            Method::POST,
            &format!("/v3/users/{user}/credentials/OS-EC2"),
            &issued,
            json!({ "tenant_id": project }),
        )
        .await;
    assert_eq!(status, 403);

    // Wrong secret, unknown key, no signature, stale timestamp.
    let cases = [
        (signed(&access, "wrong", &now()), 401),
        (signed("no-such-key", &secret, &now()), 404),
        (
            json!({"credentials": {"access": access, "host": "h", "verb": "GET", "path": "/",
                                   "params": {"SignatureVersion": "2"}}}),
            401,
        ),
        (signed(&access, &secret, "2020-01-01T00:00:00Z"), 401),
        (json!({"credentials": {"signature": "x"}}), 401),
    ];
    for (body, want) in cases {
        let (status, answer) = s
            .call(s.req(Method::POST, "/v3/ec2tokens").json(&body))
            .await;
        assert_eq!(status, want, "{body} -> {answer}");
        assert_keystone_error(&answer, want);
    }

    // The role gone from the project: no token.
    let member = s.role_id("member");
    s.identity
        .store
        .revoke(&ferrostack_store::identity::Assignment {
            actor: ferrostack_store::identity::Actor::User(user.clone()),
            target: ferrostack_store::identity::Target::Project(project.clone()),
            role_id: member,
            inherited: false,
        })
        .unwrap();
    let (status, _) = s
        .call(
            s.req(Method::POST, "/v3/ec2tokens")
                .json(&signed(&access, &secret, &now())),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn an_ec2_credential_made_under_a_trust_gives_trust_scoped_tokens() {
    let (s, project, trustor, _) = cast().await;
    let trustee = s.user("trustee").id;
    let trust = ferrostack_store::trust::Trust {
        id: ferrostack_common::ids::new_hex_id(),
        trustor_user_id: trustor.clone(),
        trustee_user_id: trustee.clone(),
        project_id: Some(project.clone()),
        impersonation: false,
        expires_at: None,
        remaining_uses: None,
        redelegated_trust_id: None,
        redelegation_count: 0,
        role_ids: vec![s.role_id("member")],
        extra: serde_json::Map::new(),
        created_at: 0,
    };
    s.identity.store.create_trust(&trust).unwrap();
    let trustee_password = s.login(&trustee, common::USER_PASSWORD, None).await;
    let resp = s
        .req(Method::POST, "/v3/auth/tokens")
        .json(&json!({"auth": {
            "identity": {"methods": ["token"], "token": {"id": trustee_password}},
            "scope": {"OS-TRUST:trust": {"id": trust.id}},
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let trust_token = common::subject_token(&resp);

    let (access, secret) = ec2_credential(&s, &trustee, &project, &trust_token).await;
    let resp = s
        .req(Method::POST, "/v3/ec2tokens")
        .json(&signed(&access, &secret, &now()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token"]["user"]["id"], json!(trustee));
    assert_eq!(body["token"]["OS-TRUST:trust"]["id"], json!(trust.id));

    // The trust gone, the credential gives nothing.
    s.identity.store.delete_trust(&trust.id).unwrap();
    let (status, _) = s
        .call(
            s.req(Method::POST, "/v3/ec2tokens")
                .json(&signed(&access, &secret, &now())),
        )
        .await;
    assert!(status == 401 || status == 404, "{status}");
}
