//! Quota records and the [`QuotaStore`] trait the quota engine uses.
//!
//! Usage is counted, not tracked: each consumer (a server, a key pair, a
//! volume) holds allocations, and usage is their sum. An allocation is
//! checked and inserted in one serialized write transaction, so two
//! concurrent creates can never both take the last unit of a quota.

use crate::StoreResult;
use std::collections::BTreeMap;

/// Limits or usage by resource name. `-1` as a limit means unlimited.
pub type ResourceMap = BTreeMap<String, i64>;

/// One resource a request would take past its limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overage {
    /// Resource name (`cores`, `ram`, ...).
    pub resource: String,
    /// The limit in force.
    pub limit: i64,
    /// Usage before the request.
    pub in_use: i64,
    /// What the request asked for.
    pub requested: i64,
}

/// Stored quota state for every service.
pub trait QuotaStore: Send + Sync {
    /// Stored default overrides for a service (absent resources use the engine's built-in default).
    fn get_defaults(&self, service: &str) -> StoreResult<ResourceMap>;
    /// Set default limits for a service.
    fn set_defaults(&self, service: &str, limits: &ResourceMap) -> StoreResult<()>;
    /// Per-project limit overrides.
    fn get_limits(&self, service: &str, project_id: &str) -> StoreResult<ResourceMap>;
    /// Set per-project limits (merged into existing overrides).
    fn set_limits(&self, service: &str, project_id: &str, limits: &ResourceMap) -> StoreResult<()>;
    /// Drop a project's overrides so defaults apply again.
    fn delete_limits(&self, service: &str, project_id: &str) -> StoreResult<()>;
    /// Current usage of a project.
    fn usage(&self, service: &str, project_id: &str) -> StoreResult<ResourceMap>;
    /// Atomically check `requests` against limits and, if all fit, record
    /// them as held by `consumer_id`. `builtin_defaults` supplies limits for
    /// resources with neither a project override nor a stored default.
    /// Returns the overages (and records nothing) when any resource would exceed.
    fn allocate(
        &self,
        service: &str,
        project_id: &str,
        consumer_id: &str,
        requests: &ResourceMap,
        builtin_defaults: &ResourceMap,
    ) -> StoreResult<Result<(), Vec<Overage>>>;
    /// Release everything `consumer_id` holds in `service`.
    fn release(&self, service: &str, consumer_id: &str) -> StoreResult<()>;
}
