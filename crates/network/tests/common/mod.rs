//! A network service over a fresh stack, with small ML2 ranges so tests
//! can exhaust them, and helpers that create resources as a user would.

#![allow(dead_code, clippy::unwrap_used)]

use ferrostack_network::Ml2Config;
use ferrostack_testkit::{Reply, Served};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The ML2 settings of these tests: VNIs 10-12, VLANs 100-101 on physnet1.
pub fn ml2() -> Ml2Config {
    Ml2Config {
        type_drivers: vec!["local".into(), "flat".into(), "vlan".into(), "vxlan".into()],
        tenant_network_types: vec!["vxlan".into()],
        flat_networks: vec!["physnet1".into()],
        vlan_ranges: BTreeMap::from([("physnet1".to_string(), vec![(100, 101)])]),
        vni_ranges: vec![(10, 12)],
        gre_ranges: vec![],
        vxlan_group: None,
        underlay_mtu: 1500,
        dhcp_host: "net-host".into(),
    }
}

/// A network service with [`ml2`].
pub async fn start() -> Served {
    Served::start("/v2.0", |s, public_url| {
        ferrostack_network::router(ferrostack_network::NetworkConfig {
            public_url,
            validator: s.validator(),
            quotas: s.quotas.clone(),
            projects: s.projects.clone(),
            store: std::sync::Arc::new(s.store.clone()),
            ml2: ml2(),
            security_groups: std::sync::Arc::new(s.store.clone()),
            routers: std::sync::Arc::new(s.store.clone()),
        })
    })
    .await
}

/// Assert Neutron's error shape and status; returns (type, message).
pub fn neutron_error(r: &Reply, code: u16) -> (String, String) {
    assert_eq!(r.status, code, "body: {}", r.body);
    let e = &r.body["NeutronError"];
    let kind = e["type"]
        .as_str()
        .unwrap_or_else(|| panic!("no type: {}", r.body));
    let message = e["message"].as_str().unwrap().to_string();
    assert!(!message.is_empty());
    (kind.to_string(), message)
}

/// POST `{key: body}` to `/<key>s` and return the created object.
pub async fn create(n: &Served, token: &str, key: &str, body: Value) -> Value {
    let r = post(n, token, key, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body[key].clone()
}

/// POST `{key: body}` to `/<key>s`.
pub async fn post(n: &Served, token: &str, key: &str, body: Value) -> Reply {
    n.s.send(
        Method::POST,
        &n.url(&format!("/{key}s")),
        token,
        json!({ key: body }),
    )
    .await
}

/// A network with an IPv4 subnet of `cidr`; returns (network, subnet).
pub async fn net_with_subnet(n: &Served, token: &str, cidr: &str, dhcp: bool) -> (Value, Value) {
    let net = create(n, token, "network", json!({"name": "net"})).await;
    let subnet = create(
        n,
        token,
        "subnet",
        json!({"network_id": net["id"], "ip_version": 4, "cidr": cidr, "enable_dhcp": dhcp}),
    )
    .await;
    (net, subnet)
}

/// The ids of a list reply's `key` collection, in order.
pub fn ids(r: &Reply, key: &str) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}
