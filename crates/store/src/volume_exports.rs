//! Exports of local-backend volumes to other hosts, as stored: the rows
//! behind the block-device section of a storage host's desired document.
//!
//! A local-backend volume is a file on its storage host's disk; a server
//! on another host reaches it through an NBD export the storage host's
//! agent serves. One row per exported volume: the storage host, the file,
//! the hosts allowed to connect (those with an attachment of the volume),
//! the pre-shared TLS key and a generation. The row is written when a
//! host connects the volume and loses that host when its attachment goes;
//! the row goes with its last host (the host link then sends a tombstone
//! until the agent reports the export removed).
//!
//! Every write of a row bumps its storage host's revision in the same
//! transaction ([`crate::host_plan`]), so the agent sees it at once.

use crate::StoreResult;
use serde::{Deserialize, Serialize};

/// One exported volume.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeExport {
    /// The volume (also the export's name).
    pub volume_id: String,
    /// The storage host serving it.
    pub host: String,
    /// The volume's file on that host.
    pub path: String,
    /// `qcow2` or `raw`.
    pub format: String,
    /// The hosts allowed to connect.
    pub allowed_hosts: Vec<String>,
    /// The pre-shared key (64 hex digits); never logged (`Debug` hides it).
    pub key: String,
    /// Bumped by every write.
    pub generation: u64,
}

impl std::fmt::Debug for VolumeExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeExport")
            .field("volume_id", &self.volume_id)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("format", &self.format)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// A change of one export row: given the row (if any), the row to keep
/// (`None` deletes it).
pub type ExportChange<'a> = dyn FnMut(Option<VolumeExport>) -> Option<VolumeExport> + 'a;

/// Stored volume exports.
pub trait ExportRecords: Send + Sync {
    /// Changes the export of `volume_id` in one transaction: the row is
    /// read, `f` says what it becomes, and a changed row is written with
    /// its generation bumped (past the old one), or deleted; the storage
    /// hosts before and after get a new revision. Returns the row after.
    fn change_export(
        &self,
        volume_id: &str,
        f: &mut ExportChange<'_>,
    ) -> StoreResult<Option<VolumeExport>>;

    /// The export of `volume_id`.
    fn get_export(&self, volume_id: &str) -> StoreResult<Option<VolumeExport>>;

    /// The exports `host` serves.
    fn host_exports(&self, host: &str) -> StoreResult<Vec<VolumeExport>>;
}
