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
//! A volume connected on a host other than its storage host is an export
//! of the storage host: `connect` waits (bounded by [`EXPORT_DEADLINE`])
//! for the storage host's agent to report it ready at the export's
//! generation, and takes the address clients connect to from that report
//! (the address the storage host's NBD server listens on). A failed or
//! late export is the attach's 400; compute then releases the attachment,
//! which takes the host out of the export again.
//!
//! The host link calls connect, complete and release without a user (an
//! agent's report is not a request): those run as the service itself,
//! whose caller sees every project, as Nova's service token does.

use axum::http::StatusCode;
use ferrostack_compute::error::ComputeError;
use ferrostack_compute::hostlink::HostLink;
use ferrostack_compute::volumes::{
    BootVolumeSource, ProxySnapshot, ProxyVolume, ServerVolumes, SnapshotCreate, VolumeConnection,
    VolumeCreate,
};
use ferrostack_host_contract::block::Connection;
use ferrostack_host_contract::{Kind, ObjectPhase, ObservedObject};
use ferrostack_policy::AuthContext;
use ferrostack_store::host_objects::HostObjectStore;
use ferrostack_store::volume::{Snapshot, Volume, VolumeStore};
use ferrostack_store::SqliteStore;
use ferrostack_volume::error::VolumeError;
use ferrostack_volume::hooks::AttachedVolumeEvents;
use ferrostack_volume::service::{Caller, ExportWait, NewVolume};
use ferrostack_volume::VolumeState;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long a boot from volume waits for its new volume.
const CREATE_DEADLINE: Duration = Duration::from_secs(300);

/// How long an attach on another host waits for the storage host to
/// serve the export (a cold start of its `qemu-storage-daemon` included).
const EXPORT_DEADLINE: Duration = Duration::from_secs(30);

/// The volume service as compute uses it.
pub struct CinderForNova {
    state: Arc<VolumeState>,
    reports: Arc<dyn HostObjectStore>,
}

impl CinderForNova {
    /// Over the volume service's shared state; agents' object reports
    /// from `reports` (an export's readiness).
    pub fn new(state: Arc<VolumeState>, reports: Arc<dyn HostObjectStore>) -> Self {
        CinderForNova { state, reports }
    }
}

