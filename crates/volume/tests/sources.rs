//! Volumes from images and volumes, and races on one volume: what the
//! backend was asked for, and that a concurrent change never wins twice.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, start, IMAGE_ID, MIN_DISK_ID, QUEUED_ID};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_volume_from_an_image_is_bootable_and_at_least_the_image() {
    let c = start().await;
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"size": 1, "imageRef": IMAGE_ID}}),
        )
        .await;
    let m = assert_fault(&r, 400, "badRequest");
    assert!(m.contains("larger than volume size"), "{m}");
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"size": 1, "imageRef": QUEUED_ID}}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"size": 1, "imageRef": "nope"}}),
        )
        .await;
    assert_fault(&r, 404, "itemNotFound");
    // Below the image's min_disk (5 GiB), though above its size.
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"size": 4, "imageRef": MIN_DISK_ID}}),
        )
        .await;
    let m = assert_fault(&r, 400, "badRequest");
    assert!(m.contains("minDisk size 5GB"), "{m}");
    assert_eq!(c.usage("volumes"), 0);
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"size": 3, "imageRef": IMAGE_ID, "name": "boot"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["volume"]["id"].as_str().unwrap().to_string();
    let v = c
        .wait_status(&format!("/volumes/{id}"), "volume", "available")
        .await;
    assert_eq!(v["bootable"], "true");
    assert_eq!(v["volume_image_metadata"]["image_id"], IMAGE_ID);
    assert!(c
        .backend
        .calls()
        .contains(&format!("create_from_image {id} {IMAGE_ID} 3")));
    // A clone takes the source's size unless told otherwise.
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"source_volid": id}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["volume"]["size"], 3);
    let clone = r.body["volume"]["id"].as_str().unwrap().to_string();
    let v = c
        .wait_status(&format!("/volumes/{clone}"), "volume", "available")
        .await;
    assert_eq!(v["bootable"], "true");
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"source_volid": id, "size": 2}}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
}

#[tokio::test]
async fn concurrent_attachments_of_one_volume_never_both_win() {
    let c = std::sync::Arc::new(start().await);
    let id = c.available(1).await;
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let c = c.clone();
            let id = id.clone();
            tokio::spawn(async move {
                c.at(
                    "3.27",
                    Method::POST,
                    "/attachments",
                    &c.member,
                    Some(json!({"attachment": {"volume_uuid": id, "instance_uuid": format!("vm{i}")}})),
                )
                .await
                .status
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => won += 1,
            400 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(won, 1);
    let list = c
        .at("3.27", Method::GET, "/attachments", &c.member, None)
        .await;
    assert_eq!(list.body["attachments"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_deletes_delete_once_and_release_once() {
    let c = std::sync::Arc::new(start().await);
    let id = c.available(2).await;
    c.backend.close();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            let id = id.clone();
            tokio::spawn(async move {
                c.send(
                    Method::DELETE,
                    &format!("/volumes/{id}"),
                    &c.member,
                    json!({}),
                )
                .await
                .status
            })
        })
        .collect();
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 400, 400, 400]);
    c.backend.open();
    c.wait_gone(&format!("/volumes/{id}")).await;
    assert_eq!((c.usage("volumes"), c.usage("gigabytes")), (0, 0));
    let deletes = c
        .backend
        .calls()
        .iter()
        .filter(|call| call.starts_with("delete "))
        .count();
    assert_eq!(deletes, 1);
}

#[tokio::test]
async fn readers_read_members_write_admins_manage() {
    let c = start().await;
    let p = c.v.s.personas(&c.v.project).await;
    let body = json!({"volume": {"size": 1}});
    assert_eq!(c.get("/volumes", &p.reader).await.status, 200);
    assert_eq!(
        c.send(Method::POST, "/volumes", &p.reader, body.clone())
            .await
            .status,
        403
    );
    // "nobody" only reads, in a project of their own.
    assert_eq!(
        c.send(Method::POST, "/volumes", &p.nobody, body.clone())
            .await
            .status,
        403
    );
    assert!(c.get("/volumes", &p.nobody).await.body["volumes"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        c.send(Method::POST, "/volumes", &p.member, body)
            .await
            .status,
        202
    );
    let t = json!({"volume_type": {"name": "t"}});
    assert_eq!(
        c.send(Method::POST, "/types", &p.member, t.clone())
            .await
            .status,
        403
    );
    assert_eq!(
        c.send(Method::POST, "/types", &p.admin, t).await.status,
        200
    );
    assert_eq!(c.get("/os-services", &p.member).await.status, 403);
    assert_eq!(c.get("/types", &p.reader).await.status, 200);
    c.v.s
        .get(&c.v.url("/volumes"), "")
        .await
        .assert_unauthorized();
}

#[tokio::test]
async fn per_type_quotas_are_shown_enforced_and_moved_by_retype() {
    let c = start().await;
    let admin = c.v.s.admin_token().await;
    let r = c
        .send(
            Method::POST,
            "/types",
            &admin,
            json!({"volume_type": {"name": "gold"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let quota = format!("/os-quota-sets/{}", c.v.project);
    let r = c
        .send(
            Method::PUT,
            &quota,
            &admin,
            json!({"quota_set": {"gigabytes_gold": 2}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["quota_set"]["gigabytes_gold"], 2);
    let r = c
        .send(
            Method::PUT,
            &quota,
            &admin,
            json!({"quota_set": {"gigabytes_lead": 2}}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"size": 3, "volume_type": "gold"}}),
        )
        .await;
    let m = assert_fault(&r, 413, "overLimit");
    assert!(m.contains("exceeds allowed gigabytes_gold quota"), "{m}");
    let id = c.available(3).await;
    let shown = c.get(&format!("{quota}?usage=True"), &admin).await;
    let set = &shown.body["quota_set"];
    assert_eq!(set["volumes___DEFAULT__"]["in_use"], 1, "{set}");
    assert_eq!(set["gigabytes___DEFAULT__"]["in_use"], 3);
    assert_eq!(set["gigabytes_gold"]["limit"], 2);
    // Retype into gold: over its quota, so refused and nothing moves.
    let act = format!("/volumes/{id}/action");
    let r = c
        .send(
            Method::POST,
            &act,
            &c.member,
            json!({"os-retype": {"new_type": "gold"}}),
        )
        .await;
    assert_fault(&r, 413, "overLimit");
    c.send(
        Method::PUT,
        &quota,
        &admin,
        json!({"quota_set": {"gigabytes_gold": 10}}),
    )
    .await;
    let r = c
        .send(
            Method::POST,
            &act,
            &c.member,
            json!({"os-retype": {"new_type": "gold"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        c.get(&format!("/volumes/{id}"), &c.member).await.body["volume"]["volume_type"],
        "gold"
    );
    let set = c.get(&format!("{quota}?usage=True"), &admin).await.body["quota_set"].clone();
    assert_eq!(set["gigabytes___DEFAULT__"]["in_use"], 0, "{set}");
    assert_eq!(set["gigabytes_gold"]["in_use"], 3);
    assert_eq!(set["volumes_gold"]["in_use"], 1);
    assert_eq!(set["gigabytes"]["in_use"], 3);
}
