//! The local backend: volumes as qcow2 files in one directory of the
//! storage host, copy-on-write from images, snapshots and other volumes.
//!
//! # Layout (under the root, e.g. `DATA_DIR/volumes`, mode 0700)
//!
//! ```text
//! volumes/<volume_id>     the volume's top: a qcow2 file, the only one QEMU writes
//! layers/<layer_id>       frozen qcow2 layers (former tops), never written again
//! snapshots/<snapshot_id> a hard link to layers/<snapshot_id>: "the snapshot exists"
//! images/<image_id>       a hard link to the image service's file (a copy
//!                         only when linking fails, e.g. another file system)
//! ```
//!
//! A volume is a chain `volumes/V -> layers/.. -> ... -> images/I`, each
//! link the absolute backing path in the qcow2 header (`-b <abs> -F
//! <format>`; the format is always explicit so that a raw image that
//! looks like a qcow2 file is never probed as one).
//!
//! * **create_blank**: a sparse, empty qcow2 written under a temporary
//!   name, fsync, `rename(2)` into place, fsync of the directory. Empty
//!   qcow2 files (blank tops and every new top of an overlay) are written
//!   in process (`qcow2.rs`), not by `qemu-img create`, whose start-up alone
//!   took 10 to 20 ms on a loaded host. New files read as zeros
//!   (unallocated clusters, fresh file-system blocks), which is why a
//!   deleted volume's bytes never reach a new volume.
//! * **create_from_image**: the image is hard-linked once into `images/`
//!   (so the image service may delete its file), then the volume is an
//!   overlay on it, grown to the size. No image byte is copied.
//! * **create_snapshot** (detached volume): the top is frozen in place,
//!   nothing is copied:
//!   1. `link(volumes/V, layers/S)`: the same inode under a second name;
//!      the volume is untouched and usable.
//!   2. a new, empty top backed by `layers/S` (what `qemu-img create -b`
//!      writes) under a temporary name, fsync.
//!   3. `rename(tmp, volumes/V)`: atomically, the volume is the new top on
//!      the frozen layer (its data unchanged). The old inode now has only
//!      the name `layers/S`.
//!   4. `link(layers/S, snapshots/S)`: the snapshot exists.
//!
//!   A crash after 1 leaves an unreferenced `layers/S` that garbage
//!   collection removes (one name of the still-live volume inode, so the
//!   volume loses nothing); after 2, a temporary file removed on the next
//!   call; after 3, a layer the volume depends on (kept, harmless). A
//!   retry resumes from whichever step it finds done. The order matters:
//!   renaming the top away first would leave no volume between two steps.
//! * **live snapshot** (attached volume, QEMU running on this host): the
//!   same steps, with step 4 held back until the guest's disk moved onto
//!   the new top. After step 3 QEMU still writes the old inode, which now
//!   has only the name `layers/S`: the "frozen" layer is not frozen yet.
//!   [`VolumeBackend::begin_live_snapshot`] does steps 1 to 3; the volume
//!   service then has compute switch the VM (QMP `blockdev-snapshot` of a
//!   node on the new `volumes/V` over the old one, see the hypervisor's
//!   `qemu/switch.rs`); only then does
//!   [`VolumeBackend::finish_live_snapshot`] do step 4. Crash cases: a
//!   crash before the switch leaves QEMU writing `layers/S`, which is
//!   still the volume's data (the chain `volumes/V -> layers/S` reads the
//!   same either way: the new top is empty), so nothing is lost; the
//!   switch is still due (compute's spec carries it) and the snapshot,
//!   having no `snapshots/S` name, ends `error`. A guest stopped before
//!   its switch needs none: its next start opens `volumes/V` and the whole
//!   chain. A retry of the begin finds step 3 done (the top's header
//!   names `layers/S`).
//! * **create_from_snapshot**: an overlay on `layers/S`.
//! * **create_from_volume**: a freeze of the source exactly like a
//!   snapshot (a layer named by the new volume's id, no snapshot name),
//!   then an overlay on it. Chosen over a full `qemu-img convert` because
//!   it is instant and uses no space whatever the size; the cost is one
//!   more layer in the source's chain (reads that miss walk the chain).
//!   Flattening long chains (`qemu-img commit`/`rebase` of a layer only one
//!   file depends on) is left for later.
//! * **delete**: the top goes, then garbage collection removes every layer
//!   and image reference that no top, no other kept layer and no snapshot
//!   name depends on. The references are read from the files themselves
//!   (the backing name in each qcow2 header, a few bytes each, no
//!   process), so there is no index that a crash could leave stale; a
//!   rejected alternative was a reference-count file, which needs its own
//!   crash protocol and can drift from the files.
//! * **extend**: `qemu-img resize` in place; shrinking is `Invalid`.
//!
//! All mutations are serialized by one async lock per backend: every call
//! is a few milliseconds of metadata work, and the lock makes temporary
//! files and garbage collection safe (nothing is half-made while the
//! collector runs). One `LocalBackend` owns its directory; a second
//! process on the same directory is refused by an advisory lock.
//!
//! Backups read snapshots through `qemu-img map` and restores write with
//! `qemu-img convert -n` (see `export.rs` and [`crate::backup`]).
//!
//! The caller guarantees a volume is detached for everything but
//! `connection` and the live snapshot: freezing the top of a volume QEMU
//! has open leaves QEMU writing into the frozen layer until its switch.
//!
//! Every call is idempotent on ids: each checks what exists first (a
//! file in place is always complete, because files appear by rename). Ids
//! must be UUIDs; anything else is `Invalid` and never becomes a path.

