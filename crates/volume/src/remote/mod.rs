//! Volumes held by another controller: a [`VolumeBackend`] that forwards
//! each call to the controller whose disk holds the data.
//!
//! With several controllers on one database, each controller's local
//! backend is its own disk (`DATA/volumes`). A volume made through
//! controller A has the host `A@local#local`; a later request that lands
//! on controller B (extend, delete, snapshot, clone, attach) must act on
//! A's files, not on B's empty directory. So the volume service picks a
//! volume's backend by its *host* ([`crate::VolumeState::backend_of`]):
//! one of its own, or a [`RemoteBackend`] for the controller registered
//! under that host name ([`peers::StorePeers`], from the `controllers`
//! table: live or not, and where it listens).
//!
//! ```text
//!   B: VolumeState::extend(v on A) -> RemoteBackend(A).extend
//!        -- POST https://A:8779/peer/volume/v1/call {"backend","op",...}
//!           (bearer: a key derived from the cloud's master key) -->
//!   A: serve::router -> A's LocalBackend::extend -> 200 / {"error": ...}
//! ```
//!
//! Why forwarding backend calls, and not whole API requests: the volume
//! service already does everything that decides (state rules, quota,
//! rows) in the database, which every controller shares; only the bytes
//! are per host. The backend calls are idempotent on ids by contract and
//! are made from steps whose progress is stored, so a call lost with its
//! connection is simply made again. Rejected: proxying the API request to
//! the volume's controller (a second API surface, and compute's in-process
//! calls would need it too); desired state in the database for a volume
//! agent (a poll loop's latency on every extend, for no gain while the
//! data and the API run in the same process).
//!
//! The endpoint is served on the host API listener, whose TLS identity
//! every controller of a cloud shares (README "Several controllers"); the
//! client pins that certificate, and the bearer is derived from the
//! master key, which only controllers hold (agents have the join token,
//! users their tokens: neither opens this endpoint).
//!
//! A controller that is down: [`peers::StorePeers`] answers
//! [`PeerError::Down`] from its lapsed lease *before* the service changes
//! anything, so the request is refused (503, Cinder's shape) with nothing
//! half-done; one that dies mid-call makes the call fail with the
//! connection error, within the client's timeouts, never a hang.

pub mod peers;
pub mod serve;

use crate::backend::{BackendError, BackendFuture, Capacity, ImageFile, VolumeBackend};
use ferrostack_host_contract::block::Connection;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// The path of the endpoint on a controller's host API listener.
pub const CALL_PATH: &str = "/peer/volume/v1/call";

/// What the peer key is derived for (see the binary's master key).
pub const KEY_PURPOSE: &str = "ferrostack volume peer v1";

/// One backend call, as sent to the controller that holds the data (the
/// fields are the [`VolumeBackend`] method's arguments of the same names).
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Call {
    /// [`VolumeBackend::create_blank`].
    CreateBlank { volume_id: String, size_gib: u64 },
    /// [`VolumeBackend::create_from_image`]: the peer resolves the image
    /// to its own file (images are shared storage).
    CreateFromImage {
        volume_id: String,
        image_id: String,
        size_gib: u64,
    },
    /// [`VolumeBackend::create_from_snapshot`].
    CreateFromSnapshot {
        volume_id: String,
        snapshot_id: String,
        size_gib: u64,
    },
    /// [`VolumeBackend::create_from_volume`].
    CreateFromVolume {
        volume_id: String,
        source_volume_id: String,
        size_gib: u64,
    },
    /// [`VolumeBackend::extend`].
    Extend {
        volume_id: String,
        new_size_gib: u64,
    },
    /// [`VolumeBackend::delete`].
    Delete { volume_id: String },
    /// [`VolumeBackend::create_snapshot`].
    CreateSnapshot {
        snapshot_id: String,
        volume_id: String,
    },
    /// [`VolumeBackend::begin_live_snapshot`].
    BeginLiveSnapshot {
        snapshot_id: String,
        volume_id: String,
    },
    /// [`VolumeBackend::finish_live_snapshot`].
    FinishLiveSnapshot { snapshot_id: String },
    /// [`VolumeBackend::delete_snapshot`].
    DeleteSnapshot { snapshot_id: String },
    /// [`VolumeBackend::capacity`].
    Capacity,
}

