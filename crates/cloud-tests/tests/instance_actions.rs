//! Instance actions through HTTP: the server's visibility, the list's
//! paging and filters, and which event fields each caller sees at each
//! microversion.

#![allow(clippy::unwrap_used)]

mod common;

use common::fixtures::{instance, VM};
use common::{assert_fault, keys, Compute};
use ferrostack_store::server::{InstanceAction, ServerStore};
use reqwest::Method;
use serde_json::json;

/// A `create` action on [`VM`] with one failed event, started at `t` s.
fn action(c: &Compute, request_id: &str, t: i64) {
    c.s.store
        .add_action(&InstanceAction {
            instance_uuid: VM.into(),
            request_id: request_id.into(),
            action: "create".into(),
            project_id: c.project.clone(),
            user_id: "u".into(),
            message: None,
            start_time: t * 1_000_000,
            finish_time: Some((t + 5) * 1_000_000),
            events: json!([{"event": "compute_build_and_run_instance",
                "start_time": (t + 1) * 1_000_000, "finish_time": (t + 2) * 1_000_000,
                "result": "Error", "traceback": "Traceback...", "host": "host1",
                "details": "No valid host"}]),
        })
        .unwrap();
}

#[tokio::test]
async fn instance_actions_of_visible_servers() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    c.s.store
        .create_instance(&instance(VM, &c.project, "host1", false))
        .unwrap();
    action(&c, "req-1", 1_700_000_000);
    action(&c, "req-2", 1_700_000_100);
    let list = format!("/servers/{VM}/os-instance-actions");
    let r = c.at(Method::GET, &list, &p.reader, "", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = &r.body["instanceActions"][0];
    assert_eq!(
        keys(a),
        [
            "action",
            "instance_uuid",
            "message",
            "project_id",
            "request_id",
            "start_time",
            "user_id"
        ]
    );
    assert_eq!(a["start_time"], "2023-11-14T22:15:00.000000");
    let r = c.at(Method::GET, &list, &p.outsider, "", None).await;
    assert_eq!(
        assert_fault(&r, 404, "itemNotFound"),
        format!("Instance {VM} could not be found.")
    );

    // Paging and filters from 2.58, changes-before from 2.66.
    let r = c
        .at(
            Method::GET,
            &format!("{list}?limit=1"),
            &p.reader,
            "2.58",
            None,
        )
        .await;
    assert_eq!(r.body["instanceActions"][0]["request_id"], "req-2");
    assert_eq!(
        r.body["instanceActions"][0]["updated_at"],
        "2023-11-14T22:15:05.000000"
    );
    assert!(r.body["links"][0]["href"]
        .as_str()
        .unwrap()
        .contains("marker=req-2"));
    let r = c
        .at(
            Method::GET,
            &format!("{list}?marker=req-2"),
            &p.reader,
            "2.58",
            None,
        )
        .await;
    assert_eq!(r.body["instanceActions"].as_array().unwrap().len(), 1);
    let since = format!("{list}?changes-since=2023-11-14T22:14:00Z");
    let r = c.at(Method::GET, &since, &p.reader, "2.58", None).await;
    assert_eq!(r.body["instanceActions"].as_array().unwrap().len(), 1);
    let before = format!("{list}?changes-before=2023-11-14T22:14:00Z");
    let r = c.at(Method::GET, &before, &p.reader, "2.65", None).await;
    assert_fault(&r, 400, "badRequest");
    let r = c.at(Method::GET, &before, &p.reader, "2.66", None).await;
    assert_eq!(r.body["instanceActions"][0]["request_id"], "req-1");

    // Events: admins always, owners from 2.51 without the traceback;
    // hostId (and host for admins) from 2.62, details from 2.84.
    let show = format!("{list}/req-1");
    let r = c.at(Method::GET, &show, &p.member, "2.50", None).await;
    assert!(
        r.body["instanceAction"].get("events").is_none(),
        "{}",
        r.body
    );
    let r = c.at(Method::GET, &show, &p.admin, "", None).await;
    assert_eq!(
        r.body["instanceAction"]["events"][0]["traceback"],
        "Traceback..."
    );
    let r = c.at(Method::GET, &show, &p.member, "2.51", None).await;
    let e = &r.body["instanceAction"]["events"][0];
    assert_eq!(keys(e), ["event", "finish_time", "result", "start_time"]);
    let r = c.at(Method::GET, &show, &p.member, "2.84", None).await;
    let e = &r.body["instanceAction"]["events"][0];
    assert_eq!(
        keys(e),
        [
            "details",
            "event",
            "finish_time",
            "hostId",
            "result",
            "start_time"
        ]
    );
    assert_eq!(e["hostId"].as_str().unwrap().len(), 56);
    let r = c.at(Method::GET, &show, &p.admin, "2.62", None).await;
    assert_eq!(r.body["instanceAction"]["events"][0]["host"], "host1");
    let r = c
        .at(Method::GET, &format!("{list}/req-9"), &p.member, "", None)
        .await;
    assert_eq!(
        assert_fault(&r, 404, "itemNotFound"),
        "Action req-9 not found"
    );
}

#[tokio::test]
async fn deleted_servers_actions_are_found_from_2_21() {
    let c = Compute::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    c.s.store
        .create_instance(&instance(VM, &c.project, "host1", true))
        .unwrap();
    action(&c, "req-1", 1_700_000_000);
    let list = format!("/servers/{VM}/os-instance-actions");
    let r = c.at(Method::GET, &list, &member, "2.20", None).await;
    assert_fault(&r, 404, "itemNotFound");
    let r = c.at(Method::GET, &list, &member, "2.21", None).await;
    assert_eq!(r.body["instanceActions"].as_array().unwrap().len(), 1);
}
