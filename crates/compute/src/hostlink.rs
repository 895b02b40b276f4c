//! The internal host API: how host agents see the control plane.
//!
//! [`HostLink`] is the store-backed [`DesiredStateSource`] and
//! [`ObservedStateSink`] of the host agent. An agent reads the desired
//! state of the servers assigned to its host (the `desired` column, with
//! the host's revision from the same transaction), long-polls the
//! revision, and reports what it observes; the link turns each report into
//! Nova's words: `vm_state`, `task_state`, `power_state`, faults, finished
//! instance actions, completed deletes (quota and placement released) and
//! imported snapshots.
//!
//! In `allinone` the agent calls the link in process. A remote agent
//! (`ferrostack agent` on another host) calls the same two traits over
//! HTTPS through [`crate::hostapi`]; nothing in the engine or the link
//! assumes one process: [`HostLink::kick`] only shortens the long poll, and
//! a long poll wakes on the store's host-revision generation, which moves
//! after a write by any controller (on PostgreSQL another controller's
//! write is heard through LISTEN/NOTIFY), with a slow poll as backstop.
//!
//! Reading a report (see [`translate`]):
//!
//! ```text
//!   task Deleted                       -> delete finished (row, quota, placement, group)
//!   generation not reached yet         -> power_state only; task keeps running
//!   reached, Failed                    -> ERROR + fault; action Error
//!   reached, Idle, power Running       -> ACTIVE (VERIFY_RESIZE while a resize
//!                                         backup waits for confirm/revert)
//!                 power Shutoff        -> SHUTOFF   (also drift: a guest that
//!                 Paused / Suspended   -> PAUSED / SUSPENDED   powered itself off)
//!                 not on the host      -> ERROR ("the VM is gone")
//! ```

mod volumes;

use crate::networks::ServerNetworks;
use crate::servers::lifecycle::{quota_of, to_store};
use crate::servers::{doc, power, set_doc, task, vm, FaultDoc, ServerDoc};
use crate::volumes::ServerVolumes;
use ferrostack_common::time::now_micros;
use ferrostack_host_contract::block::BlockDeviceSection;
use ferrostack_host_contract::metadata::{MetadataAnswer, MetadataSource};
use ferrostack_host_contract::network::NetworkSection;
use ferrostack_host_contract::wire::url_host;
use ferrostack_host_contract::{Capabilities, PowerState};
use ferrostack_host_contract::{
    DesiredInstance, DesiredStateSource, HostDesired, ObservedInstance, ObservedObject,
    ObservedStateSink, SourceError, StateFuture, TaskOutcome,
};
use ferrostack_quota::{QuotaEngine, COMPUTE};
use ferrostack_scheduler::{HostResources, InventoryConfig};
use ferrostack_store::placement::PlacementStore;
use ferrostack_store::server::{ComputeService, Instance, InstanceFilter, ServerStore};
use ferrostack_store::{Dataset, StoreError, StoreResult};
use futures::future::BoxFuture;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// Reads a host's serial console (the agent's hypervisor, in process for
/// `allinone`).
pub trait HostConsoles: Send + Sync {
    /// The last `max_bytes` of the console of server `id` on `host`.
    fn console_log<'a>(
        &'a self,
        host: &'a str,
        id: uuid::Uuid,
        max_bytes: usize,
    ) -> BoxFuture<'a, Result<String, String>>;
}

/// Turns a snapshot file the agent wrote into image data.
pub trait SnapshotImporter: Send + Sync {
    /// Where the agent writes the snapshot of `image_id`.
    fn path_for(&self, image_id: &str) -> PathBuf;
    /// Inspect the file and make it the data of `image_id` (active).
    fn import<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<(), String>>;
    /// The snapshot failed: the image is killed and any file removed.
    fn discard<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, ()>;
    /// A backup of `server` was imported: delete its oldest backups of
    /// `backup_type` beyond `rotation` (chosen by
    /// [`crate::servers::snapshot::backups_beyond`]), records and data, as
    /// an image-service delete does. Returns the ids deleted.
    fn rotate_backups<'a>(
        &'a self,
        server: &'a str,
        backup_type: &'a str,
        rotation: u64,
    ) -> BoxFuture<'a, Result<Vec<String>, String>>;
}

