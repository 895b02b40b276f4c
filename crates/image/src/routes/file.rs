//! `/v2/images/{image_id}/file`: streamed upload and download.
//!
//! An upload moves the image through these states:
//!
//! ```text
//!   queued ──PUT──► saving ──inspection passes──► active
//!                     │
//!                     └─ refused / too large / broken stream ──► queued
//!                        (staged file removed, 400/413)
//! ```
//!
//! The body is written chunk by chunk to a staging file while MD5 and
//! SHA-512 are computed, so memory use does not depend on the image size.
//! Only then is the file checked ([`crate::verify`]): backing files,
//! external data files and format mismatches are refused before the data
//! is stored. `PUT .../stage` receives a body the same way but keeps it
//! aside (image `uploading`) for a `glance-direct` import, which checks
//! it then ([`crate::interop`]). Every exit that is
//! not success goes through [`Upload`]'s `Drop`, which removes the staged
//! file and puts the image back to `queued`, so a client that disconnects
//! mid-upload leaves no `saving` image behind.

use super::{load_owned, load_visible, Caller};
use crate::error::{error_chain, ImageError, ImageResult};
use crate::ImageState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::time::now_micros;
use ferrostack_store::image::ImageData;
use futures_util::StreamExt;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use md5::{Digest, Md5};
use sha2::Sha512;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a received body goes: the image's data (`PUT .../file`), or
/// the staging area for a later `glance-direct` import (`PUT .../stage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// An upload: `queued → saving → active`.
    Upload,
    /// Staging: `queued → uploading`, the data kept aside.
    Stage,
}

impl Target {
    /// The status the image holds while the body streams in.
    fn busy(self) -> &'static str {
        match self {
            Target::Upload => "saving",
            Target::Stage => "uploading",
        }
    }
}

/// A body being received; dropping it without [`Upload::done`] undoes it.
struct Upload {
    state: Arc<ImageState>,
    image_id: String,
    staged: PathBuf,
    /// The status the image holds meanwhile (`saving` or `uploading`).
    busy: &'static str,
    finished: bool,
    /// Keep the size reservation past the end: staged data holds its
    /// bytes until the import stores them (see `crate::interop`).
    keep_reservation: bool,
    /// This controller's record of the upload, closed once the image has
    /// left `saving` (see `crate::uploads`).
    record: Option<ferrostack_store::operation::Operation>,
}

impl Upload {
    fn done(mut self) {
        self.finished = true;
    }

    fn staged_for_import(mut self) {
        self.finished = true;
        self.keep_reservation = true;
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Done or undone, the bytes are no longer in flight: a stored
        // image's size now counts them (see `crate::reserve`).
        if !self.keep_reservation {
            self.state.size_quota.release(&self.image_id);
        }
        if !self.finished {
            self.undo();
        }
        if let Some(record) = self.record.take() {
            crate::uploads::end(self.state.operations.as_ref(), record);
        }
    }
}

impl Upload {
    fn undo(&self) {
        if let Err(e) = std::fs::remove_file(&self.staged) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %self.staged.display(), error = %e, "staged upload not removed");
            }
        }
        if let Err(e) = self.state.images.transition_status(
            &self.image_id,
            &[self.busy],
            "queued",
            now_micros(),
        ) {
            tracing::error!(image_id = %self.image_id, error = %error_chain(&e), "image left {}", self.busy);
        }
    }
}

fn too_large(max: u64) -> ImageError {
    ImageError::Status(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Image exceeds the storage quota: the largest image accepted is {max} bytes."),
    )
}

