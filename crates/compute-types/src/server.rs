//! Bodies of `POST /servers` and `PUT /servers/{id}`.
//!
//! Each field is named once, on [`ServerCreate`] or [`ServerUpdate`], with
//! the microversion that brought it. Fields are kept as sent
//! (`Option<Value>`, see [`crate::body`]) and read by methods that refuse
//! in Nova's words; the compute service calls them in the order it checks
//! a request, between its own lookups (flavor, image, key pair), so the
//! first refusal a client sees is the same as before these types existed.
//!
//! Unknown fields: create ignores them (ferrostack has always accepted
//! Nova's full create schema and then some); update refuses them, naming
//! the first in body order, and counts `description` before 2.19 and
//! `hostname` before 2.90 as unknown, as Nova's schemas do.

use crate::body::{self, present, BodyError, Resource, Wrapped};
use crate::ApiVersion;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Most servers one request may create (Nova has no fixed bound; quota
/// decides, but a body asking for millions is refused up front).
pub const MAX_COUNT: u64 = 1000;

/// The id at the end of an `imageRef`/`flavorRef`, which may be a URL.
pub fn ref_id(raw: &str) -> &str {
    raw.trim_end_matches('/').rsplit('/').next().unwrap_or(raw)
}

/// `POST /servers`: `{"server": {...}, "os:scheduler_hints": {...}}`.
pub type CreateServerBody = Wrapped<ServerCreate>;

/// `PUT /servers/{id}`: `{"server": {...}}`.
pub type UpdateServerBody = Wrapped<ServerUpdate>;

/// The `server` object of a create. Every field is optional on the wire;
/// the methods say which are required and when.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ServerCreate {
    /// Required, 1-255 characters, not blank.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Value>,
    /// `"none"`, `"auto"` or a list of requests; required from 2.37.
    #[serde(default, deserialize_with = "present")]
    pub networks: Option<Value>,
    /// The image (an id or a URL ending in one).
    #[serde(default, rename = "imageRef", deserialize_with = "present")]
    pub image_ref: Option<Value>,
    /// Block device mappings.
    #[serde(default, deserialize_with = "present")]
    pub block_device_mapping_v2: Option<Value>,
    /// The flavor (an id, a number or a URL ending in one); required.
    #[serde(default, rename = "flavorRef", deserialize_with = "present")]
    pub flavor_ref: Option<Value>,
    /// A key pair of the caller.
    #[serde(default, deserialize_with = "present")]
    pub key_name: Option<Value>,
    /// Base64, at most 65535 bytes decoded.
    #[serde(default, deserialize_with = "present")]
    pub user_data: Option<Value>,
    /// A boolean, or a string such as `"true"`.
    #[serde(default, deserialize_with = "present")]
    pub config_drive: Option<Value>,
    /// `zone`, or (admins) `zone:host[:node]`.
    #[serde(default, deserialize_with = "present")]
    pub availability_zone: Option<Value>,
    /// A host to boot on (admins); read from 2.74, ignored before.
    #[serde(default, deserialize_with = "present")]
    pub host: Option<Value>,
    /// 1-[`MAX_COUNT`], an integer or a string of one.
    #[serde(default, deserialize_with = "present")]
    pub min_count: Option<Value>,
    /// 1-[`MAX_COUNT`], at least `min_count`.
    #[serde(default, deserialize_with = "present")]
    pub max_count: Option<Value>,
    /// From 2.19; ignored before.
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Value>,
    /// From 2.52; ignored before, and when not a list.
    #[serde(default, deserialize_with = "present")]
    pub tags: Option<Value>,
    /// From 2.90; ignored before.
    #[serde(default, deserialize_with = "present")]
    pub hostname: Option<Value>,
    /// From 2.63; ignored before.
    #[serde(default, deserialize_with = "present")]
    pub trusted_image_certificates: Option<Value>,
    /// String keys and values; see [`body::metadata`].
    #[serde(default, deserialize_with = "present")]
    pub metadata: Option<Value>,
    /// At most 64 characters.
    #[serde(default, rename = "accessIPv4", deserialize_with = "present")]
    pub access_ipv4: Option<Value>,
    /// At most 64 characters.
    #[serde(default, rename = "accessIPv6", deserialize_with = "present")]
    pub access_ipv6: Option<Value>,
    /// `AUTO` or `MANUAL` (the default).
    #[serde(default, rename = "OS-DCF:diskConfig", deserialize_with = "present")]
    pub disk_config: Option<Value>,
    /// `[{"name": group}, ...]`: the security groups of the ports Nova
    /// creates (a name or an id each).
    #[serde(default, deserialize_with = "present")]
    pub security_groups: Option<Value>,
    /// Answer with the reservation id instead of the server.
    #[serde(default, deserialize_with = "present")]
    pub return_reservation_id: Option<Value>,
    /// The password the create answers with (Nova returns the one it was
    /// given; one is made up when none is).
    #[serde(default, rename = "adminPass", deserialize_with = "present")]
    pub admin_pass: Option<Value>,
}

