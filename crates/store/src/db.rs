//! Connection handling: one writer, several readers, all in WAL mode;
//! transactions are begun, committed and rolled back here (see [`crate::sql`]).
//!
//! The writer also keeps the [generations](crate::generations) of derived
//! data. On open it gets one temporary trigger per insert, update and delete
//! of every table in [`generations::SOURCES`]; the trigger calls a function
//! of this process that notes the table's datasets in a change mask, and a
//! committed write moves the counters of the datasets in its mask. Triggers
//! rather than annotations on each write method: nothing that reaches a
//! table (a foreign-key cascade, a `DELETE` without `WHERE`, a store method
//! written later) can slip past. They are temporary, so the database file
//! carries no trace of them, and only the writer connection has them.
//! Writes to uncached tables (servers, agent reports, quota, placement)
//! run no trigger and move nothing.

use crate::generations::{self, Dataset, Generations};
use crate::migrations;
use crate::sql::{Conn, Dialect, SqliteSession};
use crate::StoreResult;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

const READERS: usize = 8;

mod postgres;

/// An open database: SQLite's one write connection and pool of readers, or
/// a pool of PostgreSQL connections ([`postgres`]).
pub struct Db {
    backend: Backend,
    /// Shared with the PostgreSQL listener thread, which moves them by
    /// other controllers' writes.
    generations: Arc<Generations>,
}

enum Backend {
    Sqlite(SqliteDb),
    Postgres(postgres::PgDb),
}

struct SqliteDb {
    writer: Mutex<Conn>,
    readers: Vec<Mutex<Conn>>,
    next_reader: AtomicUsize,
    /// Datasets changed by the write transaction in progress (set by the
    /// triggers, read and cleared under the writer lock).
    changed: Arc<AtomicU32>,
}

impl Db {
    /// Open the PostgreSQL database `url` (`postgresql://...` or
    /// `host=... dbname=...`) and run migrations.
    pub fn open_postgres(url: &str) -> StoreResult<Self> {
        let config: ::postgres::Config = url.parse()?;
        let generations = Arc::new(Generations::default());
        Ok(Db {
            backend: Backend::Postgres(postgres::PgDb::open(&config, &generations)?),
            generations,
        })
    }

    /// Open (creating if needed) the SQLite database at `path` and run
    /// migrations.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let writer = Connection::open(path)?;
        configure(&writer)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        migrations::run(&writer)?;
        let changed = Arc::new(AtomicU32::new(0));
        watch_sources(&writer, &changed)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )?;
            configure(&conn)?;
            readers.push(Mutex::new(sqlite_conn(conn)));
        }
        Ok(Db {
            backend: Backend::Sqlite(SqliteDb {
                writer: Mutex::new(sqlite_conn(writer)),
                readers,
                next_reader: AtomicUsize::new(0),
                changed,
            }),
            generations: Arc::default(),
        })
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Run `f` on a read connection. Sees every committed write.
    pub fn read<R>(&self, f: impl FnOnce(&Conn) -> StoreResult<R>) -> StoreResult<R> {
        match &self.backend {
            Backend::Sqlite(db) => db.read(f),
            Backend::Postgres(db) => db.read(f),
        }
    }

    /// Run `f` in a write transaction; commit if it returns Ok.
    ///
    /// Write transactions are serialized, so a check-then-insert inside `f`
    /// (quota, uniqueness across tables) cannot race another writer. `f`
    /// may be run more than once (a backend that detects a conflicting
    /// transaction retries it from the start), so it must not have effects
    /// outside the transaction.
    ///
    /// It waits for the writer and the disk without holding up the async
    /// runtime (see [`off_the_runtime`]).
    pub fn write<R>(&self, f: impl FnMut(&Conn) -> StoreResult<R>) -> StoreResult<R> {
        match &self.backend {
            Backend::Sqlite(db) => off_the_runtime(|| db.write_now(f, &self.generations)),
            Backend::Postgres(db) => {
                let (out, mask) = db.write(f)?;
                self.generations.bump(mask);
                Ok(out)
            }
        }
    }

    /// The generation of `dataset`: grows after every committed write that
    /// changed one of the tables it derives from ([`generations::SOURCES`]).
    /// A cache remembers the generations it was built at and is stale once
    /// one of them moved.
    pub fn generation(&self, dataset: Dataset) -> u64 {
        self.generations.get(dataset)
    }
}

