//! The agent's side of the host API: the control plane over HTTPS.
//!
//! [`RemoteControlPlane`] implements [`DesiredStateSource`] and
//! [`ObservedStateSink`] by calling the controller's
//! `/internal/host/v1/hosts/{host}/...` endpoints, so `ferrostack agent`
//! on another machine runs the very same reconcile engine as the
//! in-process agent of `allinone`. Why the protocol looks as it does:
//!
//! - **Pull, with a per-host revision.** The agent reads everything
//!   assigned to it and long-polls a revision number that the store bumps
//!   on every write to one of the host's servers. Nothing is pushed, so
//!   nothing is lost: an agent that was down, or a request that timed
//!   out, just reads again, and a controller needs no connection to a
//!   host to change what it should run. The long poll (at most 60 s,
//!   capped by the controller) keeps reaction times low without
//!   hammering the store.
//! - **A join token.** Hosts authenticate with one shared secret the
//!   controller generates (in `DATA/join-token`), sent as a Bearer token
//!   and compared in constant time; the controller uses the same token
//!   when it calls an agent back (console reads). It is a cluster
//!   membership secret, not a user credential: whoever holds it can act
//!   as any host.
//! - **HTTPS with a pinned certificate.** The token and the desired state
//!   (including config drive user data) only travel inside TLS, and the
//!   client trusts exactly the controller certificate whose fingerprint
//!   the join file carries ([`join`], [`tls`]): the token is never sent
//!   to a server that cannot prove it is the controller.
//!
//! Files move with the same token: [`RemoteBaseImages`] downloads base
//! images, and [`ObservedStateSink::report`] uploads a finished snapshot
//! (`PUT /snapshots/{image_id}`) *before* it posts the observation that
//! tells the controller to import it; an upload that fails is reported
//! as the snapshot's `snapshot_error`, so the image ends killed rather
//! than waiting forever.

pub mod console;
pub mod images;

pub use ferrostack_host_contract::wire::error_chain;
pub use ferrostack_host_contract::{join, tls, wire};

pub use console::console_router;
pub use images::RemoteBaseImages;

use crate::{
    DesiredStateSource, HostDesired, ObservedInstance, ObservedStateSink, SourceError, StateFuture,
    TaskOutcome,
};
use ferrostack_host_contract::metadata::{self, MetadataAnswer, MetadataSource};
use ferrostack_host_contract::{Capabilities, ObservedObject};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tls::{Fingerprint, TlsError};
use uuid::Uuid;
use wire::{valid_host_name, RegisterRequest, WatchReply, PREFIX};

/// The timeout of a request that is not a long poll (and, for transfers,
/// of each chunk).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A long poll may take this much longer than the wait it asked for.
const WATCH_SLACK: Duration = Duration::from_secs(10);

/// Uploads are allowed at least this throughput before they time out.
const MIN_UPLOAD_BYTES_PER_SEC: u64 = 1 << 20;

/// Why a [`RemoteControlPlane`] cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The host name is not usable in the host API.
    #[error("host name {0:?} must be 1-255 letters, digits, '.', '-' or '_'")]
    InvalidHost(String),
    /// The controller URL is not an https URL.
    #[error("controller URL {0:?} must start with https://")]
    InvalidUrl(String),
    /// The HTTPS client could not be built.
    #[error("cannot build the HTTPS client")]
    Client(#[source] TlsError),
}

/// What the sink remembers about snapshots between calls.
#[derive(Default)]
struct SnapshotBook {
    /// Snapshot request id -> image id, from the desired state read last.
    images: HashMap<String, String>,
    /// Instance -> the `last_snapshot` the controller has seen.
    reported: HashMap<Uuid, Option<String>>,
}

/// The host API URLs of a cloud's controllers, and the one in use: a
/// request that cannot reach it (refused, reset, timed out) moves the
/// agent to the next, so the agent's retries (registration, the watch's
/// long poll) fail over within one retry when a controller dies. HTTP
/// errors do not move it: a controller that answers is alive, and every
/// controller answers alike from the one database.
#[derive(Clone)]
struct Controllers {
    bases: Arc<[String]>,
    current: Arc<std::sync::atomic::AtomicUsize>,
}

