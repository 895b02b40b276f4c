//! Volumes through HTTP over the fake backend: the create/delete state
//! machine, visibility across projects, quota, lists, microversions.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, start, start_with};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_volume_is_created_available_and_counted() {
    let c = start().await;
    let id = c.create(2).await;
    let v = c
        .wait_status(&format!("/volumes/{id}"), "volume", "available")
        .await;
    assert_eq!(v["size"], 2);
    assert_eq!(v["availability_zone"], "nova");
    assert_eq!(v["volume_type"], "__DEFAULT__");
    assert_eq!(v["bootable"], "false");
    assert_eq!(v["os-vol-host-attr:host"], "storage1@fake#fake");
    assert_eq!(c.backend.volumes()[&id], 2);
    assert_eq!((c.usage("volumes"), c.usage("gigabytes")), (1, 2));
    // Admin-only fields are hidden from members; the owner sees its
    // tenant (Cinder's admin_or_owner policy).
    let mine = c.get(&format!("/volumes/{id}"), &c.member).await;
    assert!(mine.body["volume"].get("os-vol-host-attr:host").is_none());
    assert_eq!(
        mine.body["volume"]["os-vol-tenant-attr:tenant_id"],
        c.v.project.as_str()
    );
    // limits show the usage too.
    let limits = c.get("/limits", &c.member).await;
    assert_eq!(limits.body["limits"]["absolute"]["totalGigabytesUsed"], 2);
    assert_eq!(limits.body["limits"]["absolute"]["totalVolumesUsed"], 1);
}

#[tokio::test]
async fn a_backend_failure_leaves_an_error_volume_with_the_reason_for_admins() {
    let c = start().await;
    c.backend.fail_with(Some("disk on fire"));
    let id = c.create(1).await;
    let v = c
        .wait_status(&format!("/volumes/{id}"), "volume", "error")
        .await;
    assert_eq!(v["ferrostack:error"], "disk on fire");
    let mine = c.get(&format!("/volumes/{id}"), &c.member).await;
    assert!(mine.body["volume"].get("ferrostack:error").is_none());
    // An errored volume can be deleted, and its quota goes with it.
    c.backend.fail_with(None);
    let r = c
        .send(
            Method::DELETE,
            &format!("/volumes/{id}"),
            &c.member,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    c.wait_gone(&format!("/volumes/{id}")).await;
    assert_eq!(c.usage("volumes"), 0);
}

#[tokio::test]
async fn create_answers_while_the_backend_works() {
    let c = start().await;
    c.backend.close();
    let id = c.create(1).await;
    let r = c.get(&format!("/volumes/{id}"), &c.member).await;
    assert_eq!(r.body["volume"]["status"], "creating");
    // A transient volume cannot be deleted.
    let del = c
        .send(
            Method::DELETE,
            &format!("/volumes/{id}"),
            &c.member,
            json!({}),
        )
        .await;
    assert_fault(&del, 400, "badRequest");
    c.backend.open();
    c.wait_status(&format!("/volumes/{id}"), "volume", "available")
        .await;
}

#[tokio::test]
async fn without_a_backend_nothing_is_created() {
    let c = start_with(false).await;
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"size": 1}}),
        )
        .await;
    let m = assert_fault(&r, 503, "serviceUnavailable");
    assert!(m.contains("No valid backend was found"), "{m}");
    let list = c.get("/volumes", &c.member).await;
    assert_eq!(list.body["volumes"], json!([]));
    assert_eq!(c.usage("volumes"), 0);
}

