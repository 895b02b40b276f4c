//! Volume transfers over HTTP: a volume offered by one project is taken
//! by another with the auth key (shown once), with its snapshots and its
//! quota usage; a wrong key or a full quota moves nothing; a cancelled
//! transfer leaves the volume available to its project.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, start};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_transfer_moves_the_volume_its_snapshots_and_its_quota() {
    let c = start().await;
    let vol = c.available(2).await;
    let r = c
        .send(
            Method::POST,
            "/snapshots",
            &c.member,
            json!({"snapshot": {"volume_id": vol}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let snap = r.body["snapshot"]["id"].as_str().unwrap().to_string();
    c.wait_status(&format!("/snapshots/{snap}"), "snapshot", "available")
        .await;
    let r = c
        .send(
            Method::POST,
            "/os-volume-transfer",
            &c.member,
            json!({"transfer": {"volume_id": vol, "name": "gift"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["transfer"]["id"].as_str().unwrap().to_string();
    let key = r.body["transfer"]["auth_key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 16);
    let v = c.get(&format!("/volumes/{vol}"), &c.member).await;
    assert_eq!(v.body["volume"]["status"], "awaiting-transfer");
    let shown = c.get(&format!("/os-volume-transfer/{id}"), &c.member).await;
    assert_eq!(shown.body["transfer"]["name"], "gift");
    assert!(
        shown.body["transfer"].get("auth_key").is_none(),
        "the key is shown once"
    );
    // A second transfer of the same volume is refused.
    let again = c
        .send(
            Method::POST,
            "/os-volume-transfer",
            &c.member,
            json!({"transfer": {"volume_id": vol}}),
        )
        .await;
    assert_fault(&again, 400, "badRequest");

    let other = c.v.s.project("receiver");
    let bob = c.v.s.user_token("bob", &other, "member").await;
    // Bob cannot see the transfer in his list, nor the volume.
    let list = c.get("/os-volume-transfer", &bob).await;
    assert_eq!(list.body["transfers"], json!([]));
    assert_eq!(c.get(&format!("/volumes/{vol}"), &bob).await.status, 404);
    // A wrong key moves nothing.
    let r = c
        .send(
            Method::POST,
            &format!("/os-volume-transfer/{id}/accept"),
            &bob,
            json!({"accept": {"auth_key": "0000000000000000"}}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    assert_eq!(
        c.get(&format!("/volumes/{vol}"), &c.member).await.status,
        200
    );
    // The right key moves the volume, its snapshot and their quota.
    let r = c
        .send(
            Method::POST,
            &format!("/os-volume-transfer/{id}/accept"),
            &bob,
            json!({"accept": {"auth_key": key}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let v = c.get(&format!("/volumes/{vol}"), &bob).await;
    assert_eq!(v.status, 200, "{}", v.body);
    assert_eq!(v.body["volume"]["status"], "available");
    assert_eq!(
        c.get(&format!("/volumes/{vol}"), &c.member).await.status,
        404
    );
    assert_eq!(c.get(&format!("/snapshots/{snap}"), &bob).await.status, 200);
    assert_eq!(
        c.get(&format!("/snapshots/{snap}"), &c.member).await.status,
        404
    );
    assert_eq!(
        c.get(&format!("/os-volume-transfer/{id}"), &c.member)
            .await
            .status,
        404
    );
    assert_eq!(
        (
            c.usage("volumes"),
            c.usage("gigabytes"),
            c.usage("snapshots")
        ),
        (0, 0, 0)
    );
    let theirs =
        c.v.s
            .quotas
            .usage(&ferrostack_quota::VOLUME, &other)
            .unwrap();
    assert_eq!(
        (theirs["volumes"], theirs["gigabytes"], theirs["snapshots"]),
        (1, 4, 1)
    );
}

#[tokio::test]
async fn a_full_quota_or_a_cancel_leaves_the_volume_with_its_project() {
    let c = start().await;
    let vol = c.available(3).await;
    let r = c
        .send(
            Method::POST,
            "/os-volume-transfer",
            &c.member,
            json!({"transfer": {"volume_id": vol}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["transfer"]["id"].as_str().unwrap().to_string();
    let key = r.body["transfer"]["auth_key"].as_str().unwrap().to_string();
    let other = c.v.s.project("small");
    let admin = c.v.s.admin_token().await;
    let r = c
        .send(
            Method::PUT,
            &format!("/os-quota-sets/{other}"),
            &admin,
            json!({"quota_set": {"gigabytes": 2}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let bob = c.v.s.user_token("bob", &other, "member").await;
    let r = c
        .send(
            Method::POST,
            &format!("/os-volume-transfer/{id}/accept"),
            &bob,
            json!({"accept": {"auth_key": key}}),
        )
        .await;
    assert_fault(&r, 413, "overLimit");
    let v = c.get(&format!("/volumes/{vol}"), &c.member).await;
    assert_eq!(v.body["volume"]["status"], "awaiting-transfer");
    assert_eq!((c.usage("volumes"), c.usage("gigabytes")), (1, 3));
    // Cancelled: available to its own project again.
    let r = c
        .send(
            Method::DELETE,
            &format!("/os-volume-transfer/{id}"),
            &c.member,
            json!(null),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let v = c.get(&format!("/volumes/{vol}"), &c.member).await;
    assert_eq!(v.body["volume"]["status"], "available");
}