impl Controllers {
    fn parse(base_urls: &str) -> Result<Self, SetupError> {
        let bases: Vec<String> = base_urls
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(|b| {
                let base = b.trim_end_matches('/');
                if base.starts_with("https://") {
                    Ok(format!("{base}{PREFIX}"))
                } else {
                    Err(SetupError::InvalidUrl(b.to_string()))
                }
            })
            .collect::<Result<_, _>>()?;
        if bases.is_empty() {
            return Err(SetupError::InvalidUrl(base_urls.to_string()));
        }
        Ok(Controllers {
            bases: bases.into(),
            current: Arc::default(),
        })
    }

    fn current(&self) -> &str {
        let i = self.current.load(std::sync::atomic::Ordering::Relaxed);
        &self.bases[i % self.bases.len()]
    }

    /// `error` reached no controller: if it was the one in use, use the
    /// next. (Several requests failing at once move it once.)
    fn failed(&self, error: &reqwest::Error) {
        if self.bases.len() < 2 || !(error.is_connect() || error.is_timeout() || error.is_request())
        {
            return;
        }
        let Some(url) = error.url() else { return };
        let Some(i) = self
            .bases
            .iter()
            .position(|b| url.as_str().starts_with(b.as_str()))
        else {
            return;
        };
        let current = self.current.load(std::sync::atomic::Ordering::Relaxed);
        if current % self.bases.len() == i
            && self
                .current
                .compare_exchange(
                    current,
                    current.wrapping_add(1),
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                )
                .is_ok()
        {
            tracing::warn!(
                unreachable = %without_prefix(&self.bases[i]),
                next = %without_prefix(self.current()),
                "the controller is unreachable; using the next"
            );
        }
    }
}

/// A base URL as the operator gave it, for a log line.
fn without_prefix(base: &str) -> &str {
    base.strip_suffix(PREFIX).unwrap_or(base)
}

/// The controller's host API, as the agent's source and sink.
#[derive(Clone)]
pub struct RemoteControlPlane {
    controllers: Controllers,
    token: Arc<str>,
    host: String,
    client: reqwest::Client,
    snapshot_dir: Option<PathBuf>,
    tunnel_ip: Option<String>,
    book: Arc<Mutex<SnapshotBook>>,
}

impl std::fmt::Debug for RemoteControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("RemoteControlPlane")
            .field("controllers", &self.controllers.bases)
            .field("host", &self.host)
            .field("snapshot_dir", &self.snapshot_dir)
            .finish()
    }
}

