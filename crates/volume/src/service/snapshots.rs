//! Snapshots: taken of a detached volume, counted in `snapshots` and
//! `gigabytes`, deleted by the backend before their row goes.

use super::{bad_status, invalid, quota_error, resources, Caller};
use crate::error::{VolumeError, VolumeResult};
use crate::VolumeState;
use ferrostack_quota::VOLUME;
use ferrostack_store::volume::{Snapshot, VolumeGroup};
use std::collections::BTreeMap;

impl VolumeState {
    /// The snapshot `id` if `caller` may see it.
    pub fn snapshot(&self, caller: &Caller, id: &str) -> VolumeResult<Snapshot> {
        match self.store.get_snapshot(id)? {
            Some(s) if caller.sees(&s.project_id) => Ok(s),
            _ => Err(VolumeError::NotFound(format!(
                "Snapshot {id} could not be found."
            ))),
        }
    }

    /// Take a snapshot of `volume_id`.
    pub fn create_snapshot(
        &self,
        caller: &Caller,
        volume_id: &str,
        name: Option<String>,
        description: Option<String>,
        metadata: BTreeMap<String, String>,
        force: bool,
    ) -> VolumeResult<Snapshot> {
        let v = self.volume(caller, volume_id)?;
        let now = ferrostack_common::time::now_micros();
        let snapshot = Snapshot {
            id: ferrostack_common::ids::new_uuid(),
            volume_id: volume_id.to_string(),
            project_id: v.project_id.clone(),
            user_id: caller.user_id.clone(),
            name,
            description,
            size_gib: v.size_gib,
            status: "creating".into(),
            metadata,
            error: None,
            created_at: now,
            updated_at: now,
        };
        let check = |g: &VolumeGroup| {
            let s = g.volume.status.as_str();
            if s == "in-use" && force {
                return Err(invalid(
                    "Invalid volume: Snapshots of attached volumes (force=true) are not supported by the local backend yet.",
                ));
            }
            if s != "available" {
                return Err(bad_status(volume_id, "available", s));
            }
            Ok(())
        };
        // Refuse before taking quota when the state is already wrong.
        check(&VolumeGroup {
            volume: v.clone(),
            attachments: vec![],
            snapshots: vec![],
            delete: false,
        })
        .map_err(|e| VolumeError::BadRequest(e.to_string()))?;
        let t = self.type_name(&v.volume_type_id)?;
        let held = resources(&[
            ("snapshots", 1),
            ("gigabytes", v.size_gib as i64),
            (&format!("snapshots_{t}"), 1),
            (&format!("gigabytes_{t}"), v.size_gib as i64),
        ]);
        self.quotas
            .reserve(&VOLUME, &v.project_id, &snapshot.id, &held)
            .map_err(quota_error)?;
        let r = self.change(caller, volume_id, |g| {
            check(g)?;
            g.snapshots.push(snapshot.clone());
            Ok(())
        });
        if let Err(e) = r {
            let _ = self.quotas.release(&VOLUME, &snapshot.id);
            return Err(e);
        }
        let Some(backend) = self.backend(&v.backend_name) else {
            self.settle(volume_id, |g| {
                set_snapshot(g, &snapshot.id, "error", Some("backend not served"))
            });
            return Ok(snapshot);
        };
        let state = self.me();
        let (sid, vid) = (snapshot.id.clone(), volume_id.to_string());
        tokio::spawn(async move {
            let r = backend.create_snapshot(&sid, &vid).await;
            let Some(state) = state.upgrade() else { return };
            match r {
                Ok(()) => state.settle(&vid, |g| set_snapshot(g, &sid, "available", None)),
                Err(e) => {
                    tracing::error!(snapshot_id = %sid, error = %e, "snapshot creation failed on the backend");
                    let m = e.to_string();
                    state.settle(&vid, |g| set_snapshot(g, &sid, "error", Some(&m)));
                }
            }
        });
        Ok(snapshot)
    }

    /// Change a snapshot's name, description or metadata through `f`.
    pub fn update_snapshot(
        &self,
        caller: &Caller,
        id: &str,
        mut f: impl FnMut(&mut Snapshot),
    ) -> VolumeResult<Snapshot> {
        let s = self.snapshot(caller, id)?;
        let group = self.change(caller, &s.volume_id, |g| {
            let s = g
                .snapshots
                .iter_mut()
                .find(|s| s.id == id)
                .ok_or_else(|| invalid(format!("Snapshot {id} could not be found.")))?;
            f(s);
            s.updated_at = ferrostack_common::time::now_micros();
            Ok(())
        })?;
        group
            .snapshots
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| VolumeError::NotFound(format!("Snapshot {id} could not be found.")))
    }

    /// Delete a snapshot (`available` or `error`); `force` (admin) any state.
    pub fn delete_snapshot(&self, caller: &Caller, id: &str, force: bool) -> VolumeResult<()> {
        let s = self.snapshot(caller, id)?;
        self.change(caller, &s.volume_id, |g| {
            let s = g
                .snapshots
                .iter_mut()
                .find(|s| s.id == id)
                .ok_or_else(|| invalid(format!("Snapshot {id} could not be found.")))?;
            if !force && !["available", "error", "error_deleting"].contains(&s.status.as_str()) {
                return Err(invalid(format!(
                    "Invalid snapshot: Volume Snapshot status must be available or error, but current status is: {}.",
                    s.status
                )));
            }
            s.status = "deleting".into();
            Ok(())
        })?;
        let backend = self
            .store
            .get_volume(&s.volume_id)?
            .and_then(|v| self.backend(&v.backend_name));
        let state = self.me();
        let (sid, vid) = (id.to_string(), s.volume_id.clone());
        tokio::spawn(async move {
            let r = match &backend {
                Some(b) => b.delete_snapshot(&sid).await,
                None => Ok(()),
            };
            let Some(state) = state.upgrade() else { return };
            match r {
                Ok(()) => {
                    state.settle(&vid, |g| g.snapshots.retain(|s| s.id != sid));
                    if let Err(e) = state.quotas.release(&VOLUME, &sid) {
                        tracing::error!(snapshot_id = %sid, error = %e, "releasing a snapshot's quota failed");
                    }
                }
                Err(e) => {
                    let m = e.to_string();
                    state.settle(&vid, |g| set_snapshot(g, &sid, "error_deleting", Some(&m)));
                }
            }
        });
        Ok(())
    }
}

fn set_snapshot(g: &mut VolumeGroup, id: &str, status: &str, error: Option<&str>) {
    if let Some(s) = g.snapshots.iter_mut().find(|s| s.id == id) {
        s.status = status.to_string();
        s.error = error.map(str::to_string);
        s.updated_at = ferrostack_common::time::now_micros();
    }
}
