//! `/v2.1/os-floating-ips` and `/v2.1/os-floating-ip-pools` (to 2.35;
//! 404 from 2.36), and the server actions `addFloatingIp` and
//! `removeFloatingIp` (to 2.43): Nova's proxies to the network service's
//! floating IPs. A pool is an external network; the floating IPs are the
//! network service's own (the same ids through its API).

use super::security_groups::service;
use super::Caller;
use crate::error::{ComputeError, ComputeResult};
use crate::microversion::Version;
use crate::network_proxy::floating_ip_view;
use crate::servers;
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_compute_types::ApiVersion;
use ferrostack_policy::AuthContext;
use ferrostack_store::server::Instance;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

fn not_found(id: &str) -> ComputeError {
    ComputeError::NotFound(format!("Floating IP not found for ID {id}"))
}

/// `GET /os-floating-ips`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let fips = service(&state)?.proxy_floating_ips(&caller)?;
    let views: Vec<Value> = fips.iter().map(floating_ip_view).collect();
    Ok(axum::Json(json!({ "floating_ips": views })))
}

/// `GET /os-floating-ips/{id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let fips = service(&state)?.proxy_floating_ips(&caller)?;
    let f = fips
        .iter()
        .find(|f| f.id == id)
        .ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(json!({ "floating_ip": floating_ip_view(f) })))
}

/// `POST /os-floating-ips`: allocate from `pool` (200, as Nova).
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    body: axum::body::Bytes,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    // The body is optional (no pool: the default one).
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|_| ComputeError::BadRequest("Malformed request body".into()))?
    };
    let pool = match body.get("pool") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(other) => {
            return Err(ComputeError::BadRequest(format!(
                "Invalid input for field/attribute pool. Value: {other}. {other} is not of type 'string'"
            )))
        }
    };
    let f = service(&state)?.proxy_allocate_floating_ip(&caller, pool.as_deref())?;
    Ok(axum::Json(json!({ "floating_ip": floating_ip_view(&f) })))
}

/// `DELETE /os-floating-ips/{id}` (202).
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<Response> {
    super::removed_at(v, 36)?;
    service(&state)?.proxy_release_floating_ip(&caller, &id)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `GET /os-floating-ip-pools`.
pub async fn pools(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let names = service(&state)?.proxy_floating_ip_pools(&caller)?;
    let views: Vec<Value> = names.iter().map(|n| json!({ "name": n })).collect();
    Ok(axum::Json(json!({ "floating_ip_pools": views })))
}

/// An address argument of the actions: a string that is an IP address.
fn address_arg(args: &Value, field: &str) -> ComputeResult<Option<String>> {
    match args.get(field) {
        None => Ok(None),
        Some(Value::String(s)) if s.parse::<std::net::IpAddr>().is_ok() => Ok(Some(s.clone())),
        Some(other) => Err(ComputeError::BadRequest(format!(
            "Invalid input for field/attribute {field}. Value: {other}. {other} is not a 'ip-address'"
        ))),
    }
}

/// `addFloatingIp` (`add`) or `removeFloatingIp`, as Nova: the fixed
/// address is the one given (it must be the server's) or the server's
/// first IPv4 one.
pub fn server_action(
    state: &ComputeState,
    caller: &AuthContext,
    v: ApiVersion,
    i: &Instance,
    args: &Value,
    add: bool,
) -> ComputeResult<Response> {
    if v.at_least(44) {
        return Err(ComputeError::NotFound(
            "The resource could not be found.".into(),
        ));
    }
    let action = if add {
        "addFloatingIp"
    } else {
        "removeFloatingIp"
    };
    if let Some(k) = args.as_object().and_then(|o| {
        o.keys()
            .find(|k| !["address", "fixed_address"].contains(&k.as_str()))
    }) {
        return Err(ComputeError::BadRequest(format!(
            "Invalid input for field/attribute {action}. Additional properties are not allowed ('{k}' was unexpected)"
        )));
    }
    let Some(address) = address_arg(args, "address")? else {
        return Err(ComputeError::BadRequest(format!(
            "Invalid input for field/attribute {action}. 'address' is a required property"
        )));
    };
    let networks = service(state)?;
    if !add {
        networks.proxy_disassociate_floating_ip(caller, &i.uuid, &address)?;
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let fixed: Vec<String> = (servers::doc(i)?.nics.iter())
        .flat_map(|n| n.fixed_ips.iter().map(|a| a.ip_address.clone()))
        .collect();
    if fixed.is_empty() {
        return Err(ComputeError::BadRequest(
            "No fixed IPs associated to instance".into(),
        ));
    }
    let fixed_address = match address_arg(args, "fixed_address")? {
        Some(f) if fixed.contains(&f) => f,
        Some(_) => {
            return Err(ComputeError::BadRequest(
                "Specified fixed address not assigned to instance".into(),
            ))
        }
        None => fixed.iter().find(|a| !a.contains(':')).cloned().ok_or_else(|| {
            ComputeError::BadRequest(format!(
                "Unable to associate floating IP {address} to any fixed IPs for instance {}. Instance has no fixed IPv4 addresses to associate.",
                i.uuid
            ))
        })?,
    };
    networks.proxy_associate_floating_ip(caller, &i.uuid, &address, &fixed_address)?;
    Ok(StatusCode::ACCEPTED.into_response())
}
