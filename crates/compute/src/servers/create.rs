//! Server create as steps of the step/undo runner (`ferrostack-operations`).
//!
//! ```text
//!  step      run                                         undo
//!  rows      insert the rows (BUILD/scheduling, no host) purge them
//!  quota     reserve per server; fewer down to           release per server
//!            min_count (the rest purged); below it: 403
//!  group     join the server group                       leave it
//!  schedule  choose hosts + claim in placement;          release the claims
//!            no host: note Nova's fault, not an error
//!  ports     create and bind each server's ports on its   delete the ports created,
//!            host (the network service)                  unbind the ones passed in
//!  volumes   create the volumes the boot makes (waiting   release the attachments,
//!            for them), reserve and connect each on the  delete the volumes made
//!            server's host (the volume service)
//!  assign    host + desired state; or, with no host,     nothing (the rows'
//!            every server ERROR with the fault           purge withdraws it)
//! ```
//!
//! The payload ([`CreateOp`]) holds the server ids, drawn before the
//! first step so every undo knows what to take back even if its step was
//! cut short, and what later steps decided (the servers that fit the
//! quota, the hosts). Any step's error undoes the steps before it at once:
//! the API answers that error and nothing is left, not a row, a quota
//! unit, a claim or a group member. "No valid host" is not such an error:
//! the servers exist and end in ERROR with Nova's fault, as in Nova.
//!
//! After a crash a create is always **undone**, never resumed: the client
//! got no answer, so it does not know the ids; servers it cannot see would
//! surprise it and a retry would double them. Only a live request runs
//! steps forward ([`Boot`]); the steps rebuilt at start-up only undo.
//!
//! Known limit: the host's agent polls its revision, so a server assigned
//! in the instant before a later failure can be spawned before its row is
//! purged; the agent then reports that VM as an orphan and leaves it to
//! the operator (or its `reap_orphans`).
//!
//! Rejected: writing the quota, group and claim in one store transaction
//! (they live behind different traits, and a PostgreSQL or remote
//! placement could not join it); compensations written at each early
//! return (every new step had to remember all earlier ones).

use super::lifecycle::{host_infos, quota_of, resources_of, sanitize_hostname, start_action};
use super::{set_doc, task, vm, FlavorSnapshot, PendingTask, ServerDoc};
use crate::error::{ComputeError, ComputeResult};
use crate::networks::{Allocation, NicRequest, ServerNic};
use crate::volumes::{next_device, ServerVolume};
use crate::ComputeState;
use ferrostack_common::time::now_micros;
use ferrostack_compute_types::server::{BootVolume, BootVolumeSource};
use ferrostack_operations::{Direction, Recovery, Registry, Step};
use ferrostack_policy::AuthContext;
use ferrostack_quota::{QuotaError, COMPUTE};
use ferrostack_scheduler::{
    GroupPolicy, ImageProperties, RequestSpec, ScheduleError, ServerGroup as GroupSpec,
};
use ferrostack_store::server::Instance;
use ferrostack_store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;

use super::lifecycle::BootRequest;

/// The operation kind of a server create.
pub const KIND: &str = "server.create";

/// The steps of a create, in order (a record's `completed` counts them).
pub const STEPS: [&str; 7] = [
    "rows", "quota", "group", "schedule", "ports", "volumes", "assign",
];

