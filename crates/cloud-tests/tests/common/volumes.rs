//! An in-memory block storage service for compute tests: volumes with
//! Cinder's attach states (available, reserved, attaching, in-use,
//! detaching) and attachments, behind compute's [`ServerVolumes`], so
//! agents over the fake hypervisor plug and unplug disks exactly as they
//! would against the real volume service.

use ferrostack_compute::error::ComputeError;
use ferrostack_compute::volumes::{
    BootVolumeSource, ProxySnapshot, ProxyVolume, ServerVolumes, SnapshotCreate, VolumeConnection,
    VolumeCreate,
};
use ferrostack_host_contract::block::Connection;
use ferrostack_policy::AuthContext;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// A volume of the fake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeVolume {
    /// Its project.
    pub project_id: String,
    /// Cinder's status.
    pub status: String,
    /// Size, GiB.
    pub size_gib: u64,
    /// Attachment id -> server id.
    pub attachments: BTreeMap<String, String>,
    /// Deleted by `delete_volume`.
    pub deleted: bool,
    /// The image it holds.
    pub image_id: Option<String>,
}

/// The fake volume service.
#[derive(Default)]
pub struct FakeVolumes {
    volumes: Mutex<BTreeMap<String, FakeVolume>>,
    /// Connects still to fail.
    pub fail_connects: AtomicU32,
    /// Snapshots: id -> (volume id, project, size).
    pub snapshots: Mutex<BTreeMap<String, (String, String, u64)>>,
}

fn sees(caller: &AuthContext, project: &str) -> bool {
    caller.is_admin() || caller.project_id() == Some(project)
}

fn proxy_view(id: &str, v: &FakeVolume) -> ProxyVolume {
    ProxyVolume {
        id: id.into(),
        status: v.status.clone(),
        size_gib: v.size_gib,
        availability_zone: "nova".into(),
        attachment: v
            .attachments
            .values()
            .next()
            .map(|server| (server.clone(), Some("/dev/vdb".into()))),
        ..ProxyVolume::default()
    }
}

fn not_found(kind: &str, id: &str) -> ComputeError {
    ComputeError::NotFound(format!("{kind} {id} could not be found."))
}

impl FakeVolumes {
    /// A new available volume of `project`.
    pub fn volume(&self, project: &str, size_gib: u64) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.volumes.lock().unwrap().insert(
            id.clone(),
            FakeVolume {
                project_id: project.into(),
                status: "available".into(),
                size_gib,
                attachments: BTreeMap::new(),
                deleted: false,
                image_id: None,
            },
        );
        id
    }

    /// Whether volume `id` exists (created and not deleted).
    pub fn exists(&self, id: &str) -> bool {
        self.volumes
            .lock()
            .unwrap()
            .get(id)
            .is_some_and(|v| !v.deleted)
    }

    /// The ids of the volumes that exist.
    pub fn live(&self) -> Vec<String> {
        let all = self.volumes.lock().unwrap();
        all.iter()
            .filter(|(_, v)| !v.deleted)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A volume as it is now.
    pub fn get(&self, id: &str) -> FakeVolume {
        self.volumes.lock().unwrap()[id].clone()
    }

    fn with_attachment<T>(
        &self,
        attachment_id: &str,
        f: impl FnOnce(&mut FakeVolume) -> T,
    ) -> Option<T> {
        let mut all = self.volumes.lock().unwrap();
        all.values_mut()
            .find(|v| v.attachments.contains_key(attachment_id))
            .map(f)
    }
}

