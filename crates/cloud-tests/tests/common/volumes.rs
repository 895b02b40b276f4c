//! An in-memory block storage service for compute tests: volumes with
//! Cinder's attach states (available, reserved, attaching, in-use,
//! detaching) and attachments, behind compute's [`ServerVolumes`], so
//! agents over the fake hypervisor plug and unplug disks exactly as they
//! would against the real volume service.

use ferrostack_compute::error::ComputeError;
use ferrostack_compute::volumes::{ServerVolumes, VolumeConnection};
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
        image_id: Option<&str>,
        size_gib: u64,
        _volume_type: Option<&str>,
    ) -> Result<(), ComputeError> {
        self.volumes.lock().unwrap().insert(
            volume_id.into(),
            FakeVolume {
                project_id: project_id.into(),
                status: "available".into(),
                size_gib,
                attachments: BTreeMap::new(),
                deleted: false,
                image_id: image_id.map(str::to_string),
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
}
