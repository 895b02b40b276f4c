//! The image resource as Glance shows it, and the rules for changing it.
//!
//! Both `POST /v2/images` and `PATCH /v2/images/{id}` go through
//! [`set_attribute`], so an attribute is validated the same way however it
//! arrives. Attribute classes follow Glance:
//!
//! - read-only (`status`, `size`, `checksum`, ...): 403 "is read-only";
//! - reserved (`location`, `deleted`, `deleted_at`, and the whole
//!   `os_glance` namespace, where Glance keeps its own bookkeeping such as
//!   import progress): 403 "is reserved";
//! - core (`name`, `visibility`, `tags`, ...): typed and checked;
//! - anything else is a free-form property whose value must be a string.

use crate::error::{ImageError, ImageResult};
use ferrostack_common::time::iso_seconds;
use ferrostack_policy::AuthContext;
use ferrostack_store::image::Image;
use serde_json::Value;

pub use ferrostack_image_types::{CONTAINER_FORMATS, DISK_FORMATS, VISIBILITIES};

/// Attributes only the service sets.
pub const READ_ONLY: &[&str] = &[
    "checksum",
    "created_at",
    "direct_url",
    "file",
    "os_hash_algo",
    "os_hash_value",
    "schema",
    "self",
    "size",
    "status",
    "stores",
    "updated_at",
    "virtual_size",
    "locations",
];
/// Attributes no request may name.
pub const RESERVED: &[&str] = &["location", "deleted", "deleted_at"];
/// The prefix of properties only the service writes (Glance's
/// `os_glance_*`, e.g. `os_glance_importing_to_stores`).
pub const RESERVED_PREFIX: &str = "os_glance";
/// Most tags an image may carry (Glance's `image_tag_quota`).
pub const MAX_TAGS: usize = 128;
/// Most free-form properties an image may carry (`image_property_quota`).
pub const MAX_PROPERTIES: usize = 128;

/// The image as Glance renders it: core attributes (nulls included), then
/// properties flattened at the top level.
pub fn view(image: &Image) -> Value {
    let wire = ferrostack_image_types::Image {
        id: image.id.clone(),
        name: image.name.clone(),
        status: image.status.clone(),
        visibility: image.visibility.clone(),
        protected: image.protected,
        os_hidden: image.os_hidden,
        owner: image.owner.clone(),
        disk_format: image.disk_format.clone(),
        container_format: image.container_format.clone(),
        size: image.size,
        virtual_size: image.virtual_size,
        checksum: image.checksum.clone(),
        os_hash_algo: image.os_hash_algo.clone(),
        os_hash_value: image.os_hash_value.clone(),
        min_disk: image.min_disk,
        min_ram: image.min_ram,
        tags: image.tags.clone(),
        created_at: iso_seconds(image.created_at),
        updated_at: iso_seconds(image.updated_at),
        self_link: format!("/v2/images/{}", image.id),
        file: format!("/v2/images/{}/file", image.id),
        schema: "/v2/schemas/image".into(),
        // Which controller holds staged data is Glance's business only.
        properties: image
            .properties
            .iter()
            .filter(|(k, _)| k.as_str() != crate::interop::STAGE_HOST)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    serde_json::to_value(wire).unwrap_or(Value::Null)
}

/// How an attribute is being set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// On creation.
    Create,
    /// JSON-patch `add`.
    Add,
    /// JSON-patch `replace`.
    Replace,
}

fn bad(msg: String) -> ImageError {
    ImageError::BadRequest(msg)
}

fn string_or_null(key: &str, v: &Value, max: usize) -> ImageResult<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= max => Ok(Some(s.clone())),
        Value::String(_) => Err(bad(format!(
            "Invalid value for '{key}': longer than {max} characters."
        ))),
        _ => Err(bad(format!(
            "Invalid value for '{key}': {v} is not of type 'null', 'string'."
        ))),
    }
}

fn enum_or_null(key: &str, v: &Value, allowed: &[&str]) -> ImageResult<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
        _ => Err(bad(format!(
            "Invalid value for '{key}': {v} is not one of [{}].",
            allowed.join(", ")
        ))),
    }
}

fn boolean(key: &str, v: &Value) -> ImageResult<bool> {
    // Glance's schema says boolean; its clients send JSON booleans.
    v.as_bool().ok_or_else(|| {
        bad(format!(
            "Invalid value for '{key}': {v} is not of type 'boolean'."
        ))
    })
}

fn non_negative(key: &str, v: &Value) -> ImageResult<i64> {
    match v.as_i64() {
        Some(n) if n >= 0 && n <= i32::MAX as i64 => Ok(n),
        Some(_) => Err(bad(format!(
            "Invalid value for '{key}': Cannot be a negative value."
        ))),
        None => Err(bad(format!(
            "Invalid value for '{key}': {v} is not of type 'integer'."
        ))),
    }
}

/// Check a tag: a string of 1 to 255 characters.
pub fn check_tag(tag: &str) -> ImageResult<()> {
    if tag.is_empty() || tag.chars().count() > 255 {
        return Err(bad(format!(
            "Invalid tag '{tag}': tags are 1 to 255 characters."
        )));
    }
    Ok(())
}

fn tags(v: &Value) -> ImageResult<Vec<String>> {
    let items = v.as_array().ok_or_else(|| {
        bad(format!(
            "Invalid value for 'tags': {v} is not of type 'array'."
        ))
    })?;
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let tag = item
            .as_str()
            .ok_or_else(|| bad(format!("Invalid tag {item}: not a string.")))?;
        check_tag(tag)?;
        if !out.iter().any(|t| t == tag) {
            out.push(tag.to_string());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(ImageError::Status(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("Maximum number of tags exceeded ({MAX_TAGS})."),
        ));
    }
    Ok(out)
}

