//! Server records (Nova instances), the per-host revision the host agent
//! watches, instance actions, server groups and compute services, and the
//! [`ServerStore`] trait the compute service and the host link use.
//!
//! An instance row has the columns the store must query or guard
//! (project, host, states, timestamps) and three JSON documents the store
//! does not interpret: `doc` (everything the API shows beyond the
//! columns), `desired` (what the host agent should make of the instance)
//! and `observed` (what the agent last reported). The compute service owns
//! their shapes; keeping them opaque lets a new server field ship without
//! a migration.
//!
//! Every change goes through [`ServerStore::modify_instance`]: a read,
//! the caller's closure, and a write inside one serialized transaction. So
//! a state check ("only a stopped server can be started") and the change
//! it guards are atomic, and two requests racing on one server see each
//! other. When a change touches `desired`, `generation` or `host`, the
//! revision of every host involved is bumped in the same transaction: an
//! agent watching its host's revision can never miss a change.

use crate::StoreResult;
use serde_json::Value;

/// A server as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    /// Creation order (Nova's `id`), assigned by the store.
    pub seq: i64,
    /// The server id.
    pub uuid: String,
    /// Owning project.
    pub project_id: String,
    /// Creating user.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// The compute host, once scheduled.
    pub host: Option<String>,
    /// Nova's `vm_state` (`building`, `active`, `stopped`, `error`, ...).
    pub vm_state: String,
    /// Nova's `task_state`, while a task runs.
    pub task_state: Option<String>,
    /// Nova's power state code (0 NOSTATE, 1 RUNNING, 3 PAUSED, 4 SHUTDOWN,
    /// 6 CRASHED, 7 SUSPENDED).
    pub power_state: i64,
    /// What the API shows beyond the columns (owned by the compute service).
    pub doc: Value,
    /// What the host agent should do with the instance (owned by the host link).
    pub desired: Option<Value>,
    /// Bumped by every change of `desired`.
    pub generation: i64,
    /// What the host agent last reported.
    pub observed: Option<Value>,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last change, µs since the epoch.
    pub updated_at: i64,
    /// Deletion time once deleted (the row is kept, as Nova keeps it).
    pub deleted_at: Option<i64>,
}

/// Which instances to list.
#[derive(Clone, Debug, Default)]
pub struct InstanceFilter {
    /// Only this project's.
    pub project_id: Option<String>,
    /// Only those on this host.
    pub host: Option<String>,
    /// Deleted ones too.
    pub include_deleted: bool,
}

/// One instance action (`os-instance-actions`).
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceAction {
    /// The server.
    pub instance_uuid: String,
    /// The API request that started it.
    pub request_id: String,
    /// `create`, `stop`, `reboot`, ...
    pub action: String,
    /// The caller's project.
    pub project_id: String,
    /// The caller.
    pub user_id: String,
    /// `Error` when it failed.
    pub message: Option<String>,
    /// µs since the epoch.
    pub start_time: i64,
    /// µs since the epoch, once finished.
    pub finish_time: Option<i64>,
    /// The action's events (a JSON list owned by the compute service).
    pub events: Value,
}

/// A server group.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerGroup {
    /// The group id.
    pub uuid: String,
    /// Display name.
    pub name: String,
    /// Owning project.
    pub project_id: String,
    /// Creating user.
    pub user_id: String,
    /// `affinity`, `anti-affinity`, `soft-affinity` or `soft-anti-affinity`.
    pub policy: String,
    /// Policy rules (`{"max_server_per_host": 3}`).
    pub rules: Value,
    /// Member server ids, in the order they joined.
    pub members: Vec<String>,
    /// µs since the epoch.
    pub created_at: i64,
}

/// A compute service record (`os-services`, `os-hypervisors`).
#[derive(Clone, Debug, PartialEq)]
pub struct ComputeService {
    /// Numeric id (microversions before 2.53).
    pub id: i64,
    /// UUID (2.53 and later).
    pub uuid: String,
    /// Host name.
    pub host: String,
    /// `nova-compute`, `nova-scheduler`, `nova-conductor`.
    pub binary: String,
    /// Availability zone.
    pub zone: String,
    /// Disabled by an operator.
    pub disabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Forced down by an operator (2.11).
    pub forced_down: bool,
    /// What the host reported of itself (a JSON object owned by the compute service).
    pub capabilities: Value,
    /// The last heartbeat, µs since the epoch.
    pub heartbeat_at: i64,
    /// µs since the epoch.
    pub created_at: i64,
    /// µs since the epoch.
    pub updated_at: i64,
}

