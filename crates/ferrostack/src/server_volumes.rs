//! Compute's view of the block storage service ([`ServerVolumes`]) over
//! the volume service's in-process API, and the volume service's events
//! for compute ([`AttachedVolumeEvents`]): what Nova's cinder module and
//! Cinder's `volume-extended` external event do over HTTP, done with
//! function calls.
//!
//! It lives in the binary because it is the one place that links both
//! services. Errors are put in Nova's words (status kept: a volume the
//! caller cannot see is Nova's 404, a volume in the wrong state its 400,
//! Cinder's 413 over quota Nova's 403).
//!
//! The host link calls connect, complete and release without a user (an
//! agent's report is not a request): those run as the service itself,
//! whose caller sees every project, as Nova's service token does.

use axum::http::StatusCode;
use ferrostack_compute::error::ComputeError;
use ferrostack_compute::hostlink::HostLink;
use ferrostack_compute::volumes::{ServerVolumes, VolumeConnection};
use ferrostack_policy::AuthContext;
use ferrostack_store::volume::VolumeStore;
use ferrostack_store::SqliteStore;
use ferrostack_volume::error::VolumeError;
use ferrostack_volume::hooks::AttachedVolumeEvents;
use ferrostack_volume::service::{Caller, NewVolume};
use ferrostack_volume::VolumeState;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long a boot from volume waits for its new volume.
const CREATE_DEADLINE: Duration = Duration::from_secs(300);

/// The volume service as compute uses it.
pub struct CinderForNova {
    state: Arc<VolumeState>,
}

impl CinderForNova {
    /// Over the volume service's shared state.
    pub fn new(state: Arc<VolumeState>) -> Self {
        CinderForNova { state }
    }
}

/// The service itself, for calls no user makes.
fn service() -> Caller {
    Caller {
        project_id: String::new(),
        user_id: "compute".into(),
        is_admin: true,
    }
}

/// A volume service error in Nova's terms.
fn nova(e: VolumeError) -> ComputeError {
    let message = e.to_string();
    match e.status() {
        StatusCode::NOT_FOUND => ComputeError::NotFound(message),
        StatusCode::BAD_REQUEST => ComputeError::BadRequest(message),
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::FORBIDDEN => ComputeError::Forbidden(message),
        StatusCode::CONFLICT => ComputeError::Conflict(message),
        StatusCode::SERVICE_UNAVAILABLE => ComputeError::BadRequest(message),
        _ => ComputeError::Internal(message),
    }
}

/// Run a volume service future from compute's synchronous code (the
/// runtime is multi-threaded in the binary).
fn wait<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

impl ServerVolumes for CinderForNova {
    fn reserve(
        &self,
        caller: &AuthContext,
        volume_id: &str,
        server_id: &str,
        attachment_id: &str,
    ) -> Result<(), ComputeError> {
        self.state
            .reserve_attachment(&Caller::of(caller), volume_id, server_id, attachment_id)
            .map_err(nova)
    }

    fn connect(&self, attachment_id: &str, host: &str) -> Result<VolumeConnection, ComputeError> {
        let (connection, info) = self
            .state
            .connect_attachment(&service(), attachment_id, host)
            .map_err(nova)?;
        Ok(VolumeConnection {
            connection,
            size_gib: info.size_gib,
            read_only: info.read_only,
            limits: info.limits,
        })
    }

    fn complete(&self, attachment_id: &str) -> Result<(), ComputeError> {
        self.state
            .complete_attachment(&service(), attachment_id)
            .map_err(nova)
    }

    fn begin_detaching(&self, attachment_id: &str) -> Result<(), ComputeError> {
        let a = self
            .state
            .attachment(&service(), attachment_id)
            .map_err(nova)?;
        self.state
            .legacy_step(&service(), &a.volume_id, "os-begin_detaching")
            .map_err(nova)
    }

    fn release(&self, attachment_id: &str) -> Result<(), ComputeError> {
        match self.state.delete_attachment(&service(), attachment_id) {
            Ok(()) => Ok(()),
            Err(e) if e.status() == StatusCode::NOT_FOUND => Ok(()),
            Err(e) => Err(nova(e)),
        }
    }