impl SqliteDb {
    fn read<R>(&self, f: impl FnOnce(&Conn) -> StoreResult<R>) -> StoreResult<R> {
        // Try each reader once without waiting, then wait on the next in turn.
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            let slot = &self.readers[(start + i) % self.readers.len()];
            if let Ok(conn) = slot.try_lock() {
                return f(&conn);
            }
        }
        let slot = &self.readers[start % self.readers.len()];
        f(&lock(slot))
    }

    fn write_now<R>(
        &self,
        mut f: impl FnMut(&Conn) -> StoreResult<R>,
        generations: &Generations,
    ) -> StoreResult<R> {
        let conn = lock(&self.writer);
        // Left over from a write that failed (its changes rolled back).
        self.changed.store(0, Ordering::Relaxed);
        let tx = Transaction::begin(&conn, "BEGIN IMMEDIATE")?;
        let out = f(&conn)?;
        tx.commit()?;
        // Still under the writer lock: the next write cannot start (and clear
        // the mask) before the counters moved.
        generations.bump(self.changed.swap(0, Ordering::Relaxed));
        Ok(out)
    }
}

fn sqlite_conn(conn: Connection) -> Conn {
    Conn::new(Box::new(SqliteSession::new(conn)), Dialect::Sqlite)
}

/// A connection's lock, also after a panic in another holder: the
/// transaction guard below rolled that holder's work back.
fn lock(slot: &Mutex<Conn>) -> MutexGuard<'_, Conn> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An open transaction, rolled back when dropped uncommitted (an error
/// returned by the caller's closure, or a panic in it), so the connection
/// goes back to its pool clean.
struct Transaction<'c> {
    conn: &'c Conn,
    open: bool,
}

impl<'c> Transaction<'c> {
    fn begin(conn: &'c Conn, begin: &str) -> StoreResult<Self> {
        conn.execute_batch(begin)?;
        Ok(Transaction { conn, open: true })
    }

    fn commit(mut self) -> StoreResult<()> {
        self.open = false;
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            // A failed COMMIT can leave the transaction open (SQLite: busy).
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "rolling back a failed write transaction failed");
            }
        }
    }
}

/// Runs `f`, which blocks (on the writer lock, on SQLite, on the disk),
/// without stalling the async runtime: called on a worker thread of a
/// multi-threaded runtime, that worker's other tasks move to another
/// thread while `f` runs (`block_in_place`). With two cores the runtime
/// has two workers; without this, two requests waiting for the writer
/// stop every other request of the process, and concurrent writes got
/// slower in total than one at a time.
fn off_the_runtime<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Name of the function the generation triggers call.
const CHANGED_FN: &str = "ferrostack_generation_changed";