/// A host link with nothing behind consoles and snapshots (control-plane
/// tests that do not exercise them).
pub struct NoHostServices;

impl HostConsoles for NoHostServices {
    fn console_log<'a>(
        &'a self,
        host: &'a str,
        _id: uuid::Uuid,
        _max_bytes: usize,
    ) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move { Err(format!("no console access to host {host}")) })
    }
}

impl SnapshotImporter for NoHostServices {
    fn path_for(&self, image_id: &str) -> PathBuf {
        std::env::temp_dir().join(format!("{image_id}.qcow2"))
    }
    fn import<'a>(&'a self, _image_id: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Err("snapshots are not wired in this deployment".to_string()) })
    }
    fn discard<'a>(&'a self, _image_id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    fn rotate_backups<'a>(
        &'a self,
        _server: &'a str,
        _backup_type: &'a str,
        _rotation: u64,
    ) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async { Err("snapshots are not wired in this deployment".to_string()) })
    }
}

/// The objects of kinds other than instances that hosts carry (the
/// network section of their documents), and the agents' reports of them.
/// The network service implements it; the link composes it with the
/// instances into each host's document.
pub trait HostObjects: Send + Sync {
    /// The network section of `host`'s document. Read after the
    /// instances and the revision, so a change racing the read is at
    /// worst seen early, never missed (the revision it bumped is newer).
    fn network(&self, host: &str) -> StoreResult<NetworkSection>;
    /// Record what `host`'s agent observed of its objects.
    fn report(&self, host: &str, observed: &[ObservedObject]) -> StoreResult<()>;
    /// What `host`'s agent last reported.
    fn last_reported(&self, host: &str) -> StoreResult<Vec<ObservedObject>>;
    /// The block-device section of `host`'s document (the volumes it
    /// exports to other hosts); none by default.
    fn block_devices(&self, host: &str) -> StoreResult<BlockDeviceSection> {
        let _ = host;
        Ok(BlockDeviceSection::default())
    }
}

/// The store-backed link between the control plane and host agents.
pub struct HostLink {
    servers: Arc<dyn ServerStore>,
    quotas: QuotaEngine,
    placement: Arc<dyn PlacementStore>,
    consoles: Arc<dyn HostConsoles>,
    snapshots: Arc<dyn SnapshotImporter>,
    changed: Notify,
    groups: Mutex<()>,
    networks: Option<Arc<dyn ServerNetworks>>,
    volumes: Option<Arc<dyn ServerVolumes>>,
    sections: Option<Arc<dyn HostObjects>>,
}

fn unavailable(e: StoreError) -> SourceError {
    SourceError::Unavailable(Box::new(e))
}

impl HostLink {
    /// A link over the stores.
    pub fn new(
        servers: Arc<dyn ServerStore>,
        quotas: QuotaEngine,
        placement: Arc<dyn PlacementStore>,
        consoles: Arc<dyn HostConsoles>,
        snapshots: Arc<dyn SnapshotImporter>,
    ) -> Self {
        HostLink {
            servers,
            quotas,
            placement,
            consoles,
            snapshots,
            changed: Notify::new(),
            groups: Mutex::new(()),
            networks: None,
            volumes: None,
            sections: None,
        }
    }

    /// The network service servers get their ports from (none: servers
    /// boot without networks only).
    pub fn with_networks(mut self, networks: Arc<dyn ServerNetworks>) -> Self {
        self.networks = Some(networks);
        self
    }

    /// The block storage service servers attach volumes from (none:
    /// volume attaches answer 409).
    pub fn with_volumes(mut self, volumes: Arc<dyn ServerVolumes>) -> Self {
        self.volumes = Some(volumes);
        self
    }

    /// The block storage service, if this cloud has one.
    pub fn volumes(&self) -> Option<&Arc<dyn ServerVolumes>> {
        self.volumes.as_ref()
    }