mod export;
mod files;
mod qcow2;
pub mod qemu;

use crate::backend::{BackendError, BackendFuture, Capacity, ImageFile, VolumeBackend};
use ferrostack_host_contract::block::Connection;
use files::{read_header, remove_if_present, rename_durable, sync_file, Layout};
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) use files::{is_safe_id, Qcow2Header};

const GIB: u64 = 1 << 30;

/// Volume data as qcow2 files in a directory (see the module doc).
pub struct LocalBackend {
    name: String,
    host: String,
    root: PathBuf,
    layout: Layout,
    deadline: Duration,
    lock: tokio::sync::Mutex<()>,
    // Held for the backend's life: the advisory lock on `root/.lock`.
    _owner: std::fs::File,
}

impl std::fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBackend")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("root", &self.root)
            .finish()
    }
}

/// A temporary file, removed when dropped (a no-op once renamed).
struct TempName(PathBuf);

impl Drop for TempName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn io_err(what: &Path) -> impl Fn(io::Error) -> BackendError + '_ {
    move |e| {
        if e.raw_os_error() == Some(28) {
            BackendError::NoSpace(format!("{}: {e}", what.display()))
        } else {
            BackendError::Failed(format!("{}: {e}", what.display()))
        }
    }
}

fn check_id(kind: &str, id: &str) -> Result<(), BackendError> {
    if is_safe_id(id) {
        Ok(())
    } else {
        Err(BackendError::Invalid(format!(
            "{kind} id {id:?} is not a UUID"
        )))
    }
}

fn gib(size_gib: u64) -> Result<u64, BackendError> {
    match size_gib.checked_mul(GIB) {
        Some(b) if size_gib > 0 => Ok(b),
        _ => Err(BackendError::Invalid(format!(
            "volume size {size_gib} GiB is out of range"
        ))),
    }
}

