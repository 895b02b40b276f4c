//! Snapshot actions: an admin resets a snapshot's status or force-deletes
//! it; the owner reports a snapshot it drives finishing, with its progress
//! (`os-update_snapshot_status`, as Nova's assisted snapshots do).

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, start};
use reqwest::Method;
use serde_json::{json, Value};

async fn snapshot(c: &common::Cinder) -> (String, String) {
    let vid = c.available(1).await;
    let r = c
        .send(
            Method::POST,
            "/snapshots",
            &c.member,
            json!({"snapshot": {"volume_id": vid}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let sid = r.body["snapshot"]["id"].as_str().unwrap().to_string();
    c.wait_status(&format!("/snapshots/{sid}"), "snapshot", "available")
        .await;
    (vid, sid)
}

async fn act(c: &common::Cinder, token: &str, sid: &str, body: Value) -> ferrostack_testkit::Reply {
    c.send(
        Method::POST,
        &format!("/snapshots/{sid}/action"),
        token,
        body,
    )
    .await
}

#[tokio::test]
async fn an_admin_resets_a_status_and_the_owner_reports_progress_by_cinders_table() {
    let c = start().await;
    let admin = c.v.s.admin_token().await;
    let (_, sid) = snapshot(&c).await;
    let path = format!("/snapshots/{sid}");
    // Only an admin resets, and only to a snapshot status.
    let r = act(
        &c,
        &c.member,
        &sid,
        json!({"os-reset_status": {"status": "creating"}}),
    )
    .await;
    assert_fault(&r, 403, "forbidden");
    let r = act(
        &c,
        &admin,
        &sid,
        json!({"os-reset_status": {"status": "melting"}}),
    )
    .await;
    assert_fault(&r, 400, "badRequest");
    assert_eq!(
        c.get(&path, &c.member).await.body["snapshot"]["status"],
        "available"
    );
    let r = act(
        &c,
        &admin,
        &sid,
        json!({"os-reset_status": {"status": "creating"}}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    // The owner: creating -> error with 80%.
    let r = act(
        &c,
        &c.member,
        &sid,
        json!({"os-update_snapshot_status": {"status": "error", "progress": "80%"}}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let s = c.get(&path, &c.member).await.body["snapshot"].clone();
    assert_eq!(s["status"], "error");
    assert_eq!(s["os-extended-snapshot-attributes:progress"], "80%");
    // error -> available is not a client's to make: refused, unchanged.
    let r = act(
        &c,
        &c.member,
        &sid,
        json!({"os-update_snapshot_status": {"status": "available"}}),
    )
    .await;
    assert_fault(&r, 400, "badRequest");
    assert_eq!(
        c.get(&path, &c.member).await.body["snapshot"]["status"],
        "error"
    );
    // Another project's snapshot is not found.
    let outsider =
        c.v.s
            .user_token("bob", &c.v.s.project("elsewhere"), "member")
            .await;
    let r = act(
        &c,
        &outsider,
        &sid,
        json!({"os-update_snapshot_status": {"status": "error"}}),
    )
    .await;
    assert_fault(&r, 404, "itemNotFound");
    let r = act(&c, &admin, &sid, json!({"os-melt": {}})).await;
    assert_fault(&r, 400, "badRequest");
}

#[tokio::test]
async fn an_admin_force_deletes_a_snapshot_in_any_state() {
    let c = start().await;
    let admin = c.v.s.admin_token().await;
    let (_, sid) = snapshot(&c).await;
    let path = format!("/snapshots/{sid}");
    let before = c.usage("snapshots");
    act(
        &c,
        &admin,
        &sid,
        json!({"os-reset_status": {"status": "deleting"}}),
    )
    .await;
    // A plain delete refuses a deleting snapshot; the owner cannot force.
    let r = c.send(Method::DELETE, &path, &c.member, json!({})).await;
    assert_fault(&r, 400, "badRequest");
    let r = act(&c, &c.member, &sid, json!({"os-force_delete": {}})).await;
    assert_fault(&r, 403, "forbidden");
    let r = act(&c, &admin, &sid, json!({"os-force_delete": {}})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    c.wait_gone(&path).await;
    assert_eq!(c.usage("snapshots"), before - 1);
    assert!(c.backend.snapshots().is_empty());
}
