//! Host aggregates, the zones they make, and the other administrative
//! compute APIs Tempest reaches (os-hosts, usage, the usage audit log,
//! migrations, external events) through HTTP, over services and servers
//! stored directly as fixtures.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, Compute};
use reqwest::Method;
use serde_json::{json, Value};

async fn create(c: &Compute, admin: &str, body: Value) -> Value {
    let r = c
        .at(Method::POST, "/os-aggregates", admin, "", Some(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["aggregate"].clone()
}

async fn act(c: &Compute, admin: &str, id: &Value, body: Value) -> ferrostack_testkit::Reply {
    c.at(
        Method::POST,
        &format!("/os-aggregates/{id}/action"),
        admin,
        "",
        Some(body),
    )
    .await
}

fn zone_names(body: &Value) -> Vec<String> {
    body["availabilityZoneInfo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["zoneName"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_aggregate_zone_moves_its_hosts_into_it() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.service("host1", "nova", 0);
    c.service("host2", "nova", 0);
    let a = create(
        &c,
        &admin,
        json!({"aggregate": {"name": "fast", "availability_zone": "az1"}}),
    )
    .await;
    assert_eq!(a["availability_zone"], "az1");
    assert!(
        a.get("hosts").is_none(),
        "a create answers without hosts: {a}"
    );
    let r = act(&c, &admin, &a["id"], json!({"add_host": {"host": "host1"}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["aggregate"]["hosts"], json!(["host1"]));
    assert_eq!(
        r.body["aggregate"]["metadata"],
        json!({"availability_zone": "az1"})
    );

    let r = c
        .at(Method::GET, "/os-availability-zone", &admin, "", None)
        .await;
    assert_eq!(zone_names(&r.body), ["az1", "nova"]);
    let r = c
        .at(
            Method::GET,
            "/os-availability-zone/detail",
            &admin,
            "",
            None,
        )
        .await;
    assert!(
        r.body["availabilityZoneInfo"][0]["hosts"]["host1"].is_object(),
        "{}",
        r.body
    );
    let r = c
        .at(Method::GET, "/os-services?host=host1", &admin, "", None)
        .await;
    assert_eq!(r.body["services"][0]["zone"], "az1");

    // Metadata: set, delete with null; the zone key moves the zone.
    let r = act(
        &c,
        &admin,
        &a["id"],
        json!({"set_metadata": {"metadata": {"ssd": "1", "availability_zone": "az3"}}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["aggregate"]["availability_zone"], "az3");
    let r = act(
        &c,
        &admin,
        &a["id"],
        json!({"set_metadata": {"metadata": {"ssd": null}}}),
    )
    .await;
    assert_eq!(
        r.body["aggregate"]["metadata"],
        json!({"availability_zone": "az3"})
    );

    // Leaving the aggregate puts the host back in its own zone.
    let r = act(
        &c,
        &admin,
        &a["id"],
        json!({"remove_host": {"host": "host1"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .at(Method::GET, "/os-services?host=host1", &admin, "", None)
        .await;
    assert_eq!(r.body["services"][0]["zone"], "nova");
    let r = c
        .at(
            Method::DELETE,
            &format!("/os-aggregates/{}", a["id"]),
            &admin,
            "",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c.at(Method::GET, "/os-aggregates", &admin, "", None).await;
    assert_eq!(r.body["aggregates"], json!([]));
}

#[tokio::test]
async fn novas_refusals_of_aggregates() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.service("host1", "nova", 0);
    let a = create(
        &c,
        &admin,
        json!({"aggregate": {"name": "a1", "availability_zone": "az1"}}),
    )
    .await;
    let b = create(
        &c,
        &admin,
        json!({"aggregate": {"name": "a2", "availability_zone": "az2"}}),
    )
    .await;
    // Duplicate name: 409, on create and on rename.
    let r = c
        .at(
            Method::POST,
            "/os-aggregates",
            &admin,
            "",
            Some(json!({"aggregate": {"name": "a1"}})),
        )
        .await;
    assert_fault(&r, 409, "conflictingRequest");
    let path = format!("/os-aggregates/{}", b["id"]);
    let r = c
        .at(
            Method::PUT,
            &path,
            &admin,
            "",
            Some(json!({"aggregate": {"name": "a1"}})),
        )
        .await;
    assert_fault(&r, 409, "conflictingRequest");
    // Names of 0 or 256 characters, zones with a colon: 400.
    for bad in [
        json!({"name": ""}),
        json!({"name": "a".repeat(256)}),
        json!({"name": "x", "availability_zone": "z:h"}),
    ] {
        let r = c
            .at(
                Method::POST,
                "/os-aggregates",
                &admin,
                "",
                Some(json!({"aggregate": bad})),
            )
            .await;
        assert_fault(&r, 400, "badRequest");
    }
    // Unknown host 404, twice the same host 409, a host in two zones 409.
    let r = act(
        &c,
        &admin,
        &a["id"],
        json!({"add_host": {"host": "nowhere"}}),
    )
    .await;
    assert_fault(&r, 404, "itemNotFound");
    assert_eq!(
        act(&c, &admin, &a["id"], json!({"add_host": {"host": "host1"}}))
            .await
            .status,
        200
    );
    let r = act(&c, &admin, &a["id"], json!({"add_host": {"host": "host1"}})).await;
    assert_fault(&r, 409, "conflictingRequest");
    let r = act(&c, &admin, &b["id"], json!({"add_host": {"host": "host1"}})).await;
    assert_fault(&r, 409, "conflictingRequest");
    // A host not in the aggregate: 404; a delete with hosts: 400; unknown ids: 404.
    let r = act(
        &c,
        &admin,
        &b["id"],
        json!({"remove_host": {"host": "host1"}}),
    )
    .await;
    assert_fault(&r, 404, "itemNotFound");
    let r = c
        .at(
            Method::DELETE,
            &format!("/os-aggregates/{}", a["id"]),
            &admin,
            "",
            None,
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    for id in ["-1", "9999", "abc"] {
        let r = c
            .at(
                Method::GET,
                &format!("/os-aggregates/{id}"),
                &admin,
                "",
                None,
            )
            .await;
        assert_fault(&r, 404, "itemNotFound");
    }
    // Admins only.
    let p = c.s.personas(&c.project).await;
    let r = c
        .at(Method::GET, "/os-aggregates", &p.member, "", None)
        .await;
    assert_fault(&r, 403, "forbidden");
    // uuid from 2.41.
    let r = c
        .at(
            Method::GET,
            &format!("/os-aggregates/{}", a["id"]),
            &admin,
            "2.41",
            None,
        )
        .await;
    assert!(r.body["aggregate"]["uuid"].is_string(), "{}", r.body);
}

#[tokio::test]
async fn a_host_with_servers_keeps_its_zone() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.service("host1", "nova", 0);
    c.busy_host("host1");
    let a = create(
        &c,
        &admin,
        json!({"aggregate": {"name": "a1", "availability_zone": "az1"}}),
    )
    .await;
    let r = act(&c, &admin, &a["id"], json!({"add_host": {"host": "host1"}})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Without a zone the host joins; giving the aggregate a zone is then refused.
    let b = create(&c, &admin, json!({"aggregate": {"name": "a2"}})).await;
    assert_eq!(
        act(&c, &admin, &b["id"], json!({"add_host": {"host": "host1"}}))
            .await
            .status,
        200
    );
    let path = format!("/os-aggregates/{}", b["id"]);
    let r = c
        .at(
            Method::PUT,
            &path,
            &admin,
            "",
            Some(json!({"aggregate": {"availability_zone": "az9"}})),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
}

#[tokio::test]
async fn os_hosts_lists_services_until_2_42() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.service("host1", "nova", 0);
    let r = c.at(Method::GET, "/os-hosts", &admin, "", None).await;
    assert_eq!(
        r.body["hosts"],
        json!([{"host_name": "host1", "service": "compute", "zone": "nova"}])
    );
    let r = c
        .at(Method::GET, "/os-hosts?zone=xxx", &admin, "", None)
        .await;
    assert_eq!(r.body["hosts"], json!([]));
    let r = c.at(Method::GET, "/os-hosts/host1", &admin, "", None).await;
    assert_eq!(r.body["host"][0]["resource"]["cpu"], 8);
    assert_eq!(r.body["host"][0]["resource"]["project"], "(total)");
    let r = c
        .at(Method::GET, "/os-hosts/nowhere", &admin, "", None)
        .await;
    assert_fault(&r, 404, "itemNotFound");
    let r = c
        .at(
            Method::PUT,
            "/os-hosts/host1",
            &admin,
            "",
            Some(json!({"status": "bogus"})),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .at(Method::PUT, "/os-hosts/host1", &admin, "", Some(json!({})))
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .at(
            Method::PUT,
            "/os-hosts/host1",
            &admin,
            "",
            Some(json!({"status": "disable"})),
        )
        .await;
    assert_eq!(r.body, json!({"host": "host1", "status": "disabled"}));
    let r = c.at(Method::GET, "/os-services", &admin, "", None).await;
    assert_eq!(r.body["services"][0]["status"], "disabled");
    let r = c
        .at(Method::GET, "/os-hosts/host1/reboot", &admin, "", None)
        .await;
    assert_fault(&r, 501, "notImplemented");
    let r = c.at(Method::GET, "/os-hosts", &admin, "2.43", None).await;
    assert_fault(&r, 404, "itemNotFound");
}

#[tokio::test]
async fn usage_audit_log_migrations_and_events_answer_in_novas_shapes() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.service("host1", "nova", 0);
    let r = c
        .at(
            Method::GET,
            "/os-simple-tenant-usage?detailed=1",
            &admin,
            "",
            None,
        )
        .await;
    assert_eq!(r.body, json!({"tenant_usages": []}));
    let path = "/os-simple-tenant-usage?start=2026-12-08T00:00:00&end=2026-12-01T00:00:00";
    let r = c.at(Method::GET, path, &admin, "", None).await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .at(
            Method::GET,
            "/os-instance_usage_audit_log",
            &admin,
            "",
            None,
        )
        .await;
    let log = &r.body["instance_usage_audit_logs"];
    assert_eq!(
        (log["num_hosts"].as_u64(), log["num_hosts_not_run"].as_u64()),
        (Some(1), Some(1))
    );
    let r = c
        .at(
            Method::GET,
            "/os-instance_usage_audit_log/invalid_time",
            &admin,
            "",
            None,
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c.at(Method::GET, "/os-migrations", &admin, "", None).await;
    assert_eq!(r.body, json!({"migrations": []}));
    let body = json!({"events": [{"name": "network-changed", "server_uuid": "00000000-0000-0000-0000-000000000000"}]});
    let r = c
        .at(
            Method::POST,
            "/os-server-external-events",
            &admin,
            "",
            Some(body.clone()),
        )
        .await;
    assert_fault(&r, 404, "itemNotFound");
    let p = c.s.personas(&c.project).await;
    let r = c
        .at(
            Method::POST,
            "/os-server-external-events",
            &p.member,
            "",
            Some(body),
        )
        .await;
    assert_fault(&r, 403, "forbidden");
    let bad = json!({"events": [{"name": "bogus", "server_uuid": "x"}]});
    let r = c
        .at(
            Method::POST,
            "/os-server-external-events",
            &admin,
            "",
            Some(bad),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
}
