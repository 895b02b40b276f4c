//! Uploads in flight as owned records, so that only uploads whose
//! controller is gone are put back to `queued` and have their quota
//! reservation released.
//!
//! An upload moves its image `queued → saving`, streams the bytes to a
//! staging file on this controller's disk, and ends `active` (or back to
//! `queued` when refused or broken, see [`crate::routes::file`]). A crash
//! mid-upload leaves the image `saving` and its size reservation held
//! ([`crate::reserve`]). With one controller, start-up could reset every
//! `saving` image; with several on one database that would break uploads
//! other controllers are streaming right now. So each upload is recorded
//! as an operation (`image.upload`, subject the image id) owned by this
//! controller's incarnation (see `ferrostack_store::controller`), written
//! *before* the image goes `saving` and closed *after* it leaves it.
//! Recovery ([`recover_interrupted_uploads`]) claims the records no live
//! controller owns, one conditional write each, and only then resets
//! their images: at start-up this controller's previous process's, on
//! the periodic sweep those of controllers that died. The staging file is
//! on the dead controller's disk and is not ours to remove; it is
//! overwritten by the next upload of that image there.
//!
//! A stage (`PUT .../stage`) is recorded the same way while its body
//! streams (image `uploading`); once staged, the record is closed and the
//! image stays `uploading`, holding its reservation, until imported.
//! Imports have records of their own ([`crate::interop::KIND`]),
//! recovered here too: their images go back to `uploading`.
//!
//! Rejected: an owner column on images (the upload's life is not the
//! image's, and the operation records already have owners, claims and a
//! sweep); running the step/undo runner for it (an upload is one long
//! streamed step, not a list of store writes).

use ferrostack_common::time::now_micros;
use ferrostack_store::image::ImageStore;
use ferrostack_store::operation::{Operation, OperationState, OperationStore};
use ferrostack_store::quota::QuotaStore;
use ferrostack_store::StoreResult;
use std::collections::BTreeSet;

/// The operation kind of an upload in flight.
pub const KIND: &str = "image.upload";

/// Record that this controller starts uploading into `image_id`.
pub fn begin(operations: &dyn OperationStore, image_id: &str) -> StoreResult<Operation> {
    let now = now_micros();
    let op = Operation {
        id: ferrostack_common::ids::new_uuid(),
        kind: KIND.into(),
        subject: image_id.into(),
        payload: serde_json::Value::Null,
        completed: 0,
        state: OperationState::Running,
        error: None,
        owner: operations.incarnation(),
        created_at: now,
        updated_at: now,
    };
    operations.create_operation(&op)?;
    Ok(op)
}

/// Close the record of an upload that has left `saving` (either way).
pub fn end(operations: &dyn OperationStore, mut op: Operation) {
    op.state = OperationState::Done;
    op.updated_at = now_micros();
    if let Err(e) = operations.update_operation(&op) {
        // Harmless but noisy: recovery will find the image no longer
        // saving and close the record then.
        tracing::warn!(image_id = %op.subject, error = %crate::error::error_chain(&e),
            "upload record not closed");
    }
}

/// Put the images of uploads no live controller owns back to `queued`
/// and release what they reserved; returns how many images went back.
/// Safe while this and other controllers serve uploads. With `at_start`
/// (this controller's start-up) also settle what predates upload
/// records: `saving` images no unfinished record holds, and size
/// reservations of images no unfinished record holds.
pub fn recover_interrupted_uploads(
    images: &dyn ImageStore,
    quota: &dyn QuotaStore,
    operations: &dyn OperationStore,
    at_start: bool,
) -> StoreResult<usize> {
    let me = operations.incarnation();
    let mut count = 0;
    for op in operations.orphaned_operations()? {
        let ours = op.kind == KIND || op.kind == crate::interop::KIND;
        if !ours || !operations.claim_operation(&op.id, me.as_deref())? {
            continue;
        }
        if op.kind == crate::interop::KIND {
            // The staged data keeps its reservation for the next import.
            count += usize::from(crate::interop::recover(images, &op.subject)?);
            let mut op = op;
            op.state = OperationState::Undone;
            op.error = Some("the controller running the import stopped".into());
            op.updated_at = now_micros();
            operations.update_operation(&op)?;
            continue;
        }
        count += usize::from(requeue(images, &op.subject)?);
        quota.release(crate::reserve::SERVICE, &op.subject)?;
        let mut op = op;
        op.state = OperationState::Undone;
        op.error = Some("the controller running the upload stopped".into());
        op.updated_at = now_micros();
        operations.update_operation(&op)?;
    }
    if at_start {
        count += unrecorded(images, quota, operations)?;
    }
    Ok(count)
}

/// `saving`/`uploading` (an upload or a stage cut short) `→ queued`.
fn requeue(images: &dyn ImageStore, image_id: &str) -> StoreResult<bool> {
    let moved = matches!(
        images.transition_status(image_id, &["saving", "uploading"], "queued", now_micros())?,
        Some((_, true))
    );
    if moved {
        tracing::warn!(%image_id, "upload interrupted by a stopped controller; image queued again");
    }
    Ok(moved)
}

/// Uploads interrupted before they were recorded (an older version).
/// Images are listed *before* the records are read: an upload is recorded
/// before its image goes `saving`, so every `saving` image listed whose
/// upload is still running is held by a record read after.
fn unrecorded(
    images: &dyn ImageStore,
    quota: &dyn QuotaStore,
    operations: &dyn OperationStore,
) -> StoreResult<usize> {
    let listed = images.list_images()?;
    let held: BTreeSet<String> = operations
        .unfinished_operations()?
        .into_iter()
        .filter(|op| op.kind == KIND || op.kind == crate::interop::KIND)
        .map(|op| op.subject)
        .collect();
    let mut count = 0;
    for image in listed.iter().filter(|i| !held.contains(&i.id)) {
        if image.status == "saving" {
            count += usize::from(requeue(images, &image.id)?);
        } else if image.status == "importing" {
            count += usize::from(crate::interop::recover(images, &image.id)?);
        }
    }
    crate::reserve::release_stale(&listed, &held, quota)?;
    Ok(count)
}
