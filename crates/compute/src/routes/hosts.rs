//! `/v2.1/os-hosts` (to 2.42; 404 from 2.43, as Nova): the hosts of the
//! services, one host's resources, and the per-host actions.
//!
//! Nova deprecated this API for `os-services` and `os-hypervisors`, and
//! answers from the same records; so does this file: the list is the
//! enabled services (`service` without the `nova-` prefix, `zone` as
//! aggregates make it), a host's resources are its hypervisor's totals and
//! placement usage plus what its servers' flavors add up to per project.
//!
//! `PUT` with `status` enables or disables the host's compute service, as
//! the operator would with `os-services`. The list includes the
//! controllers' `scheduler` and `conductor` services (zone `internal`).
//! The rest is what Nova's libvirt driver answers too: `maintenance_mode` and the `startup`, `shutdown`
//! and `reboot` actions are 501 (after the host is found), since this
//! control plane never powers hosts off.

use super::hypervisors::resources;
use super::services::COMPUTE_BINARY;
use super::{Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::servers::doc;
use crate::ComputeState;
use axum::extract::{Path, State};
use ferrostack_compute_types::body::{python_repr, unexpected_message};
use ferrostack_store::server::{ComputeService, InstanceFilter};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

fn compute_service(state: &ComputeState, host: &str) -> ComputeResult<ComputeService> {
    state
        .servers
        .list_services()?
        .into_iter()
        .find(|s| s.binary == COMPUTE_BINARY && s.host == host)
        .ok_or_else(|| ComputeError::NotFound(format!("Compute host {host} could not be found.")))
}

/// `GET /v2.1/os-hosts` (`zone` filters; empty = all).
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 43)?;
    let zone = q.get("zone").filter(|z| !z.is_empty());
    let hosts: Vec<Value> = super::services::all_services(&state)?
        .iter()
        .filter(|s| !s.disabled)
        .map(|s| (s, super::services::zone(s)))
        .filter(|(_, z)| zone.is_none_or(|want| want == *z))
        .map(|(s, z)| {
            json!({
                "host_name": s.host,
                "service": s.binary.strip_prefix("nova-").unwrap_or(&s.binary),
                "zone": z,
            })
        })
        .collect();
    Ok(axum::Json(json!({ "hosts": hosts })))
}

fn resource(host: &str, project: &str, cpu: i64, memory_mb: i64, disk_gb: i64) -> Value {
    json!({"resource": {
        "host": host,
        "project": project,
        "cpu": cpu,
        "memory_mb": memory_mb,
        "disk_gb": disk_gb,
    }})
}

/// `GET /v2.1/os-hosts/{host_name}`: totals, used now, what the servers'
/// flavors claim (`(used_max)`), and that per project.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    Path(host): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 43)?;
    let s = compute_service(&state, &host)?;
    let r = resources(&state, &s)?;
    let mut per_project: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for i in state.servers.list_instances(&InstanceFilter {
        host: Some(host.clone()),
        ..Default::default()
    })? {
        let f = doc(&i)?.flavor;
        let e = per_project.entry(i.project_id.clone()).or_default();
        e.0 += f.vcpus;
        e.1 += f.ram;
        e.2 += f.disk + f.ephemeral;
    }
    let max = per_project
        .values()
        .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    let mut out = vec![
        resource(&host, "(total)", n(r.vcpus), n(r.memory_mb), n(r.local_gb)),
        resource(
            &host,
            "(used_now)",
            n(r.vcpus_used),
            n(r.memory_mb_used),
            n(r.local_gb_used),
        ),
        resource(&host, "(used_max)", max.0, max.1, max.2),
    ];
    for (p, (c, m, d)) in &per_project {
        out.push(resource(&host, p, *c, *m, *d));
    }
    Ok(axum::Json(json!({ "host": out })))
}

fn enable_word(field: &str, m: &serde_json::Map<String, Value>) -> ComputeResult<Option<bool>> {
    match m.get(field) {
        None => Ok(None),
        Some(Value::String(w)) if w == "enable" => Ok(Some(true)),
        Some(Value::String(w)) if w == "disable" => Ok(Some(false)),
        Some(other) => Err(ComputeError::BadRequest(format!(
            "Invalid input for field/attribute {field}. Value: {}. {} is not one of ['enable', 'disable']",
            python_repr(other),
            python_repr(other)
        ))),
    }
}

/// `PUT /v2.1/os-hosts/{host_name}`: `status` and/or `maintenance_mode`.
pub async fn update(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    Path(host): Path<String>,
    Json(body): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 43)?;
    let Value::Object(m) = &body else {
        return Err(ComputeError::BadRequest(format!(
            "Invalid input for field/attribute body. Value: {}. {} is not of type 'object'",
            python_repr(&body),
            python_repr(&body)
        )));
    };
    let extra: Vec<&str> = m
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "status" && *k != "maintenance_mode")
        .collect();
    if !extra.is_empty() {
        return Err(ComputeError::BadRequest(unexpected_message(&extra)));
    }
    let status = enable_word("status", m)?;
    let maintenance = enable_word("maintenance_mode", m)?;
    if status.is_none() && maintenance.is_none() {
        return Err(ComputeError::BadRequest(
            "Invalid input for field/attribute body. Value: {}. {} does not have enough properties"
                .into(),
        ));
    }
    let s = compute_service(&state, &host)?;
    if maintenance.is_some() {
        return Err(ComputeError::NotImplemented(
            "Maintenance mode is not offered by this cloud's hosts.".into(),
        ));
    }
    let enable = status.unwrap_or(!s.disabled);
    state.servers.modify_service(&s.uuid, &mut |svc| {
        svc.disabled = !enable;
        if enable {
            svc.disabled_reason = None;
        }
        Ok(())
    })?;
    let word = if enable { "enabled" } else { "disabled" };
    Ok(axum::Json(json!({"host": host, "status": word})))
}

/// `GET /v2.1/os-hosts/{host_name}/{startup,shutdown,reboot}`: 501 for a
/// known host (404 otherwise), as Nova's libvirt driver answers.
pub async fn power_action(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    Path(host): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 43)?;
    compute_service(&state, &host)?;
    Err(ComputeError::NotImplemented(
        "This cloud does not power its hosts on or off through the API.".into(),
    ))
}
