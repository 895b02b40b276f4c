//! Microversion negotiation, the version headers, and the quota fields
//! each microversion shows.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, keys, Compute};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_version_document_advertises_2_1_to_2_96() {
    let c = Compute::start().await;
    let r = c.s.get(&format!("{}/v2.1", c.root), "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["version"]["version"], "2.96");
    assert_eq!(r.body["version"]["min_version"], "2.1");
    let root = c.s.get(&format!("{}/", c.root), "").await;
    assert_eq!(root.body["versions"][1]["version"], "2.96");
}

#[tokio::test]
async fn the_served_version_is_echoed_in_both_headers() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let path = format!("/os-quota-sets/{}", c.project);
    let r = c.get_at(&path, &admin, "2.60").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("openstack-api-version"), Some("compute 2.60"));
    assert_eq!(r.header("x-openstack-nova-api-version"), Some("2.60"));
    let vary = r.header("vary").unwrap_or_default();
    assert!(
        vary.contains("OpenStack-API-Version") && vary.contains("X-OpenStack-Nova-API-Version"),
        "{vary}"
    );
}

#[tokio::test]
async fn no_header_is_2_1_and_latest_is_2_96() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let path = format!("/os-quota-sets/{}", c.project);
    let plain = c.get_at(&path, &admin, "").await;
    assert_eq!(plain.header("x-openstack-nova-api-version"), Some("2.1"));
    let latest = c.get_at(&path, &admin, "latest").await;
    assert_eq!(latest.header("openstack-api-version"), Some("compute 2.96"));
}

#[tokio::test]
async fn the_legacy_header_works_and_the_standard_one_wins() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let url = c.url(&format!("/os-quota-sets/{}", c.project));
    let legacy =
        c.s.call(
            c.s.req(Method::GET, &url, &admin)
                .header("X-OpenStack-Nova-API-Version", "2.40"),
        )
        .await;
    assert_eq!(legacy.header("x-openstack-nova-api-version"), Some("2.40"));
    let both =
        c.s.call(
            c.s.req(Method::GET, &url, &admin)
                .header("X-OpenStack-Nova-API-Version", "2.40")
                .header("OpenStack-API-Version", "compute 2.57"),
        )
        .await;
    assert_eq!(both.header("x-openstack-nova-api-version"), Some("2.57"));
}

#[tokio::test]
async fn a_version_above_the_maximum_is_406() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let r = c
        .get_at(&format!("/os-quota-sets/{}", c.project), &admin, "2.97")
        .await;
    let message = assert_fault(&r, 406, "computeFault");
    assert_eq!(
        message,
        "Version 2.97 is not supported by the API. Minimum is 2.1 and maximum is 2.96."
    );
}

#[tokio::test]
async fn a_malformed_version_is_400() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    for bad in ["2.x", "two", "2.01"] {
        let r = c
            .get_at(&format!("/os-quota-sets/{}", c.project), &admin, bad)
            .await;
        assert_fault(&r, 400, "badRequest");
    }
}

#[tokio::test]
async fn quota_sets_drop_network_fields_at_2_36_and_file_injection_at_2_57() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let path = format!("/os-quota-sets/{}", c.project);
    let at = |v: &'static str| {
        let (c, admin, path) = (&c, admin.clone(), path.clone());
        async move { c.get_at(&path, &admin, v).await.body["quota_set"].clone() }
    };
    let v35 = at("2.35").await;
    assert!(v35.get("floating_ips").is_some() && v35.get("injected_files").is_some());
    let v36 = at("2.36").await;
    for gone in [
        "fixed_ips",
        "floating_ips",
        "security_groups",
        "security_group_rules",
    ] {
        assert!(v36.get(gone).is_none(), "{gone} at 2.36: {v36}");
    }
    assert!(v36.get("injected_files").is_some());
    let v57 = at("2.57").await;
    assert_eq!(
        keys(&v57),
        [
            "cores",
            "id",
            "instances",
            "key_pairs",
            "metadata_items",
            "ram",
            "server_group_members",
            "server_groups"
        ]
    );
    assert_eq!(keys(&at("2.96").await), keys(&v57));
}

#[tokio::test]
async fn detail_and_defaults_follow_the_microversion_too() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    for path in [
        format!("/os-quota-sets/{}/detail", c.project),
        format!("/os-quota-sets/{}/defaults", c.project),
    ] {
        let set = c.get_at(&path, &admin, "2.57").await.body["quota_set"].clone();
        assert!(set.get("injected_files").is_none(), "{path}: {set}");
        assert!(set.get("floating_ips").is_none(), "{path}: {set}");
        assert!(set.get("cores").is_some(), "{path}: {set}");
    }
}

#[tokio::test]
async fn an_update_may_only_name_the_fields_of_its_microversion() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let url = c.url("/os-quota-sets/myproject");
    let put = |version: &'static str, body: serde_json::Value| {
        let rb =
            c.s.req(Method::PUT, &url, &admin)
                .header("OpenStack-API-Version", format!("compute {version}"))
                .json(&body);
        c.s.call(rb)
    };
    let old = put("2.35", json!({"quota_set": {"floating_ips": 3}})).await;
    assert_eq!(old.status, 200, "{}", old.body);
    assert_eq!(old.body["quota_set"]["floating_ips"], 3);
    let new = put("2.36", json!({"quota_set": {"floating_ips": 4}})).await;
    assert_fault(&new, 400, "badRequest");
    let personality = put("2.57", json!({"quota_set": {"injected_files": 4}})).await;
    assert_fault(&personality, 400, "badRequest");
    let fine = put("2.57", json!({"quota_set": {"cores": 30}})).await;
    assert_eq!(fine.status, 200, "{}", fine.body);
    assert!(fine.body["quota_set"].get("injected_files").is_none());
}

#[tokio::test]
async fn quota_classes_gain_server_groups_at_2_50() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let v49 = c
        .get_at("/os-quota-class-sets/default", &admin, "2.49")
        .await
        .body["quota_class_set"]
        .clone();
    assert!(
        v49.get("server_groups").is_none() && v49.get("fixed_ips").is_some(),
        "{v49}"
    );
    let v50 = c
        .get_at("/os-quota-class-sets/default", &admin, "2.50")
        .await
        .body["quota_class_set"]
        .clone();
    assert!(
        v50.get("server_groups").is_some() && v50.get("fixed_ips").is_none(),
        "{v50}"
    );
    assert!(v50.get("injected_files").is_some());
    let v57 = c
        .get_at("/os-quota-class-sets/default", &admin, "2.57")
        .await
        .body["quota_class_set"]
        .clone();
    assert!(v57.get("injected_files").is_none(), "{v57}");
}

#[tokio::test]
async fn unknown_query_parameters_are_refused_from_2_75() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let path = format!("/os-quota-sets/{}?bogus=1", c.project);
    assert_eq!(c.get_at(&path, &admin, "2.74").await.status, 200);
    assert_fault(&c.get_at(&path, &admin, "2.75").await, 400, "badRequest");
    let limits = c.get_at("/limits?bogus=1", &admin, "2.75").await;
    assert_fault(&limits, 400, "badRequest");
}
