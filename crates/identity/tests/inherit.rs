//! OS-INHERIT over HTTP: inherited grants on domains and projects reach
//! the projects below them (not the target itself), show in
//! `/v3/role_assignments`, expand with `effective`, and reach tokens.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, USER_PASSWORD};
use ferrostack_identity::bootstrap::DEFAULT_DOMAIN_ID;
use ferrostack_store::identity::Project;
use reqwest::Method;
use serde_json::{json, Map, Value};

fn child(s: &Server, name: &str, parent: &str) -> Project {
    let p = Project {
        id: ferrostack_common::ids::new_hex_id(),
        name: name.into(),
        domain_id: DEFAULT_DOMAIN_ID.into(),
        parent_id: Some(parent.into()),
        description: String::new(),
        enabled: true,
        tags: vec![],
        extra: Map::new(),
    };
    s.identity.store.create_project(&p).unwrap();
    p
}

async fn status(s: &Server, method: Method, path: &str, token: &str) -> u16 {
    s.call(s.authed(method, path, token)).await.0
}

async fn assignments(s: &Server, query: &str, token: &str) -> Vec<Value> {
    let (code, body) = s.get(&format!("/v3/role_assignments?{query}"), token).await;
    assert_eq!(code, 200, "{body}");
    body["role_assignments"].as_array().unwrap().clone()
}

