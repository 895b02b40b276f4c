//! `/v3/projects/{project_id}/tags[/{tag}]`: a project's tags, one by one
//! or as a whole list.
//!
//! Tags are how operators group projects (`openstack project list --tags
//! prod`). The rules are Keystone's and live here once, for these routes
//! and for project create/update alike: at most 80 tags, each 1-255
//! characters without `/` (it would split the URL above) or `,` (the list
//! filters split on it), no duplicates. `PUT` of the list replaces it;
//! a tag that is not there is 404.

use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_identity_types::resources::TagsBody;
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

/// Most tags one project may carry.
pub const MAX_TAGS: usize = 80;

/// Check one tag.
pub fn validate_tag(tag: &str) -> IdResult<()> {
    if tag.is_empty() || tag.chars().count() > 255 || tag.contains('/') || tag.contains(',') {
        return Err(IdentityError::BadRequest(
            "Invalid tag: tags are 1-255 characters without '/' or ','.".into(),
        ));
    }
    Ok(())
}

/// Check a whole tag list.
pub fn validate_tags(tags: &[String]) -> IdResult<()> {
    if tags.len() > MAX_TAGS {
        return Err(IdentityError::BadRequest(format!(
            "A project may have at most {MAX_TAGS} tags."
        )));
    }
    for (i, t) in tags.iter().enumerate() {
        validate_tag(t)?;
        if tags[..i].contains(t) {
            return Err(IdentityError::BadRequest(format!(
                "Invalid tag list: {t} appears twice."
            )));
        }
    }
    Ok(())
}

fn tag_not_found(tag: &str) -> IdentityError {
    IdentityError::NotFound(format!("Could not find project tag: {tag}."))
}

fn tags_json(tags: &[String]) -> axum::Json<Value> {
    axum::Json(json!({ "tags": tags }))
}

/// `GET /v3/projects/{project_id}/tags`.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Path(project_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    Ok(tags_json(&id.store.get_project(&project_id)?.tags))
}

/// `PUT /v3/projects/{project_id}/tags`: replace the list.
pub async fn replace(
    State(id): State<Arc<Identity>>,
    Path(project_id): Path<String>,
    Json(body): Json<TagsBody>,
) -> IdResult<axum::Json<Value>> {
    let mut project = id.store.get_project(&project_id)?;
    validate_tags(&body.tags)?;
    project.tags = body.tags;
    id.store.update_project(&project)?;
    Ok(tags_json(&project.tags))
}

/// `DELETE /v3/projects/{project_id}/tags`: remove every tag.
pub async fn clear(
    State(id): State<Arc<Identity>>,
    Path(project_id): Path<String>,
) -> IdResult<StatusCode> {
    let mut project = id.store.get_project(&project_id)?;
    project.tags.clear();
    id.store.update_project(&project)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `HEAD/GET /v3/projects/{project_id}/tags/{tag}`: 204 if present, else 404.
pub async fn check(
    State(id): State<Arc<Identity>>,
    Path((project_id, tag)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    if id.store.get_project(&project_id)?.tags.contains(&tag) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(tag_not_found(&tag))
    }
}

/// `PUT /v3/projects/{project_id}/tags/{tag}`: add one tag (201, idempotent).
pub async fn add(
    State(id): State<Arc<Identity>>,
    Path((project_id, tag)): Path<(String, String)>,
) -> IdResult<Response> {
    let mut project = id.store.get_project(&project_id)?;
    validate_tag(&tag)?;
    if !project.tags.contains(&tag) {
        project.tags.push(tag.clone());
        validate_tags(&project.tags)?;
        id.store.update_project(&project)?;
    }
    let mut resp = StatusCode::CREATED.into_response();
    let location = format!(
        "{}/v3/projects/{project_id}/tags/{tag}",
        id.config.public_url
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// `DELETE /v3/projects/{project_id}/tags/{tag}`.
pub async fn remove(
    State(id): State<Arc<Identity>>,
    Path((project_id, tag)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    let mut project = id.store.get_project(&project_id)?;
    let before = project.tags.len();
    project.tags.retain(|t| *t != tag);
    if project.tags.len() == before {
        return Err(tag_not_found(&tag));
    }
    id.store.update_project(&project)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn ordinary_tags_pass() {
        assert!(validate_tags(&strings(&["prod", "team a", "ünïcode", "x.y-z_1"])).is_ok());
        assert!(validate_tags(&[]).is_ok());
        assert!(validate_tag(&"t".repeat(255)).is_ok());
    }

    #[test]
    fn separators_empty_and_overlong_tags_are_refused() {
        for bad in ["", "a/b", "a,b"] {
            assert!(validate_tag(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_tag(&"t".repeat(256)).is_err());
    }

    #[test]
    fn duplicates_and_too_many_tags_are_refused() {
        assert!(validate_tags(&strings(&["a", "b", "a"])).is_err());
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert!(validate_tags(&many).is_err());
        assert!(validate_tags(&many[..MAX_TAGS]).is_ok());
    }
}
