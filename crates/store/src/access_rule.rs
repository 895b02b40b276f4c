//! Application credential access rules (`access_rules` on create,
//! `/v3/users/{id}/access_rules`): the [`AccessRuleStore`] trait.
//!
//! As in Keystone, a rule (service type, HTTP method, path pattern) belongs
//! to its user and is shared by every credential of that user naming the
//! same triple, so deleting one credential does not take a rule another
//! still uses, and a rule in use cannot be deleted. A credential and its
//! rules are written in one transaction: a credential is never left
//! without the rules that were to restrict it.

use crate::identity::ApplicationCredential;
use crate::StoreResult;

/// One access rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRule {
    /// Id (32 hex).
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Service type (`compute`, `image`, ...).
    pub service: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Path pattern: `*` matches one segment, `**` any number.
    pub path: String,
}

/// Access rule records.
pub trait AccessRuleStore: Send + Sync {
    /// Create a credential restricted to `rules`. A rule whose (user,
    /// service, method, path) already exists is reused (its stored id
    /// wins over the one given); the others are created.
    fn create_app_credential_with_rules(
        &self,
        c: &ApplicationCredential,
        rules: &[AccessRule],
    ) -> StoreResult<()>;
    /// The rules restricting a credential (empty: unrestricted by rules).
    fn app_credential_access_rules(&self, cred_id: &str) -> StoreResult<Vec<AccessRule>>;
    /// A user's rules.
    fn list_access_rules(&self, user_id: &str) -> StoreResult<Vec<AccessRule>>;
    /// Delete one of a user's rules: `NotFound` when it is not theirs,
    /// `Conflict` while a credential uses it.
    fn delete_access_rule(&self, user_id: &str, rule_id: &str) -> StoreResult<()>;
}
