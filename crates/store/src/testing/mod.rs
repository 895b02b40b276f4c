//! Test support for the store's tests and other crates' (feature
//! `test-support`): for now a private PostgreSQL ([`postgres`]).
//!
//! Here rather than in `ferrostack-testkit`: the store's own tests need it,
//! and testkit depends on the store (a dev-dependency back on testkit would
//! build the store twice, with two incompatible sets of types).

pub mod postgres;

/// What keeps a test store's database alive: its directory (SQLite) or
/// its database on the test cluster (PostgreSQL).
#[cfg(test)]
pub(crate) enum Keep {
    /// A SQLite file's directory.
    Dir(#[allow(dead_code)] tempfile::TempDir),
    /// A PostgreSQL database.
    Postgres(#[allow(dead_code)] postgres::TestDatabase),
}

/// A fresh store for one test: SQLite, or PostgreSQL when
/// `FERROSTACK_TEST_DATABASE=postgres` (CI runs the store's tests both
/// ways; without PostgreSQL installed that run is refused, not skipped).
#[cfg(test)]
pub(crate) fn store() -> (Keep, crate::SqliteStore) {
    if std::env::var("FERROSTACK_TEST_DATABASE").as_deref() == Ok("postgres") {
        let db = postgres::database()
            .expect("FERROSTACK_TEST_DATABASE=postgres, and PostgreSQL is not installed");
        let store = crate::SqliteStore::open_location(&crate::Location::Postgres(db.url()))
            .expect("opening the test PostgreSQL store");
        return (Keep::Postgres(db), store);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = crate::SqliteStore::open(&dir.path().join("db")).expect("opening the store");
    (Keep::Dir(dir), store)
}
