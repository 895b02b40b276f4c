//! `/v2/images/{image_id}/tags/{tag_value}`: add and remove one tag.

use super::{load_owned, Caller};
use crate::error::{ImageError, ImageResult};
use crate::model::{check_tag, MAX_TAGS};
use crate::ImageState;
use axum::extract::{Path, State};
use ferrostack_common::time::now_micros;
use http::StatusCode;
use std::sync::Arc;

/// `PUT`: add the tag (adding one already present changes nothing).
pub async fn add(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> ImageResult<StatusCode> {
    let mut image = load_owned(&state, &caller, &id)?;
    check_tag(&tag)?;
    if image.tags.contains(&tag) {
        return Ok(StatusCode::NO_CONTENT);
    }
    if image.tags.len() >= MAX_TAGS {
        return Err(ImageError::Status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Maximum number of tags exceeded ({MAX_TAGS})."),
        ));
    }
    image.tags.push(tag);
    image.updated_at = now_micros();
    state.images.update_image(&image)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE`: remove the tag; 404 when the image does not have it.
pub async fn remove(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((id, tag)): Path<(String, String)>,
) -> ImageResult<StatusCode> {
    let mut image = load_owned(&state, &caller, &id)?;
    let before = image.tags.len();
    image.tags.retain(|t| *t != tag);
    if image.tags.len() == before {
        return Err(ImageError::NotFound(format!("Tag {tag} not found.")));
    }
    image.updated_at = now_micros();
    state.images.update_image(&image)?;
    Ok(StatusCode::NO_CONTENT)
}
