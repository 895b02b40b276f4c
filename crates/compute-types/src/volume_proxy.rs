//! The bodies of Nova's volume proxies (to 2.35): `POST /os-volumes`
//! (`{"volume": {"size", "display_name", "display_description",
//! "volume_type", "metadata", "availability_zone", "snapshot_id"}}`) and
//! `POST /os-snapshots` (`{"snapshot": {"volume_id", "force",
//! "display_name", "display_description"}}`), strict as Nova's schemas:
//! only those keys, `size` a positive integer (or a string of digits),
//! `volume_id` required.

use crate::body::{self, python_repr, BodyError};
use serde_json::Value;
use std::collections::BTreeMap;

/// A volume create, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeCreate {
    /// Size, GiB.
    pub size_gib: u64,
    /// `display_name`.
    pub name: Option<String>,
    /// `display_description`.
    pub description: Option<String>,
    /// Type name or id.
    pub volume_type: Option<String>,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Availability zone.
    pub availability_zone: Option<String>,
    /// Copy of this snapshot.
    pub snapshot_id: Option<String>,
}

/// A snapshot create, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotCreate {
    /// The volume.
    pub volume_id: String,
    /// Snapshot an attached volume.
    pub force: bool,
    /// `display_name`.
    pub name: Option<String>,
    /// `display_description`.
    pub description: Option<String>,
}

fn opt_string(
    wrapper: &str,
    inner: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<String>, BodyError> {
    match inner.get(key) {
        None | Some(Value::Null) => Ok(None),
        v => body::string(&format!("{wrapper}/{key}"), v, usize::MAX),
    }
}

/// Nova's `size`: an integer or a string of digits, at least 1.
fn size(value: &Value) -> Result<u64, BodyError> {
    let field = "volume/size";
    let n = match value {
        Value::Number(n) if n.is_u64() || n.is_i64() => n.as_i64().unwrap_or(i64::MAX),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<i64>().unwrap_or(i64::MAX)
        }
        Value::String(s) => {
            return Err(BodyError::invalid(
                field,
                value,
                &format!("'{s}' does not match '^[0-9]+$'"),
            ))
        }
        other => {
            return Err(BodyError::invalid(
                field,
                value,
                &format!("{} is not of type 'integer', 'string'", python_repr(other)),
            ))
        }
    };
    Ok(body::in_range(field, value, n, 1, i64::MAX)? as u64)
}

/// `POST /os-volumes`.
pub fn volume_create(sent: &Value) -> Result<VolumeCreate, BodyError> {
    let w = "volume";
    let inner = body::exactly(sent, w)?;
    body::only_allowed(w, inner, |k| {
        matches!(
            k,
            "volume_type"
                | "metadata"
                | "snapshot_id"
                | "size"
                | "availability_zone"
                | "display_name"
                | "display_description"
        )
    })?;
    let Some(raw_size) = inner.get("size") else {
        return Err(BodyError::BadRequest(
            "'size' is a required property".into(),
        ));
    };
    let metadata = match inner.get("metadata") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(m) => body::metadata(m)?,
    };
    Ok(VolumeCreate {
        size_gib: size(raw_size)?,
        name: opt_string(w, inner, "display_name")?,
        description: opt_string(w, inner, "display_description")?,
        volume_type: opt_string(w, inner, "volume_type")?,
        metadata,
        availability_zone: opt_string(w, inner, "availability_zone")?,
        snapshot_id: opt_string(w, inner, "snapshot_id")?,
    })
}

/// `POST /os-snapshots`.
pub fn snapshot_create(sent: &Value) -> Result<SnapshotCreate, BodyError> {
    let w = "snapshot";
    let inner = body::exactly(sent, w)?;
    body::only_allowed(w, inner, |k| {
        matches!(
            k,
            "volume_id" | "force" | "display_name" | "display_description"
        )
    })?;
    let Some(volume_id) = opt_string(w, inner, "volume_id")? else {
        return Err(BodyError::BadRequest(
            "'volume_id' is a required property".into(),
        ));
    };
    let force = match inner.get("force") {
        None => false,
        Some(v) => body::boolean("snapshot/force", v)?,
    };
    Ok(SnapshotCreate {
        volume_id,
        force,
        name: opt_string(w, inner, "display_name")?,
        description: opt_string(w, inner, "display_description")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_volume_needs_a_positive_size_and_known_keys() {
        let v = volume_create(&json!({"volume": {"size": "2", "display_name": "a",
            "metadata": {"Type": "work"}}}))
        .unwrap();
        assert_eq!((v.size_gib, v.name.as_deref()), (2, Some("a")));
        assert_eq!(v.metadata.get("Type").map(String::as_str), Some("work"));
        for bad in [
            json!({"volume": {}}),
            json!({"volume": {"size": 0}}),
            json!({"volume": {"size": "#$%"}}),
            json!({"volume": {"size": -1}}),
            json!({"volume": {"size": 1.5}}),
            json!({"volume": {"size": 1, "imageRef": "x"}}),
            json!({"volumes": {"size": 1}}),
        ] {
            assert!(volume_create(&bad).is_err(), "{bad}");
        }
        let zero = volume_create(&json!({"volume": {"size": 0}})).unwrap_err();
        assert!(
            zero.to_string().contains("less than the minimum of 1"),
            "{zero}"
        );
    }

    #[test]
    fn a_snapshot_names_its_volume() {
        let s = snapshot_create(&json!({"snapshot": {"volume_id": "v", "force": "true"}})).unwrap();
        assert_eq!((s.volume_id.as_str(), s.force), ("v", true));
        assert!(snapshot_create(&json!({"snapshot": {"force": true}})).is_err());
        assert!(snapshot_create(&json!({"snapshot": {"volume_id": "v", "size": 1}})).is_err());
        assert!(
            snapshot_create(&json!({"snapshot": {"volume_id": "v", "force": "maybe"}})).is_err()
        );
    }
}
