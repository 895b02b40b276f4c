//! Handlers, one file per resource, and what they share: the caller, the
//! query string, and loading an image the way its visibility allows.

pub mod actions;
pub mod file;
pub mod images;
pub mod info;
pub mod interop;
pub mod members;
pub mod patch;
pub mod schemas;
pub mod tags;
pub mod tasks;

use crate::error::{ImageError, ImageResult};
use crate::model::{can_modify, can_see};
use crate::ImageState;
use axum::extract::{FromRequestParts, Query};
use ferrostack_policy::AuthContext;
use ferrostack_store::image::Image;
use http::request::Parts;

/// The validated caller. Present on every route whose rule is not `Public`.
pub struct Caller(pub AuthContext);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ImageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthContext>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| {
                ImageError::Status(
                    http::StatusCode::UNAUTHORIZED,
                    "The request you have made requires authentication.".into(),
                )
            })
    }
}

/// Every query parameter, in order, repeats kept.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ImageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|Query(pairs)| QueryPairs(pairs))
            .map_err(|_| ImageError::BadRequest("Malformed query string.".into()))
    }
}

impl QueryPairs {
    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// 404 in Glance's words.
pub fn not_found(id: &str) -> ImageError {
    ImageError::NotFound(format!("No image found with ID {id}"))
}

/// Is the caller's project a member (any status) of `image`?
pub fn is_member(state: &ImageState, caller: &AuthContext, image: &Image) -> ImageResult<bool> {
    let Some(project) = caller.project_id() else {
        return Ok(false);
    };
    if image.visibility != "shared" {
        return Ok(false);
    }
    Ok(state
        .images
        .list_members(&image.id)?
        .iter()
        .any(|m| m.member_id == project))
}

/// The image `id` if the caller may see it; 404 otherwise.
pub fn load_visible(state: &ImageState, caller: &AuthContext, id: &str) -> ImageResult<Image> {
    let image = state.images.get_image(id)?.ok_or_else(|| not_found(id))?;
    if can_see(caller, &image, is_member(state, caller, &image)?) {
        Ok(image)
    } else {
        Err(not_found(id))
    }
}

/// The image `id` if the caller may change it: 404 when it may not see
/// it, 403 when it sees it but may not change it.
pub fn load_owned(state: &ImageState, caller: &AuthContext, id: &str) -> ImageResult<Image> {
    let image = load_visible(state, caller, id)?;
    if can_modify(caller, &image) {
        Ok(image)
    } else {
        Err(ImageError::Forbidden(
            "You are not authorized to complete this action.".into(),
        ))
    }
}
