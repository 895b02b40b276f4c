//! `/v2/images/{image_id}/members[/{member_id}]`: sharing an image with
//! other projects.
//!
//! The owner adds and removes members of a `shared` image; only the member
//! itself accepts or rejects (Glance's split: the owner cannot make another
//! project accept). A member project may read its own membership; the
//! owner (and admins) read them all.

use super::{load_visible, Caller};
use crate::error::{ImageError, ImageResult};
use crate::model::{can_modify, is_owner};
use crate::{ImageState, Json};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::time::{iso_seconds, now_micros};
use ferrostack_store::image::ImageMember;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// Most members an image may have (Glance's `image_member_quota`).
pub const MAX_MEMBERS: usize = 128;

fn view(m: &ImageMember) -> Value {
    let wire = ferrostack_image_types::Member {
        image_id: m.image_id.clone(),
        member_id: m.member_id.clone(),
        status: m.status.clone(),
        created_at: iso_seconds(m.created_at),
        updated_at: iso_seconds(m.updated_at),
        schema: "/v2/schemas/member".into(),
    };
    serde_json::to_value(wire).unwrap_or(Value::Null)
}

fn member_not_found(id: &str, member: &str) -> ImageError {
    ImageError::NotFound(format!("Member {member} not found for image {id}."))
}

/// `GET .../members`.
pub async fn list(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ImageResult<Response> {
    let image = load_visible(&state, &caller, &id)?;
    if image.visibility != "shared" {
        return Err(ImageError::Forbidden(
            "Only shared images have members.".into(),
        ));
    }
    let all = caller.is_admin() || is_owner(&caller, &image);
    let members: Vec<Value> = state
        .images
        .list_members(&id)?
        .iter()
        .filter(|m| all || Some(m.member_id.as_str()) == caller.project_id())
        .map(view)
        .collect();
    Ok(axum::Json(json!({"members": members, "schema": "/v2/schemas/members"})).into_response())
}

/// `POST .../members` with `{"member": "<project id>"}`.
pub async fn create(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> ImageResult<Response> {
    let image = load_visible(&state, &caller, &id)?;
    if !can_modify(&caller, &image) {
        return Err(ImageError::Forbidden(
            "You are not authorized to complete add_member action.".into(),
        ));
    }
    let member = body
        .get("member")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty() && m.len() <= 255)
        .ok_or_else(|| ImageError::BadRequest("Member to be added not specified".into()))?;
    if image.visibility != "shared" {
        return Err(ImageError::Forbidden(format!(
            "Image {id} could not be shared: only shared images have members."
        )));
    }
    if state.images.list_members(&id)?.len() >= MAX_MEMBERS {
        return Err(ImageError::Status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Maximum number of image members exceeded ({MAX_MEMBERS})."),
        ));
    }
    let now = now_micros();
    let m = ImageMember {
        image_id: id.clone(),
        member_id: member.to_string(),
        status: "pending".into(),
        created_at: now,
        updated_at: now,
    };
    if !state.images.add_member(&m)? {
        return Err(ImageError::Conflict(format!(
            "Member {member} already exists for image {id}."
        )));
    }
    Ok(axum::Json(view(&m)).into_response())
}

/// `GET .../members/{member_id}`.
pub async fn show(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((id, member)): Path<(String, String)>,
) -> ImageResult<Response> {
    let image = load_visible(&state, &caller, &id)?;
    let own = caller.is_admin()
        || is_owner(&caller, &image)
        || caller.project_id() == Some(member.as_str());
    let found = state
        .images
        .list_members(&id)?
        .into_iter()
        .find(|m| m.member_id == member)
        .filter(|_| own)
        .ok_or_else(|| member_not_found(&id, &member))?;
    Ok(axum::Json(view(&found)).into_response())
}

/// `PUT .../members/{member_id}` with `{"status": "accepted"}`: the member
/// answers the share.
pub async fn update(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((id, member)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> ImageResult<Response> {
    let image = load_visible(&state, &caller, &id)?;
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| ImageError::BadRequest("Status not specified".into()))?;
    if !["pending", "accepted", "rejected"].contains(&status) {
        return Err(ImageError::BadRequest(format!("Invalid status: {status}")));
    }
    let members = state.images.list_members(&id)?;
    let Some(_) = members.iter().find(|m| m.member_id == member) else {
        return Err(member_not_found(&id, &member));
    };
    let is_that_member = caller.project_id() == Some(member.as_str());
    if !is_that_member && !caller.is_admin() {
        if is_owner(&caller, &image) {
            return Err(ImageError::Forbidden(
                "You are not authorized to complete modify_member action.".into(),
            ));
        }
        return Err(member_not_found(&id, &member));
    }
    state
        .images
        .set_member_status(&id, &member, status, now_micros())?;
    let updated = state
        .images
        .list_members(&id)?
        .into_iter()
        .find(|m| m.member_id == member)
        .ok_or_else(|| member_not_found(&id, &member))?;
    Ok(axum::Json(view(&updated)).into_response())
}

/// `DELETE .../members/{member_id}`: the owner stops sharing.
pub async fn delete(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path((id, member)): Path<(String, String)>,
) -> ImageResult<StatusCode> {
    let image = load_visible(&state, &caller, &id)?;
    if !can_modify(&caller, &image) {
        return Err(ImageError::Forbidden(
            "You are not authorized to complete delete_member action.".into(),
        ));
    }
    if !state.images.delete_member(&id, &member)? {
        return Err(member_not_found(&id, &member));
    }
    Ok(StatusCode::NO_CONTENT)
}
