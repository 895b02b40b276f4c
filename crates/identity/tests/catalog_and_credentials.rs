//! The catalog admin API (regions, services, endpoints), application
//! credentials end to end, and the legacy v2.0 token call.

// Test helpers panic on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_keystone_error, subject_token, Server, ADMIN_PASSWORD, USER_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

// ---- regions

#[tokio::test]
async fn regions_create_by_post_and_put_update_and_delete() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let (status, made) = s
        .send_json(
            Method::POST,
            "/v3/regions",
            &admin,
            json!({"region": {"id": "RegionTwo", "description": "second"}}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["region"]["id"], "RegionTwo");
    assert_eq!(made["region"]["parent_region_id"], Value::Null);
    assert_eq!(
        made["region"]["links"]["self"],
        json!(format!("{}/v3/regions/RegionTwo", s.base))
    );
    let (status, _) = s
        .send_json(
            Method::POST,
            "/v3/regions",
            &admin,
            json!({"region": {"id": "RegionTwo"}}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, generated) = s
        .send_json(Method::POST, "/v3/regions", &admin, json!({"region": {}}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(generated["region"]["id"].as_str().unwrap().len(), 32);

    let (status, child) = s
        .send_json(
            Method::PUT,
            "/v3/regions/Rack7",
            &admin,
            json!({"region": {"parent_region_id": "RegionTwo"}}),
        )
        .await;
    assert_eq!(status, 201, "{child}");
    assert_eq!(child["region"]["parent_region_id"], "RegionTwo");
    let (_, kids) = s
        .get("/v3/regions?parent_region_id=RegionTwo", &admin)
        .await;
    assert_eq!(ids(&kids["regions"]), vec!["Rack7".to_string()]);
    let (_, everything) = s.get("/v3/regions", &admin).await;
    assert_eq!(everything["regions"].as_array().unwrap().len(), 4);

    let (status, err) = s
        .send_json(
            Method::PATCH,
            "/v3/regions/RegionTwo",
            &admin,
            json!({"region": {"parent_region_id": "Rack7"}}),
        )
        .await;
    assert_eq!(status, 400, "a region cannot descend from itself: {err}");
    let (status, err) = s
        .send_json(
            Method::PUT,
            "/v3/regions/Orphan",
            &admin,
            json!({"region": {"parent_region_id": "Nowhere"}}),
        )
        .await;
    assert_eq!(status, 404, "{err}");
    let (status, patched) = s
        .send_json(
            Method::PATCH,
            "/v3/regions/Rack7",
            &admin,
            json!({"region": {"description": "top of rack", "parent_region_id": null}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(patched["region"]["description"], "top of rack");
    assert_eq!(patched["region"]["parent_region_id"], Value::Null);

    let (status, err) = s
        .call(s.authed(Method::DELETE, "/v3/regions/RegionOne", &admin))
        .await;
    assert_eq!(status, 409, "RegionOne still has endpoints: {err}");
    assert_keystone_error(&err, 409);
    let (status, _) = s
        .call(s.authed(Method::DELETE, "/v3/regions/Rack7", &admin))
        .await;
    assert_eq!(status, 204);
    let (status, _) = s.get("/v3/regions/Rack7", &admin).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn any_user_can_read_regions_but_only_admins_write() {
    let s = Server::start().await;
    let u = s.user("reg");
    let token = s.login(&u.id, USER_PASSWORD, None).await;
    let (status, _) = s.get("/v3/regions/RegionOne", &token).await;
    assert_eq!(status, 200);
    let (status, err) = s
        .send_json(
            Method::POST,
            "/v3/regions",
            &token,
            json!({"region": {"id": "Mine"}}),
        )
        .await;
    assert_eq!(status, 403);
    assert_keystone_error(&err, 403);
}

// ---- services and endpoints

#[tokio::test]
async fn services_and_endpoints_shape_the_catalog() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let (status, made) = s
        .send_json(
            Method::POST,
            "/v3/services",
            &admin,
            json!({"service": {"type": "object-store", "name": "swift", "description": "objects"}}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let sid = made["service"]["id"].as_str().unwrap().to_string();
    assert_eq!(made["service"]["type"], "object-store");
    assert_eq!(made["service"]["enabled"], true);
    let (_, by_type) = s.get("/v3/services?type=object-store", &admin).await;
    assert_eq!(ids(&by_type["services"]), vec![sid.clone()]);
    let (_, by_name) = s.get("/v3/services?name=swift", &admin).await;
    assert_eq!(ids(&by_name["services"]), vec![sid.clone()]);

    let mut eids = Vec::new();
    for interface in ["public", "internal", "admin"] {
        let (status, ep) = s
            .send_json(
                Method::POST,
                "/v3/endpoints",
                &admin,
                json!({"endpoint": {"service_id": sid, "interface": interface,
                                    "region_id": "RegionOne", "url": format!("http://swift.{interface}:8080/v1")}}),
            )
            .await;
        assert_eq!(status, 201, "{ep}");
        assert_eq!(ep["endpoint"]["region_id"], "RegionOne");
        assert_eq!(ep["endpoint"]["region"], "RegionOne");
        eids.push(ep["endpoint"]["id"].as_str().unwrap().to_string());
    }
    let (_, listed) = s
        .get(
            &format!("/v3/endpoints?service_id={sid}&interface=public"),
            &admin,
        )
        .await;
    assert_eq!(ids(&listed["endpoints"]), vec![eids[0].clone()]);
    let (_, in_region) = s.get("/v3/endpoints?region_id=RegionOne", &admin).await;
    assert!(in_region["endpoints"].as_array().unwrap().len() >= 3);

    let (_, cat) = s.get("/v3/auth/catalog", &admin).await;
    let swift = cat["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["type"] == "object-store")
        .expect("new service in the catalog");
    assert_eq!(swift["endpoints"].as_array().unwrap().len(), 3);

    let (status, patched) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/endpoints/{}", eids[0]),
            &admin,
            json!({"endpoint": {"url": "https://swift.example:443/v1"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(patched["endpoint"]["url"], "https://swift.example:443/v1");
    let (status, _) = s
        .call(s.authed(
            Method::DELETE,
            &format!("/v3/endpoints/{}", eids[0]),
            &admin,
        ))
        .await;
    assert_eq!(status, 204);

    let (status, _) = s
        .send_json(
            Method::PATCH,
            &format!("/v3/services/{sid}"),
            &admin,
            json!({"service": {"enabled": false}}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, cat) = s.get("/v3/auth/catalog", &admin).await;
    assert!(
        !cat["catalog"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["type"] == "object-store"),
        "a disabled service leaves the catalog"
    );
    let (status, _) = s
        .call(s.authed(Method::DELETE, &format!("/v3/services/{sid}"), &admin))
        .await;
    assert_eq!(status, 204);
    let (status, _) = s.get(&format!("/v3/endpoints/{}", eids[1]), &admin).await;
    assert_eq!(status, 404, "endpoints go with their service");
}

#[tokio::test]
async fn invalid_endpoints_are_refused_and_create_nothing() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let (_, svc) = s
        .send_json(
            Method::POST,
            "/v3/services",
            &admin,
            json!({"service": {"type": "dns"}}),
        )
        .await;
    let sid = svc["service"]["id"].as_str().unwrap();
    let before = s.get("/v3/endpoints", &admin).await.1;
    let good = json!({"service_id": sid, "interface": "public", "region_id": "RegionOne", "url": "http://dns:9001"});
    let with = |k: &str, v: Value| {
        let mut e = good.clone();
        e[k] = v;
        json!({ "endpoint": e })
    };
    let without = |k: &str| {
        let mut e = good.clone();
        e.as_object_mut().unwrap().remove(k);
        json!({ "endpoint": e })
    };
    for body in [
        with("interface", json!("sideways")),
        with("service_id", json!("0123456789abcdef0123456789abcdef")),
        with("region_id", json!("Atlantis")),
        with("url", json!("")),
        with("url", json!("not a url")),
        without("url"),
        without("interface"),
        without("service_id"),
    ] {
        let (status, err) = s
            .send_json(Method::POST, "/v3/endpoints", &admin, body.clone())
            .await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_keystone_error(&err, 400);
    }
    let (status, _) = s
        .send_json(
            Method::POST,
            "/v3/services",
            &admin,
            json!({"service": {"name": "typeless"}}),
        )
        .await;
    assert_eq!(status, 400, "a service needs a type");
    assert_eq!(s.get("/v3/endpoints", &admin).await.1, before);
}

// ---- application credentials

async fn user_with_project(s: &Server, name: &str, role: &str) -> (String, String, String) {
    let u = s.user(name);
    let p = s.project(&format!("{name}-project"));
    s.grant(&u.id, &p.id, role);
    let token = s.login(&u.id, USER_PASSWORD, Some(&p.id)).await;
    (u.id, p.id, token)
}

fn app_cred_auth(id: &str, secret: &str) -> Value {
    json!({"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {"id": id, "secret": secret},
    }}})
}

#[tokio::test]
async fn application_credentials_authenticate_and_die_with_deletion() {
    let s = Server::start().await;
    let (uid, pid, token) = user_with_project(&s, "app", "member").await;
    let base = format!("/v3/users/{uid}/application_credentials");
    let (status, made) = s
        .send_json(
            Method::POST,
            &base,
            &token,
            json!({"application_credential": {"name": "ci", "description": "for CI",
                   "secret": null, "expires_at": null, "roles": [], "access_rules": []}}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let cred = &made["application_credential"];
    let cid = cred["id"].as_str().unwrap().to_string();
    let secret = cred["secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 64);
    assert_eq!(cred["project_id"], json!(pid));
    assert_eq!(cred["unrestricted"], false);
    let names: Vec<&str> = cred["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        names.contains(&"member") && names.contains(&"reader"),
        "{names:?}"
    );

    let (_, listed) = s.get(&base, &token).await;
    assert_eq!(ids(&listed["application_credentials"]), vec![cid.clone()]);
    let (status, shown) = s.get(&format!("{base}/{cid}"), &token).await;
    assert_eq!(status, 200);
    for body in [&listed, &shown] {
        assert!(
            !body.to_string().contains(&secret),
            "the secret is shown once"
        );
    }

    // By id, and by name with the user.
    let resp = s
        .req(Method::POST, "/v3/auth/tokens")
        .json(&app_cred_auth(&cid, &secret))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let app_token = subject_token(&resp);
    let issued: Value = resp.json().await.unwrap();
    assert_eq!(issued["token"]["project"]["id"], json!(pid));
    assert_eq!(issued["token"]["application_credential"]["id"], json!(cid));
    assert_eq!(
        issued["token"]["methods"],
        json!(["application_credential"])
    );
    let by_name = json!({"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {"name": "ci", "secret": secret, "user": {"id": uid}},
    }}});
    let (status, _) = s
        .send_json(Method::POST, "/v3/auth/tokens", "", by_name)
        .await;
    assert_eq!(status, 201);
    let (status, _) = s
        .send_json(
            Method::POST,
            "/v3/auth/tokens",
            "",
            app_cred_auth(&cid, "wrong"),
        )
        .await;
    assert_eq!(status, 401);
    assert!(s.token_works(&app_token).await);

    // A restricted credential cannot manage credentials.
    let (status, _) = s
        .send_json(
            Method::POST,
            &base,
            &app_token,
            json!({"application_credential": {"name": "child"}}),
        )
        .await;
    assert_eq!(status, 403);

    let (status, _) = s
        .call(s.authed(Method::DELETE, &format!("{base}/{cid}"), &token))
        .await;
    assert_eq!(status, 204);
    assert!(
        !s.token_works(&app_token).await,
        "deleting the credential ends its tokens"
    );
    let (status, _) = s
        .send_json(
            Method::POST,
            "/v3/auth/tokens",
            "",
            app_cred_auth(&cid, &secret),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = s.get(&format!("{base}/{cid}"), &token).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn application_credentials_delegate_a_subset_of_roles() {
    let s = Server::start().await;
    let (uid, _pid, token) = user_with_project(&s, "sub", "member").await;
    let base = format!("/v3/users/{uid}/application_credentials");
    let (status, made) = s
        .send_json(
            Method::POST,
            &base,
            &token,
            json!({"application_credential": {"name": "ro", "roles": [{"name": "reader"}],
                   "secret": "my-own-secret", "expires_at": "2099-01-01T00:00:00"}}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let cred = &made["application_credential"];
    assert_eq!(cred["secret"], "my-own-secret");
    assert!(cred["expires_at"]
        .as_str()
        .unwrap()
        .starts_with("2099-01-01T00:00:00"));
    let cid = cred["id"].as_str().unwrap();
    let (status, issued) = s
        .send_json(
            Method::POST,
            "/v3/auth/tokens",
            "",
            app_cred_auth(cid, "my-own-secret"),
        )
        .await;
    assert_eq!(status, 201);
    let names: Vec<&str> = issued["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, vec!["reader"]);

    let before = s.get(&base, &token).await.1;
    for body in [
        json!({"application_credential": {"name": "up", "roles": [{"name": "admin"}]}}),
        json!({"application_credential": {"name": "ghost", "roles": [{"id": "0123456789abcdef0123456789abcdef"}]}}),
        json!({"application_credential": {"name": "old", "expires_at": "2001-01-01T00:00:00Z"}}),
        json!({"application_credential": {"name": "when", "expires_at": "soon"}}),
        json!({"application_credential": {"description": "no name"}}),
        json!({"application_credential": {"name": "odd", "colour": "blue"}}),
        json!({"application_credential": {"name": "rules", "access_rules": [{"path": "no-slash", "method": "GET", "service": "compute"}]}}),
    ] {
        let (status, err) = s.send_json(Method::POST, &base, &token, body.clone()).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_keystone_error(&err, 400);
    }
    let (status, _) = s
        .send_json(
            Method::POST,
            &base,
            &token,
            json!({"application_credential": {"name": "ro"}}),
        )
        .await;
    assert_eq!(status, 409, "names are unique per user");
    assert_eq!(s.get(&base, &token).await.1, before);
}

#[tokio::test]
async fn application_credentials_belong_to_their_user() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let (alice, _, alice_token) = user_with_project(&s, "alice", "member").await;
    let (bob, _, bob_token) = user_with_project(&s, "bob", "member").await;
    let alice_base = format!("/v3/users/{alice}/application_credentials");
    let (_, made) = s
        .send_json(
            Method::POST,
            &alice_base,
            &alice_token,
            json!({"application_credential": {"name": "a"}}),
        )
        .await;
    let cid = made["application_credential"]["id"].as_str().unwrap();

    let (status, _) = s
        .send_json(
            Method::POST,
            &alice_base,
            &bob_token,
            json!({"application_credential": {"name": "b"}}),
        )
        .await;
    assert_eq!(status, 403, "nobody creates credentials for someone else");
    let (status, _) = s
        .send_json(
            Method::POST,
            &alice_base,
            &admin,
            json!({"application_credential": {"name": "b"}}),
        )
        .await;
    assert_eq!(status, 403, "not even an admin");
    let (status, _) = s.get(&alice_base, &bob_token).await;
    assert_eq!(status, 404);
    let (status, _) = s.get(&format!("{alice_base}/{cid}"), &bob_token).await;
    assert_eq!(status, 404);
    let (status, _) = s
        .call(s.authed(Method::DELETE, &format!("{alice_base}/{cid}"), &bob_token))
        .await;
    assert_eq!(status, 404);
    let (status, _) = s
        .get(
            &format!("/v3/users/{bob}/application_credentials/{cid}"),
            &bob_token,
        )
        .await;
    assert_eq!(
        status, 404,
        "another user's credential under one's own path"
    );
    let (status, listed) = s.get(&alice_base, &admin).await;
    assert_eq!(status, 200);
    assert_eq!(
        ids(&listed["application_credentials"]),
        vec![cid.to_string()]
    );

    let unscoped = s.login(&alice, USER_PASSWORD, None).await;
    let (status, _) = s
        .send_json(
            Method::POST,
            &alice_base,
            &unscoped,
            json!({"application_credential": {"name": "u"}}),
        )
        .await;
    assert_eq!(status, 400, "creating needs a project-scoped token");
}

// ---- v2.0

#[tokio::test]
async fn v2_version_document() {
    let s = Server::start().await;
    let (status, body) = s.call(s.req(Method::GET, "/v2.0")).await;
    assert_eq!(status, 200);
    assert_eq!(body["version"]["id"], "v2.0");
    assert_eq!(body["version"]["status"], "deprecated");
}

#[tokio::test]
async fn v2_tokens_by_password_and_by_token() {
    let s = Server::start().await;
    let (status, body) = s
        .send_json(
            Method::POST,
            "/v2.0/tokens",
            "",
            json!({"auth": {"passwordCredentials": {"username": "admin", "password": ADMIN_PASSWORD},
                            "tenantName": "admin"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let access = &body["access"];
    let token = access["token"]["id"].as_str().unwrap().to_string();
    assert_eq!(access["token"]["tenant"]["id"], json!(s.admin_project_id));
    assert_eq!(access["token"]["tenant"]["name"], "admin");
    assert!(access["token"]["expires"].as_str().unwrap().ends_with('Z'));
    assert!(access["token"]["issued_at"].is_string());
    assert_eq!(access["token"]["audit_ids"].as_array().unwrap().len(), 1);
    assert_eq!(access["user"]["id"], json!(s.admin_id));
    assert_eq!(access["user"]["username"], "admin");
    assert_eq!(access["user"]["roles_links"], json!([]));
    assert!(access["user"]["roles"]
        .as_array()
        .unwrap()
        .contains(&json!({"name": "admin"})));
    assert_eq!(access["metadata"]["is_admin"], 0);
    // admin, and what it implies as in Keystone: manager, member, reader.
    assert_eq!(access["metadata"]["roles"].as_array().unwrap().len(), 4);
    let identity = access["serviceCatalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["type"] == "identity")
        .expect("identity in the v2 catalog");
    let ep = &identity["endpoints"][0];
    assert_eq!(ep["region"], "RegionOne");
    for key in ["publicURL", "internalURL", "adminURL", "id"] {
        assert!(ep[key].is_string(), "{key} missing: {ep}");
    }
    assert_eq!(identity["endpoints_links"], json!([]));
    assert!(s.token_works(&token).await, "a v2 token works on v3 routes");

    let (status, rescoped) = s
        .send_json(
            Method::POST,
            "/v2.0/tokens",
            "",
            json!({"auth": {"token": {"id": token}, "tenantId": s.admin_project_id}}),
        )
        .await;
    assert_eq!(status, 200, "{rescoped}");
    assert_eq!(
        rescoped["access"]["token"]["tenant"]["id"],
        json!(s.admin_project_id)
    );

    let (status, unscoped) = s
        .send_json(
            Method::POST,
            "/v2.0/tokens",
            "",
            json!({"auth": {"passwordCredentials": {"username": "admin", "password": ADMIN_PASSWORD}}}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(unscoped["access"]["token"].get("tenant").is_none());
    assert_eq!(unscoped["access"]["serviceCatalog"], json!([]));
}

#[tokio::test]
async fn v2_refusals_are_in_keystone_shape() {
    let s = Server::start().await;
    for (body, want) in [
        (
            json!({"auth": {"passwordCredentials": {"username": "admin", "password": "wrong"}, "tenantName": "admin"}}),
            401,
        ),
        (
            json!({"auth": {"passwordCredentials": {"username": "admin", "password": ADMIN_PASSWORD}, "tenantName": "nope"}}),
            401,
        ),
        (json!({"auth": {"tenantName": "admin"}}), 400),
        (
            json!({"auth": {"passwordCredentials": {"password": "x"}}}),
            400,
        ),
        (json!({"nothing": true}), 400),
    ] {
        let (status, err) = s
            .send_json(Method::POST, "/v2.0/tokens", "", body.clone())
            .await;
        assert_eq!(status, want, "{body}: {err}");
        assert_keystone_error(&err, want);
    }
}