    fn create_volume(
        &self,
        project_id: &str,
        volume_id: &str,
        image_id: Option<&str>,
        size_gib: u64,
        volume_type: Option<&str>,
    ) -> Result<(), ComputeError> {
        let owner = Caller {
            project_id: project_id.to_string(),
            user_id: "compute".into(),
            is_admin: false,
        };
        wait(async {
            if self.state.volume(&owner, volume_id).is_err() {
                let req = NewVolume {
                    id: Some(volume_id.to_string()),
                    size_gib: Some(size_gib),
                    image_id: image_id.map(str::to_string),
                    volume_type: volume_type.map(str::to_string),
                    ..NewVolume::default()
                };
                self.state.create_volume(&owner, req).await?;
            }
            self.state
                .wait_available(&owner, volume_id, CREATE_DEADLINE)
                .await
                .map(drop)
        })
        .map_err(nova)
    }

    fn boot_image(&self, caller: &AuthContext, volume_id: &str) -> Result<String, ComputeError> {
        let v = self
            .state
            .volume(&Caller::of(caller), volume_id)
            .map_err(nova)?;
        v.image_id
            .clone()
            .or_else(|| v.image_metadata.get("image_id").cloned())
            .ok_or_else(|| {
                ComputeError::BadRequest(format!(
                    "Block Device Mapping is Invalid: volume {volume_id} holds no image to boot \
                     (it was not made from one)."
                ))
            })
    }

    fn delete_volume(&self, volume_id: &str) -> Result<(), ComputeError> {
        match self.state.delete_volume(&service(), volume_id, true, false) {
            Ok(()) => Ok(()),
            Err(e) if e.status() == StatusCode::NOT_FOUND => Ok(()),
            Err(e) => Err(nova(e)),
        }
    }
}

/// The volume service's events, delivered to compute: an attached volume
/// that grew grows in each guest it is attached to; one whose top a live
/// snapshot froze is switched onto the new top in each guest, and the
/// snapshot waits for their hosts' reports (polled from the server rows,
/// where the host link records each report: no second channel to keep in
/// step). The host link is set
/// once it exists (it needs the volume service first).
pub struct ExtendedToCompute {
    /// Servers and volume attachments.
    pub store: SqliteStore,
    /// Set once, when the host link is built.
    pub link: Arc<OnceLock<Arc<HostLink>>>,
}

/// How often a live snapshot looks at the hosts' reports.
const SWITCH_POLL: Duration = Duration::from_millis(100);

impl AttachedVolumeEvents for ExtendedToCompute {
    fn top_frozen<'a>(
        &'a self,
        volume_id: &'a str,
        deadline: Duration,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let link = self
                .link
                .get()
                .ok_or_else(|| "compute is not ready".to_string())?;
            let attachments = self
                .store
                .volume_attachments(volume_id)
                .map_err(|e| format!("reading the attachments: {e}"))?;
            let mut waiting = Vec::new();
            for a in attachments {
                let uuid = a.instance_uuid;
                if waiting.iter().any(|(u, _)| u == &uuid) {
                    continue;
                }
                match ferrostack_compute::servers::volumes::volume_top_frozen(
                    &self.store,
                    link,
                    &uuid,
                    volume_id,
                ) {
                    Ok(Some(generation)) => waiting.push((uuid, generation)),
                    Ok(None) => {}
                    Err(e) => return Err(format!("server {uuid}: {e}")),
                }
            }
            let end = tokio::time::Instant::now() + deadline;
            loop {
                let mut left = Vec::new();
                for (uuid, generation) in waiting {
                    let done = ferrostack_compute::servers::volumes::volume_top_switched(
                        &self.store,
                        &uuid,
                        volume_id,
                        generation,
                    )
                    .map_err(|e| format!("server {uuid}: {e}"))?;
                    if !done {
                        left.push((uuid, generation));
                    }
                }
                if left.is_empty() {
                    return Ok(());
                }
                if tokio::time::Instant::now() >= end {
                    let servers: Vec<&str> = left.iter().map(|(u, _)| u.as_str()).collect();
                    return Err(format!(
                        "the hosts of servers {servers:?} did not report the switch within {deadline:?}"
                    ));
                }
                waiting = left;
                tokio::time::sleep(SWITCH_POLL).await;
            }
        })
    }

    fn extended(&self, volume_id: &str, new_size_gib: u64) {
        let Some(link) = self.link.get() else {
            tracing::warn!(volume_id, "a volume grew before compute was ready");
            return;
        };
        let attachments = match self.store.volume_attachments(volume_id) {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(volume_id, error = %e, "cannot read the attachments of a volume that grew");
                return;
            }
        };
        for a in attachments {
            if let Err(e) = ferrostack_compute::servers::volumes::volume_extended(
                &self.store,
                link,
                &a.instance_uuid,
                volume_id,
                new_size_gib,
            ) {
                tracing::error!(volume_id, server = %a.instance_uuid, error = %e, "cannot grow the disk of a guest");
            }
        }
    }
}
