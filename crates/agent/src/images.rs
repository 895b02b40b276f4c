//! Base images for spawns: where an instance's `image_id` becomes the
//! local, verified file its overlay is backed by.
//!
//! The hypervisor never fetches anything: its spec names a `base_image`
//! path. The agent fills that path in before a spawn through
//! [`BaseImages`], so how bytes reach the host (a shared directory in the
//! all-in-one case, an HTTP download from the image service later) is one
//! trait away from the reconcile loop.

use ferrostack_hypervisor::BaseFormat;
use std::future::Future;
use std::path::PathBuf;
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
    /// Where verified copies live: `cache_dir/<image_id>`.
    pub cache_dir: PathBuf,
}

impl BaseImages for LocalBaseImages {
    fn ensure<'a>(&'a self, image_id: &'a str, _format: BaseFormat) -> EnsureFuture<'a> {
        Box::pin(async move { Err(format!("image {image_id}: not implemented yet")) })
    }
}
