//! ferrostack's persistent state.
//!
//! Services never write SQL. They hold an `Arc<dyn IdentityStore>` or
//! `Arc<dyn QuotaStore>` (traits in [`identity`], [`quota`], [`compute`],
//! [`image`], [`operation`], [`router`], [`security_group`] and [`volume`])
//! whose methods speak in records, and [`sqlite::SqliteStore`] implements
//! them. Its SQL is written once against the [`sql`] layer, which runs it on
//! SQLite (the embedded default) or PostgreSQL (a [`Location`] URL, shared
//! by several controllers).
//!
//! SQLite is opened in WAL mode with `synchronous=FULL` (a committed write
//! survives power loss), a busy timeout, and foreign keys on. One connection
//! writes (SQLite allows one writer anyway; owning that fact in a mutex makes
//! every write transaction `BEGIN IMMEDIATE` and race-free, which the quota
//! engine relies on), and a small pool of connections read concurrently.
//!
//! Caches of derived data elsewhere are keyed on [`generations`]: one
//! counter per kind of derived data, moved only by writes to the tables it
//! derives from.
//!
//! Rejected: an async driver (sqlx). Queries here take microseconds; the
//! async machinery would cost more than it saves and lengthen builds.

pub mod access_rule;
pub mod aggregate;
pub mod compute;
pub mod controller;
pub mod copy;
pub mod credential;
pub mod db;
pub mod domain_config;
pub mod endpoint_filter;
pub mod floating_ip;
pub mod generations;
pub mod host_objects;
pub mod host_plan;
pub mod identity;
pub mod image;
pub mod location;
pub mod metadefs;
pub mod migrations;
pub mod network;
pub mod oauth1;
pub mod operation;
pub mod placement;
pub mod policies;
pub mod quota;
pub mod router;
pub mod security_group;
pub mod server;
pub mod sql;
pub mod sqlite;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod token_key;
pub mod trust;
pub mod unified_limit;
pub mod volume;
pub mod volume_exports;
pub mod volume_extras;

pub use db::Db;
pub use generations::Dataset;
pub use location::Location;
pub use sqlite::SqliteStore;

/// Errors a store operation can return.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record asked for does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What kind of record (e.g. "project").
        kind: &'static str,
        /// The id or name looked up.
        id: String,
    },
    /// A uniqueness rule would be broken (e.g. a duplicate name).
    #[error("{0}")]
    Conflict(String),
    /// A rule of the data model would be broken (e.g. deleting a project with children).
    #[error("{0}")]
    Invalid(String),
    /// The caller's own closure refused the change inside a store
    /// transaction (nothing was written); the caller's error travels
    /// unchanged, typed, and the caller takes it back with a downcast.
    #[error("the change was refused")]
    Refused(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database itself failed.
    #[error("database error")]
    Database(#[from] sql::Error),
    /// A stored JSON column could not be read back.
    #[error("stored JSON is corrupt")]
    Json(#[from] serde_json::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.into())
    }
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Shorthand for a not-found error.
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        StoreError::NotFound {
            kind,
            id: id.into(),
        }
    }
}
