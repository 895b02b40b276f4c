//! Trusts (OS-TRUST) over HTTP: who may create, see and delete them, what a
//! trust-scoped token carries, and every event that must end such a token.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_keystone_error, subject_token, Server, USER_PASSWORD};
use ferrostack_store::trust::Trust;
use reqwest::Method;
use serde_json::{json, Value};

/// A trustor with two roles on a project, a trustee, and their tokens.
struct Cast {
    s: Server,
    project: String,
    trustor: String,
    trustee: String,
    trustor_token: String,
    delegated: String,
    kept: String,
}

async fn cast() -> Cast {
    let s = Server::start().await;
    let project = s.project("trusted").id;
    let trustor = s.user("trustor").id;
    let trustee = s.user("trustee").id;
    let delegated = s.role("delegated");
    let kept = s.role("kept");
    s.grant(&trustor, &project, "delegated");
    s.grant(&trustor, &project, "kept");
    let trustor_token = s.mint_project(&trustor, &project);
    Cast {
        s,
        project,
        trustor,
        trustee,
        trustor_token,
        delegated: delegated.id,
        kept: kept.id,
    }
}

impl Cast {
    fn body(&self, impersonation: bool) -> Value {
        json!({"trust": {
            "trustor_user_id": self.trustor,
            "trustee_user_id": self.trustee,
            "project_id": self.project,
            "impersonation": impersonation,
            "roles": [{"name": "delegated"}],
        }})
    }

    async fn create(&self, body: Value) -> (u16, Value) {
        self.s
            .send_json(
                Method::POST,
                "/v3/OS-TRUST/trusts",
                &self.trustor_token,
                body,
            )
            .await
    }

    async fn trust(&self, impersonation: bool) -> String {
        let (status, body) = self.create(self.body(impersonation)).await;
        assert_eq!(status, 201, "{body}");
        body["trust"]["id"].as_str().unwrap().to_string()
    }

    /// `POST /v3/auth/tokens` as `user_id` (password) scoped to a trust.
    async fn trust_login(&self, user_id: &str, trust_id: &str) -> (u16, Value, Option<String>) {
        let mut auth = Server::password_auth(user_id, USER_PASSWORD, None);
        auth["auth"]["scope"] = json!({"OS-TRUST:trust": {"id": trust_id}});
        let resp = self
            .s
            .req(Method::POST, "/v3/auth/tokens")
            .json(&auth)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let token = (status == 201).then(|| subject_token(&resp));
        (status, resp.json().await.unwrap_or(Value::Null), token)
    }

    async fn trusts_of_trustor(&self) -> usize {
        let path = format!("/v3/OS-TRUST/trusts?trustor_user_id={}", self.trustor);
        let (status, body) = self.s.get(&path, &self.trustor_token).await;
        assert_eq!(status, 200, "{body}");
        body["trusts"].as_array().unwrap().len()
    }
}

