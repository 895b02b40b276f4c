//! `GET /v2.1/limits`: absolute limits and usage per microversion, and
//! whose project they describe.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, Compute};
use ferrostack_quota::{ResourceMap, COMPUTE};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn limits_show_the_callers_project_with_usage() {
    let c = Compute::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let admin = c.s.admin_token().await;
    c.s.send(
        Method::PUT,
        &c.url("/os-quota-sets/myproject"),
        &admin,
        json!({"quota_set": {"cores": 30}}),
    )
    .await;
    let held = ResourceMap::from([("cores".to_string(), 2), ("ram".to_string(), 512)]);
    c.s.quotas
        .reserve(&COMPUTE, &c.project, "vm", &held)
        .unwrap();
    let r = c.s.get(&c.url("/limits"), &member).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let abs = &r.body["limits"]["absolute"];
    assert_eq!(abs["maxTotalCores"], 30);
    assert_eq!(abs["totalCoresUsed"], 2);
    assert_eq!(abs["totalRAMUsed"], 512);
    assert_eq!(abs["maxTotalInstances"], 10);
    assert_eq!(r.body["limits"]["rate"], json!([]));
}

#[tokio::test]
async fn limits_fields_follow_the_microversion() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let count = |v: &'static str| {
        let (c, admin) = (&c, admin.clone());
        async move {
            let r = c.get_at("/limits", &admin, v).await;
            r.body["limits"]["absolute"].as_object().unwrap().clone()
        }
    };
    let v21 = count("2.1").await;
    assert_eq!(v21.len(), 19);
    assert!(v21.contains_key("maxTotalFloatingIps") && v21.contains_key("maxImageMeta"));
    let v36 = count("2.36").await;
    assert_eq!(v36.len(), 14);
    assert!(!v36.contains_key("maxSecurityGroups"));
    let v39 = count("2.39").await;
    assert!(!v39.contains_key("maxImageMeta"));
    let v57 = count("2.57").await;
    assert_eq!(v57.len(), 11);
    assert!(!v57.contains_key("maxPersonality"));
}

#[tokio::test]
async fn an_admin_may_ask_for_another_project_by_id_or_name() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.s.send(
        Method::PUT,
        &c.url("/os-quota-sets/myproject"),
        &admin,
        json!({"quota_set": {"instances": 3}}),
    )
    .await;
    for tenant in [c.project.as_str(), "myproject"] {
        let r =
            c.s.get(&c.url(&format!("/limits?tenant_id={tenant}")), &admin)
                .await;
        assert_eq!(
            r.body["limits"]["absolute"]["maxTotalInstances"], 3,
            "{tenant}"
        );
    }
}

#[tokio::test]
async fn a_member_may_not_ask_for_another_project() {
    let c = Compute::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let other = c.s.project("other");
    let r =
        c.s.get(&c.url(&format!("/limits?tenant_id={other}")), &member)
            .await;
    assert_fault(&r, 403, "forbidden");
    // Naming their own project is harmless and allowed.
    let own =
        c.s.get(&c.url(&format!("/limits?tenant_id={}", c.project)), &member)
            .await;
    assert_eq!(own.status, 200);
}

#[tokio::test]
async fn the_sdks_tenant_id_none_means_the_callers_project() {
    let c = Compute::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let admin = c.s.admin_token().await;
    c.s.send(
        Method::PUT,
        &c.url("/os-quota-sets/myproject"),
        &admin,
        json!({"quota_set": {"instances": 4}}),
    )
    .await;
    // What `openstack limits show --absolute` sends.
    let r =
        c.s.get(&c.url("/limits?reserved=False&tenant_id=None"), &member)
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["limits"]["absolute"]["maxTotalInstances"], 4);
}
