//! Compute records (flavors with their extra specs and access lists, key
//! pairs) and the [`ComputeStore`] trait the compute service uses.
//!
//! Flavors are few (tens, rarely hundreds), so the store hands back whole
//! lists and the service filters, sorts and pages them in memory with
//! Nova's rules; the store only guarantees uniqueness (flavor id and name,
//! key pair name per user) inside its write transactions.

use crate::StoreResult;
use std::collections::BTreeMap;

/// A flavor as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Flavor {
    /// Internal id, in creation order (Nova's `id` sort key).
    pub pk: i64,
    /// The API id (`flavorid`): any string, a UUID when generated.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// RAM in MiB.
    pub memory_mb: i64,
    /// Virtual CPUs.
    pub vcpus: i64,
    /// Root disk in GiB.
    pub root_gb: i64,
    /// Ephemeral disk in GiB.
    pub ephemeral_gb: i64,
    /// Swap in MiB (0 for none).
    pub swap: i64,
    /// Network bandwidth factor.
    pub rxtx_factor: f64,
    /// Visible to every project.
    pub is_public: bool,
    /// Disabled flavors are hidden from non-admin lists.
    pub disabled: bool,
    /// Free text (microversion 2.55 and later).
    pub description: Option<String>,
    /// Extra specs by key.
    pub extra_specs: BTreeMap<String, String>,
    /// Projects granted access to a private flavor.
    pub projects: Vec<String>,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last update time, µs since the epoch.
    pub updated_at: Option<i64>,
}

/// A key pair as stored. Key pairs belong to a user, not a project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPair {
    /// Internal id, in creation order.
    pub id: i64,
    /// Owner.
    pub user_id: String,
    /// Name, unique per user.
    pub name: String,
    /// `ssh` or `x509`.
    pub key_type: String,
    /// The public key (OpenSSH line) or certificate (PEM).
    pub public_key: String,
    /// Colon-separated hex fingerprint.
    pub fingerprint: String,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
}

/// What is unique about a flavor, for conflict reporting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlavorClash {
    /// Another flavor has this id.
    Id,
    /// Another flavor has this name.
    Name,
}

/// Stored compute state.
pub trait ComputeStore: Send + Sync {
    /// Insert a flavor (its `pk`, extra specs and projects are ignored).
    /// Returns the stored flavor, or which unique field clashes.
    fn create_flavor(&self, flavor: &Flavor) -> StoreResult<Result<Flavor, FlavorClash>>;
    /// The flavor with API id `id`.
    fn get_flavor(&self, id: &str) -> StoreResult<Option<Flavor>>;
    /// Every flavor, with extra specs and access lists, in creation order.
    fn list_flavors(&self) -> StoreResult<Vec<Flavor>>;
    /// Change a flavor's description; false when there is no such flavor.
    fn set_flavor_description(&self, id: &str, description: Option<&str>) -> StoreResult<bool>;
    /// Delete a flavor with its extra specs and access list; false when absent.
    fn delete_flavor(&self, id: &str) -> StoreResult<bool>;
    /// Add or replace extra specs; false when there is no such flavor.
    fn set_extra_specs(&self, id: &str, specs: &BTreeMap<String, String>) -> StoreResult<bool>;
    /// Remove one extra spec; false when the flavor or the key is absent.
    fn delete_extra_spec(&self, id: &str, key: &str) -> StoreResult<bool>;
    /// Grant `project_id` access; false when it already had it.
    fn add_flavor_access(&self, id: &str, project_id: &str) -> StoreResult<bool>;
    /// Revoke `project_id`'s access; false when it had none.
    fn remove_flavor_access(&self, id: &str, project_id: &str) -> StoreResult<bool>;
    /// Insert a key pair (its `id` is ignored); `None` when the user already has one so named.
    fn create_key_pair(&self, key_pair: &KeyPair) -> StoreResult<Option<KeyPair>>;
    /// A user's key pair by name.
    fn get_key_pair(&self, user_id: &str, name: &str) -> StoreResult<Option<KeyPair>>;
    /// A user's key pairs, in creation order.
    fn list_key_pairs(&self, user_id: &str) -> StoreResult<Vec<KeyPair>>;
    /// Delete a user's key pair; false when absent.
    fn delete_key_pair(&self, user_id: &str, name: &str) -> StoreResult<bool>;
}
