//! The quota engine every ferrostack service shares.
//!
//! Nova, Cinder and Neutron each expose a quota API of their own shape, but
//! underneath they answer the same four questions: what may this project
//! have (limits), what does it hold (usage), may it take more (reserve), and
//! who may change the answers. This crate answers them once:
//!
//! - [`resources`] declares each service's resources and their built-in
//!   defaults (the numbers a fresh Nova, Cinder or Neutron ships with).
//! - [`QuotaEngine`] layers the effective limit of a resource as
//!   *project override > stored default > built-in default*, validates
//!   changes (integers from -1, never below current usage unless forced),
//!   and delegates reservations to [`QuotaStore::allocate`], whose single
//!   serialized write transaction is what makes "two creates can never both
//!   take the last unit" true.
//! - [`projects`] resolves the `{project_id}` of a quota URL, which users
//!   give as an id or, with `nova quota-update ... myproject`, as a name,
//!   through a narrow [`ProjectDirectory`] trait rather than the whole
//!   identity store.
//!
//! The HTTP shapes (microversions, error bodies, field names) stay in the
//! service crates; nothing here knows about JSON or axum.
//!
//! Rejected: a usage cache or reservation rows with expiry (Nova's old
//! design). Usage is counted from allocations inside the same transaction
//! that checks it, so there is nothing to drift or to expire.

pub mod engine;
pub mod projects;
pub mod resources;
pub mod user_quotas;

pub use engine::{QuotaDetail, QuotaEngine, QuotaError, QuotaResult, DEFAULT_CLASS, MAX_LIMIT};
pub use ferrostack_store::quota::{Overage, QuotaStore, ResourceMap};
pub use projects::{
    admin_target, caller_target, own_project, resolve, IfUnknown, ProjectDirectory, ProjectRef,
    Resolution, StoreProjects, TargetError,
};
pub use resources::{Resource, Service, COMPUTE, NETWORK, VOLUME};
