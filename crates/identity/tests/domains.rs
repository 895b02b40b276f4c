//! Domains to Keystone's level over HTTP: deleting a disabled domain takes
//! its contents, projects acting as domains, and the domain-specific
//! configuration API (validation, partial updates, sensitive options,
//! defaults, `security_compliance`).

// Test helpers panic on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_keystone_error, Server, USER_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

async fn new_domain(s: &Server, admin: &str, name: &str) -> String {
    let (status, body) = s
        .send_json(
            Method::POST,
            "/v3/domains",
            admin,
            json!({"domain": {"name": name}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["domain"]["id"].as_str().unwrap().to_string()
}

async fn disable_domain(s: &Server, admin: &str, domain: &str) {
    let (status, body) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/domains/{domain}"),
            admin,
            json!({"domain": {"enabled": false}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn deleting_a_disabled_domain_takes_its_projects_users_and_groups() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let d = new_domain(&s, &admin, "doomed").await;
    let mut made = Vec::new();
    for (path, key, body) in [
        (
            "/v3/projects",
            "project",
            json!({"project": {"name": "p", "domain_id": d}}),
        ),
        (
            "/v3/users",
            "user",
            json!({"user": {"name": "u", "domain_id": d, "password": USER_PASSWORD}}),
        ),
        (
            "/v3/groups",
            "group",
            json!({"group": {"name": "g", "domain_id": d}}),
        ),
    ] {
        let (status, created) = s.send_json(Method::POST, path, &admin, body).await;
        assert_eq!(status, 201, "{created}");
        made.push(format!("{path}/{}", created[key]["id"].as_str().unwrap()));
    }
    let project_id = made[0].rsplit('/').next().unwrap().to_string();
    let user_id = made[1].rsplit('/').next().unwrap().to_string();
    let member = s.role_id("member");
    let (status, _) = s
        .call(s.authed(
            Method::PUT,
            &format!("/v3/projects/{project_id}/users/{user_id}/roles/{member}"),
            &admin,
        ))
        .await;
    assert_eq!(status, 204);
    let token = s.login(&user_id, USER_PASSWORD, Some(&project_id)).await;

    // Enabled: refused, nothing touched.
    let (status, body) = s
        .call(s.authed(Method::DELETE, &format!("/v3/domains/{d}"), &admin))
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(s.get(&made[1], &admin).await.0, 200);

    disable_domain(&s, &admin, &d).await;
    let (status, _) = s
        .call(s.authed(Method::DELETE, &format!("/v3/domains/{d}"), &admin))
        .await;
    assert_eq!(status, 204);
    assert_eq!(s.get(&format!("/v3/domains/{d}"), &admin).await.0, 404);
    for path in &made {
        let (status, body) = s.get(path, &admin).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_keystone_error(&body, 404);
    }
    assert!(
        !s.token_works(&token).await,
        "the user's token died with the domain"
    );
}

#[tokio::test]
async fn a_project_acting_as_a_domain_is_a_domain() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let (status, created) = s
        .send_json(
            Method::POST,
            "/v3/projects",
            &admin,
            json!({"project": {"name": "acme", "is_domain": true, "domain_id": null}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let p = &created["project"];
    assert_eq!(p["is_domain"], true);
    assert_eq!(p["domain_id"], Value::Null);
    assert_eq!(p["parent_id"], Value::Null);
    let id = p["id"].as_str().unwrap().to_string();

    let (_, listed) = s.get("/v3/projects?is_domain=true", &admin).await;
    let ids: Vec<&str> = listed["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&id.as_str()) && ids.contains(&"default"),
        "{listed}"
    );
    let (status, domain) = s.get(&format!("/v3/domains/{id}"), &admin).await;
    assert_eq!(status, 200);
    assert_eq!(domain["domain"]["name"], "acme");
    let (status, shown) = s.get(&format!("/v3/projects/{id}"), &admin).await;
    assert_eq!(status, 200);
    assert_eq!(shown["project"]["is_domain"], true);

    // A project inside it lands in the new domain.
    let (status, inner) = s
        .send_json(
            Method::POST,
            "/v3/projects",
            &admin,
            json!({"project": {"name": "inner", "parent_id": id}}),
        )
        .await;
    assert_eq!(status, 201, "{inner}");
    assert_eq!(inner["project"]["domain_id"], json!(id));

    // Disable and delete through the projects API, as Tempest cleans up.
    let path = format!("/v3/projects/{id}");
    let (status, body) = s.call(s.authed(Method::DELETE, &path, &admin)).await;
    assert_eq!(status, 403, "an enabled domain stays: {body}");
    let (status, body) = s
        .send_json(
            Method::PATCH,
            &path,
            &admin,
            json!({"project": {"enabled": false}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["project"]["enabled"], false);
    let (status, _) = s.call(s.authed(Method::DELETE, &path, &admin)).await;
    assert_eq!(status, 204);
    assert_eq!(s.get(&format!("/v3/domains/{id}"), &admin).await.0, 404);

    let (status, _) = s
        .send_json(
            Method::POST,
            "/v3/projects",
            &admin,
            json!({"project": {"name": "x", "is_domain": true, "parent_id": "default"}}),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn domain_configuration_is_stored_validated_and_partially_updated() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let d = new_domain(&s, &admin, "ldapish").await;
    let base = format!("/v3/domains/{d}/config");
    assert_eq!(s.get(&base, &admin).await.0, 404);

    // Only Keystone's groups and options; 403 as Keystone's InvalidDomainConfig.
    for bad in [
        json!({"config": {"ldap": {"bogus": 1}}}),
        json!({"config": {"assignment": {"driver": "sql"}}}),
        json!({"config": {}}),
        json!({"config": {"ldap": {}}}),
    ] {
        let (status, body) = s.send_json(Method::PUT, &base, &admin, bad.clone()).await;
        assert_eq!(status, 403, "{bad}: {body}");
        assert_keystone_error(&body, 403);
    }

    let config = json!({
        "identity": {"driver": "ldap"},
        "ldap": {"url": "ldap://example.org/", "user_tree_dn": "ou=Users", "password": "s3cret"},
    });
    let shown = json!({
        "identity": {"driver": "ldap"},
        "ldap": {"url": "ldap://example.org/", "user_tree_dn": "ou=Users"},
    });
    let (status, body) = s
        .send_json(Method::PUT, &base, &admin, json!({"config": config}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["config"], shown,
        "the sensitive password is never shown"
    );
    assert_eq!(s.get(&base, &admin).await.1["config"], shown);
    assert_eq!(
        s.get(&format!("{base}/ldap"), &admin).await.1["config"],
        json!({"ldap": shown["ldap"]})
    );
    assert_eq!(
        s.get(&format!("{base}/ldap/url"), &admin).await.1["config"],
        json!({"url": "ldap://example.org/"})
    );
    assert_eq!(s.get(&format!("{base}/ldap/password"), &admin).await.0, 404);
    assert_eq!(s.get(&format!("{base}/ldap/bogus"), &admin).await.0, 403);
    // Replacing answers 200.
    let (status, _) = s
        .send_json(Method::PUT, &base, &admin, json!({"config": config}))
        .await;
    assert_eq!(status, 200);

    // Group and option updates: exactly the named group/option, which must exist.
    let (status, body) = s
        .send_json(
            Method::PATCH,
            &format!("{base}/identity"),
            &admin,
            json!({"config": {"identity": {"driver": "sql", "list_limit": 7}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["config"]["identity"],
        json!({"driver": "sql", "list_limit": 7})
    );
    assert_eq!(body["config"]["ldap"], shown["ldap"]);
    let (status, body) = s
        .send_json(
            Method::PATCH,
            &format!("{base}/identity/driver"),
            &admin,
            json!({"config": {"driver": "ldap"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["config"]["identity"]["driver"], "ldap");
    let (status, _) = s
        .send_json(
            Method::PATCH,
            &format!("{base}/identity"),
            &admin,
            json!({"config": {"ldap": {"url": "x"}}}),
        )
        .await;
    assert_eq!(status, 403, "a group update naming another group");
    let (status, _) = s
        .send_json(
            Method::PATCH,
            &format!("{base}/ldap/suffix"),
            &admin,
            json!({"config": {"suffix": "dc=x"}}),
        )
        .await;
    assert_eq!(
        status, 404,
        "an option not yet set cannot be updated by path"
    );

    // Deletes: option, group, whole; what is not set is 404.
    let (status, _) = s
        .call(s.authed(Method::DELETE, &format!("{base}/identity/driver"), &admin))
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        s.get(&format!("{base}/identity/driver"), &admin).await.0,
        404
    );
    let (status, _) = s
        .call(s.authed(Method::DELETE, &format!("{base}/identity"), &admin))
        .await;
    assert_eq!(status, 204);
    assert_eq!(s.get(&format!("{base}/identity"), &admin).await.0, 404);
    let (status, _) = s
        .call(s.authed(Method::DELETE, &format!("{base}/identity"), &admin))
        .await;
    assert_eq!(status, 404);
    let (status, _) = s.call(s.authed(Method::DELETE, &base, &admin)).await;
    assert_eq!(status, 204);
    assert_eq!(s.get(&base, &admin).await.0, 404);

    // A configuration goes with its domain.
    s.send_json(Method::PUT, &base, &admin, json!({"config": config}))
        .await;
    disable_domain(&s, &admin, &d).await;
    s.call(s.authed(Method::DELETE, &format!("/v3/domains/{d}"), &admin))
        .await;
    assert!(s.identity.store.get_domain_config(&d).unwrap().is_none());
    assert_eq!(
        s.get(&format!("/v3/domains/{d}/config"), &admin).await.0,
        404
    );
}

#[tokio::test]
async fn domain_configuration_defaults_and_security_compliance() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let (status, all) = s.get("/v3/domains/config/default", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(all["config"]["identity"]["driver"], "sql");
    assert!(all["config"]["identity"]
        .as_object()
        .unwrap()
        .contains_key("list_limit"));
    assert_eq!(all["config"]["ldap"]["url"], "ldap://localhost");
    assert!(!all["config"]["ldap"]
        .as_object()
        .unwrap()
        .contains_key("password"));
    let (status, ldap) = s.get("/v3/domains/config/ldap/default", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(ldap["config"], json!({"ldap": all["config"]["ldap"]}));
    let (status, one) = s.get("/v3/domains/config/ldap/url/default", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(one["config"], json!({"url": "ldap://localhost"}));
    assert_eq!(
        s.get("/v3/domains/config/ldap/password/default", &admin)
            .await
            .0,
        403
    );
    assert_eq!(
        s.get("/v3/domains/config/nope/default", &admin).await.0,
        403
    );

    // Any user reads the default domain's password rule; nothing else.
    let u = s.user("plain");
    let p = s.project("p");
    s.grant(&u.id, &p.id, "member");
    let token = s.login(&u.id, USER_PASSWORD, Some(&p.id)).await;
    let (status, sc) = s
        .get("/v3/domains/default/config/security_compliance", &token)
        .await;
    assert_eq!(status, 200, "{sc}");
    assert!(sc["config"]["security_compliance"]
        .as_object()
        .unwrap()
        .contains_key("password_regex"));
    let (status, _) = s
        .get(
            "/v3/domains/default/config/security_compliance/password_regex",
            &token,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .get(
            "/v3/domains/default/config/security_compliance/lockout_failure_attempts",
            &token,
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        s.get("/v3/domains/default/config/ldap", &token).await.0,
        403
    );
    assert_eq!(s.get("/v3/domains/default/config", &token).await.0, 403);
    assert_eq!(s.get("/v3/domains/config/default", &token).await.0, 403);
}