impl LocalBackend {
    /// A backend over `root` (created with mode 0700 if missing; made
    /// absolute, since backing paths are recorded absolute in the files).
    /// Fails if another `LocalBackend` holds the directory. Temporary files
    /// of interrupted calls are removed.
    pub fn open(
        name: impl Into<String>,
        host: impl Into<String>,
        root: impl AsRef<Path>,
    ) -> Result<Self, BackendError> {
        use std::os::unix::fs::DirBuilderExt;
        let root = root.as_ref();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(io_err(root))?;
        let root = std::fs::canonicalize(root).map_err(io_err(root))?;
        let layout = Layout::new(&root);
        let lock_path = root.join(".lock");
        let owner = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        // A lock just released may still be held for a moment by a child
        // forked (by any thread of this process) before its exec closes
        // the descriptor: retry briefly before calling the directory taken.
        let mut tries = 0;
        loop {
            match rustix::fs::flock(&owner, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(e) if e == rustix::io::Errno::WOULDBLOCK && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => {
                    return Err(BackendError::Failed(format!(
                        "{}: held by another backend ({e})",
                        lock_path.display()
                    )))
                }
            }
        }
        // Only now that the directory is ours: temporaries of interrupted
        // calls are nobody's.
        for d in [
            &layout.volumes,
            &layout.layers,
            &layout.snapshots,
            &layout.images,
            &layout.tmp,
        ] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(d)
                .map_err(io_err(d))?;
            files::remove_temporaries(d).map_err(io_err(d))?;
        }
        Ok(LocalBackend {
            name: name.into(),
            host: host.into(),
            root,
            layout,
            deadline: Duration::from_secs(120),
            lock: tokio::sync::Mutex::new(()),
            _owner: owner,
        })
    }

    /// Sets the deadline of each `qemu-img` run (default 120 s).
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The (absolute) directory the backend keeps its files in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of the volumes' top files (what a connection names;
    /// other controllers are told it, see [`crate::remote`]).
    pub fn volumes_dir(&self) -> &Path {
        &self.layout.volumes
    }

    /// The volume's top file (absolute).
    pub fn volume_path(&self, volume_id: &str) -> PathBuf {
        self.layout.volumes.join(volume_id)
    }

    /// A snapshot's frozen layer (absolute).
    pub fn snapshot_path(&self, snapshot_id: &str) -> PathBuf {
        self.layout.layers.join(snapshot_id)
    }

    pub(crate) async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    pub(crate) async fn qemu_img(&self, args: &[&OsStr]) -> Result<Vec<u8>, BackendError> {
        Ok(qemu::run("qemu-img", args, self.deadline).await?)
    }

    fn tmp_path(&self, dir: &Path, id: &str) -> PathBuf {
        dir.join(format!(".{id}.tmp"))
    }

    /// The header of an existing file of ours, `None` if it is missing.
    fn header(&self, path: &Path) -> Result<Option<Qcow2Header>, BackendError> {
        match read_header(path) {
            Ok(h) => Ok(Some(h)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(path)(e)),
        }
    }

    /// Creates `volumes/<volume_id>` of `size` bytes, backed by `backing`
    /// (a qcow2 or raw file), under a temporary name renamed into place.
    async fn create_top(
        &self,
        volume_id: &str,
        size: u64,
        backing: Option<(&Path, &str)>,
    ) -> Result<(), BackendError> {
        let target = self.volume_path(volume_id);
        let tmp = self.tmp_path(&self.layout.volumes, volume_id);
        remove_if_present(&tmp).map_err(io_err(&tmp))?;
        let backing = backing.map(|(p, f)| (p.to_path_buf(), f.to_string()));
        let made = async {
            let t = tmp.clone();
            tokio::task::spawn_blocking(move || {
                qcow2::create(
                    &t,
                    size,
                    backing.as_ref().map(|(p, f)| (p.as_path(), f.as_str())),
                )
            })
            .await
            .map_err(|e| BackendError::Failed(format!("creating {}: {e}", tmp.display())))?
            .map_err(io_err(&tmp))?;
            rename_durable(&tmp, &target).map_err(io_err(&target))
        }
        .await;
        if made.is_err() {
            let _ = remove_if_present(&tmp);
        }
        made
    }

    /// Whether an existing volume satisfies a create of `size`: the same
    /// size is a retry that succeeded; another size is a conflict.
    fn existing(&self, volume_id: &str, size: u64) -> Result<bool, BackendError> {
        match self.header(&self.volume_path(volume_id))? {
            None => Ok(false),
            Some(h) if h.size == size => Ok(true),
            Some(h) => Err(BackendError::Invalid(format!(
                "volume {volume_id} exists with {} bytes, not {size}",
                h.size
            ))),
        }
    }

    /// Freezes the top of `volume_id` as `layers/<layer_id>` (steps 1 to
    /// 3 of the module doc); idempotent.
    async fn freeze(&self, volume_id: &str, layer_id: &str) -> Result<PathBuf, BackendError> {
        let top = self.volume_path(volume_id);
        let layer = self.layout.layers.join(layer_id);
        let Some(h) = self.header(&top)? else {
            return Err(BackendError::Missing(format!("volume {volume_id}")));
        };
        if h.backing.as_deref() == Some(layer.as_path()) {
            return Ok(layer); // step 3 was done
        }
        use std::os::unix::fs::MetadataExt;
        let top_ino = std::fs::metadata(&top).map_err(io_err(&top))?.ino();
        match std::fs::metadata(&layer) {
            Ok(m) if m.ino() == top_ino => {} // step 1 was done
            Ok(_) => {
                return Err(BackendError::Invalid(format!(
                    "layer {layer_id} exists and is not volume {volume_id}'s"
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::hard_link(&top, &layer).map_err(io_err(&layer))?;
                files::sync_parent(&layer).map_err(io_err(&layer))?;
            }
            Err(e) => return Err(io_err(&layer)(e)),
        }
        self.create_top(volume_id, h.size, Some((&layer, "qcow2")))
            .await?;
        Ok(layer)
    }

    /// Stages the image as a new temporary file in `images/` (a hard
    /// link, a copy if linking fails), without the lock: a copy may take
    /// long. The name is unique, so concurrent stagings do not meet.
    async fn stage_image(&self, image: &ImageFile) -> Result<TempName, BackendError> {
        let tmp = TempName(self.layout.images.join(format!(
            ".{}.{}.tmp",
            image.image_id,
            uuid::Uuid::new_v4().simple()
        )));
        match std::fs::hard_link(&image.path, &tmp.0) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(BackendError::Missing(format!(
                    "image file {}",
                    image.path.display()
                )))
            }
            Err(e) => {
                tracing::debug!(image = %image.image_id, error = %e, "cannot link the image; copying it");
                tokio::fs::copy(&image.path, &tmp.0)
                    .await
                    .map_err(io_err(&tmp.0))?;
                sync_file(&tmp.0).map_err(io_err(&tmp.0))?;
            }
        }
        Ok(tmp)
    }

    async fn gc(&self) -> Result<(), BackendError> {
        let layout = self.layout.clone();
        let removed = tokio::task::spawn_blocking(move || layout.collect_garbage())
            .await
            .map_err(|e| BackendError::Failed(format!("garbage collection: {e}")))?
            .map_err(|e| BackendError::Failed(format!("garbage collection: {e}")))?;
        for p in removed {
            tracing::debug!(path = %p.display(), "removed a layer nothing depends on");
        }
        Ok(())
    }
}