    /// Where the objects of other kinds than instances come from (the
    /// network section) and their reports go.
    pub fn with_objects(mut self, sections: Arc<dyn HostObjects>) -> Self {
        self.sections = Some(sections);
        self
    }

    /// The network service, if this cloud has one.
    pub fn networks(&self) -> Option<&Arc<dyn ServerNetworks>> {
        self.networks.as_ref()
    }

    /// Wake agents waiting in [`DesiredStateSource::watch`] now rather
    /// than at their next poll.
    pub fn kick(&self) {
        self.changed.notify_waiters();
    }

    /// Serializes scheduling into server groups (see `lifecycle::create`).
    pub fn group_lock(&self) -> MutexGuard<'_, ()> {
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The consoles of hosts.
    pub fn consoles(&self) -> &Arc<dyn HostConsoles> {
        &self.consoles
    }

    /// Where snapshots go.
    pub fn snapshots(&self) -> &Arc<dyn SnapshotImporter> {
        &self.snapshots
    }

    /// Record a compute host: its service (capabilities as the hypervisor
    /// API shows them, a fresh heartbeat) and its placement inventory.
    /// Called when an agent starts and again as its heartbeat.
    pub fn register_host(
        &self,
        host: &str,
        zone: &str,
        caps: &Capabilities,
        inventory: &InventoryConfig,
    ) -> StoreResult<()> {
        self.register_host_at(host, zone, caps, inventory, None)
    }

    /// [`register_host`](Self::register_host) for an in-process host
    /// with a tunnel address (`--tunnel-ip`), kept as `tunnel_ip` in its
    /// capabilities: the other hosts of its VXLAN networks send there
    /// (its `host_ip` is loopback, which reaches no other host).
    pub fn register_host_at(
        &self,
        host: &str,
        zone: &str,
        caps: &Capabilities,
        inventory: &InventoryConfig,
        tunnel_ip: Option<&str>,
    ) -> StoreResult<()> {
        self.register_remote_host(host, zone, caps, inventory, None, tunnel_ip)
    }

