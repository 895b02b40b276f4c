//! Groups, implied roles, system role grants and project tags over HTTP,
//! in Keystone's response shapes, including what they do to tokens.

// Test helpers panic on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_keystone_error, Server, USER_PASSWORD};
use ferrostack_identity::token::TokenScope;
use reqwest::Method;
use serde_json::{json, Value};

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

// ---- groups

#[tokio::test]
async fn group_crud_and_filters() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let (status, created) = s
        .send_json(
            Method::POST,
            "/v3/groups",
            &admin,
            json!({"group": {"name": "ops", "description": "operators"}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let g = &created["group"];
    assert_eq!(g["domain_id"], "default");
    assert_eq!(g["description"], "operators");
    let gid = g["id"].as_str().unwrap();
    assert_eq!(
        g["links"]["self"],
        json!(format!("{}/v3/groups/{gid}", s.base))
    );
    s.group("devs");

    let (_, list) = s.get("/v3/groups?name=ops", &admin).await;
    assert_eq!(ids(&list["groups"]), vec![gid.to_string()]);
    assert!(list["links"]["self"].is_string());
    let (_, list) = s.get("/v3/groups?domain_id=default", &admin).await;
    assert_eq!(list["groups"].as_array().unwrap().len(), 2);
    let (_, list) = s.get("/v3/groups?domain_id=elsewhere", &admin).await;
    assert_eq!(list["groups"], json!([]));

    let (status, updated) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/groups/{gid}"),
            &admin,
            json!({"group": {"name": "operators"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["group"]["name"], "operators");
    let (status, _) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/groups/{gid}"),
            &admin,
            json!({"group": {"name": "devs"}}),
        )
        .await;
    assert_eq!(status, 409, "renaming onto another group's name");
    let (status, shown) = s.get(&format!("/v3/groups/{gid}"), &admin).await;
    assert_eq!(status, 200);
    assert_eq!(shown["group"]["name"], "operators");
    let (status, _) = s
        .call(s.authed(Method::DELETE, &format!("/v3/groups/{gid}"), &admin))
        .await;
    assert_eq!(status, 204);
    let (status, body) = s.get(&format!("/v3/groups/{gid}"), &admin).await;
    assert_eq!(status, 404);
    assert_keystone_error(&body, 404);
}

#[tokio::test]
async fn group_membership_add_check_list_remove() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let g = s.group("ops");
    let u = s.user("olive");
    let path = format!("/v3/groups/{}/users/{}", g.id, u.id);
    let (status, _) = s.call(s.authed(Method::HEAD, &path, &admin)).await;
    assert_eq!(status, 404, "not a member yet");
    for _ in 0..2 {
        let (status, _) = s.call(s.authed(Method::PUT, &path, &admin)).await;
        assert_eq!(status, 204, "adding is idempotent");
    }
    let (status, _) = s.call(s.authed(Method::HEAD, &path, &admin)).await;
    assert_eq!(status, 204);
    let (status, _) = s.call(s.authed(Method::GET, &path, &admin)).await;
    assert_eq!(status, 204);
    let (_, members) = s.get(&format!("/v3/groups/{}/users", g.id), &admin).await;
    assert_eq!(ids(&members["users"]), vec![u.id.clone()]);
    let (_, groups) = s.get(&format!("/v3/users/{}/groups", u.id), &admin).await;
    assert_eq!(ids(&groups["groups"]), vec![g.id.clone()]);

    let (status, _) = s.call(s.authed(Method::DELETE, &path, &admin)).await;
    assert_eq!(status, 204);
    let (status, body) = s.call(s.authed(Method::DELETE, &path, &admin)).await;
    assert_eq!(status, 404, "removing twice");
    assert_keystone_error(&body, 404);
    let nobody = format!("/v3/groups/{}/users/0123456789abcdef0123456789abcdef", g.id);
    let (status, _) = s.call(s.authed(Method::PUT, &nobody, &admin)).await;
    assert_eq!(status, 404, "an unknown user cannot join");
}

#[tokio::test]
async fn a_users_groups_are_visible_to_the_user_and_admins_only() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let g = s.group("ops");
    let u = s.user("uma");
    let other = s.user("otto");
    s.identity.store.add_user_to_group(&u.id, &g.id).unwrap();
    let own = s.mint(&u.id, TokenScope::Unscoped);
    let (status, body) = s.get(&format!("/v3/users/{}/groups", u.id), &own).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body["groups"]), vec![g.id.clone()]);
    let nosy = s.mint(&other.id, TokenScope::Unscoped);
    let (status, body) = s.get(&format!("/v3/users/{}/groups", u.id), &nosy).await;
    assert_eq!(status, 404);
    assert_keystone_error(&body, 404);
    let (status, _) = s.get(&format!("/v3/users/{}/groups", u.id), &admin).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn roles_through_a_group_reach_members_and_leave_with_them() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let g = s.group("ops");
    let u = s.user("gus");
    let p = s.project("shared");
    let member = s.role_id("member");
    let (status, _) = s
        .call(s.authed(
            Method::PUT,
            &format!("/v3/projects/{}/groups/{}/roles/{member}", p.id, g.id),
            &admin,
        ))
        .await;
    assert_eq!(status, 204);
    let resp = s.password_login(&u.id, USER_PASSWORD, Some(&p.id)).await;
    assert_eq!(resp.status().as_u16(), 401, "no role before joining");
    let (status, _) = s
        .call(s.authed(
            Method::PUT,
            &format!("/v3/groups/{}/users/{}", g.id, u.id),
            &admin,
        ))
        .await;
    assert_eq!(status, 204);
    let scoped = s.login(&u.id, USER_PASSWORD, Some(&p.id)).await;
    let unscoped = s.login(&u.id, USER_PASSWORD, None).await;
    assert!(s.token_works(&scoped).await);
    let (status, _) = s
        .call(s.authed(
            Method::DELETE,
            &format!("/v3/groups/{}/users/{}", g.id, u.id),
            &admin,
        ))
        .await;
    assert_eq!(status, 204);
    assert!(!s.token_works(&scoped).await, "the group's role is gone");
    assert!(
        !s.token_works(&unscoped).await,
        "leaving a group revokes all the user's tokens"
    );
}

