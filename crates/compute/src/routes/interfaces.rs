//! `/v2.1/servers/{server_id}/os-interface`: the interfaces (ports) of a
//! server: list, show, attach (`openstack server add port|network`) and
//! detach (`openstack server remove port|network`). The work is in
//! [`crate::servers::interfaces`]; this file reads requests and renders
//! Nova's `interfaceAttachment` view.
//!
//! Another project's server is 404 like a missing one (admins see all).
//! The view is built from the server's NICs (Nova's network info cache)
//! with the port's current Neutron `status` as `port_state`; `tag`
//! appears from 2.70.

use super::Caller;
use crate::error::{ComputeResult, Json};
use crate::microversion::Version;
use crate::networks::ServerNic;
use crate::servers::{self, interfaces};
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::request_id::RequestId;
use ferrostack_compute_types::interface::InterfaceBody;
use ferrostack_compute_types::ApiVersion;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// One `interfaceAttachment`.
fn view(state: &ComputeState, v: ApiVersion, nic: &ServerNic) -> ComputeResult<Value> {
    let port_state = match state.link.networks() {
        Some(service) => service.port_status(&nic.port_id)?,
        None => None,
    };
    let mut out = json!({
        "port_state": port_state.unwrap_or_else(|| "DOWN".into()),
        "fixed_ips": nic
            .fixed_ips
            .iter()
            .map(|a| json!({"subnet_id": a.subnet_id, "ip_address": a.ip_address}))
            .collect::<Vec<_>>(),
        "port_id": nic.port_id,
        "net_id": nic.network_id,
        "mac_addr": nic.mac_address,
    });
    if v.at_least(70) {
        out["tag"] = json!(nic.tag);
    }
    Ok(out)
}

/// `GET /servers/{id}/os-interface`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    let d = servers::doc(&i)?;
    let views = (d.nics.iter())
        .map(|n| view(&state, v, n))
        .collect::<ComputeResult<Vec<_>>>()?;
    Ok(axum::Json(json!({ "interfaceAttachments": views })))
}

/// `GET /servers/{id}/os-interface/{port_id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path((id, port_id)): Path<(String, String)>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    let d = servers::doc(&i)?;
    let nic = (d.nics.iter().find(|n| n.port_id == port_id))
        .ok_or_else(|| interfaces::not_attached(&port_id))?;
    Ok(axum::Json(
        json!({ "interfaceAttachment": view(&state, v, nic)? }),
    ))
}

/// `POST /servers/{id}/os-interface`: 200 with the new attachment.
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
    RequestId(request_id): RequestId,
    Json(body): Json<InterfaceBody>,
) -> ComputeResult<axum::Json<Value>> {
    let req = body.request(v.at_least(49))?;
    let i = servers::find(&state, &caller, &id, false)?;
    let attach = interfaces::Attach {
        port_id: req.port_id,
        network_id: req.net_id,
        fixed_ip: req.fixed_ip,
        tag: req.tag,
    };
    let nic = interfaces::attach(&state, &caller, &i, &request_id, &attach)?;
    Ok(axum::Json(
        json!({ "interfaceAttachment": view(&state, v, &nic)? }),
    ))
}

/// `DELETE /servers/{id}/os-interface/{port_id}`: 202.
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path((id, port_id)): Path<(String, String)>,
    RequestId(request_id): RequestId,
) -> ComputeResult<Response> {
    let i = servers::find(&state, &caller, &id, false)?;
    interfaces::detach(&state, &caller, &i, &request_id, &port_id)?;
    Ok(StatusCode::ACCEPTED.into_response())
}
