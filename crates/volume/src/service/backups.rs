//! Backups: a volume's data copied into the backup store (a directory of
//! its own, never the volume backend), full or incremental, restored to a
//! new or an existing volume, deleted newest first.
//!
//! ```text
//!  create:  volume available -> backing-up (one transaction, so no attach
//!           can start) ; quota backups + backup_gigabytes under the
//!           backup's id ; record `creating` ; task: the engine freezes a
//!           point in time, stores the changed chunks -> `available` (or
//!           `error`, the reason kept) ; the volume back to `available`
//!  restore: backup available -> restoring ; target volume (new: created
//!           blank first and waited for; existing: available and large
//!           enough) -> restoring-backup ; task: every chunk verified, then
//!           written -> volume available, backup available (a failure:
//!           volume error_restoring, as Cinder)
//!  delete:  available or error, and no increment on it -> deleting ;
//!           task: manifest and unshared chunks gone, record gone, quota
//!           given back
//! ```
//!
//! The engine's work runs in spawned tasks after the records are
//! written; a restart finds what those tasks were doing in the records
//! and settles it ([`VolumeState::recover_backups`]).
//!
//! An `in-use` volume is backed up only with `force`, as Cinder, through
//! a temporary live snapshot named by the backup's id (the backend freezes
//! the top, compute switches the guests onto the new top, see
//! `snapshots.rs`), read like any snapshot and deleted after. The volume
//! stays `in-use` meanwhile (Cinder shows `backing-up` and restores the
//! previous status; here the attachment flow, which checks `in-use`, is
//! left alone, and a detach during the backup is harmless: the backup
//! reads the frozen snapshot, not the volume).

use super::{bad_status, invalid, quota_error, resources, store_error, Caller, NewVolume};
use crate::backup::BackupError;
use crate::error::{VolumeError, VolumeResult};
use crate::VolumeState;
use ferrostack_common::time::now_micros;
use ferrostack_quota::VOLUME;
use ferrostack_store::volume::{Volume, VolumeGroup};
use ferrostack_store::volume_extras::Backup;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What a backup create asks for.
#[derive(Clone, Debug, Default)]
pub struct NewBackup {
    /// The volume.
    pub volume_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// An increment of the volume's latest backup.
    pub incremental: bool,
    /// Back up an in-use volume.
    pub force: bool,
    /// Metadata (3.43).
    pub metadata: BTreeMap<String, String>,
}

/// How long a restore to a new volume waits for that volume.
const NEW_VOLUME_DEADLINE: Duration = Duration::from_secs(120);

fn backup_error(e: BackupError) -> VolumeError {
    match e {
        BackupError::NotFound(m) => VolumeError::NotFound(m),
        BackupError::HasDependents { .. } => VolumeError::BadRequest(
            "Invalid backup: Incremental backups exist for this backup.".into(),
        ),
        BackupError::Invalid(m) => VolumeError::BadRequest(format!("Invalid backup: {m}")),
        other => VolumeError::Internal(other.to_string()),
    }
}

impl VolumeState {
    fn backup_engine(&self) -> VolumeResult<Arc<crate::backup::BackupStore>> {
        self.backup_store.clone().ok_or_else(|| {
            VolumeError::BadRequest("Service cinder-backup could not be found.".into())
        })
    }

    /// Backups are made, kept and restored by the controller that holds
    /// the volume (its backup store is its own disk, `DATA/backups`): a
    /// request for another controller's volume is refused, naming the
    /// host, before anything is recorded. The volume's backend otherwise.
    fn backup_here(&self, v: &Volume) -> VolumeResult<Arc<dyn crate::backend::VolumeBackend>> {
        let backend = self.backend_of(v)?;
        if self.backends.iter().any(|b| Arc::ptr_eq(b, &backend)) {
            return Ok(backend);
        }
        Err(VolumeError::BadRequest(format!(
            "Invalid volume: volume {} is stored on host {}; its backups are made and restored by \
             that host's controller only (send the request to it).",
            v.id,
            self.storage_host(v).unwrap_or_default()
        )))
    }

