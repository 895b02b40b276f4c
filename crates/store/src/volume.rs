//! Cinder's records (volumes, snapshots, attachments, volume types) and
//! the [`VolumeStore`] trait the block storage service uses.
//!
//! As for networks, rows keep what is looked up or constrained as columns
//! (owner, parent volume, type) and the rest as a JSON body; the service
//! filters and sorts lists in memory over its views.
//!
//! A volume's state machine spans several rows: attaching changes the
//! volume's status and inserts an attachment, a snapshot create checks the
//! volume's status and inserts the snapshot, the last detach moves the
//! volume back to `available`. So every change of a volume goes through
//! one method, [`VolumeStore::change_volume`]: it loads the volume with
//! its attachments and snapshots (a [`VolumeGroup`]) inside the write
//! transaction, lets the service's closure decide, and writes back what the
//! closure changed, all or nothing. The closure refuses with its own typed
//! error ([`crate::StoreError::Refused`]), as the network store's do.
//! Rejected: one store method per transition (reserve, attach, detach,
//! snapshot...), which would put Cinder's state rules in the store.

use crate::StoreResult;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A change a caller's closure refuses, carried through
/// [`crate::StoreError::Refused`].
pub type Refusal = Box<dyn std::error::Error + Send + Sync>;

/// A volume as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// UUID.
    pub id: String,
    /// Owning project.
    pub project_id: String,
    /// The user who created it.
    pub user_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Size in GiB.
    pub size_gib: u64,
    /// `creating`, `available`, `reserved`, `attaching`, `in-use`,
    /// `detaching`, `extending`, `deleting`, `error`, `error_deleting`...
    pub status: String,
    /// Availability zone.
    pub availability_zone: String,
    /// The volume type's id.
    pub volume_type_id: String,
    /// The backend (`volume_backend_name`) holding the data.
    pub backend_name: String,
    /// `host@backend#pool`, set once a backend was chosen.
    pub host: Option<String>,
    /// Bootable flag.
    pub bootable: bool,
    /// Attach read-only.
    pub read_only: bool,
    /// Allows several attachments.
    pub multiattach: bool,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Glance image properties (`volume_image_metadata`).
    pub image_metadata: BTreeMap<String, String>,
    /// The snapshot it was created from.
    pub snapshot_id: Option<String>,
    /// The volume it was cloned from.
    pub source_volid: Option<String>,
    /// The image it was created from.
    pub image_id: Option<String>,
    /// Why the last backend operation failed (for admins).
    pub error: Option<String>,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last update, µs since the epoch.
    pub updated_at: i64,
}

/// A snapshot as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// UUID.
    pub id: String,
    /// The volume it is a copy of.
    pub volume_id: String,
    /// Owning project.
    pub project_id: String,
    /// The user who created it.
    pub user_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// The volume's size when taken, GiB.
    pub size_gib: u64,
    /// `creating`, `available`, `deleting`, `error`, `error_deleting`.
    pub status: String,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Why the last backend operation failed (for admins).
    pub error: Option<String>,
    /// The progress a client reported (`os-update_snapshot_status`, as
    /// Nova's assisted snapshots do), e.g. `80%`; `None` shows 0% or 100%
    /// by status.
    #[serde(default)]
    pub progress: Option<String>,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last update, µs since the epoch.
    pub updated_at: i64,
}

/// An attachment of a volume to an instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// UUID.
    pub id: String,
    /// The volume.
    pub volume_id: String,
    /// The volume's project.
    pub project_id: String,
    /// The server.
    pub instance_uuid: String,
    /// `reserved`, `attaching`, `attached`, `detaching`.
    pub attach_status: String,
    /// The host the volume is connected to.
    pub attached_host: Option<String>,
    /// Device name in the guest (`/dev/vdb`).
    pub mountpoint: Option<String>,
    /// `rw` or `ro`.
    pub mode: String,
    /// The connector the host gave.
    pub connector: Option<serde_json::Value>,
    /// What the host opens (Cinder's `connection_info`).
    pub connection_info: Option<serde_json::Value>,
    /// When it was attached, µs since the epoch.
    pub attach_time: Option<i64>,
    /// When it was detached, µs since the epoch.
    pub detach_time: Option<i64>,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
}

/// A volume with its attachments and snapshots, as
/// [`VolumeStore::change_volume`] hands it to the service.
#[derive(Clone, Debug, PartialEq)]
pub struct VolumeGroup {
    /// The volume.
    pub volume: Volume,
    /// Its attachments.
    pub attachments: Vec<Attachment>,
    /// Its snapshots.
    pub snapshots: Vec<Snapshot>,
    /// Set by the closure to delete the volume (with whatever attachments
    /// and snapshots remain).
    pub delete: bool,
}

