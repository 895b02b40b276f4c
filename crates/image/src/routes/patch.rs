//! The body of `PATCH /v2/images/{id}`: Glance's two JSON-patch dialects.
//!
//! Glance accepts two media types and clients use both: Tempest and older
//! tools send `application/openstack-images-v2.0-json-patch`, which
//! follows draft 4 of the JSON-patch proposal (the operation is the
//! member's name: `{"replace": "/name", "value": "x"}`); glanceclient and
//! openstacksdk send `application/openstack-images-v2.1-json-patch`,
//! draft 10, which became RFC 6902 (`{"op": "replace", "path": "/name",
//! "value": "x"}`). Paths and semantics are the same in both; only where
//! the operation and path are read from differs. Any other media type is
//! 415 with `Accept-Patch` naming the two, as Glance answers.

use crate::error::{ImageError, ImageResult};
use crate::model::{remove_attribute, set_attribute, Op};
use axum::response::{IntoResponse, Response};
use ferrostack_policy::AuthContext;
use ferrostack_store::image::Image;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Map, Value};

/// The draft-4 media type (operation named by the member's key).
pub const V2_0: &str = "application/openstack-images-v2.0-json-patch";
/// The draft-10 media type (`op` and `path` members).
pub const V2_1: &str = ferrostack_image_types::PATCH_MEDIA_TYPE;
const OPERATIONS: &[&str] = &["add", "remove", "replace"];

/// Which JSON-patch dialect a request body is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Draft {
    /// `application/openstack-images-v2.0-json-patch`.
    Four,
    /// `application/openstack-images-v2.1-json-patch`.
    Ten,
}

impl Draft {
    /// The dialect the request's `Content-Type` names; 415 for others.
    pub fn of(headers: &HeaderMap) -> Result<Draft, UnsupportedPatch> {
        let media = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or("")
            .trim();
        if media.eq_ignore_ascii_case(V2_0) {
            Ok(Draft::Four)
        } else if media.eq_ignore_ascii_case(V2_1) {
            Ok(Draft::Ten)
        } else {
            Err(UnsupportedPatch)
        }
    }
}

/// A PATCH in neither dialect: 415 with `Accept-Patch`, in Glance's shape.
#[derive(Debug)]
pub struct UnsupportedPatch;

impl IntoResponse for UnsupportedPatch {
    fn into_response(self) -> Response {
        let mut resp = crate::error::render(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("Unsupported Content-Type; use {V2_1} or {V2_0}."),
        );
        resp.headers_mut().insert(
            http::header::HeaderName::from_static("accept-patch"),
            HeaderValue::from_static(
                "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch",
            ),
        );
        resp
    }
}

/// The operation and path of one change, read as `draft` says.
fn operation(op: &Map<String, Value>, draft: Draft) -> ImageResult<(&str, &str)> {
    let (name, path) = match draft {
        Draft::Ten => {
            let name = op.get("op").and_then(Value::as_str).ok_or_else(|| {
                ImageError::BadRequest(format!(
                    "Unable to find `op` in JSON Schema change. It must be one of the following: {}.",
                    OPERATIONS.join(", ")
                ))
            })?;
            let path = op.get("path").ok_or_else(|| {
                ImageError::BadRequest("Unable to find 'path' in JSON Schema change".into())
            })?;
            (name, path)
        }
        Draft::Four => {
            let mut found = OPERATIONS.iter().filter(|k| op.contains_key(**k));
            let (Some(name), None) = (found.next(), found.next()) else {
                return Err(ImageError::BadRequest(
                    "Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\".".into(),
                ));
            };
            (*name, &op[*name])
        }
    };
    let path = path
        .as_str()
        .ok_or_else(|| ImageError::BadRequest(format!("Invalid pointer {path}: not a string.")))?;
    Ok((name, path))
}

/// Decode a JSON pointer naming a top-level attribute.
fn pointer(path: &str) -> ImageResult<String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(ImageError::BadRequest(format!(
            "Pointer `{path}` does not start with \"/\"."
        )));
    };
    if rest.contains('/') {
        return Err(ImageError::BadRequest(format!(
            "Nested paths are not allowed: `{path}`."
        )));
    }
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => {
                    return Err(ImageError::BadRequest(format!(
                        "Invalid escape in pointer `{path}`."
                    )))
                }
            }
        } else {
            out.push(c);
        }
    }
    if out.is_empty() {
        return Err(ImageError::BadRequest(format!("Invalid pointer `{path}`.")));
    }
    Ok(out)
}

/// Apply one change of a PATCH body to `image`.
pub fn apply(
    image: &mut Image,
    op: &Map<String, Value>,
    draft: Draft,
    caller: &AuthContext,
) -> ImageResult<()> {
    let (name, path) = operation(op, draft)?;
    let key = pointer(path)?;
    match name {
        "add" | "replace" => {
            let value = op.get("value").ok_or_else(|| {
                ImageError::BadRequest(format!(
                    "Operation \"{name}\" requires a member named \"value\"."
                ))
            })?;
            let kind = if name == "add" { Op::Add } else { Op::Replace };
            set_attribute(image, &key, value, kind, caller)
        }
        "remove" => remove_attribute(image, &key),
        other => Err(ImageError::BadRequest(format!(
            "Invalid operation: `{other}`: must be one of add, remove, replace."
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pointers_unescape_and_refuse_nesting() {
        assert_eq!(pointer("/name").unwrap(), "name");
        assert_eq!(pointer("/a~1b~0c").unwrap(), "a/b~c");
        assert!(pointer("name").is_err());
        assert!(pointer("/a/b").is_err());
        assert!(pointer("/").is_err());
        assert!(pointer("/bad~2").is_err());
    }

    #[test]
    fn draft_4_names_the_operation_by_its_key() {
        let op = |v: Value| v.as_object().unwrap().clone();
        let o = op(serde_json::json!({"replace": "/name", "value": "x"}));
        assert_eq!(operation(&o, Draft::Four).unwrap(), ("replace", "/name"));
        assert!(operation(&o, Draft::Ten).is_err());
        let o = op(serde_json::json!({"op": "add", "path": "/p", "value": "x"}));
        assert_eq!(operation(&o, Draft::Ten).unwrap(), ("add", "/p"));
        assert!(operation(&o, Draft::Four).is_err());
    }
}
