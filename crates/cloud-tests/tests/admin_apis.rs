//! Services, hypervisors and availability zones through HTTP, over
//! services, placement providers and servers stored directly as
//! fixtures: who may call them, their shapes per microversion, and a
//! service disabled through `os-services` showing in the hypervisor and
//! zone views.

#![allow(clippy::unwrap_used)]

mod common;

use common::fixtures::VM;
use common::{assert_fault, keys, Compute};
use ferrostack_store::server::ServerStore;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn admin_apis_are_forbidden_to_everyone_else() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let svc = c.service("host1", "nova", 0);
    for token in [&p.member, &p.reader, &p.outsider] {
        for path in [
            "/os-services".to_string(),
            "/os-hypervisors".into(),
            "/os-hypervisors/detail".into(),
            "/os-hypervisors/statistics".into(),
            format!("/os-hypervisors/{}", svc.id),
            "/os-availability-zone/detail".into(),
        ] {
            let r = c.at(Method::GET, &path, token, "", None).await;
            assert_fault(&r, 403, "forbidden");
        }
        let path = format!("/os-services/{}", svc.uuid);
        let body = Some(json!({"status": "disabled"}));
        let r = c.at(Method::PUT, &path, token, "2.53", body).await;
        assert_fault(&r, 403, "forbidden");
        let r = c.at(Method::DELETE, &path, token, "2.53", None).await;
        assert_fault(&r, 403, "forbidden");
        // Anyone lists the zones.
        let r = c
            .at(Method::GET, "/os-availability-zone", token, "", None)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

#[tokio::test]
async fn services_show_ids_state_and_forced_down_by_microversion() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let fresh = c.service("host1", "nova", 5);
    c.service("host2", "nova", 300);
    let r = c.at(Method::GET, "/os-services", &admin, "", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let s = &r.body["services"][0];
    assert_eq!(
        keys(s),
        [
            "binary",
            "disabled_reason",
            "host",
            "id",
            "state",
            "status",
            "updated_at",
            "zone"
        ]
    );
    assert_eq!(s["id"], json!(fresh.id));
    assert_eq!(
        (s["state"].as_str(), s["status"].as_str()),
        (Some("up"), Some("enabled"))
    );
    assert_eq!(r.body["services"][1]["state"], "down");
    let updated = s["updated_at"].as_str().unwrap();
    assert!(updated.len() == 26 && updated.contains('T'), "{updated}");
    let r = c
        .at(Method::GET, "/os-services", &admin, "2.11", None)
        .await;
    assert_eq!(r.body["services"][0]["forced_down"], false);
    let r = c
        .at(Method::GET, "/os-services?host=host2", &admin, "2.53", None)
        .await;
    assert_eq!(r.body["services"].as_array().unwrap().len(), 1);
    assert!(r.body["services"][0]["id"].as_str().unwrap().contains('-'));
    let r = c
        .at(
            Method::GET,
            "/os-services?binary=nova-scheduler",
            &admin,
            "",
            None,
        )
        .await;
    assert_eq!(r.body["services"], json!([]));
}

#[tokio::test]
async fn disabling_a_service_shows_in_hypervisors_and_zones() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let svc = c.service("host1", "az1", 0);
    let path = format!("/os-services/{}", svc.uuid);
    let body = json!({"status": "disabled", "disabled_reason": "maintenance"});
    let r = c.at(Method::PUT, &path, &admin, "2.53", Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["service"]["status"], "disabled");
    assert_eq!(r.body["service"]["disabled_reason"], "maintenance");
    let hyp = format!("/os-hypervisors/{}", svc.uuid);
    let r = c.at(Method::GET, &hyp, &admin, "2.53", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["hypervisor"]["status"], "disabled");
    assert_eq!(
        r.body["hypervisor"]["service"]["disabled_reason"],
        "maintenance"
    );
    let zones = c
        .at(Method::GET, "/os-availability-zone", &admin, "", None)
        .await;
    assert_eq!(
        zones.body["availabilityZoneInfo"],
        json!([{"zoneName": "az1", "zoneState": {"available": false}, "hosts": null}])
    );
    // Enable again, then force down: up/down follows.
    let r = c
        .at(
            Method::PUT,
            &path,
            &admin,
            "2.53",
            Some(json!({"status": "enabled"})),
        )
        .await;
    assert_eq!(r.body["service"]["disabled_reason"], Value::Null);
    let r = c
        .at(
            Method::PUT,
            &path,
            &admin,
            "2.53",
            Some(json!({"forced_down": true})),
        )
        .await;
    assert_eq!(r.body["service"]["state"], "down");
    let r = c.at(Method::GET, &hyp, &admin, "2.53", None).await;
    assert_eq!(
        (
            r.body["hypervisor"]["status"].as_str(),
            r.body["hypervisor"]["state"].as_str()
        ),
        (Some("enabled"), Some("down"))
    );
}

