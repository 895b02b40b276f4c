//! Create and delete, and recovery of what a crash interrupted.
//!
//! ```text
//!  create:  steps of the step/undo runner (super::create), each undone
//!           at once if a later one fails:
//!             rows (BUILD/scheduling, no host) -> quota per instance
//!             (fewer down to min_count; below it 403) -> server group
//!             (under the group lock) -> schedule + placement claim
//!             -> assign: host + desired state (BUILD/spawning); the
//!                host's revision moves and its agent spawns the VM
//!                (no host: every instance ERROR with Nova's fault)
//!  delete:  no host yet -> finished at once
//!           else task deleting + desired.deleted; the agent destroys the
//!           VM and reports Deleted; the host link finishes the delete
//!  finish:  row marked deleted, quota and placement released, group left
//! ```
//!
//! The rows are written first on purpose: every later resource (quota,
//! placement, group membership) is keyed by the server id, so nothing
//! leaks without a row pointing at it. A create's progress is recorded,
//! so after a crash [`recover`] undoes it; rows with no record (written
//! by a version before the records) still go to ERROR, and deleting them
//! releases whatever they hold.

use super::{
    create, doc, set_desired, set_doc, task, vm, FaultDoc, FlavorSnapshot, PendingTask, ServerDoc,
};
use crate::error::{ComputeError, ComputeResult};
use crate::networks::{NicRequest, ServerNic};
use crate::ComputeState;
use ferrostack_common::time::now_micros;
use ferrostack_host_contract::{BaseFormat, ConfigDrive, InstanceSpec, NicSpec};
use ferrostack_host_contract::{DesiredInstance, DesiredPower, ResizeDesire};
use ferrostack_policy::AuthContext;
use ferrostack_quota::QuotaError;
use ferrostack_scheduler::{Accel, Capabilities, FlavorResources, HostInfo};
use ferrostack_store::compute::{Flavor, KeyPair};
use ferrostack_store::image::Image;
use ferrostack_store::server::{Instance, InstanceAction, InstanceFilter, ServerGroup};
use ferrostack_store::StoreError;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

/// The zone every host is in unless configured otherwise (Nova's default).
pub const DEFAULT_ZONE: &str = "nova";

/// A validated `POST /servers`.
#[derive(Clone, Debug)]
pub struct BootRequest {
    /// Display name.
    pub name: String,
    /// The image to boot (active, visible, qcow2 or raw).
    pub image: Image,
    /// The flavor.
    pub flavor: Flavor,
    /// The key pair to inject.
    pub key: Option<KeyPair>,
    /// Base64 user data as given.
    pub user_data: Option<String>,
    /// Server metadata.
    pub metadata: BTreeMap<String, String>,
    /// `config_drive` as asked.
    pub config_drive: bool,
    /// The zone asked for.
    pub availability_zone: Option<String>,
    /// An admin's `zone:host` or 2.74 `host`.
    pub forced_host: Option<String>,
    /// Fewest instances to create.
    pub min_count: usize,
    /// Most instances to create.
    pub max_count: usize,
    /// The server group to join (`os:scheduler_hints.group`).
    pub group: Option<ServerGroup>,
    /// Free text (2.19).
    pub description: Option<String>,
    /// `accessIPv4`.
    pub access_ipv4: String,
    /// `accessIPv6`.
    pub access_ipv6: String,
    /// Tags (2.52).
    pub tags: Vec<String>,
    /// Guest host name (2.90), else derived from the name.
    pub hostname: Option<String>,
    /// `AUTO` or `MANUAL`.
    pub disk_config: String,
    /// The NICs asked for, resolved by the network service.
    pub nics: Vec<NicRequest>,
    /// The security groups of the ports created (ids; empty: the
    /// project's default group).
    pub security_groups: Vec<String>,
    /// The volumes asked for (`block_device_mapping_v2` with
    /// `destination_type: volume`); one with `boot_index: Some(0)` is the
    /// root disk.
    pub volumes: Vec<ferrostack_compute_types::server::BootVolume>,
    /// The API request id (the `create` action's id).
    pub request_id: String,
}

