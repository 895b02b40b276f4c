//! `POST /servers/{id}/action` (dispatch on the action of an
//! [`ActionBody`], whose arguments are typed per action),
//! `/servers/{id}/metadata` and `/servers/{id}/ips`.

use super::Caller;
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::servers::{self, actions, doc, lifecycle, resize, set_doc, snapshot, vm};
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::request_id::RequestId;
use ferrostack_compute_types::server_action::{ActionBody, ConsoleOutput, ServerAction};
use ferrostack_compute_types::server_metadata::{MetaItemBody, MetadataBody};
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// Largest console output returned, in bytes.
const MAX_CONSOLE_BYTES: usize = 1024 * 1024;

fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

/// `POST /servers/{id}/action`.
pub async fn action(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
    RequestId(request_id): RequestId,
    Json(body): Json<ActionBody>,
) -> ComputeResult<Response> {
    let (name, action) = body.action()?;
    let i = servers::find(&state, &caller, &id, false)?;
    let (s, c, r) = (&*state, &caller, request_id.as_str());
    match action {
        ServerAction::Stop => actions::stop(s, c, &i, r).map(|_| accepted()),
        ServerAction::Start => actions::start(s, c, &i, r).map(|_| accepted()),
        ServerAction::Reboot(args) => {
            let hard = args.hard()?;
            actions::reboot(s, c, &i, r, hard).map(|_| accepted())
        }
        ServerAction::Power => actions::power_action(s, c, &i, r, name).map(|_| accepted()),
        ServerAction::Lock(args) => {
            actions::set_lock(s, c, &i, r, true, args.reason(v)).map(|_| accepted())
        }
        ServerAction::Unlock => actions::set_lock(s, c, &i, r, false, None).map(|_| accepted()),
        ServerAction::ConsoleOutput(args) => console_output(s, &i, &args).await,
        ServerAction::CreateImage(args) => snapshot::create_image(s, c, v, &i, r, &args).await,
        ServerAction::CreateBackup(args) => {
            let args = ferrostack_compute_types::server_action::create_backup(&args)?;
            snapshot::create_backup(s, c, v, &i, r, &args).await
        }
        ServerAction::Resize(args) => resize::resize(s, c, &i, r, &args).map(|_| accepted()),
        ServerAction::ConfirmResize => {
            resize::confirm_resize(s, c, &i, r).map(|_| StatusCode::NO_CONTENT.into_response())
        }
        ServerAction::RevertResize => resize::revert_resize(s, c, &i, r).map(|_| accepted()),
        ServerAction::Rebuild(args) => {
            let admin_pass = args.admin_pass()?;
            let rebuilt = actions::rebuild(s, c, v, &i, r, &args)?;
            let mut view = crate::servers::views::action_view(
                s,
                c,
                v,
                &rebuilt,
                crate::servers::views::ChangeAnswer::Rebuild,
            )?;
            view["adminPass"] = json!(admin_pass.unwrap_or_else(super::servers::new_admin_pass));
            Ok((StatusCode::ACCEPTED, axum::Json(json!({ "server": view }))).into_response())
        }
        ServerAction::SecurityGroup(args) => {
            let group = args.name()?;
            actions::security_group(s, c, &i, &group, name == "addSecurityGroup")
                .map(|()| accepted())
        }
        ServerAction::FloatingIp(args) => {
            super::floating_ips::server_action(s, c, v, &i, &args, name == "addFloatingIp")
        }
        ServerAction::ResetState(args) => {
            let to = ferrostack_compute_types::server_action::reset_state(&args)?;
            actions::reset_state(s, c, &i, to).map(|_| accepted())
        }
        ServerAction::InjectNetworkInfo => {
            crate::servers::admin_actions::inject_network_info(s, c, &i).map(|_| accepted())
        }
        // Nova removed it with nova-network and answers 410 since.
        ServerAction::ResetNetwork => Err(ComputeError::Status(
            StatusCode::GONE,
            "The resetNetwork action was removed from the compute API.".into(),
        )),
        // Nova's answer for a server that is not soft-deleted; ferrostack
        // deletes at once, so no server ever is.
        ServerAction::DeferredDelete => Err(ComputeError::Conflict(format!(
            "Cannot '{name}' instance {} while it is in vm_state {}",
            i.uuid, i.vm_state
        ))),
        ServerAction::Other => Err(ComputeError::NotImplemented(format!(
            "The server action {name} is not implemented by ferrostack yet."
        ))),
    }
}

