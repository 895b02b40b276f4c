//! Glance's interoperable image import, `glance-direct`: data staged by
//! `PUT .../stage` (image `uploading`) is checked and stored by
//! `POST .../import`, which runs as a Glance task in the background:
//!
//! ```text
//!   queued ──stage──► uploading ──import──► importing ──checks pass──► active
//!                         ▲                     │
//!                         │ controller stopped  ├─ data refused ──► queued
//!                         └─────────────────────┘  (staged data removed)
//! ```
//!
//! The import is an `api_image_import` task (`/v2/tasks/{id}`, listed by
//! `/v2/images/{id}/tasks`) carrying the request id, and holds Glance's
//! bookkeeping properties: `os_glance_import_task` (the task, the import
//! lock) while it runs, `os_glance_importing_to_stores` and
//! `os_glance_failed_import` (empty: one store), `os_glance_stage_host`
//! (set by the stage, dropped by the import, never shown).
//!
//! The data is checked as an upload's is ([`crate::verify`]). The staged
//! bytes keep their size reservation from the stage until the import
//! ends or the image is deleted ([`crate::reserve`]).
//!
//! Crash safety: the import is an operation record (kind [`KIND`]) owned
//! by this controller, written before the image goes `importing` and
//! closed after it leaves it. Recovery ([`crate::uploads`]) claims the
//! records of stopped controllers, puts their images back to `uploading`
//! (the staged data is still there to import again) and fails their
//! tasks. Rejected: running the step/undo runner (the import is one step
//! whose undo is that same status change).

use crate::error::{ImageError, ImageResult};
use crate::ImageState;
use ferrostack_common::time::now_micros;
use ferrostack_policy::AuthContext;
use ferrostack_store::image::{Image, ImageData, ImageStore, ImageTask};
use ferrostack_store::operation::{Operation, OperationState, OperationStore};
use ferrostack_store::StoreResult;
use serde_json::{json, Value};
use std::sync::Arc;

/// The operation kind of an import in flight.
pub const KIND: &str = "image.import";
/// The import lock: the running task's id.
pub const IMPORT_TASK: &str = "os_glance_import_task";
/// Stores the import is still writing to (one store: empty).
pub const IMPORTING: &str = "os_glance_importing_to_stores";
/// Stores the import failed on (one store: empty).
pub const FAILED: &str = "os_glance_failed_import";
/// The controller holding the staged data (hidden from views).
pub const STAGE_HOST: &str = "os_glance_stage_host";
/// Import methods offered: data comes staged. `web-download` (nothing is
/// downloaded here), `copy-image` (one store) and `glance-download` (no
/// other region) are not.
pub const METHODS: &[&str] = &["glance-direct"];
/// How long a finished task is kept (Glance's `task_time_to_live`, 48 h).
pub const TASK_TTL_MICROS: i64 = 48 * 3600 * 1_000_000;

/// Start importing the staged data of `image` (checked by the handler)
/// as `body` asked; the task runs in the background.
pub fn start(
    state: &Arc<ImageState>,
    caller: &AuthContext,
    image: &Image,
    body: Value,
    request_id: &str,
) -> ImageResult<()> {
    let now = now_micros();
    let task = ImageTask {
        id: ferrostack_common::ids::new_uuid(),
        task_type: "api_image_import".into(),
        status: "pending".into(),
        owner: caller.project_id().map(str::to_string),
        image_id: Some(image.id.clone()),
        request_id: Some(request_id.to_string()),
        user_id: Some(caller.user_id.clone()),
        input: json!({"image_id": image.id, "import_req": body, "backend": [null]}),
        result: None,
        message: String::new(),
        expires_at: None,
        created_at: now,
        updated_at: now,
    };
    let record = begin(state.operations.as_ref(), &image.id)?;
    let lock = [
        (IMPORT_TASK, Some(task.id.as_str())),
        (IMPORTING, Some("")),
        (FAILED, Some("")),
        (STAGE_HOST, None),
    ];
    let moved =
        state
            .images
            .transition_with_properties(&image.id, &["uploading"], "importing", &lock, now);
    let refused = match moved {
        Err(e) => Some(ImageError::from(e)),
        Ok(None) => Some(crate::routes::not_found(&image.id)),
        Ok(Some((_, false))) => Some(ImageError::Conflict(
            "Image needs to be staged before 'glance-direct' method can be used".into(),
        )),
        Ok(Some((_, true))) => None,
    };
    if let Some(e) = refused {
        end(state.operations.as_ref(), record, None);
        return Err(e);
    }
    if let Err(e) = state.images.create_task(&task) {
        back_to_staged(state.images.as_ref(), &image.id);
        end(state.operations.as_ref(), record, None);
        return Err(e.into());
    }
    let state = state.clone();
    let image = image.clone();
    tokio::spawn(async move { run(state, task, record, image).await });
    Ok(())
}