/// Nova's message when a boot does not fit the quota.
pub(super) fn over_quota(e: QuotaError) -> ComputeError {
    match e {
        QuotaError::OverQuota(overs) => {
            let join = |f: &dyn Fn(&ferrostack_store::quota::Overage) -> String| {
                overs.iter().map(f).collect::<Vec<_>>().join(", ")
            };
            let names = join(&|o| o.resource.clone());
            ComputeError::Forbidden(format!(
                "Quota exceeded for {names}: Requested {}, but already used {} of {} {names}",
                join(&|o| o.requested.to_string()),
                join(&|o| o.in_use.to_string()),
                join(&|o| o.limit.to_string()),
            ))
        }
        other => other.into(),
    }
}

/// The guest host name Nova derives from a display name.
pub fn sanitize_hostname(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '-' {
            out.push(c);
        } else if c == ' ' || c == '_' || c == '.' {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    let mut h: String = trimmed.chars().take(63).collect();
    while h.ends_with('-') {
        h.pop();
    }
    if h.is_empty() {
        "server".into()
    } else {
        h
    }
}

/// The quota a flavor takes per instance.
pub fn quota_of(f: &FlavorSnapshot) -> BTreeMap<String, i64> {
    [
        ("instances".to_string(), 1),
        ("cores".to_string(), f.vcpus),
        ("ram".to_string(), f.ram),
    ]
    .into()
}

/// The placement resources a flavor takes per instance. A server booted
/// from a volume has its root disk on the volume's backend, so the
/// flavor's root disk takes nothing of the host's (as Nova claims only
/// ephemeral and swap for a volume-backed instance).
pub fn resources_of(f: &FlavorSnapshot, from_volume: bool) -> FlavorResources {
    let root = if from_volume { 0 } else { f.disk.max(0) };
    FlavorResources {
        vcpus: f.vcpus.max(0) as u64,
        memory_mb: f.ram.max(0) as u64,
        disk_gb: (root + f.ephemeral.max(0) + (f.swap.max(0) + 1023) / 1024) as u64,
    }
}

/// The hosts the scheduler may choose from: enabled or not, up or not
/// (its filters decide), each with the servers it holds.
pub fn host_infos(state: &ComputeState) -> ComputeResult<Vec<HostInfo>> {
    let mut hosts = Vec::new();
    for s in crate::routes::aggregates::zoned_services(state)? {
        if s.binary != "nova-compute" {
            continue;
        }
        let caps = &s.capabilities;
        let accel = match caps.get("accelerator").and_then(Value::as_str) {
            Some("kvm") => Accel::Kvm,
            _ => Accel::Tcg,
        };
        let instances: BTreeSet<String> = state
            .servers
            .list_instances(&InstanceFilter {
                host: Some(s.host.clone()),
                ..Default::default()
            })?
            .into_iter()
            .map(|i| i.uuid)
            .collect();
        let heartbeat = UNIX_EPOCH + Duration::from_micros(s.heartbeat_at.max(0) as u64);
        hosts.push(HostInfo {
            name: s.host.clone(),
            availability_zone: s.zone.clone(),
            enabled: !s.disabled && !s.forced_down,
            last_heartbeat: if s.forced_down { UNIX_EPOCH } else { heartbeat },
            capabilities: Capabilities {
                arch: caps
                    .get("cpu_arch")
                    .and_then(Value::as_str)
                    .unwrap_or("x86_64")
                    .to_string(),
                hypervisor_type: caps
                    .get("hypervisor_type")
                    .and_then(Value::as_str)
                    .unwrap_or("QEMU")
                    .to_ascii_lowercase(),
                accel,
            },
            instances,
        });
    }
    Ok(hosts)
}

/// The config drive of a server, in cloud-init's OpenStack layout.
pub fn config_drive(i: &Instance, d: &ServerDoc) -> ComputeResult<ConfigDrive> {
    let mut meta = json!({
        "uuid": i.uuid,
        "name": i.name,
        "hostname": d.hostname,
        "launch_index": d.launch_index,
        "availability_zone": d.availability_zone,
        "project_id": i.project_id,
        "meta": d.metadata,
        "devices": [],
    });
    if let (Some(name), Some(key)) = (&d.key_name, &d.key_data) {
        meta["public_keys"] = json!({ name: key });
        meta["keys"] = json!([{"name": name, "type": "ssh", "data": key}]);
    }
    let user_data = match &d.user_data {
        None => None,
        Some(b64) => {
            use base64::Engine;
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| ComputeError::Internal(format!("stored user data: {e}")))?,
            )
        }
    };
    Ok(ConfigDrive {
        meta_data_json: meta.to_string(),
        user_data,
        network_data_json: Some(network_data(&d.nics).to_string()),
    })
}

