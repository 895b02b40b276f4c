//! Volumes of a running server (`os-volume_attachments`) through HTTP,
//! with an in-memory volume service and a host agent over the fake
//! hypervisor: an attach reserves and connects the volume, the VM gets
//! the disk and only then is the volume `in-use`; a detach takes the disk
//! out and only then is the volume `available`; refusals change nothing;
//! a server's delete gives its volumes back.

#![allow(clippy::unwrap_used)]

mod common;

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
    hv: Arc<FakeHypervisor>,
    member: String,
    outsider: String,
    image: String,
}

async fn world() -> World {
    let c = Compute::start().await;
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
        c,
        hv,
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

    async fn attach(&self, server: &str, token: &str, volume: &str) -> Reply {
        self.call(
            Method::POST,
            &format!("/servers/{server}/os-volume_attachments"),
            token,
            Some(json!({"volumeAttachment": {"volumeId": volume}})),
        )
        .await
    }

    /// The volume ids of the disks the fake hypervisor's VM has.
    async fn vm_disks(&self, server: &str) -> Vec<String> {
        let id = uuid::Uuid::parse_str(server).unwrap();
        let info = self.hv.state(id).await.unwrap();
        info.volumes.into_iter().map(|v| v.volume_id).collect()
    }

    fn status(&self, volume: &str) -> String {
        self.c.volumes.get(volume).status
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

    fn actions(&self, server: &str) -> Vec<(String, bool)> {
        use ferrostack_store::server::ServerStore;
        (self.c.s.store.list_actions(server).unwrap().into_iter())
            .map(|a| (a.action, a.finish_time.is_some()))
            .collect()
    }
}

#[tokio::test]
async fn an_attach_plugs_the_disk_and_the_volume_is_in_use_only_then() {
    let w = world().await;
    let server = w.active_server().await;
    let volume = w.c.volumes.volume(&w.c.project, 2);
    let r = w.attach(&server, &w.member, &volume).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = &r.body["volumeAttachment"];
    assert_eq!(a["volumeId"], volume.as_str());
    assert_eq!(a["serverId"], server.as_str());
    assert_eq!(a["device"], "/dev/vdb");
    assert!(a.get("id").is_none(), "2.89 drops id");
    assert!(a["attachment_id"].is_string());
    w.until("the VM has the disk", || async {
        w.vm_disks(&server).await == vec![volume.clone()]
    })
    .await;
    w.until("the volume is in-use", || async {
        w.status(&volume) == "in-use"
    })
    .await;
    w.until("the attach action finished", || async {
        w.actions(&server).contains(&("attach_volume".into(), true))
    })
    .await;
    let s = w.server(&server).await;
    assert_eq!(
        s["os-extended-volumes:volumes_attached"],
        json!([{"id": volume, "delete_on_termination": false}])
    );
    let list = w
        .call(
            Method::GET,
            &format!("/servers/{server}/os-volume_attachments"),
            &w.member,
            None,
        )
        .await;
    assert_eq!(
        list.body["volumeAttachments"][0]["volumeId"],
        volume.as_str()
    );

    // Detach: the disk leaves the VM, then the volume is available again.
    let r = w
        .call(
            Method::DELETE,
            &format!("/servers/{server}/os-volume_attachments/{volume}"),
            &w.member,
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    w.until("the VM lost the disk", || async {
        w.vm_disks(&server).await.is_empty()
    })
    .await;
    w.until("the volume is available", || async {
        w.status(&volume) == "available"
    })
    .await;
    w.until("the server lists no volume", || async {
        w.server(&server).await["os-extended-volumes:volumes_attached"] == json!([])
    })
    .await;
    // A second detach is 404.
    let again = w
        .call(
            Method::DELETE,
            &format!("/servers/{server}/os-volume_attachments/{volume}"),
            &w.member,
            None,
        )
        .await;
    assert_fault(&again, 404, "itemNotFound");
}

#[tokio::test]
async fn refused_attaches_leave_the_volume_and_the_server_as_they_were() {
    let w = world().await;
    let server = w.active_server().await;
    // Another project's volume is 404 and stays available.
    let theirs = w.c.volumes.volume("someone-else", 1);
    let r = w.attach(&server, &w.member, &theirs).await;
    assert_fault(&r, 404, "itemNotFound");
    assert_eq!(w.status(&theirs), "available");
    // A volume in use elsewhere is 400.
    let ours = w.c.volumes.volume(&w.c.project, 1);
    let other = w.active_server().await;
    assert_eq!(w.attach(&other, &w.member, &ours).await.status, 200);
    let r = w.attach(&server, &w.member, &ours).await;
    assert_fault(&r, 400, "badRequest");
    // A failed connect releases the reservation.
    let third = w.c.volumes.volume(&w.c.project, 1);
    w.c.volumes
        .fail_connects
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let r = w.attach(&server, &w.member, &third).await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(w.status(&third), "available");
    assert!(w.c.volumes.get(&third).attachments.is_empty());
    // Bad bodies and another project's server.
    let r = w
        .call(
            Method::POST,
            &format!("/servers/{server}/os-volume_attachments"),
            &w.member,
            Some(json!({"volumeAttachment": {"volumeId": "not-a-uuid"}})),
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    let r = w.attach(&server, &w.outsider, &third).await;
    assert_fault(&r, 404, "itemNotFound");
    assert_eq!(w.status(&third), "available");
    let s = w.server(&server).await;
    assert_eq!(s["os-extended-volumes:volumes_attached"], json!([]));
    assert!(w.vm_disks(&server).await.is_empty());
}

#[tokio::test]
async fn a_deleted_server_gives_its_volumes_back() {
    let w = world().await;
    let server = w.active_server().await;
    let volume = w.c.volumes.volume(&w.c.project, 1);
    assert_eq!(w.attach(&server, &w.member, &volume).await.status, 200);
    w.until("the volume is in-use", || async {
        w.status(&volume) == "in-use"
    })
    .await;
    let r = w
        .call(
            Method::DELETE,
            &format!("/servers/{server}"),
            &w.member,
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    w.until("the volume is available", || async {
        w.status(&volume) == "available"
    })
    .await;
    assert!(!w.c.volumes.get(&volume).deleted);
}

#[tokio::test]
async fn a_server_boots_from_a_volume_made_from_its_image_and_deletes_it_with_itself() {
    let w = world().await;
    let body = json!({"server": {
        "name": "bfv", "imageRef": "", "flavorRef": "1", "networks": "none",
        "block_device_mapping_v2": [{
            "uuid": w.image, "source_type": "image", "destination_type": "volume",
            "volume_size": 3, "boot_index": 0, "delete_on_termination": true
        }]
    }});
    let r = w
        .call(Method::POST, "/servers", &w.member, Some(body))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    w.until("server ACTIVE", || async {
        w.server(&id).await["status"] == "ACTIVE"
    })
    .await;
    let s = w.server(&id).await;
    assert_eq!(
        s["image"], "",
        "Nova shows no image for a volume-backed server"
    );
    let attached = s["os-extended-volumes:volumes_attached"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(attached.len(), 1, "{s}");
    assert_eq!(attached[0]["delete_on_termination"], true);
    let volume = attached[0]["id"].as_str().unwrap().to_string();
    let v = w.c.volumes.get(&volume);
    assert_eq!(v.size_gib, 3);
    assert_eq!(v.image_id.as_deref(), Some(w.image.as_str()));
    w.until("the volume is in-use", || async {
        w.status(&volume) == "in-use"
    })
    .await;
    // The VM's root disk is the volume (boot index 0), with no image base.
    let info =
        w.hv.state(uuid::Uuid::parse_str(&id).unwrap())
            .await
            .unwrap();
    assert_eq!(info.volumes.len(), 1);
    assert_eq!(info.volumes[0].boot_index, Some(0));
    // The root disk is on the volume: the flavor's 1 GiB root disk takes
    // none of the host's disk (as Nova claims for a volume-backed server).
    let admin = w.c.s.admin_token().await;
    // (2.87: the last microversion that shows a hypervisor's usage.)
    let r =
        w.c.at(Method::GET, "/os-hypervisors/detail", &admin, "2.87", None)
            .await;
    assert_eq!(r.body["hypervisors"][0]["local_gb_used"], 0, "{}", r.body);
    assert_eq!(
        r.body["hypervisors"][0]["memory_mb_used"], 256,
        "{}",
        r.body
    );
    // The root volume cannot be detached.
    let r = w
        .call(
            Method::DELETE,
            &format!("/servers/{id}/os-volume_attachments/{volume}"),
            &w.member,
            None,
        )
        .await;
    assert_fault(&r, 400, "badRequest");
    // Deleting the server deletes the volume it made.
    let r = w
        .call(Method::DELETE, &format!("/servers/{id}"), &w.member, None)
        .await;
    assert_eq!(r.status, 204);
    w.until("the volume is deleted", || async {
        !w.c.volumes.exists(&volume)
    })
    .await;
}

#[tokio::test]
async fn a_refused_boot_from_volume_leaves_no_volume() {
    let w = world().await;
    // No size for a new volume: 400 before anything is made.
    let body = json!({"server": {
        "name": "bfv", "imageRef": "", "flavorRef": "1", "networks": "none",
        "block_device_mapping_v2": [{
            "uuid": w.image, "source_type": "image", "destination_type": "volume", "boot_index": 0
        }]
    }});
    let r = w
        .call(Method::POST, "/servers", &w.member, Some(body))
        .await;
    assert_fault(&r, 400, "badRequest");
    // Another project's volume as the root: 404 at parse, nothing made.
    let theirs = w.c.volumes.volume("someone-else", 1);
    let body = json!({"server": {
        "name": "bfv", "flavorRef": "1", "networks": "none",
        "block_device_mapping_v2": [{
            "uuid": theirs, "source_type": "volume", "destination_type": "volume", "boot_index": 0
        }]
    }});
    let r = w
        .call(Method::POST, "/servers", &w.member, Some(body))
        .await;
    assert_fault(&r, 404, "itemNotFound");
    assert_eq!(w.status(&theirs), "available");
    // A connect failing after the volume was made: the create is undone,
    // the volume it made deleted.
    w.c.volumes
        .fail_connects
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let body = json!({"server": {
        "name": "bfv", "imageRef": "", "flavorRef": "1", "networks": "none",
        "block_device_mapping_v2": [{
            "uuid": w.image, "source_type": "image", "destination_type": "volume",
            "volume_size": 1, "boot_index": 0
        }]
    }});
    let r = w
        .call(Method::POST, "/servers", &w.member, Some(body))
        .await;
    assert_eq!(r.status, 500, "{}", r.body);
    let list = w.call(Method::GET, "/servers", &w.member, None).await;
    assert_eq!(list.body["servers"], json!([]));
    assert_eq!(
        w.c.volumes.live(),
        vec![theirs],
        "the volume the boot made is gone"
    );
}

#[tokio::test]
async fn an_extended_attached_volume_grows_in_the_vm() {
    let w = world().await;
    let server = w.active_server().await;
    let volume = w.c.volumes.volume(&w.c.project, 2);
    assert_eq!(w.attach(&server, &w.member, &volume).await.status, 200);
    w.until("the volume is in-use", || async {
        w.status(&volume) == "in-use"
    })
    .await;
    ferrostack_compute::servers::volumes::volume_extended(
        &w.c.s.store,
        &w.c.link,
        &server,
        &volume,
        5,
    )
    .unwrap();
    let id = uuid::Uuid::parse_str(&server).unwrap();
    w.until("the VM's disk is 5 GiB", || async {
        let info = w.hv.state(id).await.unwrap();
        info.volumes.first().map(|v| v.size_gib) == Some(5)
    })
    .await;
    // A smaller size (a late or repeated event) changes nothing.
    ferrostack_compute::servers::volumes::volume_extended(
        &w.c.s.store,
        &w.c.link,
        &server,
        &volume,
        3,
    )
    .unwrap();
    let info = w.hv.state(id).await.unwrap();
    assert_eq!(info.volumes[0].size_gib, 5);
}

#[tokio::test]
async fn a_live_snapshot_switch_is_done_only_when_the_host_reports_it() {
    use ferrostack_compute::servers::volumes::{volume_top_frozen, volume_top_switched};
    let w = world().await;
    let server = w.active_server().await;
    let volume = w.c.volumes.volume(&w.c.project, 2);
    assert_eq!(w.attach(&server, &w.member, &volume).await.status, 200);
    w.until("the volume is in-use", || async {
        w.status(&volume) == "in-use"
    })
    .await;
    let id = uuid::Uuid::parse_str(&server).unwrap();
    // A slow host: the bumped generation is asked, not applied yet.
    w.hv.set_delay(
        ferrostack_hypervisor::Operation::UpdateVolume,
        Duration::from_secs(2),
    );
    let generation = volume_top_frozen(&w.c.s.store, &w.c.link, &server, &volume)
        .unwrap()
        .expect("the server holds the volume");
    assert_eq!(generation, 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !volume_top_switched(&w.c.s.store, &server, &volume, generation).unwrap(),
        "not done before the host reported it"
    );
    w.until("the switch is reported", || async {
        volume_top_switched(&w.c.s.store, &server, &volume, generation).unwrap()
    })
    .await;
    let info = w.hv.state(id).await.unwrap();
    assert_eq!(info.volumes[0].top_generation, 1, "the VM has the new top");
    // A server without the volume holds nothing: no wait.
    let other = w.c.volumes.volume(&w.c.project, 1);
    assert_eq!(
        volume_top_frozen(&w.c.s.store, &w.c.link, &server, &other).unwrap(),
        None
    );
}
