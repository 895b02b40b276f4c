//! Server groups through HTTP: create, show, list, delete, the shapes of
//! each microversion, project isolation, members and the `server_groups`
//! quota.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, keys, Compute};
use ferrostack_store::server::{Instance, ServerStore};
use reqwest::Method;
use serde_json::json;

impl Compute {
    /// Create a group the pre-2.64 way; return its id.
    async fn group(&self, token: &str, name: &str, policy: &str) -> String {
        let r = self
            .at(
                Method::POST,
                "/os-server-groups",
                token,
                "",
                Some(json!({"server_group": {"name": name, "policies": [policy]}})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["server_group"]["id"].as_str().unwrap().to_string()
    }

    async fn group_names(&self, token: &str, query: &str) -> Vec<String> {
        let r = self
            .at(
                Method::GET,
                &format!("/os-server-groups{query}"),
                token,
                "",
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["server_groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_string())
            .collect()
    }
}

fn instance(uuid: &str, project: &str, deleted: bool) -> Instance {
    Instance {
        seq: 0,
        uuid: uuid.into(),
        project_id: project.into(),
        user_id: "u".into(),
        name: format!("vm-{uuid}"),
        host: Some("host1".into()),
        vm_state: "active".into(),
        task_state: None,
        power_state: 1,
        doc: json!({}),
        desired: None,
        generation: 0,
        observed: None,
        created_at: 1,
        updated_at: 1,
        deleted_at: deleted.then_some(2),
    }
}

#[tokio::test]
async fn create_show_list_and_delete_at_2_1() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let r = c
        .at(
            Method::POST,
            "/os-server-groups",
            &p.member,
            "",
            Some(json!({"server_group": {"name": "web", "policies": ["anti-affinity"]}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let g = &r.body["server_group"];
    assert_eq!(keys(g), ["id", "members", "metadata", "name", "policies"]);
    assert_eq!(g["policies"], json!(["anti-affinity"]));
    assert_eq!(g["metadata"], json!({}));
    assert_eq!(g["members"], json!([]));
    let id = g["id"].as_str().unwrap();
    let path = format!("/os-server-groups/{id}");
    let shown = c.at(Method::GET, &path, &p.reader, "", None).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.body["server_group"], *g);
    assert_eq!(c.group_names(&p.reader, "").await, ["web"]);
    let del = c.at(Method::DELETE, &path, &p.member, "", None).await;
    assert_eq!(del.status, 204, "{}", del.body);
    let gone = c.at(Method::GET, &path, &p.member, "", None).await;
    let m = assert_fault(&gone, 404, "itemNotFound");
    assert_eq!(m, format!("Instance group {id} could not be found."));
}

#[tokio::test]
async fn each_microversion_has_its_shape() {
    let c = Compute::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.group(&member, "g", "affinity").await;
    let path = format!("/os-server-groups/{id}");
    let at = |v: &'static str| c.at(Method::GET, &path, &member, v, None);
    let r = at("2.13").await;
    assert_eq!(
        keys(&r.body["server_group"]),
        [
            "id",
            "members",
            "metadata",
            "name",
            "policies",
            "project_id",
            "user_id"
        ]
    );
    assert_eq!(r.body["server_group"]["project_id"], json!(c.project));
    let r = at("2.64").await;
    assert_eq!(
        keys(&r.body["server_group"]),
        [
            "id",
            "members",
            "name",
            "policy",
            "project_id",
            "rules",
            "user_id"
        ]
    );
    assert_eq!(r.body["server_group"]["policy"], "affinity");
    assert_eq!(r.body["server_group"]["rules"], json!({}));

    // Soft policies from 2.15.
    let soft = json!({"server_group": {"name": "s", "policies": ["soft-anti-affinity"]}});
    let r = c
        .at(
            Method::POST,
            "/os-server-groups",
            &member,
            "2.14",
            Some(soft.clone()),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .at(
            Method::POST,
            "/os-server-groups",
            &member,
            "2.15",
            Some(soft.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["server_group"]["policies"],
        json!(["soft-anti-affinity"])
    );

    // 2.64: policy and rules, and policies refused.
    let r = c
        .at(
            Method::POST,
            "/os-server-groups",
            &member,
            "2.64",
            Some(soft),
        )
        .await;
    let m = assert_fault(&r, 400, "badRequest");
    assert!(m.contains("'policies' was unexpected"), "{m}");
    let r = c
        .at(
            Method::POST,
            "/os-server-groups",
            &member,
            "2.64",
            Some(
                json!({"server_group": {"name": "r", "policy": "anti-affinity",
                "rules": {"max_server_per_host": 3}}}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["server_group"]["rules"],
        json!({"max_server_per_host": 3})
    );
    let r = c
        .at(
            Method::POST,
            "/os-server-groups",
            &member,
            "2.64",
            Some(json!({"server_group": {"name": "r", "policy": "affinity",
                "rules": {"max_server_per_host": 3}}})),
        )
        .await;
    let m = assert_fault(&r, 400, "badRequest");
    assert_eq!(m, "Only anti-affinity policy supports rules.");
}

#[tokio::test]
async fn another_projects_group_is_not_found_except_for_admins() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let id = c.group(&p.member, "mine", "affinity").await;
    let path = format!("/os-server-groups/{id}");
    for method in [Method::GET, Method::DELETE] {
        let r = c.at(method, &path, &p.outsider, "", None).await;
        assert_fault(&r, 404, "itemNotFound");
    }
    assert!(c.group_names(&p.outsider, "").await.is_empty());
    // A non-admin's all_projects is ignored, as Nova ignores it.
    assert!(c
        .group_names(&p.outsider, "?all_projects=True")
        .await
        .is_empty());
    // Admins see every project's with all_projects, and any by id.
    assert!(c.group_names(&p.admin, "").await.is_empty());
    assert_eq!(c.group_names(&p.admin, "?all_projects=1").await, ["mine"]);
    let shown = c.at(Method::GET, &path, &p.admin, "", None).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    // Readers may look but not create.
    let r = c
        .at(
            Method::POST,
            "/os-server-groups",
            &p.reader,
            "",
            Some(json!({"server_group": {"name": "x", "policies": ["affinity"]}})),
        )
        .await;
    assert_fault(&r, 403, "forbidden");
}

#[tokio::test]
async fn lists_page_with_limit_and_offset() {
    let c = Compute::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    for name in ["a", "b", "c"] {
        c.group(&member, name, "affinity").await;
    }
    assert_eq!(c.group_names(&member, "?limit=2").await, ["a", "b"]);
    assert_eq!(c.group_names(&member, "?offset=1").await, ["b", "c"]);
    assert_eq!(c.group_names(&member, "?limit=1&offset=2").await, ["c"]);
    let r = c
        .at(Method::GET, "/os-server-groups?limit=x", &member, "", None)
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .at(
            Method::GET,
            "/os-server-groups?bogus=1",
            &member,
            "2.75",
            None,
        )
        .await;
    assert_fault(&r, 400, "badRequest");
}

#[tokio::test]
async fn members_are_the_servers_not_deleted() {
    let c = Compute::start().await;
    let member = c.s.user_token("m", &c.project, "member").await;
    let id = c.group(&member, "g", "anti-affinity").await;
    let (live, dead) = (
        "11111111-1111-1111-1111-111111111111",
        "22222222-2222-2222-2222-222222222222",
    );
    c.s.store
        .create_instance(&instance(live, &c.project, false))
        .unwrap();
    c.s.store
        .create_instance(&instance(dead, &c.project, true))
        .unwrap();
    c.s.store
        .modify_group(&id, &mut |g| {
            g.members = vec![live.into(), dead.into()];
            Ok(())
        })
        .unwrap();
    let r = c
        .at(
            Method::GET,
            &format!("/os-server-groups/{id}"),
            &member,
            "",
            None,
        )
        .await;
    assert_eq!(r.body["server_group"]["members"], json!([live]));
}

#[tokio::test]
async fn the_server_groups_quota_is_taken_and_given_back() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let set =
        c.s.send(
            Method::PUT,
            &c.url(&format!("/os-quota-sets/{}", c.project)),
            &p.admin,
            json!({"quota_set": {"server_groups": 1}}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let first = c.group(&p.member, "one", "affinity").await;
    let body = json!({"server_group": {"name": "two", "policies": ["affinity"]}});
    let r = c
        .at(
            Method::POST,
            "/os-server-groups",
            &p.member,
            "",
            Some(body.clone()),
        )
        .await;
    let m = assert_fault(&r, 403, "forbidden");
    assert_eq!(m, "Quota exceeded, too many server groups.");
    assert_eq!(c.group_names(&p.member, "").await, ["one"]);
    let detail =
        c.s.get(
            &c.url(&format!("/os-quota-sets/{}/detail", c.project)),
            &p.admin,
        )
        .await;
    assert_eq!(detail.body["quota_set"]["server_groups"]["in_use"], 1);
    let del = c
        .at(
            Method::DELETE,
            &format!("/os-server-groups/{first}"),
            &p.member,
            "",
            None,
        )
        .await;
    assert_eq!(del.status, 204);
    let r = c
        .at(Method::POST, "/os-server-groups", &p.member, "", Some(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
