//! Nova's volume proxies (`os-volumes`, `os-snapshots`, to 2.35) and
//! `createImage` of a volume-backed server, through HTTP with the
//! in-memory volume service: Nova's shapes, the caller's project only,
//! 404 from 2.36, refusals that create nothing; a volume-backed server's
//! image is an empty image naming a snapshot of each of its volumes, and
//! booting from it boots from a new volume made from that snapshot.

#![allow(clippy::unwrap_used)]

mod common;

use common::Compute;
use ferrostack_store::image::ImageStore;
use ferrostack_testkit::Reply;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

struct World {
    c: Compute,
    admin: String,
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
            "2.96",
            Some(json!({"flavor": {"name": "f1", "id": "1", "vcpus": 1, "ram": 256, "disk": 1}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let image = c.image(&c.project, "qcow2");
    c.start_fake_agent("host-1", None);
    World {
        c,
        admin: p.admin,
        member: p.member,
        outsider: p.outsider,
        image,
    }
}

impl World {
    async fn call(
        &self,
        m: Method,
        path: &str,
        token: &str,
        v: &str,
        body: Option<Value>,
    ) -> Reply {
        self.c.at(m, path, token, v, body).await
    }
}

#[tokio::test]
async fn volumes_and_snapshots_are_served_in_novas_shapes_to_2_35() {
    let w = world().await;
    let body = json!({"volume": {"size": 2, "display_name": "v1", "metadata": {"Type": "work"}}});
    let r = w
        .call(
            Method::POST,
            "/os-volumes",
            &w.member,
            "2.35",
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = &r.body["volume"];
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(
        (v["size"].clone(), v["displayName"].clone()),
        (json!(2), json!("v1"))
    );
    assert_eq!(v["metadata"]["Type"], "work");
    assert_eq!(v["attachments"], json!([{}]));
    assert!(w.c.volumes.exists(&id));
    // Shown and listed to its project; another project's is not found.
    let r = w
        .call(
            Method::GET,
            &format!("/os-volumes/{id}"),
            &w.member,
            "2.35",
            None,
        )
        .await;
    assert_eq!((r.status, r.body["volume"]["id"].clone()), (200, json!(id)));
    for path in ["/os-volumes", "/os-volumes/detail"] {
        let r = w.call(Method::GET, path, &w.member, "2.1", None).await;
        assert_eq!(r.body["volumes"][0]["id"], json!(id), "{path}");
        let r = w.call(Method::GET, path, &w.outsider, "2.1", None).await;
        assert_eq!(r.body["volumes"], json!([]), "{path}");
    }
    let r = w
        .call(
            Method::GET,
            &format!("/os-volumes/{id}"),
            &w.outsider,
            "2.1",
            None,
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // Gone from 2.36, as Nova.
    let r = w
        .call(Method::GET, "/os-volumes", &w.member, "2.36", None)
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = w
        .call(Method::POST, "/os-volumes", &w.member, "2.36", Some(body))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // Snapshots.
    let r = w
        .call(
            Method::POST,
            "/os-snapshots",
            &w.member,
            "2.35",
            Some(json!({"snapshot": {"volume_id": id, "display_name": "s1"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let s = r.body["snapshot"].clone();
    assert_eq!(
        (s["volumeId"].clone(), s["size"].clone()),
        (json!(id), json!(2))
    );
    let sid = s["id"].as_str().unwrap().to_string();
    let r = w
        .call(Method::GET, "/os-snapshots/detail", &w.member, "2.35", None)
        .await;
    assert_eq!(r.body["snapshots"][0]["id"], json!(sid));
    let r = w
        .call(
            Method::GET,
            &format!("/os-snapshots/{sid}"),
            &w.outsider,
            "2.35",
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    let r = w
        .call(
            Method::DELETE,
            &format!("/os-snapshots/{sid}"),
            &w.member,
            "2.35",
            None,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(w.c.volumes.snapshots.lock().unwrap().is_empty());
    // Another project cannot delete the volume; its owner can.
    let path = format!("/os-volumes/{id}");
    let r = w
        .call(Method::DELETE, &path, &w.outsider, "2.35", None)
        .await;
    assert_eq!(r.status, 404);
    assert!(w.c.volumes.exists(&id));
    let r = w.call(Method::DELETE, &path, &w.member, "2.35", None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(!w.c.volumes.exists(&id));
}

#[tokio::test]
async fn bad_volume_and_snapshot_bodies_create_nothing() {
    let w = world().await;
    for bad in [
        json!({"volume": {}}),
        json!({"volume": {"size": 0}}),
        json!({"volume": {"size": "#$%"}}),
        json!({"volume": {"size": 1, "imageRef": "x"}}),
    ] {
        let r = w
            .call(
                Method::POST,
                "/os-volumes",
                &w.member,
                "2.1",
                Some(bad.clone()),
            )
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    assert!(w.c.volumes.live().is_empty());
    let theirs = w.c.volumes.volume("someone-else", 1);
    let r = w
        .call(
            Method::POST,
            "/os-snapshots",
            &w.member,
            "2.1",
            Some(json!({"snapshot": {"volume_id": theirs}})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = w
        .call(
            Method::POST,
            "/os-snapshots",
            &w.member,
            "2.1",
            Some(json!({"snapshot": {}})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(w.c.volumes.snapshots.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_volume_backed_servers_image_names_snapshots_of_its_volumes() {
    let w = world().await;
    let body = json!({"server": {
        "name": "bfv", "imageRef": "", "flavorRef": "1", "networks": "none",
        "block_device_mapping_v2": [{
            "uuid": w.image, "source_type": "image", "destination_type": "volume",
            "volume_size": 3, "boot_index": 0
        }]
    }});
    let r = w
        .call(Method::POST, "/servers", &w.member, "2.96", Some(body))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = w
            .call(
                Method::GET,
                &format!("/servers/{id}"),
                &w.member,
                "2.96",
                None,
            )
            .await;
        if r.body["server"]["status"] == "ACTIVE" {
            break;
        }
        assert!(Instant::now() < deadline, "never ACTIVE: {}", r.body);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // A swap (PUT) finds the server and the attached volume, then is 501.
    let vols = w
        .call(
            Method::GET,
            &format!("/servers/{id}/os-volume_attachments"),
            &w.member,
            "2.96",
            None,
        )
        .await;
    let root_id = vols.body["volumeAttachments"][0]["volumeId"]
        .as_str()
        .unwrap()
        .to_string();
    let swap = json!({"volumeAttachment": {"volumeId": root_id}});
    for (token, volume, status) in [
        (&w.admin, uuid::Uuid::new_v4().to_string(), 404),
        (&w.admin, root_id.clone(), 501),
        (&w.member, root_id.clone(), 403),
    ] {
        let path = format!("/servers/{id}/os-volume_attachments/{volume}");
        let r = w
            .call(Method::PUT, &path, token, "2.96", Some(swap.clone()))
            .await;
        assert_eq!(r.status, status, "{}", r.body);
    }
    let action = json!({"createImage": {"name": "snap", "metadata": {"k": "v"}}});
    let r = w
        .call(
            Method::POST,
            &format!("/servers/{id}/action"),
            &w.member,
            "2.96",
            Some(action),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let image_id = r.body["image_id"].as_str().unwrap().to_string();
    let image = w.c.s.store.get_image(&image_id).unwrap().unwrap();
    assert_eq!((image.status.as_str(), image.size), ("active", Some(0)));
    assert_eq!(image.properties["bdm_v2"], "True");
    assert_eq!(image.properties["root_device_name"], "/dev/vda");
    assert_eq!(image.properties["k"], "v");
    let bdms: Value = serde_json::from_str(&image.properties["block_device_mapping"]).unwrap();
    let snaps = w.c.volumes.snapshots.lock().unwrap().clone();
    assert_eq!(snaps.len(), 1);
    let (sid, (_, _, size)) = snaps.iter().next().unwrap();
    assert_eq!(bdms[0]["snapshot_id"], json!(sid));
    assert_eq!(bdms[0]["source_type"], "snapshot");
    assert_eq!(bdms[0]["destination_type"], "volume");
    assert_eq!(
        (
            bdms[0]["boot_index"].clone(),
            bdms[0]["volume_size"].clone()
        ),
        (json!(0), json!(size))
    );
    // Booting from it makes a volume from the snapshot, holding the
    // first server's image, as its root.
    let body = json!({"server": {"name": "again", "imageRef": image_id, "flavorRef": "1", "networks": "none"}});
    let r = w
        .call(Method::POST, "/servers", &w.member, "2.96", Some(body))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let again = r.body["server"]["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let s = loop {
        let r = w
            .call(
                Method::GET,
                &format!("/servers/{again}"),
                &w.member,
                "2.96",
                None,
            )
            .await;
        if r.body["server"]["status"] == "ACTIVE" {
            break r.body["server"].clone();
        }
        assert!(Instant::now() < deadline, "never ACTIVE: {}", r.body);
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let attached = s["os-extended-volumes:volumes_attached"]
        .as_array()
        .unwrap();
    assert_eq!(attached.len(), 1, "{s}");
    let root = w.c.volumes.get(attached[0]["id"].as_str().unwrap());
    assert_eq!(
        (root.size_gib, root.image_id.as_deref()),
        (*size, Some(w.image.as_str()))
    );
    // An image naming a snapshot the caller cannot see is refused, and
    // no server or volume is made.
    let mut other = image.clone();
    other.id = uuid::Uuid::new_v4().to_string();
    let missing = uuid::Uuid::new_v4().to_string();
    other.properties.insert(
        "block_device_mapping".into(),
        json!([{"source_type": "snapshot", "destination_type": "volume",
                "snapshot_id": missing, "boot_index": 0, "volume_size": 1}])
        .to_string(),
    );
    assert!(w.c.s.store.create_image(&other).unwrap());
    let list = || w.call(Method::GET, "/servers", &w.member, "2.96", None);
    let before = (list().await.body, w.c.volumes.live());
    let body = json!({"server": {"name": "bad", "imageRef": other.id, "flavorRef": "1", "networks": "none"}});
    let r = w
        .call(Method::POST, "/servers", &w.member, "2.96", Some(body))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(before, (list().await.body, w.c.volumes.live()));
}
