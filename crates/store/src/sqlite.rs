//! The SQLite implementation of every store trait.

mod aggregate;
mod compute;
mod floating_ip;
mod host_objects;
mod identity;
mod image;
mod network;
mod operation;
mod quota;
mod router;
mod security_group;
mod server;
mod volume;
mod volume_exports;
mod volume_extras;

use crate::{Db, StoreResult};
use std::path::Path;
use std::sync::Arc;

/// SQLite-backed store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
}

impl SqliteStore {
    /// Open the database file at `path`, creating and migrating it as needed.
    pub fn open(path: &Path) -> StoreResult<Self> {
        Ok(SqliteStore {
            db: Arc::new(Db::open(path)?),
        })
    }

    /// The underlying database.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// Map a UNIQUE-constraint failure to `Conflict` with `message`; pass other errors through.
pub(crate) fn conflict_on_unique(
    err: rusqlite::Error,
    message: impl FnOnce() -> String,
) -> crate::StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            crate::StoreError::Conflict(message())
        }
        _ => crate::StoreError::Database(err),
    }
}
