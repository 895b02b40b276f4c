//! Snapshots: counted in `snapshots` and `gigabytes`, deleted by the
//! backend before their row goes.
//!
//! A detached volume is frozen by the backend in one call. An attached
//! one (`in-use`, only with `force`, as Cinder) is a live snapshot, off
//! the request path while the snapshot is `creating`:
//!
//! ```text
//!  backend.begin_live_snapshot   the top is frozen; the guest still
//!                                writes the frozen part
//!  events.top_frozen (compute)   every guest's disk moved onto the new
//!                                top, as its host reported (bounded)
//!  backend.finish_live_snapshot  the snapshot exists -> available
//! ```
//!
//! A failure or a timeout leaves the snapshot `error`; the volume's data
//! is whole either way (the frozen part and the new top are one chain).

use super::{bad_status, invalid, quota_error, resources, Caller};
use crate::error::{VolumeError, VolumeResult};
use crate::VolumeState;
use ferrostack_quota::VOLUME;
use ferrostack_store::volume::{Snapshot, VolumeGroup};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How long a live snapshot waits for the guests to switch their disk.
const SWITCH_DEADLINE: Duration = Duration::from_secs(60);

/// A live snapshot `snapshot_id` of attached volume `volume_id`: the
/// backend freezes the top, compute switches the guests, the backend
/// makes the snapshot exist. The error is for operators.
pub(crate) async fn live_snapshot(
    backend: &dyn crate::backend::VolumeBackend,
    events: &dyn crate::hooks::AttachedVolumeEvents,
    snapshot_id: &str,
    volume_id: &str,
) -> Result<(), String> {
    backend
        .begin_live_snapshot(snapshot_id, volume_id)
        .await
        .map_err(|e| e.to_string())?;
    events
        .top_frozen(volume_id, SWITCH_DEADLINE)
        .await
        .map_err(|e| format!("the guests did not switch to the new top: {e}"))?;
    backend
        .finish_live_snapshot(snapshot_id)
        .await
        .map_err(|e| e.to_string())
}