impl Resource for ServerCreate {
    const KEY: &'static str = "server";
}

/// What a create asked of `networks`.
#[derive(Clone, Debug, PartialEq)]
pub enum Networks {
    /// Not given (allowed before 2.37).
    Unspecified,
    /// `"none"`.
    None,
    /// `"auto"`.
    Auto,
    /// A list of network, port or fixed-IP requests (maybe empty).
    Requested(Vec<Value>),
}

/// One entry of `block_device_mapping_v2`, kept as sent.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct BlockDeviceMapping {
    /// `image`, `volume`, `snapshot` or `blank`.
    #[serde(default, deserialize_with = "present")]
    pub source_type: Option<Value>,
    /// `local` (the default) or `volume`.
    #[serde(default, deserialize_with = "present")]
    pub destination_type: Option<Value>,
    /// The source's id.
    #[serde(default, deserialize_with = "present")]
    pub uuid: Option<Value>,
    /// `0` (or `"0"`) for the root disk.
    #[serde(default, deserialize_with = "present")]
    pub boot_index: Option<Value>,
    /// GiB of a volume the boot creates.
    #[serde(default, deserialize_with = "present")]
    pub volume_size: Option<Value>,
    /// Delete the volume with the server.
    #[serde(default, deserialize_with = "present")]
    pub delete_on_termination: Option<Value>,
    /// The volume type of a volume the boot creates (2.67).
    #[serde(default, deserialize_with = "present")]
    pub volume_type: Option<Value>,
    /// The device tag (2.42).
    #[serde(default, deserialize_with = "present")]
    pub tag: Option<Value>,
}

/// Where a volume of a boot comes from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BootVolumeSource {
    /// A new volume holding this image.
    Image(String),
    /// A new empty volume.
    Blank,
    /// An existing volume.
    Volume(String),
    /// A new volume made from this volume snapshot.
    Snapshot(String),
}

/// A volume of a boot (`destination_type: volume`), checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BootVolume {
    /// Where it comes from.
    pub source: BootVolumeSource,
    /// GiB of a new volume (0 for an existing one).
    pub size_gib: u64,
    /// `Some(0)` for the root disk.
    pub boot_index: Option<u32>,
    /// Delete it with the server.
    pub delete_on_termination: bool,
    /// The volume type of a new volume.
    pub volume_type: Option<String>,
    /// The device tag.
    pub tag: Option<String>,
}

