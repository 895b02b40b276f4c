//! Base images of a remote host, downloaded from the controller.
//!
//! The same rules as [`crate::LocalBaseImages`]: image bytes are
//! untrusted, so a file enters the cache only under a temporary name and
//! is renamed into place after `ferrostack_image_inspect` accepted it as
//! the declared format; a cache entry is therefore always verified and
//! concurrent `ensure` calls need no lock. Only the fetch differs: an
//! HTTP download of `GET /internal/host/v1/images/{id}` instead of a hard
//! link.

use super::{RemoteControlPlane, REQUEST_TIMEOUT};
use crate::images::{is_plain_uuid, verify, EnsureFuture};
use crate::BaseImages;
use ferrostack_hypervisor::BaseFormat;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Base images fetched over the host API into a local cache.
#[derive(Clone)]
pub struct RemoteBaseImages {
    plane: RemoteControlPlane,
    cache_dir: PathBuf,
}

impl std::fmt::Debug for RemoteBaseImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteBaseImages")
            .field("controllers", &self.plane.controllers.bases)
            .field("cache_dir", &self.cache_dir)
            .finish()
    }
}

impl RemoteBaseImages {
    /// Images from the controller `plane` talks to, cached in
    /// `cache_dir/<image_id>` (created on first use).
    pub fn new(plane: RemoteControlPlane, cache_dir: impl Into<PathBuf>) -> Self {
        RemoteBaseImages {
            plane,
            cache_dir: cache_dir.into(),
        }
    }

    async fn ensure_inner(&self, image_id: &str, format: BaseFormat) -> Result<PathBuf, String> {
        if !is_plain_uuid(image_id) {
            return Err(format!("image id {image_id:?} is not a UUID"));
        }
        let cached = std::path::absolute(self.cache_dir.join(image_id))
            .map_err(|e| format!("{}: {e}", self.cache_dir.display()))?;
        if tokio::fs::try_exists(&cached).await.unwrap_or(false) {
            let c = cached.clone();
            match blocking(move || verify(&c, format)).await {
                Ok(()) => return Ok(cached),
                Err(e) => {
                    tracing::warn!(image = image_id, error = %e, "cached base image fails inspection; downloading it again");
                    let _ = tokio::fs::remove_file(&cached).await;
                }
            }
        }
        tokio::fs::create_dir_all(&self.cache_dir)
            .await
            .map_err(|e| format!("{}: {e}", self.cache_dir.display()))?;
        let tmp = self
            .cache_dir
            .join(format!(".{image_id}.tmp-{}", uuid::Uuid::new_v4().simple()));
        let r = match self.download(image_id, &tmp).await {
            Ok(()) => {
                let (t, c) = (tmp.clone(), cached.clone());
                blocking(move || {
                    verify(&t, format)?;
                    std::fs::rename(&t, &c).map_err(|e| format!("{}: {e}", c.display()))
                })
                .await
            }
            Err(e) => Err(e),
        };
        let _ = tokio::fs::remove_file(&tmp).await;
        r.map(|()| cached)
    }

    /// Streams the image into `tmp`; every chunk must arrive within
    /// [`REQUEST_TIMEOUT`] (a large image may take long as a whole).
    async fn download(&self, image_id: &str, tmp: &Path) -> Result<(), String> {
        let url = self.plane.url(&format!("/images/{image_id}"));
        let rb = self.plane.client.get(&url).bearer_auth(&self.plane.token);
        let mut resp = tokio::time::timeout(REQUEST_TIMEOUT, rb.send())
            .await
            .map_err(|_| format!("downloading image {image_id}: the controller did not answer"))?
            .map_err(|e| {
                self.plane.controllers.failed(&e);
                format!("downloading image {image_id}: {e}")
            })?;
        if !resp.status().is_success() {
            let status = resp.status();
            let detail = super::error_message(resp).await;
            return Err(format!(
                "downloading image {image_id}: controller answered {status}: {detail}"
            ));
        }
        let mut file = tokio::fs::File::create(tmp)
            .await
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        loop {
            let chunk = tokio::time::timeout(REQUEST_TIMEOUT, resp.chunk())
                .await
                .map_err(|_| format!("downloading image {image_id}: the transfer stalled"))?
                .map_err(|e| format!("downloading image {image_id}: {e}"))?;
            let Some(chunk) = chunk else { break };
            file.write_all(&chunk)
                .await
                .map_err(|e| format!("{}: {e}", tmp.display()))?;
        }
        file.sync_all()
            .await
            .map_err(|e| format!("{}: {e}", tmp.display()))
    }
}

/// Runs blocking file work (inspection, rename) off the runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("inspection task: {e}"))?
}

impl BaseImages for RemoteBaseImages {
    fn ensure<'a>(&'a self, image_id: &'a str, format: BaseFormat) -> EnsureFuture<'a> {
        Box::pin(self.ensure_inner(image_id, format))
    }
}
