//! A host agent on "another machine": the host API is served over TLS on
//! a listener of its own, and an agent for host `remote-1` reaches it
//! only through `RemoteControlPlane` (registration, assigned state, long
//! poll, reports, snapshot upload), pinned to the controller's
//! certificate, while the controller reads consoles from the agent's own
//! TLS console server, pinned to the certificate the agent registered.
//! Plus the refusals: no or a wrong join token, Keystone tokens, image
//! ids that are not UUIDs or have no data, a wrong pin either way, and
//! plain HTTP.

#![allow(clippy::unwrap_used)]

mod common;

use common::remote::{HostApi, HostApiSetup};
use common::Compute;
use ferrostack_agent::remote::tls::{self, Fingerprint};
use ferrostack_agent::remote::{error_chain, RemoteControlPlane};
use ferrostack_agent::BaseImages;
use ferrostack_store::image::ImageStore;
use ferrostack_store::server::ServerStore;
use ferrostack_testkit::Reply;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const V: &str = "2.96";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const HOST: &str = "remote-1";

struct World {
    c: Compute,
    admin: String,
    member: String,
    image: String,
    dirs: tempfile::TempDir,
}

impl World {
    async fn start() -> World {
        let dirs = tempfile::tempdir().unwrap();
        for d in ["images", "controller-snapshots", "agent-snapshots"] {
            std::fs::create_dir(dirs.path().join(d)).unwrap();
        }
        let c = Compute::start_with(Some(setup(dirs.path()))).await;
        let p = c.s.personas(&c.project).await;
        let image = c.image(&c.project, "qcow2");
        let w = World {
            admin: p.admin,
            member: p.member,
            image,
            dirs,
            c,
        };
        let r = w
            .nova(
                Method::POST,
                "/flavors",
                &w.admin,
                Some(
                    json!({"flavor": {"name": "f1", "id": "1", "vcpus": 1, "ram": 256, "disk": 1}}),
                ),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        w.c.start_remote_agent(HOST, &w.dirs.path().join("agent-snapshots"))
            .await;
        w
    }

    async fn nova(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
        let mut rb = self
            .c
            .s
            .req(method, &self.c.url(path), token)
            .header("OpenStack-API-Version", format!("compute {V}"));
        if let Some(body) = body {
            rb = rb.json(&body);
        }
        self.c.s.call(rb).await
    }

    async fn act(&self, id: &str, body: Value) -> Reply {
        self.nova(
            Method::POST,
            &format!("/servers/{id}/action"),
            &self.member,
            Some(body),
        )
        .await
    }

    async fn wait_status(&self, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let r = self
                .nova(Method::GET, &format!("/servers/{id}"), &self.admin, None)
                .await;
            let s = r.body["server"].clone();
            if s["status"] == status && s["OS-EXT-STS:task_state"].is_null() {
                return s;
            }
            assert!(Instant::now() < deadline, "{id} never {status}: {s}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn boot(&self) -> String {
        let body = json!({"server": {"name": "vm", "imageRef": self.image, "flavorRef": "1", "networks": "none"}});
        let r = self
            .nova(Method::POST, "/servers", &self.member, Some(body))
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        let id = r.body["server"]["id"].as_str().unwrap().to_string();
        let s = self.wait_status(&id, "ACTIVE").await;
        assert_eq!(s["OS-EXT-SRV-ATTR:host"], HOST);
        id
    }

    /// `host`'s compute service, as registered.
    fn service(&self, host: &str) -> Option<ferrostack_store::server::ComputeService> {
        let services = self.c.s.store.list_services().unwrap();
        services.into_iter().find(|s| s.host == host)
    }

    fn api(&self) -> HostApi {
        self.c.host_api.clone().unwrap()
    }

    /// A control plane for `host`, pinned to `pin`.
    fn plane(&self, token: &str, host: &str, pin: Fingerprint) -> RemoteControlPlane {
        RemoteControlPlane::new(&self.api().url, token, host, pin).unwrap()
    }

    /// A raw host API call with `token` (none when empty).
    async fn host_api(&self, method: Method, path: &str, token: &str) -> reqwest::Response {
        let url = format!("{}/internal/host/v1{path}", self.api().url);
        let client =
            tls::pinned_client(reqwest::Client::builder(), self.api().cert, "test").unwrap();
        let mut rb = client.request(method, url);
        if !token.is_empty() {
            rb = rb.bearer_auth(token);
        }
        rb.send().await.unwrap()
    }
}

fn setup(dir: &std::path::Path) -> HostApiSetup {
    HostApiSetup {
        join_token: TOKEN.into(),
        images_dir: dir.join("images"),
        snapshot_dir: dir.join("controller-snapshots"),
        tls_dir: dir.join("host-api"),
    }
}

#[tokio::test]
async fn a_remote_agent_boots_powers_reads_the_console_of_and_deletes_a_server() {
    let w = World::start().await;
    let service = w.service(HOST).expect("the agent registered");
    let agent_url = service.capabilities["agent_url"].as_str().unwrap();
    assert!(agent_url.starts_with("https://127.0.0.1:"), "{agent_url}");
    assert_eq!(service.capabilities["host_ip"], "127.0.0.1");
    let agent_cert = common::remote::identity(&w.dirs.path().join(format!("{HOST}-tls")));
    assert_eq!(
        service.capabilities["agent_cert_sha256"],
        agent_cert.fingerprint().to_string()
    );
    // A restarted controller finds the agent in the store.
    let fresh =
        ferrostack_compute::hostapi::AgentDirectory::new(std::sync::Arc::new(w.c.s.store.clone()));
    let found = fresh.get(HOST).unwrap();
    assert_eq!(found.url, agent_url);
    assert_eq!(found.cert, agent_cert.fingerprint());
    assert_eq!(fresh.get("nowhere"), None);

    let id = w.boot().await;
    let r = w.act(&id, json!({"os-stop": null})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    w.wait_status(&id, "SHUTOFF").await;
    let r = w.act(&id, json!({"os-start": null})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    w.wait_status(&id, "ACTIVE").await;

    let r = w
        .act(&id, json!({"os-getConsoleOutput": {"length": 50}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let output = r.body["output"].as_str().unwrap();
    assert!(output.contains("ferrostack-guest: ready"), "{output}");

    let r = w
        .nova(Method::DELETE, &format!("/servers/{id}"), &w.member, None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let deadline = Instant::now() + Duration::from_secs(15);
    while w
        .nova(Method::GET, &format!("/servers/{id}"), &w.member, None)
        .await
        .status
        != 404
    {
        assert!(Instant::now() < deadline, "never deleted");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = w.c.stop.send(true);
}

#[tokio::test]
async fn the_host_api_wants_the_join_token_and_uuid_image_ids() {
    let w = World::start().await;
    let assigned = format!("/hosts/{HOST}/assigned");
    for token in ["", "wrong", &w.admin] {
        let r = w.host_api(Method::GET, &assigned, token).await;
        assert_eq!(r.status(), 401, "token {token:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], 401, "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    let r = w.host_api(Method::GET, &assigned, TOKEN).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["revision"].is_u64(), "{body}");

    let r = w.host_api(Method::GET, "/images/..%2Fetc", TOKEN).await;
    assert_eq!(r.status(), 400);
    let r = w.host_api(Method::GET, "/images/not-a-uuid", TOKEN).await;
    assert_eq!(r.status(), 400);
    let unknown = uuid::Uuid::new_v4().to_string();
    let r = w
        .host_api(Method::GET, &format!("/images/{unknown}"), TOKEN)
        .await;
    assert_eq!(r.status(), 404);
    let r = w
        .host_api(Method::PUT, "/snapshots/not-a-uuid", TOKEN)
        .await;
    assert_eq!(r.status(), 400);
    let r = w
        .host_api(Method::GET, &format!("/images/{unknown}"), "")
        .await;
    assert_eq!(r.status(), 401, "refused before the id is looked at");

    // A remote host's base image cache fills over the API.
    let id = uuid::Uuid::new_v4().to_string();
    let bytes = vec![7u8; 3 * 256 * 1024 + 5];
    std::fs::write(w.dirs.path().join("images").join(&id), &bytes).unwrap();
    let plane = w.plane(TOKEN, HOST, w.api().cert);
    let cache = w.dirs.path().join("cache");
    let images = ferrostack_agent::RemoteBaseImages::new(plane, &cache);
    let raw = ferrostack_hypervisor::BaseFormat::Raw;
    let path = images.ensure(&id, raw).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(path, std::path::absolute(cache.join(&id)).unwrap());
    let e = images.ensure(&unknown, raw).await.unwrap_err();
    assert!(e.contains("404"), "{e}");
    let e = images.ensure("../../etc/passwd", raw).await.unwrap_err();
    assert!(e.contains("not a UUID"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary files left: {left:?}");

    let bad = w.plane("wrong", HOST, w.api().cert);
    let e = ferrostack_agent::RemoteBaseImages::new(bad, w.dirs.path().join("c2"))
        .ensure(&id, raw)
        .await
        .unwrap_err();
    assert!(e.contains("401"), "{e}");
    let _ = w.c.stop.send(true);
}

#[tokio::test]
async fn a_snapshot_on_a_remote_host_is_uploaded_and_becomes_an_active_image() {
    let w = World::start().await;
    let id = w.boot().await;
    let r = w.act(&id, json!({"createImage": {"name": "snap"}})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let image_id = r.body["image_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let image = w.c.s.store.get_image(&image_id).unwrap().unwrap();
        if image.status == "active" {
            assert!(image.size.unwrap() > 0);
            break;
        }
        assert_ne!(image.status, "killed", "the snapshot failed");
        if Instant::now() > deadline {
            let ls = |d: &str| {
                std::fs::read_dir(w.dirs.path().join(d))
                    .unwrap()
                    .map(|e| e.unwrap().file_name())
                    .collect::<Vec<_>>()
            };
            let row = w.c.s.store.get_instance(&id).unwrap().unwrap();
            panic!(
                "never active: {} agent {:?} controller {:?} observed {:?} desired {:?}",
                image.status,
                ls("agent-snapshots"),
                ls("controller-snapshots"),
                row.observed,
                row.desired
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    w.wait_status(&id, "ACTIVE").await;
    let uploaded = w
        .dirs
        .path()
        .join("controller-snapshots")
        .join(format!("{image_id}.qcow2"));
    // The fake's snapshot is a valid qcow2 with the instance id inside.
    let content = std::fs::read(uploaded).unwrap();
    assert!(content.starts_with(b"QFI\xfb"), "not a qcow2 header");
    assert!(
        content.windows(id.len()).any(|w| w == id.as_bytes()),
        "the snapshot does not name its instance"
    );
    let agent_dir = w.dirs.path().join("agent-snapshots");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_dir(&agent_dir).unwrap().next().is_some() {
        assert!(
            Instant::now() < deadline,
            "the agent keeps its copy after the upload"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = w.c.stop.send(true);
}

#[tokio::test]
async fn an_agent_refuses_a_controller_whose_certificate_is_not_pinned() {
    let w = World::start().await;
    let caps = ferrostack_hypervisor::FakeConfig::default().capabilities;
    let console = Fingerprint::of(b"console");
    let wrong = w.plane(TOKEN, "intruder", Fingerprint::of(b"another certificate"));
    let e = wrong
        .register("nova", &caps, "https://127.0.0.1:1", console)
        .await
        .unwrap_err();
    let msg = error_chain(&e);
    assert!(msg.contains(tls::CONTROLLER_MISMATCH), "{msg}");
    // The handshake failed before any request: nothing registered.
    assert!(w.service("intruder").is_none());
    // The right pin registers.
    w.plane(TOKEN, "intruder", w.api().cert)
        .register("nova", &caps, "https://127.0.0.1:1", console)
        .await
        .unwrap();
    let _ = w.c.stop.send(true);
}

#[tokio::test]
async fn an_agent_registers_its_tunnel_address_and_a_bad_one_is_refused() {
    let w = World::start().await;
    let caps = ferrostack_hypervisor::FakeConfig::default().capabilities;
    let console = Fingerprint::of(b"console");
    // The console is reached on one address, VXLAN on another.
    w.plane(TOKEN, "h-tunnel", w.api().cert)
        .with_tunnel_ip(Some("192.168.77.2".into()))
        .register("nova", &caps, "https://127.0.0.1:1", console)
        .await
        .unwrap();
    let service = w.service("h-tunnel").expect("registered");
    assert_eq!(service.capabilities["tunnel_ip"], "192.168.77.2");
    assert_eq!(service.capabilities["host_ip"], "127.0.0.1");
    let e = w
        .plane(TOKEN, "h-bad", w.api().cert)
        .with_tunnel_ip(Some("not an address".into()))
        .register("nova", &caps, "https://127.0.0.1:1", console)
        .await
        .unwrap_err();
    assert!(
        error_chain(&e).contains("tunnel_ip must be an IP address"),
        "{}",
        error_chain(&e)
    );
    assert!(w.service("h-bad").is_none());
    let _ = w.c.stop.send(true);
}

#[tokio::test]
async fn the_host_api_is_tls_only_and_not_on_the_compute_listener() {
    let w = World::start().await;
    let path = format!("/internal/host/v1/hosts/{HOST}/assigned");
    let plain = w.api().url.replacen("https://", "http://", 1);
    let r = reqwest::Client::new()
        .get(format!("{plain}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(r.is_err(), "plain HTTP answered: {r:?}");
    let r = reqwest::Client::new()
        .get(format!("{}{path}", w.c.root))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "the compute listener has no host API");
    // The agent refuses to register a console server without TLS.
    let caps = ferrostack_hypervisor::FakeConfig::default().capabilities;
    let e = w
        .plane(TOKEN, "h2", w.api().cert)
        .register("nova", &caps, "http://127.0.0.1:1", Fingerprint::of(b"c"))
        .await
        .unwrap_err();
    assert!(error_chain(&e).contains("https://"), "{}", error_chain(&e));
    let _ = w.c.stop.send(true);
}

#[tokio::test]
async fn the_controller_reads_a_console_only_from_the_registered_certificate() {
    let w = World::start().await;
    let id = w.boot().await;
    let r = w
        .act(&id, json!({"os-getConsoleOutput": {"length": 5}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The agent's URL is re-registered with another fingerprint: the
    // controller no longer trusts the server there.
    let service = w.service(HOST).unwrap();
    let url = service.capabilities["agent_url"].as_str().unwrap();
    let caps = ferrostack_hypervisor::FakeConfig::default().capabilities;
    w.plane(TOKEN, HOST, w.api().cert)
        .register("nova", &caps, url, Fingerprint::of(b"not the agent's"))
        .await
        .unwrap();
    let r = w
        .act(&id, json!({"os-getConsoleOutput": {"length": 5}}))
        .await;
    assert_ne!(r.status, 200, "{}", r.body);
    let text = r.body.to_string();
    assert!(text.contains(tls::AGENT_MISMATCH), "{text}");
    let _ = w.c.stop.send(true);
}

#[tokio::test]
async fn a_restarted_controller_keeps_its_certificate() {
    let w = World::start().await;
    let first = w.api().cert;
    let _ = w.c.stop.send(true);
    let again = Compute::start_with(Some(setup(w.dirs.path()))).await;
    let api = again.host_api.clone().unwrap();
    assert_eq!(api.cert, first, "same fingerprint after a restart");
    assert_ne!(api.url, w.api().url);
    let caps = ferrostack_hypervisor::FakeConfig::default().capabilities;
    RemoteControlPlane::new(&api.url, TOKEN, HOST, first)
        .unwrap()
        .register("nova", &caps, "https://127.0.0.1:1", Fingerprint::of(b"c"))
        .await
        .unwrap();
    let _ = again.stop.send(true);
}

/// A guest's metadata through the host API: only with the instance's
/// signature under the join token's key, only for a server on the asking
/// host, and only paths inside the tree.
#[tokio::test]
async fn metadata_answers_only_signed_requests_for_the_hosts_own_servers() {
    use ferrostack_host_contract::metadata::{sign, signing_key};
    let w = World::start().await;
    let id = w.boot().await;
    let key = signing_key(TOKEN);
    let get = |host: &str, path: &str, instance: &str, signature: String| {
        let url = format!(
            "{}/internal/host/v1/hosts/{host}/metadata/{path}",
            w.api().url
        );
        let client = tls::pinned_client(reqwest::Client::builder(), w.api().cert, "test").unwrap();
        client
            .get(url)
            .bearer_auth(TOKEN)
            .header("X-Instance-ID", instance)
            .header("X-Instance-ID-Signature", signature)
            .send()
    };
    let r = get(
        HOST,
        "openstack/latest/meta_data.json",
        &id,
        sign(&key, &id),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let meta: Value = r.json().await.unwrap();
    assert_eq!(meta["uuid"], id.as_str(), "{meta}");
    let r = get(HOST, "latest/meta-data/instance-id", &id, sign(&key, &id))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().starts_with("i-"));

    // Another instance's signature, another key, no signature: 403.
    let other = uuid::Uuid::new_v4().to_string();
    for signature in [
        sign(&key, &other),
        sign(&signing_key("another token"), &id),
        String::new(),
    ] {
        let r = get(HOST, "openstack/latest/meta_data.json", &id, signature)
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    // Another host's agent, a server that does not exist, a path out of
    // the tree: 404.
    let r = get(
        "remote-2",
        "openstack/latest/meta_data.json",
        &id,
        sign(&key, &id),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let r = get(
        HOST,
        "openstack/latest/meta_data.json",
        &other,
        sign(&key, &other),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let r = get(
        HOST,
        "openstack/latest/..%2F..%2Fsecrets",
        &id,
        sign(&key, &id),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let _ = w.c.stop.send(true);
}

impl World {
    /// The image's status once the snapshot settled (`active`, or gone).
    async fn settled(&self, image_id: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let image = self.c.s.store.get_image(image_id).unwrap();
            match image.as_ref().map(|i| i.status.as_str()) {
                Some("queued" | "saving") => {}
                other => return other.map(str::to_string),
            }
            assert!(Instant::now() < deadline, "{image_id} never settled");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn backup(&self, id: &str, name: &str, rotation: u64) -> String {
        let body =
            json!({"createBackup": {"name": name, "backup_type": "daily", "rotation": rotation}});
        let r = self.act(id, body).await;
        assert_eq!(r.status, 202, "{}", r.body);
        let image_id = r.body["image_id"].as_str().unwrap().to_string();
        self.wait_status(id, "ACTIVE").await;
        image_id
    }
}

#[tokio::test]
async fn backups_are_snapshots_rotated_once_imported() {
    let w = World::start().await;
    let id = w.boot().await;
    let first = w.backup(&id, "b1", 2).await;
    assert_eq!(w.settled(&first).await.as_deref(), Some("active"));
    let image = w.c.s.store.get_image(&first).unwrap().unwrap();
    assert_eq!(image.properties["image_type"], "backup");
    assert_eq!(image.properties["backup_type"], "daily");
    assert_eq!(image.properties["instance_uuid"], id);
    let second = w.backup(&id, "b2", 2).await;
    assert_eq!(w.settled(&second).await.as_deref(), Some("active"));
    assert!(w.c.s.store.get_image(&first).unwrap().is_some());
    // A third with rotation 2: the oldest goes once the new one is in.
    let third = w.backup(&id, "b3", 2).await;
    assert_eq!(w.settled(&third).await.as_deref(), Some("active"));
    assert!(w.c.s.store.get_image(&first).unwrap().is_none());
    assert!(w.c.s.store.get_image(&second).unwrap().is_some());
    // Rotation 0 keeps none of that type, the new one included.
    let last = w.backup(&id, "b4", 0).await;
    assert_eq!(w.settled(&last).await, None);
    for gone in [&second, &third] {
        assert!(w.c.s.store.get_image(gone).unwrap().is_none());
    }
    // Bad arguments create nothing.
    let before = w.c.s.store.list_images().unwrap().len();
    for bad in [
        json!({"createBackup": {"name": "x", "backup_type": "daily"}}),
        json!({"createBackup": {"name": "x", "backup_type": "daily", "rotation": -1}}),
        json!({"createBackup": {"name": "x", "backup_type": "daily", "rotation": 1, "x": 1}}),
    ] {
        let r = w.act(&id, bad).await;
        assert_eq!(r.status, 400, "{}", r.body);
    }
    assert_eq!(w.c.s.store.list_images().unwrap().len(), before);
}