impl BlockDeviceMapping {
    /// This mapping as a volume of the boot, when its destination is a
    /// volume (`None`: a local disk). Refused as Nova refuses: an unknown
    /// source, a new volume without a size, a snapshot source.
    pub fn volume(&self) -> Result<Option<BootVolume>, BodyError> {
        let text = |f: &Option<Value>| f.as_ref().and_then(Value::as_str).map(str::to_string);
        if text(&self.destination_type).as_deref() != Some("volume") {
            return Ok(None);
        }
        let uuid = text(&self.uuid).unwrap_or_default();
        let size = match &self.volume_size {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            Some(other) => {
                return Err(BodyError::invalid(
                    "block_device_mapping_v2/volume_size",
                    other,
                    "is not of type 'integer', 'string'",
                ))
            }
        };
        let boot_index = match &self.boot_index {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            Some(_) => None,
        }
        .and_then(|i| u32::try_from(i).ok());
        let flag = match &self.delete_on_termination {
            None | Some(Value::Null) => false,
            Some(v) => body::boolean("block_device_mapping_v2/delete_on_termination", v)?,
        };
        let source = match text(&self.source_type).as_deref() {
            Some("image") => BootVolumeSource::Image(uuid),
            Some("blank") => BootVolumeSource::Blank,
            Some("volume") => BootVolumeSource::Volume(uuid),
            Some("snapshot") => BootVolumeSource::Snapshot(uuid),
            _ => {
                return Err(BodyError::BadRequest(
                    "Block Device Mapping is Invalid: Boot sequence for the instance and \
                     image/block device mapping combination is not valid."
                        .into(),
                ))
            }
        };
        if matches!(source, BootVolumeSource::Image(_) | BootVolumeSource::Blank) && size == 0 {
            return Err(BodyError::BadRequest(
                "Block Device Mapping is Invalid: Images with destination_type 'volume' need to \
                 have a non-zero size specified"
                    .into(),
            ));
        }
        match &source {
            BootVolumeSource::Volume(id) if uuid::Uuid::parse_str(id).is_err() => {
                return Err(BodyError::BadRequest(format!(
                    "Block Device Mapping is Invalid: failed to get volume {id}."
                )));
            }
            BootVolumeSource::Snapshot(id) if uuid::Uuid::parse_str(id).is_err() => {
                return Err(BodyError::BadRequest(format!(
                    "Block Device Mapping is Invalid: failed to get snapshot {id}."
                )));
            }
            _ => {}
        }
        Ok(Some(BootVolume {
            source,
            size_gib: size,
            boot_index,
            delete_on_termination: flag,
            volume_type: text(&self.volume_type),
            tag: text(&self.tag),
        }))
    }

    /// Is this the image `image_ref` as the local root disk?
    pub fn is_image_root(&self, image_ref: &str) -> bool {
        let text = |f: &Option<Value>| f.as_ref().and_then(Value::as_str).map(str::to_string);
        let source = text(&self.source_type).unwrap_or_default();
        let dest = text(&self.destination_type).unwrap_or_else(|| "local".into());
        let uuid = text(&self.uuid).unwrap_or_default();
        let boot = self
            .boot_index
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        let image_root =
            source == "image" && dest == "local" && (uuid.is_empty() || uuid == image_ref);
        image_root && (boot == "0" || boot == "\"0\"")
    }
}

fn count(field: &str, value: Option<&Value>) -> Result<Option<u64>, BodyError> {
    let Some(v) = value else {
        return Ok(None);
    };
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (1..=MAX_COUNT).contains(&n) => Ok(Some(n)),
        _ => Err(BodyError::invalid(
            field,
            v,
            "must be an integer between 1 and 1000",
        )),
    }
}

/// A `hostname` as Nova's schemas take it: letters, digits, `-`, `.` and
/// `_`; a host name of at most 63 characters until 2.94, an FQDN of at
/// most 255 from 2.94 (Nova's `fqdn` parameter type).
fn hostname_field(v: ApiVersion, value: Option<&Value>) -> Result<Option<String>, BodyError> {
    let max = if v.at_least(94) { 255 } else { 63 };
    let hostname = body::string("hostname", value, max)?;
    if let Some(h) = &hostname {
        if !h
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            return Err(BodyError::invalid(
                "hostname",
                &json!(h),
                &format!("'{h}' does not match '^[a-zA-Z0-9-._]*$'"),
            ));
        }
    }
    Ok(hostname)
}

impl ServerCreate {
    /// The name: required, in Nova's `name` format ([`body::name`]:
    /// printable, no surrounding whitespace, 1 to 255 characters).
    pub fn name(&self) -> Result<String, BodyError> {
        match &self.name {
            None => Err(BodyError::invalid(
                "name",
                &Value::Null,
                "is required and must not be blank",
            )),
            Some(name) => body::name("name", name),
        }
    }

    /// The `adminPass` asked for, if any: a string (Nova's schema).
    pub fn admin_pass(&self) -> Result<Option<String>, BodyError> {
        body::admin_pass(self.admin_pass.as_ref())
    }

