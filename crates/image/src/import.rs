//! Images made inside the cloud rather than uploaded: a server snapshot
//! written by a host agent becomes image data here.
//!
//! The file gets exactly the treatment of an upload: it is hashed (MD5
//! and SHA-512), inspected as its declared format (a snapshot that came
//! out with a backing file or any other surprise is refused), moved into
//! the data store, and only then does the image turn `active`. A refused
//! or failed import leaves the image `killed` and no file behind.

use crate::data::ImageDataStore;
use ferrostack_common::time::now_micros;
use ferrostack_store::image::{ImageData, ImageStore};
use md5::{Digest, Md5};
use sha2::Sha512;
use std::io::Read;
use std::path::Path;

/// Make the qcow2 file at `path` the data of `image_id` (which must be
/// `saving`) and activate the image. The file is consumed on success and
/// removed on failure; the error is a message for the log and the owner.
pub async fn import_file(
    images: &dyn ImageStore,
    data: &dyn ImageDataStore,
    image_id: &str,
    path: &Path,
) -> Result<(), String> {
    let result = import_inner(images, data, image_id, path).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(path).await;
        kill(images, image_id);
    }
    result
}

async fn import_inner(
    images: &dyn ImageStore,
    data: &dyn ImageDataStore,
    image_id: &str,
    path: &Path,
) -> Result<(), String> {
    let owned = path.to_path_buf();
    let (size, md5, sha512, inspection) = tokio::task::spawn_blocking(move || {
        let (size, md5, sha512) = hash_file(&owned)?;
        let inspection = ferrostack_image_inspect::inspect_file(&owned, "qcow2")
            .map_err(|e| format!("the snapshot was refused by inspection: {e}"))?;
        Ok::<_, String>((size, md5, sha512, inspection))
    })
    .await
    .map_err(|e| format!("snapshot import task: {e}"))??;
    data.put(image_id, path)
        .await
        .map_err(|e| format!("storing the snapshot: {e}"))?;
    let record = ImageData {
        size: size as i64,
        virtual_size: inspection.virtual_size as i64,
        checksum: md5,
        os_hash_algo: "sha512".into(),
        os_hash_value: sha512,
    };
    match images.finish_upload(image_id, &record, "active", now_micros()) {
        Ok(true) => Ok(()),
        Ok(false) => {
            let _ = data.delete(image_id).await;
            Err("the image was deleted while the snapshot was taken".into())
        }
        Err(e) => {
            let _ = data.delete(image_id).await;
            Err(format!("recording the snapshot: {e}"))
        }
    }
}

/// The size, MD5 and SHA-512 (hex) of the file at `path`, read in 1 MiB
/// chunks (blocking: call it off the async workers).
pub fn hash_file(path: &Path) -> Result<(u64, String, String), String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("opening the data: {e}"))?;
    let (mut md5, mut sha512) = (Md5::new(), Sha512::new());
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("reading the data: {e}"))?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
        sha512.update(&buf[..n]);
        size += n as u64;
    }
    Ok((
        size,
        hex::encode(md5.finalize()),
        hex::encode(sha512.finalize()),
    ))
}

/// Mark an image whose data will never come `killed`, as Glance does.
pub fn kill(images: &dyn ImageStore, image_id: &str) {
    if let Err(e) =
        images.transition_status(image_id, &["saving", "queued"], "killed", now_micros())
    {
        tracing::warn!(image_id, error = %e, "cannot mark the image killed");
    }
}
