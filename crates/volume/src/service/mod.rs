//! The volume service's own layer: what the HTTP handlers and compute (in
//! the same process, as compute calls `NetworkState::create_port`) both
//! call. Handlers parse and render; everything that decides (visibility,
//! states, quota, which backend) is here, so compute gets the same rules.
//!
//! Every write follows one order, so a failure leaves nothing half-done:
//! check what can be checked, reserve quota under the new object's id,
//! write the row (a refusal inside the write releases the quota), and only
//! then call the backend, in a spawned task that moves the row to its
//! final state (`available`, or `error` with the backend's words kept for
//! admins). A create answers 202 as soon as the row is committed.
//!
//! The volume states, as Cinder has them:
//!
//! ```text
//!  creating --> available <--> reserved --> attaching --> in-use
//!     |            |  ^  \______________________^            |
//!     v            v  |                               detaching
//!   error      extending, deleting      (last attachment gone -> available)
//! ```

mod attach;
mod backups;
mod create;
mod delete;
mod exports;
pub mod qos;
mod snapshots;
mod transfers;

pub use attach::VolumeInfo;
pub use backups::NewBackup;
pub use create::NewVolume;
pub use exports::ExportWait;

use crate::backend::VolumeBackend;
use crate::error::{VolumeError, VolumeResult};
use crate::VolumeState;
use ferrostack_policy::AuthContext;
use ferrostack_quota::{QuotaError, ResourceMap};
use ferrostack_store::volume::{Refusal, Volume, VolumeConflict, VolumeGroup, VolumeType};
use ferrostack_store::StoreError;
use http::StatusCode;
use std::sync::Arc;

/// Who asks: their project, user and whether they are a cloud admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token's project.
    pub project_id: String,
    /// The user.
    pub user_id: String,
    /// Holds the `admin` role.
    pub is_admin: bool,
}

impl Caller {
    /// The caller of an HTTP request.
    pub fn of(auth: &AuthContext) -> Caller {
        Caller {
            project_id: auth.project_id().unwrap_or_default().to_string(),
            user_id: auth.user_id.clone(),
            is_admin: auth.is_admin(),
        }
    }

    /// May see and change objects of `project_id` (Cinder: the owner, or
    /// an admin).
    pub fn sees(&self, project_id: &str) -> bool {
        self.is_admin || self.project_id == project_id
    }
}

/// A state rule a change breaks: the 400 to answer, carried out of a
/// store transaction typed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Invalid(pub String);

pub(crate) fn invalid(message: impl Into<String>) -> Refusal {
    Box::new(Invalid(message.into()))
}

/// A missing sub-object (a metadata key...): the 404 to answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Missing(pub String);

pub(crate) fn invalid_not_found(message: impl Into<String>) -> Refusal {
    Box::new(Missing(message.into()))
}

impl From<Invalid> for VolumeError {
    fn from(e: Invalid) -> Self {
        VolumeError::BadRequest(e.0)
    }
}

/// A store error, with refusals turned back into their 400s.
pub(crate) fn store_error(e: StoreError) -> VolumeError {
    if let StoreError::Refused(inner) = &e {
        if let Some(i) = inner.downcast_ref::<Invalid>() {
            return VolumeError::BadRequest(i.0.clone());
        }
        if let Some(m) = inner.downcast_ref::<Missing>() {
            return VolumeError::NotFound(m.0.clone());
        }
        if let Some(c) = inner.downcast_ref::<VolumeConflict>() {
            return VolumeError::BadRequest(format!("Invalid input received: {c}"));
        }
    }
    if let StoreError::Conflict(m) = &e {
        return VolumeError::Conflict(m.clone());
    }
    VolumeError::from(e)
}

/// Cinder's words for a refused reservation (`VolumeSizeExceedsAvailableQuota`,
/// `VolumeLimitExceeded`, `SnapshotLimitExceeded`), all 413.
pub(crate) fn quota_error(e: QuotaError) -> VolumeError {
    let QuotaError::OverQuota(overages) = e else {
        return e.into();
    };
    let gigabytes = |r: &str| r == "gigabytes" || r.starts_with("gigabytes_");
    let message = match overages
        .iter()
        .find(|o| gigabytes(&o.resource))
        .or(overages.first())
    {
        Some(o) if gigabytes(&o.resource) => format!(
            "Requested volume or snapshot exceeds allowed {} quota. Requested {}G, quota is {}G and {}G has been consumed.",
            o.resource, o.requested, o.limit, o.in_use
        ),
        Some(o) => {
            let what = o.resource.split('_').next().unwrap_or(&o.resource);
            format!(
                "Maximum number of {what} allowed ({}) exceeded for quota '{}'.",
                o.limit, o.resource
            )
        }
        None => "Quota exceeded.".to_string(),
    };
    VolumeError::Status(StatusCode::PAYLOAD_TOO_LARGE, message)
}

pub(crate) fn resources(pairs: &[(&str, i64)]) -> ResourceMap {
    pairs.iter().map(|(k, v)| ((*k).to_string(), *v)).collect()
}

impl VolumeState {
    /// The volume `id` if `caller` may see it; Cinder's 404 otherwise.
    pub fn volume(&self, caller: &Caller, id: &str) -> VolumeResult<Volume> {
        match self.store.get_volume(id)? {
            Some(v) if caller.sees(&v.project_id) => Ok(v),
            _ => Err(VolumeError::NotFound(format!(
                "Volume {id} could not be found."
            ))),
        }
    }

