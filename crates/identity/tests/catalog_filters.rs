//! The policies API, project endpoint filtering (OS-EP-FILTER) as tokens
//! carry it, and system role grants to groups.

// Test helpers panic on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_keystone_error, Server};
use ferrostack_identity::token::TokenScope;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn policies_are_stored_and_returned_as_given() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let (status, made) = s
        .send_json(
            Method::POST,
            "/v3/policies",
            &admin,
            json!({"policy": {"blob": "{\"rule\": \"@\"}", "type": "application/json",
                              "owner": "ops"}}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let id = made["policy"]["id"].as_str().unwrap().to_string();
    assert_eq!(made["policy"]["owner"], "ops");
    let (status, updated) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/policies/{id}"),
            &admin,
            json!({"policy": {"type": "application/yaml"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["policy"]["blob"], "{\"rule\": \"@\"}");
    let (_, list) = s.get("/v3/policies?type=application/yaml", &admin).await;
    assert_eq!(list["policies"][0]["id"], json!(id));
    let (_, list) = s.get("/v3/policies?type=text/plain", &admin).await;
    assert_eq!(list["policies"], json!([]));
    let (status, body) = s
        .send_json(
            Method::POST,
            "/v3/policies",
            &admin,
            json!({"policy": {"type": "application/json"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert_keystone_error(&body, 400);
    let (status, _) = s
        .call(s.authed(Method::DELETE, &format!("/v3/policies/{id}"), &admin))
        .await;
    assert_eq!(status, 204);
    let (status, _) = s.get(&format!("/v3/policies/{id}"), &admin).await;
    assert_eq!(status, 404);
}

/// The endpoint ids of a token body's catalog.
fn catalog_endpoints(token_body: &Value) -> Vec<String> {
    let mut out: Vec<String> = token_body["token"]["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["endpoints"].as_array().unwrap().clone())
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

async fn validate(s: &Server, admin: &str, token: &str) -> Value {
    let (status, body) = s
        .call(
            s.authed(Method::GET, "/v3/auth/tokens", admin)
                .header("X-Subject-Token", token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn a_project_with_endpoint_associations_sees_only_those_endpoints() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let project = s.project("filtered").id;
    let user = s.user("filtered-user").id;
    s.grant(&user, &project, "member");
    let token = s.mint_project(&user, &project);
    let all = catalog_endpoints(&validate(&s, &admin, &token).await);
    assert!(all.len() >= 4, "{all:?}");

    let endpoints = s.identity.store.list_endpoints().unwrap();
    let identity_service = endpoints
        .iter()
        .find(|e| e.url.ends_with("/v3"))
        .unwrap()
        .service_id
        .clone();
    let compute_public = endpoints
        .iter()
        .find(|e| e.service_id != identity_service && e.interface == "public")
        .unwrap()
        .id
        .clone();

    // One endpoint associated directly.
    let path = format!("/v3/OS-EP-FILTER/projects/{project}/endpoints/{compute_public}");
    let (status, _) = s.call(s.authed(Method::PUT, &path, &admin)).await;
    assert_eq!(status, 204);
    let (status, _) = s.call(s.authed(Method::HEAD, &path, &admin)).await;
    assert_eq!(status, 204);
    assert_eq!(
        catalog_endpoints(&validate(&s, &admin, &token).await),
        vec![compute_public.clone()]
    );
    // Other projects keep the whole catalog.
    assert_eq!(
        catalog_endpoints(&validate(&s, &admin, &admin).await),
        all.clone()
    );

    // Plus an endpoint group: the identity service's endpoints.
    let (status, group) = s
        .send_json(
            Method::POST,
            "/v3/OS-EP-FILTER/endpoint_groups",
            &admin,
            json!({"endpoint_group": {"name": "identity",
                                      "filters": {"service_id": identity_service}}}),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let group_id = group["endpoint_group"]["id"].as_str().unwrap().to_string();
    let (_, matched) = s
        .get(
            &format!("/v3/OS-EP-FILTER/endpoint_groups/{group_id}/endpoints"),
            &admin,
        )
        .await;
    let identity_eps: Vec<String> = matched["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!identity_eps.is_empty());
    let assoc = format!("/v3/OS-EP-FILTER/endpoint_groups/{group_id}/projects/{project}");
    let (status, _) = s.call(s.authed(Method::PUT, &assoc, &admin)).await;
    assert_eq!(status, 204);
    let (status, shown) = s.get(&assoc, &admin).await;
    assert_eq!(status, 200);
    assert_eq!(
        shown["project_endpoint_group"]["project_id"],
        json!(project)
    );
    let mut want = identity_eps.clone();
    want.push(compute_public.clone());
    want.sort();
    assert_eq!(catalog_endpoints(&validate(&s, &admin, &token).await), want);
    let (_, listed) = s
        .get(
            &format!("/v3/OS-EP-FILTER/projects/{project}/endpoints"),
            &admin,
        )
        .await;
    assert_eq!(listed["endpoints"].as_array().unwrap().len(), want.len());
    let (_, projects) = s
        .get(
            &format!("/v3/OS-EP-FILTER/endpoints/{compute_public}/projects"),
            &admin,
        )
        .await;
    assert_eq!(projects["projects"][0]["id"], json!(project));

    // Associations removed: the whole catalog again.
    let (status, _) = s.call(s.authed(Method::DELETE, &path, &admin)).await;
    assert_eq!(status, 204);
    let (status, _) = s
        .call(s.authed(
            Method::DELETE,
            &format!("/v3/OS-EP-FILTER/endpoint_groups/{group_id}"),
            &admin,
        ))
        .await;
    assert_eq!(status, 204);
    assert_eq!(catalog_endpoints(&validate(&s, &admin, &token).await), all);
    let (status, _) = s.call(s.authed(Method::HEAD, &path, &admin)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_endpoint_group_filters_on_known_attributes_only() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let (status, body) = s
        .send_json(
            Method::POST,
            "/v3/OS-EP-FILTER/endpoint_groups",
            &admin,
            json!({"endpoint_group": {"name": "bad", "filters": {"url": "http://x"}}}),
        )
        .await;
    assert_eq!(status, 400);
    assert_keystone_error(&body, 400);
}

#[tokio::test]
async fn a_system_role_granted_to_a_group_reaches_its_members() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let group = s.group("operators").id;
    let user = s.user("operator").id;
    s.identity.store.add_user_to_group(&user, &group).unwrap();
    let reader = s.role_id("reader");
    let path = format!("/v3/system/groups/{group}/roles/{reader}");
    let (status, _) = s.call(s.authed(Method::HEAD, &path, &admin)).await;
    assert_eq!(status, 404);
    let (status, _) = s.call(s.authed(Method::PUT, &path, &admin)).await;
    assert_eq!(status, 204);
    let (status, _) = s.call(s.authed(Method::HEAD, &path, &admin)).await;
    assert_eq!(status, 204);
    let (_, list) = s
        .get(&format!("/v3/system/groups/{group}/roles"), &admin)
        .await;
    assert_eq!(list["roles"][0]["id"], json!(reader));
    let (_, assignments) = s.get("/v3/role_assignments?scope.system=all", &admin).await;
    assert!(
        assignments["role_assignments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["group"]["id"] == json!(group)),
        "{assignments}"
    );

    let token = s.mint(&user, TokenScope::System);
    assert!(s.token_works(&token).await);
    let body = validate(&s, &admin, &token).await;
    assert!(
        body["token"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "reader"),
        "{body}"
    );

    let (status, _) = s.call(s.authed(Method::DELETE, &path, &admin)).await;
    assert_eq!(status, 204);
    assert!(!s.token_works(&token).await);
}