/// `PUT /v2/images/{image_id}/file`.
pub async fn upload(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ImageResult<StatusCode> {
    let image = load_owned(&state, &caller, &id)?;
    let (upload, size, md5, sha512) =
        receive(&state, &image, &headers, body, Target::Upload).await?;
    let disk_format = image.disk_format.clone().unwrap_or_default();
    let inspection = crate::verify::verify(&state, &id, &upload.staged, &disk_format).await?;
    state
        .data
        .put(&id, &upload.staged)
        .await
        .map_err(|e| ImageError::Internal(format!("storing image data: {e}")))?;
    let data = ImageData {
        size: size as i64,
        virtual_size: inspection.virtual_size as i64,
        checksum: md5,
        os_hash_algo: "sha512".into(),
        os_hash_value: sha512,
    };
    if !state
        .images
        .finish_upload(&id, &data, "active", now_micros())?
    {
        // Deleted while uploading: drop the data we just stored.
        let _ = state.data.delete(&id).await;
        return Err(ImageError::Status(
            StatusCode::GONE,
            "Image was deleted during upload.".into(),
        ));
    }
    upload.done();
    tracing::debug!(image_id = %id, size, "image data stored");
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v2/images/{image_id}/stage`: the data is received exactly as an
/// upload's (size cap, quota reservation, hashes), then kept aside and
/// the image left `uploading` until `POST .../import` (`glance-direct`)
/// inspects and stores it. The reservation stays held meanwhile.
pub async fn stage(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ImageResult<StatusCode> {
    let image = load_owned(&state, &caller, &id)?;
    let (upload, size, _, _) = receive(&state, &image, &headers, body, Target::Stage).await?;
    let target = state
        .data
        .stage_path(&id)
        .map_err(|e| ImageError::Internal(format!("staging image data: {e}")))?;
    tokio::fs::rename(&upload.staged, &target)
        .await
        .map_err(|e| ImageError::Internal(format!("staging image data: {e}")))?;
    // Which controller holds the staged data (Glance's own bookkeeping,
    // hidden from image views).
    let host = [(crate::interop::STAGE_HOST, Some(state.public_url.as_str()))];
    let kept = state.images.transition_with_properties(
        &id,
        &["uploading"],
        "uploading",
        &host,
        now_micros(),
    )?;
    if !matches!(kept, Some((_, true))) {
        let _ = tokio::fs::remove_file(&target).await;
        return Err(ImageError::Status(
            StatusCode::GONE,
            "Image was deleted during upload.".into(),
        ));
    }
    upload.staged_for_import();
    tracing::debug!(image_id = %id, size, "image data staged");
    Ok(StatusCode::NO_CONTENT)
}

/// Receive `body` into a new staging file for `image` (which the caller
/// may change): the checks of an upload, the record, `queued → busy`,
/// the quota reservation, and the streamed write with its hashes.
/// Returns the upload (undone when dropped), the size, MD5 and SHA-512.
async fn receive(
    state: &Arc<ImageState>,
    image: &ferrostack_store::image::Image,
    headers: &HeaderMap,
    body: Body,
    target: Target,
) -> ImageResult<(Upload, u64, String, String)> {
    let id = image.id.clone();
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != "application/octet-stream" {
        return Err(ImageError::Status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Content-Type; image data must be application/octet-stream.".into(),
        ));
    }
    if target == Target::Upload && (image.disk_format.is_none() || image.container_format.is_none())
    {
        return Err(ImageError::BadRequest(
            "Properties disk_format, container_format must be set prior to saving data.".into(),
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_image_size) {
        return Err(too_large(state.max_image_size));
    }
    if let (Some(limit), Some(n)) = (state.size_quota.limit, declared) {
        // Refused before the image moves to saving, as Glance does.
        if n > limit {
            return Err(crate::reserve::over_quota(limit, 0));
        }
    }
    // Recorded before the image goes busy, so that a busy image's
    // upload always has a record naming the controller running it.
    let record = crate::uploads::begin(state.operations.as_ref(), &id)?;
    let moved = state
        .images
        .transition_status(&id, &["queued"], target.busy(), now_micros());
    let refused = match moved {
        Err(e) => Some(ImageError::from(e)),
        Ok(None) => Some(super::not_found(&id)),
        Ok(Some((before, false))) => Some(ImageError::Conflict(format!(
            "Image status transition from {} to {} is not allowed",
            before.status,
            target.busy()
        ))),
        Ok(Some((_, true))) => None,
    };
    if let Some(e) = refused {
        crate::uploads::end(state.operations.as_ref(), record);
        return Err(e);
    }
    let upload = Upload {
        staged: state.data.staging_path(&id),
        state: state.clone(),
        image_id: id.clone(),
        busy: target.busy(),
        finished: false,
        keep_reservation: false,
        record: Some(record),
    };
    // Bytes are reserved against the owner's size quota before they are
    // written: all of a declared length at once, else a slice at a time.
    let owner = image
        .owner
        .clone()
        .filter(|_| state.size_quota.limit.is_some());
    let mut reserved: u64 = 0;
    if let (Some(owner), Some(n)) = (owner.as_deref(), declared) {
        state.size_quota.reserve(owner, &id, n)?;
        reserved = n;
    }
    let max = state.max_image_size;
    let allowed = reserved;
    // Called when the data passes what is allowed so far; answers the new
    // allowance (the size cap when there is no quota to reserve against).
    let mut reserve_more = |needed: u64| -> Result<u64, ImageError> {
        if needed > max {
            return Err(too_large(max));
        }
        let Some(owner) = owner.as_deref() else {
            return Ok(max);
        };
        if declared.is_some() {
            return Err(ImageError::BadRequest(
                "The image data is longer than its Content-Length.".into(),
            ));
        }
        let exact = needed - reserved;
        let slice = exact.max(crate::reserve::STEP).min(max - reserved);
        if slice > exact && state.size_quota.reserve(owner, &id, slice).is_ok() {
            reserved += slice;
        } else {
            state.size_quota.reserve(owner, &id, exact)?;
            reserved = needed;
        }
        Ok(reserved)
    };
    let (size, md5, sha512) =
        write_staged(&upload.staged, body, allowed, &mut reserve_more).await?;
    Ok((upload, size, md5, sha512))
}

/// Chunks in flight between the request and the writer thread.
const WRITE_QUEUE: usize = 16;

/// Stream `body` into a new file at `path`; returns (size, md5, sha512).
/// Past `allowed` bytes, `more(size)` must allow each further chunk
/// (the size cap and the quota reservation).
///
/// Hashing and writing run on a blocking thread fed through a bounded
/// channel: MD5 + SHA-512 of a large image is seconds of CPU that must not
/// stall the async workers serving other requests, and the bound gives
/// the client back-pressure instead of buffering the image in memory.
async fn write_staged(
    path: &std::path::Path,
    body: Body,
    mut allowed: u64,
    more: &mut (dyn FnMut(u64) -> Result<u64, ImageError> + Send),
) -> Result<(u64, String, String), ImageError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| ImageError::Internal(format!("creating {}: {e}", path.display())))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<axum::body::Bytes>(WRITE_QUEUE);
    let shown = path.display().to_string();
    let writer = tokio::task::spawn_blocking(move || -> Result<(String, String), String> {
        use std::io::Write;
        let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut md5 = Md5::new();
        let mut sha512 = Sha512::new();
        while let Some(chunk) = rx.blocking_recv() {
            md5.update(&chunk);
            sha512.update(&chunk);
            file.write_all(&chunk)
                .map_err(|e| format!("writing {shown}: {e}"))?;
        }
        let file = file
            .into_inner()
            .map_err(|e| format!("writing {shown}: {}", e.error()))?;
        file.sync_all()
            .map_err(|e| format!("syncing {shown}: {e}"))?;
        Ok((hex::encode(md5.finalize()), hex::encode(sha512.finalize())))
    });
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    let mut failed = None;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "upload stream broke");
                failed = Some(ImageError::BadRequest(
                    "The image data could not be read completely.".into(),
                ));
                break;
            }
        };
        size += chunk.len() as u64;
        if size > allowed {
            match more(size) {
                Ok(more) => allowed = more,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if tx.send(chunk).await.is_err() {
            // The writer stopped: its error is reported below.
            break;
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| ImageError::Internal(format!("upload writer: {e}")))?;
    if let Some(f) = failed {
        return Err(f);
    }
    let (md5, sha512) = written.map_err(ImageError::Internal)?;
    Ok((size, md5, sha512))
}

/// `GET /v2/images/{image_id}/file`: the data as a stream, or 204 when
/// there is none yet.
pub async fn download(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ImageResult<Response> {
    let image = load_visible(&state, &caller, &id)?;
    if image.status == "deactivated" && !caller.is_admin() {
        return Err(ImageError::Forbidden(
            "The requested image has been deactivated. Image data download is forbidden.".into(),
        ));
    }
    if image.status != "active" {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let Some((len, stream)) = state
        .data
        .get(&id)
        .await
        .map_err(|e| ImageError::Internal(format!("reading image data: {e}")))?
    else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut response = Body::from_stream(stream).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Some(md5) = image.checksum.as_deref().and_then(|c| c.parse().ok()) {
        h.insert("content-md5", md5);
    }
    Ok(response)
}
