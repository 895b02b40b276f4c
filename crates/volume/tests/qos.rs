//! QoS specs over HTTP: an admin's; keys QEMU enforces validated (a bad
//! set creates nothing); associated with a volume type, their limits are
//! what a disk of that type gets when compute connects it; in use, they
//! are deleted only with `force`, which drops the association.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, start};
use ferrostack_volume::service::Caller;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn qos_specs_limit_the_disks_of_their_type() {
    let c = start().await;
    let admin = c.v.s.admin_token().await;
    // Members may not touch QoS specs.
    let r = c.get("/qos-specs", &c.member).await;
    assert_eq!(r.status, 403, "{}", r.body);
    // A total beside a split limit is refused and nothing is created.
    let bad = json!({"qos_specs": {"name": "bad", "consumer": "front-end",
        "total_iops_sec": "10", "write_iops_sec": "5"}});
    let r = c.send(Method::POST, "/qos-specs", &admin, bad).await;
    assert_fault(&r, 400, "badRequest");
    let not_int = json!({"qos_specs": {"name": "bad", "write_iops_sec": "fast"}});
    assert_eq!(
        c.send(Method::POST, "/qos-specs", &admin, not_int)
            .await
            .status,
        400
    );
    assert_eq!(
        c.get("/qos-specs", &admin).await.body["qos_specs"],
        json!([])
    );

    let body =
        json!({"qos_specs": {"name": "slow", "consumer": "front-end", "write_iops_sec": "100"}});
    let r = c.send(Method::POST, "/qos-specs", &admin, body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["qos_specs"]["specs"],
        json!({"write_iops_sec": "100"})
    );
    let qos = r.body["qos_specs"]["id"].as_str().unwrap().to_string();
    let dup = json!({"qos_specs": {"name": "slow"}});
    assert_eq!(
        c.send(Method::POST, "/qos-specs", &admin, dup).await.status,
        409
    );
    let set = json!({"qos_specs": {"read_bytes_sec": "1048576"}});
    let r = c
        .send(Method::PUT, &format!("/qos-specs/{qos}"), &admin, set)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let t = c
        .send(
            Method::POST,
            "/types",
            &admin,
            json!({"volume_type": {"name": "slowdisk"}}),
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.body);
    let type_id = t.body["volume_type"]["id"].as_str().unwrap().to_string();
    let r = c
        .get(
            &format!("/qos-specs/{qos}/associate?vol_type_id={type_id}"),
            &admin,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let assoc = c
        .get(&format!("/qos-specs/{qos}/associations"), &admin)
        .await;
    assert_eq!(
        assoc.body["qos_associations"],
        json!([{"association_type": "volume_type", "id": type_id, "name": "slowdisk"}])
    );

    // A volume of that type, connected for compute, carries the limits.
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"size": 1, "volume_type": "slowdisk"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let vol = r.body["volume"]["id"].as_str().unwrap().to_string();
    c.wait_status(&format!("/volumes/{vol}"), "volume", "available")
        .await;
    let state = ferrostack_volume::VolumeState::new(&ferrostack_volume::VolumeConfig {
        public_url: c.v.root.clone(),
        validator: c.v.s.validator(),
        quotas: c.v.s.quotas.clone(),
        projects: c.v.s.projects.clone(),
        store: std::sync::Arc::new(c.v.s.store.clone()),
        backends: vec![c.backend.clone()],
        images: std::sync::Arc::new(ferrostack_volume::hooks::NoImages),
        events: std::sync::Arc::new(ferrostack_volume::hooks::NoEvents),
        availability_zone: "nova".into(),
        host: "controller".into(),
        backup_store: None,
    });
    let me = Caller {
        project_id: c.v.project.clone(),
        user_id: "u".into(),
        is_admin: false,
    };
    let att = ferrostack_common::ids::new_uuid();
    state.reserve_attachment(&me, &vol, "vm1", &att).unwrap();
    let (_, info) = state.connect_attachment(&me, &att, "storage1").unwrap();
    assert_eq!(info.limits.write_iops_sec, 100);
    assert_eq!(info.limits.read_bytes_sec, 1_048_576);
    assert_eq!(info.limits.total_iops_sec, 0);

    // In use by a type: deleted only with force, which drops the association.
    let r = c
        .send(
            Method::DELETE,
            &format!("/qos-specs/{qos}"),
            &admin,
            json!(null),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = c
        .send(
            Method::DELETE,
            &format!("/qos-specs/{qos}?force=true"),
            &admin,
            json!(null),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        c.get(&format!("/qos-specs/{qos}"), &admin).await.status,
        404
    );
    let att2 = ferrostack_common::ids::new_uuid();
    state.delete_attachment(&me, &att).unwrap();
    state.reserve_attachment(&me, &vol, "vm1", &att2).unwrap();
    let (_, info) = state.connect_attachment(&me, &att2, "storage1").unwrap();
    assert_eq!(info.limits, Default::default());
}