    /// The backup's data must be in this controller's store (see
    /// [`Self::backup_here`]).
    fn backup_data_here(&self, b: &Backup) -> VolumeResult<()> {
        let Some(host) = &b.host else { return Ok(()) };
        if self.backends.iter().any(|x| x.host() == host) {
            return Ok(());
        }
        Err(VolumeError::BadRequest(format!(
            "Invalid backup: backup {} is kept on host {host}; it is restored and deleted by that \
             host's controller only (send the request to it).",
            b.id
        )))
    }

    /// The backup `id` if `caller` may see it; Cinder's 404 otherwise.
    pub fn backup(&self, caller: &Caller, id: &str) -> VolumeResult<Backup> {
        match self.store.get_backup(id)? {
            Some(b) if caller.sees(&b.project_id) => Ok(b),
            _ => Err(VolumeError::NotFound(format!(
                "Backup {id} could not be found."
            ))),
        }
    }

    /// The backups `caller` may list (`project` for one project, `None`
    /// for all, as [`crate::list::ListParams`] decided).
    pub fn backups(&self, project: Option<&str>) -> VolumeResult<Vec<Backup>> {
        Ok(self.store.list_backups(project)?)
    }

    /// Whether a backup has increments on it.
    pub fn backup_has_dependents(&self, id: &str) -> VolumeResult<bool> {
        Ok(!self.store.backup_children(id)?.is_empty())
    }

