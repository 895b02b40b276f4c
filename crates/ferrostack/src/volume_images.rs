//! The volume service's [`ImageFiles`] over the image service's rows and
//! files: an active image the project may use (its own, public or
//! community, or shared with it and accepted; any for an admin) is
//! `DATA_DIR/images/<id>`, as `ferrostack_image::LocalDataStore` keeps it.
//!
//! It lives in the binary so the volume crate does not link the image
//! service: the two meet only here, through the store's image records.

use ferrostack_store::image::ImageStore;
use ferrostack_volume::backend::ImageFile;
use ferrostack_volume::hooks::{ImageError, ImageFiles};
use futures::future::BoxFuture;
use std::path::PathBuf;
use std::sync::Arc;

/// Image files for volumes, read from the image store.
pub struct StoreImageFiles {
    /// The image records.
    pub images: Arc<dyn ImageStore>,
    /// `DATA_DIR/images`.
    pub dir: PathBuf,
}

impl StoreImageFiles {
    fn find(&self, project_id: &str, is_admin: bool, id: &str) -> Result<ImageFile, ImageError> {
        let not_found = || ImageError::NotFound(id.to_string());
        if !ferrostack_common::ids::is_uuid(id) {
            return Err(not_found());
        }
        let image = self
            .images
            .get_image(id)
            .map_err(|e| ImageError::Unusable(format!("the image store failed: {e}")))?
            .ok_or_else(not_found)?;
        let member = || {
            self.images.list_members(id).is_ok_and(|m| {
                m.iter()
                    .any(|m| m.member_id == project_id && m.status == "accepted")
            })
        };
        let visible = is_admin
            || image.owner.as_deref() == Some(project_id)
            || matches!(image.visibility.as_str(), "public" | "community")
            || (image.visibility == "shared" && member());
        if !visible {
            return Err(not_found());
        }
        if image.status != "active" {
            return Err(ImageError::Unusable(format!(
                "Image {id} is not active (it is {}).",
                image.status
            )));
        }
        let format = image.disk_format.clone().unwrap_or_default();
        if format != "qcow2" && format != "raw" {
            return Err(ImageError::Unusable(format!(
                "Image {id} has disk format {format:?}; volumes are made from qcow2 or raw images."
            )));
        }
        let virtual_size = image.virtual_size.or(image.size).unwrap_or(0);
        let path = self.dir.join(id);
        if !path.is_file() {
            return Err(ImageError::Unusable(format!("Image {id} has no data.")));
        }
        Ok(ImageFile {
            image_id: id.to_string(),
            path,
            format,
            virtual_size: u64::try_from(virtual_size).unwrap_or(0),
        })
    }
}

impl ImageFiles for StoreImageFiles {
    fn image_file<'a>(
        &'a self,
        project_id: &'a str,
        is_admin: bool,
        image_id: &'a str,
    ) -> BoxFuture<'a, Result<ImageFile, ImageError>> {
        Box::pin(async move { self.find(project_id, is_admin, image_id) })
    }
}
