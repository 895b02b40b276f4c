//! Keystone's policies API (`/v3/policies`): records and the
//! [`PolicyStore`] trait.
//!
//! Keystone stores these blobs for other services to fetch and enforces
//! nothing from them (its own rules come from its policy files); ferrostack
//! does the same. Nothing derives from them, so the table is uncached.

use crate::identity::Extra;
use crate::StoreResult;

/// One stored policy document.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyDoc {
    /// Id (32 hex).
    pub id: String,
    /// The document, opaque to Keystone.
    pub blob: String,
    /// Its media type, e.g. `application/json`.
    pub kind: String,
    /// Extra attributes given at creation or update.
    pub extra: Extra,
}

/// Policy records.
pub trait PolicyStore: Send + Sync {
    /// Store a new policy.
    fn create_policy(&self, p: &PolicyDoc) -> StoreResult<()>;
    /// A policy by id.
    fn get_policy(&self, id: &str) -> StoreResult<PolicyDoc>;
    /// Every policy, optionally of one type.
    fn list_policies(&self, kind: Option<&str>) -> StoreResult<Vec<PolicyDoc>>;
    /// Replace a policy's fields.
    fn update_policy(&self, p: &PolicyDoc) -> StoreResult<()>;
    /// Delete a policy.
    fn delete_policy(&self, id: &str) -> StoreResult<()>;
}