    /// `networks` at `v`; `sent` is the `server` object (quoted when the
    /// field is missing at 2.37 or later).
    pub fn networks(
        &self,
        v: ApiVersion,
        sent: &Map<String, Value>,
    ) -> Result<Networks, BodyError> {
        match &self.networks {
            None if v.at_least(37) => Err(BodyError::invalid(
                "server",
                &Value::Object(sent.clone()),
                "'networks' is a required property",
            )),
            None => Ok(Networks::Unspecified),
            Some(Value::String(s)) if s == "none" => Ok(Networks::None),
            Some(Value::String(s)) if s == "auto" => Ok(Networks::Auto),
            Some(Value::Array(a)) => Ok(Networks::Requested(a.clone())),
            Some(other) => Err(BodyError::invalid(
                "networks",
                other,
                "is not valid under any of the given schemas",
            )),
        }
    }

    /// The image id (`""` when none is given or it is not a string).
    pub fn image_id(&self) -> &str {
        self.image_ref
            .as_ref()
            .and_then(Value::as_str)
            .map(ref_id)
            .unwrap_or("")
    }

    /// The block device mappings, if given.
    pub fn block_devices(&self) -> Result<Option<Vec<BlockDeviceMapping>>, BodyError> {
        match &self.block_device_mapping_v2 {
            None => Ok(None),
            Some(Value::Array(list)) => Ok(Some(list.iter().map(body::read).collect())),
            Some(other) => Err(BodyError::invalid(
                "block_device_mapping_v2",
                other,
                "is not of type 'array'",
            )),
        }
    }

    /// The flavor id: required; `sent` is the `server` object.
    pub fn flavor_id(&self, sent: &Map<String, Value>) -> Result<String, BodyError> {
        match &self.flavor_ref {
            Some(Value::String(s)) => Ok(ref_id(s).to_string()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(BodyError::invalid(
                "server",
                &Value::Object(sent.clone()),
                "'flavorRef' is a required property",
            )),
        }
    }

    /// The key pair's name, if given.
    pub fn key_name(&self) -> Result<Option<String>, BodyError> {
        body::string("key_name", self.key_name.as_ref(), 255)
    }

    /// The security groups asked for (names or ids, as sent, without
    /// duplicates); empty when not given.
    pub fn security_groups(&self) -> Result<Vec<String>, BodyError> {
        let Some(v) = &self.security_groups else {
            return Ok(Vec::new());
        };
        let Value::Array(items) = v else {
            return Err(BodyError::invalid(
                "security_groups",
                v,
                "is not of type 'array'",
            ));
        };
        let mut out: Vec<String> = Vec::new();
        for item in items {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.trim().is_empty() && n.len() <= 255)
                .ok_or_else(|| {
                    BodyError::invalid(
                        "security_groups",
                        item,
                        "is not valid under any of the given schemas",
                    )
                })?;
            if !out.iter().any(|o| o == name) {
                out.push(name.to_string());
            }
        }
        Ok(out)
    }

