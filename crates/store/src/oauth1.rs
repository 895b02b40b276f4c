//! Keystone's OS-OAUTH1 consumers (`/v3/OS-OAUTH1/consumers`): records
//! and the [`OAuth1Store`] trait.
//!
//! A consumer is an application registered to ask users for delegated
//! access. Its secret signs the OAuth requests that follow, so it must be
//! readable by the server later (a hash would not do): the store keeps it
//! sealed with the credential keys, as credential blobs are. The request
//! and access token flow is not served yet, so nothing derives from these
//! rows: the table is uncached.

use crate::identity::Extra;
use crate::StoreResult;

/// One registered consumer.
#[derive(Clone, Debug, PartialEq)]
pub struct Consumer {
    /// Id (32 hex).
    pub id: String,
    /// What the operator says it is.
    pub description: Option<String>,
    /// The secret, sealed (never stored or logged in the clear).
    pub sealed_secret: String,
    /// Extra attributes given at creation or update.
    pub extra: Extra,
}

/// Consumer records.
pub trait OAuth1Store: Send + Sync {
    /// Store a new consumer.
    fn create_consumer(&self, c: &Consumer) -> StoreResult<()>;
    /// A consumer by id.
    fn get_consumer(&self, id: &str) -> StoreResult<Consumer>;
    /// Every consumer, by id.
    fn list_consumers(&self) -> StoreResult<Vec<Consumer>>;
    /// Replace a consumer's description and extra attributes.
    fn update_consumer(&self, c: &Consumer) -> StoreResult<()>;
    /// Delete a consumer.
    fn delete_consumer(&self, id: &str) -> StoreResult<()>;
}
