//! Flavors through HTTP: create, show, list (filters, sorting, paging),
//! update, delete, extra specs, access lists, microversion differences,
//! and bad input answered in Nova's shape with nothing created.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, keys, Compute};
use reqwest::Method;
use serde_json::{json, Value};

impl Compute {
    async fn flavor(&self, admin: &str, body: Value) -> Value {
        let r = self
            .at(
                Method::POST,
                "/flavors",
                admin,
                "",
                Some(json!({ "flavor": body })),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["flavor"].clone()
    }

    async fn tiny(&self, admin: &str, name: &str, id: &str) -> Value {
        self.flavor(
            admin,
            json!({"name": name, "ram": 512, "vcpus": 1, "disk": 1, "id": id}),
        )
        .await
    }

    async fn names(&self, path: &str, token: &str) -> Vec<String> {
        let r = self.s.get(&self.url(path), token).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.body["flavors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect()
    }
}

#[tokio::test]
async fn the_flavor_list_starts_empty() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let r = c.s.get(&c.url("/flavors"), &admin).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"flavors": []}));
}

#[tokio::test]
async fn create_then_show_at_2_1() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let made = c.tiny(&admin, "m1.tiny", "1").await;
    assert_eq!(made["id"], "1");
    assert_eq!(made["swap"], "");
    assert_eq!(made["OS-FLV-EXT-DATA:ephemeral"], 0);
    assert_eq!(made["OS-FLV-DISABLED:disabled"], false);
    assert_eq!(made["os-flavor-access:is_public"], true);
    assert_eq!(made["rxtx_factor"], 1.0);
    assert_eq!(made["links"][0]["href"], format!("{}/flavors/1", c.api));
    assert_eq!(made["links"][1]["href"], format!("{}/flavors/1", c.root));
    let r = c.s.get(&c.url("/flavors/1"), &admin).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["flavor"], made);
    assert_eq!(
        keys(&made),
        ferrostack_compute_types::flavor::detail_keys(ferrostack_compute_types::ApiVersion::new(
            2, 1
        ))
    );
}

#[tokio::test]
async fn without_an_id_the_flavor_gets_a_uuid() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let made = c
        .flavor(
            &admin,
            json!({"name": "a", "ram": 1, "vcpus": 1, "disk": 0}),
        )
        .await;
    assert!(
        ferrostack_common::ids::is_uuid(made["id"].as_str().unwrap()),
        "{made}"
    );
    let auto = c
        .flavor(
            &admin,
            json!({"name": "b", "ram": 1, "vcpus": 1, "disk": 0, "id": "auto"}),
        )
        .await;
    assert!(
        ferrostack_common::ids::is_uuid(auto["id"].as_str().unwrap()),
        "{auto}"
    );
}

#[tokio::test]
async fn views_follow_the_microversion() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.tiny(&admin, "m1.tiny", "1").await;
    c.s.send(
        Method::POST,
        &c.url("/flavors/1/os-extra_specs"),
        &admin,
        json!({"extra_specs": {"hw:cpu_policy": "shared"}}),
    )
    .await;
    let at = |v: &'static str| c.get_at("/flavors/1", &admin, v);
    let f54 = at("2.54").await.body["flavor"].clone();
    assert!(f54.get("description").is_none());
    let f55 = at("2.55").await.body["flavor"].clone();
    assert_eq!(f55["description"], Value::Null);
    assert!(f55.get("extra_specs").is_none());
    let f61 = at("2.61").await.body["flavor"].clone();
    assert_eq!(f61["extra_specs"], json!({"hw:cpu_policy": "shared"}));
    assert_eq!(f61["swap"], "");
    let f75 = at("2.75").await.body["flavor"].clone();
    assert_eq!(f75["swap"], 0);
    let brief55 = c.get_at("/flavors", &admin, "2.55").await.body["flavors"][0].clone();
    assert_eq!(keys(&brief55), ["description", "id", "links", "name"]);
    let brief = c.get_at("/flavors", &admin, "2.1").await.body["flavors"][0].clone();
    assert_eq!(keys(&brief), ["id", "links", "name"]);
    let detail96 = c.get_at("/flavors/detail", &admin, "2.96").await.body["flavors"][0].clone();
    assert_eq!(detail96["extra_specs"]["hw:cpu_policy"], "shared");
}

