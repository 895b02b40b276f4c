//! What the backup engine needs from a backend: a point-in-time raw view
//! to read ([`BackupSource`]) and a way to write raw data into a volume
//! ([`RestoreTarget`]). Separate from [`crate::backend::VolumeBackend`]
//! (the contract the API layer shares with the Ceph backend), so that a
//! backend without backup support still is one.

use crate::backend::BackendFuture;
use std::path::{Path, PathBuf};

/// One run of a [`RawView`]: `length` bytes from `start` of the volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    /// Offset in the volume.
    pub start: u64,
    /// Length in bytes.
    pub length: u64,
    /// Where the bytes are.
    pub data: ExtentData,
}

/// Where an [`Extent`]'s bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtentData {
    /// They read as zeros (unallocated, a hole, or a zero cluster).
    Zero,
    /// In a host file, from `offset` on, as they are (no decoding).
    File {
        /// The file (absolute).
        path: PathBuf,
        /// Offset of the extent's first byte in the file.
        offset: u64,
        /// A name of the file that never names other bytes: set when the
        /// file is immutable and its name never reused (a frozen layer, an
        /// image reference). Two views whose extent maps to the same
        /// `(stable, offset)` hold the same bytes there, which lets an
        /// incremental backup skip reading them.
        stable: Option<String>,
    },
}

/// A readable, point-in-time raw image of a volume or snapshot: the
/// extents cover `0..size` in order. Temporary files behind it (if any)
/// go when it is dropped.
#[derive(Debug)]
pub struct RawView {
    /// Virtual size in bytes.
    pub size: u64,
    /// The extents, sorted, without gaps.
    pub extents: Vec<Extent>,
    /// A temporary file the view reads from, removed on drop.
    pub temp: Option<TempFile>,
}

/// A file removed when dropped.
#[derive(Debug)]
pub struct TempFile(pub PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A backend whose snapshots the backup engine can read.
pub trait BackupSource: Send + Sync {
    /// A raw view of snapshot `snapshot_id` (immutable while it exists).
    /// A volume is backed up through a snapshot the engine takes and
    /// deletes around the read.
    fn snapshot_view<'a>(&'a self, snapshot_id: &'a str) -> BackendFuture<'a, RawView>;
}

/// A backend the backup engine can read from and restore into: what
/// [`crate::backend::VolumeBackend::as_backup`] hands out.
pub trait BackupCapable: crate::backend::VolumeBackend + BackupSource + RestoreTarget {}

impl<T: crate::backend::VolumeBackend + BackupSource + RestoreTarget> BackupCapable for T {}

/// A backend the backup engine can restore into.
pub trait RestoreTarget: Send + Sync {
    /// The virtual size of a volume, bytes.
    fn volume_size<'a>(&'a self, volume_id: &'a str) -> BackendFuture<'a, u64>;

    /// Overwrites the first bytes of detached volume `volume_id` with the
    /// raw file `raw` (zeros included: what was there is gone).
    fn write_raw<'a>(&'a self, volume_id: &'a str, raw: &'a Path) -> BackendFuture<'a, ()>;
}