// ---- implied roles

#[tokio::test]
async fn implied_role_rules_in_keystone_shapes() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let boss = s.role("boss");
    let worker = s.role("worker");
    let rule = format!("/v3/roles/{}/implies/{}", boss.id, worker.id);
    let (status, created) = s.call(s.authed(Method::PUT, &rule, &admin)).await;
    assert_eq!(status, 201, "{created}");
    let inf = &created["role_inference"];
    assert_eq!(inf["prior_role"]["id"], json!(boss.id));
    assert_eq!(inf["prior_role"]["name"], "boss");
    assert_eq!(
        inf["prior_role"]["links"]["self"],
        json!(format!("{}/v3/roles/{}", s.base, boss.id))
    );
    assert_eq!(inf["implies"]["id"], json!(worker.id));
    assert_eq!(inf["implies"]["name"], "worker");
    assert_eq!(created["links"]["self"], json!(format!("{}{rule}", s.base)));

    let (status, shown) = s.get(&rule, &admin).await;
    assert_eq!(status, 200);
    assert_eq!(shown, created);
    let (status, _) = s.call(s.authed(Method::HEAD, &rule, &admin)).await;
    assert_eq!(status, 204);
    let (status, err) = s.call(s.authed(Method::PUT, &rule, &admin)).await;
    assert_eq!(status, 409, "{err}");

    let (status, listed) = s
        .get(&format!("/v3/roles/{}/implies", boss.id), &admin)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["role_inference"]["prior_role"]["id"], json!(boss.id));
    assert_eq!(
        ids(&listed["role_inference"]["implies"]),
        vec![worker.id.clone()]
    );

    let (status, all) = s.get("/v3/role_inferences", &admin).await;
    assert_eq!(status, 200);
    let rules = all["role_inferences"].as_array().unwrap();
    let admin_rule = rules
        .iter()
        .find(|r| r["prior_role"]["name"] == "admin")
        .expect("bootstrap's admin => manager");
    assert_eq!(admin_rule["implies"][0]["name"], "manager");
    let manager_rule = rules
        .iter()
        .find(|r| r["prior_role"]["name"] == "manager")
        .expect("bootstrap's manager => member");
    assert_eq!(manager_rule["implies"][0]["name"], "member");
    assert!(rules.iter().any(|r| r["prior_role"]["id"] == json!(boss.id)
        && ids(&r["implies"]) == vec![worker.id.clone()]));

    let (status, _) = s.call(s.authed(Method::DELETE, &rule, &admin)).await;
    assert_eq!(status, 204);
    let (status, body) = s.get(&rule, &admin).await;
    assert_eq!(status, 404);
    assert_keystone_error(&body, 404);
    let (status, _) = s.call(s.authed(Method::DELETE, &rule, &admin)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn implications_that_close_a_loop_are_refused() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let reader = s.role_id("reader");
    let member = s.role_id("member");
    let before = s.get("/v3/role_inferences", &admin).await.1;
    for (prior, implied) in [
        (reader.clone(), member.clone()),
        (member.clone(), member.clone()),
    ] {
        let (status, err) = s
            .call(s.authed(
                Method::PUT,
                &format!("/v3/roles/{prior}/implies/{implied}"),
                &admin,
            ))
            .await;
        assert_eq!(status, 400, "{err}");
        assert!(assert_keystone_error(&err, 400).contains("cycle"));
    }
    let extra = s.role("extra");
    let (status, err) = s
        .call(s.authed(
            Method::PUT,
            &format!("/v3/roles/{}/implies/{}", extra.id, s.role_id("admin")),
            &admin,
        ))
        .await;
    assert_eq!(status, 403, "nothing may imply admin: {err}");
    let (status, _) = s
        .call(s.authed(
            Method::PUT,
            &format!(
                "/v3/roles/{}/implies/0123456789abcdef0123456789abcdef",
                extra.id
            ),
            &admin,
        ))
        .await;
    assert_eq!(status, 404);
    assert_eq!(s.get("/v3/role_inferences", &admin).await.1, before);
}