#[tokio::test]
async fn description_is_set_at_create_and_update_from_2_55() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    let body = json!({"flavor": {"name": "d", "ram": 1, "vcpus": 1, "disk": 1, "id": "d", "description": "first"}});
    let r = c
        .at(Method::POST, "/flavors", &admin, "2.54", Some(body.clone()))
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .at(Method::POST, "/flavors", &admin, "2.55", Some(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["flavor"]["description"], "first");
    let put = json!({"flavor": {"description": "second"}});
    let old = c
        .at(Method::PUT, "/flavors/d", &admin, "2.54", Some(put.clone()))
        .await;
    assert_fault(&old, 404, "itemNotFound");
    let r = c
        .at(Method::PUT, "/flavors/d", &admin, "2.55", Some(put))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["flavor"]["description"], "second");
    let bad = c
        .at(
            Method::PUT,
            "/flavors/d",
            &admin,
            "2.55",
            Some(json!({"flavor": {"name": "x"}})),
        )
        .await;
    assert_fault(&bad, 400, "badRequest");
    let missing = c
        .at(
            Method::PUT,
            "/flavors/nope",
            &admin,
            "2.55",
            Some(json!({"flavor": {"description": "x"}})),
        )
        .await;
    assert_fault(&missing, 404, "itemNotFound");
}

#[tokio::test]
async fn duplicate_name_or_id_is_409_and_creates_nothing() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.tiny(&admin, "m1.tiny", "1").await;
    for (name, id) in [("m1.tiny", "2"), ("other", "1")] {
        let r = c
            .at(
                Method::POST,
                "/flavors",
                &admin,
                "",
                Some(json!({"flavor": {"name": name, "ram": 1, "vcpus": 1, "disk": 1, "id": id}})),
            )
            .await;
        let m = assert_fault(&r, 409, "conflictingRequest");
        assert!(m.contains("already exists"), "{m}");
    }
    assert_eq!(
        c.names("/flavors?is_public=None", &admin).await,
        ["m1.tiny"]
    );
}

#[tokio::test]
async fn bad_create_bodies_are_400_and_create_nothing() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    for body in [
        json!({"flavor": {"name": "x", "ram": 0, "vcpus": 1, "disk": 1}}),
        json!({"flavor": {"name": "x", "ram": "big", "vcpus": 1, "disk": 1}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1}}),
        json!({"flavor": {"name": " x", "ram": 1, "vcpus": 1, "disk": 1}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "swap": -1}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "id": "no/slash"}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "rxtx_factor": -1}}),
        json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 1, "color": "red"}}),
        json!({"flavour": {}}),
    ] {
        let r = c
            .at(Method::POST, "/flavors", &admin, "", Some(body.clone()))
            .await;
        let m = assert_fault(&r, 400, "badRequest");
        assert!(!m.is_empty(), "{body}");
    }
    let raw =
        c.s.call(
            c.s.req(Method::POST, &c.url("/flavors"), &admin)
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_fault(&raw, 400, "badRequest");
    assert!(c.names("/flavors?is_public=None", &admin).await.is_empty());
}

#[tokio::test]
async fn only_admins_create_update_and_delete() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    c.tiny(&p.admin, "m1.tiny", "1").await;
    let body = json!({"flavor": {"name": "y", "ram": 1, "vcpus": 1, "disk": 1}});
    for token in [&p.member, &p.reader] {
        let r = c
            .at(Method::POST, "/flavors", token, "", Some(body.clone()))
            .await;
        assert_fault(&r, 403, "forbidden");
        let r = c.at(Method::DELETE, "/flavors/1", token, "", None).await;
        assert_fault(&r, 403, "forbidden");
        let r = c
            .at(
                Method::POST,
                "/flavors/1/os-extra_specs",
                token,
                "",
                Some(json!({"extra_specs": {"a": "b"}})),
            )
            .await;
        assert_fault(&r, 403, "forbidden");
        // Reading is fine.
        assert_eq!(c.s.get(&c.url("/flavors/1"), token).await.status, 200);
    }
    assert_eq!(c.names("/flavors", &p.admin).await, ["m1.tiny"]);
}