    /// `user_data` as sent (base64 of at most 65535 bytes), if given.
    pub fn user_data(&self) -> Result<Option<String>, BodyError> {
        match &self.user_data {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                use base64::Engine;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|_| BodyError::invalid("user_data", &json!(s), "is not a 'base64'"))?;
                if decoded.len() > 65535 {
                    return Err(BodyError::invalid(
                        "user_data",
                        &json!("..."),
                        "is too long",
                    ));
                }
                Ok(Some(s.clone()))
            }
            Some(other) => Err(BodyError::invalid(
                "user_data",
                other,
                "is not of type 'string'",
            )),
        }
    }

    /// Was a config drive asked for?
    pub fn config_drive(&self) -> Result<bool, BodyError> {
        match &self.config_drive {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => Ok(matches!(
                s.to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on"
            )),
            Some(other) => Err(BodyError::invalid("config_drive", other, "is not valid")),
        }
    }

    /// `availability_zone` as sent (maybe `zone:host`), if given.
    pub fn availability_zone(&self) -> Result<Option<String>, BodyError> {
        body::string("availability_zone", self.availability_zone.as_ref(), 255)
    }

    /// The requested host at `v` (read from 2.74).
    pub fn host(&self, v: ApiVersion) -> Result<Option<String>, BodyError> {
        if v.at_least(74) {
            body::string("host", self.host.as_ref(), 255)
        } else {
            Ok(None)
        }
    }

    /// `(min_count, max_count)`: 1 each by default, `max` defaulting to `min`.
    pub fn counts(&self) -> Result<(u64, u64), BodyError> {
        let min = count("min_count", self.min_count.as_ref())?.unwrap_or(1);
        let max = count("max_count", self.max_count.as_ref())?.unwrap_or(min);
        if max < min {
            return Err(BodyError::BadRequest(
                "min_count must be <= max_count".into(),
            ));
        }
        Ok((min, max))
    }

    /// The description at `v` (read from 2.19; `null` is none).
    pub fn description(&self, v: ApiVersion) -> Result<Option<String>, BodyError> {
        match &self.description {
            _ if !v.at_least(19) => Ok(None),
            None | Some(Value::Null) => Ok(None),
            Some(d) => body::string("description", Some(d), 255),
        }
    }

    /// The tags at `v` (read from 2.52, when a list): each 1-60
    /// characters without `/` or `,`.
    pub fn tags(&self, v: ApiVersion) -> Result<Vec<String>, BodyError> {
        match &self.tags {
            Some(Value::Array(a)) if v.at_least(52) => a
                .iter()
                .map(|t| {
                    t.as_str()
                        .filter(|s| !s.is_empty() && s.len() <= 60 && !s.contains(['/', ',']))
                        .map(str::to_string)
                        .ok_or_else(|| BodyError::invalid("tags", t, "is not a valid tag"))
                })
                .collect(),
            _ => Ok(Vec::new()),
        }
    }

    /// The hostname at `v` (read from 2.90): see [`hostname_field`].
    pub fn hostname(&self, v: ApiVersion) -> Result<Option<String>, BodyError> {
        if v.at_least(90) {
            hostname_field(v, self.hostname.as_ref())
        } else {
            Ok(None)
        }
    }

    /// Were trusted image certificates asked for (read from 2.63)?
    pub fn asks_trusted_certificates(&self, v: ApiVersion) -> bool {
        v.at_least(63)
            && self
                .trusted_image_certificates
                .as_ref()
                .is_some_and(|c| !c.is_null())
    }

    /// The metadata (empty when not given).
    pub fn metadata(&self) -> Result<BTreeMap<String, String>, BodyError> {
        self.metadata
            .as_ref()
            .map_or_else(|| Ok(BTreeMap::new()), body::metadata)
    }

    /// `accessIPv4` (`""` when not given).
    pub fn access_ipv4(&self) -> Result<String, BodyError> {
        Ok(body::string("accessIPv4", self.access_ipv4.as_ref(), 64)?.unwrap_or_default())
    }

    /// `accessIPv6` (`""` when not given).
    pub fn access_ipv6(&self) -> Result<String, BodyError> {
        Ok(body::string("accessIPv6", self.access_ipv6.as_ref(), 64)?.unwrap_or_default())
    }

    /// `OS-DCF:diskConfig` (`MANUAL` when not given).
    pub fn disk_config(&self) -> Result<String, BodyError> {
        Ok(
            body::string("OS-DCF:diskConfig", self.disk_config.as_ref(), 10)?
                .unwrap_or_else(|| "MANUAL".into()),
        )
    }

    /// Should the answer be the reservation id (`true`, `"True"`, `"true"`)?
    pub fn returns_reservation_id(&self) -> bool {
        self.return_reservation_id
            .as_ref()
            .is_some_and(|r| r == &json!(true) || r == &json!("True") || r == &json!("true"))
    }
}

impl CreateServerBody {
    /// The `group` scheduler hint, from `os:scheduler_hints` or, when that
    /// is absent, its old name `OS-SCH-HNT:scheduler_hints`.
    pub fn group_hint(&self) -> Option<&str> {
        self.sent
            .get("os:scheduler_hints")
            .or_else(|| self.sent.get("OS-SCH-HNT:scheduler_hints"))
            .and_then(|h| h.get("group"))
            .and_then(Value::as_str)
    }
}

