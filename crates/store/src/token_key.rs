//! The token and credential key repositories, kept in the database so that
//! every controller of a cloud seals and opens tokens with the same keys and
//! sees a rotation made on any of them.
//!
//! The store holds each key only *sealed*: the identity service encrypts it
//! with the controllers' master key before it reaches the store and opens it
//! after reading (see `ferrostack_identity::key_store`). A copy of the
//! database is therefore not a copy of the keys that forge tokens.
//!
//! The one write method, [`TokenKeyStore::change_token_keys`], runs the
//! caller's plan inside one write transaction over everything the table
//! holds: creating the first keys, importing an old key directory, and a
//! rotation (promote, stage, retire) are each a read-then-write that two
//! controllers may attempt at once, and the transaction (serializable on
//! PostgreSQL, `BEGIN IMMEDIATE` on SQLite) makes one of them see the
//! other's result. The table feeds its own generation
//! ([`crate::Dataset::TokenKeys`]), so every controller notices a change.

use crate::StoreResult;

/// One stored key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedKey {
    /// Which repository: `token` or `credential`.
    pub repository: String,
    /// The key number (0 staged, highest primary).
    pub number: u32,
    /// The key sealed with the master key; never the key itself.
    pub sealed: String,
}

/// A plan for the stored keys: sees every stored key and returns the new
/// full set, or `None` to change nothing. It may run more than once (a
/// transaction that lost a race is retried), so it must have no effects of
/// its own; an error it returns (wrapped in
/// [`StoreError::Refused`](crate::StoreError::Refused)) aborts the change.
pub type KeyPlan<'a> = dyn FnMut(&[SealedKey]) -> StoreResult<Option<Vec<SealedKey>>> + 'a;

/// The sealed key repositories.
pub trait TokenKeyStore: Send + Sync {
    /// Every stored key, ordered by repository and number.
    fn list_token_keys(&self) -> StoreResult<Vec<SealedKey>>;
    /// Apply `plan` in one write transaction; returns the keys stored
    /// afterwards.
    fn change_token_keys(&self, plan: &mut KeyPlan<'_>) -> StoreResult<Vec<SealedKey>>;
}