impl ServerVolumes for FakeVolumes {
    fn reserve(
        &self,
        caller: &AuthContext,
        volume_id: &str,
        server_id: &str,
        attachment_id: &str,
    ) -> Result<(), ComputeError> {
        let mut all = self.volumes.lock().unwrap();
        let v = all
            .get_mut(volume_id)
            .filter(|v| {
                !v.deleted && (caller.is_admin() || caller.project_id() == Some(&v.project_id))
            })
            .ok_or_else(|| {
                ComputeError::NotFound(format!("Volume {volume_id} could not be found."))
            })?;
        if v.status != "available" {
            return Err(ComputeError::BadRequest(format!(
                "Invalid volume: Volume {volume_id} status must be available or downloading to reserve, but the current status is {}.",
                v.status
            )));
        }
        v.status = "reserved".into();
        v.attachments.insert(attachment_id.into(), server_id.into());
        Ok(())
    }

    fn connect(&self, attachment_id: &str, _host: &str) -> Result<VolumeConnection, ComputeError> {
        if self
            .fail_connects
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(ComputeError::Internal("connect failed (injected)".into()));
        }
        self.with_attachment(attachment_id, |v| {
            v.status = "attaching".into();
            VolumeConnection {
                connection: Connection::File {
                    path: format!("/fake/{attachment_id}.qcow2"),
                    format: "qcow2".into(),
                },
                size_gib: v.size_gib,
                read_only: false,
                limits: Default::default(),
            }
        })
        .ok_or_else(|| ComputeError::NotFound(format!("attachment {attachment_id} not found")))
    }

    fn complete(&self, attachment_id: &str) -> Result<(), ComputeError> {
        self.with_attachment(attachment_id, |v| v.status = "in-use".into())
            .ok_or_else(|| ComputeError::NotFound(format!("attachment {attachment_id} not found")))
    }

    fn begin_detaching(&self, attachment_id: &str) -> Result<(), ComputeError> {
        self.with_attachment(attachment_id, |v| v.status = "detaching".into())
            .ok_or_else(|| ComputeError::NotFound(format!("attachment {attachment_id} not found")))
    }

    fn release(&self, attachment_id: &str) -> Result<(), ComputeError> {
        self.with_attachment(attachment_id, |v| {
            v.attachments.remove(attachment_id);
            if v.attachments.is_empty() {
                v.status = "available".into();
            }
        });
        Ok(())
    }

    fn create_volume(
        &self,
        project_id: &str,
        volume_id: &str,
        source: &BootVolumeSource,
        size_gib: u64,
        _volume_type: Option<&str>,
    ) -> Result<(), ComputeError> {
        let (image_id, size_gib) = match source {
            BootVolumeSource::Image(id) => (Some(id.clone()), size_gib),
            BootVolumeSource::Snapshot(sid) => {
                let (vol, _, size) = self.snapshots.lock().unwrap()[sid].clone();
                let image = self.volumes.lock().unwrap()[&vol].image_id.clone();
                (image, if size_gib == 0 { size } else { size_gib })
            }
            _ => (None, size_gib),
        };
        self.volumes.lock().unwrap().insert(
            volume_id.into(),
            FakeVolume {
                project_id: project_id.into(),
                status: "available".into(),
                size_gib,
                attachments: BTreeMap::new(),
                deleted: false,
                image_id,
            },
        );
        Ok(())
    }

    fn boot_image(&self, caller: &AuthContext, volume_id: &str) -> Result<String, ComputeError> {
        let all = self.volumes.lock().unwrap();
        let v = all
            .get(volume_id)
            .filter(|v| {
                !v.deleted && (caller.is_admin() || caller.project_id() == Some(&v.project_id))
            })
            .ok_or_else(|| {
                ComputeError::NotFound(format!("Volume {volume_id} could not be found."))
            })?;
        v.image_id
            .clone()
            .ok_or_else(|| ComputeError::BadRequest(format!("Volume {volume_id} holds no image.")))
    }

    fn delete_volume(&self, volume_id: &str) -> Result<(), ComputeError> {
        if let Some(v) = self.volumes.lock().unwrap().get_mut(volume_id) {
            v.deleted = true;
            v.status = "deleted".into();
        }
        Ok(())
    }

    fn list_volumes(&self, caller: &AuthContext) -> Result<Vec<ProxyVolume>, ComputeError> {
        let all = self.volumes.lock().unwrap();
        Ok(all
            .iter()
            .filter(|(_, v)| !v.deleted && caller.project_id() == Some(&v.project_id))
            .map(|(id, v)| proxy_view(id, v))
            .collect())
    }

    fn show_volume(&self, caller: &AuthContext, id: &str) -> Result<ProxyVolume, ComputeError> {
        let all = self.volumes.lock().unwrap();
        all.get(id)
            .filter(|v| !v.deleted && sees(caller, &v.project_id))
            .map(|v| proxy_view(id, v))
            .ok_or_else(|| not_found("Volume", id))
    }

    fn create_proxy_volume(
        &self,
        caller: &AuthContext,
        req: &VolumeCreate,
    ) -> Result<ProxyVolume, ComputeError> {
        let id = self.volume(caller.project_id().unwrap(), req.size_gib);
        let mut view = self.show_volume(caller, &id)?;
        view.name = req.name.clone();
        view.metadata = req.metadata.clone();
        Ok(view)
    }

    fn delete_proxy_volume(&self, caller: &AuthContext, id: &str) -> Result<(), ComputeError> {
        let mut all = self.volumes.lock().unwrap();
        let v = all
            .get_mut(id)
            .filter(|v| !v.deleted && sees(caller, &v.project_id))
            .ok_or_else(|| not_found("Volume", id))?;
        if v.status != "available" {
            return Err(ComputeError::BadRequest(format!(
                "Invalid volume: Volume status must be available, but it is {}.",
                v.status
            )));
        }
        v.deleted = true;
        v.status = "deleted".into();
        Ok(())
    }

    fn list_snapshots(&self, caller: &AuthContext) -> Result<Vec<ProxySnapshot>, ComputeError> {
        let all = self.snapshots.lock().unwrap();
        Ok(all
            .iter()
            .filter(|(_, (_, p, _))| caller.project_id() == Some(p))
            .map(|(id, (vol, _, size))| snap_view(id, vol, *size))
            .collect())
    }

    fn show_snapshot(&self, caller: &AuthContext, id: &str) -> Result<ProxySnapshot, ComputeError> {
        let all = self.snapshots.lock().unwrap();
        all.get(id)
            .filter(|(_, p, _)| sees(caller, p))
            .map(|(vol, _, size)| snap_view(id, vol, *size))
            .ok_or_else(|| not_found("Snapshot", id))
    }

    fn create_snapshot(
        &self,
        caller: &AuthContext,
        req: &SnapshotCreate,
    ) -> Result<ProxySnapshot, ComputeError> {
        let v = self
            .volumes
            .lock()
            .unwrap()
            .get(&req.volume_id)
            .filter(|v| !v.deleted && sees(caller, &v.project_id))
            .cloned()
            .ok_or_else(|| not_found("Volume", &req.volume_id))?;
        if v.status != "available" && !(v.status == "in-use" && req.force) {
            return Err(ComputeError::BadRequest(format!(
                "Invalid volume: Volume {} status must be available, but current status is: {}.",
                req.volume_id, v.status
            )));
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.snapshots.lock().unwrap().insert(
            id.clone(),
            (req.volume_id.clone(), v.project_id.clone(), v.size_gib),
        );
        Ok(snap_view(&id, &req.volume_id, v.size_gib))
    }

    fn delete_snapshot(&self, caller: &AuthContext, id: &str) -> Result<(), ComputeError> {
        let mut all = self.snapshots.lock().unwrap();
        match all.get(id) {
            Some((_, p, _)) if sees(caller, p) => {
                all.remove(id);
                Ok(())
            }
            _ => Err(not_found("Snapshot", id)),
        }
    }
}

fn snap_view(id: &str, volume_id: &str, size_gib: u64) -> ProxySnapshot {
    ProxySnapshot {
        id: id.into(),
        volume_id: volume_id.into(),
        status: "available".into(),
        size_gib,
        ..ProxySnapshot::default()
    }
}
