//! Image records through HTTP: create, list, show, JSON-patch update,
//! delete, tags, visibility across projects, and bad input answered in
//! Glance's shape with nothing changed.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_glance_error, image_body, Images};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn create_show_list_patch_and_delete() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let created = c
        .create(
            &member,
            json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare",
                   "tags": ["t1"], "os_distro": "cirros", "min_ram": 64}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["status"], "queued");
    assert_eq!(created["visibility"], "shared");
    assert_eq!(created["owner"], c.project.as_str());
    assert_eq!(
        created["os_distro"], "cirros",
        "unknown keys become properties"
    );
    assert_eq!(created["size"], serde_json::Value::Null);
    assert_eq!(created["self"], format!("/v2/images/{id}"));

    let shown = c.show(&member, &id).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body, created);
    let typed: ferrostack_image_types::Image = serde_json::from_value(created.clone()).unwrap();
    assert_eq!(typed.properties["os_distro"], "cirros");
    let listed = c.s.get(&c.url("/v2/images"), &member).await;
    let listed: ferrostack_image_types::ImageList = serde_json::from_value(listed.body).unwrap();
    assert_eq!(listed.images, [typed]);
    assert_eq!(c.names(&member, "").await, ["cirros"]);

    let r = c
        .patch(
            &member,
            &id,
            json!([
                {"op": "replace", "path": "/name", "value": "cirros2"},
                {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
                {"op": "remove", "path": "/os_distro"},
                {"op": "replace", "path": "/tags", "value": ["a", "b"]},
                {"op": "replace", "path": "/min_disk", "value": 2},
                {"op": "replace", "path": "/protected", "value": true}
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let after = c.show(&member, &id).await.body;
    assert_eq!(after["name"], "cirros2");
    assert_eq!(after["hw_disk_bus"], "virtio");
    assert!(after.get("os_distro").is_none());
    assert_eq!(after["tags"], json!(["a", "b"]));
    assert_eq!(after["min_disk"], 2);
    assert_eq!(after["protected"], true);

    let del =
        c.s.call(c.s.req(Method::DELETE, &c.url(&format!("/v2/images/{id}")), &member))
            .await;
    assert!(assert_glance_error(&del, 403).contains("protected"));
    assert_eq!(c.show(&member, &id).await.status, 200, "still there");

    c.patch(
        &member,
        &id,
        json!([{"op": "replace", "path": "/protected", "value": false}]),
    )
    .await;
    let del =
        c.s.call(c.s.req(Method::DELETE, &c.url(&format!("/v2/images/{id}")), &member))
            .await;
    assert_eq!(del.status, 204, "{}", del.body);
    assert_glance_error(&c.show(&member, &id).await, 404);
    assert!(c.names(&member, "").await.is_empty());
}

#[tokio::test]
async fn another_projects_private_image_is_not_found() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let (other, _) = c.other_project("other").await;
    let private = c
        .create(&member, json!({"name": "mine", "visibility": "private"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_glance_error(&c.show(&other, &private).await, 404);
    let patched = c
        .patch(
            &other,
            &private,
            json!([{"op": "replace", "path": "/name", "value": "x"}]),
        )
        .await;
    assert_glance_error(&patched, 404);
    let del =
        c.s.call(c.s.req(
            Method::DELETE,
            &c.url(&format!("/v2/images/{private}")),
            &other,
        ))
        .await;
    assert_glance_error(&del, 404);
    assert!(c.names(&other, "").await.is_empty());
    assert_eq!(c.show(&member, &private).await.body["name"], "mine");
}

#[tokio::test]
async fn visibility_decides_who_lists_and_who_changes() {
    let c = Images::start().await;
    let admin = c.s.admin_token().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let reader = c.s.user_token("r", &c.project, "reader").await;
    let (other, _) = c.other_project("other").await;
    // Only admins publish.
    let r = c
        .post_image(&member, json!({"name": "pub", "visibility": "public"}))
        .await;
    assert!(assert_glance_error(&r, 403).contains("publicize_image"));
    let public = c
        .create(&admin, json!({"name": "pub", "visibility": "public"}))
        .await;
    c.create(&member, json!({"name": "comm", "visibility": "community"}))
        .await;
    c.create(&member, json!({"name": "priv", "visibility": "private"}))
        .await;
    let mut own = c.names(&reader, "?sort=name:asc").await;
    own.sort();
    assert_eq!(own, ["comm", "priv", "pub"]);
    assert_eq!(
        c.names(&other, "").await,
        ["pub"],
        "community only when asked"
    );
    assert_eq!(c.names(&other, "?visibility=community").await, ["comm"]);
    // A visible image the caller does not own: 403 on change.
    let r = c
        .patch(
            &other,
            public["id"].as_str().unwrap(),
            json!([{"op": "replace", "path": "/name", "value": "mine"}]),
        )
        .await;
    assert_glance_error(&r, 403);
    // Readers of the owner project read but do not write.
    let r = c.post_image(&reader, json!({"name": "x"})).await;
    assert_glance_error(&r, 403);
    // Admins list everything.
    assert_eq!(c.names(&admin, "").await.len(), 3);
}

#[tokio::test]
async fn shared_images_are_listed_once_the_member_accepts() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let (other, other_project) = c.other_project("other").await;
    let id = c.create(&member, json!({"name": "shared-one"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let members_url = c.url(&format!("/v2/images/{id}/members"));
    let r =
        c.s.send(
            Method::POST,
            &members_url,
            &member,
            json!({"member": other_project}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "pending");
    let again =
        c.s.send(
            Method::POST,
            &members_url,
            &member,
            json!({"member": other_project}),
        )
        .await;
    assert_glance_error(&again, 409);
    assert!(
        c.names(&other, "").await.is_empty(),
        "pending is not listed"
    );
    assert_eq!(
        c.show(&other, &id).await.status,
        200,
        "but can be looked at"
    );
    assert_eq!(
        c.names(&other, "?member_status=pending").await,
        ["shared-one"]
    );

    let one = format!("{members_url}/{other_project}");
    let by_owner =
        c.s.send(Method::PUT, &one, &member, json!({"status": "accepted"}))
            .await;
    assert_glance_error(&by_owner, 403);
    let bad =
        c.s.send(Method::PUT, &one, &other, json!({"status": "maybe"}))
            .await;
    assert_glance_error(&bad, 400);
    let ok =
        c.s.send(Method::PUT, &one, &other, json!({"status": "accepted"}))
            .await;
    assert_eq!(ok.body["status"], "accepted", "{}", ok.body);
    assert_eq!(c.names(&other, "").await, ["shared-one"]);
    let listed = c.s.get(&members_url, &member).await;
    assert_eq!(listed.body["members"].as_array().unwrap().len(), 1);

    let gone = c.s.call(c.s.req(Method::DELETE, &one, &member)).await;
    assert_eq!(gone.status, 204);
    assert_glance_error(&c.show(&other, &id).await, 404);
}

#[tokio::test]
async fn tags_are_added_once_and_removed() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.create(&member, json!({"name": "t"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let tag = c.url(&format!("/v2/images/{id}/tags/blue"));
    for _ in 0..2 {
        let r = c.s.call(c.s.req(Method::PUT, &tag, &member)).await;
        assert_eq!(r.status, 204);
    }
    assert_eq!(c.show(&member, &id).await.body["tags"], json!(["blue"]));
    assert_eq!(c.names(&member, "?tag=blue").await, ["t"]);
    assert!(c.names(&member, "?tag=red").await.is_empty());
    let r = c.s.call(c.s.req(Method::DELETE, &tag, &member)).await;
    assert_eq!(r.status, 204);
    let r = c.s.call(c.s.req(Method::DELETE, &tag, &member)).await;
    assert_glance_error(&r, 404);
}

#[tokio::test]
async fn lists_filter_sort_and_page_with_next_links() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    for (name, fmt) in [("a", "raw"), ("b", "qcow2"), ("c", "raw"), ("d", "iso")] {
        c.create(&member, image_body(name, fmt)).await;
    }
    assert_eq!(
        c.names(&member, "?disk_format=raw&sort_key=name&sort_dir=asc")
            .await,
        ["a", "c"]
    );
    assert_eq!(
        c.names(&member, "?sort=name:desc").await,
        ["d", "c", "b", "a"]
    );
    assert_eq!(c.names(&member, "?name=b").await, ["b"]);
    assert_eq!(
        c.names(&member, "?name=in:a,d&sort=name:asc").await,
        ["a", "d"]
    );
    assert_eq!(
        c.names(&member, "?disk_format=in:iso,qcow2&sort=name:asc")
            .await,
        ["b", "d"]
    );
    let r =
        c.s.get(&c.url("/v2/images?limit=3&sort=name:asc"), &member)
            .await;
    assert_eq!(r.body["images"].as_array().unwrap().len(), 3);
    let next = r.body["next"].as_str().unwrap().to_string();
    let r = c.s.get(&c.url(&next), &member).await;
    let rest: Vec<_> = r.body["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].clone())
        .collect();
    assert_eq!(rest, [json!("d")]);
    assert!(r.body.get("next").is_none());
    let bad = c.s.get(&c.url("/v2/images?sort_key=nope"), &member).await;
    assert_glance_error(&bad, 400);
    let bad = c.s.get(&c.url("/v2/images?marker=nope"), &member).await;
    assert_glance_error(&bad, 400);
}

#[tokio::test]
async fn reserved_and_read_only_attributes_are_refused_on_create() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    for key in [
        "size",
        "checksum",
        "status",
        "os_hash_value",
        "virtual_size",
    ] {
        let r = c.post_image(&member, json!({"name": "x", key: "1"})).await;
        assert!(assert_glance_error(&r, 403).contains("read-only"), "{key}");
    }
    let r = c
        .post_image(
            &member,
            json!({"name": "x", "location": "file:///etc/passwd"}),
        )
        .await;
    assert!(assert_glance_error(&r, 403).contains("reserved"));
    assert!(c.names(&member, "").await.is_empty(), "nothing created");
}

#[tokio::test]
async fn bad_input_answers_400_in_glances_shape_and_changes_nothing() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    // Bad JSON.
    let rb =
        c.s.req(Method::POST, &c.url("/v2/images"), &member)
            .header("Content-Type", "application/json")
            .body("{\"name\": ");
    assert_glance_error(&c.s.call(rb).await, 400);
    // Unknown disk_format, non-string property, negative min_ram.
    for body in [
        json!({"name": "x", "disk_format": "floppy"}),
        json!({"name": "x", "container_format": "zip"}),
        json!({"name": "x", "prop": 1}),
        json!({"name": "x", "min_ram": -1}),
        json!({"name": "x", "protected": "yes"}),
    ] {
        assert_glance_error(&c.post_image(&member, body.clone()).await, 400);
    }
    assert!(c.names(&member, "").await.is_empty());

    let id = c.create(&member, json!({"name": "keep", "p": "v"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = c.show(&member, &id).await.body;
    for ops in [
        json!([{"op": "move", "from": "/name", "path": "/x"}]),
        json!([{"op": "replace", "path": "name", "value": "x"}]),
        json!([{"op": "replace", "path": "/name", "value": "x"}, {"op": "add", "path": "/disk_format", "value": "floppy"}]),
        json!({"op": "replace"}),
    ] {
        assert_glance_error(&c.patch(&member, &id, ops).await, 400);
    }
    let r = c
        .patch(
            &member,
            &id,
            json!([{"op": "replace", "path": "/size", "value": 1}]),
        )
        .await;
    assert_glance_error(&r, 403);
    let r = c
        .patch(&member, &id, json!([{"op": "remove", "path": "/nope"}]))
        .await;
    assert_glance_error(&r, 409);
    let rb =
        c.s.req(Method::PATCH, &c.url(&format!("/v2/images/{id}")), &member)
            .header("Content-Type", "application/json")
            .body("[]");
    assert_glance_error(&c.s.call(rb).await, 415);
    let huge = json!([{"op": "add", "path": "/big", "value": "x".repeat(100_000)}]);
    assert_glance_error(&c.patch(&member, &id, huge).await, 413);
    assert_eq!(c.show(&member, &id).await.body, before, "nothing changed");
}

#[tokio::test]
async fn unbuilt_routes_answer_501_and_tokens_are_required() {
    let c = Images::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let r = c.s.get(&c.url("/v2/cache"), &member).await;
    assert_glance_error(&r, 501);
    let r = c.s.get(&c.url("/v2/images"), "").await;
    assert_glance_error(&r, 401);
    let r = c.s.get(&c.url("/v2/nothing-here"), &member).await;
    assert_glance_error(&r, 404);
    let r = c.s.get(&c.url("/v2/schemas/image"), &member).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["name"], "image");
    assert_eq!(r.body["additionalProperties"]["type"], "string");
    let r = c.s.get(&c.url("/v2/schemas/images"), &member).await;
    assert_eq!(r.body["properties"]["images"]["items"]["name"], "image");
}

#[tokio::test]
async fn the_projects_image_count_quota_refuses_one_more() {
    let quotas = ferrostack_image::ImageQuotas {
        image_count_total: Some(2),
        image_size_total: None,
    };
    let c = Images::start_with(ferrostack_image::DEFAULT_MAX_IMAGE_SIZE, quotas).await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let (other, _) = c.other_project("other").await;
    c.create(&member, json!({"name": "1"})).await;
    c.create(&member, json!({"name": "2"})).await;
    let r = c.post_image(&member, json!({"name": "3"})).await;
    assert!(assert_glance_error(&r, 413).contains("image_count_total"));
    assert_eq!(c.names(&member, "").await.len(), 2);
    c.create(&other, json!({"name": "elsewhere"})).await;
}
