//! `/os-availability-zone`, `/os-services` and
//! `/scheduler-stats/get_pools`: what `openstack availability zone list
//! --volume`, `volume service list` and `volume backend pool list` read.

use crate::error::VolumeResult;
use crate::service::Caller;
use crate::VolumeState;
use axum::extract::{Query, State};
use ferrostack_common::time::nova_time;
use ferrostack_policy::AuthContext;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// `GET /v3/os-availability-zone`.
pub async fn zones(State(state): State<Arc<VolumeState>>) -> axum::Json<Value> {
    axum::Json(json!({"availabilityZoneInfo": [
        {"zoneName": state.availability_zone, "zoneState": {"available": true}}
    ]}))
}

/// `GET /v3/os-services` (admin): a scheduler on the controller and a
/// volume service per backend, up while this process runs.
pub async fn services(
    State(state): State<Arc<VolumeState>>,
    Query(q): Query<HashMap<String, String>>,
) -> axum::Json<Value> {
    let now = nova_time(ferrostack_common::time::now_micros());
    let row = |binary: &str, host: String| {
        json!({
            "binary": binary, "host": host, "zone": state.availability_zone,
            "status": "enabled", "state": "up", "updated_at": now,
            "disabled_reason": null, "frozen": false, "cluster": null,
            "replication_status": "disabled", "active_backend_id": null,
        })
    };
    let mut rows = vec![row("cinder-scheduler", state.host.clone())];
    for b in &state.backends {
        rows.push(row(
            "cinder-volume",
            format!("{}@{}", b.host(), b.backend_name()),
        ));
    }
    rows.retain(|r| {
        q.get("binary").is_none_or(|b| r["binary"] == b.as_str())
            && q.get("host").is_none_or(|h| r["host"] == h.as_str())
    });
    axum::Json(json!({"services": rows}))
}

/// `GET /v3/scheduler-stats/get_pools[?detail=true]` (admin).
pub async fn pools(
    State(state): State<Arc<VolumeState>>,
    axum::Extension(auth): axum::Extension<AuthContext>,
    Query(q): Query<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let _ = Caller::of(&auth);
    let detail = q
        .get("detail")
        .is_some_and(|d| d.eq_ignore_ascii_case("true"));
    let mut out = Vec::new();
    for b in &state.backends {
        let name = VolumeState::host_of(b.as_ref());
        if !detail {
            out.push(json!({"name": name}));
            continue;
        }
        let c = match b.capacity().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(backend = b.backend_name(), error = %e, "backend capacity unknown");
                Default::default()
            }
        };
        out.push(json!({"name": name, "capabilities": {
            "pool_name": b.backend_name(),
            "volume_backend_name": b.backend_name(),
            "total_capacity_gb": c.total_gib,
            "free_capacity_gb": c.free_gib,
            "provisioned_capacity_gb": c.provisioned_gib,
            "allocated_capacity_gb": c.provisioned_gib,
            "thin_provisioning_support": true,
            "thick_provisioning_support": false,
            "reserved_percentage": 0,
            "storage_protocol": "local",
            "vendor_name": "ferrostack",
            "driver_version": env!("CARGO_PKG_VERSION"),
            "timestamp": nova_time(ferrostack_common::time::now_micros()),
        }}));
    }
    Ok(axum::Json(json!({"pools": out})))
}