/// `network_data.json` of the config drive (Nova's layout): a link per
/// NIC, a static network per address with its routes, the DNS servers.
pub fn network_data(nics: &[ServerNic]) -> Value {
    let mut links = Vec::new();
    let mut networks = Vec::new();
    let mut dns = BTreeSet::new();
    for nic in nics {
        links.push(json!({
            "id": nic.tap,
            "vif_id": nic.port_id,
            "type": "tap",
            "mtu": nic.mtu,
            "ethernet_mac_address": nic.mac_address,
        }));
        for a in &nic.fixed_ips {
            let prefix = a.cidr.split_once('/').map(|(_, p)| p).unwrap_or("32");
            let mut routes = Vec::new();
            if let Some(gw) = &a.gateway_ip {
                let any = if a.version == 4 { "0.0.0.0" } else { "::" };
                routes.push(json!({"network": any, "netmask": if a.version == 4 { "0.0.0.0" } else { "::" }, "gateway": gw}));
            }
            networks.push(json!({
                "id": format!("network{}", networks.len()),
                "type": if a.version == 4 { "ipv4" } else { "ipv6" },
                "link": nic.tap,
                "ip_address": a.ip_address,
                "netmask": netmask(a.version, prefix),
                "routes": routes,
                "network_id": nic.network_id,
                "services": a.dns_nameservers.iter().map(|d| json!({"type": "dns", "address": d})).collect::<Vec<_>>(),
            }));
            dns.extend(a.dns_nameservers.iter().cloned());
        }
    }
    let services: Vec<Value> = dns
        .into_iter()
        .map(|d| json!({"type": "dns", "address": d}))
        .collect();
    json!({"links": links, "networks": networks, "services": services})
}

/// A prefix length as a netmask (IPv4 dotted, IPv6 colon-hex).
fn netmask(version: u8, prefix: &str) -> String {
    let bits: u32 = prefix.parse().unwrap_or(0);
    if version == 4 {
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits.min(32))
        };
        std::net::Ipv4Addr::from(mask).to_string()
    } else {
        let mask = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - bits.min(128))
        };
        std::net::Ipv6Addr::from(mask).to_string()
    }
}

/// What the host should create for a server.
pub fn instance_spec(
    i: &Instance,
    d: &ServerDoc,
    format: BaseFormat,
) -> ComputeResult<InstanceSpec> {
    let id = uuid::Uuid::parse_str(&i.uuid)
        .map_err(|e| ComputeError::Internal(format!("server id {}: {e}", i.uuid)))?;
    // Booted from a volume, the root disk is the volume: there is no base
    // image for the host to fetch.
    let image_id = if d.boots_from_volume() {
        String::new()
    } else {
        d.image_id.clone()
    };
    Ok(InstanceSpec {
        id,
        name: i.name.clone(),
        vcpus: d.flavor.vcpus.max(1) as u32,
        memory_mib: d.flavor.ram.max(1) as u64,
        // A volume-backed server has no local root disk.
        root_disk_gib: if d.boots_from_volume() {
            0
        } else {
            d.flavor.disk.max(0) as u64
        },
        base_image: PathBuf::new(),
        base_format: format,
        config_drive: Some(config_drive(i, d)?),
        nics: nic_specs(&d.nics),
        image_id,
        volumes: d.volumes.iter().filter_map(|v| v.spec()).collect(),
        root_limits: root_disk_limits(&d.flavor.extra_specs),
    })
}