    /// Change a volume the caller may see, in one store transaction.
    pub(crate) fn change(
        &self,
        caller: &Caller,
        id: &str,
        mut f: impl FnMut(&mut VolumeGroup) -> Result<(), Refusal>,
    ) -> VolumeResult<VolumeGroup> {
        let mut hidden = false;
        let group = self
            .store
            .change_volume(id, &mut |g| {
                if !caller.sees(&g.volume.project_id) {
                    hidden = true;
                    return Err(invalid("hidden"));
                }
                f(g)
            })
            .map_err(|e| {
                if hidden {
                    VolumeError::NotFound(format!("Volume {id} could not be found."))
                } else {
                    store_error(e)
                }
            })?;
        group.ok_or_else(|| VolumeError::NotFound(format!("Volume {id} could not be found.")))
    }

    /// A change made by the service itself (a backend task finishing):
    /// absent volumes are ignored, failures logged.
    pub(crate) fn settle(&self, id: &str, mut f: impl FnMut(&mut VolumeGroup)) {
        let r = self.store.change_volume(id, &mut |g| {
            f(g);
            Ok(())
        });
        if let Err(e) = r {
            tracing::error!(volume_id = id, error = %ferrostack_common::error::error_chain(&e), "recording a volume's new state failed");
        }
    }

    /// The backend that holds volume `v`'s data: one of this controller's
    /// when the volume's host is, else the controller's registered under
    /// that host ([`crate::remote`]). Asked before anything changes, so a
    /// volume whose controller is down is refused (503) with nothing
    /// half-done. A host no controller is registered under (a renamed
    /// single controller) falls back to the local backend of that name.
    pub(crate) fn backend_of(&self, v: &Volume) -> VolumeResult<Arc<dyn VolumeBackend>> {
        if let Some(b) = self
            .backends
            .iter()
            .find(|b| v.host.as_deref() == Some(Self::host_of(b.as_ref()).as_str()))
        {
            return Ok(b.clone());
        }
        let host = v.host.as_deref().and_then(|h| h.split('@').next());
        if let (Some(host), Some(peers)) = (host, self.peers.get()) {
            match peers.backend_at(host, &v.backend_name) {
                Ok(Some(b)) => return Ok(b),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(volume_id = %v.id, error = %e, "a volume's controller cannot be used");
                    return Err(VolumeError::Status(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "The volume {} is stored on host {host}, whose controller cannot be reached: {e}. Try again once it is back.",
                            v.id
                        ),
                    ));
                }
            }
        }
        self.backend(&v.backend_name).ok_or_else(|| {
            VolumeError::BadRequest(format!(
                "Invalid volume: the backend of volume {} is not served.",
                v.id
            ))
        })
    }

    /// The storage host of volume `v` (whose disk holds its data), without
    /// asking whether its controller is up.
    pub(crate) fn storage_host(&self, v: &Volume) -> Option<String> {
        match v.host.as_deref().and_then(|h| h.split_once('@')) {
            Some((host, _)) => Some(host.to_string()),
            None => self.backend(&v.backend_name).map(|b| b.host().to_string()),
        }
    }

    /// The backend that holds volumes of `backend_name`.
    pub(crate) fn backend(&self, backend_name: &str) -> Option<Arc<dyn VolumeBackend>> {
        self.backends
            .iter()
            .find(|b| b.backend_name() == backend_name)
            .cloned()
    }

    /// The backend a volume of type `t` goes to: the one its
    /// `volume_backend_name` names, else the first; Cinder's "No valid
    /// backend was found" (503 here, nothing created) when there is none.
    pub(crate) fn backend_for(&self, t: &VolumeType) -> VolumeResult<Arc<dyn VolumeBackend>> {
        let found = match t.extra_specs.get("volume_backend_name") {
            Some(name) => self.backend(name),
            None => self.backends.first().cloned(),
        };
        found.ok_or_else(|| {
            VolumeError::Status(
                StatusCode::SERVICE_UNAVAILABLE,
                "No valid backend was found. No volume backend can hold a volume of this type."
                    .into(),
            )
        })
    }

    /// The type named or numbered `name_or_id` that `caller` may use.
    pub fn volume_type(&self, caller: &Caller, name_or_id: &str) -> VolumeResult<VolumeType> {
        let found = match self.store.get_type(name_or_id)? {
            Some(t) => Some(t),
            None => self.store.get_type_by_name(name_or_id)?,
        };
        let usable = |t: &VolumeType| -> VolumeResult<bool> {
            Ok(t.is_public
                || caller.is_admin
                || self.store.type_access(&t.id)?.contains(&caller.project_id))
        };
        match found {
            Some(t) if usable(&t)? => Ok(t),
            _ => Err(VolumeError::NotFound(format!(
                "Volume type with name {name_or_id} could not be found."
            ))),
        }
    }

    /// The `os-vol-host-attr:host` of a volume on `backend`.
    /// Whether volume `v` is on one of this controller's backends: its
    /// tasks (snapshots, backups) run here, so start-up settles what they
    /// left, and no other controller does. Backends are per host (the
    /// local one is this machine's disk), so a task a dead controller left
    /// waits for that controller to start again: nobody else can reach
    /// its files to finish or clean up.
    pub(crate) fn serves(&self, v: &ferrostack_store::volume::Volume) -> bool {
        self.backends
            .iter()
            .any(|b| v.host.as_deref() == Some(Self::host_of(b.as_ref()).as_str()))
    }

    pub(crate) fn host_of(backend: &dyn VolumeBackend) -> String {
        format!(
            "{}@{}#{}",
            backend.host(),
            backend.backend_name(),
            backend.backend_name()
        )
    }
}

/// Cinder's message when a volume is not in a state an action accepts.
pub(crate) fn bad_status(id: &str, wanted: &str, status: &str) -> Refusal {
    invalid(format!(
        "Invalid volume: Volume {id} status must be {wanted}, but current status is: {status}."
    ))
}
