//! `GET /v3/limits`: the caller's project's absolute volume limits and usage.
//!
//! Cinder takes `?project_id=` (an admin's, for another project) from
//! microversion 3.39; below it, or for anyone else, the limits are the
//! token's project's.

use crate::error::VolumeResult;
use crate::microversion::Version;
use crate::VolumeState;
use axum::extract::{Query, State};
use ferrostack_policy::AuthContext;
use ferrostack_quota::VOLUME;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Quota name to absolute-limit name.
const LIMIT_NAMES: &[(&str, &str)] = &[
    ("volumes", "maxTotalVolumes"),
    ("snapshots", "maxTotalSnapshots"),
    ("gigabytes", "maxTotalVolumeGigabytes"),
    ("backups", "maxTotalBackups"),
    ("backup_gigabytes", "maxTotalBackupGigabytes"),
];

/// Quota name to used-limit name.
const USED_NAMES: &[(&str, &str)] = &[
    ("volumes", "totalVolumesUsed"),
    ("snapshots", "totalSnapshotsUsed"),
    ("gigabytes", "totalGigabytesUsed"),
    ("backups", "totalBackupsUsed"),
    ("backup_gigabytes", "totalBackupGigabytesUsed"),
];

/// `GET /v3/limits`.
pub async fn show(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(caller): axum::Extension<AuthContext>,
    version: Version,
    Query(q): Query<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let project_id = match q.get("project_id") {
        Some(p) if version.at_least(39) && caller.is_admin() => p.clone(),
        _ => caller.project_id().unwrap_or_default().to_string(),
    };
    let limits = state.quotas.limits(&VOLUME, &project_id)?;
    let usage = state.quotas.usage(&VOLUME, &project_id)?;
    let mut absolute = serde_json::Map::new();
    for (quota, name) in LIMIT_NAMES {
        absolute.insert(
            (*name).into(),
            json!(limits.get(*quota).copied().unwrap_or(-1)),
        );
    }
    for (quota, name) in USED_NAMES {
        absolute.insert(
            (*name).into(),
            json!(usage.get(*quota).copied().unwrap_or(0)),
        );
    }
    Ok(axum::Json(
        json!({"limits": {"rate": [], "absolute": absolute}}),
    ))
}
