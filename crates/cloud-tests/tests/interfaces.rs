//! Interfaces of a running server (`os-interface`) through HTTP, with an
//! in-memory network service and a host agent over the fake hypervisor:
//! an attach binds (or creates) the port on the server's host and the VM
//! gets the NIC; a detach takes it out and gives the port back (deleted
//! if Nova made it, unbound if the user brought it); refusals change
//! nothing; two attaches at once both land.

#![allow(clippy::unwrap_used)]

mod common;

use common::networks::FakeNetworks;
use common::{assert_fault, Compute};
use ferrostack_hypervisor::{FakeHypervisor, Hypervisor};
use ferrostack_testkit::Reply;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const V: &str = "2.96";

struct World {
    c: Compute,
    net: Arc<FakeNetworks>,
    hv: Arc<FakeHypervisor>,
    admin: String,
    member: String,
    outsider: String,
    image: String,
}

async fn world() -> World {
    let c = Compute::start_with_networks().await;
    let p = c.s.personas(&c.project).await;
    let r = c
        .at(
            Method::POST,
            "/flavors",
            &p.admin,
            V,
            Some(json!({"flavor": {"name": "f1", "id": "1", "vcpus": 1, "ram": 256, "disk": 1}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let image = c.image(&c.project, "qcow2");
    let hv = c.start_fake_agent("host-1", None);
    World {
        net: c.networks.clone().unwrap(),
        c,
        hv,
        admin: p.admin,
        member: p.member,
        outsider: p.outsider,
        image,
    }
}

impl World {
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
        self.c.at(method, path, token, V, body).await
    }

    async fn server(&self, id: &str) -> Value {
        let r = self
            .call(Method::GET, &format!("/servers/{id}"), &self.member, None)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["server"].clone()
    }

    /// A server booted with no network, ACTIVE.
    async fn active_server(&self) -> String {
        let body = json!({"server": {"name": "vm", "imageRef": self.image, "flavorRef": "1", "networks": "none"}});
        let r = self
            .call(Method::POST, "/servers", &self.member, Some(body))
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        let id = r.body["server"]["id"].as_str().unwrap().to_string();
        self.until(&format!("server {id} ACTIVE"), || async {
            let s = self.server(&id).await;
            s["status"] == "ACTIVE" && s["OS-EXT-STS:task_state"].is_null()
        })
        .await;
        id
    }

    async fn attach(&self, server: &str, body: Value) -> Reply {
        self.call(
            Method::POST,
            &format!("/servers/{server}/os-interface"),
            &self.member,
            Some(body),
        )
        .await
    }

    async fn detach(&self, server: &str, port: &str) -> Reply {
        self.call(
            Method::DELETE,
            &format!("/servers/{server}/os-interface/{port}"),
            &self.member,
            None,
        )
        .await
    }

    /// The MACs of the NICs the fake hypervisor's VM has.
    async fn vm_macs(&self, server: &str) -> Vec<String> {
        let id = uuid::Uuid::parse_str(server).unwrap();
        let info = self.hv.state(id).await.unwrap();
        info.nics.into_iter().map(|n| n.mac).collect()
    }

    async fn until<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !check().await {
            assert!(Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The server's desired NICs' MACs and generation, as its row holds them.
    fn desired(&self, server: &str) -> (Vec<String>, i64) {
        use ferrostack_store::server::ServerStore;
        let i = self.c.s.store.get_instance(server).unwrap().unwrap();
        let d: ferrostack_host_contract::DesiredInstance =
            serde_json::from_value(i.desired.unwrap()).unwrap();
        (
            d.spec.nics.into_iter().map(|n| n.mac).collect(),
            i.generation,
        )
    }

    /// How many attaches the server's document says are under way.
    fn attaching(&self, server: &str) -> usize {
        use ferrostack_store::server::ServerStore;
        let i = self.c.s.store.get_instance(server).unwrap().unwrap();
        ferrostack_compute::servers::doc(&i)
            .unwrap()
            .attaching
            .len()
    }

    fn actions(&self, server: &str) -> Vec<(String, bool)> {
        use ferrostack_store::server::ServerStore;
        (self.c.s.store.list_actions(server).unwrap().into_iter())
            .map(|a| (a.action, a.finish_time.is_some()))
            .collect()
    }
}

#[tokio::test]
async fn a_network_attach_plugs_a_nic_into_the_vm_and_its_detach_deletes_the_port() {
    let w = world().await;
    let net = w.net.network(&w.c.project, "blue");
    let server = w.active_server().await;
    let r = w
        .attach(&server, json!({"interfaceAttachment": {"net_id": net}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = &r.body["interfaceAttachment"];
    let port_id = a["port_id"].as_str().unwrap().to_string();
    let port = w.net.get(&port_id).expect("a port was created");
    assert_eq!(a["net_id"], net.as_str());
    assert_eq!(a["mac_addr"], port.mac.as_str());
    assert_eq!(a["fixed_ips"][0]["ip_address"], port.ip.as_str());
    assert_eq!(a["tag"], Value::Null, "tag is shown from 2.70");
    assert_eq!(
        (
            port.device_id.as_str(),
            port.host.as_str(),
            port.owner.as_str()
        ),
        (server.as_str(), "host-1", "compute:nova")
    );
    // The user sees the address, and the guest gets the NIC.
    let s = w.server(&server).await;
    assert_eq!(s["addresses"]["blue"][0]["addr"], port.ip.as_str());
    let ips = w
        .call(
            Method::GET,
            &format!("/servers/{server}/ips"),
            &w.member,
            None,
        )
        .await;
    assert_eq!(ips.body["addresses"]["blue"][0]["addr"], port.ip.as_str());
    w.until("the VM has the NIC", || async {
        w.vm_macs(&server).await == vec![port.mac.clone()]
    })
    .await;
    w.until("the attach action finished", || async {
        w.actions(&server)
            .contains(&("attach_interface".into(), true))
    })
    .await;
    let list = w
        .call(
            Method::GET,
            &format!("/servers/{server}/os-interface"),
            &w.member,
            None,
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(
        list.body["interfaceAttachments"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        list.body["interfaceAttachments"][0]["port_id"],
        port_id.as_str()
    );
    assert_eq!(list.body["interfaceAttachments"][0]["port_state"], "ACTIVE");
    let one = w
        .call(
            Method::GET,
            &format!("/servers/{server}/os-interface/{port_id}"),
            &w.member,
            None,
        )
        .await;
    assert_eq!(
        one.body["interfaceAttachment"]["mac_addr"],
        port.mac.as_str()
    );

    let r = w.detach(&server, &port_id).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(w.net.get(&port_id).is_none(), "a port Nova made is deleted");
    assert_eq!(w.server(&server).await["addresses"], json!({}));
    w.until("the VM lost the NIC", || async {
        w.vm_macs(&server).await.is_empty()
    })
    .await;
    w.until("the detach action finished", || async {
        w.actions(&server)
            .contains(&("detach_interface".into(), true))
    })
    .await;
    let r = w.detach(&server, &port_id).await;
    assert_fault(&r, 404, "itemNotFound");
}

#[tokio::test]
async fn a_users_port_is_bound_on_attach_and_only_unbound_on_detach_and_delete() {
    let w = world().await;
    let net = w.net.network(&w.c.project, "blue");
    let mine = w.net.port(&w.c.project, &net);
    let server = w.active_server().await;
    let r = w
        .attach(&server, json!({"interfaceAttachment": {"port_id": mine}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.net.get(&mine).unwrap().device_id, server);
    let r = w.detach(&server, &mine).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let port = w.net.get(&mine).expect("the user's port stays");
    assert_eq!((port.device_id.as_str(), port.host.as_str()), ("", ""));

    // Attached again, with one Nova makes beside it, then the server deleted:
    // Nova's port goes, the user's is unbound.
    let r = w
        .attach(&server, json!({"interfaceAttachment": {"port_id": mine}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = w.attach(&server, json!({})).await;
    assert_eq!(r.status, 200, "the project's one network: {}", r.body);
    let made = r.body["interfaceAttachment"]["port_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(w.desired(&server).0.len(), 2);
    let r = w
        .call(
            Method::DELETE,
            &format!("/servers/{server}"),
            &w.member,
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    w.until("the delete gave the ports back", || async {
        w.net.get(&made).is_none() && w.net.get(&mine).is_some_and(|p| p.device_id.is_empty())
    })
    .await;
}

#[tokio::test]
async fn a_port_in_use_elsewhere_is_409_and_nothing_changes() {
    let w = world().await;
    let net = w.net.network(&w.c.project, "blue");
    let (first, second) = (w.active_server().await, w.active_server().await);
    let r = w
        .attach(&first, json!({"interfaceAttachment": {"net_id": net}}))
        .await;
    let port_id = r.body["interfaceAttachment"]["port_id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = w.desired(&second);
    let r = w
        .attach(
            &second,
            json!({"interfaceAttachment": {"port_id": port_id}}),
        )
        .await;
    let message = assert_fault(&r, 409, "conflictingRequest");
    assert!(message.contains("in use"), "{message}");
    assert_eq!(w.desired(&second), before, "the second server is unchanged");
    assert_eq!(w.net.get(&port_id).unwrap().device_id, first);
    assert_eq!(w.server(&second).await["addresses"], json!({}));
}

#[tokio::test]
async fn a_failed_attach_leaves_no_port_and_no_change() {
    let w = world().await;
    let net = w.net.network(&w.c.project, "blue");
    let server = w.active_server().await;
    let before = (w.desired(&server), w.net.port_ids());
    w.net
        .fail_allocations
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let r = w
        .attach(&server, json!({"interfaceAttachment": {"net_id": net}}))
        .await;
    assert_fault(&r, 409, "conflictingRequest");
    assert_eq!((w.desired(&server), w.net.port_ids()), before);
    assert_eq!(w.attaching(&server), 0, "no record of the attach is left");
    // Unknown network or port: 404; a bad body: 400; nothing made either.
    let unknown = uuid::Uuid::new_v4().to_string();
    let r = w
        .attach(&server, json!({"interfaceAttachment": {"net_id": unknown}}))
        .await;
    assert_fault(&r, 404, "itemNotFound");
    let r = w
        .attach(
            &server,
            json!({"interfaceAttachment": {"port_id": unknown}}),
        )
        .await;
    assert_fault(&r, 404, "itemNotFound");
    let r = w
        .attach(
            &server,
            json!({"interfaceAttachment": {"port_id": unknown, "net_id": net}}),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    assert_eq!((w.desired(&server), w.net.port_ids()), before);
}

#[tokio::test]
async fn two_attaches_at_once_both_land() {
    let w = world().await;
    let (a, b) = (
        w.net.network(&w.c.project, "a"),
        w.net.network(&w.c.project, "b"),
    );
    let server = w.active_server().await;
    let (ra, rb) = tokio::join!(
        w.attach(&server, json!({"interfaceAttachment": {"net_id": a}})),
        w.attach(&server, json!({"interfaceAttachment": {"net_id": b}})),
    );
    assert_eq!(
        (ra.status, rb.status),
        (200, 200),
        "{} {}",
        ra.body,
        rb.body
    );
    let mut macs: Vec<String> = [&ra, &rb]
        .iter()
        .map(|r| {
            r.body["interfaceAttachment"]["mac_addr"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    macs.sort();
    let mut desired = w.desired(&server).0;
    desired.sort();
    assert_eq!(desired, macs, "both NICs are in the document");
    w.until("the VM has both NICs", || async {
        let mut vm = w.vm_macs(&server).await;
        vm.sort();
        vm == macs
    })
    .await;
}

#[tokio::test]
async fn another_projects_server_is_404_and_a_busy_one_409() {
    let w = world().await;
    let net = w.net.network(&w.c.project, "blue");
    let server = w.active_server().await;
    let path = format!("/servers/{server}/os-interface");
    let r = w.call(Method::GET, &path, &w.outsider, None).await;
    assert_fault(&r, 404, "itemNotFound");
    let body = json!({"interfaceAttachment": {"net_id": net}});
    let r = w
        .call(Method::POST, &path, &w.outsider, Some(body.clone()))
        .await;
    assert_fault(&r, 404, "itemNotFound");
    let r = w.call(Method::GET, &path, &w.admin, None).await;
    assert_eq!(r.status, 200, "admins see every server's: {}", r.body);
    // Stopping: a task runs, so the attach waits for no one and is refused.
    w.hv.set_delay(
        ferrostack_hypervisor::Operation::PowerOff,
        Duration::from_secs(2),
    );
    let r = w
        .call(
            Method::POST,
            &format!("/servers/{server}/action"),
            &w.member,
            Some(json!({"os-stop": null})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = w.call(Method::POST, &path, &w.member, Some(body)).await;
    let message = assert_fault(&r, 409, "conflictingRequest");
    assert!(message.contains("attach_interface"), "{message}");
    assert!(w.net.port_ids().is_empty(), "no port made");
}

/// The race two requests can run into: both found the server before
/// either wrote. Each attach must add its NIC to the list as the store
/// holds it at its write, not as its request read it.
#[tokio::test]
async fn attaches_that_read_the_server_before_either_wrote_both_land() {
    use ferrostack_compute::servers::interfaces::{attach, Attach};
    use ferrostack_store::server::ServerStore;
    let w = world().await;
    let (a, b) = (
        w.net.network(&w.c.project, "a"),
        w.net.network(&w.c.project, "b"),
    );
    let server = w.active_server().await;
    let state = Arc::new(ferrostack_compute::ComputeState::new(w.c.config.clone()));
    let caller = w.c.config.validator.validate(&w.member).unwrap();
    let stale = w.c.s.store.get_instance(&server).unwrap().unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let threads: Vec<_> = [a, b]
        .into_iter()
        .enumerate()
        .map(|(n, network)| {
            let (state, caller, stale, barrier) = (
                state.clone(),
                caller.clone(),
                stale.clone(),
                barrier.clone(),
            );
            std::thread::spawn(move || {
                barrier.wait();
                let req = Attach {
                    network_id: Some(network),
                    ..Attach::default()
                };
                attach(&state, &caller, &stale, &format!("req-{n}"), &req).unwrap()
            })
        })
        .collect();
    let mut macs: Vec<String> = threads
        .into_iter()
        .map(|t| t.join().unwrap().mac_address)
        .collect();
    macs.sort();
    let mut desired = w.desired(&server).0;
    desired.sort();
    assert_eq!(desired, macs, "neither attach lost the other's NIC");
    let s = w.server(&server).await;
    assert_eq!(s["addresses"].as_object().unwrap().len(), 2, "{s}");
}

/// A server that became busy while the attach made its port: the port is
/// deleted again, and the server's NICs and its document are unchanged.
#[tokio::test]
async fn an_attach_refused_at_its_write_gives_its_port_back() {
    use ferrostack_store::server::ServerStore;
    let w = world().await;
    let net = w.net.network(&w.c.project, "blue");
    let server = w.active_server().await;
    let before = w.desired(&server);
    let (store, id) = (w.c.s.store.clone(), server.clone());
    *w.net.before_allocate.lock().unwrap() = Some(Box::new(move || {
        store
            .modify_instance(&id, &mut |i| {
                i.task_state = Some("powering-off".into());
                Ok(())
            })
            .unwrap();
    }));
    let r = w
        .attach(&server, json!({"interfaceAttachment": {"net_id": net}}))
        .await;
    let message = assert_fault(&r, 409, "conflictingRequest");
    assert!(message.contains("powering-off"), "{message}");
    assert!(
        w.net.port_ids().is_empty(),
        "the port made is deleted again"
    );
    assert_eq!(w.desired(&server), before);
    assert_eq!(w.attaching(&server), 0, "no record of the attach is left");
}

/// What a crash between an attach's port and its write leaves (the port
/// bound, named in the server's `attaching`, not among its NICs) is given
/// back by the server's delete: the port the attach made is deleted, the
/// user's is unbound.
#[tokio::test]
async fn the_delete_gives_back_the_ports_of_an_attach_cut_short() {
    use ferrostack_compute::networks::{Allocation, NicRequest, ServerNetworks};
    use ferrostack_compute::servers::{doc, set_doc, AttachingPort};
    use ferrostack_store::server::ServerStore;
    let w = world().await;
    let net = w.net.network(&w.c.project, "blue");
    let mine = w.net.port(&w.c.project, &net);
    let server = w.active_server().await;
    let made = uuid::Uuid::new_v4().to_string();
    let requests = [
        NicRequest {
            port_id: Some(mine.clone()),
            ..NicRequest::default()
        },
        NicRequest {
            network_id: Some(net),
            ..NicRequest::default()
        },
    ];
    w.net
        .allocate(&Allocation {
            project_id: &w.c.project,
            server_id: &server,
            host: "host-1",
            zone: "nova",
            requests: &requests,
            new_port_ids: std::slice::from_ref(&made),
            security_groups: &[],
        })
        .unwrap();
    w.c.s
        .store
        .modify_instance(&server, &mut |i| {
            let mut d = doc(i).unwrap();
            d.attaching = vec![
                AttachingPort {
                    port_id: mine.clone(),
                    created: false,
                },
                AttachingPort {
                    port_id: made.clone(),
                    created: true,
                },
            ];
            set_doc(i, &d).unwrap();
            Ok(())
        })
        .unwrap();
    let r = w
        .call(
            Method::DELETE,
            &format!("/servers/{server}"),
            &w.member,
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    w.until("the delete gave both ports back", || async {
        w.net.get(&made).is_none() && w.net.get(&mine).is_some_and(|p| p.device_id.is_empty())
    })
    .await;
}
