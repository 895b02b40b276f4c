//! Base images for spawns: where an instance's `image_id` becomes the
//! local, verified file its overlay is backed by.
//!
//! The hypervisor never fetches anything: its spec names a `base_image`
//! path. The agent fills that path in before a spawn through
//! [`BaseImages`], so how bytes reach the host (a shared directory in the
//! all-in-one case, an HTTP download from the image service later) is one
//! trait away from the reconcile loop.
//!
//! [`LocalBaseImages`] is the all-in-one case: the image service keeps
//! image bytes in a directory on the same host. A base image is what QEMU
//! will parse, and an image's bytes are untrusted user input, so the cache
//! only ever holds files that passed `ferrostack_image_inspect` as the
//! declared format (no backing file, no data file: an overlay on such a
//! base can only read the base). A file reaches the cache under a
//! temporary name and is renamed into place only after inspection, so a
//! cache entry is always a verified file and concurrent `ensure` calls for
//! one image are safe without a lock (each works on its own temporary
//! file; the last rename wins with identical content). It is a hard link
//! when the directories share a file system (no copy, no extra space;
//! images are immutable once uploaded), a copy otherwise.

use ferrostack_hypervisor::BaseFormat;
use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

/// The future [`BaseImages::ensure`] returns.
pub type EnsureFuture<'a> = Pin<Box<dyn Future<Output = Result<PathBuf, String>> + Send + 'a>>;

/// Makes base images available on this host.
pub trait BaseImages: Send + Sync {
    /// Makes image `image_id` available locally as a verified file of
    /// `format` and returns its absolute path. The error is a message for
    /// the instance's fault.
    fn ensure<'a>(&'a self, image_id: &'a str, format: BaseFormat) -> EnsureFuture<'a>;
}

/// Images kept by the image service in a local directory, cached (by hard
/// link when possible) and inspected before use.
#[derive(Debug, Clone)]
pub struct LocalBaseImages {
    /// Where the image service keeps image bytes: `source_dir/<image_id>`.
    pub source_dir: PathBuf,
    /// Where verified base images live: `cache_dir/<image_id>`.
    pub cache_dir: PathBuf,
}

impl LocalBaseImages {
    /// A provider over these directories (`cache_dir` is created on first
    /// use).
    pub fn new(source_dir: impl Into<PathBuf>, cache_dir: impl Into<PathBuf>) -> Self {
        LocalBaseImages {
            source_dir: source_dir.into(),
            cache_dir: cache_dir.into(),
        }
    }

    /// Removes cache entries whose image id is not in `in_use`; returns how
    /// many. Only image entries are touched (not temporary files of an
    /// `ensure` in progress). A missing cache directory is empty.
    pub fn prune(
        &self,
        in_use: &BTreeSet<String>,
        min_age: std::time::Duration,
    ) -> io::Result<usize> {
        use std::os::unix::fs::MetadataExt;
        let entries = match std::fs::read_dir(&self.cache_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let mut removed = 0;
        for e in entries {
            let e = e?;
            let Some(name) = e.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if !is_plain_uuid(&name) || in_use.contains(&name) {
                continue;
            }
            // Linking an entry in changes its inode's ctime: an entry made
            // for a spawn that is not in `in_use` yet is young, and kept.
            let changed = match e.metadata() {
                Ok(m) => m.ctime(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if now.saturating_sub(changed) < min_age.as_secs() as i64 {
                continue;
            }
            match std::fs::remove_file(e.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// The blocking body of [`BaseImages::ensure`].
    fn ensure_blocking(&self, image_id: &str, format: BaseFormat) -> Result<PathBuf, String> {
        if !is_plain_uuid(image_id) {
            return Err(format!("image id {image_id:?} is not a UUID"));
        }
        let cached = std::path::absolute(self.cache_dir.join(image_id))
            .map_err(|e| format!("{}: {e}", self.cache_dir.display()))?;
        if cached.exists() {
            match verify(&cached, format) {
                Ok(()) => return Ok(cached),
                Err(e) => {
                    tracing::warn!(image = image_id, error = %e, "cached base image fails inspection; fetching it again");
                    let _ = std::fs::remove_file(&cached);
                }
            }
        }
        std::fs::create_dir_all(&self.cache_dir)
            .map_err(|e| format!("{}: {e}", self.cache_dir.display()))?;
        let source = self.source_dir.join(image_id);
        let tmp = self
            .cache_dir
            .join(format!(".{image_id}.tmp-{}", uuid::Uuid::new_v4().simple()));
        let r = fetch(&source, &tmp)
            .and_then(|()| verify(&tmp, format))
            .and_then(|()| {
                std::fs::rename(&tmp, &cached).map_err(|e| format!("{}: {e}", cached.display()))
            });
        // Also after a successful rename: renaming a hard link onto
        // another link of the same file (a concurrent ensure linked the
        // same source first) does nothing and leaves the temporary name.
        let _ = std::fs::remove_file(&tmp);
        r.map(|()| cached)
    }
}

/// Hard-links `source` to `tmp`, or copies it across file systems.
fn fetch(source: &Path, tmp: &Path) -> Result<(), String> {
    match std::fs::hard_link(source, tmp) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => std::fs::copy(source, tmp)
            .map(|_| ())
            .map_err(|e| format!("copying {}: {e}", source.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(format!(
            "{} not found (is the image uploaded?)",
            source.display()
        )),
        Err(e) => Err(format!("linking {}: {e}", source.display())),
    }
}

/// The image must be the declared format with no safety issue.
pub(crate) fn verify(path: &Path, format: BaseFormat) -> Result<(), String> {
    ferrostack_image_inspect::inspect_file(path, format.as_str())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

impl BaseImages for LocalBaseImages {
    fn ensure<'a>(&'a self, image_id: &'a str, format: BaseFormat) -> EnsureFuture<'a> {
        Box::pin(async move {
            // Inspection and copying are blocking file I/O.
            let this = self.clone();
            let id = image_id.to_owned();
            tokio::task::spawn_blocking(move || this.ensure_blocking(&id, format))
                .await
                .map_err(|e| format!("image {image_id}: {e}"))?
        })
    }
}

/// Whether `s` is a UUID in its plain hyphenated form: safe as a file
/// name (no `/`, no `..`, no braces).
pub(crate) fn is_plain_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}
