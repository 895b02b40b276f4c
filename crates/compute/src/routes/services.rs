//! `/v2.1/os-services`: list, update (2.53+) and delete compute services.
//!
//! Services are registered and refreshed by the host agent wiring (one
//! `nova-compute` per host, its heartbeat stamped on each report); this
//! API only reads them and lets an operator disable, force down or delete
//! one. Each controller is listed too, as `nova-scheduler` and
//! `nova-conductor` (see `controller_services`), which, as in Nova,
//! cannot be updated. A service is `up` while its last heartbeat is at most
//! [`DOWN_AFTER_MICROS`] old and it is not forced down, as Nova's database
//! service group driver decides with its default `service_down_time`.
//!
//! Before 2.53 Nova changed services with `PUT /os-services/enable`,
//! `/disable`, `/disable-log-reason` and `/force-down`, naming the service
//! by `host` and `binary` in the body. Those forms are not served: at
//! those microversions `PUT /os-services/{id}` answers 501 for the four
//! action names (and Nova's 404 `Unknown action` for anything else), so a
//! client must ask for 2.53 or later and name the service by its uuid.
//! Listing and deleting work at every microversion (numeric ids before
//! 2.53, uuids from 2.53).

use super::controller_services::{controller_services, is_controller_service};
use super::{Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_common::time::{nova_time, now_micros};
use ferrostack_compute_types::service::ServiceUpdateBody;
use ferrostack_compute_types::ApiVersion;
use ferrostack_store::server::{ComputeService, InstanceFilter};
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// How old a heartbeat may be for its service to count as up (Nova's
/// default `service_down_time`, 60 s).
pub const DOWN_AFTER_MICROS: i64 = 60 * 1_000_000;

/// The binary of the services that are hypervisors.
pub const COMPUTE_BINARY: &str = "nova-compute";

/// Whether `s` is up at `now` (µs since the epoch).
pub fn is_up(s: &ComputeService, now: i64) -> bool {
    !s.forced_down && (now - s.heartbeat_at).abs() <= DOWN_AFTER_MICROS
}

/// `up` or `down`.
pub fn state_word(s: &ComputeService, now: i64) -> &'static str {
    if is_up(s, now) {
        "up"
    } else {
        "down"
    }
}

/// `enabled` or `disabled`.
pub fn status_word(s: &ComputeService) -> &'static str {
    if s.disabled {
        "disabled"
    } else {
        "enabled"
    }
}

/// The zone Nova shows for a service: compute services are in their
/// zone (`nova` unless set), every other binary in `internal`.
pub fn zone(s: &ComputeService) -> &str {
    if s.binary != COMPUTE_BINARY {
        "internal"
    } else if s.zone.is_empty() {
        "nova"
    } else {
        &s.zone
    }
}

/// A time Nova shows, or null for "never" (0).
pub fn time_or_null(micros: i64) -> Value {
    if micros == 0 {
        Value::Null
    } else {
        json!(nova_time(micros))
    }
}

/// Whether `raw` is a uuid as `oslo_utils.uuidutils.is_uuid_like` reads it.
pub fn is_uuid(raw: &str) -> bool {
    uuid::Uuid::parse_str(raw).is_ok()
}

fn view(v: ApiVersion, s: &ComputeService, now: i64) -> Value {
    let mut m = Map::new();
    m.insert(
        "id".into(),
        if v.at_least(53) {
            json!(s.uuid)
        } else {
            json!(s.id)
        },
    );
    m.insert("binary".into(), json!(s.binary));
    m.insert("host".into(), json!(s.host));
    m.insert("zone".into(), json!(zone(s)));
    m.insert("status".into(), json!(status_word(s)));
    m.insert("state".into(), json!(state_word(s, now)));
    m.insert("updated_at".into(), time_or_null(s.heartbeat_at));
    m.insert("disabled_reason".into(), json!(s.disabled_reason));
    if v.at_least(11) {
        m.insert("forced_down".into(), json!(s.forced_down));
    }
    Value::Object(m)
}

/// `GET /v2.1/os-services`: every service, filtered by `host` and `binary`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    q.check_known(v, &["host", "binary"])?;
    let host = q.get("host").filter(|h| !h.is_empty());
    let binary = q.get("binary").filter(|b| !b.is_empty());
    let now = now_micros();
    let services: Vec<Value> = all_services(&state)?
        .iter()
        .filter(|s| host.is_none_or(|h| s.host == h))
        .filter(|s| binary.is_none_or(|b| s.binary == b))
        .map(|s| view(v, s, now))
        .collect();
    Ok(axum::Json(json!({ "services": services })))
}

/// The compute services (zones as aggregates make them), then the
/// controllers' scheduler and conductor services.
pub fn all_services(state: &ComputeState) -> ComputeResult<Vec<ComputeService>> {
    let mut all = super::aggregates::zoned_services(state)?;
    all.extend(controller_services(state)?);
    Ok(all)
}

/// The legacy (before 2.53) update actions, not served.
const LEGACY_ACTIONS: &[&str] = &["enable", "disable", "disable-log-reason", "force-down"];

