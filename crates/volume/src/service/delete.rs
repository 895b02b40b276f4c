//! Deleting, extending and retyping volumes, and the admin's state resets.
//!
//! Cinder's delete rules: not attached, not in a transient state (unless
//! an admin forces it), no snapshots unless `cascade`. The row goes to
//! `deleting` in the transaction that checks those rules; the backend
//! removes the data in a task, and the row and its quota go after it.
//! A backend failure leaves `error_deleting`, and the quota held.

use super::{bad_status, invalid, quota_error, resources, Caller};
use crate::error::{VolumeError, VolumeResult};
use crate::VolumeState;
use ferrostack_quota::VOLUME;
use ferrostack_store::volume::Volume;

const DELETE_RULE: &str = "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.";

const DELETABLE: &[&str] = &[
    "available",
    "error",
    "error_restoring",
    "error_extending",
    "error_managing",
    "error_deleting",
];

impl VolumeState {
    /// Delete a volume (and with `cascade` its snapshots); `force` (admin)
    /// accepts any state but attached.
    pub fn delete_volume(
        &self,
        caller: &Caller,
        id: &str,
        cascade: bool,
        force: bool,
    ) -> VolumeResult<()> {
        // The data's controller must be reachable before the volume goes
        // `deleting` (a controller that is down: 503, nothing changed).
        let backend = match self.volume(caller, id)? {
            v if v.host.is_some() => Some(self.backend_of(&v)?),
            _ => None,
        };
        let group = self.change(caller, id, |g| {
            let status_ok = DELETABLE.contains(&g.volume.status.as_str())
                || (force && g.volume.status != "in-use");
            if !g.attachments.is_empty() || !status_ok {
                return Err(invalid(DELETE_RULE));
            }
            if !g.snapshots.is_empty() {
                if !cascade {
                    return Err(invalid(DELETE_RULE));
                }
                if g.snapshots.iter().any(|s| s.status != "available" && s.status != "error") {
                    return Err(invalid(
                        "Invalid volume: Snapshot of the volume must be available or error to be deleted in cascade.",
                    ));
                }
                for s in &mut g.snapshots {
                    s.status = "deleting".into();
                }
            }
            g.volume.status = "deleting".into();
            Ok(())
        })?;
        let created = group.volume.host.is_some();
        let snapshots: Vec<String> = group.snapshots.iter().map(|s| s.id.clone()).collect();
        let state = self.me();
        let id = id.to_string();
        tokio::spawn(async move {
            let r = async {
                match (&backend, created) {
                    (Some(b), true) => {
                        for s in &snapshots {
                            b.delete_snapshot(s).await?;
                        }
                        b.delete(&id).await
                    }
                    (None, true) => Err(crate::backend::BackendError::Failed(
                        "the volume's backend is not served".into(),
                    )),
                    _ => Ok(()),
                }
            }
            .await;
            let Some(state) = state.upgrade() else { return };
            match r {
                Ok(()) => {
                    state.settle(&id, |g| g.delete = true);
                    for consumer in snapshots.iter().chain([&id]) {
                        if let Err(e) = state.quotas.release(&VOLUME, consumer) {
                            tracing::error!(consumer, error = %e, "releasing a deleted volume's quota failed");
                        }
                    }
                    tracing::info!(volume_id = %id, "volume deleted");
                }
                Err(e) => {
                    tracing::error!(volume_id = %id, error = %e, "volume deletion failed on the backend");
                    state.settle(&id, |g| {
                        g.volume.status = "error_deleting".into();
                        g.volume.error = Some(e.to_string());
                    });
                }
            }
        });
        Ok(())
    }

