//! The metadata definitions API: status codes and their effects (a
//! refused request leaves nothing behind), visibility between projects,
//! admin-only writes, Glance's error shape; the stock namespaces; the
//! metadefs schemas; an image's task list.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_glance_error, image_body, Images};
use reqwest::Method;
use serde_json::{json, Value};

const NS: &str = "/v2/metadefs/namespaces";

impl Images {
    async fn md(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> ferrostack_testkit::Reply {
        self.s.send(method, &self.url(path), token, body).await
    }

    async fn md_get(&self, path: &str, token: &str) -> ferrostack_testkit::Reply {
        self.s.get(&self.url(path), token).await
    }

    async fn namespace_names(&self, token: &str) -> Vec<String> {
        let r = self.md_get(NS, token).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["namespace"].as_str().unwrap().to_string())
            .collect()
    }
}

fn full_namespace(name: &str) -> Value {
    json!({
        "namespace": name,
        "display_name": "Full",
        "description": "with parts",
        "visibility": "private",
        "protected": true,
        "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}],
        "properties": {"cpu": {"title": "CPU", "type": "string", "enum": ["a", "b"]}},
        "objects": [{"name": "obj", "required": ["x"], "properties": {"x": {"title": "X", "type": "integer"}}}],
        "tags": [{"name": "t1"}, {"name": "t2"}],
    })
}