    /// [`register_host`](Self::register_host) for an agent on another
    /// machine: `agent`'s console endpoint is kept in the service's
    /// capabilities (`agent_url`, `agent_cert_sha256`), so the controller
    /// finds the host again after a restart, and the URL's host part
    /// becomes `host_ip`; `tunnel_ip`, when the host has one, is kept as
    /// `tunnel_ip` (its VXLAN endpoint).
    pub fn register_remote_host(
        &self,
        host: &str,
        zone: &str,
        caps: &Capabilities,
        inventory: &InventoryConfig,
        agent: Option<&crate::hostapi::AgentEndpoint>,
        tunnel_ip: Option<&str>,
    ) -> StoreResult<()> {
        let now = now_micros();
        let capabilities = service_capabilities(caps, agent, tunnel_ip);
        self.servers.upsert_service(&ComputeService {
            id: 0,
            uuid: ferrostack_common::ids::new_uuid(),
            host: host.to_string(),
            binary: "nova-compute".into(),
            zone: zone.to_string(),
            disabled: false,
            disabled_reason: None,
            forced_down: false,
            capabilities,
            heartbeat_at: now,
            created_at: now,
            updated_at: now,
        })?;
        let inventories = inventory.inventories(HostResources {
            vcpus: u64::from(caps.vcpus),
            memory_mb: caps.memory_mib,
            disk_gb: caps.local_disk_gib,
        });
        let current = match self.placement.provider_summary(host) {
            Ok(p) => Some(p),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        if current.as_ref().map(|p| &p.inventories) != Some(&inventories) {
            self.placement.put_provider(host, &inventories, None)?;
        }
        Ok(())
    }

    /// The images the servers on `host` were booted from (what a base
    /// image cache must keep).
    pub fn images_in_use(&self, host: &str) -> StoreResult<std::collections::BTreeSet<String>> {
        let rows = self.servers.list_instances(&InstanceFilter {
            host: Some(host.to_string()),
            ..Default::default()
        })?;
        let mut out = std::collections::BTreeSet::new();
        for row in rows {
            out.insert(doc(&row).map_err(to_store)?.image_id);
        }
        Ok(out)
    }

    /// Finish the delete of `uuid`: the row is marked deleted and what it
    /// held (quota, placement, group membership) is released. Idempotent.
    pub fn finish_delete(&self, uuid: &str) -> StoreResult<()> {
        let now = now_micros();
        let row = self.servers.modify_instance(uuid, &mut |i| {
            if i.deleted_at.is_none() {
                i.deleted_at = Some(now);
            }
            let mut d = doc(i).map_err(to_store)?;
            d.terminated_at.get_or_insert(now);
            d.pending = None;
            d.pending_snapshot = None;
            d.pending_nics.clear();
            set_doc(i, &d).map_err(to_store)?;
            i.vm_state = vm::DELETED.into();
            i.task_state = None;
            i.power_state = power::NOSTATE;
            i.desired = None;
            Ok(())
        })?;
        self.quotas.release(&COMPUTE, uuid).map_err(quota_store)?;
        self.quotas
            .release(&COMPUTE, &resize_consumer(uuid))
            .map_err(quota_store)?;
        self.placement.release(uuid)?;
        self.placement.release(&resize_consumer(uuid))?;
        let d = doc(&row).map_err(to_store)?;
        self.release_ports(uuid, &d)?;
        self.release_volumes(uuid, &d)?;
        for group in &d.server_groups {
            let left = self.servers.modify_group(group, &mut |g| {
                g.members.retain(|m| m != uuid);
                Ok(())
            });
            match left {
                Ok(_) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.finish_actions(&row, true);
        tracing::info!(
            server = uuid,
            "server deleted; quota and resources released"
        );
        Ok(())
    }

    /// Give back a deleted server's ports: the ones its boot or an attach
    /// created are deleted, the ones the user passed in unbound (Nova's
    /// `preserve_on_delete`), and so are the ports of attaches a crash
    /// stopped half way.
    fn release_ports(&self, uuid: &str, d: &ServerDoc) -> StoreResult<()> {
        let Some(service) = &self.networks else {
            return Ok(());
        };
        let (mut delete, mut unbind) = (Vec::new(), Vec::new());
        for n in &d.nics {
            let to = if n.preserve_on_delete {
                &mut unbind
            } else {
                &mut delete
            };
            to.push(n.port_id.clone());
        }
        for a in &d.attaching {
            let to = if a.created { &mut delete } else { &mut unbind };
            to.push(a.port_id.clone());
        }
        service.release(uuid, &delete, &unbind).map_err(to_store)
    }

    /// The metadata at `path` of server `uuid`, asked for by `host`'s
    /// agent on behalf of a guest: `None` (404) unless the server is
    /// assigned to that host and not deleted, so an agent reads only its
    /// own guests' metadata.
    pub fn metadata(
        &self,
        host: &str,
        uuid: &str,
        path: &str,
    ) -> StoreResult<Option<crate::metadata::Answer>> {
        let Some(i) = self.servers.get_instance(uuid)? else {
            return Ok(None);
        };
        if i.host.as_deref() != Some(host) || i.deleted_at.is_some() {
            return Ok(None);
        }
        let d = doc(&i).map_err(to_store)?;
        crate::metadata::answer(&i, &d, path).map_err(to_store)
    }

    /// Mark every unfinished action of the server finished (success or Error).
    pub fn finish_actions(&self, i: &Instance, ok: bool) {
        let actions = match self.servers.list_actions(&i.uuid) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(server = %i.uuid, error = %e, "cannot read instance actions");
                return;
            }
        };
        for a in actions.into_iter().filter(|a| a.finish_time.is_none()) {
            self.finish_action(&i.uuid, &a.request_id, ok);
        }
    }

    /// Mark one action finished, with its open events.
    pub fn finish_action(&self, uuid: &str, request_id: &str, ok: bool) {
        let now = now_micros();
        let result = self.servers.modify_action(uuid, request_id, &mut |a| {
            if a.finish_time.is_some() {
                return;
            }
            a.finish_time = Some(now);
            if !ok {
                a.message = Some("Error".into());
            }
            if let Some(events) = a.events.as_array_mut() {
                for e in events {
                    if e.get("finish_time").is_none_or(Value::is_null) {
                        e["finish_time"] = now.into();
                        e["result"] = if ok { "Success" } else { "Error" }.into();
                    }
                }
            }
        });
        if let Err(e) = result {
            tracing::warn!(server = uuid, error = %e, "cannot finish an instance action");
        }
    }

    fn apply(&self, host: &str, o: &ObservedInstance) -> StoreResult<()> {
        let uuid = o.id.to_string();
        let Some(row) = self.servers.get_instance(&uuid)? else {
            if o.orphan {
                tracing::warn!(host, server = %uuid, "a VM on the host belongs to no server");
            }
            return Ok(());
        };
        if row.host.as_deref() != Some(host) {
            return Ok(());
        }
        if o.task == TaskOutcome::Deleted {
            if row.deleted_at.is_none() || row.desired.is_some() {
                self.finish_delete(&uuid)?;
            }
            return Ok(());
        }
        let observed = serde_json::to_value(o)?;
        let mut outcome = None;
        self.servers.modify_instance(&uuid, &mut |i| {
            i.observed = Some(observed.clone());
            let mut d = doc(i).map_err(to_store)?;
            outcome = translate(i, &mut d, o);
            set_doc(i, &d).map_err(to_store)
        })?;
        for (request_id, ok) in outcome.into_iter().flatten() {
            self.finish_action(&uuid, &request_id, ok);
        }
        self.settle_volumes(&uuid, o)
    }

    async fn settle_snapshot(&self, o: &ObservedInstance) -> StoreResult<()> {
        let uuid = o.id.to_string();
        let Some(row) = self.servers.get_instance(&uuid)? else {
            return Ok(());
        };
        let d = doc(&row).map_err(to_store)?;
        let Some(pending) = d.pending_snapshot.clone() else {
            return Ok(());
        };
        if o.last_snapshot.as_deref() != Some(pending.request_id.as_str()) {
            return Ok(());
        }
        let result = match &o.snapshot_error {
            Some(e) => Err(e.clone()),
            None => self.snapshots.import(&pending.image_id).await,
        };
        if let Err(e) = &result {
            tracing::warn!(server = %uuid, image = %pending.image_id, error = %e, "snapshot failed");
            self.snapshots.discard(&pending.image_id).await;
        } else {
            tracing::info!(server = %uuid, image = %pending.image_id, "snapshot imported");
            if let Some(b) = &pending.backup {
                match self
                    .snapshots
                    .rotate_backups(&uuid, &b.backup_type, b.rotation)
                    .await
                {
                    Ok(gone) => tracing::info!(server = %uuid, deleted = ?gone, "backups rotated"),
                    Err(e) => tracing::error!(server = %uuid, error = %e, "backup rotation failed"),
                }
            }
        }
        self.servers.modify_instance(&uuid, &mut |i| {
            let mut d = doc(i).map_err(to_store)?;
            if d.pending_snapshot.as_ref() == Some(&pending) {
                d.pending_snapshot = None;
                if matches!(
                    i.task_state.as_deref(),
                    Some(task::IMAGE_SNAPSHOT | task::IMAGE_BACKUP)
                ) {
                    i.task_state = None;
                }
            }
            set_doc(i, &d).map_err(to_store)
        })?;
        self.finish_action(&uuid, &pending.request_id, result.is_ok());
        Ok(())
    }
}

fn quota_store(e: ferrostack_quota::QuotaError) -> StoreError {
    match e {
        ferrostack_quota::QuotaError::Store(s) => s,
        other => StoreError::Invalid(other.to_string()),
    }
}

/// The quota and placement consumer of a resize's extra resources.
pub fn resize_consumer(uuid: &str) -> String {
    format!("{uuid}/resize")
}

fn power_code(p: Option<PowerState>) -> i64 {
    match p {
        None => power::NOSTATE,
        Some(PowerState::Running) => power::RUNNING,
        Some(PowerState::Paused) => power::PAUSED,
        Some(PowerState::Suspended) => power::SUSPENDED,
        Some(PowerState::Shutoff) => power::SHUTDOWN,
        Some(PowerState::Crashed) => power::CRASHED,
    }
}

/// Apply one report to a server row and its document. Returns the
/// request ids of the pending tasks that finished and whether they
/// succeeded, so the caller can close their instance actions.
pub fn translate(
    i: &mut Instance,
    d: &mut ServerDoc,
    o: &ObservedInstance,
) -> Option<Vec<(String, bool)>> {
    i.power_state = power_code(o.power_state);
    if i.deleted_at.is_some() || i.task_state.as_deref() == Some(task::DELETING) {
        return None;
    }
    if (o.observed_generation as i64) < i.generation {
        return None;
    }
    // A snapshot's task ends when its image is imported, not here.
    let snapshot_running = d.pending_snapshot.is_some();
    let now = now_micros();
    let finished: Vec<String> = (d.pending.take().into_iter())
        .chain(d.pending_nics.drain(..))
        .map(|p| p.request_id)
        .collect();
    let finished = (!finished.is_empty()).then_some(finished);
    if let TaskOutcome::Failed { operation } = o.task {
        let message = o
            .fault
            .as_ref()
            .map(|f| f.message.clone())
            .unwrap_or_else(|| format!("{operation:?} failed"));
        d.fault = Some(FaultDoc {
            code: 500,
            message,
            details: None,
            created: now,
        });
        i.vm_state = vm::ERROR.into();
        if !snapshot_running {
            i.task_state = None;
        }
        return finished.map(|r| r.into_iter().map(|r| (r, false)).collect());
    }
    if !matches!(o.task, TaskOutcome::Idle) {
        return None;
    }
    let was_building = i.vm_state == vm::BUILDING;
    i.vm_state = match o.power_state {
        Some(PowerState::Running) if d.old_flavor.is_some() && o.resize_backup => vm::RESIZED,
        Some(PowerState::Shutoff) if d.old_flavor.is_some() && o.resize_backup => vm::RESIZED,
        Some(PowerState::Running) => vm::ACTIVE,
        Some(PowerState::Shutoff) => vm::STOPPED,
        Some(PowerState::Paused) => vm::PAUSED,
        Some(PowerState::Suspended) => vm::SUSPENDED,
        Some(PowerState::Crashed) | None => {
            d.fault = Some(FaultDoc {
                code: 500,
                message: if o.power_state.is_none() {
                    "The VM is not on its host any more.".into()
                } else {
                    "The guest crashed.".into()
                },
                details: None,
                created: now,
            });
            vm::ERROR
        }
    }
    .into();
    if i.vm_state != vm::ERROR {
        d.fault = None;
    }
    if i.vm_state == vm::ACTIVE && (was_building || d.launched_at.is_none()) {
        d.launched_at = Some(now);
    }
    if !snapshot_running {
        i.task_state = None;
    }
    let ok = i.vm_state != vm::ERROR;
    finished.map(|r| r.into_iter().map(|r| (r, ok)).collect())
}

impl DesiredStateSource for HostLink {
    fn assigned<'a>(&'a self, host: &'a str) -> StateFuture<'a, HostDesired> {
        Box::pin(async move {
            let (revision, rows) = self.servers.assigned_to_host(host).map_err(unavailable)?;
            let mut instances = Vec::with_capacity(rows.len());
            for row in rows {
                let Some(value) = row.desired else { continue };
                match serde_json::from_value::<DesiredInstance>(value) {
                    Ok(mut d) => {
                        d.generation = row.generation.max(0) as u64;
                        instances.push(d);
                    }
                    Err(e) => {
                        tracing::error!(server = %row.uuid, error = %e, "unreadable desired state")
                    }
                }
            }
            let (network, block_devices) = match &self.sections {
                Some(objects) => (
                    objects.network(host).map_err(unavailable)?,
                    objects.block_devices(host).map_err(unavailable)?,
                ),
                None => Default::default(),
            };
            Ok(HostDesired {
                revision,
                instances,
                network,
                block_devices,
            })
        })
    }

