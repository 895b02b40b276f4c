//! A host agent that reaches the control plane over the HTTPS host API,
//! as `ferrostack agent` on another machine does, but in this process:
//! the real `RemoteControlPlane`, TLS console server and snapshot upload
//! over a fake hypervisor, with certificates generated in temporary
//! directories and pinned as in production.

#![allow(dead_code, clippy::unwrap_used)]

use super::Compute;
use ferrostack_agent::remote::tls::{Fingerprint, TlsIdentity};
use ferrostack_compute::hostlink::SnapshotImporter;
use ferrostack_store::image::ImageStore;
use futures::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How the test stack serves the host API.
pub struct HostApiSetup {
    /// The join token.
    pub join_token: String,
    /// Where image bytes are (`images_dir/<image_id>`).
    pub images_dir: PathBuf,
    /// Where uploaded snapshots land (imported by [`TestSnapshots`]).
    pub snapshot_dir: PathBuf,
    /// Where the host API's certificate is kept (as `DATA/host-api`).
    pub tls_dir: PathBuf,
}

/// The served host API.
#[derive(Clone)]
pub struct HostApi {
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// The join token.
    pub join_token: String,
    /// The fingerprint of its certificate (what the join file pins).
    pub cert: Fingerprint,
}

/// The TLS identity kept in `dir`, for 127.0.0.1.
pub fn identity(dir: &Path) -> TlsIdentity {
    TlsIdentity::load_or_create(dir, "test", &["127.0.0.1".into()]).unwrap()
}

/// Snapshots land in `dir`; importing one checks it is the fake
/// hypervisor's snapshot and makes the image active in the store (what
/// `allinone`'s importer does with real qcow2 data).
pub struct TestSnapshots {
    /// Where uploaded snapshots land.
    pub dir: PathBuf,
    /// The image records.
    pub images: Arc<dyn ImageStore>,
}

impl SnapshotImporter for TestSnapshots {
    fn path_for(&self, image_id: &str) -> PathBuf {
        self.dir.join(format!("{image_id}.qcow2"))
    }

    fn import<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let bytes = std::fs::read(self.path_for(image_id)).map_err(|e| e.to_string())?;
            let marker = b"ferrostack fake snapshot";
            if !bytes.starts_with(b"QFI\xfb") || !bytes.windows(marker.len()).any(|w| w == marker) {
                return Err("not a snapshot".into());
            }
            let data = ferrostack_store::image::ImageData {
                size: bytes.len() as i64,
                virtual_size: 1 << 30,
                checksum: "0".repeat(32),
                os_hash_algo: "sha512".into(),
                os_hash_value: "0".repeat(128),
            };
            let now = ferrostack_common::time::now_micros();
            match self.images.finish_upload(image_id, &data, "active", now) {
                Ok(true) => Ok(()),
                other => Err(format!("cannot activate the image: {other:?}")),
            }
        })
    }

    fn discard<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let _ = std::fs::remove_file(self.path_for(image_id));
            let now = ferrostack_common::time::now_micros();
            let _ = self
                .images
                .transition_status(image_id, &["queued", "saving"], "killed", now);
        })
    }

    fn rotate_backups<'a>(
        &'a self,
        server: &'a str,
        backup_type: &'a str,
        rotation: u64,
    ) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            let all = self.images.list_images().map_err(|e| e.to_string())?;
            let doomed = ferrostack_compute::servers::snapshot::backups_beyond(
                &all,
                server,
                backup_type,
                rotation,
            );
            for id in &doomed {
                self.images.delete_image(id).map_err(|e| e.to_string())?;
            }
            Ok(doomed)
        })
    }
}

impl Compute {
    /// Run a host agent for `host` over a fake hypervisor that talks to
    /// this stack only through HTTPS: it serves its console with TLS on
    /// 127.0.0.1 (certificate kept beside `snapshot_dir`, in
    /// `<host>-tls`), registers with the join token and the pinned
    /// controller certificate, and writes snapshots to `snapshot_dir`
    /// before uploading them.
    pub async fn start_remote_agent(
        &self,
        host: &str,
        snapshot_dir: &Path,
    ) -> Arc<ferrostack_hypervisor::FakeHypervisor> {
        use ferrostack_agent::remote::{console_router, RemoteControlPlane};
        let api = self.host_api.clone().expect("the host API is served");
        let config = ferrostack_hypervisor::FakeConfig::default();
        let caps = config.capabilities.clone();
        let hv = Arc::new(ferrostack_hypervisor::FakeHypervisor::new(config));
        let tls = identity(&snapshot_dir.with_file_name(format!("{host}-tls")));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let console_url = format!("https://{}", listener.local_addr().unwrap());
        tokio::spawn(ferrostack_common::serve::serve_until(
            "agent console",
            tls.listener(listener).unwrap(),
            console_router(hv.clone(), api.join_token.clone()),
            self.stop.subscribe(),
        ));
        let plane = RemoteControlPlane::new(&api.url, &api.join_token, host, api.cert)
            .unwrap()
            .with_snapshot_dir(snapshot_dir);
        plane
            .register("nova", &caps, &console_url, tls.fingerprint())
            .await
            .unwrap();
        let agent_config = ferrostack_agent::AgentConfig {
            resync_interval: std::time::Duration::from_secs(1),
            backoff_initial: std::time::Duration::from_millis(50),
            backoff_max: std::time::Duration::from_millis(200),
            max_attempts: 2,
            snapshot_dir: Some(snapshot_dir.to_path_buf()),
            ..Default::default()
        };
        let plane = Arc::new(plane);
        tokio::spawn(ferrostack_agent::Agent::run(
            host.to_string(),
            plane.clone(),
            plane,
            hv.clone(),
            agent_config,
            self.stop.subscribe(),
        ));
        hv
    }
}
