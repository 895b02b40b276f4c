//! Keystone trusts (OS-TRUST): records and the [`TrustStore`] trait.
//!
//! A trust lets a trustor delegate some of their roles on one project to a
//! trustee. The store keeps only the record; what a trust may do (role
//! subsets, redelegation depth, expiry) is decided by the identity service.
//! Trusts live beside the identity tables and feed the same generation
//! ([`crate::Dataset::Identity`]), so a deleted trust ends its tokens on the
//! next validation, exactly like a removed role assignment. Taking a use
//! of a trust with limited uses is such a write too (rare: Heat's and
//! Magnum's trusts are unlimited, and those write nothing at token issue).
//!
//! It is its own trait, a supertrait of
//! [`IdentityStore`](crate::identity::IdentityStore), rather than more
//! methods on that trait: the identity trait is already the largest, and a
//! separate trait keeps the trust queries in a file one can read whole.

use crate::identity::Extra;
use crate::StoreResult;

/// One trust.
#[derive(Clone, Debug, PartialEq)]
pub struct Trust {
    /// Id (32 hex).
    pub id: String,
    /// The delegating user.
    pub trustor_user_id: String,
    /// The user the roles are delegated to.
    pub trustee_user_id: String,
    /// The project the roles apply on (none: a trust without roles).
    pub project_id: Option<String>,
    /// Trust-scoped tokens name the trustor rather than the trustee.
    pub impersonation: bool,
    /// Expiry (µs since the epoch), if any.
    pub expires_at: Option<i64>,
    /// Tokens that may still be issued from it; `None` is unlimited.
    pub remaining_uses: Option<i64>,
    /// The trust this one was redelegated from.
    pub redelegated_trust_id: Option<String>,
    /// How many more times it may be redelegated (0: never).
    pub redelegation_count: i64,
    /// Delegated role ids.
    pub role_ids: Vec<String>,
    /// Extra attributes given at creation.
    pub extra: Extra,
    /// Creation time (µs).
    pub created_at: i64,
}

/// Trust records.
pub trait TrustStore: Send + Sync {
    /// Store a new trust.
    fn create_trust(&self, t: &Trust) -> StoreResult<()>;
    /// A trust by id (expired and used-up ones included).
    fn get_trust(&self, id: &str) -> StoreResult<Trust>;
    /// Trusts, optionally only those of a trustor and/or a trustee.
    fn list_trusts(&self, trustor: Option<&str>, trustee: Option<&str>) -> StoreResult<Vec<Trust>>;
    /// Delete a trust and, by cascade, the trusts redelegated from it.
    fn delete_trust(&self, id: &str) -> StoreResult<()>;
    /// Take one use of a trust with limited uses, in one write: refused
    /// with `NotFound` when none remain, so two concurrent requests cannot
    /// both take the last one.
    fn consume_trust_use(&self, id: &str) -> StoreResult<()>;
}
