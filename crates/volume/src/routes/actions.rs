//! `POST /v3/volumes/{id}/action`: one body key names the action.
//!
//! Served: `os-extend`, `os-set_bootable`, `os-update_readonly_flag`,
//! `os-set_image_metadata`, `os-unset_image_metadata`,
//! `os-show_image_metadata`, `os-reset_status` (admin),
//! `os-force_delete` (admin), `os-retype`, and Nova's older attach flow
//! (`os-reserve`, `os-unreserve`, `os-begin_detaching`,
//! `os-roll_detaching`, `os-initialize_connection`,
//! `os-terminate_connection`, `os-attach`, `os-detach`). Others answer
//! 501 in Cinder's shape (`os-volume_upload_image`, migration, ...).

use super::{boolean, integer, metadata, opt_string, param};
use crate::error::{Json, VolumeError, VolumeResult};
use crate::microversion::Version;
use crate::service::Caller;
use crate::VolumeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_policy::AuthContext;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

const STATUSES: &[&str] = &[
    "available",
    "error",
    "creating",
    "deleting",
    "in-use",
    "attaching",
    "detaching",
    "error_deleting",
    "maintenance",
    "reserved",
    "extending",
    "error_extending",
];

fn admin_only(caller: &Caller, action: &str) -> VolumeResult<()> {
    if caller.is_admin {
        Ok(())
    } else {
        Err(VolumeError::Forbidden(format!(
            "Policy doesn't allow volume_extension:volume_admin_actions:{} to be performed.",
            action.trim_start_matches("os-")
        )))
    }
}

fn args<'a>(body: &'a Value, action: &str) -> VolumeResult<&'a Map<String, Value>> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    match body.get(action) {
        Some(Value::Object(o)) => Ok(o),
        Some(Value::Null) | None => Ok(EMPTY.get_or_init(Map::new)),
        Some(_) => Err(VolumeError::BadRequest(format!(
            "Invalid input for field/attribute {action}."
        ))),
    }
}

fn required<'a>(o: &'a Map<String, Value>, key: &str) -> VolumeResult<&'a Value> {
    o.get(key)
        .filter(|v| !v.is_null())
        .ok_or_else(|| VolumeError::BadRequest(format!("'{key}' is a required property")))
}

fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

/// `POST /v3/volumes/{volume_id}/action`.
pub async fn act(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    version: Version,
    Path(p): Path<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> VolumeResult<Response> {
    let caller = Caller::of(&auth);
    let id = param(&p, "volume_id")?;
    let action = body
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.keys().next().cloned())
        .ok_or_else(|| {
            VolumeError::BadRequest("Invalid request body: exactly one action is expected.".into())
        })?;
    let a = args(&body, &action)?;
    match action.as_str() {
        "os-extend" => {
            let size = integer("new_size", required(a, "new_size")?, 1)? as u64;
            state.extend_volume(&caller, id, size, version.at_least(42))?;
            Ok(accepted())
        }
        "os-set_bootable" => {
            let b = boolean("bootable", required(a, "bootable")?)?;
            state.change(&caller, id, |g| {
                g.volume.bootable = b;
                Ok(())
            })?;
            Ok(StatusCode::OK.into_response())
        }
        "os-update_readonly_flag" => {
            let ro = boolean("readonly", required(a, "readonly")?)?;
            state.change(&caller, id, |g| {
                g.volume.read_only = ro;
                Ok(())
            })?;
            Ok(accepted())
        }
        "os-set_image_metadata" => {
            let m = metadata(Some(required(a, "metadata")?))?;
            let g = state.change(&caller, id, |g| {
                g.volume.image_metadata.extend(m.clone());
                Ok(())
            })?;
            Ok(axum::Json(json!({"metadata": g.volume.image_metadata})).into_response())
        }
        "os-unset_image_metadata" => {
            let key = opt_string(a, "key")?
                .ok_or_else(|| VolumeError::BadRequest("'key' is a required property".into()))?;
            state.change(&caller, id, |g| {
                g.volume
                    .image_metadata
                    .remove(&key)
                    .map(|_| ())
                    .ok_or_else(|| {
                        crate::service::invalid_not_found(format!(
                            "Glance metadata for volume/snapshot {id} cannot be found."
                        ))
                    })
            })?;
            Ok(StatusCode::OK.into_response())
        }
        "os-show_image_metadata" => {
            let v = state.volume(&caller, id)?;
            Ok(axum::Json(json!({"metadata": v.image_metadata})).into_response())
        }
        "os-reset_status" => {
            admin_only(&caller, &action)?;
            let status = opt_string(a, "status")?.unwrap_or_default();
            if !STATUSES.contains(&status.as_str()) {
                return Err(VolumeError::BadRequest(format!(
                    "Invalid input received: Must specify a valid status, not {status}"
                )));
            }
            state.reset_status(&caller, id, &status)?;
            Ok(accepted())
        }
        "os-force_delete" => {
            admin_only(&caller, &action)?;
            state.delete_volume(&caller, id, false, true)?;
            Ok(accepted())
        }
        "os-retype" => {
            let t = opt_string(a, "new_type")?.ok_or_else(|| {
                VolumeError::BadRequest("'new_type' is a required property".into())
            })?;
            state.retype_volume(&caller, id, &t)?;
            Ok(accepted())
        }
        "os-reserve" | "os-unreserve" | "os-begin_detaching" | "os-roll_detaching" => {
            state.legacy_step(&caller, id, &action)?;
            Ok(accepted())
        }
        "os-initialize_connection" => {
            required(a, "connector")?;
            let info = state.initialize_connection(&caller, id)?;
            Ok(axum::Json(json!({"connection_info": info})).into_response())
        }
        "os-terminate_connection" => {
            required(a, "connector")?;
            state.volume(&caller, id)?;
            Ok(accepted())
        }
        "os-attach" => {
            let instance = opt_string(a, "instance_uuid")?;
            let host = opt_string(a, "host_name")?;
            let instance = instance.or(host.clone()).ok_or_else(|| {
                VolumeError::BadRequest(
                    "Invalid request to attach volume to an invalid target".into(),
                )
            })?;
            let mode = opt_string(a, "mode")?.unwrap_or_else(|| "rw".into());
            if mode != "rw" && mode != "ro" {
                return Err(VolumeError::BadRequest(
                    "Invalid request to attach volume with an invalid mode. Attaching mode should be 'rw' or 'ro'".into(),
                ));
            }
            let mountpoint = opt_string(a, "mountpoint")?;
            state.legacy_attach(&caller, id, &instance, host, mountpoint, &mode)?;
            Ok(accepted())
        }
        "os-detach" => {
            let attachment = opt_string(a, "attachment_id")?;
            state.legacy_detach(&caller, id, attachment.as_deref())?;
            Ok(accepted())
        }
        _ => Err(VolumeError::Status(
            StatusCode::NOT_IMPLEMENTED,
            format!("The volume action {action} is not implemented by ferrostack yet."),
        )),
    }
}
