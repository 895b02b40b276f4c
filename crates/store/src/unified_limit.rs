//! Keystone's unified limits: registered limits (a service's default for a
//! resource, optionally per region) and limits (a project's or domain's
//! override of one), with the [`UnifiedLimitStore`] trait.
//!
//! A limit points at its registered limit, so it cannot exist without one,
//! and a registered limit with limits cannot change what it registers or
//! go away: both are checked in the write transaction that would break
//! them. Nothing derives from these tables, so they are uncached.

use crate::StoreResult;

/// A service's default limit of a resource.
#[derive(Clone, Debug, PartialEq)]
pub struct RegisteredLimit {
    /// Id (32 hex).
    pub id: String,
    /// The service the resource belongs to.
    pub service_id: String,
    /// The region, or `None` for every region.
    pub region_id: Option<String>,
    /// The resource (`cores`, `image_count_total`, ...).
    pub resource_name: String,
    /// The default.
    pub default_limit: i64,
    /// Free text.
    pub description: Option<String>,
}

/// A project's or a domain's limit of a registered resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    /// Id (32 hex).
    pub id: String,
    /// Service, region and resource of its registered limit.
    pub service_id: String,
    /// See `service_id`.
    pub region_id: Option<String>,
    /// See `service_id`.
    pub resource_name: String,
    /// The project limited (or `None` for a domain's limit).
    pub project_id: Option<String>,
    /// The domain limited (or `None` for a project's limit).
    pub domain_id: Option<String>,
    /// The limit.
    pub resource_limit: i64,
    /// Free text.
    pub description: Option<String>,
}

/// What to list; `None` fields match anything.
#[derive(Clone, Debug, Default)]
pub struct LimitFilter {
    /// Only this service.
    pub service_id: Option<String>,
    /// Only this region.
    pub region_id: Option<String>,
    /// Only this resource.
    pub resource_name: Option<String>,
    /// Only limits of this project.
    pub project_id: Option<String>,
    /// Only limits of this domain.
    pub domain_id: Option<String>,
}

/// Unified limit records.
pub trait UnifiedLimitStore: Send + Sync {
    /// Store registered limits, all or none; `Conflict` when one exists
    /// already for its service, region and resource.
    fn create_registered_limits(&self, r: &[RegisteredLimit]) -> StoreResult<()>;
    /// A registered limit by id.
    fn get_registered_limit(&self, id: &str) -> StoreResult<RegisteredLimit>;
    /// Registered limits matching the filter (service, region, resource).
    fn list_registered_limits(&self, f: &LimitFilter) -> StoreResult<Vec<RegisteredLimit>>;
    /// Replace a registered limit's fields; `Invalid` when limits refer to
    /// it and its service, region or resource would change; `Conflict`
    /// on a duplicate.
    fn update_registered_limit(&self, r: &RegisteredLimit) -> StoreResult<()>;
    /// Delete a registered limit; `Invalid` when limits refer to it.
    fn delete_registered_limit(&self, id: &str) -> StoreResult<()>;
    /// Store limits, all or none: each needs the registered limit of its
    /// service, region and resource (`NotFound` of kind
    /// [`NO_REGISTERED_LIMIT`] otherwise); `Conflict` on a duplicate.
    fn create_limits(&self, l: &[Limit]) -> StoreResult<()>;
    /// A limit by id.
    fn get_limit(&self, id: &str) -> StoreResult<Limit>;
    /// Limits matching the filter.
    fn list_limits(&self, f: &LimitFilter) -> StoreResult<Vec<Limit>>;
    /// Change a limit's value and description.
    fn update_limit(&self, l: &Limit) -> StoreResult<()>;
    /// Delete a limit.
    fn delete_limit(&self, id: &str) -> StoreResult<()>;
}

/// The `kind` of the `NotFound` for a limit without a registered limit.
pub const NO_REGISTERED_LIMIT: &str = "registered limit of the limit";