/// The export's address once the storage host reports it ready at
/// `w.generation` or later (in `reports`), waiting at most `limit`.
async fn export_ready(
    reports: &dyn HostObjectStore,
    w: &ExportWait,
    limit: Duration,
) -> Result<String, ComputeError> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let report = reports
            .reported_objects(&w.storage_host)
            .map_err(|e| ComputeError::Internal(e.to_string()))?
            .into_iter()
            .find(|r| r.kind == Kind::VolumeExport.as_str() && r.id == w.volume_id)
            .and_then(|r| serde_json::from_value::<ObservedObject>(r.report).ok());
        if let Some(o) = report.filter(|o| o.observed_generation >= w.generation) {
            match o.phase {
                ObjectPhase::Ready => {
                    if let Some(a) = o.details.get("address").and_then(|a| a.as_str()) {
                        return Ok(a.to_string());
                    }
                }
                ObjectPhase::Failed => {
                    return Err(ComputeError::BadRequest(format!(
                        "Volume {} cannot be exported by its storage host {}: {}",
                        w.volume_id,
                        w.storage_host,
                        o.fault.unwrap_or_default()
                    )))
                }
                _ => {}
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ComputeError::BadRequest(format!(
                "Volume {} was not exported by its storage host {} within {:?}.",
                w.volume_id, w.storage_host, limit
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
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
        let (mut connection, info) = self
            .state
            .connect_attachment(&service(), attachment_id, host)
            .map_err(nova)?;
        if let (Some(w), Connection::Export { address, .. }) = (&info.export, &mut connection) {
            *address = wait(export_ready(self.reports.as_ref(), w, EXPORT_DEADLINE))?;
        }
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
        source: &BootVolumeSource,
        size_gib: u64,
        volume_type: Option<&str>,
    ) -> Result<(), ComputeError> {
        let (image_id, snapshot_id) = match source {
            BootVolumeSource::Image(id) => (Some(id.clone()), None),
            BootVolumeSource::Snapshot(id) => (None, Some(id.clone())),
            BootVolumeSource::Blank | BootVolumeSource::Volume(_) => (None, None),
        };
        let owner = Caller {
            project_id: project_id.to_string(),
            user_id: "compute".into(),
            is_admin: false,
        };
        wait(async {
            if self.state.volume(&owner, volume_id).is_err() {
                let req = NewVolume {
                    id: Some(volume_id.to_string()),
                    size_gib: (size_gib > 0).then_some(size_gib),
                    image_id,
                    snapshot_id,
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

    fn list_volumes(&self, caller: &AuthContext) -> Result<Vec<ProxyVolume>, ComputeError> {
        let project = caller.project_id().unwrap_or_default();
        let volumes = self
            .state
            .store
            .list_volumes(Some(project))
            .map_err(store_err)?;
        volumes.iter().map(|v| self.proxy_view(v)).collect()
    }

    fn show_volume(&self, caller: &AuthContext, id: &str) -> Result<ProxyVolume, ComputeError> {
        let v = self.state.volume(&Caller::of(caller), id).map_err(nova)?;
        self.proxy_view(&v)
    }

    fn create_proxy_volume(
        &self,
        caller: &AuthContext,
        req: &VolumeCreate,
    ) -> Result<ProxyVolume, ComputeError> {
        let new = NewVolume {
            size_gib: Some(req.size_gib),
            name: req.name.clone(),
            description: req.description.clone(),
            metadata: req.metadata.clone(),
            volume_type: req.volume_type.clone(),
            availability_zone: req.availability_zone.clone(),
            snapshot_id: req.snapshot_id.clone(),
            ..NewVolume::default()
        };
        let v = wait(self.state.create_volume(&Caller::of(caller), new)).map_err(nova)?;
        self.proxy_view(&v)
    }

    fn delete_proxy_volume(&self, caller: &AuthContext, id: &str) -> Result<(), ComputeError> {
        self.state
            .delete_volume(&Caller::of(caller), id, false, false)
            .map_err(nova)
    }

    fn list_snapshots(&self, caller: &AuthContext) -> Result<Vec<ProxySnapshot>, ComputeError> {
        let project = caller.project_id().unwrap_or_default();
        let snapshots = self
            .state
            .store
            .list_snapshots(Some(project))
            .map_err(store_err)?;
        Ok(snapshots.iter().map(snapshot_view).collect())
    }

    fn show_snapshot(&self, caller: &AuthContext, id: &str) -> Result<ProxySnapshot, ComputeError> {
        let s = self.state.snapshot(&Caller::of(caller), id).map_err(nova)?;
        Ok(snapshot_view(&s))
    }

    fn create_snapshot(
        &self,
        caller: &AuthContext,
        req: &SnapshotCreate,
    ) -> Result<ProxySnapshot, ComputeError> {
        let s = self
            .state
            .create_snapshot(
                &Caller::of(caller),
                &req.volume_id,
                req.name.clone(),
                req.description.clone(),
                Default::default(),
                req.force,
            )
            .map_err(nova)?;
        Ok(snapshot_view(&s))
    }

    fn delete_snapshot(&self, caller: &AuthContext, id: &str) -> Result<(), ComputeError> {
        self.state
            .delete_snapshot(&Caller::of(caller), id, false)
            .map_err(nova)
    }
}

fn store_err(e: ferrostack_store::StoreError) -> ComputeError {
    ComputeError::Internal(e.to_string())
}

fn snapshot_view(s: &Snapshot) -> ProxySnapshot {
    ProxySnapshot {
        id: s.id.clone(),
        volume_id: s.volume_id.clone(),
        status: s.status.clone(),
        size_gib: s.size_gib,
        created_at: s.created_at,
        name: s.name.clone(),
        description: s.description.clone(),
    }
}

impl CinderForNova {
    /// A volume as Nova's proxy shows it: its type's name, and the server
    /// it is attached to when an attachment is complete.
    fn proxy_view(&self, v: &Volume) -> Result<ProxyVolume, ComputeError> {
        let store = &self.state.store;
        let volume_type = store.get_type(&v.volume_type_id).map_err(store_err)?;
        let attachment = store
            .volume_attachments(&v.id)
            .map_err(store_err)?
            .into_iter()
            .find(|a| a.attach_status == "attached")
            .map(|a| (a.instance_uuid, a.mountpoint));
        Ok(ProxyVolume {
            id: v.id.clone(),
            status: v.status.clone(),
            size_gib: v.size_gib,
            availability_zone: v.availability_zone.clone(),
            created_at: v.created_at,
            name: v.name.clone(),
            description: v.description.clone(),
            volume_type: volume_type.map(|t| t.name),
            snapshot_id: v.snapshot_id.clone(),
            metadata: v.metadata.clone(),
            attachment,
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use ferrostack_host_contract::ObjectKey;
    use ferrostack_store::host_objects::ReportedObject;

    fn report(phase: ObjectPhase, generation: u64, fault: Option<&str>) -> ReportedObject {
        let mut details = serde_json::Map::new();
        details.insert("address".into(), "10.0.0.1:10809".into());
        let o = ObservedObject {
            key: ObjectKey::new(Kind::VolumeExport, "v1"),
            phase,
            observed_generation: generation,
            present: phase == ObjectPhase::Ready,
            fault: fault.map(str::to_owned),
            details,
        };
        ReportedObject {
            kind: "volume_export".into(),
            id: "v1".into(),
            report: serde_json::to_value(o).unwrap(),
        }
    }

    #[tokio::test]
    async fn an_attach_waits_for_the_export_at_its_generation() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("db")).unwrap();
        let w = ExportWait {
            storage_host: "s1".into(),
            volume_id: "v1".into(),
            generation: 2,
        };
        let short = Duration::from_millis(300);
        // Nothing reported, or ready at an older generation: not yet.
        assert!(export_ready(&s, &w, short).await.is_err());
        s.record_objects("s1", &[report(ObjectPhase::Ready, 1, None)], &[])
            .unwrap();
        let late = export_ready(&s, &w, short).await.unwrap_err();
        assert!(late.to_string().contains("was not exported"), "{late}");
        s.record_objects("s1", &[report(ObjectPhase::Ready, 2, None)], &[])
            .unwrap();
        assert_eq!(export_ready(&s, &w, short).await.unwrap(), "10.0.0.1:10809");
        // A failed export is the attach's 400, with the host's reason.
        s.record_objects(
            "s1",
            &[report(ObjectPhase::Failed, 3, Some("no --tunnel-ip"))],
            &[],
        )
        .unwrap();
        let failed = export_ready(&s, &w, short).await.unwrap_err();
        assert!(matches!(&failed, ComputeError::BadRequest(m) if m.contains("no --tunnel-ip")));
    }
}
