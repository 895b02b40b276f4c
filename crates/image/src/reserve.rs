//! Holding a project's image bytes while an upload is in flight, so that
//! parallel uploads cannot together pass `image_size_total`.
//!
//! Usage of the size quota is what the project's stored images take (the
//! sum of their sizes) plus what its uploads in flight have reserved. An
//! upload reserves before it writes: the whole `Content-Length` when the
//! client declares one, else [`STEP`]-sized slices as the data arrives.
//! Each reservation is an allocation in the [`QuotaStore`] (service
//! [`SERVICE`], the image id as consumer), checked and taken in one write
//! transaction together with the read of the stored sizes
//! ([`ImageStore::reserve_upload_bytes`]), so eight parallel 4 MiB uploads
//! against 10 MiB give exactly two active images, on one controller or
//! spread over several sharing a database. When the
//! upload ends the allocation is released: on success after the size is
//! recorded on the image (for a moment the bytes count twice, never
//! zero times), on refusal or a broken stream when the upload is undone.
//!
//! The stored sizes are read from the image records rather than kept as
//! allocations too, because images also get their data from snapshots
//! and volume uploads, which write the size directly.
//!
//! Rejected: reading usage then writing the image with no reservation
//! (what Glance does; the race this module exists for); a reservation kept
//! only in memory (a crash would leave nothing to release, but nothing
//! stale either; the store's allocation is used so that a second
//! controller sharing the database sees in-flight uploads); a lock in the
//! process around "read usage, then allocate" (exact on one controller
//! only).

use crate::error::ImageError;
use ferrostack_store::image::{ImageStore, UploadHold};
use ferrostack_store::quota::QuotaStore;
use http::StatusCode;
use std::sync::Arc;

/// Quota service name of upload reservations.
pub const SERVICE: &str = "image";
/// Resource name of upload reservations (bytes).
pub const RESOURCE: &str = "image_size_uploading";
/// How much a chunked upload (no `Content-Length`) reserves at a time.
pub const STEP: u64 = 16 << 20;

/// The size quota's reservations; one per image service.
pub struct SizeQuota {
    /// `image_size_total`, or `None` for unlimited.
    pub limit: Option<u64>,
    quota: Arc<dyn QuotaStore>,
    images: Arc<dyn ImageStore>,
}

impl SizeQuota {
    /// Reservations against `limit` bytes per project.
    pub fn new(
        limit: Option<u64>,
        quota: Arc<dyn QuotaStore>,
        images: Arc<dyn ImageStore>,
    ) -> Self {
        SizeQuota {
            limit,
            quota,
            images,
        }
    }

    /// Reserve `bytes` more for `image_id` of `owner`; on refusal nothing is
    /// reserved and the error is Glance's 413.
    pub fn reserve(&self, owner: &str, image_id: &str, bytes: u64) -> Result<(), ImageError> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let hold = UploadHold {
            service: SERVICE,
            resource: RESOURCE,
            owner,
            image_id,
            bytes,
            limit,
        };
        match self.images.reserve_upload_bytes(&hold)? {
            Ok(()) => Ok(()),
            Err(used) => Err(over_quota(limit, used)),
        }
    }

    /// Drop whatever `image_id`'s upload holds.
    pub fn release(&self, image_id: &str) {
        if self.limit.is_none() {
            return;
        }
        if let Err(e) = self.quota.release(SERVICE, image_id) {
            tracing::error!(image_id = %image_id, error = %crate::error::error_chain(&e), "upload reservation not released");
        }
    }
}

/// Release the upload reservations of `images` whose upload no record in
/// `held` (image ids of unfinished upload records) says is running: ones
/// an interrupted upload left behind before uploads were recorded (see
/// [`crate::uploads`]). Returns how many images had one released.
pub fn release_stale(
    images: &[ferrostack_store::image::Image],
    held: &std::collections::BTreeSet<String>,
    quota: &dyn QuotaStore,
) -> ferrostack_store::StoreResult<usize> {
    let mut owners: Vec<&str> = images.iter().filter_map(|i| i.owner.as_deref()).collect();
    owners.sort_unstable();
    owners.dedup();
    let mut released = 0;
    for owner in owners {
        let held_bytes = quota.usage(SERVICE, owner)?;
        if held_bytes.get(RESOURCE).copied().unwrap_or(0) == 0 {
            continue;
        }
        // Staged data (`uploading`, `importing`) holds its bytes until
        // it is imported (see `crate::interop`).
        for image in images.iter().filter(|i| {
            i.owner.as_deref() == Some(owner)
                && !held.contains(&i.id)
                && !matches!(i.status.as_str(), "uploading" | "importing")
        }) {
            quota.release(SERVICE, &image.id)?;
            released += 1;
        }
    }
    Ok(released)
}

/// Glance's 413 for the size quota.
pub fn over_quota(limit: u64, used: u64) -> ImageError {
    ImageError::Status(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Quota exceeded for image_size_total: limit {limit} bytes, in use {used} bytes."),
    )
}