fn role_names(token_body: &Value) -> Vec<String> {
    token_body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_trust_is_created_shown_listed_and_deleted_by_its_trustor() {
    let c = cast().await;
    let (status, body) = c.create(c.body(true)).await;
    assert_eq!(status, 201, "{body}");
    let t = &body["trust"];
    let tid = t["id"].as_str().unwrap().to_string();
    assert_eq!(t["impersonation"], json!(true));
    assert_eq!(t["project_id"], json!(c.project));
    assert_eq!(t["expires_at"], Value::Null);
    assert_eq!(t["roles"].as_array().unwrap().len(), 1);
    assert_eq!(t["roles"][0]["name"], json!("delegated"));
    assert!(t["links"]["self"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/v3/OS-TRUST/trusts/{tid}")));

    let path = format!("/v3/OS-TRUST/trusts/{tid}");
    let trustee_token =
        c.s.mint(&c.trustee, ferrostack_identity::token::TokenScope::Unscoped);
    assert_eq!(c.s.get(&path, &c.trustor_token).await.0, 200);
    assert_eq!(c.s.get(&path, &trustee_token).await.0, 200);
    let stranger = c.s.user("stranger").id;
    let stranger_token =
        c.s.mint(&stranger, ferrostack_identity::token::TokenScope::Unscoped);
    let (status, body) = c.s.get(&path, &stranger_token).await;
    assert_keystone_error(&body, 403);
    assert_eq!(status, 403);

    // Lists: one's own as trustor or trustee; everything only for an admin.
    assert_eq!(c.trusts_of_trustor().await, 1);
    let (status, _) = c.s.get("/v3/OS-TRUST/trusts", &c.trustor_token).await;
    assert_eq!(status, 403);
    let other = format!("/v3/OS-TRUST/trusts?trustor_user_id={}", c.trustor);
    assert_eq!(c.s.get(&other, &stranger_token).await.0, 403);
    let admin = c.s.admin_token().await;
    let (status, all) = c.s.get("/v3/OS-TRUST/trusts", &admin).await;
    assert_eq!(status, 200);
    assert!(all["trusts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == json!(tid)));
    assert!(
        all["trusts"][0].get("roles").is_none(),
        "lists leave roles out"
    );

    // Its roles: the delegated one, not the kept one.
    let (status, roles) = c.s.get(&format!("{path}/roles"), &trustee_token).await;
    assert_eq!(status, 200);
    assert_eq!(roles["roles"].as_array().unwrap().len(), 1);
    assert_eq!(
        c.s.get(&format!("{path}/roles/{}", c.delegated), &c.trustor_token)
            .await
            .0,
        200
    );
    let head =
        c.s.call(c.s.authed(
            Method::HEAD,
            &format!("{path}/roles/{}", c.delegated),
            &c.trustor_token,
        ))
        .await
        .0;
    assert_eq!(head, 200);
    assert_eq!(
        c.s.get(&format!("{path}/roles/{}", c.kept), &c.trustor_token)
            .await
            .0,
        404
    );

    // Only the trustor (or an admin) deletes it.
    let (status, _) =
        c.s.call(c.s.authed(Method::DELETE, &path, &trustee_token))
            .await;
    assert_eq!(status, 403);
    let (status, _) =
        c.s.call(c.s.authed(Method::DELETE, &path, &c.trustor_token))
            .await;
    assert_eq!(status, 204);
    let (status, body) = c.s.get(&path, &c.trustor_token).await;
    assert_eq!(status, 404);
    assert_keystone_error(&body, 404);
    assert_eq!(c.trusts_of_trustor().await, 0);
}

#[tokio::test]
async fn a_refused_trust_creates_nothing() {
    let c = cast().await;
    let stranger = c.s.user("stranger").id;
    let unheld = c.s.role("unheld");
    let cases: Vec<(Value, u16)> = vec![
        // A role the trustor does not hold on the project (Keystone: 404).
        (json!({"roles": [{"id": unheld.id}]}), 404),
        (json!({"roles": [{"name": "no-such-role"}]}), 404),
        // Someone else as trustor.
        (json!({"trustor_user_id": stranger}), 403),
        // A project but no roles.
        (json!({"roles": []}), 403),
        (json!({"remaining_uses": 0}), 400),
        (json!({"expires_at": "bad.123Z"}), 400),
        (json!({"expires_at": "2001-01-01T00:00:00Z"}), 400),
        (json!({"impersonation": null}), 400),
        (
            json!({"trustee_user_id": "0123456789abcdef0123456789abcdef"}),
            404,
        ),
        // Redelegation deeper than allowed, and with limited uses.
        (
            json!({"allow_redelegation": true, "redelegation_count": 4}),
            403,
        ),
        (
            json!({"allow_redelegation": true, "remaining_uses": 2}),
            400,
        ),
    ];
    for (change, code) in cases {
        let mut body = c.body(true);
        for (k, v) in change.as_object().unwrap() {
            body["trust"][k] = v.clone();
        }
        let (status, answer) = c.create(body.clone()).await;
        assert_eq!(status, code, "{body} -> {answer}");
        assert_keystone_error(&answer, code);
    }
    assert_eq!(c.trusts_of_trustor().await, 0);
}

#[tokio::test]
async fn a_trust_token_carries_only_the_delegated_roles() {
    let c = cast().await;
    let tid = c.trust(true).await;
    let (status, body, token) = c.trust_login(&c.trustee, &tid).await;
    assert_eq!(status, 201, "{body}");
    // Impersonation: the token names the trustor.
    assert_eq!(body["token"]["user"]["id"], json!(c.trustor));
    assert_eq!(body["token"]["project"]["id"], json!(c.project));
    assert_eq!(role_names(&body), vec!["delegated"]);
    let trust = &body["token"]["OS-TRUST:trust"];
    assert_eq!(trust["id"], json!(tid));
    assert_eq!(trust["impersonation"], json!(true));
    assert_eq!(trust["trustee_user"]["id"], json!(c.trustee));
    assert_eq!(trust["trustor_user"]["id"], json!(c.trustor));

    // Validation shows the same, and the token works.
    let token = token.unwrap();
    let (status, valid) =
        c.s.call(
            c.s.authed(Method::GET, "/v3/auth/tokens", &token)
                .header("X-Subject-Token", &token),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(valid["token"]["OS-TRUST:trust"]["id"], json!(tid));
    assert_eq!(role_names(&valid), vec!["delegated"]);

    // Without impersonation the token names the trustee.
    let plain = c.trust(false).await;
    let (status, body, _) = c.trust_login(&c.trustee, &plain).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["token"]["user"]["id"], json!(c.trustee));
    assert_eq!(role_names(&body), vec!["delegated"]);
}

#[tokio::test]
async fn only_the_trustee_gets_a_trust_token() {
    let c = cast().await;
    let tid = c.trust(true).await;
    let (status, body, _) = c.trust_login(&c.trustor, &tid).await;
    assert_eq!(status, 403, "{body}");
    let (status, _, _) = c
        .trust_login(&c.trustee, "0123456789abcdef0123456789abcdef")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn remaining_uses_one_gives_exactly_one_token() {
    let c = cast().await;
    let mut body = c.body(false);
    body["trust"]["remaining_uses"] = json!(1);
    let (status, created) = c.create(body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["trust"]["remaining_uses"], json!(1));
    let tid = created["trust"]["id"].as_str().unwrap().to_string();
    let (status, _, token) = c.trust_login(&c.trustee, &tid).await;
    assert_eq!(status, 201);
    let (status, _, _) = c.trust_login(&c.trustee, &tid).await;
    assert_eq!(status, 404, "the only use is spent");
    // The token it gave still works; the spent trust is gone from view.
    assert!(c.s.token_works(&token.unwrap()).await);
    assert_eq!(
        c.s.get(&format!("/v3/OS-TRUST/trusts/{tid}"), &c.trustor_token)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn deleting_a_trust_ends_its_tokens() {
    let c = cast().await;
    let tid = c.trust(true).await;
    let (_, _, token) = c.trust_login(&c.trustee, &tid).await;
    let token = token.unwrap();
    assert!(c.s.token_works(&token).await);
    let path = format!("/v3/OS-TRUST/trusts/{tid}");
    assert_eq!(
        c.s.call(c.s.authed(Method::DELETE, &path, &c.trustor_token))
            .await
            .0,
        204
    );
    assert!(!c.s.token_works(&token).await);
    let (status, _, _) = c.trust_login(&c.trustee, &tid).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_trustor_losing_a_delegated_role_ends_the_trust_tokens() {
    let c = cast().await;
    let tid = c.trust(false).await;
    let (_, _, token) = c.trust_login(&c.trustee, &tid).await;
    let token = token.unwrap();
    assert!(c.s.token_works(&token).await);
    let admin = c.s.admin_token().await;
    let grant = format!(
        "/v3/projects/{}/users/{}/roles/{}",
        c.project, c.trustor, c.delegated
    );
    assert_eq!(
        c.s.call(c.s.authed(Method::DELETE, &grant, &admin)).await.0,
        204
    );
    assert!(!c.s.token_works(&token).await);
    let (status, body, _) = c.trust_login(&c.trustee, &tid).await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn an_expired_trust_is_gone() {
    let c = cast().await;
    let now = ferrostack_common::time::now_micros();
    let t = Trust {
        id: ferrostack_common::ids::new_hex_id(),
        trustor_user_id: c.trustor.clone(),
        trustee_user_id: c.trustee.clone(),
        project_id: Some(c.project.clone()),
        impersonation: false,
        expires_at: Some(now - 1_000_000),
        remaining_uses: None,
        redelegated_trust_id: None,
        redelegation_count: 0,
        role_ids: vec![c.delegated.clone()],
        extra: Default::default(),
        created_at: now - 2_000_000,
    };
    c.s.identity.store.create_trust(&t).unwrap();
    let (status, _, _) = c.trust_login(&c.trustee, &t.id).await;
    assert_eq!(status, 404);
    let path = format!("/v3/OS-TRUST/trusts/{}", t.id);
    assert_eq!(c.s.get(&path, &c.trustor_token).await.0, 404);
    assert_eq!(c.trusts_of_trustor().await, 0);
}

#[tokio::test]
async fn a_trust_token_cannot_be_rescoped() {
    let c = cast().await;
    let tid = c.trust(false).await;
    let (_, _, token) = c.trust_login(&c.trustee, &tid).await;
    let body = json!({"auth": {
        "identity": {"methods": ["token"], "token": {"id": token.unwrap()}},
        "scope": {"project": {"id": c.project}},
    }});
    let (status, answer) =
        c.s.call(c.s.req(Method::POST, "/v3/auth/tokens").json(&body))
            .await;
    assert_eq!(status, 403, "{answer}");
}

#[tokio::test]
async fn redelegation_is_bounded_by_depth_and_the_parent_roles() {
    let c = cast().await;
    let mut body = c.body(false);
    body["trust"]["allow_redelegation"] = json!(true);
    body["trust"]["redelegation_count"] = json!(1);
    body["trust"]["roles"] = json!([{"name": "delegated"}]);
    let (status, parent) = c.create(body).await;
    assert_eq!(status, 201, "{parent}");
    assert_eq!(parent["trust"]["allow_redelegation"], json!(true));
    assert_eq!(parent["trust"]["redelegation_count"], json!(1));
    let parent_id = parent["trust"]["id"].as_str().unwrap().to_string();
    let (_, _, trustee_trust_token) = c.trust_login(&c.trustee, &parent_id).await;
    let trustee_trust_token = trustee_trust_token.unwrap();

    let third = c.s.user("third").id;
    let redelegate = |roles: Value| {
        json!({"trust": {
            "trustor_user_id": c.trustee,
            "trustee_user_id": third,
            "project_id": c.project,
            "impersonation": false,
            "roles": roles,
        }})
    };
    // A role the parent does not delegate is refused.
    let (status, answer) =
        c.s.send_json(
            Method::POST,
            "/v3/OS-TRUST/trusts",
            &trustee_trust_token,
            redelegate(json!([{"name": "kept"}])),
        )
        .await;
    assert!(status == 403 || status == 404, "{status} {answer}");

    let (status, child) =
        c.s.send_json(
            Method::POST,
            "/v3/OS-TRUST/trusts",
            &trustee_trust_token,
            redelegate(json!([{"name": "delegated"}])),
        )
        .await;
    assert_eq!(status, 201, "{child}");
    assert_eq!(child["trust"]["redelegated_trust_id"], json!(parent_id));
    assert_eq!(child["trust"]["redelegation_count"], json!(0));
    let child_id = child["trust"]["id"].as_str().unwrap().to_string();
    let (status, third_body, third_token) = c.trust_login(&third, &child_id).await;
    assert_eq!(status, 201, "{third_body}");
    assert_eq!(role_names(&third_body), vec!["delegated"]);

    // Depth spent: the third user cannot hand it on.
    let fourth = c.s.user("fourth").id;
    let (status, answer) =
        c.s.send_json(
            Method::POST,
            "/v3/OS-TRUST/trusts",
            third_token.as_ref().unwrap(),
            json!({"trust": {
                "trustor_user_id": third, "trustee_user_id": fourth,
                "project_id": c.project, "impersonation": false,
                "roles": [{"name": "delegated"}],
            }}),
        )
        .await;
    assert_eq!(status, 403, "{answer}");

    // Deleting the parent takes the redelegated trust and its token along.
    let path = format!("/v3/OS-TRUST/trusts/{parent_id}");
    assert_eq!(
        c.s.call(c.s.authed(Method::DELETE, &path, &c.trustor_token))
            .await
            .0,
        204
    );
    assert!(!c.s.token_works(third_token.as_ref().unwrap()).await);
    let (status, _, _) = c.trust_login(&third, &child_id).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_trust_without_redelegation_cannot_be_redelegated() {
    let c = cast().await;
    let tid = c.trust(false).await;
    let (_, _, token) = c.trust_login(&c.trustee, &tid).await;
    let third = c.s.user("third").id;
    let (status, answer) =
        c.s.send_json(
            Method::POST,
            "/v3/OS-TRUST/trusts",
            &token.unwrap(),
            json!({"trust": {
                "trustor_user_id": c.trustee, "trustee_user_id": third,
                "project_id": c.project, "impersonation": false,
                "roles": [{"name": "delegated"}],
            }}),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
}

#[tokio::test]
async fn disabling_the_trustor_ends_tokens_that_name_the_trustee() {
    let c = cast().await;
    let tid = c.trust(false).await;
    let (_, _, token) = c.trust_login(&c.trustee, &tid).await;
    let token = token.unwrap();
    assert!(c.s.token_works(&token).await);
    let admin = c.s.admin_token().await;
    let path = format!("/v3/users/{}", c.trustor);
    let (status, _) =
        c.s.send_json(
            Method::PATCH,
            &path,
            &admin,
            json!({"user": {"enabled": false}}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(!c.s.token_works(&token).await);
    let (status, _, _) = c.trust_login(&c.trustee, &tid).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn deleting_the_trustor_deletes_the_trust() {
    let c = cast().await;
    let tid = c.trust(false).await;
    let (_, _, token) = c.trust_login(&c.trustee, &tid).await;
    let token = token.unwrap();
    let admin = c.s.admin_token().await;
    let path = format!("/v3/users/{}", c.trustor);
    assert_eq!(
        c.s.call(c.s.authed(Method::DELETE, &path, &admin)).await.0,
        204
    );
    assert!(!c.s.token_works(&token).await);
    let (status, _) = c.s.get(&format!("/v3/OS-TRUST/trusts/{tid}"), &admin).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_restricted_application_credential_cannot_manage_trusts() {
    let c = cast().await;
    let (status, cred) =
        c.s.send_json(
            Method::POST,
            &format!("/v3/users/{}/application_credentials", c.trustor),
            &c.trustor_token,
            json!({"application_credential": {"name": "restricted"}}),
        )
        .await;
    assert_eq!(status, 201, "{cred}");
    let auth = json!({"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {
            "id": cred["application_credential"]["id"],
            "secret": cred["application_credential"]["secret"],
        },
    }}});
    let resp =
        c.s.req(Method::POST, "/v3/auth/tokens")
            .json(&auth)
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let cred_token = subject_token(&resp);
    let (status, body) =
        c.s.send_json(
            Method::POST,
            "/v3/OS-TRUST/trusts",
            &cred_token,
            c.body(false),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(c.trusts_of_trustor().await, 0);
}