    fn watch<'a>(
        &'a self,
        host: &'a str,
        since_revision: u64,
        timeout: Duration,
    ) -> StateFuture<'a, u64> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            let changes = self.servers.revision_changes();
            loop {
                let notified = self.changed.notified();
                // Read before the revision, so a change after the read
                // moves it past `seen`.
                let seen = changes.as_ref().map(|g| g.get(Dataset::HostRevisions));
                let now = self.servers.host_revision(host).map_err(unavailable)?;
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if now != since_revision || left.is_zero() {
                    return Ok(now);
                }
                // A kick or any committed revision change (this
                // controller's, or another's heard through the store)
                // wakes at once; the poll is a backstop for a store that
                // cannot tell, or a lost notification.
                let poll = if changes.is_some() {
                    Duration::from_secs(5)
                } else {
                    Duration::from_millis(500)
                };
                let wait = poll.min(left);
                match (&changes, seen) {
                    (Some(g), Some(seen)) => {
                        tokio::select! {
                            _ = g.wait_past(Dataset::HostRevisions, seen, wait) => {}
                            _ = notified => {}
                        }
                    }
                    _ => {
                        let _ = tokio::time::timeout(wait, notified).await;
                    }
                }
            }
        })
    }
}

impl MetadataSource for HostLink {
    fn metadata<'a>(
        &'a self,
        host: &'a str,
        instance: &'a str,
        path: &'a str,
    ) -> StateFuture<'a, Option<MetadataAnswer>> {
        Box::pin(async move {
            let answer = HostLink::metadata(self, host, instance, path).map_err(unavailable)?;
            Ok(answer.map(|a| MetadataAnswer {
                content_type: a.content_type.to_string(),
                body: a.body,
            }))
        })
    }
}

