//! The arguments of the server action `createBackup`, checked as Nova's
//! schema checks them (kept apart from [`crate::server_action`], which
//! dispatches on the action).

use crate::body::{self, python_repr, BodyError};
use serde_json::Value;
use std::collections::BTreeMap;

/// `createBackup`, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateBackup {
    /// The image's name.
    pub name: String,
    /// The `backup_type` property (e.g. `daily`).
    pub backup_type: String,
    /// How many backups of that type to keep.
    pub rotation: u64,
    /// Image properties to add.
    pub metadata: BTreeMap<String, String>,
}

/// `createBackup`'s arguments as Nova's schema takes them: `name`,
/// `backup_type` and `rotation` (a non-negative integer, or a string of
/// digits) required, `metadata` optional, nothing else.
pub fn create_backup(args: &Value) -> Result<CreateBackup, BodyError> {
    let w = "createBackup";
    let Some(m) = args.as_object() else {
        return Err(BodyError::invalid(
            w,
            args,
            &format!("{} is not of type 'object'", python_repr(args)),
        ));
    };
    body::only_allowed(w, m, |k| {
        matches!(k, "name" | "backup_type" | "rotation" | "metadata")
    })?;
    for key in ["name", "backup_type", "rotation"] {
        if !m.contains_key(key) {
            return Err(BodyError::invalid(
                w,
                args,
                &format!("'{key}' is a required property"),
            ));
        }
    }
    let name = body::name("name", &m["name"])?;
    let backup_type =
        body::string("backup_type", m.get("backup_type"), usize::MAX)?.unwrap_or_default();
    let raw = &m["rotation"];
    let rotation = match raw {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<i64>().ok()
        }
        _ => None,
    };
    let Some(rotation) = rotation else {
        return Err(BodyError::invalid(
            "rotation",
            raw,
            &format!("{} is not of type 'integer', 'string'", python_repr(raw)),
        ));
    };
    let rotation = body::in_range("rotation", raw, rotation, 0, i64::MAX)? as u64;
    let metadata = match m.get("metadata") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(v) => body::metadata(v)?,
    };
    Ok(CreateBackup {
        name,
        backup_type,
        rotation,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_backup_needs_name_type_and_a_non_negative_rotation() {
        let ok = create_backup(
            &json!({"name": "b", "backup_type": "daily", "rotation": "2",
            "metadata": {"k": "v"}}),
        )
        .unwrap();
        assert_eq!(
            (ok.name.as_str(), ok.backup_type.as_str(), ok.rotation),
            ("b", "daily", 2)
        );
        assert_eq!(ok.metadata.get("k").map(String::as_str), Some("v"));
        for bad in [
            json!({"backup_type": "daily", "rotation": 1}),
            json!({"name": "b", "rotation": 1}),
            json!({"name": "b", "backup_type": "daily"}),
            json!({"name": "b", "backup_type": "daily", "rotation": -1}),
            json!({"name": "b", "backup_type": "daily", "rotation": "x"}),
            json!({"name": "b", "backup_type": "daily", "rotation": 1, "extra": 1}),
            json!({"name": " ", "backup_type": "daily", "rotation": 1}),
            json!(null),
        ] {
            assert!(create_backup(&bad).is_err(), "{bad}");
        }
    }
}
