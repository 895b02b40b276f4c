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

/// Another handle on the database `keep` holds, as a second controller
/// would open it (its own connections, its own incarnation).
#[cfg(test)]
pub(crate) fn reopen(keep: &Keep) -> crate::SqliteStore {
    match keep {
        Keep::Dir(dir) => crate::SqliteStore::open(&dir.path().join("db")),
        Keep::Postgres(db) => {
            crate::SqliteStore::open_location(&crate::Location::Postgres(db.url()))
        }
    }
    .expect("reopening the test store")
}

/// Runs every store test (the modules `sqlite::` and `placement::`, which
/// open their stores with [`store`]) again on PostgreSQL: this test binary
/// started anew with `FERROSTACK_TEST_DATABASE=postgres`. One test rather
/// than a `_postgres` twin of each: a test added to any store module runs
/// on both databases without anyone remembering to ask.
#[cfg(test)]
#[test]
fn every_store_test_passes_on_postgresql_too() {
    if std::env::var_os("FERROSTACK_TEST_DATABASE").is_some() {
        return; // already the PostgreSQL run (or one asked for by hand)
    }
    // Skips loudly, or fails under CI, when PostgreSQL is missing.
    let Some(_probe) = postgres::database() else {
        return;
    };
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new(exe)
        .args(["sqlite::", "placement::", "--test-threads=2"])
        .env("FERROSTACK_TEST_DATABASE", "postgres")
        .output()
        .expect("running the store tests on PostgreSQL");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the store tests failed on PostgreSQL:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout
        .lines()
        .rfind(|l| l.starts_with("test result:"))
        .unwrap_or_default();
    eprintln!("store tests on PostgreSQL: {summary}");
    assert!(
        !summary.contains(" 0 passed"),
        "no store test ran: {stdout}"
    );
}