impl ObservedStateSink for HostLink {
    fn report<'a>(&'a self, host: &'a str, observed: Vec<ObservedInstance>) -> StateFuture<'a, ()> {
        Box::pin(async move {
            for o in &observed {
                self.settle_snapshot(o).await.map_err(unavailable)?;
                self.apply(host, o).map_err(unavailable)?;
            }
            Ok(())
        })
    }

    fn last_reported<'a>(&'a self, host: &'a str) -> StateFuture<'a, Vec<ObservedInstance>> {
        Box::pin(async move {
            let rows = self
                .servers
                .list_instances(&InstanceFilter {
                    host: Some(host.to_string()),
                    ..Default::default()
                })
                .map_err(unavailable)?;
            let mut out = Vec::new();
            for row in rows {
                let Some(value) = row.observed else { continue };
                match serde_json::from_value::<ObservedInstance>(value) {
                    Ok(o) => out.push(o),
                    Err(e) => {
                        tracing::warn!(server = %row.uuid, error = %e, "unreadable observed state")
                    }
                }
            }
            Ok(out)
        })
    }
    // Without a network service no object of another kind is written
    // into a document, so a conforming agent reports none; one that does
    // is told so.
    fn report_objects<'a>(
        &'a self,
        host: &'a str,
        observed: Vec<ObservedObject>,
    ) -> StateFuture<'a, ()> {
        Box::pin(async move {
            match &self.sections {
                Some(objects) => objects.report(host, &observed).map_err(unavailable),
                None => ferrostack_host_contract::refuse_objects(&observed),
            }
        })
    }

    fn last_reported_objects<'a>(&'a self, host: &'a str) -> StateFuture<'a, Vec<ObservedObject>> {
        Box::pin(async move {
            match &self.sections {
                Some(objects) => objects.last_reported(host).map_err(unavailable),
                None => Ok(Vec::new()),
            }
        })
    }
}

