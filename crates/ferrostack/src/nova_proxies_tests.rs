//! The proxies over a real network service: what Nova's API makes is the
//! network service's own object (same id, seen by its API), refusals
//! leave nothing, and another project's objects are 404.

#![allow(clippy::unwrap_used)]

use super::*;
use ferrostack_network::{NetworkConfig, NetworkState};
use ferrostack_testkit::Stack;
use std::sync::Arc;

struct World {
    s: Stack,
    net: NeutronForNova,
    state: Arc<NetworkState>,
    member: AuthContext,
    outsider: AuthContext,
    admin: AuthContext,
}

async fn world() -> World {
    let s = Stack::start().await;
    let project = s.project("p1");
    let p = s.personas(&project).await;
    let config = NetworkConfig {
        public_url: "http://127.0.0.1:9".into(),
        validator: s.validator(),
        quotas: s.quotas.clone(),
        projects: s.projects.clone(),
        store: Arc::new(s.store.clone()),
        ml2: ferrostack_network::Ml2Config::default(),
        security_groups: Arc::new(s.store.clone()),
        routers: Arc::new(s.store.clone()),
    };
    let state = NetworkState::new(&config);
    let v = s.validator();
    World {
        member: v.validate(&p.member).unwrap(),
        outsider: v.validate(&p.outsider).unwrap(),
        admin: v.validate(&p.admin).unwrap(),
        net: NeutronForNova::new(state.clone()),
        state,
        s,
    }
}

fn rule(parent: &str, group: Option<&str>) -> NewRule {
    NewRule {
        parent_group_id: parent.into(),
        protocol: Some("tcp".into()),
        port_range_min: Some(22),
        port_range_max: Some(22),
        cidr: group.is_none().then(|| "10.0.0.0/24".into()),
        group_id: group.map(str::to_string),
        ethertype: "IPv4",
    }
}

#[tokio::test]
async fn a_group_and_rule_made_through_nova_are_the_network_services() {
    let w = world().await;
    let g = w.net.proxy_create_group(&w.member, " web ", "d").unwrap();
    assert_eq!(g.name, " web ");
    // Neutron's egress rules are not Nova's.
    assert!(g.rules.is_empty(), "{:?}", g.rules);
    let stored = w.state.security_groups.store.get_group(&g.id).unwrap();
    assert_eq!(stored.project_id, w.member.project_id().unwrap());
    assert_eq!(stored.rules.len(), 2, "Neutron's two egress rules");

    let r = w
        .net
        .proxy_create_rule(&w.member, &rule(&g.id, None))
        .unwrap();
    let stored = w.state.security_groups.store.get_rule(&r.id).unwrap();
    assert_eq!(stored.direction, "ingress");
    assert_eq!(stored.remote_ip_prefix.as_deref(), Some("10.0.0.0/24"));
    let shown = w.net.proxy_group(&w.member, &g.id).unwrap();
    assert_eq!(shown.rules.len(), 1);
    assert_eq!(shown.rules[0].id, r.id);

    // The list has it and the project's default group, made on first need.
    let names: Vec<String> = (w.net.proxy_groups(&w.member, false).unwrap())
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert!(names.contains(&" web ".to_string()) && names.contains(&"default".into()));

    w.net.proxy_delete_rule(&w.member, &r.id).unwrap();
    assert!(w.state.security_groups.store.get_rule(&r.id).is_err());
    w.net.proxy_delete_group(&w.member, &g.id).unwrap();
    assert!(w.state.security_groups.store.get_group(&g.id).is_err());
}

#[tokio::test]
async fn a_rule_whose_peer_group_is_deleted_leaves_the_view() {
    let w = world().await;
    let a = w.net.proxy_create_group(&w.member, "a", "").unwrap();
    let b = w.net.proxy_create_group(&w.member, "b", "").unwrap();
    w.net
        .proxy_create_rule(&w.member, &rule(&a.id, Some(&b.id)))
        .unwrap();
    let shown = w.net.proxy_group(&w.member, &a.id).unwrap();
    assert_eq!(shown.rules[0].group.as_ref().unwrap().name, "b");
    w.net.proxy_delete_group(&w.member, &b.id).unwrap();
    assert!(w
        .net
        .proxy_group(&w.member, &a.id)
        .unwrap()
        .rules
        .is_empty());
}

#[tokio::test]
async fn another_projects_group_is_404_and_refusals_leave_nothing() {
    let w = world().await;
    let g = w.net.proxy_create_group(&w.member, "mine", "").unwrap();
    let not_found = |r: Result<(), ComputeError>| {
        assert!(matches!(r, Err(ComputeError::NotFound(_))), "{r:?}");
    };
    not_found(w.net.proxy_group(&w.outsider, &g.id).map(|_| ()));
    not_found(w.net.proxy_delete_group(&w.outsider, &g.id));
    not_found(
        w.net
            .proxy_create_rule(&w.outsider, &rule(&g.id, None))
            .map(|_| ()),
    );
    // A peer group of another project: 404, and no rule was added.
    let theirs = w.net.proxy_create_group(&w.outsider, "theirs", "").unwrap();
    not_found(
        w.net
            .proxy_create_rule(&w.member, &rule(&g.id, Some(&theirs.id)))
            .map(|_| ()),
    );
    let stored = w.state.security_groups.store.get_group(&g.id).unwrap();
    assert_eq!(stored.rules.len(), 2, "only the egress rules");
    // The admin sees every project's with all_tenants, else their own.
    let all = w.net.proxy_groups(&w.admin, true).unwrap();
    assert!(all.iter().any(|x| x.id == g.id) && all.iter().any(|x| x.id == theirs.id));
    let own = w.net.proxy_groups(&w.admin, false).unwrap();
    assert!(!own.iter().any(|x| x.id == g.id));
}

