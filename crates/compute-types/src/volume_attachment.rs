//! The body of `POST /servers/{id}/os-volume_attachments` (attach a
//! volume): `{"volumeAttachment": {"volumeId", "device", "tag",
//! "delete_on_termination"}}`, strict as Nova's schema: only those keys,
//! `tag` from 2.49, `delete_on_termination` from 2.79, `volumeId` a uuid.
//! `device` is accepted and ignored, as Nova does under libvirt (the
//! guest names its disks).

use crate::body::{self, python_repr, BodyError};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `POST /servers/{id}/os-volume_attachments`, kept as sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VolumeAttachmentBody {
    /// The whole body.
    pub sent: Value,
}

impl<'de> Deserialize<'de> for VolumeAttachmentBody {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|sent| VolumeAttachmentBody { sent })
    }
}

/// What an attach asks for, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeAttachRequest {
    /// The volume.
    pub volume_id: String,
    /// The device tag (2.49).
    pub tag: Option<String>,
    /// Delete the volume with the server (2.79).
    pub delete_on_termination: bool,
}

const WRAPPER: &str = "volumeAttachment";

impl VolumeAttachmentBody {
    /// The request, checked as Nova's schema checks it at microversion
    /// `minor` (of 2.x).
    pub fn request(&self, minor: u32) -> Result<VolumeAttachRequest, BodyError> {
        let inner = body::exactly(&self.sent, WRAPPER)?;
        body::only_allowed(WRAPPER, inner, |k| {
            matches!(k, "volumeId" | "device")
                || (minor >= 49 && k == "tag")
                || (minor >= 79 && k == "delete_on_termination")
        })?;
        let field = format!("{WRAPPER}/volumeId");
        let Some(volume_id) = body::string(&field, inner.get("volumeId"), usize::MAX)? else {
            return Err(BodyError::BadRequest(
                "'volumeId' is a required property".into(),
            ));
        };
        if uuid::Uuid::parse_str(&volume_id).is_err() {
            return Err(BodyError::invalid(
                &field,
                &Value::String(volume_id.clone()),
                &format!("'{volume_id}' is not a 'uuid'"),
            ));
        }
        if let Some(device) = inner.get("device") {
            if !device.is_null() {
                let d = body::string(&format!("{WRAPPER}/device"), Some(device), 255)?
                    .unwrap_or_default();
                if !d.starts_with("/dev/") && !d.is_empty() {
                    return Err(BodyError::invalid(
                        &format!("{WRAPPER}/device"),
                        device,
                        &format!("{} does not match '(^/dev/x{{0,1}}[a-z]{{0,1}}d{{0,1}})([a-z]+)[0-9]*$'", python_repr(device)),
                    ));
                }
            }
        }
        let tag = match body::string(&format!("{WRAPPER}/tag"), inner.get("tag"), 60)? {
            Some(t) if t.contains(',') || t.contains('/') => {
                return Err(BodyError::invalid(
                    &format!("{WRAPPER}/tag"),
                    &Value::String(t.clone()),
                    &format!("'{t}' does not match '^[^,/]*$'"),
                ))
            }
            t => t,
        };
        let delete_on_termination = match inner.get("delete_on_termination") {
            Some(v) => body::boolean(&format!("{WRAPPER}/delete_on_termination"), v)?,
            None => false,
        };
        Ok(VolumeAttachRequest {
            volume_id,
            tag,
            delete_on_termination,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "6f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

    fn read(v: Value, minor: u32) -> Result<VolumeAttachRequest, String> {
        VolumeAttachmentBody { sent: v }
            .request(minor)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn an_attach_names_a_volume_and_keys_follow_the_microversion() {
        let r = read(
            json!({"volumeAttachment": {"volumeId": ID, "device": null}}),
            1,
        )
        .unwrap();
        assert_eq!(r.volume_id, ID);
        assert!(read(
            json!({"volumeAttachment": {"volumeId": ID, "tag": "a"}}),
            48
        )
        .is_err());
        assert_eq!(
            read(
                json!({"volumeAttachment": {"volumeId": ID, "tag": "a"}}),
                49
            )
            .unwrap()
            .tag
            .as_deref(),
            Some("a")
        );
        let del = json!({"volumeAttachment": {"volumeId": ID, "delete_on_termination": true}});
        assert!(read(del.clone(), 78).is_err());
        assert!(read(del, 79).unwrap().delete_on_termination);
    }

    #[test]
    fn bad_bodies_are_refused() {
        assert!(read(json!({"volumeAttachment": {}}), 1).is_err());
        assert!(read(json!({"volumeAttachment": {"volumeId": "nope"}}), 1).is_err());
        assert!(read(json!({"volumeAttachment": {"volumeId": ID, "x": 1}}), 1).is_err());
        assert!(read(json!({"other": {}}), 1).is_err());
    }
}