    /// Start a backup of a volume (202 with it `creating`): `available`,
    /// or `in-use` with `force`.
    pub fn create_backup(&self, caller: &Caller, req: NewBackup) -> VolumeResult<Backup> {
        let engine = self.backup_engine()?;
        let v = self.volume(caller, &req.volume_id)?;
        // Whether the volume is attached, as the recording write saw it.
        let live = std::cell::Cell::new(false);
        let storage = self.storage_host(&v);
        let check = |g: &VolumeGroup| {
            let s = g.volume.status.as_str();
            live.set(s == "in-use");
            match s {
                "available" => Ok(()),
                "in-use" if req.force => super::snapshots::live_possible(g, storage.as_deref()),
                "in-use" => Err(invalid(
                    "Invalid volume: Backing up an in-use volume must use the force flag.",
                )),
                _ => Err(bad_status(&g.volume.id, "available", s)),
            }
        };
        check(&VolumeGroup {
            volume: v.clone(),
            attachments: vec![],
            snapshots: vec![],
            delete: false,
        })
        .map_err(|e| VolumeError::BadRequest(e.to_string()))?;
        let backend = self.backup_here(&v)?;
        if backend.as_backup().is_none() {
            return Err(VolumeError::BadRequest(
                "Invalid volume: the volume's backend cannot be backed up.".into(),
            ));
        }
        let parent = if req.incremental {
            let mut done: Vec<Backup> = self
                .store
                .list_backups(Some(&v.project_id))?
                .into_iter()
                .filter(|b| b.volume_id == v.id && b.status == "available")
                .collect();
            done.sort_by_key(|b| (b.data_timestamp, b.created_at));
            let latest = done.pop().ok_or_else(|| {
                VolumeError::BadRequest(
                    "Invalid backup: No backups available to do an incremental backup.".into(),
                )
            })?;
            Some(latest.id)
        } else {
            None
        };
        let now = now_micros();
        let backup = Backup {
            id: ferrostack_common::ids::new_uuid(),
            project_id: v.project_id.clone(),
            user_id: caller.user_id.clone(),
            volume_id: v.id.clone(),
            parent_id: parent.clone(),
            name: req.name,
            description: req.description,
            status: "creating".into(),
            fail_reason: None,
            size_gib: v.size_gib,
            object_count: 0,
            stored_bytes: 0,
            container: "backups".into(),
            host: Some(backend.host().to_string()),
            availability_zone: self.availability_zone.clone(),
            metadata: req.metadata,
            data_timestamp: now,
            created_at: now,
            updated_at: now,
        };
        let held = resources(&[("backups", 1), ("backup_gigabytes", v.size_gib as i64)]);
        self.quotas
            .reserve(&VOLUME, &v.project_id, &backup.id, &held)
            .map_err(quota_error)?;
        let written = self
            .store
            .create_backup(&backup)
            .map_err(store_error)
            .and_then(|()| {
                self.change(caller, &v.id, |g| {
                    check(g)?;
                    if !live.get() {
                        g.volume.status = "backing-up".into();
                    }
                    Ok(())
                })
            });
        if let Err(e) = written {
            let _ = self.store.delete_backup(&backup.id);
            let _ = self.quotas.release(&VOLUME, &backup.id);
            return Err(e);
        }
        let state = self.me();
        let events = self.events.clone();
        let live = live.get();
        let (bid, vid) = (backup.id.clone(), v.id.clone());
        tokio::spawn(async move {
            let Some(source) = backend.as_backup() else {
                return;
            };
            let r = if live {
                // The backup's own snapshot, taken live (as the engine's
                // own one for a detached volume), deleted after.
                let r = match super::snapshots::live_snapshot(&*backend, &*events, &bid, &vid).await
                {
                    Ok(()) => engine
                        .backup_snapshot(source, &bid, &vid, &bid, parent.as_deref())
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                };
                if let Err(e) = backend.delete_snapshot(&bid).await {
                    tracing::warn!(backup_id = %bid, error = %e, "cannot delete a backup's temporary snapshot");
                }
                r
            } else {
                engine
                    .backup_volume(source, &bid, &vid, parent.as_deref())
                    .await
                    .map_err(|e| e.to_string())
            };
            let Some(state) = state.upgrade() else { return };
            state.settle(&vid, |g| {
                if g.volume.status == "backing-up" {
                    g.volume.status = "available".into();
                }
            });
            let outcome = match r {
                Ok(stats) => {
                    tracing::info!(backup_id = %bid, volume_id = %vid, new_chunks = stats.new_chunks, bytes_read = stats.bytes_read, "backup done");
                    state.set_backup(&bid, |b| {
                        b.status = "available".into();
                        b.object_count = stats.new_chunks;
                        b.stored_bytes = stats.bytes_stored;
                    })
                }
                Err(reason) => {
                    tracing::error!(backup_id = %bid, error = %reason, "backup failed");
                    state.set_backup(&bid, |b| {
                        b.status = "error".into();
                        b.fail_reason = Some(reason.clone());
                    })
                }
            };
            if let Err(e) = outcome {
                tracing::error!(backup_id = %bid, error = %e, "recording a backup's state failed");
            }
        });
        Ok(backup)
    }

    fn set_backup(&self, id: &str, mut f: impl FnMut(&mut Backup)) -> VolumeResult<()> {
        self.store.change_backup(id, &mut |b| {
            f(b);
            b.updated_at = now_micros();
            Ok(())
        })?;
        Ok(())
    }

    /// Delete a backup (`available` or `error`; `force`, admin: any state
    /// but `creating`); refused while increments are on it.
    pub fn delete_backup(&self, caller: &Caller, id: &str, force: bool) -> VolumeResult<()> {
        let engine = self.backup_engine()?;
        let b = self.backup(caller, id)?;
        self.backup_data_here(&b)?;
        if !self.store.backup_children(id)?.is_empty() {
            return Err(VolumeError::BadRequest(
                "Invalid backup: Incremental backups exist for this backup.".into(),
            ));
        }
        let allowed =
            matches!(b.status.as_str(), "available" | "error") || (force && b.status != "creating");
        if !allowed {
            return Err(VolumeError::BadRequest(
                "Invalid backup: Backup status must be available or error".into(),
            ));
        }
        self.set_backup(id, |b| b.status = "deleting".into())?;
        self.spawn_backup_delete(engine, id.to_string());
        Ok(())
    }