impl VolumeBackend for LocalBackend {
    fn backend_name(&self) -> &str {
        &self.name
    }

    fn as_backup(&self) -> Option<&dyn crate::backup::source::BackupCapable> {
        Some(self)
    }

    fn host(&self) -> &str {
        &self.host
    }

    fn create_blank<'a>(&'a self, volume_id: &'a str, size_gib: u64) -> BackendFuture<'a, ()> {
        Box::pin(async move {
            check_id("volume", volume_id)?;
            let size = gib(size_gib)?;
            let _g = self.lock().await;
            if self.existing(volume_id, size)? {
                return Ok(());
            }
            self.create_top(volume_id, size, None).await
        })
    }

    fn create_from_image<'a>(
        &'a self,
        volume_id: &'a str,
        image: &'a ImageFile,
        size_gib: u64,
    ) -> BackendFuture<'a, ()> {
        Box::pin(async move {
            check_id("volume", volume_id)?;
            check_id("image", &image.image_id)?;
            let size = gib(size_gib)?;
            if image.format != "qcow2" && image.format != "raw" {
                return Err(BackendError::Invalid(format!(
                    "image format {:?} is not qcow2 or raw",
                    image.format
                )));
            }
            if image.virtual_size > size {
                return Err(BackendError::Invalid(format!(
                    "image {} ({} bytes) does not fit in {size_gib} GiB",
                    image.image_id, image.virtual_size
                )));
            }
            let base = self.layout.images.join(&image.image_id);
            let mut staged = None;
            loop {
                let _g = self.lock().await;
                if self.existing(volume_id, size)? {
                    return Ok(());
                }
                // The reference and the overlay on it appear under one
                // hold of the lock: garbage collection never sees the
                // reference alone.
                if !base.exists() {
                    let Some(tmp) = staged.take() else {
                        drop(_g);
                        staged = Some(self.stage_image(image).await?);
                        continue;
                    };
                    rename_durable(&tmp.0, &base).map_err(io_err(&base))?;
                }
                let made = self
                    .create_top(volume_id, size, Some((&base, &image.format)))
                    .await;
                if made.is_err() {
                    // Do not keep a reference nothing uses.
                    let _ = self.gc().await;
                }
                return made;
            }
        })
    }

    fn create_from_snapshot<'a>(
        &'a self,
        volume_id: &'a str,
        snapshot_id: &'a str,
        size_gib: u64,
    ) -> BackendFuture<'a, ()> {
        Box::pin(async move {
            check_id("volume", volume_id)?;
            check_id("snapshot", snapshot_id)?;
            let size = gib(size_gib)?;
            let _g = self.lock().await;
            if self.existing(volume_id, size)? {
                return Ok(());
            }
            if !self.layout.snapshots.join(snapshot_id).exists() {
                return Err(BackendError::Missing(format!("snapshot {snapshot_id}")));
            }
            let layer = self.snapshot_path(snapshot_id);
            let h = self
                .header(&layer)?
                .ok_or_else(|| BackendError::Missing(format!("snapshot {snapshot_id}")))?;
            if h.size > size {
                return Err(BackendError::Invalid(format!(
                    "snapshot {snapshot_id} ({} bytes) does not fit in {size_gib} GiB",
                    h.size
                )));
            }
            self.create_top(volume_id, size, Some((&layer, "qcow2")))
                .await
        })
    }

    fn create_from_volume<'a>(
        &'a self,
        volume_id: &'a str,
        source_volume_id: &'a str,
        size_gib: u64,
    ) -> BackendFuture<'a, ()> {
        Box::pin(async move {
            check_id("volume", volume_id)?;
            check_id("volume", source_volume_id)?;
            let size = gib(size_gib)?;
            let _g = self.lock().await;
            if self.existing(volume_id, size)? {
                return Ok(());
            }
            let h = self
                .header(&self.volume_path(source_volume_id))?
                .ok_or_else(|| BackendError::Missing(format!("volume {source_volume_id}")))?;
            if h.size > size {
                return Err(BackendError::Invalid(format!(
                    "volume {source_volume_id} ({} bytes) does not fit in {size_gib} GiB",
                    h.size
                )));
            }
            // The layer is named by the new volume's id: unique, and a
            // retry finds its own freeze.
            let layer = self.freeze(source_volume_id, volume_id).await?;
            self.create_top(volume_id, size, Some((&layer, "qcow2")))
                .await
        })
    }

    fn extend<'a>(&'a self, volume_id: &'a str, new_size_gib: u64) -> BackendFuture<'a, ()> {
        Box::pin(async move {
            check_id("volume", volume_id)?;
            let size = gib(new_size_gib)?;
            let _g = self.lock().await;
            let top = self.volume_path(volume_id);
            let h = self
                .header(&top)?
                .ok_or_else(|| BackendError::Missing(format!("volume {volume_id}")))?;
            if h.size == size {
                return Ok(());
            }
            if h.size > size {
                return Err(BackendError::Invalid(format!(
                    "volume {volume_id} is {} bytes; it cannot shrink to {size}",
                    h.size
                )));
            }
            let size_s = size.to_string();
            self.qemu_img(&[
                "resize".as_ref(),
                "-q".as_ref(),
                "-f".as_ref(),
                "qcow2".as_ref(),
                top.as_os_str(),
                size_s.as_ref(),
            ])
            .await?;
            sync_file(&top).map_err(io_err(&top))
        })
    }

    fn delete<'a>(&'a self, volume_id: &'a str) -> BackendFuture<'a, ()> {
        Box::pin(async move {
            check_id("volume", volume_id)?;
            let _g = self.lock().await;
            let top = self.volume_path(volume_id);
            if remove_if_present(&top).map_err(io_err(&top))? {
                files::sync_parent(&top).map_err(io_err(&top))?;
            }
            self.gc().await
        })
    }

    fn create_snapshot<'a>(
        &'a self,
        snapshot_id: &'a str,
        volume_id: &'a str,
    ) -> BackendFuture<'a, ()> {
        Box::pin(async move {
            check_id("snapshot", snapshot_id)?;
            check_id("volume", volume_id)?;
            let _g = self.lock().await;
            let name = self.layout.snapshots.join(snapshot_id);
            if name.exists() {
                return Ok(());
            }
            let layer = self.freeze(volume_id, snapshot_id).await?;
            match std::fs::hard_link(&layer, &name) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(&name)(e)),
            }
            files::sync_parent(&name).map_err(io_err(&name))
        })
    }

    fn begin_live_snapshot<'a>(
        &'a self,
        snapshot_id: &'a str,
        volume_id: &'a str,
    ) -> BackendFuture<'a, ()> {
        Box::pin(async move {
            check_id("snapshot", snapshot_id)?;
            check_id("volume", volume_id)?;
            let _g = self.lock().await;
            if self.layout.snapshots.join(snapshot_id).exists() {
                return Ok(());
            }
            // Steps 1 to 3, as for a detached volume; QEMU's descriptor
            // follows the old inode, now named only `layers/S`.
            self.freeze(volume_id, snapshot_id).await.map(drop)
        })
    }

    fn finish_live_snapshot<'a>(&'a self, snapshot_id: &'a str) -> BackendFuture<'a, ()> {
        Box::pin(async move {
            check_id("snapshot", snapshot_id)?;
            let _g = self.lock().await;
            let name = self.layout.snapshots.join(snapshot_id);
            let layer = self.snapshot_path(snapshot_id);
            match std::fs::hard_link(&layer, &name) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(BackendError::Missing(format!(
                        "layer of snapshot {snapshot_id}"
                    )))
                }
                Err(e) => return Err(io_err(&name)(e)),
            }
            files::sync_parent(&name).map_err(io_err(&name))
        })
    }

    fn delete_snapshot<'a>(&'a self, snapshot_id: &'a str) -> BackendFuture<'a, ()> {
        Box::pin(async move {
            check_id("snapshot", snapshot_id)?;
            let _g = self.lock().await;
            let name = self.layout.snapshots.join(snapshot_id);
            if remove_if_present(&name).map_err(io_err(&name))? {
                files::sync_parent(&name).map_err(io_err(&name))?;
            }
            self.gc().await
        })
    }

    fn connection(&self, volume_id: &str) -> Connection {
        Connection::File {
            path: self.volume_path(volume_id).to_string_lossy().into_owned(),
            format: "qcow2".into(),
        }
    }

    fn capacity(&self) -> BackendFuture<'_, Capacity> {
        Box::pin(async move {
            let root = self.root.clone();
            let volumes = self.layout.volumes.clone();
            tokio::task::spawn_blocking(move || -> Result<Capacity, BackendError> {
                let st = rustix::fs::statvfs(&root).map_err(|e| {
                    BackendError::Failed(format!("statvfs {}: {e}", root.display()))
                })?;
                let mut provisioned = 0u64;
                for id in files::list_ids(&volumes).map_err(io_err(&volumes))? {
                    match read_header(&volumes.join(&id)) {
                        Ok(h) => provisioned = provisioned.saturating_add(h.size),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_err(&volumes.join(&id))(e)),
                    }
                }
                Ok(Capacity {
                    total_gib: st.f_blocks.saturating_mul(st.f_frsize) / GIB,
                    free_gib: st.f_bavail.saturating_mul(st.f_frsize) / GIB,
                    provisioned_gib: provisioned.div_ceil(GIB),
                })
            })
            .await
            .map_err(|e| BackendError::Failed(format!("capacity: {e}")))?
        })
    }
}