fn unavailable(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> SourceError {
    SourceError::Unavailable(e.into())
}

/// The message of an error response (its JSON `error.message`, else its
/// text), for logs and faults.
pub(crate) async fn error_message(resp: reqwest::Response) -> String {
    let text = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<wire::ErrorBody>(&text) {
        Ok(b) => b.error.message,
        Err(_) => text.chars().take(200).collect(),
    }
}

impl RemoteControlPlane {
    /// The host API of the controllers at `base_urls` (their host API
    /// listeners, e.g. `https://10.0.0.1:8779`, several separated by
    /// commas when several controllers serve one cloud), as host `host`,
    /// with the cluster's join token, trusting only the certificate
    /// `controller_cert` names (controllers of one cloud share it).
    pub fn new(
        base_urls: &str,
        token: &str,
        host: &str,
        controller_cert: Fingerprint,
    ) -> Result<Self, SetupError> {
        if !valid_host_name(host) {
            return Err(SetupError::InvalidHost(host.to_string()));
        }
        let controllers = Controllers::parse(base_urls)?;
        let client = tls::pinned_client(
            reqwest::Client::builder().connect_timeout(Duration::from_secs(10)),
            controller_cert,
            tls::CONTROLLER_MISMATCH,
        )
        .map_err(SetupError::Client)?;
        Ok(RemoteControlPlane {
            controllers,
            token: token.into(),
            host: host.to_string(),
            client,
            snapshot_dir: None,
            tunnel_ip: None,
            book: Arc::default(),
        })
    }

    /// Where the agent's engine writes snapshots (`AgentConfig::
    /// snapshot_dir`): [`report`](ObservedStateSink::report) uploads them
    /// from there. Without it every snapshot is reported failed.
    pub fn with_snapshot_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.snapshot_dir = Some(dir.into());
        self
    }

    /// The host's tunnel address, sent with every registration so the
    /// controller lists it as this host's VXLAN endpoint.
    pub fn with_tunnel_ip(mut self, ip: Option<String>) -> Self {
        self.tunnel_ip = ip;
        self
    }

    /// The host this plane speaks for.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.controllers.current())
    }

    fn host_url(&self, host: &str, what: &str) -> Result<String, SourceError> {
        if !valid_host_name(host) {
            return Err(unavailable(format!("invalid host name {host:?}")));
        }
        Ok(self.url(&format!("/hosts/{host}/{what}")))
    }

    fn book(&self) -> MutexGuard<'_, SnapshotBook> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `rb` with the token and `timeout`; a non-2xx answer is an
    /// error carrying the controller's message.
    async fn send(
        &self,
        rb: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<reqwest::Response, SourceError> {
        let resp = rb
            .bearer_auth(&*self.token)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| {
                self.controllers.failed(&e);
                unavailable(e)
            })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let message = error_message(resp).await;
        Err(unavailable(format!(
            "controller answered {status}: {message}"
        )))
    }

    /// Registers the host (and refreshes its heartbeat): its zone, what
    /// its hypervisor offers, and the URL and certificate of its console
    /// server.
    pub async fn register(
        &self,
        zone: &str,
        capabilities: &Capabilities,
        console_url: &str,
        console_cert: Fingerprint,
    ) -> Result<(), SourceError> {
        let body = RegisterRequest {
            zone: zone.to_string(),
            capabilities: capabilities.clone(),
            console_url: console_url.to_string(),
            console_cert_sha256: console_cert,
            tunnel_ip: self.tunnel_ip.clone(),
        };
        let url = self.host_url(&self.host, "register")?;
        self.send(self.client.post(url).json(&body), REQUEST_TIMEOUT)
            .await
            .map(drop)
    }

    /// Uploads the file of snapshot request `request_id`; returns its
    /// path (removed once the controller has seen the report).
    async fn upload_snapshot(&self, request_id: &str) -> Result<PathBuf, String> {
        let image_id = self.book().images.get(request_id).cloned().ok_or_else(|| {
            format!("the agent does not know which image snapshot {request_id} is for")
        })?;
        let dir = self
            .snapshot_dir
            .as_ref()
            .ok_or_else(|| "this host has no snapshot directory".to_string())?;
        if !crate::images::is_plain_uuid(&image_id) {
            return Err(format!("image id {image_id:?} is not a UUID"));
        }
        let path = dir.join(format!("{image_id}.qcow2"));
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let len = file
            .metadata()
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        let timeout = REQUEST_TIMEOUT + Duration::from_secs(len / MIN_UPLOAD_BYTES_PER_SEC);
        let rb = self
            .client
            .put(self.url(&format!("/snapshots/{image_id}")))
            .header(reqwest::header::CONTENT_LENGTH, len)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(reqwest::Body::from(file));
        self.send(rb, timeout).await.map_err(|e| {
            format!(
                "uploading the snapshot to the controller: {}",
                error_chain(&e)
            )
        })?;
        tracing::info!(host = %self.host, image = %image_id, bytes = len, "snapshot uploaded");
        Ok(path)
    }
}

impl DesiredStateSource for RemoteControlPlane {
    fn assigned<'a>(&'a self, host: &'a str) -> StateFuture<'a, HostDesired> {
        Box::pin(async move {
            let url = self.host_url(host, "assigned")?;
            let a: HostDesired = self
                .send(self.client.get(url), REQUEST_TIMEOUT)
                .await?
                .json()
                .await
                .map_err(unavailable)?;
            let mut book = self.book();
            for d in &a.instances {
                if let Some(s) = &d.snapshot {
                    book.images.insert(s.request_id.clone(), s.image_id.clone());
                }
            }
            Ok(a)
        })
    }

    fn watch<'a>(
        &'a self,
        host: &'a str,
        since_revision: u64,
        timeout: Duration,
    ) -> StateFuture<'a, u64> {
        Box::pin(async move {
            let timeout = timeout.min(wire::MAX_WATCH);
            let url = self.host_url(host, "watch")?;
            let rb = self.client.get(url).query(&[
                ("since", since_revision.to_string()),
                ("timeout_ms", timeout.as_millis().to_string()),
            ]);
            let reply: WatchReply = self
                .send(rb, timeout + WATCH_SLACK)
                .await?
                .json()
                .await
                .map_err(unavailable)?;
            Ok(reply.revision)
        })
    }
}