    fn spawn_backup_delete(&self, engine: Arc<crate::backup::BackupStore>, id: String) {
        let state = self.me();
        tokio::spawn(async move {
            let r = engine.delete(&id).await;
            let Some(state) = state.upgrade() else { return };
            let done = r.map_err(backup_error).and_then(|()| {
                state.store.delete_backup(&id).map_err(store_error)?;
                state.quotas.release(&VOLUME, &id)?;
                Ok(())
            });
            match done {
                Ok(()) => tracing::info!(backup_id = %id, "backup deleted"),
                Err(e) => {
                    tracing::error!(backup_id = %id, error = %e, "backup delete failed");
                    let reason = e.to_string();
                    let _ = state.set_backup(&id, |b| {
                        b.status = "error_deleting".into();
                        b.fail_reason = Some(reason.clone());
                    });
                }
            }
        });
    }

    /// Restore backup `id` into `volume_id`, or into a new volume of the
    /// backup's size named `name`; the backup and the target volume.
    pub async fn restore_backup(
        &self,
        caller: &Caller,
        id: &str,
        volume_id: Option<String>,
        name: Option<String>,
    ) -> VolumeResult<(Backup, Volume)> {
        let engine = self.backup_engine()?;
        let b = self.backup(caller, id)?;
        self.backup_data_here(&b)?;
        if b.status != "available" {
            return Err(VolumeError::BadRequest(format!(
                "Invalid backup: Backup status must be available but is {}.",
                b.status
            )));
        }
        let (target, fresh) = match volume_id {
            Some(vid) => {
                let v = self.volume(caller, &vid)?;
                self.backup_here(&v)?;
                if v.size_gib < b.size_gib {
                    return Err(VolumeError::BadRequest(format!(
                        "Invalid volume: volume size {} is too small to restore backup of size {}.",
                        v.size_gib, b.size_gib
                    )));
                }
                (v, false)
            }
            None => {
                let req = NewVolume {
                    size_gib: Some(b.size_gib),
                    name: Some(name.unwrap_or_else(|| format!("restore_backup_{id}"))),
                    ready_status: Some("restoring-backup"),
                    ..NewVolume::default()
                };
                (self.create_volume(caller, req).await?, true)
            }
        };
        let restoring = self.store.change_backup(id, &mut |b| {
            if b.status != "available" {
                return Err(ferrostack_store::StoreError::Conflict(format!(
                    "Invalid backup: Backup status must be available but is {}.",
                    b.status
                )));
            }
            b.status = "restoring".into();
            b.updated_at = now_micros();
            Ok(())
        });
        if let Err(e) = restoring {
            if fresh {
                let _ = self.delete_volume(caller, &target.id, false, true);
            }
            return Err(VolumeError::BadRequest(e.to_string()));
        }
        if !fresh {
            let r = self.change(caller, &target.id, |g| {
                if g.volume.status != "available" {
                    return Err(bad_status(&g.volume.id, "available", &g.volume.status));
                }
                g.volume.status = "restoring-backup".into();
                Ok(())
            });
            if let Err(e) = r {
                let _ = self.set_backup(id, |b| b.status = "available".into());
                return Err(e);
            }
        }
        let state = self.me();
        let (bid, vid, owner) = (id.to_string(), target.id.clone(), caller.clone());
        tokio::spawn(async move {
            let Some(state) = state.upgrade() else { return };
            let r = state.restore_task(&engine, &owner, &bid, &vid, fresh).await;
            let _ = state.set_backup(&bid, |b| b.status = "available".into());
            match r {
                Ok(()) => {
                    tracing::info!(backup_id = %bid, volume_id = %vid, "backup restored");
                    state.settle(&vid, |g| g.volume.status = "available".into());
                }
                Err(e) => {
                    tracing::error!(backup_id = %bid, volume_id = %vid, error = %e, "restore failed");
                    state.settle(&vid, |g| g.volume.status = "error_restoring".into());
                }
            }
        });
        Ok((b, target))
    }

