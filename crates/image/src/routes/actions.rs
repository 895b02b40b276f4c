//! `/v2/images/{image_id}/actions/{deactivate,reactivate}`, and the
//! image's tasks (`/v2/images/{image_id}/tasks`).
//!
//! A deactivated image keeps its data but nobody except an admin may
//! download it (for example while an operator investigates it):
//!
//! ```text
//!   active ──deactivate──► deactivated ──reactivate──► active
//! ```
//!
//! Repeating an action is a no-op; from any other status it is 400.

use super::{load_owned, Caller};
use crate::error::{ImageError, ImageResult};
use crate::ImageState;
use axum::extract::{Path, State};
use ferrostack_common::time::now_micros;
use http::StatusCode;
use std::sync::Arc;

async fn change(
    state: &ImageState,
    caller: &ferrostack_policy::AuthContext,
    id: &str,
    from: &str,
    to: &str,
    verb: &str,
) -> ImageResult<StatusCode> {
    let image = load_owned(state, caller, id)?;
    if image.status == to {
        return Ok(StatusCode::NO_CONTENT);
    }
    match state
        .images
        .transition_status(id, &[from], to, now_micros())?
    {
        None => Err(super::not_found(id)),
        Some((_, true)) => Ok(StatusCode::NO_CONTENT),
        Some((before, false)) if before.status == to => Ok(StatusCode::NO_CONTENT),
        Some((before, false)) => Err(ImageError::BadRequest(format!(
            "Not allowed to {verb} image in status '{}'",
            before.status
        ))),
    }
}

/// `POST .../actions/deactivate`.
pub async fn deactivate(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ImageResult<StatusCode> {
    change(&state, &caller, &id, "active", "deactivated", "deactivate").await
}

/// `POST .../actions/reactivate`.
pub async fn reactivate(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ImageResult<StatusCode> {
    change(&state, &caller, &id, "deactivated", "active", "reactivate").await
}

/// `GET /v2/images/{image_id}/tasks` (Glance 2.12): the image's import
/// tasks in full, oldest first ([`crate::interop`]; uploads and server
/// snapshots run no task); another project's private image is 404.
pub async fn tasks(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ImageResult<axum::Json<serde_json::Value>> {
    super::load_visible(&state, &caller, &id)?;
    let tasks = state.images.tasks_of_image(&id)?;
    let tasks: Vec<_> = tasks.iter().map(crate::tasks::full).collect();
    Ok(axum::Json(serde_json::json!({ "tasks": tasks })))
}