/// The `server` object of an update.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ServerUpdate {
    /// Not blank, at most 255 characters.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Value>,
    /// At most 64 characters.
    #[serde(default, rename = "accessIPv4", deserialize_with = "present")]
    pub access_ipv4: Option<Value>,
    /// At most 64 characters.
    #[serde(default, rename = "accessIPv6", deserialize_with = "present")]
    pub access_ipv6: Option<Value>,
    /// `AUTO` or `MANUAL`: shown in the view (nothing resizes partitions).
    #[serde(default, rename = "OS-DCF:diskConfig", deserialize_with = "present")]
    pub disk_config: Option<Value>,
    /// From 2.19: a string of at most 255 characters, or `null` to clear.
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Value>,
    /// From 2.90: at most 63 characters.
    #[serde(default, deserialize_with = "present")]
    pub hostname: Option<Value>,
    /// Every other key: refused.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

impl Resource for ServerUpdate {
    const KEY: &'static str = "server";
}

/// The changes an update asks for, checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new `accessIPv4`.
    pub access_ipv4: Option<String>,
    /// A new `accessIPv6`.
    pub access_ipv6: Option<String>,
    /// A new description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// A new hostname.
    pub hostname: Option<String>,
}

impl ServerUpdate {
    fn refused(&self, v: ApiVersion, key: &str) -> bool {
        self.unknown.contains_key(key)
            || key == "description" && !v.at_least(19)
            || key == "hostname" && !v.at_least(90)
    }