async fn login_status(s: &Server, user: &str, project: &str) -> u16 {
    s.password_login(user, USER_PASSWORD, Some(project))
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_inherited_domain_grant_reaches_every_project_of_the_domain_but_not_the_domain() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let user = s.user("heir").id;
    let role = s.role("inheritable").id;
    let top = s.project("top").id;
    let leaf = child(&s, "leaf", &top).id;
    let grant = format!(
        "/v3/OS-INHERIT/domains/{DEFAULT_DOMAIN_ID}/users/{user}/roles/{role}/inherited_to_projects"
    );
    assert_eq!(login_status(&s, &user, &leaf).await, 401);
    assert_eq!(status(&s, Method::PUT, &grant, &admin).await, 204);
    assert_eq!(status(&s, Method::HEAD, &grant, &admin).await, 204);
    let listed = format!(
        "/v3/OS-INHERIT/domains/{DEFAULT_DOMAIN_ID}/users/{user}/roles/inherited_to_projects"
    );
    let (code, body) = s.get(&listed, &admin).await;
    assert_eq!(code, 200);
    assert_eq!(body["roles"].as_array().unwrap().len(), 1);
    assert_eq!(body["roles"][0]["id"], json!(role));
    // Not a direct grant on the domain.
    let direct = format!("/v3/domains/{DEFAULT_DOMAIN_ID}/users/{user}/roles/{role}");
    assert_eq!(status(&s, Method::HEAD, &direct, &admin).await, 404);
    let (_, direct_list) = s
        .get(
            &format!("/v3/domains/{DEFAULT_DOMAIN_ID}/users/{user}/roles"),
            &admin,
        )
        .await;
    assert_eq!(direct_list["roles"].as_array().unwrap().len(), 0);

    // Stored once, flagged; effective: one row per project, no flag.
    let raw = assignments(&s, &format!("user.id={user}"), &admin).await;
    assert_eq!(raw.len(), 1, "{raw:?}");
    assert_eq!(raw[0]["scope"]["domain"]["id"], json!(DEFAULT_DOMAIN_ID));
    assert_eq!(
        raw[0]["scope"]["OS-INHERIT:inherited_to"],
        json!("projects")
    );
    for p in [&top, &leaf] {
        let eff = assignments(
            &s,
            &format!("effective&user.id={user}&scope.project.id={p}"),
            &admin,
        )
        .await;
        assert_eq!(eff.len(), 1, "{eff:?}");
        assert!(eff[0]["scope"].get("OS-INHERIT:inherited_to").is_none());
        assert!(eff[0]["links"]["assignment"]
            .as_str()
            .unwrap()
            .ends_with("/inherited_to_projects"));
    }
    let on_domain = assignments(
        &s,
        &format!("effective&user.id={user}&scope.domain.id={DEFAULT_DOMAIN_ID}"),
        &admin,
    )
    .await;
    assert!(on_domain.is_empty(), "{on_domain:?}");

    // Tokens: a project of the domain carries the role.
    let resp = s.password_login(&user, USER_PASSWORD, Some(&leaf)).await;
    assert_eq!(resp.status().as_u16(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token"]["roles"][0]["name"], json!("inheritable"));
    let token = s.login(&user, USER_PASSWORD, Some(&leaf)).await;

    // Revoked: gone from listings, and the token ends.
    assert_eq!(status(&s, Method::DELETE, &grant, &admin).await, 204);
    assert_eq!(status(&s, Method::HEAD, &grant, &admin).await, 404);
    let eff = assignments(
        &s,
        &format!("effective&user.id={user}&scope.project.id={leaf}"),
        &admin,
    )
    .await;
    assert!(eff.is_empty());
    assert!(!s.token_works(&token).await);
    assert_eq!(login_status(&s, &user, &leaf).await, 401);
}

#[tokio::test]
async fn an_inherited_project_grant_reaches_its_subtree_only() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let user = s.user("heir").id;
    let role = s.role("inheritable").id;
    let top = s.project("top").id;
    let mid = child(&s, "mid", &top).id;
    let leaf = child(&s, "leaf", &mid).id;
    let sibling = s.project("sibling").id;
    let grant =
        format!("/v3/OS-INHERIT/projects/{mid}/users/{user}/roles/{role}/inherited_to_projects");
    assert_eq!(status(&s, Method::PUT, &grant, &admin).await, 204);
    assert_eq!(status(&s, Method::HEAD, &grant, &admin).await, 204);
    assert_eq!(login_status(&s, &user, &leaf).await, 201);
    assert_eq!(
        login_status(&s, &user, &mid).await,
        401,
        "not the project itself"
    );
    assert_eq!(login_status(&s, &user, &top).await, 401);
    assert_eq!(login_status(&s, &user, &sibling).await, 401);
    let eff = assignments(&s, &format!("effective&user.id={user}"), &admin).await;
    let projects: Vec<&str> = eff
        .iter()
        .map(|a| a["scope"]["project"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(projects, vec![leaf.as_str()]);
    assert_eq!(status(&s, Method::DELETE, &grant, &admin).await, 204);
    assert_eq!(login_status(&s, &user, &leaf).await, 401);
}

#[tokio::test]
async fn an_inherited_group_grant_reaches_the_members() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let user = s.user("member-of-group").id;
    let group = s.group("heirs").id;
    s.identity.store.add_user_to_group(&user, &group).unwrap();
    let role = s.role("inheritable").id;
    let project = s.project("reached").id;
    let grant = format!(
        "/v3/OS-INHERIT/domains/{DEFAULT_DOMAIN_ID}/groups/{group}/roles/{role}/inherited_to_projects"
    );
    assert_eq!(status(&s, Method::PUT, &grant, &admin).await, 204);
    let (_, listed) = s
        .get(
            &format!("/v3/OS-INHERIT/domains/{DEFAULT_DOMAIN_ID}/groups/{group}/roles/inherited_to_projects"),
            &admin,
        )
        .await;
    assert_eq!(listed["roles"].as_array().unwrap().len(), 1);
    let eff = assignments(
        &s,
        &format!("effective&user.id={user}&scope.project.id={project}"),
        &admin,
    )
    .await;
    assert_eq!(eff.len(), 1, "{eff:?}");
    assert_eq!(eff[0]["user"]["id"], json!(user));
    assert!(eff[0]["links"]["membership"].as_str().is_some());
    assert_eq!(login_status(&s, &user, &project).await, 201);
    // Project-level inherited grants exist for groups too.
    let on_project = format!(
        "/v3/OS-INHERIT/projects/{project}/groups/{group}/roles/{role}/inherited_to_projects"
    );
    assert_eq!(status(&s, Method::PUT, &on_project, &admin).await, 204);
    assert_eq!(status(&s, Method::HEAD, &on_project, &admin).await, 204);
    assert_eq!(status(&s, Method::DELETE, &on_project, &admin).await, 204);
    assert_eq!(status(&s, Method::HEAD, &on_project, &admin).await, 404);
}

#[tokio::test]
async fn a_domain_specific_role_is_no_effective_assignment() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let user = s.user("holder").id;
    let project = s.project("somewhere").id;
    let role = ferrostack_store::identity::Role {
        id: ferrostack_common::ids::new_hex_id(),
        name: "domain-only".into(),
        domain_id: Some(DEFAULT_DOMAIN_ID.into()),
        description: String::new(),
        extra: Map::new(),
    };
    s.identity.store.create_role(&role).unwrap();
    let grant = format!("/v3/projects/{project}/users/{user}/roles/{}", role.id);
    assert_eq!(status(&s, Method::PUT, &grant, &admin).await, 204);
    let raw = assignments(&s, &format!("user.id={user}"), &admin).await;
    assert_eq!(raw.len(), 1, "stored and listed as granted");
    let eff = assignments(
        &s,
        &format!("effective&user.id={user}&scope.project.id={project}"),
        &admin,
    )
    .await;
    assert!(eff.is_empty(), "{eff:?}");
}
