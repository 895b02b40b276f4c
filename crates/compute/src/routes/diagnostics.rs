//! `GET /v2.1/servers/{server_id}/diagnostics` (admins).
//!
//! What is known of the guest without asking its host: the power state
//! the host last reported, and the VM's shape from the desired spec the
//! host runs (vCPUs, memory, NICs with their MACs, disks, config drive).
//! The counters Nova's libvirt driver reads from the hypervisor (CPU
//! time, bytes and packets per NIC and disk, memory in use) are not
//! collected from QEMU yet, so they are null (2.48+) or absent (before),
//! never made up.
//!
//! From 2.48 the view is Nova's standard one. Its `driver` is an enum of
//! Nova's driver names with no entry for a driver that runs QEMU itself;
//! `libvirt`, Nova's QEMU/KVM driver, is the one whose guests these are
//! most like, and `hypervisor` says which accelerator (`qemu` for TCG,
//! `kvm`). Before 2.48 Nova answers whatever its driver returns; for
//! libvirt that is a flat object, here with the one known entry,
//! `memory` (KiB).

use super::Caller;
use crate::error::{ComputeError, ComputeResult};
use crate::microversion::Version;
use crate::servers::{self, desired, doc};
use crate::ComputeState;
use axum::extract::{Path, State};
use serde_json::{json, Value};
use std::sync::Arc;

/// Nova's `state` for a power state number (nova.compute.power_state).
fn state_word(power_state: i64) -> &'static str {
    match power_state {
        1 => "running",
        3 => "paused",
        4 => "shutdown",
        6 => "crashed",
        7 => "suspended",
        _ => "pending",
    }
}

/// The accelerator of `host`, as its service reported it.
fn accelerator(state: &ComputeState, host: &str) -> ComputeResult<Option<String>> {
    Ok(state
        .servers
        .list_services()?
        .into_iter()
        .find(|s| s.binary == super::services::COMPUTE_BINARY && s.host == host)
        .and_then(|s| {
            s.capabilities
                .get("accelerator")
                .and_then(Value::as_str)
                .map(|a| if a == "kvm" { "kvm" } else { "qemu" }.to_string())
        }))
}

/// `GET /v2.1/servers/{server_id}/diagnostics`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    let (Some(host), Some(spec)) = (i.host.clone(), desired(&i)?.map(|d| d.spec)) else {
        return Err(ComputeError::Conflict(format!(
            "Cannot 'get_diagnostics' instance {id} while it is in vm_state {}",
            i.vm_state
        )));
    };
    if !v.at_least(48) {
        return Ok(axum::Json(json!({ "memory": spec.memory_mib * 1024 })));
    }
    let d = doc(&i)?;
    let nics: Vec<Value> = spec
        .nics
        .iter()
        .map(|n| {
            json!({
                "mac_address": n.mac,
                "rx_octets": null, "rx_errors": null, "rx_drop": null,
                "rx_packets": null, "rx_rate": null, "tx_octets": null,
                "tx_errors": null, "tx_drop": null, "tx_packets": null,
                "tx_rate": null,
            })
        })
        .collect();
    let disks = usize::from(!d.boots_from_volume())
        + spec.volumes.len()
        + usize::from(spec.config_drive.is_some());
    let disk_details: Vec<Value> = (0..disks)
        .map(|_| {
            json!({
                "read_bytes": null, "read_requests": null, "write_bytes": null,
                "write_requests": null, "errors_count": null,
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "state": state_word(i.power_state),
        "driver": "libvirt",
        "hypervisor": accelerator(&state, &host)?,
        "hypervisor_os": "linux",
        "uptime": null,
        "config_drive": spec.config_drive.is_some(),
        "num_cpus": spec.vcpus,
        "num_nics": nics.len(),
        "num_disks": disks,
        "memory_details": {"maximum": spec.memory_mib, "used": null},
        "cpu_details": [],
        "nic_details": nics,
        "disk_details": disk_details,
    })))
}