    /// Check the update at `v`; `sent` is the `server` object, whose key
    /// order decides which unknown key is named.
    pub fn changes(
        &self,
        v: ApiVersion,
        sent: &Map<String, Value>,
    ) -> Result<ServerChanges, BodyError> {
        if let Some(k) = sent.keys().find(|k| self.refused(v, k)) {
            return Err(BodyError::BadRequest(format!(
                "Invalid input for field/attribute server. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        let name = self
            .name
            .as_ref()
            .map(|n| body::name("name", n))
            .transpose()?;
        let access_ipv4 = body::string("accessIPv4", self.access_ipv4.as_ref(), 64)?;
        let access_ipv6 = body::string("accessIPv6", self.access_ipv6.as_ref(), 64)?;
        let description = match &self.description {
            Some(Value::Null) => Some(None),
            Some(d) => Some(body::string("description", Some(d), 255)?),
            None => None,
        };
        let hostname = hostname_field(v, self.hostname.as_ref())?;
        Ok(ServerChanges {
            name,
            access_ipv4,
            access_ipv6,
            description,
            hostname,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(body: Value) -> CreateServerBody {
        serde_json::from_value(body).unwrap()
    }

    fn update(v: u32, server: Value) -> Result<ServerChanges, BodyError> {
        let body: UpdateServerBody = serde_json::from_value(json!({ "server": server })).unwrap();
        let (u, sent) = body.required()?;
        u.changes(ApiVersion::new(2, v), sent)
    }

    #[test]
    fn networks_are_required_from_2_37() {
        let body = create(json!({"server": {"name": "a", "flavorRef": "1"}}));
        let (s, sent) = body.required().unwrap();
        assert_eq!(
            s.networks(ApiVersion::new(2, 36), sent),
            Ok(Networks::Unspecified)
        );
        let err = s.networks(ApiVersion::new(2, 37), sent).unwrap_err();
        assert!(err
            .to_string()
            .ends_with("'networks' is a required property"));
    }

    #[test]
    fn fields_of_later_microversions_are_ignored_before() {
        let body = create(json!({"server": {
            "description": "d", "tags": ["t"], "hostname": "h", "host": "c1",
            "trusted_image_certificates": ["x"],
        }}));
        let s = body.required().unwrap().0;
        assert_eq!(s.description(ApiVersion::new(2, 18)), Ok(None));
        assert_eq!(s.description(ApiVersion::new(2, 19)), Ok(Some("d".into())));
        assert!(s.tags(ApiVersion::new(2, 51)).unwrap().is_empty());
        assert_eq!(s.tags(ApiVersion::new(2, 52)).unwrap(), ["t"]);
        assert_eq!(s.hostname(ApiVersion::new(2, 89)), Ok(None));
        assert_eq!(s.host(ApiVersion::new(2, 73)), Ok(None));
        assert_eq!(s.host(ApiVersion::new(2, 74)), Ok(Some("c1".into())));
        assert!(!s.asks_trusted_certificates(ApiVersion::new(2, 62)));
        assert!(s.asks_trusted_certificates(ApiVersion::new(2, 63)));
    }

    #[test]
    fn counts_take_strings_and_refuse_out_of_range() {
        let s = |c: Value| create(json!({"server": c})).required().unwrap().0.counts();
        assert_eq!(s(json!({"min_count": "2"})), Ok((2, 2)));
        assert_eq!(s(json!({"max_count": 3})), Ok((1, 3)));
        assert!(s(json!({"min_count": 0})).is_err());
        assert!(s(json!({"min_count": 1001})).is_err());
        assert_eq!(
            s(json!({"min_count": 3, "max_count": 2})),
            Err(BodyError::BadRequest(
                "min_count must be <= max_count".into()
            ))
        );
    }

    #[test]
    fn the_old_scheduler_hints_name_is_read_only_without_the_new_one() {
        let old = create(json!({"OS-SCH-HNT:scheduler_hints": {"group": "g1"}}));
        assert_eq!(old.group_hint(), Some("g1"));
        let both = create(json!({
            "os:scheduler_hints": {},
            "OS-SCH-HNT:scheduler_hints": {"group": "g1"},
        }));
        assert_eq!(both.group_hint(), None);
    }

    #[test]
    fn update_refuses_unknown_fields_and_fields_of_later_microversions() {
        let unexpected = |v, server| update(v, server).unwrap_err().to_string();
        assert!(unexpected(1, json!({"flavorRef": "1"})).ends_with("('flavorRef' was unexpected)"));
        assert!(unexpected(18, json!({"description": "d"})).contains("'description'"));
        assert!(update(19, json!({"description": "d"})).is_ok());
        assert!(unexpected(89, json!({"hostname": "h"})).contains("'hostname'"));
        assert_eq!(
            update(90, json!({"hostname": "h", "description": null})),
            Ok(ServerChanges {
                hostname: Some("h".into()),
                description: Some(None),
                ..ServerChanges::default()
            })
        );
    }

    #[test]
    fn a_hostname_is_an_fqdn_of_up_to_255_from_2_94() {
        let fqdn = format!("{}-guest-test.domaintest.com", "x".repeat(52));
        let body = create(json!({"server": {"name": "a", "hostname": fqdn}}));
        let s = body.required().unwrap().0;
        assert!(s.hostname(ApiVersion::new(2, 93)).is_err());
        assert_eq!(s.hostname(ApiVersion::new(2, 94)), Ok(Some(fqdn.clone())));
        assert!(update(93, json!({"hostname": fqdn})).is_err());
        assert!(update(94, json!({"hostname": fqdn})).is_ok());
        assert!(update(94, json!({"hostname": "a b"})).is_err());
        assert!(update(94, json!({"hostname": "x".repeat(256)})).is_err());
    }

    #[test]
    fn a_name_with_unprintable_characters_is_refused() {
        for bad in [
            "a\u{0}b",
            "ring\u{7}",
            "evil\u{202e}txt",
            "a\u{2028}b",
            " lead",
        ] {
            let body = create(json!({"server": {"name": bad}}));
            assert!(body.required().unwrap().0.name().is_err(), "{bad:?}");
            assert!(update(1, json!({"name": bad})).is_err(), "{bad:?}");
        }
        for good in ["web 1", "café", "名前", "a\u{a0}b"] {
            let body = create(json!({"server": {"name": good}}));
            assert_eq!(body.required().unwrap().0.name().unwrap(), good);
        }
    }

    #[test]
    fn a_blank_name_is_refused() {
        assert!(update(1, json!({"name": "  "})).is_err());
        let body = create(json!({"server": {"name": " "}}));
        assert!(body.required().unwrap().0.name().is_err());
    }
}