#[tokio::test]
async fn namespaces_are_created_whole_seen_by_their_project_and_written_by_admins() {
    let c = Images::start().await;
    let admin = c.s.admin_token().await;
    let (member, _) = c.other_project("other").await;

    // A member may not create (Glance's default policy: admin only); nothing is made.
    let r = c
        .md(Method::POST, NS, &member, json!({"namespace": "m"}))
        .await;
    assert_glance_error(&r, 403);
    assert!(c.namespace_names(&admin).await.is_empty());

    let r = c.md(Method::POST, NS, &admin, full_namespace("full")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.headers["location"], "/v2/metadefs/namespaces/full");
    assert_eq!(r.body["owner"], c.s.admin_project_id.as_str());
    assert_eq!(r.body["objects"][0]["name"], "obj");
    assert_eq!(r.body["tags"].as_array().unwrap().len(), 2);

    let shown = c.md_get(&format!("{NS}/full"), &admin).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body["properties"]["cpu"]["title"], "CPU");
    assert_eq!(shown.body["resource_type_associations"][0]["prefix"], "hw_");
    assert_eq!(shown.body["schema"], "/v2/schemas/metadefs/namespace");
    // With a resource type, names carry its prefix.
    let prefixed = c
        .md_get(
            &format!("{NS}/full?resource_type=OS::Glance::Image"),
            &admin,
        )
        .await;
    assert!(
        prefixed.body["properties"]["hw_cpu"].is_object(),
        "{}",
        prefixed.body
    );
    assert_eq!(prefixed.body["objects"][0]["required"][0], "hw_x");

    // Another project's private namespace is 404, its parts too; not listed.
    assert_glance_error(&c.md_get(&format!("{NS}/full"), &member).await, 404);
    assert_glance_error(&c.md_get(&format!("{NS}/full/objects"), &member).await, 404);
    assert!(c.namespace_names(&member).await.is_empty());

    // Duplicates are 409; bad bodies 400 in Glance's shape, nothing made.
    assert_glance_error(
        &c.md(Method::POST, NS, &admin, full_namespace("full")).await,
        409,
    );
    for bad in [
        json!({"display_name": "no name"}),
        json!({"namespace": "v", "visibility": "shared"}),
        json!({"namespace": "p", "properties": {"x": {"title": "X"}}}),
        json!({"namespace": "o", "objects": [{"name": "a"}, {"name": "a"}]}),
        json!({"namespace": "t", "tags": [{"name": "A"}, {"name": "a"}]}),
    ] {
        let r = c.md(Method::POST, NS, &admin, bad.clone()).await;
        assert!(
            r.status == 400 || r.status == 409,
            "{bad}: {} {}",
            r.status,
            r.body
        );
        assert_glance_error(&r, r.status);
    }
    let r = c
        .md(
            Method::POST,
            NS,
            &admin,
            json!({"namespace": "ro", "self": "x"}),
        )
        .await;
    assert_glance_error(&r, 403);
    assert_eq!(c.namespace_names(&admin).await, ["full"]);

    // Protected: not deleted, nor its parts.
    assert_glance_error(
        &c.md(Method::DELETE, &format!("{NS}/full"), &admin, json!(null))
            .await,
        403,
    );
    assert_glance_error(
        &c.md(
            Method::DELETE,
            &format!("{NS}/full/objects/obj"),
            &admin,
            json!(null),
        )
        .await,
        403,
    );
    assert_glance_error(
        &c.md(
            Method::DELETE,
            &format!("{NS}/full/tags"),
            &admin,
            json!(null),
        )
        .await,
        403,
    );
    assert_eq!(
        c.md_get(&format!("{NS}/full/tags"), &admin).await.body["tags"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Made public and unprotected (and renamed): the member sees it,
    // still may not change it; then it is deleted.
    let r = c
        .md(
            Method::PUT,
            &format!("{NS}/full"),
            &admin,
            json!({"namespace": "renamed", "visibility": "public", "protected": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["protected"], false);
    assert_glance_error(&c.md_get(&format!("{NS}/full"), &admin).await, 404);
    let seen = c.md_get(&format!("{NS}/renamed"), &member).await;
    assert_eq!(seen.status, 200);
    assert_eq!(
        seen.body["objects"][0]["name"], "obj",
        "parts move with the rename"
    );
    assert_glance_error(
        &c.md(
            Method::DELETE,
            &format!("{NS}/renamed"),
            &member,
            json!(null),
        )
        .await,
        403,
    );
    let r = c
        .md(
            Method::DELETE,
            &format!("{NS}/renamed"),
            &admin,
            json!(null),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_glance_error(&c.md_get(&format!("{NS}/renamed"), &admin).await, 404);
}

#[tokio::test]
async fn list_filters_sorts_and_pages() {
    let c = Images::start().await;
    let admin = c.s.admin_token().await;
    for (name, vis) in [("a", "public"), ("b", "private"), ("c", "public")] {
        let r = c
            .md(
                Method::POST,
                NS,
                &admin,
                json!({"namespace": name, "visibility": vis}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = c
        .md_get(
            &format!("{NS}?visibility=public&sort_key=namespace&sort_dir=asc"),
            &admin,
        )
        .await;
    let names: Vec<_> = r.body["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["namespace"].clone())
        .collect();
    assert_eq!(names, [json!("a"), json!("c")]);
    let r = c
        .md_get(
            &format!("{NS}?sort_key=namespace&sort_dir=asc&limit=2"),
            &admin,
        )
        .await;
    assert_eq!(r.body["namespaces"].as_array().unwrap().len(), 2);
    let next = r.body["next"].as_str().unwrap().to_string();
    assert!(next.contains("marker=b"), "{next}");
    let r = c.md_get(&next, &admin).await;
    assert_eq!(r.body["namespaces"][0]["namespace"], "c");
    assert_glance_error(
        &c.md_get(&format!("{NS}?visibility=shared"), &admin).await,
        400,
    );
    assert_glance_error(&c.md_get(&format!("{NS}?sort_dir=up"), &admin).await, 400);
    assert_glance_error(&c.md_get(&format!("{NS}?marker=zz"), &admin).await, 404);
}

#[tokio::test]
async fn objects_properties_tags_and_resource_types() {
    let c = Images::start().await;
    let admin = c.s.admin_token().await;
    let r = c
        .md(
            Method::POST,
            NS,
            &admin,
            json!({"namespace": "n", "visibility": "public"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let (member, _) = c.other_project("other").await;

    // Objects.
    let objs = format!("{NS}/n/objects");
    let r = c
        .md(
            Method::POST,
            &objs,
            &admin,
            json!({"name": "o1", "description": "d"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["self"], "/v2/metadefs/namespaces/n/objects/o1");
    assert_glance_error(
        &c.md(Method::POST, &objs, &admin, json!({"name": "o1"}))
            .await,
        409,
    );
    assert_glance_error(
        &c.md(Method::POST, &objs, &member, json!({"name": "o2"}))
            .await,
        403,
    );
    let r = c
        .md(
            Method::PUT,
            &format!("{objs}/o1"),
            &admin,
            json!({"name": "o9"}),
        )
        .await;
    assert_eq!(r.body["name"], "o9");
    assert_glance_error(&c.md_get(&format!("{objs}/o1"), &member).await, 404);
    assert_eq!(c.md_get(&format!("{objs}/o9"), &member).await.status, 200);
    assert_eq!(
        c.md(Method::DELETE, &format!("{objs}/o9"), &admin, json!(null))
            .await
            .status,
        204
    );
    assert!(c.md_get(&objs, &admin).await.body["objects"]
        .as_array()
        .unwrap()
        .is_empty());

    // Properties.
    let props = format!("{NS}/n/properties");
    let p = json!({"name": "p1", "title": "P", "type": "string", "enum": ["x"]});
    let r = c.md(Method::POST, &props, &admin, p.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["title"], "P");
    assert_glance_error(&c.md(Method::POST, &props, &admin, p).await, 409);
    let r = c
        .md(
            Method::POST,
            &props,
            &admin,
            json!({"name": "p2", "title": "T", "type": "colour"}),
        )
        .await;
    assert_glance_error(&r, 400);
    let r = c
        .md(
            Method::PUT,
            &format!("{props}/p1"),
            &admin,
            json!({"name": "p1", "title": "Q", "type": "string"}),
        )
        .await;
    assert_eq!(r.body["title"], "Q");
    let listed = c.md_get(&props, &admin).await;
    assert_eq!(listed.body["properties"].as_object().unwrap().len(), 1);
    assert_eq!(
        c.md(Method::DELETE, &format!("{props}/p1"), &admin, json!(null))
            .await
            .status,
        204
    );
    assert_glance_error(&c.md_get(&format!("{props}/p1"), &admin).await, 404);

    // Tags: bulk replace, append, case-insensitive duplicates refused whole.
    let tags = format!("{NS}/n/tags");
    let r = c
        .md(
            Method::POST,
            &tags,
            &admin,
            json!({"tags": [{"name": "a"}, {"name": "b"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r =
        c.s.call(
            c.s.req(Method::POST, &c.url(&tags), &admin)
                .header("X-Openstack-Append", "True")
                .json(&json!({"tags": [{"name": "c"}, {"name": "A"}]})),
        )
        .await;
    assert_glance_error(&r, 409);
    assert_eq!(
        c.md_get(&tags, &admin).await.body["tags"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r =
        c.s.call(
            c.s.req(Method::POST, &c.url(&tags), &admin)
                .header("X-Openstack-Append", "True")
                .json(&json!({"tags": [{"name": "c"}]})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        c.md_get(&tags, &admin).await.body["tags"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let r = c
        .md(
            Method::POST,
            &tags,
            &admin,
            json!({"tags": [{"name": "z"}]}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        c.md_get(&tags, &admin).await.body["tags"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        c.md(Method::POST, &format!("{tags}/single"), &admin, json!(null))
            .await
            .status,
        201
    );
    assert_glance_error(
        &c.md(Method::POST, &format!("{tags}/SINGLE"), &admin, json!(null))
            .await,
        409,
    );
    let r = c
        .md(
            Method::PUT,
            &format!("{tags}/single"),
            &admin,
            json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(r.body["name"], "renamed");
    assert_eq!(
        c.md_get(&format!("{tags}/renamed"), &member).await.status,
        200
    );
    assert_eq!(
        c.md(Method::DELETE, &tags, &admin, json!(null))
            .await
            .status,
        204
    );
    assert!(c.md_get(&tags, &admin).await.body["tags"]
        .as_array()
        .unwrap()
        .is_empty());

    // Resource types: an association creates the type; it outlives it.
    let rts = format!("{NS}/n/resource_types");
    let r = c
        .md(
            Method::POST,
            &rts,
            &admin,
            json!({"name": "OS::Nova::Flavor", "prefix": "x_"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_glance_error(
        &c.md(
            Method::POST,
            &rts,
            &admin,
            json!({"name": "OS::Nova::Flavor"}),
        )
        .await,
        409,
    );
    let listed = c.md_get(&rts, &member).await;
    assert_eq!(
        listed.body["resource_type_associations"][0]["name"],
        "OS::Nova::Flavor"
    );
    let filtered = c
        .md_get(&format!("{NS}?resource_types=OS::Nova::Flavor"), &member)
        .await;
    assert_eq!(filtered.body["namespaces"].as_array().unwrap().len(), 1);
    assert_eq!(
        c.md(
            Method::DELETE,
            &format!("{rts}/OS::Nova::Flavor"),
            &admin,
            json!(null)
        )
        .await
        .status,
        204
    );
    assert_glance_error(
        &c.md(
            Method::DELETE,
            &format!("{rts}/OS::Nova::Flavor"),
            &admin,
            json!(null),
        )
        .await,
        404,
    );
    let types = c.md_get("/v2/metadefs/resource_types", &member).await;
    assert_eq!(types.body["resource_types"][0]["name"], "OS::Nova::Flavor");
}

#[tokio::test]
async fn stock_namespaces_load_once_and_schemas_and_tasks_answer() {
    let c = Images::start().await;
    let admin = c.s.admin_token().await;
    let (member, _) = c.other_project("other").await;
    let made = ferrostack_image::metadefs::stock::load(&c.s.store).unwrap();
    assert_eq!(made, ferrostack_image::metadefs::stock::FILES.len());
    assert_eq!(
        ferrostack_image::metadefs::stock::load(&c.s.store).unwrap(),
        0
    );
    let r = c
        .md_get(&format!("{NS}/OS::Compute::Hypervisor"), &member)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["protected"], true);
    let types = c.md_get("/v2/metadefs/resource_types", &member).await;
    assert!(types.body["resource_types"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "OS::Glance::Image"));

    for (path, name) in [
        ("namespace", "namespace"),
        ("resource_types", "resource_type_associations"),
        ("tags", "tags"),
    ] {
        let r = c
            .md_get(&format!("/v2/schemas/metadefs/{path}"), &member)
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["name"], name);
    }

    let image = c.create(&admin, image_body("i", "raw")).await;
    let id = image["id"].as_str().unwrap();
    let r = c.md_get(&format!("/v2/images/{id}/tasks"), &admin).await;
    assert_eq!(r.body, json!({"tasks": []}));
    assert_glance_error(
        &c.md_get(&format!("/v2/images/{id}/tasks"), &member).await,
        404,
    );
}
