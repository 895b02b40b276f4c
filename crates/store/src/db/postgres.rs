//! The PostgreSQL side of [`Db`](super::Db): a pool of connections that
//! each read or write, serializable write transactions retried when they
//! lose a race, and generations moved by triggers in the database.
//!
//! Why serializable rather than row locks: the store's check-then-write
//! sequences (quota, IPAM, uniqueness across tables) were written for
//! SQLite's one writer; under SERIALIZABLE, PostgreSQL gives every
//! transaction the outcome of some serial order, so the same code stays
//! race-free across connections and controllers, and the price is a retry
//! of the loser (SQLSTATE 40001, or 40P01 for a deadlock), which
//! [`PgDb::write`] does, a bounded number of times with a random pause.
//!
//! Generations: a trigger on every source table (one per table, for each
//! row) ORs the table's dataset bits into a transaction-local setting,
//! `ferrostack.changed`. Before COMMIT the writer reads the mask and, when
//! it is not zero, queues `pg_notify('ferrostack_generations', mask)` in
//! the same transaction (delivered only if it commits, so the [`listener`]
//! of the other controllers hears exactly the committed changes); after
//! COMMIT it moves this process's counters. Unlike SQLite's temporary
//! triggers, these are part of the database (every
//! controller's writes must run them) and are rebuilt from
//! [`generations::SOURCES`] on open.

mod listener;

use super::{lock, Transaction};
use crate::generations;
use crate::generations::Generations;
use crate::sql::{Conn, Dialect, PgSession};
use crate::{migrations, StoreError, StoreResult};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Connections per controller.
const CONNECTIONS: usize = 8;
/// Attempts of a write transaction that keeps losing races.
const ATTEMPTS: u32 = 10;
/// The notification channel of committed generation changes.
pub const CHANNEL: &str = "ferrostack_generations";

/// A pool of PostgreSQL connections.
pub(super) struct PgDb {
    conns: Vec<Mutex<Conn>>,
    next: AtomicUsize,
}

/// The server-side process id of a connection (what a notification it
/// sends carries).
fn backend_pid(client: &mut postgres::Client) -> StoreResult<i32> {
    Ok(client.query_one("SELECT pg_backend_pid()", &[])?.get(0))
}

impl PgDb {
    /// Connect, migrate, install the generation triggers, open the pool,
    /// and listen for other controllers' writes moving `generations`.
    pub(super) fn open(
        config: &postgres::Config,
        generations: &Arc<Generations>,
    ) -> StoreResult<Self> {
        off_the_runtime(|| {
            let mut first = config.connect(postgres::NoTls)?;
            migrations::postgres::run(&mut first)?;
            first.batch_execute(&generation_triggers())?;
            let mut own_pids = HashSet::from([backend_pid(&mut first)?]);
            let mut conns = vec![Mutex::new(pg_conn(first))];
            for _ in 1..CONNECTIONS {
                let mut client = config.connect(postgres::NoTls)?;
                own_pids.insert(backend_pid(&mut client)?);
                conns.push(Mutex::new(pg_conn(client)));
            }
            listener::start(config, own_pids, generations)?;
            Ok(PgDb {
                conns,
                next: AtomicUsize::new(0),
            })
        })
    }

    /// A free connection if there is one, else the next in turn.
    fn with_conn<R>(&self, f: impl FnOnce(&Conn) -> R) -> R {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.conns.len() {
            if let Ok(conn) = self.conns[(start + i) % self.conns.len()].try_lock() {
                return f(&conn);
            }
        }
        f(&lock(&self.conns[start % self.conns.len()]))
    }

    /// Run `f` outside a transaction (each statement sees what is committed).
    pub(super) fn read<R>(&self, f: impl FnOnce(&Conn) -> StoreResult<R>) -> StoreResult<R> {
        off_the_runtime(|| self.with_conn(f))
    }