/// What a create's steps share and its record keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateOp {
    /// The owning project.
    pub project_id: String,
    /// The user creating, whose per-user quota also counts (empty in
    /// records written before per-user quotas: the project's alone).
    #[serde(default)]
    pub user_id: String,
    /// Nova's reservation id (also the record's subject).
    pub reservation_id: String,
    /// The servers, in launch order: all drawn ids at first, then those
    /// the quota allowed.
    pub servers: Vec<String>,
    /// The server group joined.
    pub group: Option<String>,
    /// Fewest servers worth creating.
    pub min_count: usize,
    /// Host per server, once scheduled.
    #[serde(default)]
    pub hosts: BTreeMap<String, String>,
    /// Nova's fault when no host fits (the servers then go to ERROR).
    #[serde(default)]
    pub no_valid_host: Option<String>,
    /// The NICs every server gets, resolved before the first step.
    #[serde(default)]
    pub nics: Vec<NicRequest>,
    /// Per server, the ids of the ports to create (one per NIC without a
    /// port), drawn before the first step so an undo knows them.
    #[serde(default)]
    pub new_ports: BTreeMap<String, Vec<String>>,
    /// Per server, its ports once bound.
    #[serde(default)]
    pub bound: BTreeMap<String, Vec<ServerNic>>,
    /// The security groups of the ports created (ids).
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// The volumes every server gets (the boot's mappings to volumes).
    #[serde(default)]
    pub volumes: Vec<BootVolume>,
    /// Per server, per entry of `volumes`: the volume id (drawn here for
    /// a volume the boot makes) and the attachment id, drawn before the
    /// first step so an undo knows them.
    #[serde(default)]
    pub volume_ids: BTreeMap<String, Vec<(String, String)>>,
    /// Per server, its volumes once reserved and connected.
    #[serde(default)]
    pub attached: BTreeMap<String, Vec<ServerVolume>>,
}

impl CreateOp {
    /// The operation for `req` by `project_id`, with fresh server ids.
    pub fn new(project_id: &str, req: &BootRequest) -> Self {
        CreateOp {
            project_id: project_id.to_string(),
            user_id: String::new(),
            reservation_id: format!("r-{}", &ferrostack_common::ids::new_hex_id()[..8]),
            servers: (0..req.max_count)
                .map(|_| ferrostack_common::ids::new_uuid())
                .collect(),
            group: req.group.as_ref().map(|g| g.uuid.clone()),
            min_count: req.min_count,
            hosts: BTreeMap::new(),
            no_valid_host: None,
            nics: req.nics.clone(),
            security_groups: req.security_groups.clone(),
            new_ports: BTreeMap::new(),
            bound: BTreeMap::new(),
            volumes: req.volumes.clone(),
            volume_ids: BTreeMap::new(),
            attached: BTreeMap::new(),
        }
        .with_port_ids()
        .with_volume_ids()
    }

    fn with_volume_ids(mut self) -> Self {
        for server in &self.servers {
            let ids = (self.volumes.iter())
                .map(|v| {
                    let volume = match &v.source {
                        BootVolumeSource::Volume(id) => id.clone(),
                        _ => ferrostack_common::ids::new_uuid(),
                    };
                    (volume, ferrostack_common::ids::new_uuid())
                })
                .collect();
            self.volume_ids.insert(server.clone(), ids);
        }
        self
    }

    fn with_port_ids(mut self) -> Self {
        let created = self.nics.iter().filter(|n| n.port_id.is_none()).count();
        for server in &self.servers {
            let ids = (0..created)
                .map(|_| ferrostack_common::ids::new_uuid())
                .collect();
            self.new_ports.insert(server.clone(), ids);
        }
        self
    }
}

/// What only a live request has: what to run forward with, and where
/// the assigned servers go.
#[derive(Clone, Copy)]
pub struct Boot<'a> {
    /// Who asked.
    pub caller: &'a AuthContext,
    /// The validated request.
    pub req: &'a BootRequest,
    /// Its flavor, as copied into each server.
    pub flavor: &'a FlavorSnapshot,
    /// The servers as the last step left them.
    pub out: &'a RefCell<Vec<Instance>>,
}

