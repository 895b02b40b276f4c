//! The SQLite implementation of every store trait.

mod access_rule;
mod aggregate;
mod compute;
mod controller;
#[cfg(test)]
mod controller_tests;
mod credential;
#[cfg(test)]
mod credential_tests;
mod domain_config;
mod endpoint_filter;
mod floating_ip;
mod host_objects;
mod identity;
mod image;
mod image_task;
#[cfg(test)]
mod image_task_tests;
mod metadefs;
#[cfg(test)]
mod metadefs_tests;
mod network;
mod oauth1;
mod operation;
mod policies;
mod quota;
mod router;
mod security_group;
mod server;
mod token_key;
mod unified_limit;
mod volume;
mod volume_exports;
mod volume_extras;

use crate::{Db, StoreResult};
use std::path::Path;
use std::sync::{Arc, RwLock};

/// SQLite-backed store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
    /// The controller incarnation this handle (and its clones) writes
    /// operation records for: set by
    /// [`crate::controller::ControllerStore::register_controller`].
    incarnation: Arc<RwLock<Option<String>>>,
}

impl SqliteStore {
    /// Open the database file at `path`, creating and migrating it as needed.
    pub fn open(path: &Path) -> StoreResult<Self> {
        Ok(SqliteStore {
            db: Arc::new(Db::open(path)?),
            incarnation: Arc::default(),
        })
    }

    /// Open the database at `location` (a SQLite file or a PostgreSQL
    /// URL), creating and migrating it as needed.
    pub fn open_location(location: &crate::Location) -> StoreResult<Self> {
        Ok(SqliteStore {
            db: Arc::new(location.open()?),
            incarnation: Arc::default(),
        })
    }

    /// The underlying database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The incarnation this handle works for, once registered.
    pub fn incarnation(&self) -> Option<String> {
        self.incarnation
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_incarnation(&self, incarnation: Option<String>) {
        *self.incarnation.write().unwrap_or_else(|p| p.into_inner()) = incarnation;
    }
}

/// Map a UNIQUE-constraint failure to `Conflict` with `message`; pass other errors through.
pub(crate) fn conflict_on_unique(
    err: crate::sql::Error,
    message: impl FnOnce() -> String,
) -> crate::StoreError {
    if err.is_unique_violation() {
        crate::StoreError::Conflict(message())
    } else {
        crate::StoreError::Database(err)
    }
}
