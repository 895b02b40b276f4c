//! `/v2.1/os-availability-zone`: the zones of the services, for anyone,
//! and (`/detail`, admins) the hosts and services in each.
//!
//! Zones are derived from the services as Nova derives them
//! (`nova.availability_zones.get_availability_zones`): a zone is available
//! when at least one service in it is enabled, whether or not that
//! service is up; a zone whose services are all disabled is listed as not
//! available. There is no configured zone list: with no service at all
//! the list is empty, as Nova's is (Nova does not invent its default
//! `nova` zone before a compute service reports in it). The `internal`
//! zone of non-compute services (the controllers' `nova-scheduler` and
//! `nova-conductor`) is hidden from the plain list and shown in the
//! detail, as Nova does. The views are the same at every
//! microversion.

use super::services::{is_up, time_or_null, zone};
use super::Caller;
use crate::error::ComputeResult;
use crate::ComputeState;
use axum::extract::State;
use ferrostack_common::time::now_micros;
use ferrostack_store::server::ComputeService;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Nova's `internal_service_availability_zone`.
const INTERNAL: &str = "internal";

/// (available zones, zones with only disabled services), each in the
/// order their first service was registered.
fn zones(services: &[ComputeService]) -> (Vec<String>, Vec<String>) {
    let mut available: Vec<String> = Vec::new();
    for s in services.iter().filter(|s| !s.disabled) {
        let z = zone(s);
        if !available.iter().any(|a| a == z) {
            available.push(z.to_string());
        }
    }
    let mut unavailable: Vec<String> = Vec::new();
    for s in services.iter().filter(|s| s.disabled) {
        let z = zone(s);
        if !available.iter().any(|a| a == z) && !unavailable.iter().any(|a| a == z) {
            unavailable.push(z.to_string());
        }
    }
    (available, unavailable)
}

fn entry(name: &str, available: bool, hosts: Value) -> Value {
    json!({"zoneName": name, "zoneState": {"available": available}, "hosts": hosts})
}

/// `GET /v2.1/os-availability-zone`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
) -> ComputeResult<axum::Json<Value>> {
    let (available, unavailable) = zones(&super::aggregates::zoned_services(&state)?);
    let info: Vec<Value> = available
        .iter()
        .map(|z| (z, true))
        .chain(unavailable.iter().map(|z| (z, false)))
        .filter(|(z, _)| z.as_str() != INTERNAL)
        .map(|(z, up)| entry(z, up, Value::Null))
        .collect();
    Ok(axum::Json(json!({ "availabilityZoneInfo": info })))
}

/// `GET /v2.1/os-availability-zone/detail`: each available zone's hosts
/// and their enabled services (`available` = up, `active` = enabled).
pub async fn detail(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
) -> ComputeResult<axum::Json<Value>> {
    let services = super::services::all_services(&state)?;
    let (available, unavailable) = zones(&services);
    let now = now_micros();
    let mut info = Vec::new();
    for z in &available {
        let mut hosts: Map<String, Value> = Map::new();
        for s in services.iter().filter(|s| !s.disabled && zone(s) == z) {
            let host = hosts
                .entry(s.host.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(binaries) = host {
                binaries.insert(
                    s.binary.clone(),
                    json!({
                        "available": is_up(s, now),
                        "active": !s.disabled,
                        "updated_at": time_or_null(s.heartbeat_at),
                    }),
                );
            }
        }
        info.push(entry(z, true, Value::Object(hosts)));
    }
    for z in &unavailable {
        info.push(entry(z, false, Value::Null));
    }
    Ok(axum::Json(json!({ "availabilityZoneInfo": info })))
}
