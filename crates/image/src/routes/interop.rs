//! `POST /v2/images/{image_id}/import`: Glance's interoperable import,
//! checked as Glance checks it, then run as a task ([`crate::interop`]).
//!
//! One store: `stores`, `all_stores` and the `X-Image-Meta-Store` header
//! are accepted and ignored, as a Glance without `enabled_backends` does.
//! So is `all_stores_must_succeed: false`, which such a Glance refuses
//! (400): python-openstackclient's `image import` sends it by default
//! and ignores the refusal, leaving the image staged with no word; with
//! one store both values mean the same.

use super::{load_owned, Caller};
use crate::error::{ImageError, ImageResult};
use crate::{ImageState, Json};
use axum::extract::{Path, State};
use ferrostack_common::request_id::RequestId;
use http::StatusCode;
use serde_json::Value;
use std::sync::Arc;

fn bad(message: &str) -> ImageError {
    ImageError::BadRequest(message.into())
}

/// The import request's method name, once the body is well formed.
fn method_of(body: &Value) -> ImageResult<&str> {
    let Some(body) = body.as_object() else {
        return Err(bad("Body expected in request: an import request object."));
    };
    let Some(method) = body.get("method") else {
        return Err(bad("Import request requires a 'method' field."));
    };
    let Some(name) = method.as_object().and_then(|m| m.get("name")) else {
        return Err(bad("Import request requires a 'name' field."));
    };
    let name = name.as_str().unwrap_or("");
    if !crate::interop::METHODS.contains(&name) {
        return Err(ImageError::BadRequest(format!(
            "Unknown import method name '{name}'."
        )));
    }
    for flag in ["all_stores_must_succeed", "all_stores"] {
        if body.get(flag).is_some_and(|v| !v.is_boolean()) {
            return Err(ImageError::BadRequest(format!(
                "'{flag}' must be boolean value only"
            )));
        }
    }
    if body
        .get("stores")
        .is_some_and(|v| !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
    {
        return Err(bad("'stores' must be a list of store identifiers."));
    }
    Ok(name)
}

/// `POST /v2/images/{image_id}/import`: 202, the import runs as a task.
pub async fn import(
    State(state): State<Arc<ImageState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    RequestId(request_id): RequestId,
    Json(body): Json<Value>,
) -> ImageResult<StatusCode> {
    let method = method_of(&body)?.to_string();
    let image = load_owned(&state, &caller, &id)?;
    let conflict = |m: &str| Err(ImageError::Conflict(m.into()));
    if image.status == "active" {
        return conflict("Image with status active cannot be target for import");
    }
    // Still streaming into the stage, or staged on another controller's
    // disk (which Glance would proxy the request to): not importable here.
    let staged = state.data.stage_path(&id).is_ok_and(|p| p.exists());
    if image.status != "uploading" || !staged {
        return conflict(&format!(
            "Image needs to be staged before '{method}' method can be used"
        ));
    }
    if image.container_format.is_none() {
        return conflict("'container_format' needs to be set before import");
    }
    if image.disk_format.is_none() {
        return conflict("'disk_format' needs to be set before import");
    }
    crate::interop::start(&state, &caller, &image, body, &request_id)?;
    Ok(StatusCode::ACCEPTED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn import_bodies_are_checked_as_glance_checks_them() {
        let ok = json!({"method": {"name": "glance-direct"}, "stores": ["x"], "all_stores": true});
        assert_eq!(method_of(&ok).unwrap(), "glance-direct");
        for bad in [
            json!([]),
            json!({}),
            json!({"method": "glance-direct"}),
            json!({"method": {"name": "web-download"}}),
            json!({"method": {"name": "copy-image"}}),
            json!({"method": {"name": "glance-direct"}, "all_stores": "yes"}),
            json!({"method": {"name": "glance-direct"}, "stores": "a"}),
        ] {
            assert!(method_of(&bad).is_err(), "{bad}");
        }
    }
}
