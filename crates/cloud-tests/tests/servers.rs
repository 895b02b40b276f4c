//! Servers through HTTP, driven end to end through the real host link and
//! host agent over the fake hypervisor: boot to ACTIVE, the power
//! actions, lock, resize with confirm and revert, delete releasing quota
//! and placement, quota refusals, scheduling failures, project isolation
//! and bad input answered in Nova's shape with nothing created.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, Compute};
use ferrostack_store::placement::PlacementStore;
use ferrostack_testkit::Reply;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const V: &str = "2.96";

impl Compute {
    async fn call_at(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
        self.at(method, path, token, V, body).await
    }

    async fn flavor(&self, admin: &str, id: &str, vcpus: i64, ram: i64, disk: i64) {
        let r = self
            .call_at(
                Method::POST,
                "/flavors",
                admin,
                Some(json!({"flavor": {"name": format!("f{id}"), "id": id, "vcpus": vcpus, "ram": ram, "disk": disk}})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }

    async fn boot(&self, token: &str, image: &str, flavor: &str, extra: Value) -> Reply {
        let mut server =
            json!({"name": "vm", "imageRef": image, "flavorRef": flavor, "networks": "none"});
        for (k, v) in extra.as_object().unwrap() {
            server[k] = v.clone();
        }
        self.call_at(
            Method::POST,
            "/servers",
            token,
            Some(json!({ "server": server })),
        )
        .await
    }

    async fn server(&self, token: &str, id: &str) -> Value {
        let r = self
            .call_at(Method::GET, &format!("/servers/{id}"), token, None)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["server"].clone()
    }

    async fn wait_status(&self, token: &str, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.server(token, id).await;
            if s["status"] == status && s["OS-EXT-STS:task_state"].is_null() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "server {id} never reached {status}: {s}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn act(&self, token: &str, id: &str, body: Value) -> Reply {
        self.call_at(
            Method::POST,
            &format!("/servers/{id}/action"),
            token,
            Some(body),
        )
        .await
    }

    fn usage(&self) -> Value {
        use ferrostack_quota::COMPUTE;
        json!(self.s.quotas.usage(&COMPUTE, &self.project).unwrap())
    }
}

struct World {
    c: Compute,
    admin: String,
    member: String,
    reader: String,
    image: String,
}

async fn world() -> World {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    c.flavor(&p.admin, "1", 1, 256, 1).await;
    c.flavor(&p.admin, "2", 2, 512, 2).await;
    let image = c.image(&c.project, "qcow2");
    c.start_fake_agent("host-1", None);
    World {
        admin: p.admin,
        member: p.member,
        reader: p.reader,
        image,
        c,
    }
}

#[tokio::test]
async fn a_server_boots_to_active_and_its_delete_releases_everything() {
    let w = world().await;
    let r =
        w.c.boot(&w.member, &w.image, "1", json!({"metadata": {"k": "v"}}))
            .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    assert!(r.body["server"]["adminPass"].is_string());
    let s = w.c.wait_status(&w.member, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 1);
    assert_eq!(s["OS-EXT-STS:vm_state"], "active");
    assert_eq!(s["metadata"], json!({"k": "v"}));
    assert_eq!(s["flavor"]["vcpus"], 1);
    assert_eq!(s["flavor"]["original_name"], "f1");
    assert_eq!(s["image"]["id"], w.image.as_str());
    assert!(s["OS-SRV-USG:launched_at"].is_string());
    assert_eq!(s["hostId"].as_str().unwrap().len(), 56);
    assert!(
        s.get("OS-EXT-SRV-ATTR:host").is_none(),
        "members do not see hosts"
    );
    let admin_view = w.c.server(&w.admin, &id).await;
    assert_eq!(admin_view["OS-EXT-SRV-ATTR:host"], "host-1");

    let usage = w.c.usage();
    assert_eq!(
        (
            usage["instances"].clone(),
            usage["cores"].clone(),
            usage["ram"].clone()
        ),
        (json!(1), json!(1), json!(256))
    );
    let provider = w.c.s.store.provider_summary("host-1").unwrap();
    assert_eq!(provider.used("VCPU"), 1);

    let list =
        w.c.call_at(Method::GET, "/servers/detail", &w.member, None)
            .await;
    assert_eq!(list.body["servers"].as_array().unwrap().len(), 1);

    let r =
        w.c.call_at(Method::DELETE, &format!("/servers/{id}"), &w.member, None)
            .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r =
            w.c.call_at(Method::GET, &format!("/servers/{id}"), &w.member, None)
                .await;
        if r.status == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "never deleted: {}", r.body);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let usage = w.c.usage();
    assert_eq!(usage["instances"], 0, "{usage}");
    assert_eq!(usage["cores"], 0);
    assert_eq!(
        w.c.s.store.provider_summary("host-1").unwrap().used("VCPU"),
        0
    );
    let actions =
        w.c.call_at(
            Method::GET,
            &format!("/servers/{id}/os-instance-actions"),
            &w.admin,
            None,
        )
        .await;
    assert_eq!(actions.status, 200, "{}", actions.body);
    let mut names: Vec<_> = actions.body["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["create", "delete"]);
    assert!(
        actions.body["instanceActions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["message"].is_null()),
        "both succeeded: {}",
        actions.body
    );
}

#[tokio::test]
async fn power_actions_move_through_novas_states_and_wrong_states_are_409() {
    let w = world().await;
    let r = w.c.boot(&w.member, &w.image, "1", json!({})).await;
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    w.c.wait_status(&w.member, &id, "ACTIVE").await;

    let r = w.c.act(&w.member, &id, json!({"os-start": null})).await;
    let m = assert_fault(&r, 409, "conflictingRequest");
    assert!(m.contains("vm_state active"), "{m}");

    for (action, status) in [
        (json!({"os-stop": null}), "SHUTOFF"),
        (json!({"os-start": null}), "ACTIVE"),
        (json!({"reboot": {"type": "HARD"}}), "ACTIVE"),
        (json!({"reboot": {"type": "SOFT"}}), "ACTIVE"),
        (json!({"pause": null}), "PAUSED"),
        (json!({"unpause": null}), "ACTIVE"),
        (json!({"suspend": null}), "SUSPENDED"),
        (json!({"resume": null}), "ACTIVE"),
    ] {
        let r = w.c.act(&w.member, &id, action.clone()).await;
        assert_eq!(r.status, 202, "{action}: {}", r.body);
        let s = w.c.wait_status(&w.member, &id, status).await;
        assert_eq!(s["status"], status, "{action}");
    }
    let s = w.c.server(&w.member, &id).await;
    assert_eq!(s["OS-EXT-STS:power_state"], 1);

    let r =
        w.c.act(&w.member, &id, json!({"reboot": {"type": "SIDEWAYS"}}))
            .await;
    assert_fault(&r, 400, "badRequest");
    let r = w.c.act(&w.member, &id, json!({"shelve": null})).await;
    assert_fault(&r, 501, "notImplemented");
}

#[tokio::test]
async fn a_locked_server_refuses_its_owner_but_not_an_admin() {
    let w = world().await;
    let r = w.c.boot(&w.member, &w.image, "1", json!({})).await;
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    w.c.wait_status(&w.member, &id, "ACTIVE").await;
    let r =
        w.c.act(
            &w.admin,
            &id,
            json!({"lock": {"locked_reason": "maintenance"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let s = w.c.server(&w.member, &id).await;
    assert_eq!(
        (s["locked"].clone(), s["locked_reason"].clone()),
        (json!(true), json!("maintenance"))
    );
    let r = w.c.act(&w.member, &id, json!({"os-stop": null})).await;
    let m = assert_fault(&r, 409, "conflictingRequest");
    assert!(m.contains("is locked"), "{m}");
    let r =
        w.c.call_at(Method::DELETE, &format!("/servers/{id}"), &w.member, None)
            .await;
    assert_fault(&r, 409, "conflictingRequest");
    let r = w.c.act(&w.member, &id, json!({"unlock": null})).await;
    assert_fault(&r, 403, "forbidden");
    let r = w.c.act(&w.admin, &id, json!({"os-stop": null})).await;
    assert_eq!(r.status, 202);
    w.c.wait_status(&w.member, &id, "SHUTOFF").await;
}

#[tokio::test]
async fn resize_confirms_and_reverts_with_quota_and_placement_following() {
    let w = world().await;
    let r = w.c.boot(&w.member, &w.image, "1", json!({})).await;
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    w.c.wait_status(&w.member, &id, "ACTIVE").await;

    let r =
        w.c.act(&w.member, &id, json!({"resize": {"flavorRef": "1"}}))
            .await;
    assert_fault(&r, 400, "badRequest");
    let r =
        w.c.act(&w.member, &id, json!({"resize": {"flavorRef": "2"}}))
            .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let s = w.c.wait_status(&w.member, &id, "VERIFY_RESIZE").await;
    assert_eq!(s["flavor"]["vcpus"], 2);
    assert_eq!(w.c.usage()["cores"], 2, "the new flavor's cores are held");
    assert_eq!(
        w.c.s.store.provider_summary("host-1").unwrap().used("VCPU"),
        2
    );

    let r = w.c.act(&w.member, &id, json!({"revertResize": null})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let s = w.c.wait_status(&w.member, &id, "ACTIVE").await;
    assert_eq!(s["flavor"]["vcpus"], 1);
    assert_eq!(w.c.usage()["cores"], 1);
    assert_eq!(
        w.c.s.store.provider_summary("host-1").unwrap().used("VCPU"),
        1
    );

    let r =
        w.c.act(&w.member, &id, json!({"resize": {"flavorRef": "2"}}))
            .await;
    assert_eq!(r.status, 202, "{}", r.body);
    w.c.wait_status(&w.member, &id, "VERIFY_RESIZE").await;
    let r =
        w.c.act(&w.member, &id, json!({"confirmResize": null}))
            .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let s = w.c.wait_status(&w.member, &id, "ACTIVE").await;
    assert_eq!(s["flavor"]["vcpus"], 2);
    assert_eq!(w.c.usage()["cores"], 2);
    assert_eq!(
        w.c.s.store.provider_summary("host-1").unwrap().used("VCPU"),
        2
    );
    let r =
        w.c.act(&w.member, &id, json!({"confirmResize": null}))
            .await;
    assert_fault(&r, 409, "conflictingRequest");
}

#[tokio::test]
async fn quota_is_enforced_per_project_and_nothing_is_left_behind() {
    let w = world().await;
    let r =
        w.c.call_at(
            Method::PUT,
            &format!("/os-quota-sets/{}", w.c.project),
            &w.admin,
            Some(json!({"quota_set": {"cores": 2}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = w.c.boot(&w.member, &w.image, "2", json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = w.c.boot(&w.member, &w.image, "1", json!({})).await;
    let m = assert_fault(&r, 403, "forbidden");
    assert!(
        m.starts_with("Quota exceeded for cores: Requested 1, but already used 2 of 2 cores"),
        "{m}"
    );
    let list = w.c.call_at(Method::GET, "/servers", &w.member, None).await;
    assert_eq!(
        list.body["servers"].as_array().unwrap().len(),
        1,
        "nothing half-created"
    );
    // min_count 1, max_count 3 of a 1-core flavor with 0 cores left: refused.
    let r =
        w.c.boot(
            &w.member,
            &w.image,
            "1",
            json!({"min_count": 1, "max_count": 3}),
        )
        .await;
    assert_fault(&r, 403, "forbidden");
}

#[tokio::test]
async fn multi_create_takes_what_quota_allows_down_to_min_count() {
    let w = world().await;
    let r =
        w.c.call_at(
            Method::PUT,
            &format!("/os-quota-sets/{}", w.c.project),
            &w.admin,
            Some(json!({"quota_set": {"instances": 2}})),
        )
        .await;
    assert_eq!(r.status, 200);
    let r =
        w.c.boot(
            &w.member,
            &w.image,
            "1",
            json!({"min_count": 1, "max_count": 5}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let list =
        w.c.call_at(Method::GET, "/servers/detail", &w.member, None)
            .await;
    let servers = list.body["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2);
    let mut names: Vec<_> = servers
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["vm-1", "vm-2"]);
    assert_eq!(w.c.usage()["instances"], 2);
}

#[tokio::test]
async fn no_room_anywhere_is_an_error_server_with_novas_fault() {
    let w = world().await;
    w.c.flavor(&w.admin, "big", 64, 1 << 20, 1).await;
    let r =
        w.c.call_at(
            Method::PUT,
            &format!("/os-quota-sets/{}", w.c.project),
            &w.admin,
            Some(json!({"quota_set": {"cores": -1, "ram": -1}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = w.c.boot(&w.member, &w.image, "big", json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = w.c.server(&w.member, &id).await;
    assert_eq!(s["status"], "ERROR");
    assert!(
        s["fault"]["message"]
            .as_str()
            .unwrap()
            .starts_with("No valid host was found."),
        "{s}"
    );
    assert_eq!(s["fault"]["code"], 500);
    let r =
        w.c.call_at(Method::DELETE, &format!("/servers/{id}"), &w.member, None)
            .await;
    assert_eq!(r.status, 204);
    assert_eq!(w.c.usage()["instances"], 0);
}

#[tokio::test]
async fn another_projects_server_is_not_found_and_bad_input_creates_nothing() {
    let w = world().await;
    let r = w.c.boot(&w.member, &w.image, "1", json!({})).await;
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let other_project = w.c.s.project("other");
    let other_member = w.c.s.user_token("stranger", &other_project, "member").await;
    for (method, path, body) in [
        (Method::GET, format!("/servers/{id}"), None),
        (Method::DELETE, format!("/servers/{id}"), None),
        (
            Method::POST,
            format!("/servers/{id}/action"),
            Some(json!({"os-stop": null})),
        ),
        (Method::GET, format!("/servers/{id}/metadata"), None),
    ] {
        let r = w.c.call_at(method, &path, &other_member, body).await;
        let m = assert_fault(&r, 404, "itemNotFound");
        assert_eq!(m, format!("Instance {id} could not be found."));
    }
    let list =
        w.c.call_at(Method::GET, "/servers", &other_member, None)
            .await;
    assert_eq!(list.body["servers"], json!([]));
    let r =
        w.c.call_at(Method::POST, "/servers", &w.reader, Some(json!({})))
            .await;
    assert_fault(&r, 403, "forbidden");

    let before = w.c.usage();
    let bad: Vec<(Value, &str)> = vec![
        (json!({"networks": "auto"}), "network service"),
        (json!({"networks": [{"uuid": "x"}]}), "is not a 'uuid'"),
        (
            json!({"networks": [{"uuid": "4a1ab5c7-5d2f-4b4e-9f58-1b8f4c9d0a11"}]}),
            "network service",
        ),
        (
            json!({"flavorRef": "nope"}),
            "Flavor nope could not be found.",
        ),
        (
            json!({"imageRef": "4a1ab5c7-5d2f-4b4e-9f58-1b8f4c9d0a11"}),
            "could not be found",
        ),
        (json!({"key_name": "missing"}), "Invalid key_name provided."),
        (json!({"name": ""}), "name"),
        (json!({"user_data": "%%%"}), "user_data"),
        (json!({"min_count": 0}), "min_count"),
        (
            json!({"availability_zone": "elsewhere"}),
            "availability zone is not available",
        ),
        (
            json!({"block_device_mapping_v2": [{"source_type": "volume", "destination_type": "volume", "uuid": "v", "boot_index": 0}]}),
            "failed to get volume v",
        ),
    ];
    for (extra, needle) in bad {
        let r = w.c.boot(&w.member, &w.image, "1", extra.clone()).await;
        let m = assert_fault(&r, 400, "badRequest");
        assert!(m.contains(needle), "{extra}: {m}");
    }
    let mut body = json!({"server": {"name": "x", "imageRef": w.image, "flavorRef": "1"}});
    let r =
        w.c.call_at(Method::POST, "/servers", &w.member, Some(body.take()))
            .await;
    let m = assert_fault(&r, 400, "badRequest");
    assert!(m.contains("'networks' is a required property"), "{m}");
    assert_eq!(w.c.usage(), before, "no quota taken by refused boots");
    let list = w.c.call_at(Method::GET, "/servers", &w.member, None).await;
    assert_eq!(list.body["servers"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn metadata_and_update_round_trip() {
    let w = world().await;
    let r =
        w.c.boot(&w.member, &w.image, "1", json!({"metadata": {"a": "1"}}))
            .await;
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let path = format!("/servers/{id}/metadata");
    let r =
        w.c.call_at(
            Method::POST,
            &path,
            &w.member,
            Some(json!({"metadata": {"b": "2"}})),
        )
        .await;
    assert_eq!(r.body["metadata"], json!({"a": "1", "b": "2"}));
    let r =
        w.c.call_at(
            Method::PUT,
            &format!("{path}/c"),
            &w.member,
            Some(json!({"meta": {"c": "3"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r =
        w.c.call_at(Method::DELETE, &format!("{path}/a"), &w.member, None)
            .await;
    assert_eq!(r.status, 204);
    let r =
        w.c.call_at(Method::DELETE, &format!("{path}/a"), &w.member, None)
            .await;
    assert_fault(&r, 404, "itemNotFound");
    let r = w.c.call_at(Method::GET, &path, &w.member, None).await;
    assert_eq!(r.body["metadata"], json!({"b": "2", "c": "3"}));
    let r =
        w.c.call_at(
            Method::PUT,
            &format!("/servers/{id}"),
            &w.member,
            Some(json!({"server": {"name": "renamed", "description": "d"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["server"]["name"], "renamed");
    assert_eq!(r.body["server"]["description"], "d");
    let r =
        w.c.call_at(Method::GET, "/servers?name=renam", &w.member, None)
            .await;
    assert_eq!(r.body["servers"].as_array().unwrap().len(), 1);
    let r =
        w.c.call_at(Method::GET, "/servers?status=SHUTOFF", &w.member, None)
            .await;
    assert_eq!(r.body["servers"], json!([]));
}

#[tokio::test]
async fn rebuild_recreates_the_disk_from_a_new_image_and_keeps_the_server() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    c.flavor(&p.admin, "1", 1, 256, 1).await;
    let (first, second) = (c.image(&c.project, "qcow2"), c.image(&c.project, "raw"));
    let hv = c.start_fake_agent("host-1", None);
    let r = c.boot(&p.member, &first, "1", json!({})).await;
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    c.wait_status(&p.member, &id, "ACTIVE").await;
    use ferrostack_hypervisor::Hypervisor;
    let uuid = uuid::Uuid::parse_str(&id).unwrap();
    let pid_before = hv.state(uuid).await.unwrap().pid;
    let r = c
        .act(
            &p.member,
            &id,
            json!({"rebuild": {"imageRef": second, "name": "rebuilt"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["server"]["status"], "REBUILD");
    let s = c.wait_status(&p.member, &id, "ACTIVE").await;
    assert_eq!(
        (s["image"]["id"].as_str(), s["name"].as_str()),
        (Some(second.as_str()), Some("rebuilt"))
    );
    let pid_after = hv.state(uuid).await.unwrap().pid;
    assert_ne!(pid_before, pid_after, "a new VM, not the old one");
    assert_eq!(c.usage()["instances"], 1, "still one server");
    let r = c
        .act(&p.member, &id, json!({"rebuild": {"imageRef": "nope"}}))
        .await;
    assert_fault(&r, 400, "badRequest");
}

#[tokio::test]
async fn a_spawn_that_keeps_failing_ends_in_error_with_a_fault_and_leaks_nothing() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    c.flavor(&p.admin, "1", 1, 256, 1).await;
    let image = c.image(&c.project, "qcow2");
    let hv = c.start_fake_agent("host-1", None);
    hv.fail_next(ferrostack_hypervisor::Operation::Spawn, 10);
    let r = c.boot(&p.member, &image, "1", json!({})).await;
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = c.wait_status(&p.member, &id, "ERROR").await;
    assert!(!s["fault"]["message"].as_str().unwrap().is_empty(), "{s}");
    let r = c
        .call_at(Method::DELETE, &format!("/servers/{id}"), &p.member, None)
        .await;
    assert_eq!(r.status, 204);
    let deadline = Instant::now() + Duration::from_secs(10);
    while c
        .call_at(Method::GET, &format!("/servers/{id}"), &p.member, None)
        .await
        .status
        != 404
    {
        assert!(Instant::now() < deadline, "never deleted");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(c.usage()["instances"], 0);
    assert_eq!(
        c.s.store.provider_summary("host-1").unwrap().used("VCPU"),
        0
    );
}

#[tokio::test]
async fn an_aggregate_zone_is_where_the_scheduler_and_the_server_view_put_its_host() {
    let w = world().await;
    let body = json!({"aggregate": {"name": "a1", "availability_zone": "az1"}});
    let r =
        w.c.call_at(Method::POST, "/os-aggregates", &w.admin, Some(body))
            .await;
    let path = format!("/os-aggregates/{}/action", r.body["aggregate"]["id"]);
    let add = Some(json!({"add_host": {"host": "host-1"}}));
    let r = w.c.call_at(Method::POST, &path, &w.admin, add).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // No zone asked: the server is in its host's zone.
    let r = w.c.boot(&w.member, &w.image, "1", json!({})).await;
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = w.c.wait_status(&w.member, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-AZ:availability_zone"], "az1");
    // The aggregate's zone is one a create may ask for; the host's old one is gone.
    let r =
        w.c.boot(
            &w.member,
            &w.image,
            "1",
            json!({"availability_zone": "az1"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    w.c.wait_status(&w.member, &id, "ACTIVE").await;
    let r =
        w.c.boot(
            &w.member,
            &w.image,
            "1",
            json!({"availability_zone": "nova"}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
}