async fn console_output(
    state: &ComputeState,
    i: &ferrostack_store::server::Instance,
    args: &ConsoleOutput,
) -> ComputeResult<Response> {
    let lines = args.lines()?;
    let Some(host) = i
        .host
        .clone()
        .filter(|_| i.vm_state != vm::BUILDING || i.observed.is_some())
    else {
        return Err(ComputeError::Conflict(format!(
            "Instance {} is not ready yet: it has no console.",
            i.uuid
        )));
    };
    let id = uuid::Uuid::parse_str(&i.uuid).map_err(|e| ComputeError::Internal(e.to_string()))?;
    let text = state
        .link
        .consoles()
        .console_log(&host, id, MAX_CONSOLE_BYTES)
        .await
        .map_err(|e| {
            ComputeError::Conflict(format!(
                "The console of instance {} is not available: {e}",
                i.uuid
            ))
        })?;
    let output = match lines {
        Some(n) if n >= 0 => {
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(n as usize);
            all[start..].join("\n")
        }
        _ => text,
    };
    Ok(axum::Json(json!({ "output": output })).into_response())
}

/// `GET /servers/{id}/metadata`.
pub async fn metadata_list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    Ok(axum::Json(json!({"metadata": doc(&i)?.metadata})))
}

fn write_metadata(
    state: &ComputeState,
    caller: &ferrostack_policy::AuthContext,
    id: &str,
    change: &dyn Fn(&mut std::collections::BTreeMap<String, String>) -> ComputeResult<()>,
) -> ComputeResult<std::collections::BTreeMap<String, String>> {
    let i = servers::find(state, caller, id, false)?;
    actions::check_lock(caller, &i)?;
    let updated = state
        .servers
        .modify_instance(&i.uuid, &mut |row| {
            if row.task_state.is_some() && row.vm_state == vm::BUILDING {
                return Err(lifecycle::to_store(servers::conflict_state(
                    &row.uuid,
                    "update metadata",
                    row,
                )));
            }
            let mut d = doc(row).map_err(lifecycle::to_store)?;
            change(&mut d.metadata).map_err(lifecycle::to_store)?;
            if d.metadata.len() > 128 {
                return Err(lifecycle::to_store(ComputeError::Forbidden(
                    "Quota exceeded, too many metadata items.".into(),
                )));
            }
            set_doc(row, &d).map_err(lifecycle::to_store)
        })
        .map_err(lifecycle::from_store)?;
    Ok(doc(&updated)?.metadata)
}

/// `PUT /servers/{id}/metadata`: replace all.
pub async fn metadata_replace(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Json(body): Json<MetadataBody>,
) -> ComputeResult<axum::Json<Value>> {
    let new = body.metadata()?;
    let m = write_metadata(&state, &caller, &id, &|m| {
        *m = new.clone();
        Ok(())
    })?;
    Ok(axum::Json(json!({ "metadata": m })))
}

/// `POST /servers/{id}/metadata`: merge.
pub async fn metadata_merge(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Json(body): Json<MetadataBody>,
) -> ComputeResult<axum::Json<Value>> {
    let new = body.metadata()?;
    let m = write_metadata(&state, &caller, &id, &|m| {
        m.extend(new.clone());
        Ok(())
    })?;
    Ok(axum::Json(json!({ "metadata": m })))
}

/// `GET /servers/{id}/metadata/{key}`.
pub async fn metadata_show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    match doc(&i)?.metadata.get(&key) {
        Some(v) => Ok(axum::Json(json!({"meta": { key: v }}))),
        None => Err(ComputeError::NotFound("Metadata item was not found".into())),
    }
}

/// `PUT /servers/{id}/metadata/{key}`.
pub async fn metadata_put(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
    Json(body): Json<MetaItemBody>,
) -> ComputeResult<axum::Json<Value>> {
    let parsed = body.item(&key)?;
    write_metadata(&state, &caller, &id, &|m| {
        m.extend(parsed.clone());
        Ok(())
    })?;
    Ok(axum::Json(json!({ "meta": parsed })))
}

/// `DELETE /servers/{id}/metadata/{key}`.
pub async fn metadata_delete(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path((id, key)): Path<(String, String)>,
) -> ComputeResult<Response> {
    write_metadata(&state, &caller, &id, &|m| {
        m.remove(&key)
            .map(|_| ())
            .ok_or_else(|| ComputeError::NotFound("Metadata item was not found".into()))
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /servers/{id}/ips`: the server's addresses by network name, as
/// `addresses` in its show.
pub async fn ips(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    let d = servers::doc(&i)?;
    Ok(axum::Json(
        json!({"addresses": servers::views::server_addresses(&state, &d.nics)}),
    ))
}

/// `GET /servers/{id}/ips/{network_label}`: the server's addresses on
/// one network (404 when it has none there, as Nova).
pub async fn ips_by_network(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path((id, label)): Path<(String, String)>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    let d = servers::doc(&i)?;
    let all = servers::views::server_addresses(&state, &d.nics);
    match all.get(&label) {
        Some(addresses) => Ok(axum::Json(json!({ label: addresses }))),
        None => Err(ComputeError::NotFound(
            "Instance is not a member of specified network".into(),
        )),
    }
}