/// The steps of a create; without `boot` (at start-up) they only undo.
pub fn steps<'a>(
    state: &'a ComputeState,
    boot: Option<Boot<'a>>,
) -> Vec<Step<'a, CreateOp, ComputeError>> {
    let live = move || {
        boot.ok_or_else(|| {
            ComputeError::Internal("a server create is undone after a restart, not resumed".into())
        })
    };
    vec![
        Step::new(
            STEPS[0],
            move |op: &mut CreateOp| insert_rows(state, live()?, op),
            move |op: &mut CreateOp| purge_rows(state, op),
        ),
        Step::new(
            STEPS[1],
            move |op: &mut CreateOp| reserve_quota(state, live()?, op),
            move |op: &mut CreateOp| release_quota(state, op),
        ),
        Step::new(
            STEPS[2],
            move |op: &mut CreateOp| {
                live()?;
                join_group(state, op)
            },
            move |op: &mut CreateOp| leave_group(state, op),
        ),
        Step::new(
            STEPS[3],
            move |op: &mut CreateOp| schedule(state, live()?, op),
            move |op: &mut CreateOp| release_claims(state, op),
        ),
        Step::new(
            STEPS[4],
            move |op: &mut CreateOp| {
                live()?;
                bind_ports(state, op)
            },
            move |op: &mut CreateOp| release_ports(state, op),
        ),
        Step::new(
            STEPS[5],
            move |op: &mut CreateOp| connect_volumes(state, live()?, op),
            move |op: &mut CreateOp| release_volumes(state, op),
        ),
        Step::new(
            STEPS[6],
            move |op: &mut CreateOp| {
                let b = live()?;
                let assigned = super::lifecycle::assign(state, b.req, op)?;
                *b.out.borrow_mut() = assigned;
                Ok(())
            },
            |_: &mut CreateOp| Ok(()),
        ),
    ]
}

/// Start-up undoes every interrupted create (see the module doc).
pub fn register<'a>(registry: &mut Registry<'a>, state: &'a ComputeState) {
    registry.register(KIND, move |_op, _payload: &CreateOp| {
        Ok::<_, ComputeError>(Recovery {
            direction: Direction::Undo,
            steps: steps(state, None),
        })
    });
}

/// The servers of creates start-up could not undo (their undo failed and
/// is retried next start): their rows are left as they are.
pub fn held_servers(state: &ComputeState) -> ComputeResult<Vec<String>> {
    let mut out = Vec::new();
    for op in state.operations.store().unfinished_operations()? {
        if op.kind == KIND {
            if let Ok(c) = serde_json::from_value::<CreateOp>(op.payload) {
                out.extend(c.servers);
            }
        }
    }
    Ok(out)
}

/// Step `rows`: a row (and a `create` action) per server id; a failure
/// purges the ones written.
fn insert_rows(state: &ComputeState, b: Boot<'_>, op: &mut CreateOp) -> ComputeResult<()> {
    let now = now_micros();
    for (index, uuid) in op.servers.iter().enumerate() {
        let written = new_row(b, op, index, uuid, now).and_then(|row| {
            let stored = state.servers.create_instance(&row)?;
            let event = "compute__do_build_and_run_instance";
            start_action(state, b.caller, &stored, "create", &b.req.request_id, event)
        });
        if let Err(e) = written {
            if let Err(undo) = purge_rows(state, op) {
                tracing::warn!(error = %undo, "cannot purge the rows of a failed create");
            }
            return Err(e);
        }
    }
    Ok(())
}

