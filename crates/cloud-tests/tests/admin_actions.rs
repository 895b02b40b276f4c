//! `injectNetworkInfo` (the host is sent the server's desired state
//! again, under a new generation) and `resetNetwork` (gone from Nova).

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, Compute};
use ferrostack_store::server::ServerStore;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

const V: &str = "2.96";

#[tokio::test]
async fn inject_network_info_resends_the_desired_state_for_admins_only() {
    let c = Compute::start().await;
    let p = c.s.personas(&c.project).await;
    let flavor = json!({"flavor": {"name": "f1", "id": "1", "vcpus": 1, "ram": 256, "disk": 1}});
    let r = c
        .at(Method::POST, "/flavors", &p.admin, V, Some(flavor))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let image = c.image(&c.project, "qcow2");
    c.start_fake_agent("host-1", None);
    let server =
        json!({"server": {"name": "vm", "imageRef": image, "flavorRef": "1", "networks": "none"}});
    let r = c
        .at(Method::POST, "/servers", &p.member, V, Some(server))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = c
            .at(Method::GET, &format!("/servers/{id}"), &p.member, V, None)
            .await;
        if r.body["server"]["status"] == "ACTIVE" {
            break;
        }
        assert!(Instant::now() < deadline, "never ACTIVE: {}", r.body);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let before = c.s.store.get_instance(&id).unwrap().unwrap();
    let action = format!("/servers/{id}/action");

    // A member may not; nothing is re-sent.
    let body = Some(json!({"injectNetworkInfo": null}));
    let r = c
        .at(Method::POST, &action, &p.member, V, body.clone())
        .await;
    assert_fault(&r, 403, "forbidden");
    assert_eq!(
        c.s.store.get_instance(&id).unwrap().unwrap().generation,
        before.generation
    );

    // An admin: 202, the same desired state under the next generation.
    let r = c.at(Method::POST, &action, &p.admin, V, body).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let after = c.s.store.get_instance(&id).unwrap().unwrap();
    assert_eq!(after.generation, before.generation + 1);
    let mut want = after.desired.clone().unwrap();
    want["generation"] = before.desired.as_ref().unwrap()["generation"].clone();
    assert_eq!(
        Some(want),
        before.desired,
        "nothing but the generation changed"
    );
    assert_eq!(after.vm_state, "active");
    assert!(after.task_state.is_none());

    // resetNetwork left Nova with nova-network: 410.
    let r = c
        .at(
            Method::POST,
            &action,
            &p.admin,
            V,
            Some(json!({"resetNetwork": null})),
        )
        .await;
    assert_fault(&r, 410, "computeFault");
    // Another project's server is not found, whoever asks about it.
    let r = c
        .at(
            Method::POST,
            &action,
            &p.outsider,
            V,
            Some(json!({"injectNetworkInfo": null})),
        )
        .await;
    assert_fault(&r, 404, "itemNotFound");
}