#[tokio::test]
async fn over_quota_is_413_in_cinders_words_and_creates_nothing() {
    let c = start().await;
    let admin = c.v.s.admin_token().await;
    let r = c
        .send(
            Method::PUT,
            &format!("/os-quota-sets/{}", c.v.project),
            &admin,
            json!({"quota_set": {"gigabytes": 10}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    c.available(8).await;
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"size": 5}}),
        )
        .await;
    let m = assert_fault(&r, 413, "overLimit");
    assert_eq!(
        m,
        "Requested volume or snapshot exceeds allowed gigabytes quota. Requested 5G, quota is 10G and 8G has been consumed."
    );
    assert_eq!(
        c.get("/volumes", &c.member).await.body["volumes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let usage = c
        .get(
            &format!("/os-quota-sets/{}?usage=True", c.v.project),
            &admin,
        )
        .await;
    assert_eq!(usage.body["quota_set"]["gigabytes"]["in_use"], 8);
    assert_eq!(usage.body["quota_set"]["volumes"]["in_use"], 1);
}

#[tokio::test]
async fn bad_input_is_400_and_creates_nothing() {
    let c = start().await;
    for body in [
        json!({"volume": {"size": 0}}),
        json!({"volume": {"size": "big"}}),
        json!({"volume": {}}),
        json!({"volume": {"size": 1, "availability_zone": "elsewhere"}}),
        json!({"volume": {"size": 1, "metadata": {"k": 1}}}),
        json!({"size": 1}),
    ] {
        let r = c
            .send(Method::POST, "/volumes", &c.member, body.clone())
            .await;
        assert_fault(&r, 400, "badRequest");
    }
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"size": 1, "volume_type": "nope"}}),
        )
        .await;
    assert_fault(&r, 404, "itemNotFound");
    assert!(c.backend.calls().is_empty());
    assert_eq!(c.usage("volumes"), 0);
}

