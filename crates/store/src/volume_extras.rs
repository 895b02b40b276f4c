//! Cinder's backups and QoS specs as stored, beside the volume model
//! ([`crate::volume`]).
//!
//! Backups are records of what the backup store holds (the data is in a
//! directory of its own, never in the volume backend: "a time machine
//! somewhere else"); a backup names its volume by id only, because it
//! outlives the volume. Its parent (for an incremental backup) is a column:
//! a backup with children is not deleted, and that is decided inside the
//! delete's transaction.
//!
//! QoS specs are named sets of limits; a volume type has at most one
//! (Cinder's `volume_types.qos_specs_id`), kept as an association row so
//! the volume model's types need not change. A specs set in use by a type
//! is not deleted unless forced (then the associations go with it).
//!
//! As for volumes, columns are what is looked up or constrained; the rest
//! is a JSON body.

use crate::{StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A backup as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    /// UUID.
    pub id: String,
    /// Owning project.
    pub project_id: String,
    /// The user who made it.
    #[serde(default)]
    pub user_id: String,
    /// The volume it was taken of (which may be gone since).
    pub volume_id: String,
    /// The backup it is an increment of.
    pub parent_id: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `creating`, `available`, `deleting`, `restoring` or `error`.
    pub status: String,
    /// Why it is in `error`, for admins.
    #[serde(default)]
    pub fail_reason: Option<String>,
    /// The volume's size when backed up, GiB.
    pub size_gib: u64,
    /// Chunks written by this backup.
    #[serde(default)]
    pub object_count: u64,
    /// Bytes of chunk data this backup added to the store.
    #[serde(default)]
    pub stored_bytes: u64,
    /// The backup store's container name (`backups`).
    pub container: String,
    /// The host whose backup store holds its data (the controller that
    /// held the volume); `None` in backups made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The availability zone.
    pub availability_zone: String,
    /// Metadata (3.43).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// When the data was taken, µs since the epoch.
    pub data_timestamp: i64,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last change, µs since the epoch.
    pub updated_at: i64,
}

/// A set of QoS specs as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QosSpecs {
    /// UUID.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// `front-end` (enforced by the hypervisor), `back-end` or `both`.
    pub consumer: String,
    /// The specs (`read_iops_sec`, `total_bytes_sec`, ...).
    pub specs: BTreeMap<String, String>,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
}

/// A volume offered to another project (Cinder's volume transfer). The
/// auth key is never stored: only a salted SHA-256 of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transfer {
    /// UUID.
    pub id: String,
    /// The volume offered.
    pub volume_id: String,
    /// The giving project.
    pub project_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Salt of `key_hash`.
    pub salt: String,
    /// Hex SHA-256 of salt and auth key.
    pub key_hash: String,
    /// Keep the volume's snapshots with it (false with 3.55 `no_snapshots`).
    #[serde(default)]
    pub no_snapshots: bool,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
}

/// A rule of backups or QoS specs a write would break, travelling in
/// [`StoreError::Refused`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtrasConflict {
    /// A backup has incremental backups on it.
    #[error("Incremental backups exist for this backup.")]
    BackupHasDependents(String),
    /// QoS specs are associated with volume types.
    #[error("QoS Specs {0} is still associated with entities.")]
    QosInUse(String),
    /// A QoS specs name is taken.
    #[error("QoS Specs {0} already exists.")]
    QosNameTaken(String),
}

impl From<ExtrasConflict> for StoreError {
    fn from(c: ExtrasConflict) -> Self {
        StoreError::Refused(Box::new(c))
    }
}

/// A change of one backup, inside [`BackupRecords::change_backup`]; an
/// error leaves the row as it was.
pub type BackupChange<'a> = dyn FnMut(&mut Backup) -> StoreResult<()> + 'a;

/// Stored backups.
pub trait BackupRecords: Send + Sync {
    /// Insert a new backup.
    fn create_backup(&self, b: &Backup) -> StoreResult<()>;
    /// One backup.
    fn get_backup(&self, id: &str) -> StoreResult<Option<Backup>>;
    /// The backups of `project_id` (all with `None`), oldest first.
    fn list_backups(&self, project_id: Option<&str>) -> StoreResult<Vec<Backup>>;
    /// The ids of the backups whose parent is `id`.
    fn backup_children(&self, id: &str) -> StoreResult<Vec<String>>;
    /// Read-modify-write one backup in one transaction; `None` when gone.
    fn change_backup(&self, id: &str, f: &mut BackupChange<'_>) -> StoreResult<Option<Backup>>;
    /// Delete a backup, refused ([`ExtrasConflict::BackupHasDependents`])
    /// while it has children; `false` when it was gone.
    fn delete_backup(&self, id: &str) -> StoreResult<bool>;
}

/// Stored volume transfers (at most one per volume).
pub trait TransferRecords: Send + Sync {
    /// Insert a transfer; a second one of a volume is a conflict.
    fn create_transfer(&self, t: &Transfer) -> StoreResult<()>;
    /// One transfer.
    fn get_transfer(&self, id: &str) -> StoreResult<Option<Transfer>>;
    /// The transfers of `project_id` (all with `None`).
    fn list_transfers(&self, project_id: Option<&str>) -> StoreResult<Vec<Transfer>>;
    /// Delete a transfer; `false` when gone.
    fn delete_transfer(&self, id: &str) -> StoreResult<bool>;
}

/// Stored QoS specs and their association with volume types.
pub trait QosRecords: Send + Sync {
    /// Insert new specs (refused when the name is taken).
    fn create_qos(&self, q: &QosSpecs) -> StoreResult<()>;
    /// One set of specs.
    fn get_qos(&self, id: &str) -> StoreResult<Option<QosSpecs>>;
    /// Every set, by name.
    fn list_qos(&self) -> StoreResult<Vec<QosSpecs>>;
    /// Replace a set's specs; `false` when gone.
    fn set_qos_specs(&self, id: &str, specs: &BTreeMap<String, String>) -> StoreResult<bool>;
    /// Delete a set; refused while associated unless `force` (then the
    /// associations go too). `false` when gone.
    fn delete_qos(&self, id: &str, force: bool) -> StoreResult<bool>;
    /// Associate with a volume type (replacing the type's previous set).
    fn associate_qos(&self, qos_id: &str, type_id: &str) -> StoreResult<()>;
    /// Drop the association with one type.
    fn disassociate_qos(&self, qos_id: &str, type_id: &str) -> StoreResult<()>;
    /// Drop every association of a set.
    fn disassociate_all_qos(&self, qos_id: &str) -> StoreResult<()>;
    /// The volume types a set is associated with.
    fn qos_types(&self, qos_id: &str) -> StoreResult<Vec<String>>;
    /// The set a volume type has, if any.
    fn qos_of_type(&self, type_id: &str) -> StoreResult<Option<QosSpecs>>;
}