/// A request: which of the peer's backends, and the call.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    /// The `volume_backend_name`.
    pub backend: String,
    /// The call.
    #[serde(flatten)]
    pub call: Call,
}

/// A successful answer (`capacity` only for [`Call::Capacity`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Reply {
    /// The backend's space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
}

/// A failed answer: the [`BackendError`] as it was on the peer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Failure {
    /// `missing`, `no_space`, `invalid` or `failed`.
    pub kind: String,
    /// The backend's words.
    pub message: String,
}

impl Failure {
    /// The wire form of `e`.
    pub fn of(e: &BackendError) -> Failure {
        let (kind, message) = match e {
            BackendError::Missing(m) => ("missing", m),
            BackendError::NoSpace(m) => ("no_space", m),
            BackendError::Invalid(m) => ("invalid", m),
            BackendError::Failed(m) => ("failed", m),
        };
        Failure {
            kind: kind.into(),
            message: message.clone(),
        }
    }

    /// Back to the error the peer's backend gave.
    pub fn into_error(self) -> BackendError {
        match self.kind.as_str() {
            "missing" => BackendError::Missing(self.message),
            "no_space" => BackendError::NoSpace(self.message),
            "invalid" => BackendError::Invalid(self.message),
            _ => BackendError::Failed(self.message),
        }
    }
}

/// Why a volume's controller cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// Its lease ran out: it is stopped, or cut off.
    #[error("the controller of host {0} is down")]
    Down(String),
    /// It never said where it listens (an older version).
    #[error("the controller of host {0} has no peer address")]
    NoAddress(String),
    /// The directory could not be read.
    #[error("{0}")]
    Store(String),
}

/// Another controller's backend, reached over its peer endpoint.
pub struct RemoteBackend {
    backend_name: String,
    host: String,
    volume_dir: PathBuf,
    url: String,
    client: reqwest::Client,
    key: Arc<str>,
}

impl RemoteBackend {
    /// The backend `backend_name` of storage host `host`, whose volume
    /// files are in `volume_dir` there, at the peer endpoint `base_url`
    /// (e.g. `https://10.0.0.2:8779`) with the peer key `key`.
    pub fn new(
        backend_name: &str,
        host: &str,
        volume_dir: impl Into<PathBuf>,
        base_url: &str,
        client: reqwest::Client,
        key: Arc<str>,
    ) -> Self {
        RemoteBackend {
            backend_name: backend_name.into(),
            host: host.into(),
            volume_dir: volume_dir.into(),
            url: format!("{}{CALL_PATH}", base_url.trim_end_matches('/')),
            client,
            key,
        }
    }

    async fn call(&self, call: Call) -> Result<Reply, BackendError> {
        let body = Request {
            backend: self.backend_name.clone(),
            call,
        };
        let unreachable = |e: reqwest::Error| {
            BackendError::Failed(format!(
                "the controller of host {} cannot be reached: {e}",
                self.host
            ))
        };
        let resp = self
            .client
            .post(&self.url)
            .bearer_auth(&*self.key)
            .json(&body)
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status();
        if status.is_success() {
            return resp.json::<Reply>().await.map_err(unreachable);
        }
        #[derive(Deserialize)]
        struct Body {
            error: Failure,
        }
        match resp.json::<Body>().await {
            Ok(b) => Err(b.error.into_error()),
            Err(_) => Err(BackendError::Failed(format!(
                "the controller of host {} answered {status}",
                self.host
            ))),
        }
    }

    fn unit(&self, call: Call) -> BackendFuture<'_, ()> {
        Box::pin(async move { self.call(call).await.map(drop) })
    }
}