/// Quota a resize takes beyond the old flavor (positive deltas only).
pub fn resize_delta(
    old: &crate::servers::FlavorSnapshot,
    new: &crate::servers::FlavorSnapshot,
) -> std::collections::BTreeMap<String, i64> {
    let (o, n) = (quota_of(old), quota_of(new));
    n.into_iter()
        .filter(|(k, _)| k != "instances")
        .filter_map(|(k, v)| {
            let delta = v - o.get(&k).copied().unwrap_or(0);
            (delta > 0).then_some((k, delta))
        })
        .collect()
}

/// A compute service's capabilities as the hypervisor API shows them,
/// with where the host is reached: `host_ip` (the console URL's address,
/// loopback for the in-process host), `tunnel_ip` when it has one, and a
/// remote agent's console endpoint.
fn service_capabilities(
    caps: &Capabilities,
    agent: Option<&crate::hostapi::AgentEndpoint>,
    tunnel_ip: Option<&str>,
) -> serde_json::Value {
    let host_ip = agent.and_then(|a| url_host(&a.url)).unwrap_or("127.0.0.1");
    let mut capabilities = serde_json::json!({
        "hypervisor_type": caps.hypervisor_type,
        "hypervisor_version": 8002002,
        "accelerator": caps.accelerator.as_str(),
        "vcpus": caps.vcpus,
        "memory_mib": caps.memory_mib,
        "local_disk_gib": caps.local_disk_gib,
        "cpu_arch": caps.cpu_arch,
        "host_ip": host_ip,
    });
    if let Some(a) = agent {
        capabilities["agent_url"] = a.url.as_str().into();
        capabilities["agent_cert_sha256"] = a.cert.to_string().into();
    }
    if let Some(ip) = tunnel_ip {
        capabilities["tunnel_ip"] = ip.into();
    }
    if let Some(booted) = caps.booted_at {
        capabilities["booted_at"] = booted.into();
    }
    if let Some(load) = &caps.load {
        capabilities["users"] = load.users.into();
        capabilities["load_average"] = load.load_average.as_str().into();
    }
    capabilities
}

