//! `/os-hosts` and `/capabilities/{host}` (admin): the storage hosts as
//! Cinder's older host API lists them, and what a backend offers, as
//! `openstack volume host` commands, Horizon's admin pages and the
//! scheduler-minded tooling read them.
//!
//! Both are views of the same services `/os-services` lists (a scheduler
//! on the controller, a volume service per backend): there is no second
//! registry of hosts to drift from it.

use crate::error::{VolumeError, VolumeResult};
use crate::routes::{misc, param};
use crate::VolumeState;
use axum::extract::{Path, State};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// `GET /v3/os-hosts`: one row per service.
pub async fn list(State(state): State<Arc<VolumeState>>) -> axum::Json<Value> {
    let hosts: Vec<Value> = misc::service_rows(&state)
        .into_iter()
        .map(|s| {
            json!({
                "host_name": s.host, "service": s.binary, "zone": state.availability_zone,
                "service-status": "available", "service-state": "enabled",
                "last-update": s.updated_at,
            })
        })
        .collect();
    axum::Json(json!({"hosts": hosts}))
}

/// Volumes and snapshots of one project (or of all, `(total)`) on a host.
#[derive(Default)]
struct Usage {
    volumes: u64,
    volume_gib: u64,
    snapshots: u64,
    snapshot_gib: u64,
}

/// `GET /v3/os-hosts/{host}`: the volume usage of a volume service's host
/// (`host@backend`), in total and per project; 404 for any other host.
pub async fn show(
    State(state): State<Arc<VolumeState>>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let host = param(&p, "host")?;
    let Some(backend) = state
        .backends
        .iter()
        .find(|b| format!("{}@{}", b.host(), b.backend_name()) == host)
    else {
        return Err(VolumeError::NotFound(format!(
            "Host {host} could not be found."
        )));
    };
    let mut per_project: BTreeMap<String, Usage> = BTreeMap::new();
    let mut sizes: HashMap<String, String> = HashMap::new();
    for v in state.store.list_volumes(None)? {
        if v.backend_name != backend.backend_name() {
            continue;
        }
        let u = per_project.entry(v.project_id.clone()).or_default();
        u.volumes += 1;
        u.volume_gib += v.size_gib;
        sizes.insert(v.id, v.project_id);
    }
    for s in state.store.list_snapshots(None)? {
        if let Some(project) = sizes.get(&s.volume_id) {
            let u = per_project.entry(project.clone()).or_default();
            u.snapshots += 1;
            u.snapshot_gib += s.size_gib;
        }
    }
    let mut total = Usage::default();
    for u in per_project.values() {
        total.volumes += u.volumes;
        total.volume_gib += u.volume_gib;
        total.snapshots += u.snapshots;
        total.snapshot_gib += u.snapshot_gib;
    }
    // Cinder's shape: every figure a string, the total first.
    let row = |project: &str, u: &Usage| {
        json!({"resource": {
            "host": host, "project": project,
            "volume_count": u.volumes.to_string(),
            "total_volume_gb": u.volume_gib.to_string(),
            "snapshot_count": u.snapshots.to_string(),
            "total_snapshot_gb": u.snapshot_gib.to_string(),
        }})
    };
    let mut rows = vec![row("(total)", &total)];
    rows.extend(per_project.iter().map(|(p, u)| row(p, u)));
    Ok(axum::Json(json!({"host": rows})))
}

/// `GET /v3/capabilities/{host}`: what a backend offers, for a pool name
/// of `get_pools` (`host@backend#pool`) or its `host@backend`.
pub async fn capabilities(
    State(state): State<Arc<VolumeState>>,
    Path(p): Path<HashMap<String, String>>,
) -> VolumeResult<axum::Json<Value>> {
    let host = param(&p, "host")?;
    let backend_host = host.split('#').next().unwrap_or(host);
    let Some(b) = state
        .backends
        .iter()
        .find(|b| format!("{}@{}", b.host(), b.backend_name()) == backend_host)
    else {
        return Err(VolumeError::NotFound(format!(
            "Host {host} could not be found."
        )));
    };
    let caps = misc::capabilities(b.as_ref());
    Ok(axum::Json(json!({
        "namespace": format!("OS::Storage::Capabilities::{backend_host}"),
        "vendor_name": caps["vendor_name"],
        "volume_backend_name": b.backend_name(),
        "pool_name": null,
        "driver_version": caps["driver_version"],
        "storage_protocol": caps["storage_protocol"],
        "display_name": null,
        "description": null,
        "visibility": null,
        "replication_targets": [],
        "properties": {
            "thin_provisioning": {
                "title": "Thin Provisioning",
                "description": "Sets thin provisioning.",
                "type": "boolean",
            },
        },
    })))
}