/// `PUT /v2.1/os-services/{service_id}` (2.53+): enable, disable (with
/// a reason) or force down a compute service.
pub async fn update(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    Path(id): Path<String>,
    Json(body): Json<ServiceUpdateBody>,
) -> ComputeResult<axum::Json<Value>> {
    if !v.at_least(53) {
        if LEGACY_ACTIONS.contains(&id.as_str()) {
            return Err(ComputeError::NotImplemented(format!(
                "PUT /os-services/{id} (before microversion 2.53) is not implemented by ferrostack; use microversion 2.53 or later and PUT /os-services/{{service_uuid}}."
            )));
        }
        return Err(ComputeError::NotFound("Unknown action".into()));
    }
    let req = body.checked()?;
    if !is_uuid(&id) {
        return Err(ComputeError::BadRequest(format!("Invalid uuid {id}")));
    }
    let service = all_services(&state)?
        .into_iter()
        .find(|s| s.uuid == id)
        .ok_or_else(|| ComputeError::NotFound(format!("Service {id} could not be found.")))?;
    if service.binary != COMPUTE_BINARY {
        return Err(ComputeError::BadRequest(format!(
            "Updating a {} service is not supported. Only nova-compute services can be updated.",
            service.binary
        )));
    }
    if req.disable == Some(false) && req.disabled_reason.is_some() {
        return Err(ComputeError::BadRequest(
            "Specifying 'disabled_reason' with status 'enabled' is invalid.".into(),
        ));
    }
    if req.disable.is_none() && req.forced_down.is_none() {
        return Err(ComputeError::BadRequest(
            "No updates were requested. Fields 'status' or 'forced_down' should be specified."
                .into(),
        ));
    }
    let changed = state.servers.modify_service(&id, &mut |s| {
        match req.disable {
            Some(true) => {
                s.disabled = true;
                s.disabled_reason = req.disabled_reason.clone();
            }
            Some(false) => {
                s.disabled = false;
                s.disabled_reason = None;
            }
            None => {}
        }
        if let Some(forced) = req.forced_down {
            s.forced_down = forced;
        }
        Ok(())
    })?;
    tracing::info!(
        service = id,
        host = changed.host,
        disabled = changed.disabled,
        forced_down = changed.forced_down,
        "compute service updated"
    );
    Ok(axum::Json(
        json!({ "service": view(v, &changed, now_micros()) }),
    ))
}

/// `DELETE /v2.1/os-services/{service_id}`: a uuid from 2.53, the numeric
/// id before. A compute service still hosting servers is a 409.
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<Response> {
    let services = all_services(&state)?;
    let found = if v.at_least(53) {
        if !is_uuid(&id) {
            return Err(ComputeError::BadRequest(format!("Invalid uuid {id}")));
        }
        services.into_iter().find(|s| s.uuid == id)
    } else {
        let numeric: i64 = id.parse().map_err(|_| {
            ComputeError::BadRequest("Invalid input received: id must be an integer".into())
        })?;
        services.into_iter().find(|s| s.id == numeric)
    };
    let service =
        found.ok_or_else(|| ComputeError::NotFound(format!("Service {id} not found.")))?;
    if is_controller_service(&service) {
        return Err(ComputeError::Conflict(format!(
            "The {} service on {} is a ferrostack controller; it cannot be deleted through this API.",
            service.binary, service.host
        )));
    }
    if service.binary == COMPUTE_BINARY {
        let hosted = state.servers.list_instances(&InstanceFilter {
            host: Some(service.host.clone()),
            ..Default::default()
        })?;
        if !hosted.is_empty() {
            return Err(ComputeError::Conflict(
                "Unable to delete compute service that is hosting instances. Migrate or delete the instances first.".into(),
            ));
        }
    }
    if !state.servers.delete_service(&service.uuid)? {
        return Err(ComputeError::NotFound(format!("Service {id} not found.")));
    }
    if service.binary == COMPUTE_BINARY {
        // Nova deletes the host's resource provider with its service; a
        // provider still holding allocations is left for the operator.
        if let Err(e) = state.placement.delete_provider(&service.host) {
            tracing::warn!(host = service.host, error = %e, "resource provider of a deleted compute service kept");
        }
    }
    tracing::info!(
        service = service.uuid,
        host = service.host,
        binary = service.binary,
        "service deleted"
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_is_down_after_a_minute_or_when_forced() {
        let mut s = ComputeService {
            id: 1,
            uuid: "u".into(),
            host: "h".into(),
            binary: COMPUTE_BINARY.into(),
            zone: "nova".into(),
            disabled: false,
            disabled_reason: None,
            forced_down: false,
            capabilities: json!({}),
            heartbeat_at: 1_000_000_000,
            created_at: 0,
            updated_at: 0,
        };
        assert!(is_up(&s, 1_000_000_000 + DOWN_AFTER_MICROS));
        assert!(!is_up(&s, 1_000_000_001 + DOWN_AFTER_MICROS));
        s.forced_down = true;
        assert!(!is_up(&s, 1_000_000_000));
    }
}