#[cfg(test)]
mod capability_tests {
    use super::*;

    fn caps() -> Capabilities {
        Capabilities {
            hypervisor_type: "QEMU".into(),
            accelerator: ferrostack_host_contract::Accelerator::Tcg,
            vcpus: 2,
            memory_mib: 2048,
            local_disk_gib: 10,
            cpu_arch: "x86_64".into(),
            booted_at: None,
            load: None,
        }
    }

    #[test]
    fn a_hosts_tunnel_address_is_kept_beside_its_console_address() {
        let agent = crate::hostapi::AgentEndpoint {
            url: "https://192.168.77.2:8780".into(),
            cert: ferrostack_host_contract::tls::Fingerprint::of(b"c"),
        };
        let remote = service_capabilities(&caps(), Some(&agent), Some("10.9.0.2"));
        assert_eq!(remote["host_ip"], "192.168.77.2");
        assert_eq!(remote["tunnel_ip"], "10.9.0.2");
        assert_eq!(remote["agent_url"], "https://192.168.77.2:8780");
        // The in-process host: loopback for its console, the tunnel given.
        let local = service_capabilities(&caps(), None, Some("192.168.77.1"));
        assert_eq!(local["host_ip"], "127.0.0.1");
        assert_eq!(local["tunnel_ip"], "192.168.77.1");
        assert!(service_capabilities(&caps(), None, None)
            .get("tunnel_ip")
            .is_none());
    }

    #[test]
    fn a_reported_boot_time_is_kept_and_none_leaves_no_key() {
        assert!(service_capabilities(&caps(), None, None)
            .get("booted_at")
            .is_none());
        let booted = Capabilities {
            booted_at: Some(1_700_000_000_000_000),
            ..caps()
        };
        let kept = service_capabilities(&booted, None, None);
        assert_eq!(kept["booted_at"], 1_700_000_000_000_000_i64);
    }
}
