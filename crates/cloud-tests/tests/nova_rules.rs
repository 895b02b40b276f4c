//! Nova's rules that Tempest and other clients found ferrostack breaking:
//! a flavor id sent as a JSON number, the `adminPass` a create or rebuild
//! asked for coming back, `all_tenants` being admin-only, server names
//! refused when they carry unprintable characters, the smaller view Nova
//! answers an update or a rebuild with before 2.75, and the list filters
//! (`is_public` spellings, `project_id` only with `all_tenants`, unknown
//! statuses before and after 2.38).

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, Compute};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const V: &str = "2.96";

async fn call(
    c: &Compute,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> ferrostack_testkit::Reply {
    c.at(method, path, token, V, body).await
}

async fn boot(c: &Compute, token: &str, image: &str, extra: Value) -> ferrostack_testkit::Reply {
    let mut server = json!({"name": "vm", "imageRef": image, "flavorRef": "1", "networks": "none"});
    for (k, v) in extra.as_object().unwrap() {
        server[k] = v.clone();
    }
    call(
        c,
        Method::POST,
        "/servers",
        token,
        Some(json!({ "server": server })),
    )
    .await
}

async fn wait_active(c: &Compute, token: &str, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = call(c, Method::GET, &format!("/servers/{id}"), token, None).await;
        let s = &r.body["server"];
        if s["status"] == "ACTIVE" && s["OS-EXT-STS:task_state"].is_null() {
            return;
        }
        assert!(Instant::now() < deadline, "{id} never became ACTIVE: {s}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_flavor_id_sent_as_a_number_is_kept_as_its_digits() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let r = call(
        &c,
        Method::POST,
        "/flavors",
        &p.admin,
        Some(json!({"flavor": {"name": "num", "id": 869970517, "vcpus": 1, "ram": 64, "disk": 0}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["flavor"]["id"], "869970517");
    let r = call(&c, Method::GET, "/flavors/869970517", &p.admin, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["flavor"]["name"], "num");
}

#[tokio::test]
async fn the_is_public_filter_takes_every_spelling_of_a_boolean() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let r = call(
        &c,
        Method::POST,
        "/flavors",
        &p.admin,
        Some(
            json!({"flavor": {"name": "private", "vcpus": 1, "ram": 64, "disk": 0,
                               "os-flavor-access:is_public": false}}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let names = |r: &ferrostack_testkit::Reply| -> Vec<String> {
        r.body["flavors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect()
    };
    for (word, expect) in [
        ("f", vec!["private"]),
        ("No", vec!["private"]),
        ("0", vec!["private"]),
        ("t", vec![]),
        ("YES", vec![]),
        ("on", vec![]),
    ] {
        let r = call(
            &c,
            Method::GET,
            &format!("/flavors?is_public={word}"),
            &p.admin,
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{word}: {}", r.body);
        assert_eq!(names(&r), expect, "{word}");
    }
    let r = call(
        &c,
        Method::GET,
        "/flavors?is_public=perhaps",
        &p.admin,
        None,
    )
    .await;
    assert_fault(&r, 400, "badRequest");
}

#[tokio::test]
async fn the_admin_pass_asked_for_is_the_one_answered() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let r = call(
        &c,
        Method::POST,
        "/flavors",
        &p.admin,
        Some(json!({"flavor": {"name": "f1", "id": "1", "vcpus": 1, "ram": 64, "disk": 1}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let image = c.image(&c.project, "qcow2");
    c.start_fake_agent("host-1", None);

    let r = boot(&c, &p.member, &image, json!({"adminPass": "Chosen-Pass-1"})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["server"]["adminPass"], "Chosen-Pass-1");
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_active(&c, &p.member, &id).await;

    let r = call(
        &c,
        Method::POST,
        &format!("/servers/{id}/action"),
        &p.member,
        Some(json!({"rebuild": {"imageRef": image, "adminPass": "Rebuilt-Pass-2"}})),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["server"]["adminPass"], "Rebuilt-Pass-2");

    // Not a string: 400, and the value is not quoted back.
    let r = boot(&c, &p.member, &image, json!({"adminPass": 12345678})).await;
    let m = assert_fault(&r, 400, "badRequest");
    assert!(!m.contains("12345678"), "{m}");
}

#[tokio::test]
async fn all_tenants_is_for_admins_only() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    for path in [
        "/servers?all_tenants=1",
        "/servers/detail?all_tenants=1",
        "/servers/detail?all_tenants",
    ] {
        let r = call(&c, Method::GET, path, &p.member, None).await;
        let m = assert_fault(&r, 403, "forbidden");
        assert!(m.contains("get_all_tenants"), "{path}: {m}");
        let r = call(&c, Method::GET, path, &p.admin, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    // A false value is no request for all projects.
    let r = call(
        &c,
        Method::GET,
        "/servers/detail?all_tenants=false",
        &p.member,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call(
        &c,
        Method::GET,
        "/servers?all_tenants=maybe",
        &p.admin,
        None,
    )
    .await;
    assert_fault(&r, 400, "badRequest");
}

#[tokio::test]
async fn server_names_with_unprintable_characters_are_400_and_create_nothing() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let r = call(
        &c,
        Method::POST,
        "/flavors",
        &p.admin,
        Some(json!({"flavor": {"name": "f1", "id": "1", "vcpus": 1, "ram": 64, "disk": 1}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let image = c.image(&c.project, "qcow2");
    c.start_fake_agent("host-1", None);
    for name in ["nul\u{0}", "bell\u{7}", "gnp.exe\u{202e}", "a\u{2029}b"] {
        let r = boot(&c, &p.member, &image, json!({ "name": name })).await;
        let m = assert_fault(&r, 400, "badRequest");
        assert!(m.contains("printable"), "{name:?}: {m}");
    }
    let list = call(&c, Method::GET, "/servers", &p.member, None).await;
    assert_eq!(list.body["servers"], json!([]), "nothing created");

    let r = boot(&c, &p.member, &image, json!({"name": "ok"})).await;
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let r = call(
        &c,
        Method::PUT,
        &format!("/servers/{id}"),
        &p.member,
        Some(json!({"server": {"name": "x\u{202e}y"}})),
    )
    .await;
    assert_fault(&r, 400, "badRequest");
}

#[tokio::test]
async fn update_and_rebuild_answer_novas_smaller_view_before_2_75() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let r = call(
        &c,
        Method::POST,
        "/flavors",
        &p.admin,
        Some(json!({"flavor": {"name": "f1", "id": "1", "vcpus": 1, "ram": 64, "disk": 1}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let image = c.image(&c.project, "qcow2");
    c.start_fake_agent("host-1", None);
    let r = boot(&c, &p.member, &image, json!({})).await;
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    wait_active(&c, &p.member, &id).await;

    let hidden = [
        "OS-EXT-STS:vm_state",
        "OS-EXT-AZ:availability_zone",
        "config_drive",
        "key_name",
        "OS-SRV-USG:launched_at",
        "os-extended-volumes:volumes_attached",
    ];
    for version in ["2.1", "2.74"] {
        let r = c
            .at(
                Method::PUT,
                &format!("/servers/{id}"),
                &p.member,
                version,
                Some(json!({"server": {"name": "renamed"}})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        for key in hidden {
            assert!(
                r.body["server"].get(key).is_none(),
                "{version}: {key} in {}",
                r.body
            );
        }
        assert_eq!(r.body["server"]["name"], "renamed");
    }
    let r = c
        .at(
            Method::PUT,
            &format!("/servers/{id}"),
            &p.member,
            "2.75",
            Some(json!({"server": {}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for key in hidden {
        assert!(
            r.body["server"].get(key).is_some(),
            "2.75: {key} missing in {}",
            r.body
        );
    }

    // A rebuild shows key_name from 2.54 and user_data from 2.57.
    let r = c
        .at(
            Method::POST,
            &format!("/servers/{id}/action"),
            &p.member,
            "2.57",
            Some(json!({"rebuild": {"imageRef": image, "user_data": "ZWNobw=="}})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let s = &r.body["server"];
    assert!(s.get("key_name").is_some(), "{s}");
    assert_eq!(s["user_data"], "ZWNobw==");
    assert!(s.get("OS-EXT-STS:vm_state").is_none(), "{s}");
    assert!(s["adminPass"].is_string());

    // From 2.75 an admin's rebuild shows the extended attributes, the user
    // data as `user_data` only (Nova's rebuild view leaves out
    // `OS-EXT-SRV-ATTR:user_data`, and clients' schemas refuse it).
    wait_active(&c, &p.member, &id).await;
    let r = c
        .at(
            Method::POST,
            &format!("/servers/{id}/action"),
            &p.admin,
            "2.75",
            Some(json!({"rebuild": {"imageRef": image, "user_data": "ZWNobw=="}})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let s = &r.body["server"];
    assert_eq!(s["user_data"], "ZWNobw==");
    assert!(s.get("OS-EXT-SRV-ATTR:user_data").is_none(), "{s}");
    assert!(s.get("OS-EXT-SRV-ATTR:host").is_some(), "{s}");

    // Deferred delete: a server that is not soft-deleted (and with
    // immediate deletes none is) cannot be restored or force-deleted.
    wait_active(&c, &p.member, &id).await;
    for action in ["restore", "forceDelete"] {
        let r = c
            .at(
                Method::POST,
                &format!("/servers/{id}/action"),
                &p.member,
                "2.1",
                Some(json!({ action: null })),
            )
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        let message = r.body["conflictingRequest"]["message"].as_str().unwrap();
        assert_eq!(
            message,
            format!("Cannot '{action}' instance {id} while it is in vm_state active")
        );
    }
    let r = call(&c, Method::GET, &format!("/servers/{id}"), &p.member, None).await;
    assert_eq!(r.body["server"]["status"], "ACTIVE", "{}", r.body);
}

#[tokio::test]
async fn project_filters_need_all_tenants_and_unknown_statuses_follow_2_38() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let r = call(
        &c,
        Method::POST,
        "/flavors",
        &p.admin,
        Some(json!({"flavor": {"name": "f1", "id": "1", "vcpus": 1, "ram": 64, "disk": 1}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let other = c.s.project("other");
    let stranger = c.s.user_token("stranger", &other, "member").await;
    let image = c.image(&other, "qcow2");
    c.start_fake_agent("host-1", None);
    let r = boot(&c, &stranger, &image, json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let count = |r: &ferrostack_testkit::Reply| r.body["servers"].as_array().unwrap().len();
    // The admin's own project has no server: `tenant_id` alone is ignored.
    for q in [format!("tenant_id={other}"), format!("project_id={other}")] {
        let r = call(
            &c,
            Method::GET,
            &format!("/servers/detail?{q}"),
            &p.admin,
            None,
        )
        .await;
        assert_eq!(count(&r), 0, "{q}: {}", r.body);
        let path = format!("/servers/detail?all_tenants=&{q}");
        let r = call(&c, Method::GET, &path, &p.admin, None).await;
        assert_eq!(count(&r), 1, "{q} with all_tenants: {}", r.body);
    }
    let r = c
        .at(
            Method::GET,
            "/servers?status=nonsense",
            &p.admin,
            "2.37",
            None,
        )
        .await;
    assert_eq!((r.status, count(&r)), (200, 0), "{}", r.body);
    let r = c
        .at(
            Method::GET,
            "/servers?status=nonsense",
            &p.admin,
            "2.38",
            None,
        )
        .await;
    assert_fault(&r, 400, "badRequest");
}
