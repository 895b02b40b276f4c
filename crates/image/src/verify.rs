//! Checking image data before anything may use it: the Rust inspector
//! with the declared `disk_format` (backing files, external data files
//! and format mismatches are refused), then, when configured, a second
//! opinion from `qemu-img info` that must agree. One check for every way
//! data arrives: an upload ([`crate::routes::file`]) and a `glance-direct`
//! import of staged data ([`crate::interop`]).

use crate::error::{error_chain, ImageError, ImageResult};
use crate::ImageState;
use ferrostack_image_inspect::Inspection;
use std::path::Path;

/// Inspect the file at `path` as `disk_format`: the inspection, or 400
/// (refused data) / 500 (the check itself could not run).
pub async fn verify(
    state: &ImageState,
    image_id: &str,
    path: &Path,
    disk_format: &str,
) -> ImageResult<Inspection> {
    let owned = path.to_path_buf();
    let format = disk_format.to_string();
    let verdict = tokio::task::spawn_blocking(move || {
        ferrostack_image_inspect::inspect_file(&owned, &format)
    })
    .await
    .map_err(|e| ImageError::Internal(format!("inspection task: {e}")))?;
    let inspection = match verdict {
        Ok(i) => i,
        Err(e @ ferrostack_image_inspect::InspectError::Io { .. }) => {
            return Err(ImageError::Internal(error_chain(&e)))
        }
        Err(e) => {
            tracing::warn!(%image_id, reason = %e, "image data refused");
            return Err(ImageError::BadRequest(format!("Image data refused: {e}")));
        }
    };
    if let Some(prober) = state.prober.clone() {
        second_opinion(prober, image_id, path, &inspection).await?;
    }
    Ok(inspection)
}

async fn second_opinion(
    prober: crate::Prober,
    image_id: &str,
    path: &Path,
    inspection: &Inspection,
) -> ImageResult<()> {
    let path = path.to_path_buf();
    let checked = inspection.clone();
    let second = tokio::task::spawn_blocking(move || {
        ferrostack_image_inspect::cross_check(prober.as_ref(), &path, &checked)
    })
    .await
    .map_err(|e| ImageError::Internal(format!("qemu-img check task: {e}")))?;
    use ferrostack_image_inspect::QemuImgError as Q;
    match second {
        Ok(_) => Ok(()),
        Err(e @ (Q::NotInstalled { .. } | Q::Path { .. } | Q::Spawn { .. })) => {
            Err(ImageError::Internal(error_chain(&e)))
        }
        Err(Q::Disagrees { disagreements }) => {
            let reasons: Vec<String> = disagreements.iter().map(ToString::to_string).collect();
            tracing::warn!(%image_id, reasons = %reasons.join("; "), "image data refused by the qemu-img check");
            Err(ImageError::BadRequest(format!(
                "Image data refused: {}",
                reasons.join("; ")
            )))
        }
        Err(e) => {
            // qemu-img failed, timed out or printed garbage on this
            // image: an image QEMU cannot describe is not one to boot.
            tracing::warn!(%image_id, error = %error_chain(&e), "image data refused by the qemu-img check");
            Err(ImageError::BadRequest(
                "Image data refused: qemu-img cannot read it as the declared format.".into(),
            ))
        }
    }
}
