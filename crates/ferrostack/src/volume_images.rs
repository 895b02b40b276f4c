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
            min_disk_gib: u64::try_from(image.min_disk).unwrap_or(0),
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

#[cfg(test)]
mod tests {
    use super::*;
    use ferrostack_store::image::Image;
    use ferrostack_store::SqliteStore;

    fn image(id: &str, owner: &str, visibility: &str, status: &str, format: &str) -> Image {
        Image {
            id: id.into(),
            name: None,
            status: status.into(),
            visibility: visibility.into(),
            owner: Some(owner.into()),
            protected: false,
            os_hidden: false,
            disk_format: Some(format.into()),
            container_format: Some("bare".into()),
            size: Some(1 << 20),
            virtual_size: Some(3 << 30),
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            min_disk: 0,
            min_ram: 0,
            tags: vec![],
            properties: Default::default(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[tokio::test]
    async fn only_active_usable_images_of_the_project_resolve_to_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db")).unwrap();
        let images_dir = dir.path().join("images");
        std::fs::create_dir_all(&images_dir).unwrap();
        let ids: Vec<String> = (0..4).map(|_| ferrostack_common::ids::new_uuid()).collect();
        let rows = [
            image(&ids[0], "p1", "private", "active", "qcow2"),
            image(&ids[1], "p2", "private", "active", "qcow2"),
            image(&ids[2], "p1", "private", "queued", "qcow2"),
            image(&ids[3], "p2", "public", "active", "iso"),
        ];
        for row in &rows {
            assert!(store.create_image(row).unwrap());
            std::fs::write(images_dir.join(&row.id), b"data").unwrap();
        }
        let files = StoreImageFiles {
            images: Arc::new(store),
            dir: images_dir.clone(),
        };
        let f = files.image_file("p1", false, &ids[0]).await.unwrap();
        assert_eq!(f.path, images_dir.join(&ids[0]));
        assert_eq!((f.format.as_str(), f.virtual_size), ("qcow2", 3 << 30));
        // Another project's private image: not found, unless admin.
        assert!(matches!(
            files.image_file("p1", false, &ids[1]).await,
            Err(ImageError::NotFound(_))
        ));
        assert!(files.image_file("p1", true, &ids[1]).await.is_ok());
        // Not active, or a format volumes cannot hold: unusable.
        assert!(matches!(
            files.image_file("p1", false, &ids[2]).await,
            Err(ImageError::Unusable(_))
        ));
        assert!(matches!(
            files.image_file("p1", false, &ids[3]).await,
            Err(ImageError::Unusable(_))
        ));
        assert!(matches!(
            files.image_file("p1", false, "not-a-uuid").await,
            Err(ImageError::NotFound(_))
        ));
    }
}