#[tokio::test]
async fn domain_roles_may_imply_but_global_roles_may_not_imply_them() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let domain_role = |domain: &str, name: &str| {
        let role = ferrostack_store::identity::Role {
            id: ferrostack_common::ids::new_hex_id(),
            name: name.into(),
            domain_id: Some(domain.to_string()),
            description: String::new(),
            extra: Default::default(),
        };
        s.identity.store.create_role(&role).expect("domain role");
        role.id
    };
    let d1 = domain_role("default", "d1");
    let d2 = domain_role("default", "d2");
    let (_, other) = s
        .send_json(
            Method::POST,
            "/v3/domains",
            &admin,
            json!({"domain": {"name": "other"}}),
        )
        .await;
    let d3 = domain_role(other["domain"]["id"].as_str().unwrap(), "d3");
    let global = s.role("global").id;
    for (prior, implied, want) in [
        (&d1, &d2, 201),
        (&d1, &d3, 201),
        (&d1, &global, 201),
        (&global, &d1, 403),
    ] {
        let (status, body) = s
            .call(s.authed(
                Method::PUT,
                &format!("/v3/roles/{prior}/implies/{implied}"),
                &admin,
            ))
            .await;
        assert_eq!(status, want, "{prior} => {implied}: {body}");
    }
}

#[tokio::test]
async fn a_new_implication_reaches_existing_tokens() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let u = s.user("ike");
    let p = s.project("p");
    let boss = s.role("boss");
    let auditor = s.role("auditor");
    s.grant(&u.id, &p.id, "boss");
    let token = s.login(&u.id, USER_PASSWORD, Some(&p.id)).await;
    let role_names = |body: &Value| -> Vec<String> {
        body["token"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let check = || {
        s.authed(Method::GET, "/v3/auth/tokens", &admin)
            .header("X-Subject-Token", &token)
    };
    assert_eq!(role_names(&s.call(check()).await.1), vec!["boss"]);
    let (status, _) = s
        .call(s.authed(
            Method::PUT,
            &format!("/v3/roles/{}/implies/{}", boss.id, auditor.id),
            &admin,
        ))
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        role_names(&s.call(check()).await.1),
        vec!["auditor", "boss"]
    );
}

// ---- system role grants

