//! The admin views of the storage hosts (`/os-services`, `/os-hosts` and
//! `/capabilities`), the extension list and small request shapes, as
//! Tempest's volume tests and `openstack volume service list` read them.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, start};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn services_filter_by_host_and_binary_and_grow_fields_with_microversions() {
    let c = start().await;
    let admin = c.v.s.admin_token().await;
    let r = c.get("/os-services", &admin).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let hosts: Vec<&str> = r.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["controller", "storage1@fake"]);
    assert!(r.body["services"][0].get("cluster").is_none());
    // `host=storage1` is the host and every backend on it.
    let r = c.get("/os-services?host=storage1", &admin).await;
    assert_eq!(r.body["services"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["services"][0]["binary"], "cinder-volume");
    let r = c.get("/os-services?host=storage", &admin).await;
    assert!(r.body["services"].as_array().unwrap().is_empty());
    let r = c
        .at(
            "3.49",
            Method::GET,
            "/os-services?binary=cinder-volume",
            &admin,
            None,
        )
        .await;
    assert_eq!(r.body["services"][0]["cluster"], json!(null));
    assert_eq!(r.body["services"][0]["backend_state"], "up");
    let r = c.get("/os-services", &c.member).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn hosts_list_services_and_show_usage_per_project() {
    let c = start().await;
    let admin = c.v.s.admin_token().await;
    let id = c.available(3).await;
    let r = c
        .send(
            Method::POST,
            "/snapshots",
            &c.member,
            json!({"snapshot": {"volume_id": id}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = c.get("/os-hosts", &admin).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = r.body["hosts"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{}", r.body);
    assert_eq!(rows[1]["host_name"], "storage1@fake");
    assert_eq!(rows[1]["service"], "cinder-volume");
    assert_eq!(rows[1]["service-state"], "enabled");
    let r = c.get("/os-hosts/storage1@fake", &admin).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let total = &r.body["host"][0]["resource"];
    assert_eq!(total["project"], "(total)");
    assert_eq!(total["volume_count"], "1");
    assert_eq!(total["total_volume_gb"], "3");
    assert_eq!(total["snapshot_count"], "1");
    assert_eq!(total["total_snapshot_gb"], "3");
    assert_eq!(r.body["host"][1]["resource"]["project"], c.v.project);
    assert_fault(
        &c.get("/os-hosts/controller", &admin).await,
        404,
        "itemNotFound",
    );
    assert_eq!(c.get("/os-hosts", &c.member).await.status, 403);
}

#[tokio::test]
async fn capabilities_of_a_pool_match_its_get_pools_entry() {
    let c = start().await;
    let admin = c.v.s.admin_token().await;
    let pools = c
        .get("/scheduler-stats/get_pools?detail=true", &admin)
        .await;
    let pool = &pools.body["pools"][0];
    let name = pool["name"].as_str().unwrap();
    let r = c.get(&format!("/capabilities/{name}"), &admin).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for k in ["vendor_name", "volume_backend_name", "storage_protocol"] {
        assert_eq!(r.body[k], pool["capabilities"][k], "{k}: {}", r.body);
    }
    assert_eq!(
        r.body["namespace"],
        "OS::Storage::Capabilities::storage1@fake"
    );
    let r = c.get("/capabilities/storage1@fake", &admin).await;
    assert_eq!(r.status, 200);
    assert_fault(
        &c.get("/capabilities/elsewhere@x", &admin).await,
        404,
        "itemNotFound",
    );
}

#[tokio::test]
async fn a_snapshot_of_no_volume_is_404_and_of_a_missing_field_400() {
    let c = start().await;
    let r = c
        .send(
            Method::POST,
            "/snapshots",
            &c.member,
            json!({"snapshot": {"volume_id": null}}),
        )
        .await;
    assert_fault(&r, 404, "itemNotFound");
    let r = c
        .send(
            Method::POST,
            "/snapshots",
            &c.member,
            json!({"snapshot": {"name": "x"}}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c.get("/snapshots", &c.member).await;
    assert!(r.body["snapshots"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn extensions_list_what_is_served_and_an_empty_id_is_404() {
    let c = start().await;
    let r = c.get("/extensions", &c.member).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<&str> = r.body["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Hosts") && names.contains(&"Backups"),
        "{names:?}"
    );
    // Every listed extension's collection is really served.
    let admin = c.v.s.admin_token().await;
    for path in [
        "/os-hosts",
        "/os-services",
        "/backups",
        "/qos-specs",
        "/os-volume-transfer",
    ] {
        assert_eq!(c.get(path, &admin).await.status, 200, "{path}");
    }
    for path in ["/volumes/", "/snapshots/", "/backups/"] {
        assert_fault(&c.get(path, &c.member).await, 404, "itemNotFound");
        let r = c.send(Method::DELETE, path, &c.member, json!({})).await;
        assert_fault(&r, 404, "itemNotFound");
    }
}

#[tokio::test]
async fn extra_specs_set_with_a_null_body_is_400_and_changes_nothing() {
    let c = start().await;
    let admin = c.v.s.admin_token().await;
    let r = c
        .send(
            Method::POST,
            "/types",
            &admin,
            json!({"volume_type": {"name": "gold", "extra_specs": {"k": "v"}}}),
        )
        .await;
    let tid = r.body["volume_type"]["id"].as_str().unwrap().to_string();
    let path = format!("/types/{tid}/extra_specs");
    let r = c
        .send(Method::POST, &path, &admin, json!({"extra_specs": null}))
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c.get(&path, &admin).await;
    assert_eq!(r.body["extra_specs"], json!({"k": "v"}));
}
