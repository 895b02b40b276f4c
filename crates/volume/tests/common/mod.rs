//! The harness of the block storage API tests: a stack serving the volume
//! router over the in-memory [`FakeBackend`], and polls with deadlines.

#![allow(dead_code, clippy::unwrap_used)]

use ferrostack_testkit::{Reply, Served};
use ferrostack_volume::backend::ImageFile;
use ferrostack_volume::backend::VolumeBackend;
use ferrostack_volume::fake_backend::FakeBackend;
use ferrostack_volume::hooks::{AttachedVolumeEvents, ImageError, ImageFiles};
use futures::future::BoxFuture;
use reqwest::Method;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What compute would have been told; live snapshot switches are done
/// at once, or held while [`Events::hold_switches`] is set.
pub struct Events(
    pub Mutex<Vec<(String, u64)>>,
    pub tokio::sync::Semaphore,
    pub Mutex<Vec<String>>,
);

impl Default for Events {
    fn default() -> Self {
        Events(
            Mutex::default(),
            tokio::sync::Semaphore::new(tokio::sync::Semaphore::MAX_PERMITS),
            Mutex::default(),
        )
    }
}

impl Events {
    /// Hold switches until [`Events::release_switches`].
    pub fn hold_switches(&self) {
        let _ = self.1.forget_permits(tokio::sync::Semaphore::MAX_PERMITS);
    }

    /// Let held and future switches finish.
    pub fn release_switches(&self) {
        self.1
            .add_permits(tokio::sync::Semaphore::MAX_PERMITS - self.1.available_permits());
    }

    /// The volumes whose guests were asked to switch.
    pub fn switched(&self) -> Vec<String> {
        self.2.lock().unwrap().clone()
    }
}

impl AttachedVolumeEvents for Events {
    fn extended(&self, volume_id: &str, new_size_gib: u64) {
        self.0
            .lock()
            .unwrap()
            .push((volume_id.to_string(), new_size_gib));
    }

    fn top_frozen<'a>(
        &'a self,
        volume_id: &'a str,
        _deadline: Duration,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.2.lock().unwrap().push(volume_id.to_string());
            drop(self.1.acquire().await);
            Ok(())
        })
    }
}

/// Two images: `IMAGE_ID` (public, active, 2 GiB virtual) and
/// `QUEUED_ID` (not active); everything else is not found.
pub struct FakeImages;

pub const IMAGE_ID: &str = "11111111-2222-3333-4444-555555555555";
pub const QUEUED_ID: &str = "11111111-2222-3333-4444-000000000000";
/// Like `IMAGE_ID`, with `min_disk` 5 GiB.
pub const MIN_DISK_ID: &str = "11111111-2222-3333-4444-555555555556";

impl ImageFiles for FakeImages {
    fn image_file<'a>(
        &'a self,
        _project_id: &'a str,
        _is_admin: bool,
        image_id: &'a str,
    ) -> BoxFuture<'a, Result<ImageFile, ImageError>> {
        Box::pin(async move {
            match image_id {
                IMAGE_ID | MIN_DISK_ID => Ok(ImageFile {
                    image_id: image_id.into(),
                    path: "/images/x".into(),
                    format: "qcow2".into(),
                    virtual_size: 2 << 30,
                    min_disk_gib: if image_id == MIN_DISK_ID { 5 } else { 0 },
                }),
                QUEUED_ID => Err(ImageError::Unusable(format!(
                    "Image {QUEUED_ID} is not active."
                ))),
                other => Err(ImageError::NotFound(other.to_string())),
            }
        })
    }
}

/// A served volume API and its fake backend.
pub struct Cinder {
    pub v: Served,
    pub backend: Arc<FakeBackend>,
    pub events: Arc<Events>,
    /// A member of `myproject`.
    pub member: String,
}

pub async fn start() -> Cinder {
    start_with(true).await
}

/// With or without a backend.
pub async fn start_with(backend: bool) -> Cinder {
    let fake = Arc::new(FakeBackend::new("fake", "storage1", 100));
    let events = Arc::new(Events::default());
    let backends: Vec<Arc<dyn VolumeBackend>> = if backend { vec![fake.clone()] } else { vec![] };
    let ev = events.clone();
    let v = Served::start("/v3", |s, public_url| {
        ferrostack_volume::router(ferrostack_volume::VolumeConfig {
            public_url,
            validator: s.validator(),
            quotas: s.quotas.clone(),
            projects: s.projects.clone(),
            store: Arc::new(s.store.clone()),
            backends,
            images: Arc::new(FakeImages),
            events: ev,
            availability_zone: "nova".into(),
            host: "controller".into(),
            backup_store: None,
        })
    })
    .await;
    let member = v.s.user_token("alice", &v.project, "member").await;
    Cinder {
        v,
        backend: fake,
        events,
        member,
    }
}

impl Cinder {
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.v.s.get(&self.v.url(path), token).await
    }

    pub async fn send(&self, method: Method, path: &str, token: &str, body: Value) -> Reply {
        self.v.s.send(method, &self.v.url(path), token, body).await
    }

    /// Send at microversion `version`.
    pub async fn at(
        &self,
        version: &str,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut rb = self
            .v
            .s
            .req(method, &self.v.url(path), token)
            .header("OpenStack-API-Version", format!("volume {version}"));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        self.v.s.call(rb).await
    }

    /// Create a volume of `size` GiB as the member; its id (202 expected).
    pub async fn create(&self, size: u64) -> String {
        let r = self
            .send(
                Method::POST,
                "/volumes",
                &self.member,
                serde_json::json!({"volume": {"size": size, "name": "v"}}),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        r.body["volume"]["id"].as_str().unwrap().to_string()
    }

    /// Create a volume and wait until it is available.
    pub async fn available(&self, size: u64) -> String {
        let id = self.create(size).await;
        self.wait_status(&format!("/volumes/{id}"), "volume", "available")
            .await;
        id
    }

    /// Poll `path` until `key.status` is `status` (5 s deadline).
    pub async fn wait_status(&self, path: &str, key: &str, status: &str) -> Value {
        let admin = self.v.s.admin_token().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let r = self.get(path, &admin).await;
            if r.body[key]["status"] == status {
                return r.body[key].clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} never became {status}: {}",
                r.body
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Poll until `path` answers 404 (5 s deadline).
    pub async fn wait_gone(&self, path: &str) {
        let admin = self.v.s.admin_token().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.get(path, &admin).await.status != 404 {
            assert!(tokio::time::Instant::now() < deadline, "{path} never went");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The project's volume quota usage.
    pub fn usage(&self, resource: &str) -> i64 {
        self.v
            .s
            .quotas
            .usage(&ferrostack_quota::VOLUME, &self.v.project)
            .unwrap()[resource]
    }
}

pub fn assert_fault(r: &Reply, code: u16, name: &str) -> String {
    assert_eq!(r.status, code, "body: {}", r.body);
    assert_eq!(r.body[name]["code"], code, "body: {}", r.body);
    r.body[name]["message"].as_str().unwrap().to_string()
}