#[tokio::test]
async fn system_role_grants_allow_system_scope() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let u = s.user("sys");
    let reader = s.role_id("reader");
    let one = format!("/v3/system/users/{}/roles/{reader}", u.id);
    let all = format!("/v3/system/users/{}/roles", u.id);
    let system_login = || async {
        let mut body = Server::password_auth(&u.id, USER_PASSWORD, None);
        body["auth"]["scope"] = json!({"system": {"all": true}});
        s.req(Method::POST, "/v3/auth/tokens")
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(system_login().await.status().as_u16(), 401);
    let (status, _) = s.call(s.authed(Method::HEAD, &one, &admin)).await;
    assert_eq!(status, 404);
    let (status, _) = s.call(s.authed(Method::PUT, &one, &admin)).await;
    assert_eq!(status, 204);
    let (status, _) = s.call(s.authed(Method::HEAD, &one, &admin)).await;
    assert_eq!(status, 204);
    let (status, listed) = s.get(&all, &admin).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&listed["roles"]), vec![reader.clone()]);
    let resp = system_login().await;
    assert_eq!(resp.status().as_u16(), 201);
    let token = common::subject_token(&resp);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token"]["system"], json!({"all": true}));
    let (_, sys) = s.get("/v3/auth/system", &token).await;
    assert_eq!(sys["system"], json!([{"all": true}]));

    let (status, _) = s.call(s.authed(Method::DELETE, &one, &admin)).await;
    assert_eq!(status, 204);
    assert!(!s.token_works(&token).await);
    let (status, body) = s.call(s.authed(Method::DELETE, &one, &admin)).await;
    assert_eq!(status, 404);
    assert_keystone_error(&body, 404);
    let (_, listed) = s.get(&all, &admin).await;
    assert_eq!(listed["roles"], json!([]));
}

// ---- project tags

#[tokio::test]
async fn project_tags_one_by_one_and_as_a_list() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let p = s.project("tagged");
    let tags = format!("/v3/projects/{}/tags", p.id);
    assert_eq!(s.get(&tags, &admin).await.1, json!({"tags": []}));
    let resp = s
        .authed(Method::PUT, &format!("{tags}/prod"), &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    assert!(resp.headers().contains_key("location"));
    let (status, _) = s
        .call(s.authed(Method::PUT, &format!("{tags}/team%20a"), &admin))
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        s.get(&tags, &admin).await.1,
        json!({"tags": ["prod", "team a"]})
    );
    let (status, _) = s
        .call(s.authed(Method::HEAD, &format!("{tags}/prod"), &admin))
        .await;
    assert_eq!(status, 204);
    let (status, _) = s
        .call(s.authed(Method::GET, &format!("{tags}/absent"), &admin))
        .await;
    assert_eq!(status, 404);
    let (_, shown) = s.get(&format!("/v3/projects/{}", p.id), &admin).await;
    assert_eq!(shown["project"]["tags"], json!(["prod", "team a"]));
    let (_, filtered) = s.get("/v3/projects?tags=prod", &admin).await;
    assert_eq!(ids(&filtered["projects"]), vec![p.id.clone()]);

    let (status, replaced) = s
        .send_json(Method::PUT, &tags, &admin, json!({"tags": ["x", "y"]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(replaced, json!({"tags": ["x", "y"]}));
    assert_eq!(s.get(&tags, &admin).await.1, json!({"tags": ["x", "y"]}));

    let (status, _) = s
        .call(s.authed(Method::DELETE, &format!("{tags}/x"), &admin))
        .await;
    assert_eq!(status, 204);
    let (status, body) = s
        .call(s.authed(Method::DELETE, &format!("{tags}/x"), &admin))
        .await;
    assert_eq!(status, 404);
    assert_keystone_error(&body, 404);
    let (status, _) = s.call(s.authed(Method::DELETE, &tags, &admin)).await;
    assert_eq!(status, 204);
    assert_eq!(s.get(&tags, &admin).await.1, json!({"tags": []}));
}

#[tokio::test]
async fn bad_tags_are_refused_and_change_nothing() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let p = s.project("tagged");
    let tags = format!("/v3/projects/{}/tags", p.id);
    s.send_json(Method::PUT, &tags, &admin, json!({"tags": ["keep"]}))
        .await;
    let too_many: Vec<String> = (0..81).map(|i| format!("t{i}")).collect();
    for body in [
        json!({"tags": ["a,b"]}),
        json!({"tags": ["dup", "dup"]}),
        json!({"tags": [""]}),
        json!({"tags": too_many}),
        json!({"tags": "prod"}),
        json!({"labels": []}),
    ] {
        let (status, err) = s.send_json(Method::PUT, &tags, &admin, body.clone()).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_keystone_error(&err, 400);
    }
    let (status, _) = s
        .call(s.authed(Method::PUT, &format!("{tags}/a,b"), &admin))
        .await;
    assert_eq!(status, 400);
    let (status, err) = s
        .send_json(
            Method::POST,
            "/v3/projects",
            &admin,
            json!({"project": {"name": "np", "tags": ["x", "x"]}}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(s.get(&tags, &admin).await.1, json!({"tags": ["keep"]}));
}
