//! Security groups and rules through HTTP, as a Neutron user sees them.

#![allow(clippy::unwrap_used)]

use ferrostack_quota::NETWORK;
use ferrostack_testkit::{Reply, Served};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

async fn start() -> Served {
    Served::start("/v2.0", |s, public_url| {
        ferrostack_network::router(ferrostack_network::NetworkConfig {
            public_url,
            validator: s.validator(),
            quotas: s.quotas.clone(),
            projects: s.projects.clone(),
            security_groups: Arc::new(s.store.clone()),
            routers: Arc::new(s.store.clone()),
            store: Arc::new(s.store.clone()),
            ml2: ferrostack_network::Ml2Config::default(),
        })
    })
    .await
}

fn neutron_error(r: &Reply, code: u16) -> String {
    assert_eq!(r.status, code, "body: {}", r.body);
    r.body["NeutronError"]["type"]
        .as_str()
        .unwrap_or_else(|| panic!("no NeutronError: {}", r.body))
        .to_string()
}

async fn groups(n: &Served, token: &str) -> Vec<Value> {
    let r = n.s.get(&n.url("/security-groups"), token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["security_groups"].as_array().unwrap().clone()
}

async fn create_group(n: &Served, token: &str, name: &str) -> Value {
    let r =
        n.s.send(
            Method::POST,
            &n.url("/security-groups"),
            token,
            json!({"security_group": {"name": name, "description": "d"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["security_group"].clone()
}

async fn add_rule(n: &Served, token: &str, rule: Value) -> Reply {
    n.s.send(
        Method::POST,
        &n.url("/security-group-rules"),
        token,
        json!({ "security_group_rule": rule }),
    )
    .await
}

async fn delete(n: &Served, path: &str, token: &str) -> Reply {
    n.s.call(n.s.req(Method::DELETE, &n.url(path), token)).await
}

fn rule_shapes(group: &Value) -> Vec<(String, String, bool)> {
    let mut shapes: Vec<_> = group["security_group_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["direction"].as_str().unwrap().to_string(),
                r["ethertype"].as_str().unwrap().to_string(),
                r["remote_group_id"] == group["id"],
            )
        })
        .collect();
    shapes.sort();
    shapes
}

async fn usage(n: &Served, resource: &str) -> i64 {
    n.s.quotas
        .usage(&NETWORK, &n.project)
        .unwrap()
        .get(resource)
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn the_first_list_makes_the_default_group_with_neutrons_rules_once() {
    let n = start().await;
    let member = n.s.user_token("m", &n.project, "member").await;
    let first = groups(&n, &member).await;
    assert_eq!(first.len(), 1, "{first:?}");
    let default = &first[0];
    assert_eq!(default["name"], "default");
    assert_eq!(default["project_id"], json!(n.project));
    assert_eq!(
        rule_shapes(default),
        [
            ("egress".into(), "IPv4".into(), false),
            ("egress".into(), "IPv6".into(), false),
            ("ingress".into(), "IPv4".into(), true),
            ("ingress".into(), "IPv6".into(), true),
        ]
    );
    assert_eq!(
        default["security_group_rules"][0]["belongs_to_default_sg"],
        true
    );
    assert_eq!(groups(&n, &member).await, first);
    assert_eq!(usage(&n, "security_group").await, 1);
    assert_eq!(usage(&n, "security_group_rule").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_requests_make_one_default_group() {
    let n = start().await;
    let member = n.s.user_token("m", &n.project, "member").await;
    let lists = futures_join(&n, &member, 8).await;
    let ids: std::collections::BTreeSet<String> = lists
        .iter()
        .flat_map(|l| l.iter().map(|g| g["id"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(usage(&n, "security_group").await, 1);
    assert_eq!(usage(&n, "security_group_rule").await, 4);
}

async fn futures_join(n: &Served, token: &str, count: usize) -> Vec<Vec<Value>> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let (http, url, token) = (
            n.s.http.clone(),
            n.url("/security-groups"),
            token.to_string(),
        );
        tasks.spawn(async move {
            let r = http
                .get(url)
                .header("X-Auth-Token", token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let body: Value = r.json().await.unwrap();
            body["security_groups"].as_array().unwrap().clone()
        });
    }
    let mut out = Vec::new();
    while let Some(r) = tasks.join_next().await {
        out.push(r.unwrap());
    }
    out
}

#[tokio::test]
async fn a_group_is_created_shown_updated_and_deleted() {
    let n = start().await;
    let member = n.s.user_token("m", &n.project, "member").await;
    let g = create_group(&n, &member, "web").await;
    assert_eq!(g["stateful"], true);
    assert_eq!(g["description"], "d");
    assert_eq!(g["revision_number"], 0);
    assert!(g["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        rule_shapes(&g),
        [
            ("egress".into(), "IPv4".into(), false),
            ("egress".into(), "IPv6".into(), false)
        ]
    );
    let id = g["id"].as_str().unwrap();
    let url = n.url(&format!("/security-groups/{id}"));
    let shown = n.s.get(&url, &member).await;
    assert_eq!(shown.body["security_group"]["name"], "web");
    let only = n.s.get(&format!("{url}?fields=name"), &member).await;
    assert_eq!(only.body["security_group"], json!({"name": "web"}));
    let put =
        n.s.send(
            Method::PUT,
            &url,
            &member,
            json!({"security_group": {"name": "www", "stateful": false}}),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["security_group"]["name"], "www");
    assert_eq!(put.body["security_group"]["stateful"], false);
    assert_eq!(put.body["security_group"]["revision_number"], 1);
    let filtered = n.s.get(&n.url("/security-groups?name=www"), &member).await;
    assert_eq!(
        filtered.body["security_groups"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        delete(&n, &format!("/security-groups/{id}"), &member)
            .await
            .status,
        204
    );
    assert_eq!(
        neutron_error(&n.s.get(&url, &member).await, 404),
        "SecurityGroupNotFound"
    );
    assert_eq!(
        usage(&n, "security_group").await,
        1,
        "only the default is left"
    );
    assert_eq!(usage(&n, "security_group_rule").await, 4);
}

#[tokio::test]
async fn the_default_group_cannot_be_deleted_nor_renamed_nor_named_again() {
    let n = start().await;
    let member = n.s.user_token("m", &n.project, "member").await;
    let default = groups(&n, &member).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/security-groups/{default}");
    assert_eq!(
        neutron_error(&delete(&n, &path, &member).await, 409),
        "SecurityGroupCannotRemoveDefault"
    );
    let rename =
        n.s.send(
            Method::PUT,
            &n.url(&path),
            &member,
            json!({"security_group": {"name": "mine"}}),
        )
        .await;
    assert_eq!(
        neutron_error(&rename, 409),
        "SecurityGroupCannotUpdateDefault"
    );
    let described =
        n.s.send(
            Method::PUT,
            &n.url(&path),
            &member,
            json!({"security_group": {"description": "ours"}}),
        )
        .await;
    assert_eq!(described.status, 200, "{}", described.body);
    let again =
        n.s.send(
            Method::POST,
            &n.url("/security-groups"),
            &member,
            json!({"security_group": {"name": "Default"}}),
        )
        .await;
    assert_eq!(
        neutron_error(&again, 409),
        "SecurityGroupDefaultAlreadyExists"
    );
    assert_eq!(groups(&n, &member).await.len(), 1);
}

#[tokio::test]
async fn rules_are_created_listed_and_deleted_with_their_quota() {
    let n = start().await;
    let member = n.s.user_token("m", &n.project, "member").await;
    let g = create_group(&n, &member, "web").await;
    let gid = g["id"].as_str().unwrap();
    let r = add_rule(
        &n,
        &member,
        json!({"security_group_id": gid, "direction": "ingress", "protocol": "tcp",
               "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.5/24"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let rule = &r.body["security_group_rule"];
    assert_eq!(rule["ethertype"], "IPv4");
    assert_eq!(rule["remote_ip_prefix"], "10.0.0.5/24");
    assert_eq!(rule["normalized_cidr"], "10.0.0.0/24");
    assert_eq!(rule["belongs_to_default_sg"], false);
    let icmp = add_rule(
        &n,
        &member,
        json!({"security_group_id": gid, "direction": "ingress", "protocol": "icmp"}),
    )
    .await;
    assert_eq!(icmp.status, 201, "{}", icmp.body);
    let list =
        n.s.get(
            &n.url(&format!("/security-group-rules?security_group_id={gid}")),
            &member,
        )
        .await;
    assert_eq!(
        list.body["security_group_rules"].as_array().unwrap().len(),
        4
    );
    let shown =
        n.s.get(&n.url(&format!("/security-groups/{gid}")), &member)
            .await;
    assert_eq!(shown.body["security_group"]["revision_number"], 2);
    assert_eq!(usage(&n, "security_group_rule").await, 4 + 4);
    let rid = rule["id"].as_str().unwrap();
    assert_eq!(
        delete(&n, &format!("/security-group-rules/{rid}"), &member)
            .await
            .status,
        204
    );
    assert_eq!(
        neutron_error(
            &n.s.get(&n.url(&format!("/security-group-rules/{rid}")), &member)
                .await,
            404
        ),
        "SecurityGroupRuleNotFound"
    );
    assert_eq!(usage(&n, "security_group_rule").await, 4 + 3);
}

#[tokio::test]
async fn a_duplicate_rule_is_409_however_it_is_spelled() {
    let n = start().await;
    let member = n.s.user_token("m", &n.project, "member").await;
    let gid = create_group(&n, &member, "web").await["id"].clone();
    let first = add_rule(
        &n,
        &member,
        json!({"security_group_id": gid, "direction": "ingress", "protocol": "tcp",
               "port_range_min": 80, "port_range_max": 80}),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = add_rule(
        &n,
        &member,
        json!({"security_group_id": gid, "direction": "ingress", "protocol": "6",
               "port_range_min": "80", "port_range_max": 80, "remote_ip_prefix": "0.0.0.0/0"}),
    )
    .await;
    assert_eq!(neutron_error(&again, 409), "SecurityGroupRuleExists");
    let message = again.body["NeutronError"]["message"].as_str().unwrap();
    assert!(message.contains(first.body["security_group_rule"]["id"].as_str().unwrap()));
    // The egress rules a group starts with count too.
    let egress = add_rule(
        &n,
        &member,
        json!({"security_group_id": gid, "direction": "egress", "ethertype": "ipv4"}),
    )
    .await;
    assert_eq!(neutron_error(&egress, 409), "SecurityGroupRuleExists");
    assert_eq!(usage(&n, "security_group_rule").await, 4 + 2 + 1);
}

#[tokio::test]
async fn invalid_rules_are_400_and_create_nothing() {
    let n = start().await;
    let member = n.s.user_token("m", &n.project, "member").await;
    let gid = create_group(&n, &member, "web").await["id"].clone();
    let before = usage(&n, "security_group_rule").await;
    for (rule, kind) in [
        (
            json!({"protocol": "tcp", "port_range_min": 30, "port_range_max": 20}),
            "SecurityGroupInvalidPortRange",
        ),
        (
            json!({"protocol": "udp", "port_range_min": 0, "port_range_max": 20}),
            "SecurityGroupInvalidPortValue",
        ),
        (
            json!({"protocol": "tcp", "port_range_min": 70000, "port_range_max": 70000}),
            "SecurityGroupInvalidPortValue",
        ),
        (
            json!({"protocol": "icmp", "port_range_min": 256}),
            "SecurityGroupInvalidIcmpValue",
        ),
        (
            json!({"protocol": "gre", "port_range_min": 1, "port_range_max": 2}),
            "SecurityGroupInvalidProtocolForPort",
        ),
        (
            json!({"protocol": "carrier-pigeon"}),
            "SecurityGroupRuleInvalidProtocol",
        ),
        (json!({"protocol": 300}), "SecurityGroupRuleInvalidProtocol"),
        (
            json!({"ethertype": "IPX"}),
            "SecurityGroupRuleInvalidEtherType",
        ),
        (
            json!({"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"}),
            "SecurityGroupRuleParameterConflict",
        ),
        (
            json!({"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": gid}),
            "SecurityGroupMultipleRemoteEntites",
        ),
        (json!({"remote_ip_prefix": "not-a-cidr"}), "InvalidCIDR"),
    ] {
        let mut body = json!({"security_group_id": gid, "direction": "ingress"});
        body.as_object_mut()
            .unwrap()
            .extend(rule.as_object().unwrap().clone());
        let r = add_rule(&n, &member, body.clone()).await;
        assert_eq!(neutron_error(&r, 400), kind, "{body}");
    }
    let unknown = add_rule(
        &n,
        &member,
        json!({"security_group_id": gid, "direction": "ingress", "colour": "red"}),
    )
    .await;
    neutron_error(&unknown, 400);
    assert_eq!(usage(&n, "security_group_rule").await, before);
    let rules =
        n.s.get(
            &n.url(&format!(
                "/security-group-rules?security_group_id={}",
                gid.as_str().unwrap()
            )),
            &member,
        )
        .await;
    assert_eq!(
        rules.body["security_group_rules"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn a_remote_group_must_exist_and_be_visible() {
    let n = start().await;
    let member = n.s.user_token("m", &n.project, "member").await;
    let other_project = n.s.project("other");
    let other = n.s.user_token("o", &other_project, "member").await;
    let theirs = create_group(&n, &other, "theirs").await["id"].clone();
    let gid = create_group(&n, &member, "web").await["id"].clone();
    let mine = create_group(&n, &member, "db").await["id"].clone();
    for remote in [json!("no-such-group"), theirs] {
        let r = add_rule(
            &n,
            &member,
            json!({"security_group_id": gid, "direction": "ingress", "remote_group_id": remote}),
        )
        .await;
        assert_eq!(neutron_error(&r, 404), "SecurityGroupNotFound");
    }
    let ok = add_rule(
        &n,
        &member,
        json!({"security_group_id": gid, "direction": "ingress", "remote_group_id": mine}),
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    // Deleting the remote group takes the rule that names it.
    let rid = ok.body["security_group_rule"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = usage(&n, "security_group_rule").await;
    delete(
        &n,
        &format!("/security-groups/{}", mine.as_str().unwrap()),
        &member,
    )
    .await;
    neutron_error(
        &n.s.get(&n.url(&format!("/security-group-rules/{rid}")), &member)
            .await,
        404,
    );
    assert_eq!(usage(&n, "security_group_rule").await, before - 3);
}

#[tokio::test]
async fn another_projects_groups_and_rules_are_404_and_admin_may_create_for_it() {
    let n = start().await;
    let p = n.s.personas(&n.project).await;
    let g = create_group(&n, &p.member, "web").await;
    let gid = g["id"].as_str().unwrap();
    let rid = g["security_group_rules"][0]["id"].as_str().unwrap();
    let group_url = n.url(&format!("/security-groups/{gid}"));
    let rule_url = n.url(&format!("/security-group-rules/{rid}"));
    assert_eq!(
        neutron_error(&n.s.get(&group_url, &p.outsider).await, 404),
        "SecurityGroupNotFound"
    );
    assert_eq!(
        neutron_error(&n.s.get(&rule_url, &p.outsider).await, 404),
        "SecurityGroupRuleNotFound"
    );
    neutron_error(
        &delete(&n, &format!("/security-groups/{gid}"), &p.outsider).await,
        404,
    );
    let theirs = add_rule(
        &n,
        &p.outsider,
        json!({"security_group_id": gid, "direction": "ingress"}),
    )
    .await;
    assert_eq!(neutron_error(&theirs, 404), "SecurityGroupNotFound");
    let listed: Vec<Value> = groups(&n, &p.outsider).await;
    assert!(listed.iter().all(|x| x["id"] != g["id"]));
    // Readers read, but do not write; no token is 401.
    assert_eq!(n.s.get(&group_url, &p.reader).await.status, 200);
    n.s.get(&group_url, "").await.assert_unauthorized();
    let r =
        n.s.send(
            Method::POST,
            &n.url("/security-groups"),
            &p.reader,
            json!({"security_group": {"name": "mine"}}),
        )
        .await;
    neutron_error(&r, 403);
    neutron_error(
        &delete(&n, &format!("/security-groups/{gid}"), &p.reader).await,
        403,
    );
    // An admin creates a group for another project.
    let other = n.s.project("other");
    let r =
        n.s.send(
            Method::POST,
            &n.url("/security-groups"),
            &p.admin,
            json!({"security_group": {"name": "ops", "project_id": other}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["security_group"]["project_id"], json!(other));
    let r =
        n.s.send(
            Method::POST,
            &n.url("/security-groups"),
            &p.member,
            json!({"security_group": {"name": "sneaky", "tenant_id": other}}),
        )
        .await;
    neutron_error(&r, 403);
}

#[tokio::test]
async fn over_quota_is_409_and_creates_nothing() {
    let n = start().await;
    let admin = n.s.admin_token().await;
    let member = n.s.user_token("m", &n.project, "member").await;
    groups(&n, &member).await;
    let r =
        n.s.send(
            Method::PUT,
            &n.url(&format!("/quotas/{}", n.project)),
            &admin,
            json!({"quota": {"security_group": 2, "security_group_rule": 7}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let g = create_group(&n, &member, "one").await;
    let more =
        n.s.send(
            Method::POST,
            &n.url("/security-groups"),
            &member,
            json!({"security_group": {"name": "two"}}),
        )
        .await;
    assert_eq!(neutron_error(&more, 409), "OverQuota");
    let rule = add_rule(
        &n,
        &member,
        json!({"security_group_id": g["id"], "direction": "ingress", "protocol": "icmp"}),
    )
    .await;
    assert_eq!(rule.status, 201, "{}", rule.body);
    let rule = add_rule(
        &n,
        &member,
        json!({"security_group_id": g["id"], "direction": "ingress", "protocol": "udp"}),
    )
    .await;
    assert_eq!(neutron_error(&rule, 409), "OverQuota");
    assert_eq!(groups(&n, &member).await.len(), 2);
    let details =
        n.s.get(&n.url(&format!("/quotas/{}/details", n.project)), &admin)
            .await;
    assert_eq!(details.body["quota"]["security_group"]["used"], 2);
    assert_eq!(details.body["quota"]["security_group_rule"]["used"], 7);
}

#[tokio::test]
async fn the_extensions_name_what_is_served() {
    let n = start().await;
    let member = n.s.user_token("m", &n.project, "member").await;
    for alias in ["security-group", "stateful-security-group"] {
        let r =
            n.s.get(&n.url(&format!("/extensions/{alias}")), &member)
                .await;
        assert_eq!(r.status, 200, "{alias}: {}", r.body);
    }
}

#[tokio::test]
async fn the_ports_code_gets_the_default_group_or_exactly_the_groups_asked() {
    use ferrostack_network::security_groups::{NoPorts, SecurityGroups};
    let n = start().await;
    let member = n.s.user_token("m", &n.project, "member").await;
    let service = SecurityGroups {
        store: Arc::new(n.s.store.clone()),
        quotas: n.s.quotas.clone(),
        usage: Arc::new(NoPorts),
    };
    let default = service.for_port(&n.project, None).unwrap();
    assert_eq!(default.len(), 1);
    assert!(default[0].is_default);
    assert_eq!(groups(&n, &member).await.len(), 1, "the same default group");
    let web = create_group(&n, &member, "web").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let asked = service
        .for_port(&n.project, Some(&[web.clone(), web.clone()]))
        .unwrap();
    assert_eq!(asked.len(), 1);
    assert!(service.for_port(&n.project, Some(&[])).unwrap().is_empty());
    let other = n.s.project("other");
    assert_eq!(
        service
            .for_port(&other, Some(std::slice::from_ref(&web)))
            .unwrap_err()
            .kind,
        "SecurityGroupNotFound"
    );
    let stateless =
        n.s.send(
            Method::POST,
            &n.url("/security-groups"),
            &member,
            json!({"security_group": {"name": "fast", "stateful": false}}),
        )
        .await;
    let stateless = stateless.body["security_group"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        service
            .for_port(&n.project, Some(&[web, stateless]))
            .unwrap_err()
            .kind,
        "SecurityGroupConflict"
    );
}