impl MetadataSource for RemoteControlPlane {
    fn metadata<'a>(
        &'a self,
        host: &'a str,
        instance: &'a str,
        path: &'a str,
    ) -> StateFuture<'a, Option<MetadataAnswer>> {
        Box::pin(async move {
            if !metadata::valid_path(path) {
                return Ok(None);
            }
            let url = self.host_url(host, &format!("metadata/{path}"))?;
            let key = metadata::signing_key(&self.token);
            let resp = self
                .client
                .get(url)
                .bearer_auth(&*self.token)
                .header(metadata::INSTANCE_ID_HEADER, instance)
                .header(metadata::SIGNATURE_HEADER, metadata::sign(&key, instance))
                .timeout(REQUEST_TIMEOUT)
                .send()
                .await
                .map_err(unavailable)?;
            if resp.status() == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !resp.status().is_success() {
                let status = resp.status();
                let message = error_message(resp).await;
                return Err(unavailable(format!(
                    "controller answered {status}: {message}"
                )));
            }
            let content_type = (resp.headers().get(reqwest::header::CONTENT_TYPE))
                .and_then(|v| v.to_str().ok())
                .unwrap_or("text/plain")
                .to_string();
            let body = resp.bytes().await.map_err(unavailable)?.to_vec();
            Ok(Some(MetadataAnswer { content_type, body }))
        })
    }
}

impl ObservedStateSink for RemoteControlPlane {
    fn report<'a>(&'a self, host: &'a str, observed: Vec<ObservedInstance>) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let mut observed = observed;
            let mut uploaded = Vec::new();
            for o in &mut observed {
                let Some(request_id) = o.last_snapshot.clone() else {
                    continue;
                };
                let seen = self.book().reported.get(&o.id).cloned().flatten();
                if seen.as_deref() == Some(request_id.as_str()) || o.snapshot_error.is_some() {
                    continue;
                }
                match self.upload_snapshot(&request_id).await {
                    Ok(path) => uploaded.push((request_id, path)),
                    Err(e) => {
                        tracing::warn!(host, instance = %o.id, error = %e, "snapshot upload failed");
                        o.snapshot_error = Some(e);
                    }
                }
            }
            let url = self.host_url(host, "observed")?;
            self.send(self.client.post(url).json(&observed), REQUEST_TIMEOUT)
                .await?;
            // The controller has the files and the reports: forget both.
            let mut book = self.book();
            for o in &observed {
                if o.task == TaskOutcome::Deleted {
                    book.reported.remove(&o.id);
                } else {
                    book.reported.insert(o.id, o.last_snapshot.clone());
                }
            }
            for (request_id, path) in uploaded {
                book.images.remove(&request_id);
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove an uploaded snapshot");
                }
            }
            Ok(())
        })
    }

    fn last_reported<'a>(&'a self, host: &'a str) -> StateFuture<'a, Vec<ObservedInstance>> {
        Box::pin(async move {
            let url = self.host_url(host, "observed")?;
            let out: Vec<ObservedInstance> = self
                .send(self.client.get(url), REQUEST_TIMEOUT)
                .await?
                .json()
                .await
                .map_err(unavailable)?;
            let mut book = self.book();
            for o in &out {
                book.reported.insert(o.id, o.last_snapshot.clone());
            }
            Ok(out)
        })
    }

    // The controller keeps no objects of other kinds yet (it writes none
    // into the desired document), so an agent with no driver for them
    // never reports any.
    fn report_objects<'a>(
        &'a self,
        host: &'a str,
        observed: Vec<ObservedObject>,
    ) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let url = self.host_url(host, "objects")?;
            self.send(self.client.post(url).json(&observed), REQUEST_TIMEOUT)
                .await?;
            Ok(())
        })
    }

    fn last_reported_objects<'a>(&'a self, host: &'a str) -> StateFuture<'a, Vec<ObservedObject>> {
        Box::pin(async move {
            let url = self.host_url(host, "objects")?;
            self.send(self.client.get(url), REQUEST_TIMEOUT)
                .await?
                .json()
                .await
                .map_err(unavailable)
        })
    }
}

#[cfg(test)]
mod tests;
