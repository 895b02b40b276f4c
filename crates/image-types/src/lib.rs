//! Wire types of ferrostack's image API (Glance v2).
//!
//! Shapes only: no axum, no database. The image service renders these,
//! and tests, the dashboard or the compute agent (which downloads images)
//! can parse them without depending on the server.
//!
//! An image's free-form properties sit at the top level of its JSON beside
//! the core attributes, so [`Image`] flattens them into
//! [`Image::properties`]; every core attribute is a named field so that it
//! never lands among the properties when parsing.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Glance's `disk_format` values.
pub const DISK_FORMATS: &[&str] = &[
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop",
];
/// Glance's `container_format` values.
pub const CONTAINER_FORMATS: &[&str] = &[
    "ami",
    "ari",
    "aki",
    "bare",
    "ovf",
    "ova",
    "docker",
    "compressed",
];
/// Image visibilities.
pub const VISIBILITIES: &[&str] = &["public", "private", "shared", "community"];
/// The JSON-patch media type `PATCH /v2/images/{id}` accepts.
pub const PATCH_MEDIA_TYPE: &str = "application/openstack-images-v2.1-json-patch";

/// An image as `GET /v2/images/{id}` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// UUID.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// `queued`, `saving`, `active`, `deactivated`, ...
    pub status: String,
    /// `public`, `private`, `shared` or `community`.
    pub visibility: String,
    /// Cannot be deleted while true.
    pub protected: bool,
    /// Hidden from default lists.
    pub os_hidden: bool,
    /// Owning project id.
    pub owner: Option<String>,
    /// Disk format.
    pub disk_format: Option<String>,
    /// Container format.
    pub container_format: Option<String>,
    /// Bytes of data.
    pub size: Option<i64>,
    /// Size of the disk the data describes.
    pub virtual_size: Option<i64>,
    /// MD5 of the data, hex.
    pub checksum: Option<String>,
    /// `sha512` once data exists.
    pub os_hash_algo: Option<String>,
    /// Hex digest of the data.
    pub os_hash_value: Option<String>,
    /// Minimum disk (GiB).
    pub min_disk: i64,
    /// Minimum RAM (MiB).
    pub min_ram: i64,
    /// Tags.
    pub tags: Vec<String>,
    /// Creation time, `YYYY-MM-DDThh:mm:ssZ`.
    pub created_at: String,
    /// Last update time, `YYYY-MM-DDThh:mm:ssZ`.
    pub updated_at: String,
    /// `/v2/images/{id}`.
    #[serde(rename = "self")]
    pub self_link: String,
    /// `/v2/images/{id}/file`.
    pub file: String,
    /// `/v2/schemas/image`.
    pub schema: String,
    /// Free-form properties, at the top level on the wire.
    #[serde(flatten)]
    pub properties: BTreeMap<String, String>,
}

/// `GET /v2/images`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageList {
    /// One page of images.
    pub images: Vec<Image>,
    /// `/v2/schemas/images`.
    pub schema: String,
    /// `/v2/images`.
    pub first: String,
    /// The next page (path and query), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// An image member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The image.
    pub image_id: String,
    /// The member project.
    pub member_id: String,
    /// `pending`, `accepted` or `rejected`.
    pub status: String,
    /// Creation time.
    pub created_at: String,
    /// Last update time.
    pub updated_at: String,
    /// `/v2/schemas/member`.
    pub schema: String,
}

/// `GET /v2/images/{id}/members`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberList {
    /// The members.
    pub members: Vec<Member>,
    /// `/v2/schemas/members`.
    pub schema: String,
}

/// The body of every error: `{"code": 404, "title": "Not Found", "message": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// HTTP status.
    pub code: u16,
    /// The status's reason phrase.
    pub title: String,
    /// What went wrong, safe to show.
    pub message: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn properties_sit_beside_core_attributes_and_round_trip() {
        let wire = json!({
            "id": "5a8f4f2b-33cb-4c3e-9c3b-6f0f5c1d2e3f", "name": "cirros", "status": "active",
            "visibility": "public", "protected": false, "os_hidden": false, "owner": "p",
            "disk_format": "qcow2", "container_format": "bare", "size": 1, "virtual_size": 2,
            "checksum": "c", "os_hash_algo": "sha512", "os_hash_value": "h", "min_disk": 0,
            "min_ram": 0, "tags": [], "created_at": "t", "updated_at": "t",
            "self": "/v2/images/x", "file": "/v2/images/x/file", "schema": "/v2/schemas/image",
            "os_distro": "cirros"
        });
        let image: Image = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(image.properties.len(), 1);
        assert_eq!(image.properties["os_distro"], "cirros");
        assert_eq!(serde_json::to_value(&image).unwrap(), wire);
    }
}