fn begin(operations: &dyn OperationStore, image_id: &str) -> StoreResult<Operation> {
    let now = now_micros();
    let op = Operation {
        id: ferrostack_common::ids::new_uuid(),
        kind: KIND.into(),
        subject: image_id.into(),
        payload: Value::Null,
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

fn end(operations: &dyn OperationStore, mut op: Operation, error: Option<String>) {
    op.state = if error.is_some() {
        OperationState::Undone
    } else {
        OperationState::Done
    };
    op.error = error;
    op.updated_at = now_micros();
    if let Err(e) = operations.update_operation(&op) {
        tracing::warn!(image_id = %op.subject, error = %crate::error::error_chain(&e),
            "import record not closed");
    }
}

async fn run(state: Arc<ImageState>, mut task: ImageTask, record: Operation, image: Image) {
    task.status = "processing".into();
    task.updated_at = now_micros();
    if let Err(e) = state.images.update_task(&task) {
        tracing::warn!(task_id = %task.id, error = %crate::error::error_chain(&e), "task not updated");
    }
    let outcome = import_staged(&state, &image).await;
    // Stored or refused, the staged bytes no longer need their reservation.
    state.size_quota.release(&image.id);
    let now = now_micros();
    match &outcome {
        Ok(()) => {
            task.status = "success".into();
            task.result = Some(json!({"image_id": image.id}));
            tracing::info!(image_id = %image.id, task_id = %task.id, "image imported");
        }
        Err(message) => {
            back_to_queued(&state, &image.id).await;
            task.status = "failure".into();
            task.message = message.clone();
            tracing::warn!(image_id = %image.id, task_id = %task.id, reason = %message, "image import failed");
        }
    }
    task.expires_at = Some(now + TASK_TTL_MICROS);
    task.updated_at = now;
    if let Err(e) = state.images.update_task(&task) {
        tracing::warn!(task_id = %task.id, error = %crate::error::error_chain(&e), "task not updated");
    }
    end(state.operations.as_ref(), record, outcome.err());
}

/// Check and store the staged data; the message of a failure is the
/// task's (safe to show the owner).
async fn import_staged(state: &ImageState, image: &Image) -> Result<(), String> {
    let id = &image.id;
    let path = state
        .data
        .stage_path(id)
        .map_err(|e| format!("staged data: {e}"))?;
    let hashed = path.clone();
    let (size, md5, sha512) =
        tokio::task::spawn_blocking(move || crate::import::hash_file(&hashed))
            .await
            .map_err(|e| format!("hashing task: {e}"))?
            .map_err(|e| {
                tracing::warn!(image_id = %id, error = %e, "staged data unreadable");
                "The staged image data could not be read; stage it again.".to_string()
            })?;
    let format = image.disk_format.clone().unwrap_or_default();
    let inspection = crate::verify::verify(state, id, &path, &format)
        .await
        .map_err(|e| e.to_string())?;
    state.data.put(id, &path).await.map_err(|e| {
        tracing::error!(image_id = %id, error = %e, "imported data not stored");
        "The image data could not be stored.".to_string()
    })?;
    let data = ImageData {
        size: size as i64,
        virtual_size: inspection.virtual_size as i64,
        checksum: md5,
        os_hash_algo: "sha512".into(),
        os_hash_value: sha512,
    };
    let done = [
        (IMPORT_TASK, None),
        (IMPORTING, Some("")),
        (FAILED, Some("")),
    ];
    match state.images.finish_import(id, &data, &done, now_micros()) {
        Ok(true) => Ok(()),
        Ok(false) => {
            let _ = state.data.delete(id).await;
            Err("The image was deleted during the import.".into())
        }
        Err(e) => {
            let _ = state.data.delete(id).await;
            tracing::error!(image_id = %id, error = %crate::error::error_chain(&e), "import not recorded");
            Err("The import could not be recorded.".into())
        }
    }
}

/// A failed import: staged data removed, the image `queued` again (to be
/// staged anew), the lock released.
async fn back_to_queued(state: &ImageState, image_id: &str) {
    if let Ok(path) = state.data.stage_path(image_id) {
        if let Err(e) = tokio::fs::remove_file(&path).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(%image_id, error = %e, "staged data not removed");
            }
        }
    }
    let unlock = [
        (IMPORT_TASK, None),
        (IMPORTING, Some("")),
        (FAILED, Some("")),
    ];
    if let Err(e) = state.images.transition_with_properties(
        image_id,
        &["importing"],
        "queued",
        &unlock,
        now_micros(),
    ) {
        tracing::error!(%image_id, error = %crate::error::error_chain(&e), "image left importing");
    }
}

/// An import that never ran to its end: the image back to `uploading`
/// (its staged data can be imported again), the lock released.
fn back_to_staged(images: &dyn ImageStore, image_id: &str) -> bool {
    let unlock = [
        (IMPORT_TASK, None),
        (IMPORTING, Some("")),
        (FAILED, Some("")),
    ];
    match images.transition_with_properties(
        image_id,
        &["importing"],
        "uploading",
        &unlock,
        now_micros(),
    ) {
        Ok(moved) => matches!(moved, Some((_, true))),
        Err(e) => {
            tracing::error!(%image_id, error = %crate::error::error_chain(&e), "image left importing");
            false
        }
    }
}

/// Recovery of an import whose controller stopped: the image back to
/// `uploading` and its unfinished tasks failed. Returns whether the image
/// moved.
pub fn recover(images: &dyn ImageStore, image_id: &str) -> StoreResult<bool> {
    let moved = back_to_staged(images, image_id);
    let now = now_micros();
    for mut task in images.tasks_of_image(image_id)? {
        if task.status == "pending" || task.status == "processing" {
            task.status = "failure".into();
            task.message = "The import was interrupted: the controller running it stopped.".into();
            task.expires_at = Some(now + TASK_TTL_MICROS);
            task.updated_at = now;
            images.update_task(&task)?;
        }
    }
    if moved {
        tracing::warn!(%image_id, "import interrupted by a stopped controller; image staged again");
    }
    Ok(moved)
}