impl VolumeBackend for RemoteBackend {
    fn backend_name(&self) -> &str {
        &self.backend_name
    }

    fn host(&self) -> &str {
        &self.host
    }

    fn create_blank<'a>(&'a self, volume_id: &'a str, size_gib: u64) -> BackendFuture<'a, ()> {
        self.unit(Call::CreateBlank {
            volume_id: volume_id.into(),
            size_gib,
        })
    }

    fn create_from_image<'a>(
        &'a self,
        volume_id: &'a str,
        image: &'a ImageFile,
        size_gib: u64,
    ) -> BackendFuture<'a, ()> {
        self.unit(Call::CreateFromImage {
            volume_id: volume_id.into(),
            image_id: image.image_id.clone(),
            size_gib,
        })
    }

    fn create_from_snapshot<'a>(
        &'a self,
        volume_id: &'a str,
        snapshot_id: &'a str,
        size_gib: u64,
    ) -> BackendFuture<'a, ()> {
        self.unit(Call::CreateFromSnapshot {
            volume_id: volume_id.into(),
            snapshot_id: snapshot_id.into(),
            size_gib,
        })
    }

    fn create_from_volume<'a>(
        &'a self,
        volume_id: &'a str,
        source_volume_id: &'a str,
        size_gib: u64,
    ) -> BackendFuture<'a, ()> {
        self.unit(Call::CreateFromVolume {
            volume_id: volume_id.into(),
            source_volume_id: source_volume_id.into(),
            size_gib,
        })
    }

    fn extend<'a>(&'a self, volume_id: &'a str, new_size_gib: u64) -> BackendFuture<'a, ()> {
        self.unit(Call::Extend {
            volume_id: volume_id.into(),
            new_size_gib,
        })
    }

    fn delete<'a>(&'a self, volume_id: &'a str) -> BackendFuture<'a, ()> {
        self.unit(Call::Delete {
            volume_id: volume_id.into(),
        })
    }

    fn create_snapshot<'a>(
        &'a self,
        snapshot_id: &'a str,
        volume_id: &'a str,
    ) -> BackendFuture<'a, ()> {
        self.unit(Call::CreateSnapshot {
            snapshot_id: snapshot_id.into(),
            volume_id: volume_id.into(),
        })
    }

    fn begin_live_snapshot<'a>(
        &'a self,
        snapshot_id: &'a str,
        volume_id: &'a str,
    ) -> BackendFuture<'a, ()> {
        self.unit(Call::BeginLiveSnapshot {
            snapshot_id: snapshot_id.into(),
            volume_id: volume_id.into(),
        })
    }

    fn finish_live_snapshot<'a>(&'a self, snapshot_id: &'a str) -> BackendFuture<'a, ()> {
        self.unit(Call::FinishLiveSnapshot {
            snapshot_id: snapshot_id.into(),
        })
    }

    fn delete_snapshot<'a>(&'a self, snapshot_id: &'a str) -> BackendFuture<'a, ()> {
        self.unit(Call::DeleteSnapshot {
            snapshot_id: snapshot_id.into(),
        })
    }

    /// What the volume's own controller answers (its local backend's
    /// file), from the directory it registered: a guest on that host
    /// opens the file, one elsewhere reaches it through that host's
    /// export (`service/exports.rs`).
    fn connection(&self, volume_id: &str) -> Connection {
        Connection::File {
            path: self
                .volume_dir
                .join(volume_id)
                .to_string_lossy()
                .into_owned(),
            format: "qcow2".into(),
        }
    }

    fn capacity(&self) -> BackendFuture<'_, Capacity> {
        Box::pin(async move {
            self.call(Call::Capacity).await?.capacity.ok_or_else(|| {
                BackendError::Failed(format!(
                    "the controller of host {} sent no capacity",
                    self.host
                ))
            })
        })
    }
}

#[cfg(test)]
mod tests;