/// The root disk's I/O limits from a flavor's extra specs, the keys
/// Nova's libvirt driver reads (`quota:disk_read_iops_sec`,
/// `quota:disk_total_bytes_sec`, ...); unknown or unparsable values are
/// no limit, as the flavor API already checked them on the way in.
pub fn root_disk_limits(
    specs: &std::collections::BTreeMap<String, String>,
) -> ferrostack_host_contract::block::IoLimits {
    let get = |key: &str| {
        specs
            .get(&format!("quota:disk_{key}"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    ferrostack_host_contract::block::IoLimits {
        total_iops_sec: get("total_iops_sec"),
        read_iops_sec: get("read_iops_sec"),
        write_iops_sec: get("write_iops_sec"),
        total_bytes_sec: get("total_bytes_sec"),
        read_bytes_sec: get("read_bytes_sec"),
        write_bytes_sec: get("write_bytes_sec"),
    }
}

#[cfg(test)]
mod limit_tests {
    use super::root_disk_limits;

    #[test]
    fn flavor_quota_keys_become_root_disk_limits() {
        let specs = [
            ("quota:disk_write_bytes_sec", "10485760"),
            ("quota:disk_read_iops_sec", "500"),
            ("quota:cpu_shares", "10"),
            ("quota:disk_total_iops_sec", "lots"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let l = root_disk_limits(&specs);
        assert_eq!(l.write_bytes_sec, 10_485_760);
        assert_eq!(l.read_iops_sec, 500);
        assert_eq!(l.total_iops_sec, 0);
        assert_eq!(l.read_bytes_sec, 0);
    }
}

/// The VM NICs of a server's ports, in order.
pub fn nic_specs(nics: &[ServerNic]) -> Vec<NicSpec> {
    nics.iter()
        .map(|n| NicSpec {
            tap: n.tap.clone(),
            mac: n.mac_address.clone(),
            port_id: Some(n.port_id.clone()),
        })
        .collect()
}

/// The image format a host can boot, or why not.
pub fn base_format(image: &Image) -> ComputeResult<BaseFormat> {
    match image.disk_format.as_deref() {
        Some("qcow2") => Ok(BaseFormat::Qcow2),
        Some("raw") => Ok(BaseFormat::Raw),
        other => Err(ComputeError::BadRequest(format!(
            "Image {} has disk format {}; ferrostack boots qcow2 and raw images.",
            image.id,
            other.unwrap_or("(none)")
        ))),
    }
}

/// One event of an instance action, as stored.
pub fn event(name: &str, host: Option<&str>) -> Value {
    json!({
        "event": name,
        "start_time": now_micros(),
        "finish_time": null,
        "result": null,
        "traceback": null,
        "host": host,
        "details": null,
    })
}

/// Record the start of an action on a server.
pub fn start_action(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
    action: &str,
    request_id: &str,
    event_name: &str,
) -> ComputeResult<()> {
    state.servers.add_action(&InstanceAction {
        instance_uuid: i.uuid.clone(),
        request_id: request_id.to_string(),
        action: action.to_string(),
        project_id: caller.project_id().unwrap_or(&i.project_id).to_string(),
        user_id: caller.user_id.clone(),
        message: None,
        start_time: now_micros(),
        finish_time: None,
        events: json!([event(event_name, i.host.as_deref())]),
    })?;
    Ok(())
}

/// Create the servers of `req`, as the steps of [`super::create`]: any
/// failure is undone before this returns.
pub fn create(
    state: &ComputeState,
    caller: &AuthContext,
    req: &BootRequest,
) -> ComputeResult<Vec<Instance>> {
    let project_id = caller
        .project_id()
        .ok_or_else(|| ComputeError::Forbidden("A project-scoped token is required.".into()))?
        .to_string();
    base_format(&req.image)?;
    let flavor = FlavorSnapshot::from(&req.flavor);
    let mut op = create::CreateOp::new(&project_id, req);
    op.user_id = caller.user_id.clone();
    let subject = op.reservation_id.clone();
    let out = std::cell::RefCell::new(Vec::new());
    let boot = create::Boot {
        caller,
        req,
        flavor: &flavor,
        out: &out,
    };
    // The group and the host are chosen under the group lock, so two
    // boots into one (anti-)affinity group cannot both miss each other.
    let _group_guard = req.group.as_ref().map(|_| state.link.group_lock());
    let steps = create::steps(state, Some(boot));
    state.operations.run(create::KIND, &subject, op, steps)?;
    state.link.kick();
    Ok(out.into_inner())
}

/// The `assign` step of a create: each server gets its host and desired
/// state (the host's revision moves and its agent spawns the VM), or,
/// when no host fits, goes to ERROR with Nova's fault.
pub(super) fn assign(
    state: &ComputeState,
    req: &BootRequest,
    op: &create::CreateOp,
) -> ComputeResult<Vec<Instance>> {
    let mut out = Vec::with_capacity(op.servers.len());
    if let Some(message) = &op.no_valid_host {
        for uuid in &op.servers {
            out.push(fail_build(state, uuid, message)?);
        }
        return Ok(out);
    }
    let format = base_format(&req.image)?;
    // A server asked for no zone is in its host's, as Nova sets it once
    // the host is chosen (an aggregate's zone, else the service's).
    let zones: BTreeMap<String, String> = crate::routes::aggregates::zoned_services(state)?
        .into_iter()
        .filter(|s| s.binary == "nova-compute" && !s.zone.is_empty())
        .map(|s| (s.host, s.zone))
        .collect();
    for uuid in &op.servers {
        let host = op.hosts.get(uuid).ok_or_else(|| {
            ComputeError::Internal(format!("server {uuid} was scheduled to no host"))
        })?;
        let nics = op.bound.get(uuid).cloned().unwrap_or_default();
        let volumes = op.attached.get(uuid).cloned().unwrap_or_default();
        let zone = zones.get(host).cloned();
        let assigned = state.servers.modify_instance(uuid, &mut |i| {
            let mut d = doc(i).map_err(to_store)?;
            d.nics = nics.clone();
            d.volumes = volumes.clone();
            if d.pinned_availability_zone.is_none() {
                if let Some(z) = &zone {
                    d.availability_zone = Some(z.clone());
                }
            }
            set_doc(i, &d).map_err(to_store)?;
            let spec = instance_spec(i, &d, format).map_err(to_store)?;
            i.host = Some(host.clone());
            i.task_state = Some(task::SPAWNING.into());
            set_desired(
                i,
                DesiredInstance {
                    spec,
                    power: DesiredPower::Running,
                    reboot: None,
                    deleted: false,
                    generation: 0,
                    snapshot: None,
                    resize: ResizeDesire::None,
                    rebuild: None,
                },
            )
            .map_err(to_store)
        })?;
        out.push(assigned);
    }
    Ok(out)
}

/// A compute error carried through a store closure: a conflict stays the
/// store's conflict, anything else travels typed in
/// [`StoreError::Refused`] and [`from_store`] takes it back unchanged.
pub fn to_store(e: ComputeError) -> StoreError {
    match e {
        ComputeError::Conflict(m) => StoreError::Conflict(m),
        other => StoreError::Refused(Box::new(other)),
    }
}

/// A store error from a closure back into the API's error.
pub fn from_store(e: StoreError) -> ComputeError {
    match e {
        StoreError::Conflict(m) => ComputeError::Conflict(m),
        StoreError::Refused(inner) => match inner.downcast::<ComputeError>() {
            Ok(e) => *e,
            Err(other) => ComputeError::Internal(other.to_string()),
        },
        other => other.into(),
    }
}

/// Put a server that could not be built into ERROR with `message`.
pub fn fail_build(state: &ComputeState, uuid: &str, message: &str) -> ComputeResult<Instance> {
    let failed = state.servers.modify_instance(uuid, &mut |i| {
        let mut d = doc(i).map_err(to_store)?;
        d.fault = Some(FaultDoc {
            code: 500,
            message: message.to_string(),
            details: None,
            created: now_micros(),
        });
        d.pending = None;
        set_doc(i, &d).map_err(to_store)?;
        i.vm_state = vm::ERROR.into();
        i.task_state = None;
        Ok(())
    })?;
    state.link.finish_actions(&failed, false);
    Ok(failed)
}

/// Start deleting a server (or finish at once if no host has it).
pub fn delete(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
    request_id: &str,
) -> ComputeResult<()> {
    super::actions::check_lock(caller, i)?;
    start_action(
        state,
        caller,
        i,
        "delete",
        request_id,
        "compute_terminate_instance",
    )?;
    let request = request_id.to_string();
    let updated = state
        .servers
        .modify_instance(&i.uuid, &mut |i| {
            if i.deleted_at.is_some() {
                return Err(StoreError::not_found("instance", i.uuid.clone()));
            }
            i.task_state = Some(task::DELETING.into());
            let Some(mut desired) = super::desired(i).map_err(to_store)? else {
                return Ok(());
            };
            desired.deleted = true;
            set_desired(i, desired).map_err(to_store)?;
            let mut d = doc(i).map_err(to_store)?;
            d.pending = Some(PendingTask {
                request_id: request.clone(),
                generation: i.generation,
            });
            set_doc(i, &d).map_err(to_store)
        })
        .map_err(|e| match e {
            StoreError::NotFound { .. } => super::not_found(&i.uuid),
            other => from_store(other),
        })?;
    if updated.desired.is_none() || updated.host.is_none() {
        state.link.finish_delete(&updated.uuid)?;
    } else {
        state.link.kick();
    }
    Ok(())
}

/// Start-up: finish the orphaned operations (see [`recover_operations`]),
/// then put servers a crash left between steps with no record (rows
/// without a host, still scheduling, written before operations were
/// recorded) into ERROR; deleting them releases what they hold. Returns
/// how many went to ERROR.
///
/// Other controllers may be creating servers meanwhile: the rows are
/// listed *before* the unfinished creates are read, and each candidate is
/// read again after, so a create that started later is not seen, one
/// still running holds its rows, and one that finished in between has
/// given its servers a host (or purged them) by the second read.
pub fn recover(state: &ComputeState) -> ComputeResult<usize> {
    recover_operations(state)?;
    let candidates: Vec<String> = state
        .servers
        .list_instances(&InstanceFilter::default())?
        .into_iter()
        .filter(|i| i.host.is_none() && i.vm_state == vm::BUILDING)
        .map(|i| i.uuid)
        .collect();
    let held: BTreeSet<String> = create::held_servers(state)?.into_iter().collect();
    let mut n = 0;
    for uuid in candidates.iter().filter(|u| !held.contains(*u)) {
        match state.servers.get_instance(uuid)? {
            Some(i) if i.host.is_none() && i.vm_state == vm::BUILDING => {}
            _ => continue,
        }
        fail_build(
            state,
            uuid,
            "Build interrupted: the control plane restarted while scheduling.",
        )?;
        n += 1;
    }
    Ok(n)
}

/// Finish the server operations no live controller owns (a create is
/// undone, a resize resumed or undone: see [`super::create`] and
/// [`super::resize`]): at start-up this controller's previous process's,
/// and on the periodic sweep those of controllers that died.
pub fn recover_operations(
    state: &ComputeState,
) -> ComputeResult<ferrostack_operations::RecoveryReport> {
    let mut registry = ferrostack_operations::Registry::new();
    create::register(&mut registry, state);
    super::resize_steps::register(&mut registry, state);
    let report = registry.recover(&state.operations)?;
    if report.done + report.undone + report.failed > 0 {
        tracing::warn!(
            resumed = report.done,
            undone = report.undone,
            failed = report.failed,
            "finished server operations a stopped controller left"
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_sanitized_like_novas() {
        assert_eq!(sanitize_hostname("My Server_1"), "my-server-1");
        assert_eq!(sanitize_hostname("--x--"), "x");
        assert_eq!(sanitize_hostname("ü"), "server");
    }

    #[test]
    fn disk_resources_add_root_ephemeral_and_swap() {
        let f = FlavorSnapshot {
            id: "1".into(),
            name: "f".into(),
            vcpus: 2,
            ram: 512,
            disk: 1,
            ephemeral: 2,
            swap: 100,
            extra_specs: BTreeMap::new(),
        };
        let r = resources_of(&f, false);
        assert_eq!((r.vcpus, r.memory_mb, r.disk_gb), (2, 512, 4));
        // From a volume: ephemeral and swap only.
        assert_eq!(resources_of(&f, true).disk_gb, 3);
        assert_eq!(quota_of(&f)["cores"], 2);
    }
}