#[tokio::test]
async fn delete_is_202_then_404() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.tiny(&admin, "m1.tiny", "1").await;
    let r = c.at(Method::DELETE, "/flavors/1", &admin, "", None).await;
    assert_eq!(r.status, 202);
    assert_fault(
        &c.s.get(&c.url("/flavors/1"), &admin).await,
        404,
        "itemNotFound",
    );
    let again = c.at(Method::DELETE, "/flavors/1", &admin, "", None).await;
    assert_fault(&again, 404, "itemNotFound");
    // The id and name are free again.
    c.tiny(&admin, "m1.tiny", "1").await;
}

#[tokio::test]
async fn is_public_filters_for_admins_only() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    c.tiny(&p.admin, "public", "1").await;
    c.flavor(
        &p.admin,
        json!({"name": "private", "ram": 1, "vcpus": 1, "disk": 1, "id": "2",
        "os-flavor-access:is_public": false}),
    )
    .await;
    assert_eq!(c.names("/flavors", &p.admin).await, ["public"]);
    assert_eq!(
        c.names("/flavors?is_public=None", &p.admin).await,
        ["public", "private"]
    );
    assert_eq!(
        c.names("/flavors?is_public=false", &p.admin).await,
        ["private"]
    );
    assert_eq!(
        c.names("/flavors?is_public=true", &p.admin).await,
        ["public"]
    );
    let bad =
        c.s.get(&c.url("/flavors?is_public=perhaps"), &p.admin)
            .await;
    assert_fault(&bad, 400, "badRequest");
    // A member's is_public is ignored: public ones only.
    assert_eq!(
        c.names("/flavors?is_public=None", &p.member).await,
        ["public"]
    );
    assert_eq!(
        c.names("/flavors/detail?is_public=false", &p.member).await,
        ["public"]
    );
}