    /// `os-extend`: grow a volume. Detached (`available`): the backend
    /// grows it in a task (`extending` meanwhile). Attached (`in-use`,
    /// allowed from 3.42): the new size is recorded at once and compute
    /// is told through [`crate::hooks::AttachedVolumeEvents`].
    pub fn extend_volume(
        &self,
        caller: &Caller,
        id: &str,
        new_size: u64,
        attached_ok: bool,
    ) -> VolumeResult<()> {
        let v = self.volume(caller, id)?;
        if new_size <= v.size_gib {
            return Err(VolumeError::BadRequest(format!(
                "Invalid input received: New size for extend must be greater than current size. (current: {}, extended: {new_size}).",
                v.size_gib
            )));
        }
        // Reachable before the quota and the state move (module doc).
        let backend = self.backend_of(&v)?;
        let delta = (new_size - v.size_gib) as i64;
        let per_type = format!("gigabytes_{}", self.type_name(&v.volume_type_id)?);
        self.quotas
            .reserve(
                &VOLUME,
                &v.project_id,
                id,
                &resources(&[("gigabytes", delta), (&per_type, delta)]),
            )
            .map_err(quota_error)?;
        let old = v.size_gib;
        let storage_host = self.storage_host(&v);
        let changed = self.change(caller, id, |g| {
            let s = g.volume.status.as_str();
            let attached = s == "in-use" && attached_ok;
            // A guest on another host reads the volume over NBD, and an
            // NBD client cannot grow: refuse rather than grow the file
            // under a disk that keeps its old size.
            if attached && super::exports::exported(g, storage_host.as_deref()) {
                return Err(invalid(format!(
                    "Invalid volume: volume {id} is attached on a host other than its storage \
                     host (through an export); detach it to extend it."
                )));
            }
            if s != "available" && !attached {
                let wanted = if attached_ok {
                    "available or in-use"
                } else {
                    "available"
                };
                return Err(bad_status(id, wanted, s));
            }
            if g.volume.size_gib != old {
                return Err(invalid(
                    "Invalid volume: the volume's size changed meanwhile.",
                ));
            }
            if attached {
                g.volume.size_gib = new_size;
            } else {
                g.volume.status = "extending".into();
            }
            Ok(())
        });
        let group = match changed {
            Ok(g) => g,
            Err(e) => {
                self.give_back(id, &v.project_id, &per_type, delta);
                return Err(e);
            }
        };
        if group.volume.status == "in-use" {
            self.events.extended(id, new_size);
            return Ok(());
        }
        let state = self.me();
        let id = id.to_string();
        let project = v.project_id.clone();
        tokio::spawn(async move {
            let r = backend.extend(&id, new_size).await;
            let Some(state) = state.upgrade() else { return };
            match r {
                Ok(()) => state.settle(&id, |g| {
                    g.volume.size_gib = new_size;
                    g.volume.status = "available".into();
                }),
                Err(e) => {
                    tracing::error!(volume_id = %id, error = %e, "extending a volume failed on the backend");
                    state.give_back(&id, &project, &per_type, delta);
                    state.settle(&id, |g| {
                        g.volume.status = "error_extending".into();
                        g.volume.error = Some(e.to_string());
                    });
                }
            }
        });
        Ok(())
    }

    /// Return `gigabytes` taken for a change that did not happen (a
    /// negative amount under the same consumer).
    fn give_back(&self, consumer: &str, project_id: &str, per_type: &str, gigabytes: i64) {
        let r = self.quotas.reserve(
            &VOLUME,
            project_id,
            consumer,
            &resources(&[("gigabytes", -gigabytes), (per_type, -gigabytes)]),
        );
        if let Err(e) = r {
            tracing::error!(consumer, error = %e, "giving quota back failed");
        }
    }

    /// `os-retype`: another type of the same backend (the data stays);
    /// the volume's (not its snapshots') per-type quota moves to the new
    /// type, checked against its limits.
    pub fn retype_volume(&self, caller: &Caller, id: &str, new_type: &str) -> VolumeResult<Volume> {
        let t = self.volume_type(caller, new_type)?;
        let target = t.extra_specs.get("volume_backend_name").cloned();
        let v = self.volume(caller, id)?;
        if v.volume_type_id == t.id {
            return Ok(v);
        }
        let old = self.type_name(&v.volume_type_id)?;
        let size = v.size_gib as i64;
        let moved = |sign: i64| {
            resources(&[
                (&format!("volumes_{old}"), -sign),
                (&format!("gigabytes_{old}"), -sign * size),
                (&format!("volumes_{}", t.name), sign),
                (&format!("gigabytes_{}", t.name), sign * size),
            ])
        };
        self.quotas
            .reserve(&VOLUME, &v.project_id, id, &moved(1))
            .map_err(quota_error)?;
        let old_type = v.volume_type_id.clone();
        let changed = self.change(caller, id, |g| {
            if g.volume.volume_type_id != old_type {
                return Err(invalid(
                    "Invalid volume: the volume's type changed meanwhile.",
                ));
            }
            let s = g.volume.status.as_str();
            if s != "available" && s != "in-use" {
                return Err(bad_status(id, "available or in-use", s));
            }
            if target
                .as_deref()
                .is_some_and(|b| b != g.volume.backend_name)
            {
                return Err(invalid(
                    "Invalid volume: retype to another backend (a migration) is not supported yet.",
                ));
            }
            g.volume.volume_type_id = t.id.clone();
            Ok(())
        });
        match changed {
            Ok(group) => Ok(group.volume),
            Err(e) => {
                if let Err(q) = self.quotas.reserve(&VOLUME, &v.project_id, id, &moved(-1)) {
                    tracing::error!(volume_id = id, error = %q, "moving per-type quota back failed");
                }
                Err(e)
            }
        }
    }

    /// The name of type `type_id` (per-type quota names use it).
    pub(crate) fn type_name(&self, type_id: &str) -> VolumeResult<String> {
        Ok(self
            .store
            .get_type(type_id)?
            .map(|t| t.name)
            .unwrap_or_else(|| type_id.to_string()))
    }

    /// `os-reset_status` (admin): set the status (and attach status) as given.
    pub fn reset_status(&self, caller: &Caller, id: &str, status: &str) -> VolumeResult<()> {
        self.change(caller, id, |g| {
            g.volume.status = status.to_string();
            Ok(())
        })?;
        Ok(())
    }
}
