//! The files of the local backend: names, qcow2 headers, durable renames
//! and the garbage collection of layers nothing depends on.

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Whether `id` is a UUID (dashed or 32-hex), so that it can be a file
/// name: no `/`, no `..`, no braces or `urn:` prefix.
pub(crate) fn is_safe_id(id: &str) -> bool {
    (id.len() == 36 || id.len() == 32)
        && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && uuid::Uuid::try_parse(id).is_ok()
}

/// What the header of a qcow2 file this backend wrote says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Qcow2Header {
    /// Virtual size in bytes.
    pub size: u64,
    /// The backing file, as recorded (absolute here).
    pub backing: Option<PathBuf>,
}

const QCOW2_MAGIC: u32 = 0x5146_49fb;

/// Reads a qcow2 header: a few bytes, no process. Only for files this
/// backend created (volume tops and frozen layers); image references are
/// user data and are never parsed here.
pub(crate) fn read_header(path: &Path) -> io::Result<Qcow2Header> {
    let f = std::fs::File::open(path)?;
    let mut h = [0u8; 32];
    (&f).read_exact(&mut h)?;
    let be32 = |o: usize| u32::from_be_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
    let be64 = |o: usize| (u64::from(be32(o)) << 32) | u64::from(be32(o + 4));
    if be32(0) != QCOW2_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not a qcow2 file", path.display()),
        ));
    }
    let (off, len) = (be64(8), be32(16) as usize);
    let backing = if off == 0 || len == 0 {
        None
    } else {
        if len > 4096 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: backing file name too long", path.display()),
            ));
        }
        let mut name = vec![0u8; len];
        f.read_exact_at(&mut name, off)?;
        use std::os::unix::ffi::OsStringExt;
        Some(PathBuf::from(std::ffi::OsString::from_vec(name)))
    };
    Ok(Qcow2Header {
        size: be64(24),
        backing,
    })
}

/// `rename(2)` then fsync of the directory, so that the new name survives
/// a power cut.
pub(crate) fn rename_durable(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(from, to)?;
    sync_parent(to)
}

/// fsync of the directory holding `path`.
pub(crate) fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

/// fsync of a file's data and metadata.
pub(crate) fn sync_file(path: &Path) -> io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .sync_all()
}

/// Removes a file; a missing file is not an error.
pub(crate) fn remove_if_present(path: &Path) -> io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The ids (file names that are safe ids) in a directory; temporary
/// files (dot names) are left out. A missing directory is empty.
pub(crate) fn list_ids(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids = Vec::new();
    for e in entries {
        if let Some(name) = e?.file_name().to_str() {
            if is_safe_id(name) {
                ids.push(name.to_string());
            }
        }
    }
    Ok(ids)
}

/// Removes temporary files (dot names) left in `dir` by an interrupted
/// call. Only called with the backend's lock held, so none is in use.
pub(crate) fn remove_temporaries(dir: &Path) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        if e.file_name().to_string_lossy().starts_with('.') {
            remove_if_present(&e.path())?;
        }
    }
    Ok(())
}

/// The directories of a backend root.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub volumes: PathBuf,
    pub layers: PathBuf,
    pub snapshots: PathBuf,
    pub images: PathBuf,
    pub tmp: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: &Path) -> Self {
        Layout {
            volumes: root.join("volumes"),
            layers: root.join("layers"),
            snapshots: root.join("snapshots"),
            images: root.join("images"),
            tmp: root.join("tmp"),
        }
    }

    /// Removes frozen layers and image references that no volume top, no
    /// other kept layer and no snapshot name depends on, until none is
    /// left; returns the removed paths. Derived from the files alone (the
    /// backing name in each qcow2 header), so it is right after a restart
    /// or a crash at any point: there is no index to get out of step.
    pub(crate) fn collect_garbage(&self) -> io::Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        loop {
            let mut needed: BTreeSet<PathBuf> = BTreeSet::new();
            for id in list_ids(&self.snapshots)? {
                needed.insert(self.layers.join(id));
            }
            let layers = list_ids(&self.layers)?;
            let tops = list_ids(&self.volumes)?;
            let files = tops
                .iter()
                .map(|id| self.volumes.join(id))
                .chain(layers.iter().map(|id| self.layers.join(id)));
            for f in files {
                match read_header(&f) {
                    Ok(h) => needed.extend(h.backing),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            let mut progress = false;
            let images = list_ids(&self.images)?;
            let candidates = layers
                .iter()
                .map(|id| self.layers.join(id))
                .chain(images.iter().map(|id| self.images.join(id)));
            for path in candidates {
                if !needed.contains(&path) && remove_if_present(&path)? {
                    removed.push(path);
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        if !removed.is_empty() {
            sync_parent(&self.layers.join("x"))?;
            sync_parent(&self.images.join("x"))?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uuids_are_safe_ids() {
        assert!(is_safe_id("9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"));
        assert!(is_safe_id("9b1deb4d3b7d4bad9bdd2b0d7b3dcb6d"));
        assert!(!is_safe_id("../etc/passwd"));
        assert!(!is_safe_id("{9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d}"));
        assert!(!is_safe_id("urn:uuid:9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"));
        assert!(!is_safe_id(""));
    }
}