fn new_row(
    b: Boot<'_>,
    op: &CreateOp,
    index: usize,
    uuid: &str,
    now: i64,
) -> ComputeResult<Instance> {
    let req = b.req;
    let name = if req.max_count > 1 {
        format!("{}-{}", req.name, index + 1)
    } else {
        req.name.clone()
    };
    let hostname = req
        .hostname
        .clone()
        .unwrap_or_else(|| sanitize_hostname(&name));
    let zone = req
        .availability_zone
        .clone()
        .unwrap_or_else(|| super::lifecycle::DEFAULT_ZONE.to_string());
    let d = ServerDoc {
        flavor: b.flavor.clone(),
        old_flavor: None,
        image_id: req.image.id.clone(),
        key_name: req.key.as_ref().map(|k| k.name.clone()),
        key_data: req.key.as_ref().map(|k| k.public_key.clone()),
        user_data: req.user_data.clone(),
        metadata: req.metadata.clone(),
        config_drive: req.config_drive,
        availability_zone: Some(zone),
        pinned_availability_zone: req.availability_zone.clone(),
        access_ipv4: req.access_ipv4.clone(),
        access_ipv6: req.access_ipv6.clone(),
        description: req.description.clone(),
        locked: false,
        locked_reason: None,
        locked_by: None,
        hostname,
        reservation_id: op.reservation_id.clone(),
        launch_index: index as i64,
        launched_at: None,
        terminated_at: None,
        fault: None,
        tags: req.tags.clone(),
        server_groups: op.group.iter().cloned().collect(),
        disk_config: req.disk_config.clone(),
        pending: Some(PendingTask {
            request_id: req.request_id.clone(),
            generation: 1,
        }),
        pending_snapshot: None,
        nics: Vec::new(),
        attaching: Vec::new(),
        pending_nics: Vec::new(),
        volumes: Vec::new(),
        detaching_volumes: Vec::new(),
    };
    let mut row = Instance {
        seq: 0,
        uuid: uuid.to_string(),
        project_id: op.project_id.clone(),
        user_id: b.caller.user_id.clone(),
        name,
        host: None,
        vm_state: vm::BUILDING.into(),
        task_state: Some(task::SCHEDULING.into()),
        power_state: super::power::NOSTATE,
        doc: Value::Null,
        desired: None,
        generation: 0,
        observed: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    set_doc(&mut row, &d)?;
    Ok(row)
}

fn purge_rows(state: &ComputeState, op: &mut CreateOp) -> ComputeResult<()> {
    for uuid in &op.servers {
        state.servers.purge_instance(uuid)?;
    }
    Ok(())
}

/// Step `quota`: one consumer per server. Past the quota, the servers
/// that do not fit are purged, unless fewer than `min_count` fit: then
/// this step gives back what it took and fails with Nova's 403.
fn reserve_quota(state: &ComputeState, b: Boot<'_>, op: &mut CreateOp) -> ComputeResult<()> {
    let per_server = quota_of(b.flavor);
    let mut taken = 0;
    let mut refusal = None;
    for uuid in &op.servers {
        let reserved = if op.user_id.is_empty() {
            (state.quotas).reserve(&COMPUTE, &op.project_id, uuid, &per_server)
        } else {
            (state.quotas).reserve_as(&COMPUTE, &op.project_id, &op.user_id, uuid, &per_server)
        };
        match reserved {
            Ok(()) => taken += 1,
            Err(e) => {
                refusal = Some(e);
                break;
            }
        }
    }
    match refusal {
        None => Ok(()),
        Some(QuotaError::OverQuota(overs)) if taken >= op.min_count => {
            tracing::debug!(taken, over = ?overs, "creating the servers that fit the quota");
            for uuid in op.servers.split_off(taken) {
                state.servers.purge_instance(&uuid)?;
            }
            Ok(())
        }
        Some(e) => {
            release_quota(state, op)?;
            Err(super::lifecycle::over_quota(e))
        }
    }
}

fn release_quota(state: &ComputeState, op: &mut CreateOp) -> ComputeResult<()> {
    for uuid in &op.servers {
        state.quotas.release(&COMPUTE, uuid)?;
    }
    Ok(())
}

/// Step `group`: the servers become members (under the group lock the
/// caller holds, so scheduling sees them).
fn join_group(state: &ComputeState, op: &mut CreateOp) -> ComputeResult<()> {
    let Some(group) = &op.group else {
        return Ok(());
    };
    state.servers.modify_group(group, &mut |g| {
        let new: Vec<String> = (op.servers.iter())
            .filter(|s| !g.members.contains(s))
            .cloned()
            .collect();
        g.members.extend(new);
        Ok(())
    })?;
    Ok(())
}

fn leave_group(state: &ComputeState, op: &mut CreateOp) -> ComputeResult<()> {
    let Some(group) = &op.group else {
        return Ok(());
    };
    let left = state.servers.modify_group(group, &mut |g| {
        g.members.retain(|m| !op.servers.contains(m));
        Ok(())
    });
    match left {
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Step `schedule`: hosts for every server, claimed all or none. No host
/// is recorded for the `assign` step, not returned as an error.
fn schedule(state: &ComputeState, b: Boot<'_>, op: &mut CreateOp) -> ComputeResult<()> {
    let req = b.req;
    let spec = RequestSpec {
        instance_uuids: op.servers.clone(),
        project_id: op.project_id.clone(),
        flavor: resources_of(
            b.flavor,
            req.volumes.iter().any(|v| v.boot_index == Some(0)),
        ),
        flavor_extra_specs: b.flavor.extra_specs.clone(),
        image_properties: ImageProperties {
            hw_architecture: req.image.properties.get("hw_architecture").cloned(),
            img_hv_type: req.image.properties.get("img_hv_type").cloned(),
        },
        availability_zone: req.availability_zone.clone(),
        server_group: group_spec(state, op)?,
        force_hosts: req.forced_host.iter().cloned().collect(),
        ignore_hosts: Vec::new(),
    };
    let hosts = host_infos(state)?;
    match state.scheduler.schedule(&spec, &hosts) {
        Ok(selections) => {
            op.hosts = selections
                .into_iter()
                .map(|s| (s.instance_uuid, s.host))
                .collect();
            Ok(())
        }
        Err(ScheduleError::NoValidHost(n)) => {
            tracing::info!(filters = %n.filter_summary(), "no valid host");
            op.no_valid_host = Some(n.to_string());
            Ok(())
        }
        Err(e @ ScheduleError::ClaimRetriesExhausted { .. }) => {
            tracing::warn!(error = %e, "scheduling failed");
            op.no_valid_host = Some(format!("No valid host was found. {e}"));
            Ok(())
        }
        Err(ScheduleError::Store(e)) => Err(e.into()),
        Err(e) => Err(ComputeError::Internal(format!("scheduling failed: {e}"))),
    }
}

/// The group as the scheduler sees it (its members include ours now).
fn group_spec(state: &ComputeState, op: &CreateOp) -> ComputeResult<Option<GroupSpec>> {
    let Some(uuid) = &op.group else {
        return Ok(None);
    };
    let g = (state.servers.get_group(uuid)?)
        .ok_or_else(|| ComputeError::Internal(format!("server group {uuid} vanished")))?;
    let policy = GroupPolicy::parse(&g.policy)
        .ok_or_else(|| ComputeError::Internal(format!("group {uuid} has policy {}", g.policy)))?;
    Ok(Some(GroupSpec {
        uuid: g.uuid.clone(),
        policy,
        members: g.members.iter().cloned().collect(),
        max_server_per_host: g
            .rules
            .get("max_server_per_host")
            .and_then(Value::as_u64)
            .map(|n| n as u32),
    }))
}

/// Step `ports`: each scheduled server's ports, created and bound to its
/// host. A failure takes back every server's ports (the runner undoes
/// this step as well as the earlier ones).
fn bind_ports(state: &ComputeState, op: &mut CreateOp) -> ComputeResult<()> {
    let Some(service) = state.link.networks() else {
        return Ok(());
    };
    if op.nics.is_empty() || op.no_valid_host.is_some() {
        return Ok(());
    }
    let zone = super::lifecycle::DEFAULT_ZONE;
    for server in op.servers.clone() {
        let host = op.hosts.get(&server).cloned().ok_or_else(|| {
            ComputeError::Internal(format!("server {server} was scheduled to no host"))
        })?;
        let new_port_ids = op.new_ports.get(&server).cloned().unwrap_or_default();
        let allocation = Allocation {
            project_id: &op.project_id,
            server_id: &server,
            host: &host,
            zone,
            requests: &op.nics,
            new_port_ids: &new_port_ids,
            security_groups: &op.security_groups,
        };
        match service.allocate(&allocation) {
            Ok(nics) => {
                op.bound.insert(server, nics);
            }
            Err(e) => {
                if let Err(undo) = release_ports(state, op) {
                    tracing::warn!(error = %undo, "cannot release the ports of a failed create");
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

fn release_ports(state: &ComputeState, op: &mut CreateOp) -> ComputeResult<()> {
    let Some(service) = state.link.networks() else {
        return Ok(());
    };
    let passed_in: Vec<String> = op.nics.iter().filter_map(|n| n.port_id.clone()).collect();
    for server in &op.servers {
        let created = op.new_ports.get(server).cloned().unwrap_or_default();
        service.release(server, &created, &passed_in)?;
    }
    op.bound.clear();
    Ok(())
}

/// Step `volumes`: each scheduled server's volumes, made (from an image,
/// or empty) where the boot makes them, reserved and connected on its
/// host. A failure takes back every server's volumes.
fn connect_volumes(state: &ComputeState, b: Boot<'_>, op: &mut CreateOp) -> ComputeResult<()> {
    if op.volumes.is_empty() || op.no_valid_host.is_some() {
        return Ok(());
    }
    let service = state.link.volumes().ok_or_else(|| {
        ComputeError::BadRequest("This cloud has no block storage service.".into())
    })?;
    let result = (|| {
        for server in op.servers.clone() {
            let host = op.hosts.get(&server).cloned().ok_or_else(|| {
                ComputeError::Internal(format!("server {server} was scheduled to no host"))
            })?;
            let ids = op.volume_ids.get(&server).cloned().unwrap_or_default();
            let mut attached: Vec<ServerVolume> = Vec::new();
            for (want, (volume_id, attachment_id)) in op.volumes.iter().zip(ids) {
                if !matches!(want.source, BootVolumeSource::Volume(_)) {
                    service.create_volume(
                        &op.project_id,
                        &volume_id,
                        &want.source,
                        want.size_gib,
                        want.volume_type.as_deref(),
                    )?;
                }
                service.reserve(b.caller, &volume_id, &server, &attachment_id)?;
                let c = service.connect(&attachment_id, &host)?;
                let device = if want.boot_index == Some(0) {
                    "/dev/vda".to_string()
                } else {
                    next_device(&attached).ok_or_else(|| {
                        ComputeError::BadRequest("Too many volumes for one server.".into())
                    })?
                };
                attached.push(ServerVolume {
                    volume_id,
                    attachment_id,
                    device,
                    connection: Some(c.connection),
                    size_gib: c.size_gib,
                    read_only: c.read_only,
                    limits: c.limits,
                    boot_index: want.boot_index.filter(|i| *i == 0),
                    delete_on_termination: want.delete_on_termination,
                    tag: want.tag.clone(),
                    attached: false,
                    top_generation: 0,
                });
            }
            op.attached.insert(server, attached);
        }
        Ok(())
    })();
    if let Err(e) = result {
        if let Err(undo) = release_volumes(state, op) {
            tracing::warn!(error = %undo, "cannot give back the volumes of a failed create");
        }
        return Err(e);
    }
    Ok(())
}

/// Undo of `volumes`: every attachment drawn is released and every
/// volume the boot made is deleted (releasing and deleting what never
/// came to be is not an error).
fn release_volumes(state: &ComputeState, op: &mut CreateOp) -> ComputeResult<()> {
    let Some(service) = state.link.volumes() else {
        return Ok(());
    };
    for ids in op.volume_ids.values() {
        for (want, (volume_id, attachment_id)) in op.volumes.iter().zip(ids) {
            service.release(attachment_id)?;
            if !matches!(want.source, BootVolumeSource::Volume(_)) {
                service.delete_volume(volume_id)?;
            }
        }
    }
    op.attached.clear();
    Ok(())
}

fn release_claims(state: &ComputeState, op: &mut CreateOp) -> ComputeResult<()> {
    for uuid in &op.servers {
        state.scheduler.placement().release(uuid)?;
    }
    Ok(())
}