#[tokio::test]
async fn the_default_group_and_a_group_in_use_cannot_be_deleted() {
    let w = world().await;
    let default = (w.net.proxy_groups(&w.member, false).unwrap())
        .into_iter()
        .find(|g| g.name == "default")
        .unwrap();
    let r = w.net.proxy_delete_group(&w.member, &default.id);
    assert!(matches!(r, Err(ComputeError::BadRequest(_))), "{r:?}");

    let g = w.net.proxy_create_group(&w.member, "busy", "").unwrap();
    let mut map = serde_json::Map::new();
    map.insert("name".into(), "n".into());
    let network = w.state.create_network(&w.member, map).unwrap();
    let port = w
        .state
        .create_port(ferrostack_network::PortSpec {
            project_id: w.member.project_id().unwrap().into(),
            network_id: network.id.clone(),
            security_groups: Some(vec![g.id.clone()]),
            ..Default::default()
        })
        .unwrap();
    let r = w.net.proxy_delete_group(&w.member, &g.id);
    assert!(matches!(r, Err(ComputeError::BadRequest(_))), "{r:?}");
    assert!(w.state.security_groups.store.get_group(&g.id).is_ok());
    w.state.delete_port(&port.id).unwrap();
    w.net.proxy_delete_group(&w.member, &g.id).unwrap();
}

#[tokio::test]
async fn networks_are_the_callers_and_the_shared_ones() {
    let w = world().await;
    let make = |caller: &AuthContext, name: &str, shared: bool| {
        let mut map = serde_json::Map::new();
        map.insert("name".into(), name.into());
        if shared {
            map.insert("shared".into(), true.into());
        }
        w.state.create_network(caller, map).unwrap().id
    };
    let mine = make(&w.member, "mine", false);
    let shared = make(&w.admin, "shared", true);
    let theirs = make(&w.outsider, "theirs", false);
    let seen: Vec<String> = (w.net.proxy_networks(&w.member).unwrap())
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert!(seen.contains(&mine) && seen.contains(&shared));
    assert!(!seen.contains(&theirs));
    drop(w.s);
}

fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

#[tokio::test]
async fn floating_ips_come_from_the_external_networks_and_are_the_callers() {
    let w = world().await;
    let public = w
        .state
        .create_network(
            &w.admin,
            object(serde_json::json!({"name": "public", "router:external": true})),
        )
        .unwrap();
    w.state
        .create_subnet(
            &w.admin,
            object(serde_json::json!({"network_id": public.id, "ip_version": 4,
                "cidr": "172.24.4.0/24", "enable_dhcp": false})),
        )
        .unwrap();
    assert_eq!(
        w.net.proxy_floating_ip_pools(&w.member).unwrap(),
        vec!["public"]
    );
    let unknown = w.net.proxy_allocate_floating_ip(&w.member, Some("nowhere"));
    assert!(
        matches!(unknown, Err(ComputeError::NotFound(_))),
        "{unknown:?}"
    );
    assert!(w.state.store.list_floating_ips().unwrap().is_empty());

    let f = w
        .net
        .proxy_allocate_floating_ip(&w.member, Some("public"))
        .unwrap();
    assert_eq!(f.pool, "public");
    assert_eq!((f.fixed_ip.clone(), f.instance_id.clone()), (None, None));
    // The network service's own floating IP, with the same id.
    let stored = w.state.store.get_floating_ip(&f.id).unwrap().unwrap();
    assert_eq!(stored.floating_ip_address, f.ip);
    // No pool: the one external network.
    let g = w.net.proxy_allocate_floating_ip(&w.member, None).unwrap();
    let mine = w.net.proxy_floating_ips(&w.member).unwrap();
    assert_eq!(mine.len(), 2);
    assert!(w.net.proxy_floating_ips(&w.outsider).unwrap().is_empty());

    // Not on the server: 409; unknown address: 404; another's: 404.
    let r = w
        .net
        .proxy_disassociate_floating_ip(&w.member, "server-1", &f.ip);
    assert!(matches!(r, Err(ComputeError::Conflict(_))), "{r:?}");
    let r = w
        .net
        .proxy_disassociate_floating_ip(&w.member, "server-1", "192.0.2.1");
    assert!(matches!(r, Err(ComputeError::NotFound(_))), "{r:?}");
    let r = w.net.proxy_release_floating_ip(&w.outsider, &f.id);
    assert!(matches!(r, Err(ComputeError::NotFound(_))), "{r:?}");
    // A server with no port holding the fixed address: 400, nothing changed.
    let r = w
        .net
        .proxy_associate_floating_ip(&w.member, "server-1", &f.ip, "10.0.0.5");
    assert!(matches!(r, Err(ComputeError::BadRequest(_))), "{r:?}");
    assert_eq!(
        w.state
            .store
            .get_floating_ip(&f.id)
            .unwrap()
            .unwrap()
            .port_id,
        None
    );

    w.net.proxy_release_floating_ip(&w.member, &f.id).unwrap();
    w.net.proxy_release_floating_ip(&w.member, &g.id).unwrap();
    assert!(w.state.store.list_floating_ips().unwrap().is_empty());
}
