//! The token and credential keys in the database, sealed with a master key
//! every controller holds.
//!
//! Why in the database: with several controllers on one PostgreSQL
//! database, each must seal and open tokens with the same keys and see a
//! rotation made on any of them. A directory per controller would need a
//! copying daemon and would still race; the database already gives every
//! controller the same view and serializes writers. SQLite clouds use the
//! same table: one code path, and `migrate-store` carries the keys along.
//!
//! Why sealed: the database is shared, backed up and copied; the keys in it
//! forge tokens for anyone. Each key is stored as
//!
//! ```text
//! sealed = "1:" base64url( nonce:24 | XChaCha20-Poly1305(key:32) )
//! associated data = "ferrostack-key:" repository ":" number
//! ```
//!
//! with the *master key*: 32 random bytes in a file, `DATA_DIR/master.key`
//! (0600), created on a controller's first start and copied by the operator
//! to every other controller. The associated data binds a sealed key to its
//! repository and number, so a row moved to another number does not open
//! (a promotion re-seals the staged key under its new number). A master
//! key that opens nothing is refused at start with the file's name, rather
//! than serving with no keys. Unsealed keys stay in this process's memory
//! (zeroized when dropped), never in a log, a response or the database.
//!
//! The layout of each repository is Keystone's Fernet one ([`crate::keys`]):
//! `0` staged, the highest number primary, the rest secondaries. A cloud
//! that kept its keys in directories (`token-keys/`, `credential-keys/`)
//! has them imported on its first start in one write, and the directories
//! renamed `*.imported`, so tokens and credentials sealed before go on
//! opening.
//!
//! Rejected: deriving the keys from the master key (a rotation would need a
//! new master key on every controller); storing them in the clear with the
//! database's own access control as the only guard.

use crate::keys::{Key, KeyRepository, KeySet};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ferrostack_store::token_key::{SealedKey, TokenKeyStore};
use ferrostack_store::StoreError;
use rand::RngCore;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The repository of the keys that seal tokens.
pub const TOKEN: &str = "token";
/// The repository of the keys that seal credential blobs.
pub const CREDENTIAL: &str = "credential";

/// Keys kept in the token repository: staged + primary + secondaries.
pub const DEFAULT_MAX_ACTIVE: usize = 3;

/// Why the keys could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// The master key does not open the stored keys.
    #[error(
        "the master key {0} does not open the token keys in the database: every controller \
         of a cloud needs the same master key file (copy it from a controller that serves it)"
    )]
    WrongMasterKey(PathBuf),
    /// The master key file is unreadable, malformed or cannot be created.
    #[error("master key {path}: {error}")]
    MasterKeyFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// A stored key is not in the sealed format.
    #[error("stored {0} key {1} is malformed")]
    Malformed(String, u32),
    /// There are no keys to rotate.
    #[error("the database holds no token keys yet: start a controller once first")]
    NoKeys,
    /// Reading an old key directory failed.
    #[error("cannot import the key directory {path}: {error}")]
    Import {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The store failed.
    #[error("token keys: {0}")]
    Store(#[from] StoreError),
}

/// The master key: seals every stored key. Its `Debug` shows only the path.
pub struct MasterKey {
    key: Key,
    path: PathBuf,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.path.display())
    }
}

