//! Keystone's unified limits over HTTP: who may write and read, the 403,
//! 409 and 400 rules, and that a refused batch stores nothing.

mod common;

use common::{Server, USER_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

async fn compute_service(s: &Server, admin: &str) -> String {
    let (_, body) = s.get("/v3/services?type=compute", admin).await;
    body["services"][0]["id"]
        .as_str()
        .expect("present")
        .to_string()
}

#[tokio::test]
async fn registered_limits_and_limits_follow_keystones_rules() {
    let s = Server::start().await;
    let admin = s.admin_token().await;
    let svc = compute_service(&s, &admin).await;
    let web = s.project("web");
    let other = s.project("other");
    let member = s.user("member");
    s.grant(&member.id, &web.id, "member");
    let member_token = s.login(&member.id, USER_PASSWORD, Some(&web.id)).await;

    let (st, body) = s.get("/v3/limits/model", &member_token).await;
    assert_eq!((st, body["model"]["name"].as_str()), (200, Some("flat")));

    // Only the admin registers; a batch with a bad item stores nothing.
    let reg = |name: &str| json!({"service_id": svc, "resource_name": name, "default_limit": 10});
    let (st, _) = s
        .send_json(
            Method::POST,
            "/v3/registered_limits",
            &member_token,
            json!({"registered_limits": [reg("cores")]}),
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = s
        .send_json(Method::POST, "/v3/registered_limits", &admin,
            json!({"registered_limits": [reg("cores"), {"service_id": "nope", "resource_name": "ram", "default_limit": 1}]}))
        .await;
    assert_eq!(st, 400);
    let (_, body) = s.get("/v3/registered_limits", &admin).await;
    assert_eq!(body["registered_limits"], json!([]));
    let (st, body) = s
        .send_json(
            Method::POST,
            "/v3/registered_limits",
            &admin,
            json!({"registered_limits": [reg("cores"), reg("ram")]}),
        )
        .await;
    assert_eq!(st, 201, "{body}");
    let cores_id = body["registered_limits"][0]["id"]
        .as_str()
        .expect("present")
        .to_string();
    let (st, _) = s
        .send_json(
            Method::POST,
            "/v3/registered_limits",
            &admin,
            json!({"registered_limits": [reg("cores")]}),
        )
        .await;
    assert_eq!(st, 409);
    // Any authenticated caller reads them.
    let (st, body) = s
        .get("/v3/registered_limits?resource_name=ram", &member_token)
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        body["registered_limits"].as_array().expect("present").len(),
        1
    );

    // A limit needs a registered limit: 403, nothing stored.
    let lim = |project: &str, name: &str, n: i64| json!({"service_id": svc, "project_id": project, "resource_name": name, "resource_limit": n});
    let (st, body) = s
        .send_json(
            Method::POST,
            "/v3/limits",
            &admin,
            json!({"limits": [lim(&web.id, "cores", 4), lim(&web.id, "disk", 1)]}),
        )
        .await;
    assert_eq!(st, 403, "{body}");
    let (st, body) = s
        .send_json(
            Method::POST,
            "/v3/limits",
            &admin,
            json!({"limits": [lim(&web.id, "cores", 4), lim(&other.id, "cores", 8)]}),
        )
        .await;
    assert_eq!(st, 201, "{body}");
    let web_limit: Value = body["limits"][0].clone();
    let other_id = body["limits"][1]["id"]
        .as_str()
        .expect("present")
        .to_string();
    let (st, _) = s
        .send_json(
            Method::POST,
            "/v3/limits",
            &admin,
            json!({"limits": [lim(&web.id, "cores", 5)]}),
        )
        .await;
    assert_eq!(st, 409);

    // The member sees its project's limit only; another's is 404.
    let (_, body) = s.get("/v3/limits", &member_token).await;
    assert_eq!(body["limits"].as_array().expect("present").len(), 1);
    assert_eq!(body["limits"][0]["id"], web_limit["id"]);
    let (st, _) = s
        .get(&format!("/v3/limits/{other_id}"), &member_token)
        .await;
    assert_eq!(st, 404);
    let (_, body) = s.get("/v3/limits", &admin).await;
    assert_eq!(body["limits"].as_array().expect("present").len(), 2);

    // Only the value and description of a limit change.
    let path = format!("/v3/limits/{}", web_limit["id"].as_str().expect("present"));
    let (st, body) = s
        .send_json(
            Method::PATCH,
            &path,
            &admin,
            json!({"limit": {"resource_limit": 6}}),
        )
        .await;
    assert_eq!(
        (st, body["limit"]["resource_limit"].as_i64()),
        (200, Some(6))
    );
    let (st, _) = s
        .send_json(
            Method::PATCH,
            &path,
            &admin,
            json!({"limit": {"resource_name": "ram"}}),
        )
        .await;
    assert_eq!(st, 400);

    // A registered limit with limits keeps its resource and stays.
    let rpath = format!("/v3/registered_limits/{cores_id}");
    let (st, _) = s
        .send_json(
            Method::PATCH,
            &rpath,
            &admin,
            json!({"registered_limit": {"resource_name": "vcpus"}}),
        )
        .await;
    assert_eq!(st, 403);
    let (st, body) = s
        .send_json(
            Method::PATCH,
            &rpath,
            &admin,
            json!({"registered_limit": {"default_limit": 20}}),
        )
        .await;
    assert_eq!(
        (st, body["registered_limit"]["default_limit"].as_i64()),
        (200, Some(20))
    );
    let (st, _) = s.call(s.authed(Method::DELETE, &rpath, &admin)).await;
    assert_eq!(st, 403);
    for l in [path.clone(), format!("/v3/limits/{other_id}")] {
        let (st, _) = s.call(s.authed(Method::DELETE, &l, &admin)).await;
        assert_eq!(st, 204);
    }
    let (st, _) = s.call(s.authed(Method::DELETE, &rpath, &admin)).await;
    assert_eq!(st, 204);
    let (st, _) = s.get(&rpath, &admin).await;
    assert_eq!(st, 404);
}
