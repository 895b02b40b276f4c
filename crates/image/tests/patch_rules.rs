//! Glance's rules that clients other than glanceclient rely on: both
//! JSON-patch media types (Tempest sends the v2.0 one), the `os_glance_*`
//! namespace reserved to the service on create and update, and the info
//! routes clients probe before an upload.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_glance_error, Images};
use reqwest::Method;
use serde_json::{json, Value};

const V2_0: &str = "application/openstack-images-v2.0-json-patch";

async fn patch_as(
    c: &Images,
    token: &str,
    id: &str,
    media: &str,
    ops: Value,
) -> ferrostack_testkit::Reply {
    let rb =
        c.s.req(Method::PATCH, &c.url(&format!("/v2/images/{id}")), token)
            .header("Content-Type", media)
            .body(ops.to_string());
    c.s.call(rb).await
}

#[tokio::test]
async fn the_v2_0_media_type_takes_draft_4_operations() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.create(&member, json!({"name": "old", "p": "v"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = patch_as(
        &c,
        &member,
        &id,
        V2_0,
        json!([
            {"replace": "/name", "value": "new"},
            {"add": "/hw_disk_bus", "value": "virtio"},
            {"remove": "/p"}
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "new");
    assert_eq!(r.body["hw_disk_bus"], "virtio");
    assert!(r.body.get("p").is_none());

    // Draft 10's members mean nothing in draft 4, and two operations in
    // one object are ambiguous: 400, nothing changed.
    let before = c.show(&member, &id).await.body;
    for ops in [
        json!([{"op": "replace", "path": "/name", "value": "x"}]),
        json!([{"replace": "/name", "add": "/x", "value": "x"}]),
    ] {
        assert_glance_error(&patch_as(&c, &member, &id, V2_0, ops).await, 400);
    }
    assert_eq!(c.show(&member, &id).await.body, before);
}

#[tokio::test]
async fn another_media_type_is_415_naming_the_two_accepted() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.create(&member, json!({"name": "x"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = patch_as(&c, &member, &id, "application/json-patch+json", json!([])).await;
    assert_glance_error(&r, 415);
    let accept = r.headers["accept-patch"].to_str().unwrap();
    assert!(accept.contains(V2_0), "{accept}");
    assert!(accept.contains("v2.1-json-patch"), "{accept}");
}

#[tokio::test]
async fn os_glance_properties_are_reserved_on_create_and_update() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let r = c
        .post_image(&member, json!({"name": "x", "os_glance_foo": "bar"}))
        .await;
    assert!(assert_glance_error(&r, 403).contains("reserved"));
    assert!(c.names(&member, "").await.is_empty(), "nothing created");

    let id = c.create(&member, json!({"name": "x"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (media, op) in [
        (V2_0, json!({"add": "/os_glance_foo", "value": "bar"})),
        (
            "application/openstack-images-v2.1-json-patch",
            json!({"op": "add", "path": "/os_glance_import_task", "value": "t"}),
        ),
    ] {
        let r = patch_as(&c, &member, &id, media, json!([op])).await;
        assert!(assert_glance_error(&r, 403).contains("reserved"));
    }
    let shown = c.show(&member, &id).await.body;
    assert!(shown.get("os_glance_foo").is_none());
}

#[tokio::test]
async fn import_info_lists_glance_direct_and_stores_are_404_with_one_backend() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let r = c.s.get(&c.url("/v2/info/import"), &member).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["import-methods"]["value"], json!(["glance-direct"]));
    for path in ["/v2/info/stores", "/v2/info/stores/detail"] {
        let r = c.s.get(&c.url(path), &member).await;
        assert!(assert_glance_error(&r, 404).contains("Multi backend"));
    }
    let r = c.s.get(&c.url("/v2/info/import"), "").await;
    assert_glance_error(&r, 401);
}
