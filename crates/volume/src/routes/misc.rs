//! `/os-availability-zone`, `/os-services` and
//! `/scheduler-stats/get_pools`: what `openstack availability zone list
//! --volume`, `volume service list` and `volume backend pool list` read.

use crate::backend::VolumeBackend;
use crate::error::VolumeResult;
use crate::microversion::Version;
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

/// One service of the block storage API: a scheduler on the controller
/// and a volume service per backend, up while this process runs.
pub(crate) struct ServiceRow {
    pub binary: &'static str,
    /// `host`, or `host@backend` for a volume service.
    pub host: String,
    pub updated_at: String,
}

/// The services `/os-services` and `/os-hosts` list.
pub(crate) fn service_rows(state: &VolumeState) -> Vec<ServiceRow> {
    let updated_at = nova_time(ferrostack_common::time::now_micros());
    let mut rows = vec![ServiceRow {
        binary: "cinder-scheduler",
        host: state.host.clone(),
        updated_at: updated_at.clone(),
    }];
    for b in &state.backends {
        rows.push(ServiceRow {
            binary: "cinder-volume",
            host: format!("{}@{}", b.host(), b.backend_name()),
            updated_at: updated_at.clone(),
        });
    }
    rows
}

/// Cinder's host filter: the host itself, or any backend (`host@...`) or
/// pool (`host#...`) on it.
fn on_host(service_host: &str, wanted: &str) -> bool {
    service_host == wanted
        || service_host
            .strip_prefix(wanted)
            .is_some_and(|rest| rest.starts_with('@') || rest.starts_with('#'))
}

/// `GET /v3/os-services` (admin), filtered by `binary` and `host`;
/// `cluster` from 3.7 and `backend_state` from 3.49, as Cinder adds them.
pub async fn services(
    State(state): State<Arc<VolumeState>>,
    version: Version,
    Query(q): Query<HashMap<String, String>>,
) -> axum::Json<Value> {
    let rows: Vec<Value> = service_rows(&state)
        .into_iter()
        .filter(|r| {
            q.get("binary").is_none_or(|b| r.binary == b.as_str())
                && q.get("host").is_none_or(|h| on_host(&r.host, h))
        })
        .map(|r| {
            let mut row = json!({
                "binary": r.binary, "host": r.host, "zone": state.availability_zone,
                "status": "enabled", "state": "up", "updated_at": r.updated_at,
                "disabled_reason": null, "frozen": false,
                "replication_status": "disabled", "active_backend_id": null,
            });
            if version.at_least(7) {
                row["cluster"] = Value::Null;
            }
            if version.at_least(49) && r.binary == "cinder-volume" {
                row["backend_state"] = json!("up");
            }
            row
        })
        .collect();
    axum::Json(json!({"services": rows}))
}

/// What a backend reports of itself in `get_pools` and `capabilities`.
pub(crate) fn capabilities(_backend: &dyn VolumeBackend) -> Value {
    json!({
        "vendor_name": "ferrostack",
        "driver_version": env!("CARGO_PKG_VERSION"),
        "storage_protocol": "local",
    })
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
        let caps = capabilities(b.as_ref());
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
            "storage_protocol": caps["storage_protocol"],
            "vendor_name": caps["vendor_name"],
            "driver_version": caps["driver_version"],
            "timestamp": nova_time(ferrostack_common::time::now_micros()),
        }}));
    }
    Ok(axum::Json(json!({"pools": out})))
}

/// `GET /v3/extensions`: Cinder's extension records of what is served
/// (clients and Tempest look for names such as `Hosts`). `updated` is
/// the date this list last changed.
pub async fn extensions() -> axum::Json<Value> {
    const SERVED: &[(&str, &str, &str)] = &[
        ("os-admin-actions", "AdminActions", "Enable admin actions."),
        (
            "os-availability-zone",
            "AvailabilityZones",
            "Describe Availability Zones.",
        ),
        ("backups", "Backups", "Backups support."),
        ("capabilities", "Capabilities", "Capabilities support."),
        (
            "os-extended-snapshot-attributes",
            "ExtendedSnapshotAttributes",
            "Extended SnapshotAttributes support.",
        ),
        ("os-hosts", "Hosts", "Admin-only host administration."),
        ("qos-specs", "Qos_specs_manage", "QoS specs support."),
        (
            "os-quota-class-sets",
            "QuotaClasses",
            "Quota classes management support.",
        ),
        ("os-quota-sets", "Quotas", "Quota management support."),
        (
            "scheduler-stats",
            "Scheduler_stats",
            "Scheduler stats support.",
        ),
        ("os-services", "Services", "Services support."),
        (
            "os-snapshot-actions",
            "SnapshotActions",
            "Enable snapshot manager actions.",
        ),
        (
            "os-snapshot-admin-actions",
            "SnapshotAdminActions",
            "Enable snapshot admin actions.",
        ),
        (
            "os-types-extra-specs",
            "TypesExtraSpecs",
            "Type extra specs support.",
        ),
        ("os-types-manage", "TypesManage", "Types manage support."),
        (
            "os-used-limits",
            "UsedLimits",
            "Provide data on limited resources that are being used.",
        ),
        (
            "os-vol-host-attr",
            "VolumeHostAttribute",
            "Expose host as an attribute of a volume.",
        ),
        (
            "os-vol-image-meta",
            "VolumeImageMetadata",
            "Show image metadata associated with the volume.",
        ),
        (
            "os-vol-mig-status-attr",
            "VolumeMigStatusAttribute",
            "Expose migration_status as an attribute of a volume.",
        ),
        (
            "os-vol-tenant-attr",
            "VolumeTenantAttribute",
            "Expose the internal project_id as an attribute of a volume.",
        ),
        (
            "os-volume-actions",
            "VolumeActions",
            "Enable volume actions.",
        ),
        (
            "os-volume-transfer",
            "VolumeTransfer",
            "Volume transfer management support.",
        ),
        (
            "os-volume-type-access",
            "VolumeTypeAccess",
            "Volume type access support.",
        ),
    ];
    let list: Vec<Value> = SERVED
        .iter()
        .map(|(alias, name, description)| {
            json!({"alias": alias, "name": name, "description": description,
                   "updated": "2026-12-07T00:00:00+00:00", "links": []})
        })
        .collect();
    axum::Json(json!({"extensions": list}))
}

/// `/v3/volumes/` (and the other collections) with an empty id: no such
/// resource, as Cinder's router answers.
pub async fn empty_id() -> VolumeResult<()> {
    Err(crate::error::VolumeError::NotFound(
        "The resource could not be found.".into(),
    ))
}
