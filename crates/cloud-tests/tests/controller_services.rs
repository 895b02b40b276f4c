//! The controllers as `nova-scheduler` and `nova-conductor` services:
//! listed by `os-services`, `os-hosts` and the zone detail, up while
//! their lease holds, and refused for update and delete as Nova refuses
//! non-compute services (update) or as the running controller (delete).

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, Compute};
use ferrostack_store::controller::ControllerStore;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn of_binary<'a>(services: &'a Value, binary: &str) -> Vec<&'a Value> {
    services
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["binary"] == binary)
        .collect()
}

#[tokio::test]
async fn each_controller_is_a_scheduler_and_a_conductor_in_the_internal_zone() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.service("host1", "nova", 0);
    let ttl = Duration::from_secs(30);
    c.s.store
        .register_controller("ctl-a", "inc-a", "ctlhost-a", ttl)
        .unwrap();
    c.s.store
        .register_controller("ctl-b", "inc-b", "ctlhost-b", ttl)
        .unwrap();
    c.s.store.retire_controller("ctl-b", "inc-b").unwrap();

    let r = c
        .at(Method::GET, "/os-services", &admin, "2.53", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let services = &r.body["services"];
    assert_eq!(services.as_array().unwrap().len(), 5, "{services}");
    for binary in ["nova-scheduler", "nova-conductor"] {
        let rows = of_binary(services, binary);
        let states: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|s| {
                (
                    s["host"].as_str().unwrap(),
                    s["state"].as_str().unwrap(),
                    s["zone"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            states,
            [
                ("ctlhost-a", "up", "internal"),
                ("ctlhost-b", "down", "internal")
            ],
            "{binary}"
        );
    }
    // Filters apply to them as to compute services.
    let r = c
        .at(
            Method::GET,
            "/os-services?binary=nova-scheduler&host=ctlhost-a",
            &admin,
            "",
            None,
        )
        .await;
    let only = r.body["services"].as_array().unwrap();
    assert_eq!(only.len(), 1);
    assert!(only[0]["id"].as_i64().is_some(), "numeric id before 2.53");

    // os-hosts lists the controller hosts with their services; the zone
    // detail shows them under `internal`.
    let r = c.at(Method::GET, "/os-hosts", &admin, "", None).await;
    let hosts = r.body["hosts"].as_array().unwrap();
    assert!(hosts
        .contains(&json!({"host_name": "ctlhost-a", "service": "scheduler", "zone": "internal"})));
    assert!(hosts
        .contains(&json!({"host_name": "ctlhost-a", "service": "conductor", "zone": "internal"})));
    let r = c
        .at(Method::GET, "/os-hosts?zone=internal", &admin, "", None)
        .await;
    assert_eq!(r.body["hosts"].as_array().unwrap().len(), 4);
    let r = c
        .at(
            Method::GET,
            "/os-availability-zone/detail",
            &admin,
            "",
            None,
        )
        .await;
    let internal = r.body["availabilityZoneInfo"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["zoneName"] == "internal")
        .unwrap()
        .clone();
    assert_eq!(
        internal["hosts"]["ctlhost-a"]["nova-conductor"]["available"],
        true
    );
    assert_eq!(
        internal["hosts"]["ctlhost-b"]["nova-scheduler"]["available"],
        false
    );
}

#[tokio::test]
async fn controller_services_cannot_be_updated_or_deleted() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.s.store
        .register_controller("ctl-a", "inc-a", "ctlhost-a", Duration::from_secs(30))
        .unwrap();
    let r = c
        .at(
            Method::GET,
            "/os-services?binary=nova-conductor",
            &admin,
            "2.53",
            None,
        )
        .await;
    let uuid = r.body["services"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/os-services/{uuid}");
    for body in [json!({"status": "disabled"}), json!({"forced_down": true})] {
        let r = c.at(Method::PUT, &path, &admin, "2.53", Some(body)).await;
        let msg = assert_fault(&r, 400, "badRequest");
        assert!(
            msg.starts_with("Updating a nova-conductor service is not supported"),
            "{msg}"
        );
    }
    let r = c.at(Method::DELETE, &path, &admin, "2.53", None).await;
    assert_fault(&r, 409, "conflictingRequest");
    // Nothing changed: still listed, enabled, up.
    let r = c
        .at(
            Method::GET,
            "/os-services?binary=nova-conductor",
            &admin,
            "2.53",
            None,
        )
        .await;
    let s = &r.body["services"][0];
    assert_eq!(
        (s["id"].as_str(), s["status"].as_str(), s["state"].as_str()),
        (Some(uuid.as_str()), Some("enabled"), Some("up"))
    );
    // A disabled host in os-hosts is a compute service's; a controller
    // host has no compute service to disable.
    let r = c
        .at(
            Method::PUT,
            "/os-hosts/ctlhost-a",
            &admin,
            "",
            Some(json!({"status": "disable"})),
        )
        .await;
    assert_fault(&r, 404, "itemNotFound");
}
