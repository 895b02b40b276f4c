//! Cinder's quota, quota-class and limits APIs through HTTP.

#![allow(clippy::unwrap_used)]

use ferrostack_quota::{ResourceMap, VOLUME};
use ferrostack_testkit::{Reply, Served};
use reqwest::Method;
use serde_json::{json, Value};

async fn start() -> Served {
    Served::start("/v3", |s, public_url| {
        ferrostack_volume::router(ferrostack_volume::VolumeConfig {
            public_url,
            validator: s.validator(),
            quotas: s.quotas.clone(),
            projects: s.projects.clone(),
            store: std::sync::Arc::new(s.store.clone()),
            backends: vec![],
            images: std::sync::Arc::new(ferrostack_volume::hooks::NoImages),
            events: std::sync::Arc::new(ferrostack_volume::hooks::NoEvents),
            availability_zone: "nova".into(),
            host: "controller".into(),
            backup_store: None,
        })
    })
    .await
}

async fn quota_set(v: &Served, token: &str) -> Value {
    let r =
        v.s.get(&v.url(&format!("/os-quota-sets/{}", v.project)), token)
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["quota_set"].clone()
}

fn assert_fault(r: &Reply, code: u16, name: &str) -> String {
    assert_eq!(r.status, code, "body: {}", r.body);
    assert_eq!(r.body[name]["code"], code, "body: {}", r.body);
    r.body[name]["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_fresh_project_shows_cinders_defaults() {
    let v = start().await;
    let admin = v.s.admin_token().await;
    let set = quota_set(&v, &admin).await;
    assert_eq!(
        set,
        json!({"id": v.project, "volumes": 10, "snapshots": 10, "gigabytes": 1000,
               "backups": 10, "backup_gigabytes": 1000, "groups": 10,
               "per_volume_gigabytes": -1,
               // Per-type quotas of the default type, unlimited, as Cinder.
               "volumes___DEFAULT__": -1, "gigabytes___DEFAULT__": -1,
               "snapshots___DEFAULT__": -1})
    );
}

#[tokio::test]
async fn usage_true_gives_limit_in_use_and_reserved() {
    let v = start().await;
    let admin = v.s.admin_token().await;
    let held = ResourceMap::from([("volumes".to_string(), 2), ("gigabytes".to_string(), 40)]);
    v.s.quotas
        .reserve(&VOLUME, &v.project, "vol-1", &held)
        .unwrap();
    let r =
        v.s.get(
            &v.url(&format!("/os-quota-sets/{}?usage=True", v.project)),
            &admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["quota_set"]["gigabytes"],
        json!({"limit": 1000, "in_use": 40, "reserved": 0})
    );
    assert_eq!(r.body["quota_set"]["volumes"]["in_use"], 2);
    let bad =
        v.s.get(
            &v.url(&format!("/os-quota-sets/{}?usage=perhaps", v.project)),
            &admin,
        )
        .await;
    assert_fault(&bad, 400, "badRequest");
}

#[tokio::test]
async fn update_by_name_answers_the_new_limits_without_id() {
    let v = start().await;
    let admin = v.s.admin_token().await;
    let r =
        v.s.send(
            Method::PUT,
            &v.url("/os-quota-sets/myproject"),
            &admin,
            json!({"quota_set": {"volumes": 5, "gigabytes": "200", "tenant_id": "ignored"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["quota_set"]["volumes"], 5);
    assert!(r.body["quota_set"].get("id").is_none());
    let set = quota_set(&v, &admin).await;
    assert_eq!(
        (set["volumes"].clone(), set["gigabytes"].clone()),
        (json!(5), json!(200))
    );
}

#[tokio::test]
async fn the_project_id_url_form_works_too() {
    let v = start().await;
    let admin = v.s.admin_token().await;
    let prefix = format!("/{}", v.s.admin_project_id);
    let r =
        v.s.send(
            Method::PUT,
            &v.url(&format!("{prefix}/os-quota-sets/{}", v.project)),
            &admin,
            json!({"quota_set": {"snapshots": 3}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let shown =
        v.s.get(
            &v.url(&format!("{prefix}/os-quota-sets/{}", v.project)),
            &admin,
        )
        .await;
    assert_eq!(shown.body["quota_set"]["snapshots"], 3);
    let defaults =
        v.s.get(
            &v.url(&format!("{prefix}/os-quota-sets/{}/defaults", v.project)),
            &admin,
        )
        .await;
    assert_eq!(defaults.body["quota_set"]["snapshots"], 10);
    let limits = v.s.get(&v.url(&format!("{prefix}/limits")), &admin).await;
    assert_eq!(limits.status, 200);
}

#[tokio::test]
async fn delete_restores_the_defaults() {
    let v = start().await;
    let admin = v.s.admin_token().await;
    v.s.send(
        Method::PUT,
        &v.url("/os-quota-sets/myproject"),
        &admin,
        json!({"quota_set": {"volumes": 5}}),
    )
    .await;
    let r =
        v.s.call(v.s.req(Method::DELETE, &v.url("/os-quota-sets/myproject"), &admin))
            .await;
    assert_eq!(r.status, 200);
    assert_eq!(quota_set(&v, &admin).await["volumes"], 10);
}

#[tokio::test]
async fn the_default_class_changes_defaults() {
    let v = start().await;
    let admin = v.s.admin_token().await;
    let r =
        v.s.send(
            Method::PUT,
            &v.url("/os-quota-class-sets/default"),
            &admin,
            json!({"quota_class_set": {"volumes": 12}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let defaults =
        v.s.get(
            &v.url(&format!("/os-quota-sets/{}/defaults", v.project)),
            &admin,
        )
        .await;
    assert_eq!(defaults.body["quota_set"]["volumes"], 12);
    let class =
        v.s.get(&v.url("/os-quota-class-sets/default"), &admin)
            .await;
    assert_eq!(class.body["quota_class_set"]["id"], "default");
    assert_eq!(class.body["quota_class_set"]["volumes"], 12);
}

#[tokio::test]
async fn the_default_class_holds_per_type_defaults() {
    let v = start().await;
    let admin = v.s.admin_token().await;
    let r =
        v.s.send(
            Method::POST,
            &v.url("/types"),
            &admin,
            json!({"volume_type": {"name": "gold"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r =
        v.s.send(
            Method::PUT,
            &v.url("/os-quota-class-sets/default"),
            &admin,
            json!({"quota_class_set": {"volumes_gold": 4, "gigabytes_gold": 9}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["quota_class_set"]["volumes_gold"], 4, "{}", r.body);
    assert_eq!(r.body["quota_class_set"]["snapshots_gold"], -1);
    let class =
        v.s.get(&v.url("/os-quota-class-sets/default"), &admin)
            .await;
    assert_eq!(class.body["quota_class_set"]["gigabytes_gold"], 9);
    // A project without its own limit gets the class's.
    assert_eq!(quota_set(&v, &admin).await["volumes_gold"], 4);
    // An unknown type, or a per-type key on another class, changes nothing.
    for (class, body) in [
        (
            "default",
            json!({"quota_class_set": {"volumes_silver": 2, "volumes": 3}}),
        ),
        ("other", json!({"quota_class_set": {"volumes_gold": 2}})),
    ] {
        let r =
            v.s.send(
                Method::PUT,
                &v.url(&format!("/os-quota-class-sets/{class}")),
                &admin,
                body,
            )
            .await;
        assert_fault(&r, 400, "badRequest");
    }
    let class =
        v.s.get(&v.url("/os-quota-class-sets/default"), &admin)
            .await;
    assert_eq!(class.body["quota_class_set"]["volumes"], 10);
    assert_eq!(class.body["quota_class_set"]["volumes_gold"], 4);
}

#[tokio::test]
async fn bad_updates_are_400_and_change_nothing() {
    let v = start().await;
    let admin = v.s.admin_token().await;
    let before = quota_set(&v, &admin).await;
    for body in [
        json!({"quota_set": {"volumes": "five"}}),
        json!({"quota_set": {"volumes": -2}}),
        json!({"quota_set": {"volumes": 1.5}}),
        json!({"quota_set": {"cores": 1}}),
        json!({"quota_set": {"volumes": 1, "bogus": 1}}),
        json!({"volumes": 1}),
        json!({"quota_set": "x"}),
    ] {
        let r =
            v.s.send(
                Method::PUT,
                &v.url("/os-quota-sets/myproject"),
                &admin,
                body.clone(),
            )
            .await;
        assert_fault(&r, 400, "badRequest");
    }
    let r =
        v.s.send(
            Method::PUT,
            &v.url("/os-quota-sets/myproject"),
            &admin,
            json!({"quota_set": {"cores": 1}}),
        )
        .await;
    assert_eq!(
        assert_fault(&r, 400, "badRequest"),
        "Invalid input received: Bad key(s) in quota set: cores"
    );
    assert_eq!(quota_set(&v, &admin).await, before);
}

#[tokio::test]
async fn a_limit_below_usage_is_refused() {
    let v = start().await;
    let admin = v.s.admin_token().await;
    let held = ResourceMap::from([("volumes".to_string(), 3)]);
    v.s.quotas
        .reserve(&VOLUME, &v.project, "vol-1", &held)
        .unwrap();
    let r =
        v.s.send(
            Method::PUT,
            &v.url("/os-quota-sets/myproject"),
            &admin,
            json!({"quota_set": {"volumes": 2}}),
        )
        .await;
    assert!(assert_fault(&r, 400, "badRequest").contains("Current usage is 3"));
    assert_eq!(quota_set(&v, &admin).await["volumes"], 10);
}

#[tokio::test]
async fn limits_show_the_callers_project() {
    let v = start().await;
    let admin = v.s.admin_token().await;
    let member = v.s.user_token("m", &v.project, "member").await;
    v.s.send(
        Method::PUT,
        &v.url("/os-quota-sets/myproject"),
        &admin,
        json!({"quota_set": {"volumes": 4}}),
    )
    .await;
    let r = v.s.get(&v.url("/limits?project_id=None"), &member).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let abs = &r.body["limits"]["absolute"];
    assert_eq!(abs["maxTotalVolumes"], 4);
    assert_eq!(abs["totalVolumesUsed"], 0);
    assert_eq!(abs["maxTotalVolumeGigabytes"], 1000);
    assert_eq!(abs.as_object().unwrap().len(), 10);
}

#[tokio::test]
async fn personas_get_what_cinders_policy_gives_them() {
    let v = start().await;
    let p = v.s.personas(&v.project).await;
    let show = v.url("/os-quota-sets/myproject");
    assert_eq!(v.s.get(&show, &p.member).await.status, 200);
    assert_eq!(v.s.get(&show, &p.reader).await.status, 200);
    assert_fault(&v.s.get(&show, &p.outsider).await, 404, "itemNotFound");
    assert_eq!(v.s.get(&show, "").await.status, 401);
    let put =
        v.s.send(
            Method::PUT,
            &show,
            &p.member,
            json!({"quota_set": {"volumes": 1}}),
        )
        .await;
    assert_fault(&put, 403, "forbidden");
    let class =
        v.s.get(&v.url("/os-quota-class-sets/default"), &p.member)
            .await;
    assert_fault(&class, 403, "forbidden");
    assert_eq!(quota_set(&v, &p.admin).await["volumes"], 10);
}

#[tokio::test]
async fn other_apis_want_a_token_then_are_501_in_cinders_shape() {
    let v = start().await;
    let admin = v.s.admin_token().await;
    let member = v.s.user_token("member", &v.project, "member").await;
    let unbuilt = [
        v.url(&format!("/{}/group_snapshots/abc", v.project)),
        v.url("/groups/detail"),
        v.url(&format!("/{}/messages", v.project)),
        // Deeper than a built route: still the catch-all.
        v.url(&format!("/os-quota-sets/{}/defaults/more", v.project)),
    ];
    for url in &unbuilt {
        v.s.get(url, "").await.assert_unauthorized();
        v.s.get(url, "not-a-token").await.assert_unauthorized();
        for token in [&admin, &member] {
            let r = v.s.get(url, token).await;
            let message = assert_fault(&r, 501, "notImplemented");
            assert!(message.contains("not implemented"), "{message}");
        }
    }
    let create = v.url(&format!("/{}/groups", v.project));
    let body = json!({"group": {"volume_types": ["x"]}});
    v.s.send(Method::POST, &create, "", body.clone())
        .await
        .assert_unauthorized();
    let r = v.s.send(Method::POST, &create, &member, body).await;
    assert_fault(&r, 501, "notImplemented");
    // Volumes answer now, and anonymous callers still get 401.
    let volumes = v.url(&format!("/{}/volumes/abc", v.project));
    v.s.send(Method::DELETE, &volumes, "", json!({}))
        .await
        .assert_unauthorized();
    assert_fault(&v.s.get(&volumes, &member).await, 404, "itemNotFound");
}

#[tokio::test]
async fn discovery_stays_public_beside_the_catch_all() {
    let v = start().await;
    let versions = v.s.get(&format!("{}/", v.root), "").await;
    assert_eq!(versions.status, 300);
    assert_eq!(v.s.get(&v.url("/"), "").await.status, 200);
}
