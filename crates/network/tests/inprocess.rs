//! The port API compute calls in process: create, bind, unbind, delete,
//! seen through HTTP as users see them.

#![allow(clippy::unwrap_used)]

mod common;

use common::{create, net_with_subnet, neutron_error};
use ferrostack_network::{FixedIpSpec, NetworkState, PortSpec};
use ferrostack_testkit::Served;
use std::sync::{Arc, OnceLock};

async fn start() -> (Served, Arc<NetworkState>) {
    let slot: Arc<OnceLock<Arc<NetworkState>>> = Arc::default();
    let keep = slot.clone();
    let n = Served::start("/v2.0", move |s, public_url| {
        let config = ferrostack_network::NetworkConfig {
            public_url,
            validator: s.validator(),
            quotas: s.quotas.clone(),
            projects: s.projects.clone(),
            store: Arc::new(s.store.clone()),
            ml2: common::ml2(),
            security_groups: Arc::new(s.store.clone()),
            routers: Arc::new(s.store.clone()),
        };
        let state = NetworkState::new(&config);
        keep.set(state.clone()).ok();
        ferrostack_network::router_for(state, config.validator)
    })
    .await;
    let state = slot.get().unwrap().clone();
    (n, state)
}

#[tokio::test]
async fn compute_creates_binds_unbinds_and_deletes_a_port() {
    let (n, state) = start().await;
    let p = n.s.personas(&n.project).await;
    let (net, _) = net_with_subnet(&n, &p.member, "10.0.0.0/24", false).await;
    let net_id = net["id"].as_str().unwrap();
    state.usable_network(&n.project, net_id).unwrap();
    assert!(state.usable_network("someone-else", net_id).is_err());

    let port = state
        .create_port(PortSpec {
            project_id: n.project.clone(),
            network_id: net_id.into(),
            fixed_ips: Some(vec![FixedIpSpec {
                subnet_id: None,
                ip_address: Some("10.0.0.5".into()),
            }]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(port.fixed_ips[0].ip_address, "10.0.0.5");
    let bound = state
        .bind_port(&port.id, "host-1", "server-1", "compute:nova")
        .unwrap();
    assert_eq!(bound.status, "ACTIVE");
    assert_eq!(state.device_ports("server-1").unwrap().len(), 1);

    let url = n.url(&format!("/ports/{}", port.id));
    let r = n.s.get(&url, &p.admin).await;
    assert_eq!(r.body["port"]["binding:host_id"], "host-1");
    assert_eq!(r.body["port"]["binding:vif_type"], "tap");
    assert_eq!(r.body["port"]["device_owner"], "compute:nova");

    state.unbind_port(&port.id).unwrap();
    let r = n.s.get(&url, &p.admin).await;
    assert_eq!(r.body["port"]["binding:vif_type"], "unbound");
    assert_eq!(r.body["port"]["device_id"], "");

    state.delete_port(&port.id).unwrap();
    neutron_error(&n.s.get(&url, &p.admin).await, 404);
    // The address is free again.
    create(
        &n,
        &p.member,
        "port",
        serde_json::json!({"network_id": net_id, "fixed_ips": [{"ip_address": "10.0.0.5"}]}),
    )
    .await;
}
