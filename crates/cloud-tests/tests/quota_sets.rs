//! `os-quota-sets` and `os-quota-class-sets` through HTTP: show, update,
//! defaults, detail, reset, name resolution, and bad input.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, keys, Compute};
use ferrostack_quota::{ResourceMap, COMPUTE};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn a_fresh_project_shows_novas_defaults_with_its_id() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let set = c.quota_set(&admin, &c.project).await;
    assert_eq!(set["id"], json!(c.project));
    assert_eq!(set["cores"], 20);
    assert_eq!(set["instances"], 10);
    assert_eq!(set["ram"], 51200);
    assert_eq!(set["fixed_ips"], -1);
    assert_eq!(set["security_group_rules"], 20);
    // 14 quotas and the id, at 2.1.
    assert_eq!(keys(&set).len(), 15, "{set}");
}

#[tokio::test]
async fn update_by_project_name_sets_that_projects_quota() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let r =
        c.s.send(
            Method::PUT,
            &c.url("/os-quota-sets/myproject"),
            &admin,
            json!({"quota_set": {"cores": 30}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["quota_set"]["cores"], 30);
    // Nova leaves the id out of the update response.
    assert!(r.body["quota_set"].get("id").is_none(), "{}", r.body);
    assert_eq!(c.quota_set(&admin, &c.project).await["cores"], 30);
    assert_eq!(c.quota_set(&admin, "myproject").await["cores"], 30);
}

#[tokio::test]
async fn one_projects_quota_does_not_change_another() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let other = c.s.project("other");
    c.s.send(
        Method::PUT,
        &c.url(&format!("/os-quota-sets/{}", c.project)),
        &admin,
        json!({"quota_set": {"cores": 31, "ram": "1024"}}),
    )
    .await;
    let set = c.quota_set(&admin, &other).await;
    assert_eq!(
        (set["cores"].clone(), set["ram"].clone()),
        (json!(20), json!(51200))
    );
}

#[tokio::test]
async fn defaults_ignore_project_overrides() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.s.send(
        Method::PUT,
        &c.url("/os-quota-sets/myproject"),
        &admin,
        json!({"quota_set": {"cores": 30}}),
    )
    .await;
    let r =
        c.s.get(
            &c.url(&format!("/os-quota-sets/{}/defaults", c.project)),
            &admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["quota_set"]["cores"], 20);
    assert_eq!(r.body["quota_set"]["id"], json!(c.project));
}

#[tokio::test]
async fn detail_reports_in_use_limit_and_reserved() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let held = ResourceMap::from([("cores".to_string(), 4), ("instances".to_string(), 1)]);
    c.s.quotas
        .reserve(&COMPUTE, &c.project, "vm-1", &held)
        .unwrap();
    let r =
        c.s.get(
            &c.url(&format!("/os-quota-sets/{}/detail", c.project)),
            &admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let set = &r.body["quota_set"];
    assert_eq!(
        set["cores"],
        json!({"in_use": 4, "limit": 20, "reserved": 0})
    );
    assert_eq!(set["instances"]["in_use"], 1);
    assert_eq!(set["ram"]["in_use"], 0);
    assert_eq!(set["id"], json!(c.project));
}

#[tokio::test]
async fn delete_restores_the_defaults_with_202() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.s.send(
        Method::PUT,
        &c.url("/os-quota-sets/myproject"),
        &admin,
        json!({"quota_set": {"cores": 30}}),
    )
    .await;
    let r =
        c.s.call(c.s.req(Method::DELETE, &c.url("/os-quota-sets/myproject"), &admin))
            .await;
    assert_eq!(r.status, 202);
    assert_eq!(c.quota_set(&admin, &c.project).await["cores"], 20);
}

#[tokio::test]
async fn the_default_quota_class_sets_every_projects_defaults() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let r =
        c.s.send(
            Method::PUT,
            &c.url("/os-quota-class-sets/default"),
            &admin,
            json!({"quota_class_set": {"instances": 15}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["quota_class_set"]["instances"], 15);
    assert_eq!(c.quota_set(&admin, &c.project).await["instances"], 15);
    let shown =
        c.s.get(&c.url("/os-quota-class-sets/default"), &admin)
            .await;
    assert_eq!(shown.body["quota_class_set"]["id"], "default");
    assert_eq!(shown.body["quota_class_set"]["instances"], 15);
    let defaults =
        c.s.get(
            &c.url(&format!("/os-quota-sets/{}/defaults", c.project)),
            &admin,
        )
        .await;
    assert_eq!(defaults.body["quota_set"]["instances"], 15);
}

#[tokio::test]
async fn a_name_shared_by_two_projects_is_a_409() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.s.identity
        .store
        .create_domain(&ferrostack_store::identity::Domain {
            id: "d2".into(),
            name: "Second".into(),
            description: String::new(),
            enabled: true,
            tags: vec![],
            extra: Default::default(),
        })
        .unwrap();
    c.s.project_in("myproject", "d2");
    let r =
        c.s.send(
            Method::PUT,
            &c.url("/os-quota-sets/myproject"),
            &admin,
            json!({"quota_set": {"cores": 30}}),
        )
        .await;
    assert_fault(&r, 409, "conflictingRequest");
    // By id it still works.
    assert_eq!(c.quota_set(&admin, &c.project).await["cores"], 20);
}

