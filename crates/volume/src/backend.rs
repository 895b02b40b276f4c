//! Where volume data lives: the [`VolumeBackend`] trait.
//!
//! The API decides *what* exists (rows in the store, with quota and
//! state); a backend only holds the bytes. Every method is idempotent on
//! ids, because the API calls it from a step whose progress is stored and
//! may run again after a crash: creating a volume that exists with the
//! requested size succeeds, deleting one that is gone succeeds.
//!
//! Two implementations are planned behind this one trait: the local
//! backend ([`crate::local`]: qcow2 files in a directory of the storage
//! host, copy-on-write from images and snapshots) and Ceph RBD (its own
//! issue). A backend never sees projects, quotas or states.
//!
//! A volume attached to a running guest is open in QEMU; the backend does
//! not touch its data then. Growing an attached volume is the agent's
//! (QMP `block_resize`, from the new size in the instance's
//! [`ferrostack_host_contract::block::VolumeSpec`]); the API grows
//! detached volumes here.

use ferrostack_host_contract::block::Connection;
use futures::future::BoxFuture;
use std::path::PathBuf;

/// What a backend call returns.
pub type BackendFuture<'a, T> = BoxFuture<'a, Result<T, BackendError>>;

/// Why a backend call failed. The message is for operators (logged, and
/// kept in a volume's error reason); the API shows users Cinder's terse
/// words instead.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A source (volume, snapshot, image file) the call needs is missing.
    #[error("{0} not found on the backend")]
    Missing(String),
    /// Not enough space on the backend.
    #[error("no space on the backend: {0}")]
    NoSpace(String),
    /// The request cannot be done (shrinking, a bad image format...).
    #[error("{0}")]
    Invalid(String),
    /// I/O or a tool (`qemu-img`) failed.
    #[error("{0}")]
    Failed(String),
}

/// A verified local copy of an image's data, as the image service keeps
/// it (the binary resolves an image id to this; a backend never talks to
/// the image service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    /// The image id.
    pub image_id: String,
    /// The file. It does not change while the image is `active`, and may
    /// be deleted with the image: a backend that keeps depending on it
    /// must keep its own reference (a hard link) first.
    pub path: PathBuf,
    /// The inspected disk format: `qcow2` or `raw`.
    pub format: String,
    /// The image's virtual size in bytes (the smallest volume it fits).
    pub virtual_size: u64,
    /// The image's `min_disk`, GiB: the smallest volume its owner allows
    /// (0 when unset).
    pub min_disk_gib: u64,
}

/// Space on a backend, for `scheduler-stats/get_pools` and the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Capacity {
    /// Size of the filesystem or pool, GiB.
    pub total_gib: u64,
    /// Free space, GiB.
    pub free_gib: u64,
    /// Sum of the virtual sizes of the volumes, GiB (thin provisioning
    /// lets this pass `total_gib`).
    pub provisioned_gib: u64,
}

/// Volume data storage of one backend (one `volume_backend_name`).
pub trait VolumeBackend: Send + Sync {
    /// The `volume_backend_name` volume types select this backend by.
    fn backend_name(&self) -> &str;

    /// The storage host whose disk holds the data (Cinder's `host@backend`
    /// prefix of `os-vol-host-attr:host`).
    fn host(&self) -> &str;

    /// An empty volume of `size_gib`. Reads of it return zeros: no byte
    /// of a deleted volume ever reaches a new one.
    fn create_blank<'a>(&'a self, volume_id: &'a str, size_gib: u64) -> BackendFuture<'a, ()>;

    /// A volume holding `image`'s disk, grown to `size_gib`, by
    /// copy-on-write where the backend can (no full copy of the image).
    fn create_from_image<'a>(
        &'a self,
        volume_id: &'a str,
        image: &'a ImageFile,
        size_gib: u64,
    ) -> BackendFuture<'a, ()>;

    /// A volume with a snapshot's data, grown to `size_gib`.
    fn create_from_snapshot<'a>(
        &'a self,
        volume_id: &'a str,
        snapshot_id: &'a str,
        size_gib: u64,
    ) -> BackendFuture<'a, ()>;

    /// A volume with another (detached) volume's current data, grown to
    /// `size_gib`.
    fn create_from_volume<'a>(
        &'a self,
        volume_id: &'a str,
        source_volume_id: &'a str,
        size_gib: u64,
    ) -> BackendFuture<'a, ()>;

    /// Grow a detached volume to `new_size_gib` in place (never shrinks).
    fn extend<'a>(&'a self, volume_id: &'a str, new_size_gib: u64) -> BackendFuture<'a, ()>;

    /// Remove a volume's data. Data other volumes or snapshots still
    /// depend on is kept until they are gone; the volume itself is gone
    /// for every caller.
    fn delete<'a>(&'a self, volume_id: &'a str) -> BackendFuture<'a, ()>;

    /// A point-in-time copy of a detached volume (copy-on-write).
    fn create_snapshot<'a>(
        &'a self,
        snapshot_id: &'a str,
        volume_id: &'a str,
    ) -> BackendFuture<'a, ()>;

    /// The backend's half of a snapshot of an attached volume, first step:
    /// the data as of now becomes the snapshot's (frozen) while the volume
    /// goes on in a new top. The guest may still write into the frozen
    /// part until its disk switched onto the new top (compute's business);
    /// only then does [`finish_live_snapshot`](Self::finish_live_snapshot)
    /// make the snapshot exist. Idempotent. A backend that cannot answers
    /// `Invalid` (the default).
    fn begin_live_snapshot<'a>(
        &'a self,
        snapshot_id: &'a str,
        volume_id: &'a str,
    ) -> BackendFuture<'a, ()> {
        let _ = (snapshot_id, volume_id);
        Box::pin(async {
            Err(BackendError::Invalid(
                "this backend cannot snapshot an attached volume".into(),
            ))
        })
    }

    /// The second step of a live snapshot, once no guest writes the
    /// frozen part any more: the snapshot exists. Idempotent.
    fn finish_live_snapshot<'a>(&'a self, snapshot_id: &'a str) -> BackendFuture<'a, ()> {
        let _ = snapshot_id;
        Box::pin(async {
            Err(BackendError::Invalid(
                "this backend cannot snapshot an attached volume".into(),
            ))
        })
    }

    /// Remove a snapshot; volumes created from it keep their data.
    fn delete_snapshot<'a>(&'a self, snapshot_id: &'a str) -> BackendFuture<'a, ()>;

    /// How a host reaches the volume (what QEMU opens).
    fn connection(&self, volume_id: &str) -> Connection;

    /// Space on the backend.
    fn capacity(&self) -> BackendFuture<'_, Capacity>;

    /// This backend as the backup engine reads and restores it, when it
    /// can be (the local backend can; a backend without raw access to its
    /// data answers `None`, and backups of its volumes are refused).
    fn as_backup(&self) -> Option<&dyn crate::backup::source::BackupCapable> {
        None
    }
}