/// The closure [`ServerStore::modify_instance`] applies.
pub type InstanceChange<'a> = &'a mut dyn FnMut(&mut Instance) -> StoreResult<()>;

/// Stored server state.
pub trait ServerStore: Send + Sync {
    /// Insert an instance (its `seq` is ignored and assigned). A taken
    /// uuid is a [`crate::StoreError::Conflict`]. Bumps the host revision
    /// if the instance has a host and a desired state.
    fn create_instance(&self, instance: &Instance) -> StoreResult<Instance>;
    /// One instance, deleted or not.
    fn get_instance(&self, uuid: &str) -> StoreResult<Option<Instance>>;
    /// Instances matching `filter`, newest first.
    fn list_instances(&self, filter: &InstanceFilter) -> StoreResult<Vec<Instance>>;
    /// Read, change with `change`, and write back, atomically. An error
    /// from `change` writes nothing and is returned. `updated_at` is set
    /// to now; host revisions are bumped when `desired`, `generation` or
    /// `host` changed. [`crate::StoreError::NotFound`] if absent.
    fn modify_instance(&self, uuid: &str, change: InstanceChange<'_>) -> StoreResult<Instance>;
    /// Remove the row for good (an instance that never got anywhere).
    fn purge_instance(&self, uuid: &str) -> StoreResult<bool>;
    /// The instances assigned to `host` with a desired state, and the
    /// host's revision, read in one snapshot.
    fn assigned_to_host(&self, host: &str) -> StoreResult<(u64, Vec<Instance>)>;
    /// The host's revision (0 before any change).
    fn host_revision(&self, host: &str) -> StoreResult<u64>;
    /// What moves after every committed change of any host's revision
    /// ([`crate::Dataset::HostRevisions`]), made by this controller or, on
    /// PostgreSQL, by another: a long poll waits on it instead of polling.
    /// `None` for a store that cannot tell, whose watchers poll.
    fn revision_changes(&self) -> Option<std::sync::Arc<crate::generations::Generations>> {
        None
    }

    /// Record the start of an action; a repeated (instance, request id) is
    /// ignored.
    fn add_action(&self, action: &InstanceAction) -> StoreResult<()>;
    /// Change an action with `change` atomically; `false` if absent.
    fn modify_action(
        &self,
        instance_uuid: &str,
        request_id: &str,
        change: &mut dyn FnMut(&mut InstanceAction),
    ) -> StoreResult<bool>;
    /// An instance's actions, newest first.
    fn list_actions(&self, instance_uuid: &str) -> StoreResult<Vec<InstanceAction>>;

    /// Insert a server group; a taken uuid is a conflict.
    fn create_group(&self, group: &ServerGroup) -> StoreResult<()>;
    /// One server group.
    fn get_group(&self, uuid: &str) -> StoreResult<Option<ServerGroup>>;
    /// Server groups (of one project, or all), oldest first.
    fn list_groups(&self, project_id: Option<&str>) -> StoreResult<Vec<ServerGroup>>;
    /// Change a group with `change` atomically (membership); `NotFound` if absent.
    fn modify_group(
        &self,
        uuid: &str,
        change: &mut dyn FnMut(&mut ServerGroup) -> StoreResult<()>,
    ) -> StoreResult<ServerGroup>;
    /// Delete a group; `false` if absent.
    fn delete_group(&self, uuid: &str) -> StoreResult<bool>;

    /// Create or refresh the service `(host, binary)`: a new one gets
    /// `service`'s fields; an existing one keeps its id, uuid and the
    /// operator's disabled/forced-down settings and takes the new zone,
    /// capabilities and heartbeat.
    fn upsert_service(&self, service: &ComputeService) -> StoreResult<ComputeService>;
    /// Every service, by id.
    fn list_services(&self) -> StoreResult<Vec<ComputeService>>;
    /// Change a service (by uuid) atomically; `NotFound` if absent.
    fn modify_service(
        &self,
        uuid: &str,
        change: &mut dyn FnMut(&mut ComputeService) -> StoreResult<()>,
    ) -> StoreResult<ComputeService>;
    /// Delete a service by uuid; `false` if absent.
    fn delete_service(&self, uuid: &str) -> StoreResult<bool>;
}
