//! What the volume service asks of other services in the same process,
//! as traits the binary implements (the volume crate links neither the
//! image service nor compute).
//!
//! - [`ImageFiles`]: an image id to the verified local file a backend
//!   copies from (`imageRef` on volume create, boot from volume).
//! - [`AttachedVolumeEvents`]: compute learns that an attached volume
//!   grew, and grows the running guest's disk (QMP `block_resize` through
//!   the instance's spec), and that a live snapshot froze an attached
//!   volume's top, so the guests move their disk onto the new top (QMP
//!   `blockdev-snapshot` through the instance's spec) before the snapshot
//!   exists.

use crate::backend::ImageFile;
use futures::future::BoxFuture;

/// Why an image cannot be used for a volume.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// No such image, or not visible to the project (Cinder's 404
    /// `ImageNotFound`).
    #[error("Image {0} could not be found.")]
    NotFound(String),
    /// The image exists but cannot be used (not active, no data, an
    /// unsupported format): Cinder's 400.
    #[error("{0}")]
    Unusable(String),
}

/// Image data for volumes, as the image service keeps it.
pub trait ImageFiles: Send + Sync {
    /// The file of `image_id` if it is active and `project_id` may use it
    /// (public, shared with it, or its own; any image for an admin).
    fn image_file<'a>(
        &'a self,
        project_id: &'a str,
        is_admin: bool,
        image_id: &'a str,
    ) -> BoxFuture<'a, Result<ImageFile, ImageError>>;
}

/// No image service: every image is not found (tests, and until wired).
pub struct NoImages;

impl ImageFiles for NoImages {
    fn image_file<'a>(
        &'a self,
        _project_id: &'a str,
        _is_admin: bool,
        image_id: &'a str,
    ) -> BoxFuture<'a, Result<ImageFile, ImageError>> {
        Box::pin(async move { Err(ImageError::NotFound(image_id.to_string())) })
    }
}

/// Events about attached volumes that compute acts on.
pub trait AttachedVolumeEvents: Send + Sync {
    /// An attached volume is now `new_size_gib` (the API already recorded
    /// it): grow the disk of the guests it is attached to.
    fn extended(&self, volume_id: &str, new_size_gib: u64);

    /// The backend froze the top of attached volume `volume_id` (a live
    /// snapshot's first step): switch the disk of every running guest it
    /// is attached to onto the new top, and answer once the hosts report
    /// it done, or no guest holds the old top any more (detached,
    /// stopped). An error (the message for operators) when that is not
    /// known within `deadline`.
    fn top_frozen<'a>(
        &'a self,
        volume_id: &'a str,
        deadline: std::time::Duration,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// Nobody listens (tests, and until compute implements the trait).
pub struct NoEvents;

impl AttachedVolumeEvents for NoEvents {
    fn extended(&self, volume_id: &str, new_size_gib: u64) {
        tracing::debug!(volume_id, new_size_gib, "no listener for extended volumes");
    }

    fn top_frozen<'a>(
        &'a self,
        volume_id: &'a str,
        _deadline: std::time::Duration,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            Err(format!(
                "no compute service to switch the guests of volume {volume_id}"
            ))
        })
    }
}