#[tokio::test]
async fn bad_service_updates_and_deletes_are_refused() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let svc = c.service("host1", "nova", 0);
    let path = format!("/os-services/{}", svc.uuid);
    let put = |path: String, v: &'static str, body: Value| {
        let admin = admin.clone();
        let c = &c;
        async move { c.at(Method::PUT, &path, &admin, v, Some(body)).await }
    };
    let r = put(
        "/os-services/disable".into(),
        "2.52",
        json!({"host": "host1"}),
    )
    .await;
    assert_fault(&r, 501, "notImplemented");
    let r = put(
        "/os-services/nope".into(),
        "2.53",
        json!({"status": "enabled"}),
    )
    .await;
    assert_eq!(assert_fault(&r, 400, "badRequest"), "Invalid uuid nope");
    let other = format!("/os-services/{}", uuid::Uuid::new_v4());
    let r = put(other, "2.53", json!({"status": "enabled"})).await;
    assert_fault(&r, 404, "itemNotFound");
    let r = put(path.clone(), "2.53", json!({"disabled_reason": "x"})).await;
    assert!(assert_fault(&r, 400, "badRequest").starts_with("No updates were requested"));
    let r = put(
        path.clone(),
        "2.53",
        json!({"status": "enabled", "disabled_reason": "x"}),
    )
    .await;
    assert_fault(&r, 400, "badRequest");
    let r = put(path.clone(), "2.53", json!({"status": "off"})).await;
    assert_fault(&r, 400, "badRequest");

    // A host with servers cannot lose its service; the numeric id before 2.53.
    c.busy_host("host1");
    let numeric = format!("/os-services/{}", svc.id);
    let r = c.at(Method::DELETE, &numeric, &admin, "", None).await;
    assert_fault(&r, 409, "conflictingRequest");
    let r = c
        .at(Method::DELETE, "/os-services/x", &admin, "", None)
        .await;
    assert_fault(&r, 400, "badRequest");
    let empty = c.service("host2", "nova", 0);
    let r = c
        .at(
            Method::DELETE,
            &format!("/os-services/{}", empty.uuid),
            &admin,
            "2.53",
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = c.at(Method::GET, "/os-services", &admin, "", None).await;
    assert_eq!(r.body["services"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn hypervisor_views_follow_the_microversion() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let svc = c.service("host1", "nova", 0);
    c.busy_host("host1");
    let r = c.at(Method::GET, "/os-hypervisors", &admin, "", None).await;
    let h = &r.body["hypervisors"][0];
    assert_eq!(keys(h), ["hypervisor_hostname", "id", "state", "status"]);
    assert_eq!(
        (h["id"].clone(), h["hypervisor_hostname"].clone()),
        (json!(svc.id), json!("host1"))
    );

    let r = c
        .at(Method::GET, "/os-hypervisors/detail", &admin, "", None)
        .await;
    let h = &r.body["hypervisors"][0];
    assert_eq!(
        (h["vcpus"].clone(), h["vcpus_used"].clone()),
        (json!(8), json!(2))
    );
    assert_eq!(
        (h["memory_mb"].clone(), h["memory_mb_used"].clone()),
        (json!(16384), json!(2048))
    );
    assert_eq!(
        (h["local_gb"].clone(), h["local_gb_used"].clone()),
        (json!(100), json!(10))
    );
    assert_eq!(
        (h["free_ram_mb"].clone(), h["running_vms"].clone()),
        (json!(14336), json!(1))
    );
    assert_eq!(
        (h["hypervisor_type"].clone(), h["host_ip"].clone()),
        (json!("QEMU"), json!("127.0.0.1"))
    );
    let info: Value = serde_json::from_str(h["cpu_info"].as_str().unwrap()).unwrap();
    assert_eq!(info, json!({"arch": "x86_64", "accelerator": "tcg"}));
    assert_eq!(
        h["service"],
        json!({"id": svc.id, "host": "host1", "disabled_reason": null})
    );

    let show = format!("/os-hypervisors/{}", svc.id);
    let r = c.at(Method::GET, &show, &admin, "2.28", None).await;
    assert_eq!(r.body["hypervisor"]["cpu_info"]["accelerator"], "tcg");
    let r = c
        .at(Method::GET, "/os-hypervisors/x", &admin, "", None)
        .await;
    assert_fault(&r, 404, "itemNotFound");

    let show = format!("/os-hypervisors/{}?with_servers=true", svc.uuid);
    let r = c.at(Method::GET, &show, &admin, "2.53", None).await;
    assert_eq!(r.body["hypervisor"]["id"], json!(svc.uuid));
    assert_eq!(
        r.body["hypervisor"]["servers"],
        json!([{"name": "vm1", "uuid": VM}])
    );
    let r = c
        .at(
            Method::GET,
            &format!("/os-hypervisors/{}", svc.id),
            &admin,
            "2.53",
            None,
        )
        .await;
    assert_fault(&r, 400, "badRequest");

    let r = c
        .at(
            Method::GET,
            &format!("/os-hypervisors/{}", svc.uuid),
            &admin,
            "2.88",
            None,
        )
        .await;
    let h = &r.body["hypervisor"];
    assert_eq!(
        keys(h),
        [
            "host_ip",
            "hypervisor_hostname",
            "hypervisor_type",
            "hypervisor_version",
            "id",
            "service",
            "state",
            "status",
            "uptime"
        ]
    );
    for gone in [
        "/os-hypervisors/statistics".to_string(),
        format!("/os-hypervisors/{}/uptime", svc.uuid),
    ] {
        let r = c.at(Method::GET, &gone, &admin, "2.88", None).await;
        assert_fault(&r, 404, "itemNotFound");
    }
}

#[tokio::test]
async fn searching_paging_statistics_and_uptime() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let one = c.service("compute-a", "nova", 0);
    c.service("compute-b", "nova", 0);
    c.service("other", "nova", 300);
    c.busy_host("compute-a");

    // Before 2.53: the search and servers routes.
    let r = c
        .at(
            Method::GET,
            "/os-hypervisors/compute/search",
            &admin,
            "",
            None,
        )
        .await;
    assert_eq!(r.body["hypervisors"].as_array().unwrap().len(), 2);
    let r = c
        .at(
            Method::GET,
            "/os-hypervisors/compute/servers",
            &admin,
            "",
            None,
        )
        .await;
    assert_eq!(r.body["hypervisors"][0]["servers"][0]["uuid"], VM);
    assert!(
        r.body["hypervisors"][1].get("servers").is_none(),
        "{}",
        r.body
    );
    let r = c
        .at(Method::GET, "/os-hypervisors/zzz/search", &admin, "", None)
        .await;
    assert_fault(&r, 404, "itemNotFound");
    let r = c
        .at(
            Method::GET,
            "/os-hypervisors/compute/search",
            &admin,
            "2.53",
            None,
        )
        .await;
    assert_fault(&r, 404, "itemNotFound");

    // From 2.53: the query parameters; an empty servers list from 2.75.
    let q = "/os-hypervisors?hypervisor_hostname_pattern=compute&with_servers=1";
    let r = c.at(Method::GET, q, &admin, "2.75", None).await;
    assert_eq!(r.body["hypervisors"][1]["servers"], json!([]));
    let r = c
        .at(Method::GET, &format!("{q}&limit=1"), &admin, "2.53", None)
        .await;
    assert_fault(&r, 400, "badRequest");

    // Paging from 2.33.
    let r = c
        .at(Method::GET, "/os-hypervisors?limit=2", &admin, "2.33", None)
        .await;
    assert_eq!(r.body["hypervisors"].as_array().unwrap().len(), 2);
    let next = r.body["hypervisors_links"][0]["href"].as_str().unwrap();
    assert!(next.contains("marker="), "{next}");
    let marker = r.body["hypervisors"][1]["id"].clone();
    let r = c
        .at(
            Method::GET,
            &format!("/os-hypervisors?marker={marker}"),
            &admin,
            "2.33",
            None,
        )
        .await;
    assert_eq!(r.body["hypervisors"][0]["hypervisor_hostname"], "other");
    let r = c
        .at(
            Method::GET,
            "/os-hypervisors?marker=999",
            &admin,
            "2.33",
            None,
        )
        .await;
    assert_fault(&r, 400, "badRequest");

    let r = c
        .at(Method::GET, "/os-hypervisors/statistics", &admin, "", None)
        .await;
    let s = &r.body["hypervisor_statistics"];
    assert_eq!(
        (
            s["count"].clone(),
            s["vcpus"].clone(),
            s["vcpus_used"].clone()
        ),
        (json!(3), json!(24), json!(2))
    );
    assert_eq!(s["running_vms"], 1);

    let r = c
        .at(
            Method::GET,
            &format!("/os-hypervisors/{}/uptime", one.id),
            &admin,
            "",
            None,
        )
        .await;
    assert_fault(&r, 501, "notImplemented");
    // Once the agent reports when the host booted, the uptime is served,
    // to 2.87 on its own and from 2.88 in the show.
    let booted =
        ferrostack_common::time::now_micros() - (2 * 86_400 + 3 * 3600 + 4 * 60) * 1_000_000;
    c.s.store
        .modify_service(&one.uuid, &mut |s| {
            s.capabilities["booted_at"] = booted.into();
            Ok(())
        })
        .unwrap();
    let r = c
        .at(
            Method::GET,
            &format!("/os-hypervisors/{}/uptime", one.id),
            &admin,
            "",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let h = &r.body["hypervisor"];
    assert_eq!(
        keys(h),
        ["hypervisor_hostname", "id", "state", "status", "uptime"]
    );
    let line = h["uptime"].as_str().unwrap();
    assert!(line.ends_with(" up 2 days,  3:04"), "{line}");
    // With the users and load its agent reports at each heartbeat, the
    // whole line `uptime` prints (what `openstack hypervisor show` parses).
    c.s.store
        .modify_service(&one.uuid, &mut |s| {
            s.capabilities["users"] = 1.into();
            s.capabilities["load_average"] = "0.33 0.36 0.34".into();
            Ok(())
        })
        .unwrap();
    let r = c
        .at(
            Method::GET,
            &format!("/os-hypervisors/{}/uptime", one.id),
            &admin,
            "",
            None,
        )
        .await;
    let line = r.body["hypervisor"]["uptime"].as_str().unwrap();
    assert!(
        line.ends_with(" up 2 days,  3:04,  1 user,  load average: 0.33, 0.36, 0.34"),
        "{line}"
    );
    let r = c
        .at(
            Method::GET,
            &format!("/os-hypervisors/{}", one.uuid),
            &admin,
            "2.88",
            None,
        )
        .await;
    assert!(
        r.body["hypervisor"]["uptime"]
            .as_str()
            .unwrap()
            .contains(" up 2 days"),
        "{}",
        r.body
    );
    let down = c.service("other", "nova", 300);
    let r = c
        .at(
            Method::GET,
            &format!("/os-hypervisors/{}/uptime", down.id),
            &admin,
            "",
            None,
        )
        .await;
    assert_fault(&r, 400, "badRequest");
}

#[tokio::test]
async fn zones_come_from_the_services() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let r = c
        .at(Method::GET, "/os-availability-zone", &p.member, "", None)
        .await;
    assert_eq!(r.body, json!({"availabilityZoneInfo": []}));
    c.service("host1", "nova", 0);
    c.service("host2", "nova", 300);
    let r = c
        .at(Method::GET, "/os-availability-zone", &p.member, "", None)
        .await;
    assert_eq!(
        r.body["availabilityZoneInfo"],
        json!([{"zoneName": "nova", "zoneState": {"available": true}, "hosts": null}])
    );
    let r = c
        .at(
            Method::GET,
            "/os-availability-zone/detail",
            &p.admin,
            "",
            None,
        )
        .await;
    let zone = &r.body["availabilityZoneInfo"][0];
    assert_eq!(zone["zoneName"], "nova");
    let svc = &zone["hosts"]["host1"]["nova-compute"];
    assert_eq!(
        (svc["available"].clone(), svc["active"].clone()),
        (json!(true), json!(true))
    );
    assert!(svc["updated_at"].is_string());
    assert_eq!(zone["hosts"]["host2"]["nova-compute"]["available"], false);
}