#[tokio::test]
async fn an_unknown_project_is_refused_as_nova_does() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let r =
        c.s.get(&c.url("/os-quota-sets/nosuchproject"), &admin)
            .await;
    let message = assert_fault(&r, 400, "badRequest");
    assert_eq!(message, "Project ID nosuchproject is not a valid project.");
    let r =
        c.s.send(
            Method::PUT,
            &c.url("/os-quota-sets/nosuchproject"),
            &admin,
            json!({"quota_set": {"cores": 30}}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    // Delete does not check, as in Nova.
    let r =
        c.s.call(c.s.req(
            Method::DELETE,
            &c.url("/os-quota-sets/nosuchproject"),
            &admin,
        ))
        .await;
    assert_eq!(r.status, 202);
}

#[tokio::test]
async fn bad_updates_are_400_in_novas_shape_and_change_nothing() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let before = c.quota_set(&admin, &c.project).await;
    let cases: Vec<(&str, Value)> = vec![
        ("non-integer", json!({"quota_set": {"cores": "lots"}})),
        ("float", json!({"quota_set": {"cores": 2.5}})),
        ("boolean", json!({"quota_set": {"cores": true}})),
        ("null", json!({"quota_set": {"cores": null}})),
        ("below -1", json!({"quota_set": {"cores": -2}})),
        ("string below -1", json!({"quota_set": {"cores": "-2"}})),
        ("too large", json!({"quota_set": {"cores": 2147483648_i64}})),
        (
            "unknown key",
            json!({"quota_set": {"cores": 5, "bogus": 1}}),
        ),
        ("not wrapped", json!({"cores": 5})),
        (
            "extra top-level key",
            json!({"quota_set": {"cores": 5}, "x": 1}),
        ),
        ("quota_set not an object", json!({"quota_set": [5]})),
        ("not an object", json!([{"quota_set": {"cores": 5}}])),
        (
            "bad force",
            json!({"quota_set": {"cores": 5, "force": "perhaps"}}),
        ),
        ("networks", json!({"quota_set": {"networks": 5}})),
    ];
    for (what, body) in cases {
        let r =
            c.s.send(
                Method::PUT,
                &c.url("/os-quota-sets/myproject"),
                &admin,
                body,
            )
            .await;
        assert_eq!(r.status, 400, "{what}: {}", r.body);
        assert_fault(&r, 400, "badRequest");
    }
    let malformed =
        c.s.call(
            c.s.req(Method::PUT, &c.url("/os-quota-sets/myproject"), &admin)
                .header("Content-Type", "application/json")
                .body("{\"quota_set\": {\"cores\": 5"),
        )
        .await;
    assert_fault(&malformed, 400, "badRequest");
    assert_eq!(c.quota_set(&admin, &c.project).await, before);
}

#[tokio::test]
async fn the_message_names_the_field_and_value_as_nova_does() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let r =
        c.s.send(
            Method::PUT,
            &c.url("/os-quota-sets/myproject"),
            &admin,
            json!({"quota_set": {"cores": "lots"}}),
        )
        .await;
    assert_eq!(
        assert_fault(&r, 400, "badRequest"),
        "Invalid input for field/attribute cores. Value: 'lots'. 'lots' does not match '^-?[0-9]+$'"
    );
    let r =
        c.s.send(
            Method::PUT,
            &c.url("/os-quota-sets/myproject"),
            &admin,
            json!({"quota_set": {"bogus": 1}}),
        )
        .await;
    assert!(assert_fault(&r, 400, "badRequest")
        .ends_with("Additional properties are not allowed ('bogus' was unexpected)"));
}

#[tokio::test]
async fn a_limit_below_usage_is_refused_unless_forced() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let held = ResourceMap::from([("cores".to_string(), 8)]);
    c.s.quotas
        .reserve(&COMPUTE, &c.project, "vm-1", &held)
        .unwrap();
    let url = c.url("/os-quota-sets/myproject");
    let r =
        c.s.send(
            Method::PUT,
            &url,
            &admin,
            json!({"quota_set": {"cores": 4}}),
        )
        .await;
    assert_eq!(
        assert_fault(&r, 400, "badRequest"),
        "Quota limit 4 for cores must be greater than or equal to already used and reserved 8."
    );
    assert_eq!(c.quota_set(&admin, &c.project).await["cores"], 20);
    let r =
        c.s.send(
            Method::PUT,
            &url,
            &admin,
            json!({"quota_set": {"cores": 4, "force": true}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(c.quota_set(&admin, &c.project).await["cores"], 4);
}
