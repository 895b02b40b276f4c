use crate::generations::Dataset;
use crate::sql::params;
use crate::testing::postgres::database;
use crate::{Db, StoreError};
use postgres::fallible_iterator::FallibleIterator as _;
use std::sync::{Arc, Barrier};

/// Identity, catalog and revocations (the datasets these tests write).
fn generations(db: &Db) -> [u64; 3] {
    [Dataset::Identity, Dataset::Catalog, Dataset::Revocations].map(|d| db.generation(d))
}

#[test]
fn a_write_commits_and_a_failed_one_commits_nothing() {
    let Some(pg) = database() else { return };
    let db = Db::open_postgres(&pg.url()).unwrap();
    db.write(|tx| {
        tx.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)",
            ["k", "v"],
        )?;
        Ok(())
    })
    .unwrap();
    let r: Result<(), StoreError> = db.write(|tx| {
        tx.execute("INSERT INTO settings (key, value) VALUES ('a', '1')", [])?;
        Err(StoreError::Invalid("stop".into()))
    });
    assert!(r.is_err());
    let keys: Vec<String> = db
        .read(|c| {
            Ok(c.prepare("SELECT key FROM settings ORDER BY key")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?)
        })
        .unwrap();
    assert_eq!(keys, ["k"]);
}

#[test]
fn writes_move_the_generations_of_their_sources_and_notify_them() {
    let Some(pg) = database() else { return };
    let db = Db::open_postgres(&pg.url()).unwrap();
    let mut listener = pg.connect();
    listener
        .batch_execute("LISTEN ferrostack_generations")
        .unwrap();
    let before = generations(&db);
    db.write(|tx| {
        tx.execute(
            "INSERT INTO quota_defaults VALUES ('compute', 'cores', 20)",
            [],
        )?;
        Ok(())
    })
    .unwrap();
    assert_eq!(generations(&db), before, "an uncached table moves nothing");
    db.write(|tx| {
        tx.execute(
            "INSERT INTO regions (id) VALUES (?1)",
            params!["RegionOne".to_string()],
        )?;
        Ok(())
    })
    .unwrap();
    let after = generations(&db);
    assert_eq!(
        after[Dataset::Catalog.index()],
        before[Dataset::Catalog.index()] + 1
    );
    assert_eq!(
        after[Dataset::Identity.index()],
        before[Dataset::Identity.index()]
    );
    let mut notifications = listener.notifications();
    let heard: Vec<String> = notifications
        .timeout_iter(std::time::Duration::from_secs(5))
        .iterator()
        .take(1)
        .map(|n| n.unwrap().payload().to_owned())
        .collect();
    assert_eq!(heard, [Dataset::Catalog.bit().to_string()]);
}

/// Two controllers (two `Db`s on one database) each check that a table is
/// empty and insert a row, both reading before either writes: under
/// SERIALIZABLE one loses, is retried, sees the other's row and inserts
/// nothing.
#[test]
fn a_check_then_insert_race_between_two_controllers_leaves_one_row() {
    let Some(pg) = database() else { return };
    let url = pg.url();
    let dbs: Vec<Arc<Db>> = (0..2)
        .map(|_| Arc::new(Db::open_postgres(&url).unwrap()))
        .collect();
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = dbs
        .iter()
        .enumerate()
        .map(|(i, db)| {
            let db = Arc::clone(db);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut first = true;
                db.write(|tx| {
                    let n: i64 = tx.query_row("SELECT count(*) FROM settings", [], |r| r.get(0))?;
                    if first {
                        first = false;
                        barrier.wait();
                    }
                    if n == 0 {
                        tx.execute(
                            "INSERT INTO settings (key, value) VALUES (?1, 'x')",
                            [format!("from-{i}")],
                        )?;
                    }
                    Ok(n)
                })
                .unwrap()
            })
        })
        .collect();
    let seen: Vec<i64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let rows: i64 = dbs[0]
        .read(|c| Ok(c.query_row("SELECT count(*) FROM settings", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(rows, 1, "seen {seen:?}");
    assert!(
        seen.contains(&1),
        "the loser ran again and saw the row: {seen:?}"
    );
}

#[test]
fn reads_and_writes_run_from_async_tasks_of_a_multi_threaded_runtime() {
    let Some(pg) = database() else { return };
    let db = Arc::new(Db::open_postgres(&pg.url()).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let task_db = Arc::clone(&db);
    let n: i64 = runtime
        .block_on(async move {
            tokio::spawn(async move {
                task_db.write(|tx| {
                    tx.execute("INSERT INTO settings (key, value) VALUES ('k', 'v')", [])?;
                    Ok(())
                })?;
                task_db
                    .read(|c| Ok(c.query_row("SELECT count(*) FROM settings", [], |r| r.get(0))?))
            })
            .await
            .unwrap()
        })
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
#[should_panic(expected = "needs a multi-threaded tokio runtime")]
fn a_current_thread_runtime_gets_a_clear_message() {
    let Some(pg) = database() else {
        panic!("needs a multi-threaded tokio runtime (skipped: no PostgreSQL)")
    };
    let db = Db::open_postgres(&pg.url()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(async { db.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?)) })
        .unwrap();
}

/// Wait up to 5 s for `db`'s generation of `dataset` to pass `than`.
fn moves_past(db: &Db, dataset: Dataset, than: u64) -> Option<std::time::Duration> {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(5) {
        if db.generation(dataset) > than {
            return Some(start.elapsed());
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    None
}

#[test]
fn a_write_through_one_controller_moves_the_others_generations_once() {
    let Some(pg) = database() else { return };
    let a = Db::open_postgres(&pg.url()).unwrap();
    let b = Db::open_postgres(&pg.url()).unwrap();
    let (b_identity, b_catalog) = (
        b.generation(Dataset::Identity),
        b.generation(Dataset::Catalog),
    );
    a.write(|tx| {
        tx.execute(
            "INSERT INTO regions (id) VALUES (?1)",
            params!["RegionTwo".to_string()],
        )?;
        Ok(())
    })
    .unwrap();
    let took = moves_past(&b, Dataset::Catalog, b_catalog)
        .expect("the other controller hears a catalog write");
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    assert_eq!(
        b.generation(Dataset::Identity),
        b_identity,
        "identity did not change"
    );

    // Its own write moves its counter once: its notification is skipped.
    let a_catalog = a.generation(Dataset::Catalog);
    let b_catalog = b.generation(Dataset::Catalog);
    a.write(|tx| {
        tx.execute("UPDATE regions SET description = 'x'", [])?;
        Ok(())
    })
    .unwrap();
    assert_eq!(a.generation(Dataset::Catalog), a_catalog + 1);
    moves_past(&b, Dataset::Catalog, b_catalog).expect("heard");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(a.generation(Dataset::Catalog), a_catalog + 1, "not twice");
    assert_eq!(
        b.generation(Dataset::Catalog),
        b_catalog + 1,
        "once on the other"
    );
}