impl MasterKey {
    /// Read the master key at `path`, creating it (32 random bytes, 0600)
    /// when absent. Two processes starting at once create one file: the
    /// loser of the exclusive create reads the winner's.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, KeyStoreError> {
        let file_error = |error| KeyStoreError::MasterKeyFile {
            path: path.to_path_buf(),
            error,
        };
        if !path.exists() {
            let mut key = Zeroizing::new([0u8; 32]);
            rand::rngs::OsRng.fill_bytes(key.as_mut());
            // Written whole under a temporary name, then linked in place
            // only if nothing is there yet.
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(file_error)?;
            f.write_all(key.as_ref())
                .and_then(|()| f.sync_all())
                .map_err(file_error)?;
            let linked = std::fs::hard_link(&tmp, path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => tracing::info!(path = %path.display(), "created the master key"),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(file_error(e)),
            }
        }
        Self::load(path)
    }

    /// Read the master key at `path`, which must exist.
    pub fn load(path: &Path) -> Result<MasterKey, KeyStoreError> {
        let file_error = |error| KeyStoreError::MasterKeyFile {
            path: path.to_path_buf(),
            error,
        };
        let mut raw = Zeroizing::new(Vec::with_capacity(33));
        std::fs::File::open(path)
            .and_then(|f| f.take(33).read_to_end(&mut raw))
            .map_err(file_error)?;
        if raw.len() != 32 {
            return Err(file_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "expected exactly 32 bytes",
            )));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&raw);
        Ok(MasterKey {
            key,
            path: path.to_path_buf(),
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A secret for `purpose` that only holders of this key can compute
    /// (HMAC-SHA256 of the purpose, hex): the controllers of one cloud
    /// share the master key, so they agree on it without storing it, and
    /// it reveals nothing of the key itself.
    pub fn derive(&self, purpose: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(self.key.as_ref())
            .expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Where the keys come from: the master key, and the directory of an older
/// cloud's token keys to import on first start (its credential keys sit
/// beside it, see [`legacy_credential_dir`]).
#[derive(Debug)]
pub struct KeySource {
    /// The master key.
    pub master: MasterKey,
    /// The old token key directory, if the cloud may have one.
    pub legacy_dir: Option<PathBuf>,
}

impl KeySource {
    /// A data directory's: `DIR/master.key` (created when absent) and the
    /// old key directory `DIR/token-keys`.
    pub fn in_data_dir(dir: &Path) -> Result<KeySource, KeyStoreError> {
        Ok(KeySource {
            master: MasterKey::load_or_create(&dir.join("master.key"))?,
            legacy_dir: Some(dir.join("token-keys")),
        })
    }
}

/// The old credential key directory beside the old token key directory.
pub fn legacy_credential_dir(token_dir: &Path) -> PathBuf {
    token_dir
        .parent()
        .unwrap_or(token_dir)
        .join("credential-keys")
}

/// What [`SharedKeys::ensure`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Ensured {
    /// The database held keys already.
    Present,
    /// Fresh keys were created.
    Created,
    /// The old directories' keys were imported.
    Imported,
}

/// The key repositories in the database, opened with the master key.
#[derive(Clone)]
pub struct SharedKeys {
    store: Arc<dyn TokenKeyStore>,
    master: Arc<MasterKey>,
}

impl SharedKeys {
    /// The keys in `store`, sealed with `master`.
    pub fn new(store: Arc<dyn TokenKeyStore>, master: MasterKey) -> Self {
        SharedKeys {
            store,
            master: Arc::new(master),
        }
    }

    /// The master key's file.
    pub fn master_key_path(&self) -> &Path {
        self.master.path()
    }

    fn aad(repository: &str, number: u32) -> Vec<u8> {
        format!("ferrostack-key:{repository}:{number}").into_bytes()
    }

    fn seal(&self, repository: &str, number: u32, key: &[u8; 32]) -> SealedKey {
        let cipher = XChaCha20Poly1305::new(self.master.key.as_ref().into());
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = Self::aad(repository, number);
        // Encryption with a valid key and nonce cannot fail.
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: key,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&ct);
        SealedKey {
            repository: repository.to_string(),
            number,
            sealed: format!("1:{}", URL_SAFE_NO_PAD.encode(raw)),
        }
    }

    fn fresh(&self, repository: &str, number: u32) -> SealedKey {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        self.seal(repository, number, &key)
    }

    fn open(&self, k: &SealedKey) -> Result<Key, KeyStoreError> {
        let malformed = || KeyStoreError::Malformed(k.repository.clone(), k.number);
        let body = k.sealed.strip_prefix("1:").ok_or_else(malformed)?;
        let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| malformed())?;
        if raw.len() < 24 {
            return Err(malformed());
        }
        let (nonce, ct) = raw.split_at(24);
        let cipher = XChaCha20Poly1305::new(self.master.key.as_ref().into());
        let clear = Zeroizing::new(
            cipher
                .decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: ct,
                        aad: &Self::aad(&k.repository, k.number),
                    },
                )
                .map_err(|_| KeyStoreError::WrongMasterKey(self.master.path.clone()))?,
        );
        if clear.len() != 32 {
            return Err(malformed());
        }
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&clear);
        Ok(key)
    }

    fn open_all(&self, stored: &[SealedKey]) -> Result<(KeySet, KeySet), KeyStoreError> {
        let mut token = BTreeMap::new();
        let mut credential = BTreeMap::new();
        for k in stored {
            match k.repository.as_str() {
                TOKEN => token.insert(k.number, self.open(k)?),
                CREDENTIAL => credential.insert(k.number, self.open(k)?),
                _ => None,
            };
        }
        Ok((KeySet { keys: token }, KeySet { keys: credential }))
    }

    /// The token keys and the credential keys, opened.
    pub fn load(&self) -> Result<(KeySet, KeySet), KeyStoreError> {
        self.open_all(&self.store.list_token_keys()?)
    }

    /// Make sure both repositories hold keys: import them from the old
    /// directories beside `legacy_dir` when those exist, else create a
    /// staged and a primary key; one write either way. Then check that the
    /// master key opens what is stored.
    pub fn ensure(&self, legacy_dir: Option<&Path>) -> Result<Ensured, KeyStoreError> {
        let dirs = legacy_dir.map(|d| {
            [
                (TOKEN, d.to_path_buf()),
                (CREDENTIAL, legacy_credential_dir(d)),
            ]
        });
        let mut legacy: BTreeMap<&str, Vec<SealedKey>> = BTreeMap::new();
        for (repository, dir) in dirs.iter().flatten() {
            let set = KeyRepository::new(dir, DEFAULT_MAX_ACTIVE)
                .load()
                .map_err(|error| KeyStoreError::Import {
                    path: dir.clone(),
                    error,
                })?;
            if !set.keys.is_empty() {
                let sealed = set
                    .keys
                    .iter()
                    .map(|(n, k)| self.seal(repository, *n, k))
                    .collect();
                legacy.insert(repository, sealed);
            }
        }
        let mut outcome = Ensured::Present;
        let stored = self.store.change_token_keys(&mut |now| {
            outcome = Ensured::Present;
            let mut next = now.to_vec();
            for repository in [TOKEN, CREDENTIAL] {
                if now.iter().any(|k| k.repository == repository) {
                    continue;
                }
                match legacy.get(repository) {
                    Some(keys) => {
                        next.extend(keys.iter().cloned());
                        outcome = Ensured::Imported;
                    }
                    None => {
                        next.push(self.fresh(repository, 0));
                        next.push(self.fresh(repository, 1));
                        if outcome == Ensured::Present {
                            outcome = Ensured::Created;
                        }
                    }
                }
            }
            Ok((next.len() != now.len()).then_some(next))
        })?;
        let (token, credential) = self.open_all(&stored)?;
        if let Some(dirs) = dirs {
            for ((repository, dir), set) in dirs.iter().zip([&token, &credential]) {
                retire_directory(repository, dir, set, outcome == Ensured::Imported);
            }
        }
        Ok(outcome)
    }

    /// Rotate the token keys in one write: the staged key becomes primary
    /// (re-sealed under its new number), a fresh key is staged, and the
    /// oldest secondaries beyond `max_active` (at least 3) retire. Returns
    /// the new primary's number.
    pub fn rotate(&self, max_active: usize) -> Result<u32, KeyStoreError> {
        let max_active = max_active.max(3);
        let mut primary = 0;
        self.store
            .change_token_keys(&mut |now| {
                let (token, mut next): (Vec<_>, Vec<_>) =
                    now.iter().cloned().partition(|k| k.repository == TOKEN);
                let staged = token
                    .iter()
                    .find(|k| k.number == 0)
                    .ok_or_else(|| refused(KeyStoreError::NoKeys))?;
                let promoted = token.iter().map(|k| k.number).max().unwrap_or(0) + 1;
                let key = self.open(staged).map_err(refused)?;
                let mut secondaries: Vec<SealedKey> =
                    token.into_iter().filter(|k| k.number != 0).collect();
                // staged + primary + secondaries <= max_active
                while secondaries.len() + 2 > max_active {
                    secondaries.remove(0);
                }
                next.extend(secondaries);
                next.push(self.seal(TOKEN, promoted, &key));
                next.push(self.fresh(TOKEN, 0));
                primary = promoted;
                Ok(Some(next))
            })
            .map_err(|e| match e {
                StoreError::Refused(inner) => match inner.downcast::<KeyStoreError>() {
                    Ok(k) => *k,
                    Err(other) => KeyStoreError::Store(StoreError::Refused(other)),
                },
                other => other.into(),
            })?;
        Ok(primary)
    }
}