/// Give the writer its change-mask function and one temporary trigger per
/// (source table, insert/update/delete).
fn watch_sources(writer: &Connection, changed: &Arc<AtomicU32>) -> StoreResult<()> {
    let mask = Arc::clone(changed);
    // INNOCUOUS: safe to call from a trigger whatever `trusted_schema` says;
    // it only sets bits in this process's memory.
    writer.create_scalar_function(
        CHANGED_FN,
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_INNOCUOUS,
        move |ctx| {
            let bits: i64 = ctx.get(0)?;
            mask.fetch_or(bits as u32, Ordering::Relaxed);
            Ok(rusqlite::types::Null)
        },
    )?;
    let mut sql = String::new();
    for (_, tables) in generations::SOURCES {
        for table in *tables {
            let bits = generations::mask_of(table);
            for op in ["INSERT", "UPDATE", "DELETE"] {
                sql.push_str(&format!(
                    "CREATE TEMP TRIGGER IF NOT EXISTS generation_{table}_{name} AFTER {op} ON {table} \
                     BEGIN SELECT {CHANGED_FN}({bits}); END;\n",
                    name = op.to_lowercase(),
                ));
            }
        }
    }
    writer.execute_batch(&sql)?;
    Ok(())
}

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_in_wal_mode_and_reopens_with_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let db = Db::open(&path).unwrap();
            db.write(|tx| {
                tx.execute("INSERT INTO settings(key, value) VALUES ('k', 'v')", [])?;
                Ok(())
            })
            .unwrap();
            let mode: String = db
                .read(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
                .unwrap();
            assert_eq!(mode, "wal");
        }
        let db = Db::open(&path).unwrap();
        let v: String = db
            .read(
                |c| Ok(c.query_row("SELECT value FROM settings WHERE key='k'", [], |r| r.get(0))?),
            )
            .unwrap();
        assert_eq!(v, "v");
    }

    #[test]
    fn a_failed_write_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("s.db")).unwrap();
        let r: StoreResult<()> = db.write(|tx| {
            tx.execute("INSERT INTO settings(key, value) VALUES ('a', '1')", [])?;
            Err(crate::StoreError::Invalid("stop".into()))
        });
        assert!(r.is_err());
        let n: i64 = db
            .read(|c| Ok(c.query_row("SELECT count(*) FROM settings", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(n, 0);
    }

    /// Identity, catalog and revocations (the datasets these tests write).
    fn generations(db: &Db) -> [u64; 3] {
        [Dataset::Identity, Dataset::Catalog, Dataset::Revocations].map(|d| db.generation(d))
    }

    fn write_sql(db: &Db, sql: &str) {
        db.write(|tx| {
            tx.execute_batch(sql)?;
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn every_table_is_a_source_or_uncached() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("s.db")).unwrap();
        let tables: Vec<String> = db
            .read(|c| {
                let mut stmt = c.prepare(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'",
                )?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .unwrap();
        for table in &tables {
            let cached = generations::mask_of(table) != 0;
            let uncached = generations::UNCACHED.contains(&table.as_str());
            assert!(
                cached ^ uncached,
                "table {table}: list it in generations::SOURCES (a cache derives from it) \
                 or in generations::UNCACHED"
            );
        }
        for listed in generations::SOURCES
            .iter()
            .flat_map(|(_, t)| t.iter())
            .chain(generations::UNCACHED)
        {
            assert!(
                tables.iter().any(|t| t == listed),
                "{listed} is not a table"
            );
        }
    }

    #[test]
    fn a_write_moves_only_the_generations_of_the_tables_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("s.db")).unwrap();
        let g0 = generations(&db);
        write_sql(
            &db,
            "INSERT INTO quota_limits(service, project_id, resource, hard_limit) VALUES ('compute', 'p', 'cores', 4);
             INSERT INTO settings(key, value) VALUES ('k', 'v');",
        );
        assert_eq!(generations(&db), g0, "uncached tables move nothing");

        write_sql(&db, "INSERT INTO domains(id, name, enabled, tags, extra, created_at) VALUES ('d', 'd', 1, '[]', '{}', 0)");
        let g1 = generations(&db);
        assert_eq!(g1, [g0[0] + 1, g0[1], g0[2]], "identity only");

        write_sql(
            &db,
            "INSERT INTO regions(id, description, extra) VALUES ('r', '', '{}')",
        );
        let g2 = generations(&db);
        assert_eq!(g2, [g1[0], g1[1] + 1, g1[2]], "catalog only");

        write_sql(
            &db,
            "INSERT INTO revocation_events(user_id, issued_before, created_at) VALUES ('u', 0, 0)",
        );
        let g3 = generations(&db);
        assert_eq!(g3, [g2[0], g2[1], g2[2] + 1], "revocations only");

        // Several tables in one transaction: each dataset moves once.
        write_sql(
            &db,
            "UPDATE domains SET enabled=0; UPDATE regions SET description='x';
             UPDATE quota_limits SET hard_limit=5;",
        );
        assert_eq!(generations(&db), [g3[0] + 1, g3[1] + 1, g3[2]]);
    }

    #[test]
    fn deletes_of_every_kind_move_the_generation() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("s.db")).unwrap();
        write_sql(
            &db,
            "INSERT INTO roles(id, name, domain_id, extra, created_at) VALUES ('r1', 'a', '', '{}', 0), ('r2', 'b', '', '{}', 0);
             INSERT INTO implied_roles(prior_role_id, implied_role_id) VALUES ('r1', 'r2');",
        );
        // A DELETE without WHERE (SQLite's truncate optimization skips
        // update hooks, not triggers).
        let g = db.generation(Dataset::Identity);
        write_sql(&db, "DELETE FROM implied_roles");
        assert_eq!(db.generation(Dataset::Identity), g + 1);
        // A foreign-key cascade.
        write_sql(
            &db,
            "INSERT INTO implied_roles(prior_role_id, implied_role_id) VALUES ('r1', 'r2')",
        );
        let g = db.generation(Dataset::Identity);
        write_sql(&db, "DELETE FROM roles WHERE id='r1'");
        assert_eq!(db.generation(Dataset::Identity), g + 1);
        let left: i64 = db
            .read(|c| Ok(c.query_row("SELECT count(*) FROM implied_roles", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(left, 0, "the cascade ran");
        // A write that matches no row changes nothing.
        write_sql(&db, "DELETE FROM roles WHERE id='absent'");
        assert_eq!(db.generation(Dataset::Identity), g + 1);
    }

    #[test]
    fn a_rolled_back_write_moves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("s.db")).unwrap();
        let g0 = generations(&db);
        let r: StoreResult<()> = db.write(|tx| {
            tx.execute(
                "INSERT INTO regions(id, description, extra) VALUES ('r', '', '{}')",
                [],
            )?;
            Err(crate::StoreError::Invalid("stop".into()))
        });
        assert!(r.is_err());
        write_sql(&db, "INSERT INTO settings(key, value) VALUES ('k', 'v')");
        assert_eq!(generations(&db), g0);
    }
}