    /// Run `f` in a serializable transaction, again from the start when it
    /// loses a race; its result and the generation mask it committed.
    pub(super) fn write<R>(
        &self,
        mut f: impl FnMut(&Conn) -> StoreResult<R>,
    ) -> StoreResult<(R, u32)> {
        off_the_runtime(|| {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.with_conn(|conn| write_once(conn, &mut f)) {
                    Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                        tracing::debug!(attempt, error = %e, "write transaction lost a race; retrying");
                        std::thread::sleep(backoff(attempt));
                    }
                    other => return other,
                }
            }
        })
    }
}

fn write_once<R>(
    conn: &Conn,
    f: &mut impl FnMut(&Conn) -> StoreResult<R>,
) -> StoreResult<(R, u32)> {
    let tx = Transaction::begin(conn, "BEGIN ISOLATION LEVEL SERIALIZABLE")?;
    let out = f(conn)?;
    let mask: i64 = conn.query_row(
        "SELECT coalesce(nullif(current_setting('ferrostack.changed', true), ''), '0')::bigint",
        [],
        |r| r.get(0),
    )?;
    if mask != 0 {
        conn.query_row(
            "SELECT pg_notify(?1, ?2)",
            [CHANNEL.to_owned(), mask.to_string()],
            |_| Ok(()),
        )?;
    }
    tx.commit()?;
    Ok((out, mask as u32))
}

fn retryable(e: &StoreError) -> bool {
    matches!(e, StoreError::Database(e) if e.is_retryable())
}

/// 2^attempt milliseconds, capped at 200, times a random factor in [0.5, 1.5):
/// two transactions that collided do not collide again at once.
fn backoff(attempt: u32) -> Duration {
    let base = (1u64 << attempt.min(8)).min(200) as f64;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let jitter = 0.5 + f64::from(nanos % 1000) / 1000.0;
    Duration::from_micros((base * jitter * 1000.0) as u64)
}

/// [`super::off_the_runtime`], for the `postgres` client, which runs its
/// own small tokio runtime inside each call and so cannot be called on a
/// thread that is driving another runtime: on a worker of a multi-threaded
/// runtime `block_in_place` lifts that; a current-thread runtime (the
/// default of `#[tokio::test]`) has no such way out, and gets a clear
/// message rather than tokio's "cannot start a runtime from within a
/// runtime".
fn off_the_runtime<R>(f: impl FnOnce() -> R) -> R {
    if let Ok(h) = tokio::runtime::Handle::try_current() {
        assert!(
            h.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread,
            "the PostgreSQL store needs a multi-threaded tokio runtime \
             (#[tokio::test(flavor = \"multi_thread\")] in tests)"
        );
    }
    super::off_the_runtime(f)
}

fn pg_conn(client: postgres::Client) -> Conn {
    Conn::new(Box::new(PgSession::new(client)), Dialect::Postgres)
}

/// The trigger function and one trigger per source table, rebuilt in one
/// transaction (a table that left [`generations::SOURCES`] loses its
/// trigger), under the migrations' advisory lock.
fn generation_triggers() -> String {
    let mut sql = format!(
        "BEGIN;
SELECT pg_advisory_xact_lock({lock});
CREATE OR REPLACE FUNCTION ferrostack_generation_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('ferrostack.changed',
        (coalesce(nullif(current_setting('ferrostack.changed', true), ''), '0')::bigint
         | TG_ARGV[0]::bigint)::text,
        true);
    RETURN NULL;
END $$;
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT tgname, tgrelid::regclass AS tbl FROM pg_trigger
             WHERE tgname LIKE 'generation\\_%' AND NOT tgisinternal LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tbl);
    END LOOP;
END $$;
",
        lock = migrations::postgres::MIGRATION_LOCK
    );
    for (_, tables) in generations::SOURCES {
        for table in *tables {
            let bits = generations::mask_of(table);
            sql.push_str(&format!(
                "CREATE TRIGGER generation_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION ferrostack_generation_changed('{bits}');\n"
            ));
        }
    }
    sql.push_str("COMMIT;");
    sql
}

#[cfg(test)]
mod tests;
