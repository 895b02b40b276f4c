//! Where image bytes live: the [`ImageDataStore`] trait and its local
//! directory implementation, [`LocalDataStore`].
//!
//! An upload is always streamed to a local staging file first, because the
//! image must be inspected (`ferrostack_image_inspect::inspect_file`)
//! before anything may use it, and the inspector reads headers at offsets
//! anywhere in the file. Only an accepted upload is handed to the store
//! with [`ImageDataStore::put`]: the local store renames the staged file
//! into place (same filesystem, atomic); an RBD store would import it.
//! Downloads are streams of chunks, so no image is ever held in memory.
//!
//! Rejected: letting the store receive the HTTP stream directly. Data that
//! fails inspection would then reach the backend before being refused.

use axum::body::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use std::io;
use std::path::{Path, PathBuf};
use tokio::io::AsyncReadExt;

/// A stream of image bytes.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// Size of the chunks downloads are read in.
const CHUNK: usize = 256 * 1024;

/// Image data storage.
pub trait ImageDataStore: Send + Sync {
    /// A new local path to stage an upload of `image_id` in (not created).
    fn staging_path(&self, image_id: &str) -> PathBuf;
    /// Take the inspected, staged file as the data of `image_id`. The
    /// staged file is consumed (moved or removed) on success.
    fn put<'a>(&'a self, image_id: &'a str, staged: &'a Path) -> BoxFuture<'a, io::Result<()>>;
    /// The data of `image_id` and its length, or `None` when there is none.
    fn get<'a>(&'a self, image_id: &'a str)
        -> BoxFuture<'a, io::Result<Option<(u64, ByteStream)>>>;
    /// Remove the data of `image_id`; no data is not an error.
    fn delete<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, io::Result<()>>;
    /// Where the staged data of `image_id` (`PUT .../stage`) is kept
    /// until its `glance-direct` import: a fixed local path per image,
    /// kept across restarts (an image may stay staged for days).
    fn stage_path(&self, image_id: &str) -> io::Result<PathBuf>;
}

/// Image files in one directory (`DATA_DIR/images`), named by image id.
#[derive(Clone, Debug)]
pub struct LocalDataStore {
    dir: PathBuf,
}

impl LocalDataStore {
    /// A store in `dir`, created (mode 0700) if missing. Staging files left
    /// by an interrupted run are removed.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        // Staged uploads of a previous run are unfinished by definition.
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.contains(".upload-") {
                tracing::warn!(file = %name, "removing an interrupted upload");
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(LocalDataStore { dir })
    }

    fn path(&self, image_id: &str) -> io::Result<PathBuf> {
        // Ids are UUIDs; anything else must never become a path.
        if !ferrostack_common::ids::is_uuid(image_id) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad image id"));
        }
        Ok(self.dir.join(image_id))
    }
}

impl ImageDataStore for LocalDataStore {
    fn staging_path(&self, image_id: &str) -> PathBuf {
        self.dir.join(format!(
            ".{}.upload-{}",
            image_id.replace(['/', '.'], "_"),
            ferrostack_common::ids::new_hex_id()
        ))
    }

    fn put<'a>(&'a self, image_id: &'a str, staged: &'a Path) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let target = self.path(image_id)?;
            tokio::fs::rename(staged, &target).await
        })
    }

    fn get<'a>(
        &'a self,
        image_id: &'a str,
    ) -> BoxFuture<'a, io::Result<Option<(u64, ByteStream)>>> {
        Box::pin(async move {
            let path = self.path(image_id)?;
            let file = match tokio::fs::File::open(&path).await {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let len = file.metadata().await?.len();
            let stream = futures_util::stream::unfold(Some(file), |state| async move {
                let mut file = state?;
                let mut buf = vec![0u8; CHUNK];
                match file.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(Bytes::from(buf)), Some(file)))
                    }
                    Err(e) => Some((Err(e), None)),
                }
            });
            Ok(Some((len, stream.boxed())))
        })
    }

    fn delete<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(image_id)?).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    }

    fn stage_path(&self, image_id: &str) -> io::Result<PathBuf> {
        // Validated as the data's own path is: ids never become paths.
        self.path(image_id)?;
        Ok(self.dir.join(format!(".{image_id}.staged")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn staged_files_are_put_read_back_in_chunks_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDataStore::open(dir.path().join("images")).unwrap();
        let id = ferrostack_common::ids::new_uuid();
        let staged = store.staging_path(&id);
        let data: Vec<u8> = (0..CHUNK * 2 + 7).map(|i| (i % 251) as u8).collect();
        std::fs::write(&staged, &data).unwrap();
        store.put(&id, &staged).await.unwrap();
        assert!(!staged.exists());
        let (len, mut stream) = store.get(&id).await.unwrap().unwrap();
        assert_eq!(len, data.len() as u64);
        let mut back = Vec::new();
        while let Some(chunk) = stream.next().await {
            back.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(back, data);
        store.delete(&id).await.unwrap();
        assert!(store.get(&id).await.unwrap().is_none());
        let stale = store.staging_path(&id);
        std::fs::write(&stale, b"half").unwrap();
        LocalDataStore::open(dir.path().join("images")).unwrap();
        assert!(!stale.exists(), "an interrupted upload is cleaned up");
        store.delete(&id).await.unwrap();
        assert!(store.get("../etc/passwd").await.is_err());
    }
}
