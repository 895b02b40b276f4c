//! Server create and resize as steps of the step/undo runner, seen from
//! outside: a step that fails is undone before the API answers, and a
//! crash between steps is undone (or, for an applied resize, finished) by
//! start-up recovery. Failures are injected through the operation records
//! (`ferrostack_operations::testing::FaultyRecords`): the record of a step
//! fails, which to the runner is the next step failing, or panics, which
//! stops the request dead as a dying process would.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_fault, Compute};
use ferrostack_compute::servers::{create, resize_steps};
use ferrostack_operations::testing::FaultMode;
use ferrostack_quota::COMPUTE;
use ferrostack_store::operation::OperationStore;
use ferrostack_store::placement::PlacementStore;
use ferrostack_store::server::ServerStore;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const V: &str = "2.96";

/// How many steps of `steps` a record counts once `step` has run.
fn after(steps: &[&str], step: &str) -> u32 {
    steps.iter().position(|s| *s == step).unwrap() as u32 + 1
}

struct World {
    c: Compute,
    member: String,
    image: String,
    group: String,
}

/// A cloud with one compute host (no agent unless `agent`), flavors 1 and
/// 2 (1 and 2 vCPUs) and an affinity group.
async fn world(agent: bool) -> World {
    let c = Compute::start_with_faults().await;
    let p = c.s.personas(&c.project).await;
    for (id, vcpus) in [("1", 1), ("2", 2)] {
        let body = json!({"flavor": {"name": format!("f{id}"), "id": id, "vcpus": vcpus, "ram": 256, "disk": 1}});
        let r = c
            .at(Method::POST, "/flavors", &p.admin, V, Some(body))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    if agent {
        c.start_fake_agent("host-1", None);
    } else {
        let caps = ferrostack_hypervisor::FakeConfig::default().capabilities;
        let inventory = ferrostack_scheduler::InventoryConfig {
            reserved_host_memory_mb: 0,
            ..Default::default()
        };
        c.link
            .register_host("host-1", "nova", &caps, &inventory)
            .unwrap();
    }
    let body = json!({"server_group": {"name": "g", "policy": "affinity"}});
    let r = c
        .at(Method::POST, "/os-server-groups", &p.member, V, Some(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    World {
        group: r.body["server_group"]["id"].as_str().unwrap().to_string(),
        image: c.image(&c.project, "qcow2"),
        member: p.member,
        c,
    }
}

impl World {
    /// `POST /servers` of two servers into the group.
    fn boot_body(&self) -> Value {
        json!({
            "server": {"name": "vm", "imageRef": self.image, "flavorRef": "1",
                       "networks": "none", "min_count": 1, "max_count": 2},
            "os:scheduler_hints": {"group": self.group},
        })
    }

    fn arm(&self, kind: &str, completed: u32, mode: FaultMode) {
        self.c.faults.as_ref().unwrap().arm(kind, completed, mode);
    }

    async fn servers(&self) -> Vec<Value> {
        let r = self
            .c
            .at(Method::GET, "/servers/detail", &self.member, V, None)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["servers"].as_array().unwrap().clone()
    }

    fn usage(&self) -> Value {
        json!(self.c.s.quotas.usage(&COMPUTE, &self.c.project).unwrap())
    }

    fn vcpus_used(&self) -> u64 {
        self.c
            .s
            .store
            .provider_summary("host-1")
            .unwrap()
            .used("VCPU")
    }

    async fn members(&self) -> Value {
        let path = format!("/os-server-groups/{}", self.group);
        let r = self.c.at(Method::GET, &path, &self.member, V, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["server_group"]["members"].clone()
    }

    /// Nothing of a create is left: what a user (and the host) would see.
    async fn assert_nothing_left(&self) {
        assert_eq!(
            self.servers().await,
            Vec::<Value>::new(),
            "no server listed"
        );
        let usage = self.usage();
        for r in ["instances", "cores", "ram"] {
            assert_eq!(usage[r], 0, "{r} released: {usage}");
        }
        assert_eq!(self.vcpus_used(), 0, "no placement allocation");
        assert_eq!(self.members().await, json!([]), "no group member");
        assert!(self.c.s.store.unfinished_operations().unwrap().is_empty());
    }

    async fn server(&self, id: &str) -> Value {
        let path = format!("/servers/{id}");
        let r = self.c.at(Method::GET, &path, &self.member, V, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["server"].clone()
    }

    async fn wait_status(&self, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.server(id).await;
            if s["status"] == status && s["OS-EXT-STS:task_state"].is_null() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{id} never reached {status}: {s}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// An ACTIVE server of flavor 1.
    async fn active_server(&self) -> String {
        let body = json!({"server": {"name": "vm", "imageRef": self.image,
                                     "flavorRef": "1", "networks": "none"}});
        let r = self
            .c
            .at(Method::POST, "/servers", &self.member, V, Some(body))
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        let id = r.body["server"]["id"].as_str().unwrap().to_string();
        self.wait_status(&id, "ACTIVE").await;
        id
    }

    async fn resize(&self, id: &str) -> ferrostack_testkit::Reply {
        let path = format!("/servers/{id}/action");
        let body = json!({"resize": {"flavorRef": "2"}});
        self.c
            .at(Method::POST, &path, &self.member, V, Some(body))
            .await
    }
}

#[tokio::test]
async fn a_create_failing_after_assignment_is_undone_before_the_api_answers() {
    let w = world(false).await;
    w.arm(
        create::KIND,
        after(&create::STEPS, "assign"),
        FaultMode::Fail,
    );
    let body = w.boot_body();
    let r =
        w.c.at(Method::POST, "/servers", &w.member, V, Some(body))
            .await;
    assert_fault(&r, 500, "computeFault");
    assert!(w.c.faults.as_ref().unwrap().fired());
    w.assert_nothing_left().await;

    // The same request goes through once nothing fails.
    let body = w.boot_body();
    let r =
        w.c.at(Method::POST, "/servers", &w.member, V, Some(body))
            .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(w.servers().await.len(), 2);
    assert_eq!(
        (w.usage()["instances"].clone(), w.vcpus_used()),
        (json!(2), 2)
    );
    assert_eq!(w.members().await.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_create_cut_short_by_a_crash_is_undone_at_start_up() {
    let w = world(false).await;
    // Dies while recording that scheduling (and the claim) was done.
    w.arm(
        create::KIND,
        after(&create::STEPS, "schedule"),
        FaultMode::Crash,
    );
    let url = w.c.url("/servers");
    let sent =
        w.c.s
            .req(Method::POST, &url, &w.member)
            .header("OpenStack-API-Version", format!("compute {V}"))
            .json(&w.boot_body())
            .send()
            .await;
    assert!(sent.is_err(), "the request died with its process: {sent:?}");
    let servers = w.servers().await;
    assert_eq!(servers.len(), 2, "the crash left servers behind");
    assert_eq!(
        (w.usage()["instances"].clone(), w.vcpus_used()),
        (json!(2), 2)
    );
    assert_eq!(w.members().await.as_array().unwrap().len(), 2);

    // A row from before operations were recorded: no record, so ERROR.
    let id = servers[0]["id"].as_str().unwrap();
    let mut legacy = w.c.s.store.get_instance(id).unwrap().unwrap();
    legacy.uuid = ferrostack_common::ids::new_uuid();
    w.c.s.store.create_instance(&legacy).unwrap();

    let to_error = ferrostack_compute::recover(&w.c.config).unwrap();
    assert_eq!(to_error, 1, "only the row without a record goes to ERROR");
    let left = w.servers().await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        (left[0]["id"].as_str(), &left[0]["status"]),
        (Some(legacy.uuid.as_str()), &json!("ERROR"))
    );
    w.c.s.store.purge_instance(&legacy.uuid).unwrap();
    w.assert_nothing_left().await;
}

#[tokio::test]
async fn a_create_a_live_controller_runs_is_left_to_it_and_undone_once_it_is_gone() {
    use ferrostack_store::controller::ControllerStore;
    let long = Duration::from_secs(60);
    let w = world(false).await;
    let store = &w.c.s.store;
    // This process is controller A: its creates are recorded as A's.
    store
        .register_controller("ctl-a", "a-1", "host-a", long)
        .unwrap();
    w.arm(
        create::KIND,
        after(&create::STEPS, "schedule"),
        FaultMode::Crash,
    );
    let url = w.c.url("/servers");
    let sent =
        w.c.s
            .req(Method::POST, &url, &w.member)
            .header("OpenStack-API-Version", format!("compute {V}"))
            .json(&w.boot_body())
            .send()
            .await;
    assert!(sent.is_err(), "the request died: {sent:?}");
    // Controller B sweeps the same database while A's lease holds: as far
    // as anyone knows A is still running that create, so it is left alone.
    store
        .register_controller("ctl-b", "b-1", "host-b", long)
        .unwrap();
    let report = ferrostack_compute::recover_orphans(&w.c.config).unwrap();
    assert_eq!(report.undone, 0);
    assert_eq!(w.servers().await.len(), 2, "A's create is untouched");
    // A is gone (its lease ended): B's next sweep undoes the create, once.
    store.retire_controller("ctl-a", "a-1").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut undone = 0;
    while undone == 0 && Instant::now() < deadline {
        undone = ferrostack_compute::recover_orphans(&w.c.config)
            .unwrap()
            .undone;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(undone, 1);
    assert_eq!(
        ferrostack_compute::recover_orphans(&w.c.config).unwrap(),
        Default::default()
    );
    w.assert_nothing_left().await;
}

#[tokio::test]
async fn a_resize_failing_after_its_claim_releases_it_at_once() {
    let w = world(true).await;
    let id = w.active_server().await;
    w.arm(
        resize_steps::KIND,
        after(&resize_steps::STEPS, "claim"),
        FaultMode::Fail,
    );
    let r = w.resize(&id).await;
    assert_fault(&r, 500, "computeFault");
    let s = w.server(&id).await;
    assert_eq!(
        (&s["status"], &s["flavor"]["vcpus"]),
        (&json!("ACTIVE"), &json!(1))
    );
    assert_eq!(w.usage()["cores"], 1, "the extra core is released");
    assert_eq!(w.vcpus_used(), 1, "the extra claim is released");
    let consumer = format!("{id}/resize");
    assert!(w.c.s.store.allocations(&consumer).unwrap().is_empty());
    assert!(w.c.s.store.unfinished_operations().unwrap().is_empty());
}

#[tokio::test]
async fn a_resize_applied_before_a_crash_is_finished_at_start_up() {
    let w = world(true).await;
    let id = w.active_server().await;
    w.arm(
        resize_steps::KIND,
        after(&resize_steps::STEPS, "apply"),
        FaultMode::Crash,
    );
    let url = w.c.url(&format!("/servers/{id}/action"));
    let sent =
        w.c.s
            .req(Method::POST, &url, &w.member)
            .header("OpenStack-API-Version", format!("compute {V}"))
            .json(&json!({"resize": {"flavorRef": "2"}}))
            .send()
            .await;
    assert!(sent.is_err(), "the request died with its process: {sent:?}");

    ferrostack_compute::recover(&w.c.config).unwrap();
    assert!(w.c.s.store.unfinished_operations().unwrap().is_empty());
    let s = w.wait_status(&id, "VERIFY_RESIZE").await;
    assert_eq!(s["flavor"]["vcpus"], 2);
    assert_eq!(w.usage()["cores"], 2, "the new flavor's cores stay held");
    assert_eq!(w.vcpus_used(), 2);
}
