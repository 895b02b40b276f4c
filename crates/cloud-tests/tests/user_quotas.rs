//! Per-user quotas (`os-quota-sets/{project}?user_id=`) through HTTP:
//! show, update, detail and reset as Nova's, a user's limit bounded by
//! what the project leaves, and enforced on that user's creates only.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, Compute};
use ferrostack_testkit::Reply;
use reqwest::Method;
use serde_json::{json, Value};

const V: &str = "2.96";

struct World {
    c: Compute,
    admin: String,
    /// (user id, token) of two members of the project.
    alice: (String, String),
    bob: (String, String),
    image: String,
}

async fn member(c: &Compute, name: &str) -> (String, String) {
    let id = c.s.user(name);
    c.s.grant(&id, &c.project, "member");
    let token =
        c.s.login(&id, ferrostack_testkit::USER_PASSWORD, &c.project)
            .await;
    (id, token)
}

async fn world() -> World {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let r = c
        .at(
            Method::POST,
            "/flavors",
            &admin,
            V,
            Some(json!({"flavor": {"name": "f1", "id": "1", "vcpus": 1, "ram": 256, "disk": 1}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let image = c.image(&c.project, "qcow2");
    c.start_fake_agent("host-1", None);
    let alice = member(&c, "alice").await;
    let bob = member(&c, "bob").await;
    World {
        admin,
        alice,
        bob,
        image,
        c,
    }
}

impl World {
    async fn quota(&self, method: Method, suffix: &str, body: Option<Value>) -> Reply {
        let path = format!("/os-quota-sets/{}{suffix}", self.c.project);
        self.c.at(method, &path, &self.admin, "2.1", body).await
    }

    async fn boot(&self, token: &str) -> Reply {
        let server =
            json!({"name": "vm", "imageRef": self.image, "flavorRef": "1", "networks": "none"});
        self.c
            .at(
                Method::POST,
                "/servers",
                token,
                V,
                Some(json!({ "server": server })),
            )
            .await
    }

    async fn servers(&self, token: &str) -> usize {
        let r = self.c.at(Method::GET, "/servers", token, V, None).await;
        r.body["servers"].as_array().unwrap().len()
    }
}

#[tokio::test]
async fn a_users_quota_is_shown_set_and_reset_within_the_projects() {
    let w = world().await;
    let alice = &w.alice.0;
    let r = w
        .quota(Method::PUT, "", Some(json!({"quota_set": {"ram": 5120}})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Before any user limit, the user's quota is the project's.
    let r = w
        .quota(Method::GET, &format!("?user_id={alice}"), None)
        .await;
    assert_eq!(r.body["quota_set"]["ram"], 5120);
    assert_eq!(r.body["quota_set"]["id"], json!(w.c.project));
    let r = w
        .quota(
            Method::PUT,
            &format!("?user_id={alice}"),
            Some(json!({"quota_set": {"ram": 2048}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["quota_set"]["ram"], 2048);
    let r = w
        .quota(Method::GET, &format!("?user_id={alice}"), None)
        .await;
    assert_eq!(r.body["quota_set"]["ram"], 2048);
    let r = w
        .quota(Method::GET, &format!("/detail?user_id={alice}"), None)
        .await;
    assert_eq!(
        r.body["quota_set"]["ram"],
        json!({"in_use": 0, "limit": 2048, "reserved": 0})
    );
    // The project's and another user's are unchanged.
    let r = w.quota(Method::GET, "", None).await;
    assert_eq!(r.body["quota_set"]["ram"], 5120);
    let bob = &w.bob.0;
    let r = w.quota(Method::GET, &format!("?user_id={bob}"), None).await;
    assert_eq!(r.body["quota_set"]["ram"], 5120);
    // Above the project's limit: refused, nothing changes.
    let r = w
        .quota(
            Method::PUT,
            &format!("?user_id={alice}"),
            Some(json!({"quota_set": {"ram": 6000}})),
        )
        .await;
    let m = assert_fault(&r, 400, "badRequest");
    assert_eq!(
        m,
        "Quota limit 6000 for ram must be less than or equal to 5120."
    );
    let r = w
        .quota(Method::GET, &format!("?user_id={alice}"), None)
        .await;
    assert_eq!(r.body["quota_set"]["ram"], 2048);
    // Reset: back to the project's.
    let r = w
        .quota(Method::DELETE, &format!("?user_id={alice}"), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = w
        .quota(Method::GET, &format!("?user_id={alice}"), None)
        .await;
    assert_eq!(r.body["quota_set"]["ram"], 5120);
}

#[tokio::test]
async fn a_users_limit_refuses_that_users_create_and_not_anothers() {
    let w = world().await;
    let alice = &w.alice.0;
    let r = w
        .quota(
            Method::PUT,
            &format!("?user_id={alice}"),
            Some(json!({"quota_set": {"instances": 1}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = w.boot(&w.alice.1).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = w.boot(&w.alice.1).await;
    let m = assert_fault(&r, 403, "forbidden");
    assert!(m.starts_with("Quota exceeded for instances"), "{m}");
    assert_eq!(w.servers(&w.alice.1).await, 1, "nothing half-created");
    // Bob, in the same project, is held only by the project's limit.
    let r = w.boot(&w.bob.1).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = w.boot(&w.bob.1).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = w
        .quota(Method::GET, &format!("/detail?user_id={alice}"), None)
        .await;
    assert_eq!(r.body["quota_set"]["instances"]["in_use"], 1);
    let r = w.quota(Method::GET, "/detail", None).await;
    assert_eq!(r.body["quota_set"]["instances"]["in_use"], 3);
    // Alice's limit may not go below what she holds, unless forced.
    let r = w
        .quota(
            Method::PUT,
            &format!("?user_id={alice}"),
            Some(json!({"quota_set": {"instances": 0}})),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
}