/// Refuse attributes no caller may set.
pub fn check_settable(key: &str) -> ImageResult<()> {
    if READ_ONLY.contains(&key) {
        return Err(ImageError::Forbidden(format!(
            "Attribute '{key}' is read-only."
        )));
    }
    if RESERVED.contains(&key) || key.starts_with(RESERVED_PREFIX) {
        return Err(ImageError::Forbidden(format!(
            "Attribute '{key}' is reserved."
        )));
    }
    Ok(())
}

/// Validate and apply one attribute to `image` as `caller`.
pub fn set_attribute(
    image: &mut Image,
    key: &str,
    value: &Value,
    op: Op,
    caller: &AuthContext,
) -> ImageResult<()> {
    check_settable(key)?;
    match key {
        "id" => {
            if op != Op::Create {
                return Err(ImageError::Forbidden("Attribute 'id' is read-only.".into()));
            }
            let id = value
                .as_str()
                .filter(|s| uuid::Uuid::try_parse(s).is_ok() && s.len() == 36)
                .ok_or_else(|| bad(format!("Invalid value for 'id': {value} is not a UUID.")))?;
            image.id = id.to_ascii_lowercase();
        }
        "name" => image.name = string_or_null(key, value, 255)?,
        "visibility" => {
            let v = enum_or_null(key, value, VISIBILITIES)?
                .ok_or_else(|| bad("Invalid value for 'visibility': null.".into()))?;
            if v == "public" && !caller.is_admin() && image.visibility != "public" {
                return Err(ImageError::Forbidden(
                    "You are not authorized to complete publicize_image action.".into(),
                ));
            }
            image.visibility = v;
        }
        "protected" => image.protected = boolean(key, value)?,
        "os_hidden" => image.os_hidden = boolean(key, value)?,
        "disk_format" | "container_format" => {
            if op != Op::Create && image.status != "queued" {
                return Err(ImageError::Forbidden(format!(
                    "Attribute {key} can be only replaced for a queued image."
                )));
            }
            let allowed = if key == "disk_format" {
                DISK_FORMATS
            } else {
                CONTAINER_FORMATS
            };
            let v = enum_or_null(key, value, allowed)?;
            if key == "disk_format" {
                image.disk_format = v;
            } else {
                image.container_format = v;
            }
        }
        "min_disk" => image.min_disk = non_negative(key, value)?,
        "min_ram" => image.min_ram = non_negative(key, value)?,
        "tags" => image.tags = tags(value)?,
        "owner" => {
            let owner = string_or_null(key, value, 255)?;
            if !caller.is_admin() && owner.as_deref() != caller.project_id() {
                return Err(ImageError::Forbidden(format!(
                    "You are not permitted to {} images owned by '{}'.",
                    if op == Op::Create { "create" } else { "modify" },
                    owner.unwrap_or_default()
                )));
            }
            image.owner = owner;
        }
        _ => {
            if key.is_empty() || key.chars().count() > 255 {
                return Err(bad(format!(
                    "Invalid property name '{key}': 1 to 255 characters."
                )));
            }
            let Value::String(s) = value else {
                return Err(bad(format!(
                    "Provided object does not match schema 'image': {value} is not of type 'string' (property '{key}')."
                )));
            };
            if op == Op::Replace && !image.properties.contains_key(key) {
                return Err(ImageError::Conflict(format!(
                    "Property {key} does not exist."
                )));
            }
            image.properties.insert(key.to_string(), s.clone());
            if image.properties.len() > MAX_PROPERTIES {
                return Err(ImageError::Status(
                    http::StatusCode::PAYLOAD_TOO_LARGE,
                    format!("Maximum number of properties exceeded ({MAX_PROPERTIES})."),
                ));
            }
        }
    }
    Ok(())
}

/// Core attributes: removing one is refused.
pub const CORE: &[&str] = &[
    "id",
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "disk_format",
    "container_format",
    "min_disk",
    "min_ram",
    "tags",
    "owner",
];

/// Apply a JSON-patch `remove` of `key`.
pub fn remove_attribute(image: &mut Image, key: &str) -> ImageResult<()> {
    check_settable(key)?;
    if CORE.contains(&key) {
        return Err(ImageError::Forbidden(format!(
            "Attribute '{key}' is a core attribute and cannot be removed."
        )));
    }
    if image.properties.remove(key).is_none() {
        return Err(ImageError::Conflict(format!(
            "Property {key} does not exist."
        )));
    }
    Ok(())
}

/// Who the caller is to an image.
pub fn is_owner(caller: &AuthContext, image: &Image) -> bool {
    caller.project_id().is_some() && caller.project_id() == image.owner.as_deref()
}

/// May the caller see `image` at all? `membership` is the caller's
/// project's member record, if any (any status: a pending member may look
/// at the image before accepting it, as in Glance).
pub fn can_see(caller: &AuthContext, image: &Image, is_member: bool) -> bool {
    caller.is_admin()
        || is_owner(caller, image)
        || matches!(image.visibility.as_str(), "public" | "community")
        || (image.visibility == "shared" && is_member)
}

/// May the caller change `image`? Admins, or `member` of the owner project.
pub fn can_modify(caller: &AuthContext, image: &Image) -> bool {
    caller.is_admin() || (is_owner(caller, image) && caller.has_role("member"))
}