/// A volume type as stored (extra specs in their own table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VolumeType {
    /// UUID.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Usable by every project; otherwise by those with access.
    pub is_public: bool,
    /// Extra specs (`volume_backend_name`, ...). Not in the body.
    #[serde(skip)]
    pub extra_specs: BTreeMap<String, String>,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
}

/// Name of the type that exists from the start, as in Cinder.
pub const DEFAULT_TYPE: &str = "__DEFAULT__";

/// A rule of the volume model a write would break, travelling in
/// [`crate::StoreError::Refused`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeConflict {
    /// A volume's source (snapshot or volume) is missing or not usable.
    #[error("{kind} {id} is not available")]
    SourceNotAvailable {
        /// `snapshot` or `volume`.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// A volume type still has volumes.
    #[error("Volume type {0} deletion is not allowed with volumes present with the type.")]
    TypeInUse(String),
}

impl From<VolumeConflict> for crate::StoreError {
    fn from(c: VolumeConflict) -> Self {
        crate::StoreError::Refused(Box::new(c))
    }
}

/// A change of a volume group, inside [`VolumeStore::change_volume`].
pub type GroupChange<'a> = dyn FnMut(&mut VolumeGroup) -> Result<(), Refusal> + 'a;

/// Stored volumes, snapshots, attachments and types.
pub trait VolumeStore:
    crate::volume_extras::BackupRecords
    + crate::volume_exports::ExportRecords
    + crate::volume_extras::QosRecords
    + crate::volume_extras::TransferRecords
    + Send
    + Sync
{
    /// Insert a volume; its source snapshot (must be `available`) or
    /// source volume (must be `available` or `in-use`) is checked in the
    /// same transaction ([`VolumeConflict::SourceNotAvailable`]).
    fn create_volume(&self, volume: &Volume) -> StoreResult<()>;
    /// The volume with `id`.
    fn get_volume(&self, id: &str) -> StoreResult<Option<Volume>>;
    /// The volumes of `project_id`, or every volume.
    fn list_volumes(&self, project_id: Option<&str>) -> StoreResult<Vec<Volume>>;
    /// Load a volume with its attachments and snapshots, let `f` change
    /// them, and write back the result in one transaction (see the module
    /// doc). `None` when the volume does not exist.
    fn change_volume(&self, id: &str, f: &mut GroupChange<'_>) -> StoreResult<Option<VolumeGroup>>;
    /// The attachments of a volume.
    fn volume_attachments(&self, volume_id: &str) -> StoreResult<Vec<Attachment>>;

    /// The snapshot with `id`.
    fn get_snapshot(&self, id: &str) -> StoreResult<Option<Snapshot>>;
    /// The snapshots of `project_id`, or every snapshot.
    fn list_snapshots(&self, project_id: Option<&str>) -> StoreResult<Vec<Snapshot>>;

    /// The attachment with `id`.
    fn get_attachment(&self, id: &str) -> StoreResult<Option<Attachment>>;
    /// The attachments of `project_id`'s volumes, or every attachment.
    fn list_attachments(&self, project_id: Option<&str>) -> StoreResult<Vec<Attachment>>;

    /// Insert a type with its extra specs; a taken name is a `Conflict`.
    fn create_type(&self, t: &VolumeType) -> StoreResult<()>;
    /// The type with `id`, with its extra specs.
    fn get_type(&self, id: &str) -> StoreResult<Option<VolumeType>>;
    /// The type named `name`, with its extra specs.
    fn get_type_by_name(&self, name: &str) -> StoreResult<Option<VolumeType>>;
    /// Every type, with extra specs.
    fn list_types(&self) -> StoreResult<Vec<VolumeType>>;
    /// Change name, description or visibility through `f` (extra specs
    /// are not written by this). A taken name is a `Conflict`.
    fn update_type(
        &self,
        id: &str,
        f: &mut dyn FnMut(&mut VolumeType) -> Result<(), Refusal>,
    ) -> StoreResult<Option<VolumeType>>;
    /// Delete a type; [`VolumeConflict::TypeInUse`] while volumes have it.
    fn delete_type(&self, id: &str) -> StoreResult<bool>;
    /// Set (add or replace) extra specs of a type.
    fn set_type_specs(&self, id: &str, specs: &BTreeMap<String, String>) -> StoreResult<()>;
    /// Remove one extra spec; `false` when absent.
    fn delete_type_spec(&self, id: &str, key: &str) -> StoreResult<bool>;
    /// Projects given access to a private type.
    fn type_access(&self, id: &str) -> StoreResult<Vec<String>>;
    /// Give `project_id` access; `false` when it had it.
    fn add_type_access(&self, id: &str, project_id: &str) -> StoreResult<bool>;
    /// Take access away; `false` when it had none.
    fn remove_type_access(&self, id: &str, project_id: &str) -> StoreResult<bool>;
}