#[tokio::test]
async fn a_private_flavor_is_seen_only_by_projects_given_access() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    c.flavor(
        &p.admin,
        json!({"name": "private", "ram": 1, "vcpus": 1, "disk": 1, "id": "p",
        "os-flavor-access:is_public": false}),
    )
    .await;
    assert_fault(
        &c.s.get(&c.url("/flavors/p"), &p.member).await,
        404,
        "itemNotFound",
    );
    assert_fault(
        &c.s.get(&c.url("/flavors/p/os-extra_specs"), &p.member)
            .await,
        404,
        "itemNotFound",
    );
    let r = c
        .at(
            Method::POST,
            "/flavors/p/action",
            &p.admin,
            "",
            Some(json!({"addTenantAccess": {"tenant": c.project}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"flavor_access": [{"flavor_id": "p", "tenant_id": c.project}]})
    );
    assert_eq!(c.s.get(&c.url("/flavors/p"), &p.member).await.status, 200);
    assert_eq!(c.names("/flavors", &p.member).await, ["private"]);
    assert_eq!(c.names("/flavors", &p.outsider).await, Vec::<String>::new());
    assert_fault(
        &c.s.get(&c.url("/flavors/p"), &p.outsider).await,
        404,
        "itemNotFound",
    );
    let list =
        c.s.get(&c.url("/flavors/p/os-flavor-access"), &p.admin)
            .await;
    assert_eq!(list.body["flavor_access"][0]["tenant_id"], json!(c.project));
    assert_fault(
        &c.s.get(&c.url("/flavors/p/os-flavor-access"), &p.member)
            .await,
        403,
        "forbidden",
    );
    // Twice is a conflict; removing takes the access away.
    let twice = c
        .at(
            Method::POST,
            "/flavors/p/action",
            &p.admin,
            "",
            Some(json!({"addTenantAccess": {"tenant": c.project}})),
        )
        .await;
    assert_fault(&twice, 409, "conflictingRequest");
    let r = c
        .at(
            Method::POST,
            "/flavors/p/action",
            &p.admin,
            "",
            Some(json!({"removeTenantAccess": {"tenant": c.project}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"flavor_access": []}));
    assert_fault(
        &c.s.get(&c.url("/flavors/p"), &p.member).await,
        404,
        "itemNotFound",
    );
    let gone = c
        .at(
            Method::POST,
            "/flavors/p/action",
            &p.admin,
            "",
            Some(json!({"removeTenantAccess": {"tenant": c.project}})),
        )
        .await;
    assert_fault(&gone, 404, "itemNotFound");
}

#[tokio::test]
async fn access_actions_refuse_public_flavors_unknown_projects_and_actions() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.tiny(&admin, "public", "1").await;
    c.flavor(
        &admin,
        json!({"name": "private", "ram": 1, "vcpus": 1, "disk": 1, "id": "p",
        "os-flavor-access:is_public": false}),
    )
    .await;
    let r = c
        .at(
            Method::POST,
            "/flavors/1/action",
            &admin,
            "2.7",
            Some(json!({"addTenantAccess": {"tenant": c.project}})),
        )
        .await;
    assert_fault(&r, 409, "conflictingRequest");
    // Before 2.7 Nova records it.
    let r = c
        .at(
            Method::POST,
            "/flavors/1/action",
            &admin,
            "2.6",
            Some(json!({"addTenantAccess": {"tenant": c.project}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_fault(
        &c.s.get(&c.url("/flavors/1/os-flavor-access"), &admin).await,
        404,
        "itemNotFound",
    );
    let r = c
        .at(
            Method::POST,
            "/flavors/p/action",
            &admin,
            "",
            Some(json!({"addTenantAccess": {"tenant": "no-such-project"}})),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .at(
            Method::POST,
            "/flavors/p/action",
            &admin,
            "",
            Some(json!({"fly": {}})),
        )
        .await;
    assert_eq!(
        assert_fault(&r, 400, "badRequest"),
        "There is no such action: fly"
    );
    let r = c
        .at(
            Method::POST,
            "/flavors/p/action",
            &admin,
            "",
            Some(json!({"addTenantAccess": {}})),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let list = c.s.get(&c.url("/flavors/p/os-flavor-access"), &admin).await;
    assert_eq!(list.body, json!({"flavor_access": []}));
}

#[tokio::test]
async fn min_filters_sorting_and_paging() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    for (id, name, ram, disk) in [
        ("a", "small", 512, 1),
        ("b", "medium", 2048, 20),
        ("c", "large", 8192, 80),
    ] {
        c.flavor(
            &admin,
            json!({"name": name, "ram": ram, "vcpus": 1, "disk": disk, "id": id}),
        )
        .await;
    }
    assert_eq!(
        c.names("/flavors", &admin).await,
        ["small", "medium", "large"]
    );
    assert_eq!(
        c.names("/flavors?minRam=2048", &admin).await,
        ["medium", "large"]
    );
    assert_eq!(
        c.names("/flavors/detail?minDisk=50", &admin).await,
        ["large"]
    );
    assert_eq!(
        c.names("/flavors?sort_key=name", &admin).await,
        ["large", "medium", "small"]
    );
    assert_eq!(
        c.names("/flavors?sort_key=memory_mb&sort_dir=desc", &admin)
            .await,
        ["large", "medium", "small"]
    );
    for bad in [
        "/flavors?minRam=lots",
        "/flavors?sort_key=colour",
        "/flavors?sort_dir=up",
        "/flavors?limit=-1",
        "/flavors?marker=zzz",
    ] {
        assert_fault(&c.s.get(&c.url(bad), &admin).await, 400, "badRequest");
    }
    // Paging: a full page carries a next link that continues after its last flavor.
    let r = c.s.get(&c.url("/flavors?limit=2"), &admin).await;
    assert_eq!(r.body["flavors"].as_array().unwrap().len(), 2);
    let next = r.body["flavors_links"][0]["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(r.body["flavors_links"][0]["rel"], "next");
    assert!(
        next.starts_with(&c.url("/flavors?")) && next.contains("marker=b"),
        "{next}"
    );
    let r2 = c.s.get(&next, &admin).await;
    assert_eq!(r2.body["flavors"][0]["id"], "c");
    assert!(r2.body.get("flavors_links").is_none(), "{}", r2.body);
    let r3 =
        c.s.get(
            &c.url("/flavors/detail?sort_key=name&limit=1&marker=c"),
            &admin,
        )
        .await;
    assert_eq!(r3.body["flavors"][0]["name"], "medium");
    assert!(r3.body["flavors_links"][0]["href"]
        .as_str()
        .unwrap()
        .contains("/flavors/detail?"));
}

#[tokio::test]
async fn unknown_query_parameters_are_refused_from_2_75() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    assert_eq!(
        c.get_at("/flavors?colour=red", &admin, "2.74").await.status,
        200
    );
    let r = c.get_at("/flavors?colour=red", &admin, "2.75").await;
    assert_fault(&r, 400, "badRequest");
}

#[tokio::test]
async fn extra_specs_crud() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    c.tiny(&p.admin, "m1.tiny", "1").await;
    let r = c
        .at(
            Method::POST,
            "/flavors/1/os-extra_specs",
            &p.admin,
            "",
            Some(json!({"extra_specs": {"hw:cpu_policy": "shared", "quota:cpu_shares": 1024}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["extra_specs"]["hw:cpu_policy"], "shared");
    let list =
        c.s.get(&c.url("/flavors/1/os-extra_specs"), &p.reader)
            .await;
    assert_eq!(
        list.body,
        json!({"extra_specs": {"hw:cpu_policy": "shared", "quota:cpu_shares": "1024"}})
    );
    let one =
        c.s.get(&c.url("/flavors/1/os-extra_specs/hw:cpu_policy"), &p.member)
            .await;
    assert_eq!(one.body, json!({"hw:cpu_policy": "shared"}));
    let put = c
        .at(
            Method::PUT,
            "/flavors/1/os-extra_specs/hw:cpu_policy",
            &p.admin,
            "",
            Some(json!({"hw:cpu_policy": "dedicated"})),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let mismatch = c
        .at(
            Method::PUT,
            "/flavors/1/os-extra_specs/hw:cpu_policy",
            &p.admin,
            "",
            Some(json!({"other": "x"})),
        )
        .await;
    assert_eq!(
        assert_fault(&mismatch, 400, "badRequest"),
        "Request body and URI mismatch"
    );
    let many = c
        .at(
            Method::PUT,
            "/flavors/1/os-extra_specs/a",
            &p.admin,
            "",
            Some(json!({"a": "1", "b": "2"})),
        )
        .await;
    assert_fault(&many, 400, "badRequest");
    let del = c
        .at(
            Method::DELETE,
            "/flavors/1/os-extra_specs/quota:cpu_shares",
            &p.admin,
            "",
            None,
        )
        .await;
    assert_eq!(del.status, 200);
    let gone =
        c.s.get(
            &c.url("/flavors/1/os-extra_specs/quota:cpu_shares"),
            &p.admin,
        )
        .await;
    assert_fault(&gone, 404, "itemNotFound");
    let list = c.s.get(&c.url("/flavors/1/os-extra_specs"), &p.admin).await;
    assert_eq!(
        list.body,
        json!({"extra_specs": {"hw:cpu_policy": "dedicated"}})
    );
    let missing =
        c.s.get(&c.url("/flavors/nope/os-extra_specs"), &p.admin)
            .await;
    assert_fault(&missing, 404, "itemNotFound");
}

#[tokio::test]
async fn bad_extra_specs_are_400_and_change_nothing() {
    let c = Compute::start().await;
    let admin = c.s.admin_token().await;
    c.tiny(&admin, "m1.tiny", "1").await;
    for body in [
        json!({"extra_specs": {"bad/key": "x"}}),
        json!({"extra_specs": {"k": {"nested": 1}}}),
        json!({"extra_specs": {"k": "v"}, "more": 1}),
        json!({"specs": {}}),
    ] {
        let r = c
            .at(
                Method::POST,
                "/flavors/1/os-extra_specs",
                &admin,
                "",
                Some(body),
            )
            .await;
        assert_fault(&r, 400, "badRequest");
    }
    let invalid = json!({"extra_specs": {"hw:cpu_policy": "sometimes"}});
    let r = c
        .at(
            Method::POST,
            "/flavors/1/os-extra_specs",
            &admin,
            "2.86",
            Some(invalid.clone()),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let list = c.s.get(&c.url("/flavors/1/os-extra_specs"), &admin).await;
    assert_eq!(list.body, json!({"extra_specs": {}}));
    // Before 2.86 Nova did not validate.
    let r = c
        .at(
            Method::POST,
            "/flavors/1/os-extra_specs",
            &admin,
            "2.85",
            Some(invalid),
        )
        .await;
    assert_eq!(r.status, 200);
}