    async fn restore_task(
        &self,
        engine: &crate::backup::BackupStore,
        owner: &Caller,
        backup_id: &str,
        volume_id: &str,
        fresh: bool,
    ) -> VolumeResult<()> {
        if fresh {
            // Made blank by the backend, then `restoring-backup` (never
            // `available` in between).
            let deadline = tokio::time::Instant::now() + NEW_VOLUME_DEADLINE;
            loop {
                let v = self.volume(owner, volume_id)?;
                match v.status.as_str() {
                    "restoring-backup" => break,
                    "creating" if tokio::time::Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(50)).await
                    }
                    other => {
                        return Err(VolumeError::BadRequest(format!(
                            "Invalid volume: the new volume {volume_id} is {other}."
                        )))
                    }
                }
            }
        }
        let v = self.volume(owner, volume_id)?;
        let backend = self.backend_of(&v)?;
        let target = backend.as_backup().ok_or_else(|| {
            VolumeError::BadRequest("Invalid volume: the volume's backend cannot restore.".into())
        })?;
        engine
            .restore(target, backup_id, volume_id)
            .await
            .map(drop)
            .map_err(backup_error)
    }

    /// Settle what backup tasks were doing when the process stopped: a
    /// backup being made is `error` (its partial data removed, its volume
    /// `available` again), one being deleted is deleted again, one being
    /// restored from is `available` and its target `error_restoring`.
    ///
    /// Only for volumes on this controller's backends ([`Self::serves`]):
    /// the tasks ran here, on this disk, and a controller sharing the
    /// database may be running its own right now. A backup whose volume is
    /// gone is only deleted again (deleting twice is harmless).
    pub fn recover_backups(&self) -> VolumeResult<()> {
        let Some(engine) = self.backup_store.clone() else {
            return Ok(());
        };
        for b in self.store.list_backups(None)? {
            let volume = self.store.get_volume(&b.volume_id)?;
            let here = volume.as_ref().is_some_and(|v| self.serves(v));
            let orphan_delete = volume.is_none() && b.status == "deleting";
            if !(here || orphan_delete) {
                continue;
            }
            match b.status.as_str() {
                "creating" => {
                    tracing::warn!(backup_id = %b.id, "a backup was interrupted by a restart");
                    self.set_backup(&b.id, |x| {
                        x.status = "error".into();
                        x.fail_reason = Some("interrupted by a restart".into());
                    })?;
                    let (engine, id) = (engine.clone(), b.id.clone());
                    let backend = self
                        .store
                        .get_volume(&b.volume_id)?
                        .and_then(|v| self.backend_of(&v).ok());
                    tokio::spawn(async move {
                        if let Some(backend) = backend {
                            let _ = backend.delete_snapshot(&id).await;
                        }
                        let _ = engine.delete(&id).await;
                    });
                }
                "deleting" => self.spawn_backup_delete(engine.clone(), b.id.clone()),
                "restoring" => self.set_backup(&b.id, |x| x.status = "available".into())?,
                _ => {}
            }
        }
        for v in self.store.list_volumes(None)? {
            if !self.serves(&v) {
                continue;
            }
            let to = match v.status.as_str() {
                "backing-up" => "available",
                "restoring-backup" => "error_restoring",
                _ => continue,
            };
            tracing::warn!(volume_id = %v.id, status = %v.status, "a volume's backup task was interrupted by a restart");
            self.settle(&v.id, |g| g.volume.status = to.into());
        }
        Ok(())
    }
}

impl VolumeState {
    /// `os-reset_status` of a backup (admin): `available` or `error`.
    pub fn reset_backup_status(&self, caller: &Caller, id: &str, status: &str) -> VolumeResult<()> {
        self.backup(caller, id)?;
        self.set_backup(id, |b| b.status = status.to_string())
    }
}
