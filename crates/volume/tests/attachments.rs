//! Attaching: the attachments API's status machine, the older Nova
//! actions, the in-process API compute calls, and the delete rules that
//! depend on attachments and snapshots.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, start};
use ferrostack_volume::service::Caller;
use reqwest::Method;
use serde_json::json;

async fn status(c: &common::Cinder, id: &str) -> String {
    c.get(&format!("/volumes/{id}"), &c.member).await.body["volume"]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_attachment_flow_moves_the_volume_through_cinders_states() {
    let c = start().await;
    let id = c.available(1).await;
    let create = json!({"attachment": {"volume_uuid": id, "instance_uuid": "vm1"}});
    // Below 3.27 the attachments API does not exist.
    let r = c
        .send(Method::POST, "/attachments", &c.member, create.clone())
        .await;
    assert_fault(&r, 404, "itemNotFound");
    let r = c
        .at(
            "3.44",
            Method::POST,
            "/attachments",
            &c.member,
            Some(create.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let att = r.body["attachment"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["attachment"]["status"], "reserved");
    assert_eq!(status(&c, &id).await, "reserved");
    // A second instance may not take a volume that is not multiattach.
    let other = json!({"attachment": {"volume_uuid": id, "instance_uuid": "vm2"}});
    let r = c
        .at("3.44", Method::POST, "/attachments", &c.member, Some(other))
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .at("3.44", Method::PUT, &format!("/attachments/{att}"), &c.member,
            Some(json!({"attachment": {"connector": {"host": "compute1", "mountpoint": "/dev/vdb"}}})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let info = &r.body["attachment"]["connection_info"];
    assert_eq!(info["driver_volume_type"], "local");
    assert_eq!(info["data"]["connection"]["driver"], "file");
    assert_eq!(status(&c, &id).await, "attaching");
    let r = c
        .at(
            "3.44",
            Method::POST,
            &format!("/attachments/{att}/action"),
            &c.member,
            Some(json!({"os-complete": null})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let v = c.get(&format!("/volumes/{id}"), &c.member).await.body["volume"].clone();
    assert_eq!(v["status"], "in-use");
    assert_eq!(v["attachments"][0]["server_id"], "vm1");
    assert_eq!(v["attachments"][0]["attachment_id"], att.as_str());
    assert_eq!(v["attachments"][0]["host_name"], "compute1");
    // Attached: no delete, no snapshot without force.
    let r = c
        .send(
            Method::DELETE,
            &format!("/volumes/{id}"),
            &c.member,
            json!({}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .send(
            Method::POST,
            "/snapshots",
            &c.member,
            json!({"snapshot": {"volume_id": id}}),
        )
        .await;
    let m = assert_fault(&r, 400, "badRequest");
    assert!(m.contains("must be available"), "{m}");
    let list = c
        .at("3.44", Method::GET, "/attachments/detail", &c.member, None)
        .await;
    assert_eq!(list.body["attachments"].as_array().unwrap().len(), 1);
    let r = c
        .at(
            "3.44",
            Method::DELETE,
            &format!("/attachments/{att}"),
            &c.member,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(status(&c, &id).await, "available");
    assert!(
        c.get(&format!("/volumes/{id}"), &c.member).await.body["volume"]["attachments"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn nova_older_actions_reserve_attach_and_detach() {
    let c = start().await;
    let id = c.available(1).await;
    let act = format!("/volumes/{id}/action");
    let post = |b: serde_json::Value| c.send(Method::POST, &act, &c.member, b);
    assert_eq!(post(json!({"os-reserve": null})).await.status, 202);
    assert_eq!(status(&c, &id).await, "attaching");
    assert_eq!(post(json!({"os-unreserve": null})).await.status, 202);
    assert_eq!(status(&c, &id).await, "available");
    assert_eq!(post(json!({"os-reserve": null})).await.status, 202);
    let r = post(json!({"os-initialize_connection": {"connector": {"host": "compute1"}}})).await;
    assert_eq!(r.body["connection_info"]["driver_volume_type"], "local");
    let r = post(
        json!({"os-attach": {"instance_uuid": "vm1", "mountpoint": "/dev/vdb", "mode": "rw"}}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(status(&c, &id).await, "in-use");
    assert_eq!(post(json!({"os-begin_detaching": null})).await.status, 202);
    assert_eq!(status(&c, &id).await, "detaching");
    assert_eq!(post(json!({"os-roll_detaching": null})).await.status, 202);
    assert_eq!(status(&c, &id).await, "in-use");
    assert_eq!(
        post(json!({"os-terminate_connection": {"connector": {}}}))
            .await
            .status,
        202
    );
    assert_eq!(post(json!({"os-detach": {}})).await.status, 202);
    assert_eq!(status(&c, &id).await, "available");
    let r = post(json!({"os-frobnicate": {}})).await;
    assert_fault(&r, 501, "notImplemented");
}

#[tokio::test]
async fn compute_attaches_in_process_and_failures_leave_nothing() {
    let c = start().await;
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
    let id = c.available(2).await;
    let me = Caller {
        project_id: c.v.project.clone(),
        user_id: "u".into(),
        is_admin: false,
    };
    let stranger = Caller {
        project_id: "other".into(),
        ..me.clone()
    };
    let att = ferrostack_common::ids::new_uuid();
    let hidden = state
        .reserve_attachment(&stranger, &id, "vm1", &att)
        .unwrap_err();
    assert_eq!(hidden.status(), http::StatusCode::NOT_FOUND);
    state.reserve_attachment(&me, &id, "vm1", &att).unwrap();
    // A repeat with the same id (compute retrying) finds it made.
    state.reserve_attachment(&me, &id, "vm1", &att).unwrap();
    let again = state
        .reserve_attachment(&me, &id, "vm2", &ferrostack_common::ids::new_uuid())
        .unwrap_err();
    assert_eq!(again.status(), http::StatusCode::BAD_REQUEST);
    // A file on storage1's disk is opened on another host through an
    // export of storage1: a row for storage1's document, to compute1,
    // with a key that is in no connection_info.
    use ferrostack_store::volume_exports::ExportRecords;
    let (far, info) = state.connect_attachment(&me, &att, "compute1").unwrap();
    let ferrostack_host_contract::block::Connection::Export { name, key, .. } = &far else {
        panic!("an export connection: {far:?}");
    };
    assert_eq!(name, &id);
    let wait = info.export.clone().expect("wait for the export");
    assert_eq!(wait.storage_host, "storage1");
    let row = c.v.s.store.get_export(&id).unwrap().expect("export row");
    assert_eq!(row.allowed_hosts, vec!["compute1".to_string()]);
    assert_eq!(
        (row.key.as_str(), row.generation),
        (key.expose(), wait.generation)
    );
    let a = state.attachment(&me, &att).unwrap();
    assert!(!a
        .connection_info
        .unwrap()
        .to_string()
        .contains(key.expose()));
    // Extending it attached would not reach the far guest: refused.
    state.complete_attachment(&me, &att).unwrap();
    let grow = state.extend_volume(&me, &id, 3, true).unwrap_err();
    assert_eq!(grow.status(), http::StatusCode::BAD_REQUEST);
    assert!(grow.to_string().contains("export"), "{grow}");
    // Connected on the storage host instead: the file, and no export.
    let (conn, info) = state.connect_attachment(&me, &att, "storage1").unwrap();
    assert!(matches!(
        conn,
        ferrostack_host_contract::block::Connection::File { .. }
    ));
    assert_eq!((info.size_gib, info.read_only), (2, false));
    assert!(info.export.is_none());
    assert!(c.v.s.store.get_export(&id).unwrap().is_none());
    state.complete_attachment(&me, &att).unwrap();
    assert_eq!(status(&c, &id).await, "in-use");
    state.delete_attachment(&me, &att).unwrap();
    assert_eq!(status(&c, &id).await, "available");
    assert!(state.delete_attachment(&me, &att).is_err());
    // Boot from volume: no image service here, so the image is not found
    // and nothing is created.
    let r = state
        .create_volume_from_image(&me, "img", 1, None)
        .await
        .unwrap_err();
    assert_eq!(r.status(), http::StatusCode::NOT_FOUND);
    assert_eq!(c.usage("volumes"), 1);
    let v = state
        .wait_available(&me, &id, std::time::Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(v.size_gib, 2);
}

#[tokio::test]
async fn snapshots_count_in_quota_and_hold_their_volume() {
    let c = start().await;
    let id = c.available(2).await;
    let r = c
        .send(
            Method::POST,
            "/snapshots",
            &c.member,
            json!({"snapshot": {"volume_id": id, "name": "s1"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let sid = r.body["snapshot"]["id"].as_str().unwrap().to_string();
    c.wait_status(&format!("/snapshots/{sid}"), "snapshot", "available")
        .await;
    assert_eq!((c.usage("snapshots"), c.usage("gigabytes")), (1, 4));
    assert_eq!(c.backend.snapshots()[&sid], 2);
    // A volume from the snapshot, on the same backend.
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"snapshot_id": sid}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let from = r.body["volume"]["id"].as_str().unwrap().to_string();
    c.wait_status(&format!("/volumes/{from}"), "volume", "available")
        .await;
    assert_eq!(c.backend.volumes()[&from], 2);
    // A volume with snapshots goes only with cascade.
    let r = c
        .send(
            Method::DELETE,
            &format!("/volumes/{id}"),
            &c.member,
            json!({}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .send(
            Method::PUT,
            &format!("/snapshots/{sid}"),
            &c.member,
            json!({"snapshot": {"name": "s2"}}),
        )
        .await;
    assert_eq!(r.body["snapshot"]["name"], "s2");
    let m = format!("/snapshots/{sid}/metadata");
    let r = c
        .send(Method::POST, &m, &c.member, json!({"metadata": {"a": "1"}}))
        .await;
    assert_eq!(r.body["metadata"], json!({"a": "1"}));
    let r = c
        .send(
            Method::PUT,
            &format!("{m}/a"),
            &c.member,
            json!({"meta": {"a": "2"}}),
        )
        .await;
    assert_eq!(r.body["meta"], json!({"a": "2"}));
    assert_eq!(
        c.get(&format!("{m}/a"), &c.member).await.body["meta"],
        json!({"a": "2"})
    );
    let list = c.get("/snapshots/detail?name=s2", &c.member).await;
    assert_eq!(list.body["snapshots"].as_array().unwrap().len(), 1);
    let p = c.v.s.personas(&c.v.project).await;
    assert_fault(
        &c.get(&format!("/snapshots/{sid}"), &p.outsider).await,
        404,
        "itemNotFound",
    );
    let r =
        c.v.s
            .call(c.v.s.req(
                Method::DELETE,
                &c.v.url(&format!("/volumes/{id}?cascade=true")),
                &c.member,
            ))
            .await;
    assert_eq!(r.status, 202, "{}", r.body);
    c.wait_gone(&format!("/volumes/{id}")).await;
    assert_fault(
        &c.get(&format!("/snapshots/{sid}"), &c.member).await,
        404,
        "itemNotFound",
    );
    assert!(c.backend.snapshots().is_empty());
    assert_eq!(
        (
            c.usage("snapshots"),
            c.usage("volumes"),
            c.usage("gigabytes")
        ),
        (0, 1, 2)
    );
}

#[tokio::test]
async fn types_select_backends_and_private_types_need_access() {
    let c = start().await;
    let admin = c.v.s.admin_token().await;
    let r = c
        .send(Method::POST, "/types", &admin, json!({"volume_type": {"name": "gold", "os-volume-type-access:is_public": false, "extra_specs": {"volume_backend_name": "fake"}}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tid = r.body["volume_type"]["id"].as_str().unwrap().to_string();
    let r = c
        .send(
            Method::POST,
            "/types",
            &c.member,
            json!({"volume_type": {"name": "x"}}),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"size": 1, "volume_type": "gold"}}),
        )
        .await;
    assert_fault(&r, 404, "itemNotFound");
    let r = c
        .send(
            Method::POST,
            &format!("/types/{tid}/action"),
            &admin,
            json!({"addProjectAccess": {"project": c.v.project}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"size": 1, "volume_type": "gold"}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["volume"]["volume_type"], "gold");
    let vid = r.body["volume"]["id"].as_str().unwrap().to_string();
    // A type with a backend nobody serves: no valid backend, nothing made.
    c.send(
        Method::POST,
        &format!("/types/{tid}/extra_specs"),
        &admin,
        json!({"extra_specs": {"volume_backend_name": "ceph"}}),
    )
    .await;
    let r = c
        .send(
            Method::POST,
            "/volumes",
            &c.member,
            json!({"volume": {"size": 1, "volume_type": "gold"}}),
        )
        .await;
    assert_fault(&r, 503, "serviceUnavailable");
    // In use: the type stays.
    let r = c
        .send(Method::DELETE, &format!("/types/{tid}"), &admin, json!({}))
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c.get("/types/default", &c.member).await;
    assert_eq!(r.body["volume_type"]["name"], "__DEFAULT__");
    let r = c
        .send(
            Method::DELETE,
            &format!("/types/{}", r.body["volume_type"]["id"].as_str().unwrap()),
            &admin,
            json!({}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let _ = vid;
    let zones = c.get("/os-availability-zone", &c.member).await;
    assert_eq!(zones.body["availabilityZoneInfo"][0]["zoneName"], "nova");
    let services = c.get("/os-services", &admin).await;
    let binaries: Vec<_> = services.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["binary"].clone())
        .collect();
    assert_eq!(
        binaries,
        [json!("cinder-scheduler"), json!("cinder-volume")]
    );
    let pools = c
        .get("/scheduler-stats/get_pools?detail=true", &admin)
        .await;
    assert_eq!(pools.body["pools"][0]["name"], "storage1@fake#fake");
    assert_eq!(
        pools.body["pools"][0]["capabilities"]["total_capacity_gb"],
        100
    );
    assert_eq!(
        c.get("/scheduler-stats/get_pools", &c.member).await.status,
        403
    );
}

/// An attached volume, completed through the attachments API, on
/// `host` (the storage host `storage1`: the guest's QEMU opens the file).
async fn in_use(c: &common::Cinder, size: u64) -> String {
    in_use_on(c, size, "storage1").await
}

async fn in_use_on(c: &common::Cinder, size: u64, host: &str) -> String {
    let id = c.available(size).await;
    let create = json!({"attachment": {"volume_uuid": id, "instance_uuid": "vm1"}});
    let r = c
        .at(
            "3.44",
            Method::POST,
            "/attachments",
            &c.member,
            Some(create),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let att = r.body["attachment"]["id"].as_str().unwrap().to_string();
    let connector = json!({"attachment": {"connector": {"host": host, "mountpoint": "/dev/vdb"}}});
    let r = c
        .at(
            "3.44",
            Method::PUT,
            &format!("/attachments/{att}"),
            &c.member,
            Some(connector),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .at(
            "3.44",
            Method::POST,
            &format!("/attachments/{att}/action"),
            &c.member,
            Some(json!({"os-complete": null})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(status(c, &id).await, "in-use");
    id
}

#[tokio::test]
async fn a_forced_snapshot_of_an_attached_volume_waits_for_the_guests_switch() {
    let c = start().await;
    let id = in_use(&c, 1).await;
    // force=false: refused, nothing created, no quota held.
    let before = c.usage("snapshots");
    let r = c
        .send(
            Method::POST,
            "/snapshots",
            &c.member,
            json!({"snapshot": {"volume_id": id, "force": false}}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    assert_eq!(c.usage("snapshots"), before);
    assert!(c.backend.snapshots().is_empty());

    c.events.hold_switches();
    let r = c
        .send(
            Method::POST,
            "/snapshots",
            &c.member,
            json!({"snapshot": {"volume_id": id, "force": true}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let sid = r.body["snapshot"]["id"].as_str().unwrap().to_string();
    assert_eq!(c.usage("snapshots"), before + 1);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while c.events.switched().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no switch asked");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(c.events.switched(), vec![id.clone()]);
    let s = c.get(&format!("/snapshots/{sid}"), &c.member).await;
    assert_eq!(
        s.body["snapshot"]["status"], "creating",
        "not available before the guests switched"
    );
    assert!(c.backend.snapshots().is_empty());
    c.events.release_switches();
    c.wait_status(&format!("/snapshots/{sid}"), "snapshot", "available")
        .await;
    let calls = c.backend.calls();
    let begin = calls
        .iter()
        .position(|x| x == &format!("begin_live_snapshot {sid} {id}"));
    let finish = calls
        .iter()
        .position(|x| x == &format!("finish_live_snapshot {sid}"));
    assert!(begin.is_some() && begin < finish, "{calls:?}");
    assert!(!calls.iter().any(|x| x.starts_with("create_snapshot")));
    assert_eq!(status(&c, &id).await, "in-use", "the volume stays attached");

    // From 3.66 no `force` is needed, and an explicit false is refused.
    let body = |force: Option<bool>| {
        let mut s = json!({"volume_id": id});
        if let Some(f) = force {
            s["force"] = json!(f);
        }
        Some(json!({ "snapshot": s }))
    };
    let r = c
        .at(
            "3.66",
            Method::POST,
            "/snapshots",
            &c.member,
            body(Some(false)),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = c
        .at("3.66", Method::POST, "/snapshots", &c.member, body(None))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let sid = r.body["snapshot"]["id"].as_str().unwrap().to_string();
    c.wait_status(&format!("/snapshots/{sid}"), "snapshot", "available")
        .await;
}

#[tokio::test]
async fn a_live_snapshot_a_restart_interrupted_ends_in_error() {
    let c = start().await;
    let id = in_use(&c, 1).await;
    c.events.hold_switches();
    let r = c
        .send(
            Method::POST,
            "/snapshots",
            &c.member,
            json!({"snapshot": {"volume_id": id, "force": true}}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let sid = r.body["snapshot"]["id"].as_str().unwrap().to_string();
    // The process restarts: a new state over the same store settles it.
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
    state.recover_snapshots().unwrap();
    let s = c.get(&format!("/snapshots/{sid}"), &c.member).await;
    assert_eq!(s.body["snapshot"]["status"], "error");
    assert_eq!(status(&c, &id).await, "in-use");
}

#[tokio::test]
async fn a_volume_attached_on_another_host_is_not_snapshotted_live() {
    let c = start().await;
    let id = in_use_on(&c, 1, "compute1").await;
    let before = c.usage("snapshots");
    let r = c
        .send(
            Method::POST,
            "/snapshots",
            &c.member,
            json!({"snapshot": {"volume_id": id, "force": true}}),
        )
        .await;
    let m = assert_fault(&r, 400, "badRequest");
    assert!(m.contains("other than its storage host"), "{m}");
    assert_eq!(c.usage("snapshots"), before, "no quota held");
    assert!(c.backend.snapshots().is_empty());
    assert!(!c
        .backend
        .calls()
        .iter()
        .any(|x| x.starts_with("begin_live_snapshot")));
    let r = c
        .get(&format!("/snapshots?volume_id={id}"), &c.member)
        .await;
    assert!(r.body["snapshots"].as_array().unwrap().is_empty());
    assert_eq!(status(&c, &id).await, "in-use");
}