/// A live snapshot switches the process that writes the volume's file
/// onto its new top: the guest's QEMU on the storage host. A volume
/// attached through an export (on another host) is written by the storage
/// host's export daemon instead, which is not switched yet: refused, so a
/// frozen layer is never written.
pub(crate) fn live_possible(
    g: &VolumeGroup,
    storage_host: Option<&str>,
) -> Result<(), super::Refusal> {
    if super::exports::exported(g, storage_host) {
        return Err(invalid(format!(
            "Invalid volume: volume {} is attached on a host other than its storage host; \
             a snapshot or backup of it while attached is not supported yet (detach it first).",
            g.volume.id
        )));
    }
    Ok(())
}

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

    /// Take a snapshot of `volume_id` (`available`, or `in-use` with
    /// `force`: a live snapshot).
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
        // Reachable before anything is recorded (a controller that is
        // down: 503, nothing half-done).
        let backend = self.backend_of(&v)?;
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
            progress: None,
            created_at: now,
            updated_at: now,
        };
        // Whether the volume is attached, as the write that records the
        // snapshot saw it (the last call): that decides the protocol.
        let live = std::cell::Cell::new(false);
        let storage = self.storage_host(&v);
        let check = |g: &VolumeGroup| {
            let s = g.volume.status.as_str();
            live.set(s == "in-use");
            if s == "in-use" && force {
                return live_possible(g, storage.as_deref());
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
        let state = self.me();
        let events: Arc<dyn crate::hooks::AttachedVolumeEvents> = self.events.clone();
        let live = live.get();
        let (sid, vid) = (snapshot.id.clone(), volume_id.to_string());
        tokio::spawn(async move {
            let r = if live {
                live_snapshot(&*backend, &*events, &sid, &vid).await
            } else {
                backend
                    .create_snapshot(&sid, &vid)
                    .await
                    .map_err(|e| e.to_string())
            };
            let Some(state) = state.upgrade() else { return };
            match r {
                Ok(()) => state.settle(&vid, |g| set_snapshot(g, &sid, "available", None)),
                Err(m) => {
                    tracing::error!(snapshot_id = %sid, live, error = %m, "snapshot creation failed");
                    state.settle(&vid, |g| set_snapshot(g, &sid, "error", Some(&m)));
                }
            }
        });
        Ok(snapshot)
    }

    /// Settle snapshots a restart interrupted: one still `creating` is
    /// `error` (its task is gone). A live one may have frozen the volume's
    /// top already: harmless, the volume's chain keeps the layer and the
    /// guest's switch is still in the server's spec.
    ///
    /// Only snapshots of volumes on this controller's backends
    /// ([`Self::serves`]): another controller may be taking its own now.
    pub fn recover_snapshots(&self) -> VolumeResult<()> {
        for s in self.store.list_snapshots(None)? {
            if s.status == "creating" {
                let volume = self.store.get_volume(&s.volume_id)?;
                if !volume.as_ref().is_some_and(|v| self.serves(v)) {
                    continue;
                }
                tracing::warn!(snapshot_id = %s.id, volume_id = %s.volume_id, "a snapshot was interrupted by a restart");
                self.settle(&s.volume_id, |g| {
                    set_snapshot(g, &s.id, "error", Some("interrupted by a restart"))
                });
            }
        }
        Ok(())
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
        let backend = match self.store.get_volume(&s.volume_id)? {
            Some(v) => Some(self.backend_of(&v)?),
            None => None,
        };
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

/// The statuses `os-update_snapshot_status` may move a snapshot to from
/// its current one (Cinder's table; a creating snapshot finishes or
/// fails, a deleting one fails).
fn client_may_set(from: &str, to: &str) -> bool {
    match from {
        "creating" => ["creating", "available", "error"].contains(&to),
        "deleting" => ["deleting", "error_deleting"].contains(&to),
        _ => false,
    }
}

/// Statuses an admin may reset a snapshot to.
const RESETTABLE: &[&str] = &[
    "available",
    "error",
    "creating",
    "deleting",
    "error_deleting",
];

impl VolumeState {
    /// `os-reset_status` (admin): the status only, nothing on the
    /// backend, as Cinder.
    pub fn reset_snapshot_status(
        &self,
        caller: &Caller,
        id: &str,
        status: &str,
    ) -> VolumeResult<()> {
        if !caller.is_admin {
            return Err(VolumeError::Forbidden(
                "Policy doesn't allow volume_extension:snapshot_admin_actions:reset_status to be performed.".into(),
            ));
        }
        if !RESETTABLE.contains(&status) {
            return Err(VolumeError::BadRequest(format!(
                "Invalid input received: {status:?} is not a snapshot status ({}).",
                RESETTABLE.join(", ")
            )));
        }
        let s = self.snapshot(caller, id)?;
        self.change(caller, &s.volume_id, |g| {
            set_snapshot(g, id, status, None);
            Ok(())
        })?;
        tracing::info!(
            snapshot_id = id,
            status,
            "snapshot status reset by an admin"
        );
        Ok(())
    }

    /// `os-update_snapshot_status`: the owner reports a snapshot it
    /// drives finishing or failing, and its progress.
    pub fn update_snapshot_status(
        &self,
        caller: &Caller,
        id: &str,
        status: &str,
        progress: Option<String>,
    ) -> VolumeResult<()> {
        let s = self.snapshot(caller, id)?;
        self.change(caller, &s.volume_id, |g| {
            let s = g
                .snapshots
                .iter_mut()
                .find(|s| s.id == id)
                .ok_or_else(|| invalid(format!("Snapshot {id} could not be found.")))?;
            if !client_may_set(&s.status, status) {
                return Err(invalid(format!(
                    "Invalid input received: Provided snapshot status {status} not allowed for snapshot with status {}.",
                    s.status
                )));
            }
            s.status = status.to_string();
            if progress.is_some() {
                s.progress = progress.clone();
            }
            s.updated_at = ferrostack_common::time::now_micros();
            Ok(())
        })?;
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
