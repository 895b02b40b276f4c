//! The token key repository: a directory of numbered 256-bit keys.
//!
//! The layout and rotation follow Keystone's Fernet repository so operators
//! already know it: key `0` is *staged* (distributed but not yet used), the
//! highest number is *primary* (encrypts new tokens), the rest are
//! *secondary* (still decrypt tokens issued before a rotation). Rotation
//! promotes the staged key to primary, stages a fresh key `0`, and retires
//! the oldest secondaries beyond `max_active`. A token names the key that
//! sealed it, so decryption never has to try keys in turn.
//!
//! The keys themselves now live in the database ([`crate::key_store`],
//! same layout and rotation, shared by every controller); this directory
//! form remains as what older clouds kept under `DATA_DIR/token-keys/` and
//! `DATA_DIR/credential-keys/`, read once to import them.
//!
//! Files are written 0600 via a temporary file and rename, so a crash
//! mid-rotation never leaves a half-written key.

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use rand::RngCore;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// One 256-bit key.
pub type Key = Zeroizing<[u8; 32]>;

/// The keys loaded from a repository.
pub struct KeySet {
    /// Key number -> key.
    pub keys: BTreeMap<u32, Key>,
}

impl KeySet {
    /// The primary key (highest number) and its number.
    pub fn primary(&self) -> Option<(u32, &Key)> {
        self.keys.iter().next_back().map(|(n, k)| (*n, k))
    }
}

/// A key repository directory.
#[derive(Clone, Debug)]
pub struct KeyRepository {
    dir: PathBuf,
    max_active: usize,
}

impl KeyRepository {
    /// A repository at `dir` keeping at most `max_active` keys (staged + primary + secondaries, at least 3).
    pub fn new(dir: impl Into<PathBuf>, max_active: usize) -> Self {
        KeyRepository {
            dir: dir.into(),
            max_active: max_active.max(3),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Create the repository with a staged and a primary key if it is empty.
    pub fn ensure_initialized(&self) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))?;
        if self.list_numbers()?.is_empty() {
            self.write_key(0)?;
            self.write_key(1)?;
        }
        Ok(())
    }

    /// Load every key.
    pub fn load(&self) -> std::io::Result<KeySet> {
        let mut keys = BTreeMap::new();
        for n in self.list_numbers()? {
            let text = Zeroizing::new(fs::read_to_string(self.dir.join(n.to_string()))?);
            let raw = Zeroizing::new(URL_SAFE.decode(text.trim()).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("key {n}: {e}"))
            })?);
            let mut key = Zeroizing::new([0u8; 32]);
            if raw.len() != 32 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("key {n} is {} bytes, expected 32", raw.len()),
                ));
            }
            key.copy_from_slice(&raw);
            keys.insert(n, key);
        }
        Ok(KeySet { keys })
    }

    /// Rotate: staged becomes primary, a new staged key appears, old ones retire.
    /// Returns the new primary's number.
    pub fn rotate(&self) -> std::io::Result<u32> {
        self.ensure_initialized()?;
        let numbers = self.list_numbers()?;
        let next = numbers.iter().max().copied().unwrap_or(0) + 1;
        fs::rename(self.dir.join("0"), self.dir.join(next.to_string()))?;
        self.write_key(0)?;
        let mut secondaries: Vec<u32> = self
            .list_numbers()?
            .into_iter()
            .filter(|n| *n != 0 && *n != next)
            .collect();
        secondaries.sort_unstable();
        // staged + primary + secondaries <= max_active
        while secondaries.len() + 2 > self.max_active {
            let oldest = secondaries.remove(0);
            fs::remove_file(self.dir.join(oldest.to_string()))?;
        }
        Ok(next)
    }

    fn list_numbers(&self) -> std::io::Result<Vec<u32>> {
        let mut out = Vec::new();
        match fs::read_dir(&self.dir) {
            Ok(entries) => {
                for entry in entries {
                    if let Some(n) = entry?
                        .file_name()
                        .to_str()
                        .and_then(|s| s.parse::<u32>().ok())
                    {
                        out.push(n);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        out.sort_unstable();
        Ok(out)
    }

    fn write_key(&self, n: u32) -> std::io::Result<()> {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        let encoded = Zeroizing::new(URL_SAFE.encode(key.as_ref()));
        let tmp = self.dir.join(format!(".{n}.tmp"));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(encoded.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, self.dir.join(n.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initialization_creates_staged_and_primary() {
        let d = tempfile::tempdir().unwrap();
        let repo = KeyRepository::new(d.path().join("keys"), 3);
        repo.ensure_initialized().unwrap();
        let set = repo.load().unwrap();
        assert_eq!(set.keys.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(set.primary().unwrap().0, 1);
        let mode = fs::metadata(d.path().join("keys/1"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn rotation_promotes_staged_and_retires_oldest() {
        let d = tempfile::tempdir().unwrap();
        let repo = KeyRepository::new(d.path(), 3);
        repo.ensure_initialized().unwrap();
        let staged_before = repo.load().unwrap().keys[&0].clone();
        assert_eq!(repo.rotate().unwrap(), 2);
        let set = repo.load().unwrap();
        assert_eq!(set.keys.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(*set.keys[&2], *staged_before, "staged key became primary");
        repo.rotate().unwrap();
        let set = repo.load().unwrap();
        assert_eq!(set.keys.keys().copied().collect::<Vec<_>>(), vec![0, 2, 3]);
    }
}
