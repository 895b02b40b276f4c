//! Keystone's domain-specific configuration (`/v3/domains/{id}/config`):
//! the [`DomainConfigStore`] trait.
//!
//! A domain's configuration is a small document of groups of options
//! (`{"ldap": {"url": ...}}`); the identity service decides which groups
//! and options are allowed and which are sensitive (never shown). The
//! store keeps the whole document in one row per domain and changes it
//! inside one write transaction ([`DomainConfigStore::modify_domain_config`]),
//! so two concurrent partial updates cannot lose each other's options. The
//! row goes with its domain (foreign key). Nothing derives from it, so the
//! table is uncached.

use crate::StoreResult;
use serde_json::{Map, Value};

/// A domain's configuration: group name to options.
pub type DomainConfig = Map<String, Value>;

/// A change to a domain's configuration: given the current document (or
/// `None`), the new one (`None` deletes it). May be called more than once
/// (a write transaction may be retried); an error aborts the change.
pub type ConfigChange<'a> =
    &'a mut dyn FnMut(Option<DomainConfig>) -> StoreResult<Option<DomainConfig>>;

/// Domain configuration records.
pub trait DomainConfigStore: Send + Sync {
    /// A domain's configuration, if it has one.
    fn get_domain_config(&self, domain_id: &str) -> StoreResult<Option<DomainConfig>>;
    /// Change a domain's configuration atomically; returns the new one.
    fn modify_domain_config(
        &self,
        domain_id: &str,
        change: ConfigChange<'_>,
    ) -> StoreResult<Option<DomainConfig>>;
}