#[tokio::test]
async fn another_projects_volume_is_404() {
    let c = start().await;
    let id = c.available(1).await;
    let p = c.v.s.personas(&c.v.project).await;
    for (m, path) in [
        (Method::GET, format!("/volumes/{id}")),
        (Method::PUT, format!("/volumes/{id}")),
        (Method::DELETE, format!("/volumes/{id}")),
        (Method::POST, format!("/volumes/{id}/action")),
        (Method::GET, format!("/volumes/{id}/metadata")),
    ] {
        let body = json!({"volume": {"name": "x"}, "os-extend": {"new_size": 2}});
        let body = if m == Method::POST {
            json!({"os-extend": {"new_size": 2}})
        } else {
            body
        };
        let r = c.send(m, &path, &p.outsider, body).await;
        assert_fault(&r, 404, "itemNotFound");
    }
    assert!(c.get("/volumes", &p.outsider).await.body["volumes"]
        .as_array()
        .unwrap()
        .is_empty());
    // Admins see it by id, and in every project's list with all_tenants.
    assert_eq!(c.get(&format!("/volumes/{id}"), &p.admin).await.status, 200);
    let all = c.get("/volumes?all_tenants=1", &p.admin).await;
    assert_eq!(all.body["volumes"].as_array().unwrap().len(), 1);
    // all_tenants means nothing to a member.
    let own = c.get("/volumes?all_tenants=1", &p.outsider).await;
    assert!(own.body["volumes"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn lists_filter_sort_and_page() {
    let c = start().await;
    let mut ids = vec![];
    for (i, size) in [3u64, 1, 2].iter().enumerate() {
        let r = c
            .send(
                Method::POST,
                "/volumes",
                &c.member,
                json!({"volume": {"size": size, "name": format!("vol{i}"), "metadata": {"n": i.to_string()}}}),
            )
            .await;
        ids.push(r.body["volume"]["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        c.wait_status(&format!("/volumes/{id}"), "volume", "available")
            .await;
    }
    let names = |r: &ferrostack_testkit::Reply| -> Vec<String> {
        r.body["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_string())
            .collect()
    };
    let r = c.get("/volumes/detail?sort=size:asc", &c.member).await;
    assert_eq!(names(&r), ["vol1", "vol2", "vol0"]);
    let r = c
        .get("/volumes/detail?sort_key=name&sort_dir=desc", &c.member)
        .await;
    assert_eq!(names(&r), ["vol2", "vol1", "vol0"]);
    let r = c.get("/volumes?name=vol1", &c.member).await;
    assert_eq!(names(&r), ["vol1"]);
    let r = c
        .get(
            "/volumes/detail?metadata=%7B%22n%22%3A%20%222%22%7D",
            &c.member,
        )
        .await;
    assert_eq!(names(&r), ["vol2"]);
    let r = c.get("/volumes?status=error", &c.member).await;
    assert!(names(&r).is_empty());
    // Pages of two: a next link, then the rest.
    let r = c.get("/volumes?sort=name:asc&limit=2", &c.member).await;
    assert_eq!(names(&r), ["vol0", "vol1"]);
    let next = r.body["volumes_links"][0]["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(next.contains(&format!("marker={}", ids[1])), "{next}");
    let r = c
        .get(
            &format!("/volumes?sort=name:asc&limit=2&marker={}", ids[1]),
            &c.member,
        )
        .await;
    assert_eq!(names(&r), ["vol2"]);
    assert!(r.body.get("volumes_links").is_none());
    // The next link keeps the request's form: no project id in the path
    // when the request had none, the project id when it had one.
    let path = |href: &str| href.split('?').next().unwrap().to_string();
    assert_eq!(path(&next), c.v.url("/volumes"), "{next}");
    let r = c
        .get(
            &format!("/{}/volumes?sort=name:asc&limit=2", c.v.project),
            &c.member,
        )
        .await;
    let href = r.body["volumes_links"][0]["href"].as_str().unwrap();
    assert_eq!(
        path(href),
        c.v.url(&format!("/{}/volumes", c.v.project)),
        "{href}"
    );
    // `offset` skips that many past the marker (or from the start);
    // `display_name` sorts as `name`.
    let r = c
        .get(
            "/volumes?sort_key=display_name&sort_dir=asc&offset=1&limit=1",
            &c.member,
        )
        .await;
    assert_eq!(names(&r), ["vol1"]);
    let r = c
        .get(
            &format!("/volumes?sort=name:asc&offset=1&marker={}", ids[0]),
            &c.member,
        )
        .await;
    assert_eq!(names(&r), ["vol2"]);
    let r = c.get("/volumes?sort=name:asc&offset=5", &c.member).await;
    assert!(names(&r).is_empty());
    // A full page has a next link even when nothing follows; that page
    // is empty and has none.
    let r = c.get("/volumes?sort=name:asc&limit=3", &c.member).await;
    assert_eq!(names(&r).len(), 3);
    let href = r.body["volumes_links"][0]["href"].as_str().unwrap();
    let query = href.split_once('?').unwrap().1;
    let r = c.get(&format!("/volumes?{query}"), &c.member).await;
    assert!(names(&r).is_empty(), "{}", r.body);
    assert!(r.body.get("volumes_links").is_none());
    let bad = c.get("/volumes?offset=-1", &c.member).await;
    assert_fault(&bad, 400, "badRequest");
    let bad = c.get("/volumes?marker=nope", &c.member).await;
    assert_fault(&bad, 404, "itemNotFound");
    let bad = c.get("/volumes?sort=colour:asc", &c.member).await;
    assert_fault(&bad, 400, "badRequest");
    // with_count from 3.45.
    let r = c
        .at(
            "3.45",
            Method::GET,
            "/volumes?with_count=true&limit=1",
            &c.member,
            None,
        )
        .await;
    assert_eq!(r.body["count"], 3);
    let r = c.get("/volumes?with_count=true&limit=1", &c.member).await;
    assert!(r.body.get("count").is_none());
    // The summary from 3.12, with metadata values from 3.36.
    let r = c
        .at("3.36", Method::GET, "/volumes/summary", &c.member, None)
        .await;
    assert_eq!(r.body["volume-summary"]["total_size"], 6, "{}", r.body);
    assert_eq!(r.body["volume-summary"]["total_count"], 3);
    assert_eq!(
        r.body["volume-summary"]["metadata"]["n"],
        json!(["0", "1", "2"])
    );
}

#[tokio::test]
async fn microversions_are_echoed_checked_and_shape_the_view() {
    let c = start().await;
    let id = c.available(1).await;
    let path = format!("/volumes/{id}");
    let r = c.get(&path, &c.member).await;
    assert_eq!(r.header("openstack-api-version"), Some("volume 3.0"));
    assert!(r.body["volume"].get("volume_type_id").is_none());
    assert!(r.body["volume"].get("consumes_quota").is_none());
    let r = c.at("3.65", Method::GET, &path, &c.member, None).await;
    assert_eq!(r.header("openstack-api-version"), Some("volume 3.65"));
    assert_eq!(r.body["volume"]["consumes_quota"], true);
    assert!(r.body["volume"]["volume_type_id"].is_string());
    assert!(r.body["volume"].get("service_uuid").is_some());
    assert!(r.body["volume"].get("group_id").is_some());
    // Admin-only fields at their versions.
    assert!(r.body["volume"].get("cluster_name").is_none());
    let admin = c.v.s.admin_token().await;
    let r = c.at("3.61", Method::GET, &path, &admin, None).await;
    assert!(r.body["volume"].get("cluster_name").is_some());
    assert!(r.body["volume"].get("provider_id").is_some());
    let r = c.at("latest", Method::GET, &path, &c.member, None).await;
    assert_eq!(r.header("openstack-api-version"), Some("volume 3.71"));
    let r = c.at("3.72", Method::GET, &path, &c.member, None).await;
    assert_eq!(r.status, 406);
    let r = c.at("2.0", Method::GET, &path, &c.member, None).await;
    assert_eq!(r.status, 406);
    let d = c.v.s.get(&format!("{}/v3/", c.v.root), "").await;
    assert_eq!(d.body["versions"][0]["version"], "3.71");
    assert_eq!(d.body["versions"][0]["min_version"], "3.0");
}

#[tokio::test]
async fn update_metadata_and_the_project_prefixed_paths() {
    let c = start().await;
    let id = c.available(1).await;
    let prefixed = format!("/{}/volumes/{id}", c.v.project);
    let r = c
        .send(
            Method::PUT,
            &prefixed,
            &c.member,
            json!({"volume": {"name": "renamed", "description": "d"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["volume"]["name"], "renamed");
    let m = format!("/volumes/{id}/metadata");
    let r = c
        .send(
            Method::POST,
            &m,
            &c.member,
            json!({"metadata": {"a": "1", "b": "2"}}),
        )
        .await;
    assert_eq!(r.body["metadata"], json!({"a": "1", "b": "2"}));
    let r = c
        .send(
            Method::PUT,
            &format!("{m}/a"),
            &c.member,
            json!({"meta": {"a": "9"}}),
        )
        .await;
    assert_eq!(r.body["meta"], json!({"a": "9"}));
    let r = c
        .send(Method::DELETE, &format!("{m}/b"), &c.member, json!({}))
        .await;
    assert_eq!(r.status, 200);
    let r = c.get(&format!("{m}/b"), &c.member).await;
    assert_fault(&r, 404, "itemNotFound");
    let r = c
        .send(Method::PUT, &m, &c.member, json!({"metadata": {"z": "0"}}))
        .await;
    assert_eq!(r.body["metadata"], json!({"z": "0"}));
    assert_eq!(
        c.get(&m, &c.member).await.body["metadata"],
        json!({"z": "0"})
    );
}

#[tokio::test]
async fn extend_detached_through_the_backend_and_attached_through_compute() {
    let c = start().await;
    let id = c.available(1).await;
    let action = format!("/volumes/{id}/action");
    let r = c
        .send(
            Method::POST,
            &action,
            &c.member,
            json!({"os-extend": {"new_size": 1}}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .send(
            Method::POST,
            &action,
            &c.member,
            json!({"os-extend": {"new_size": 3}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let v = c
        .wait_status(&format!("/volumes/{id}"), "volume", "available")
        .await;
    assert_eq!(v["size"], 3);
    assert_eq!(c.backend.volumes()[&id], 3);
    assert_eq!(c.usage("gigabytes"), 3);
    // In use: refused below 3.42; from it, recorded and told to compute.
    let r = c
        .send(
            Method::POST,
            &action,
            &c.member,
            json!({"os-attach": {"instance_uuid": "vm1", "mountpoint": "/dev/vdb"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = c
        .send(
            Method::POST,
            &action,
            &c.member,
            json!({"os-extend": {"new_size": 4}}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    assert_eq!(c.usage("gigabytes"), 3);
    let r = c
        .at(
            "3.42",
            Method::POST,
            &action,
            &c.member,
            Some(json!({"os-extend": {"new_size": 4}})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        c.get(&format!("/volumes/{id}"), &c.member).await.body["volume"]["size"],
        4
    );
    assert_eq!(*c.events.0.lock().unwrap(), vec![(id.clone(), 4)]);
    assert_eq!(c.usage("gigabytes"), 4);
}