fn refused(e: KeyStoreError) -> StoreError {
    StoreError::Refused(Box::new(e))
}

/// After an import (or when the database holds exactly the directory's
/// keys, an import interrupted before the rename), rename the old key
/// directory `*.imported`; a directory whose keys differ from the stored
/// ones is left alone with a warning (this controller's old keys, not the
/// cloud's).
fn retire_directory(repository: &str, dir: &Path, stored: &KeySet, imported: bool) {
    let Ok(on_disk) = KeyRepository::new(dir, DEFAULT_MAX_ACTIVE).load() else {
        return;
    };
    if on_disk.keys.is_empty() {
        return;
    }
    let same = on_disk.keys.len() == stored.keys.len()
        && on_disk
            .keys
            .iter()
            .all(|(n, k)| stored.keys.get(n).is_some_and(|s| s[..] == k[..]));
    if !same {
        tracing::warn!(
            dir = %dir.display(),
            "the {repository} key directory differs from the keys in the database and is ignored"
        );
        return;
    }
    let mut target = dir.as_os_str().to_owned();
    target.push(".imported");
    match std::fs::rename(dir, &target) {
        Ok(()) => tracing::info!(
            from = %dir.display(),
            to = %Path::new(&target).display(),
            imported,
            "the {repository} keys are in the database now; renamed their old directory"
        ),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot rename the imported key directory")
        }
    }
}

#[cfg(test)]
mod tests;
