//! The layer's own behaviour on SQLite (the PostgreSQL backend runs the
//! store's tests through the same methods).

use super::*;

fn conn() -> Conn {
    let raw = rusqlite::Connection::open_in_memory().unwrap();
    let conn = Conn::new(Box::new(SqliteSession::new(raw)), Dialect::Sqlite);
    conn.execute_batch(
        "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, f REAL, flag INTEGER, b BLOB)",
    )
    .unwrap();
    conn
}

#[test]
fn values_round_trip_by_index_and_by_name() {
    let c = conn();
    let n = c
        .execute(
            "INSERT INTO t (id, n, f, flag, b) VALUES (?1, ?2, ?3, ?4, ?5)",
            params!["a", 7u32, 1.5, true, vec![1u8, 2]],
        )
        .unwrap();
    assert_eq!(n, 1);
    let (id, n, f, flag, b): (String, i64, f64, bool, Vec<u8>) = c
        .query_row(
            "SELECT id, n, f, flag, b FROM t WHERE id = ?1",
            ["a"],
            |r| Ok((r.get(0)?, r.get("n")?, r.get(2)?, r.get("FLAG")?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(
        (id.as_str(), n, f, flag, b),
        ("a", 7, 1.5, true, vec![1, 2])
    );
}

#[test]
fn no_row_is_an_error_that_optional_turns_into_none() {
    let c = conn();
    let r = c.query_row("SELECT n FROM t WHERE id = ?1", ["x"], |r| {
        r.get::<_, i64>(0)
    });
    assert!(matches!(r, Err(Error::QueryReturnedNoRows)));
    let r = c
        .query_row("SELECT n FROM t WHERE id = ?1", ["x"], |r| {
            r.get::<_, i64>(0)
        })
        .optional()
        .unwrap();
    assert_eq!(r, None);
}

#[test]
fn wrong_types_and_ranges_are_errors_naming_the_column() {
    let c = conn();
    c.execute("INSERT INTO t (id, n) VALUES ('a', -1)", [])
        .unwrap();
    let e = c
        .query_row("SELECT id FROM t", [], |r| r.get::<_, i64>(0))
        .unwrap_err();
    assert!(e.to_string().contains("id holds text"), "{e}");
    let e = c
        .query_row("SELECT n FROM t", [], |r| r.get::<_, u32>(0))
        .unwrap_err();
    assert!(
        matches!(e, Error::IntegralValueOutOfRange { value: -1, .. }),
        "{e}"
    );
    let n: Option<i64> = c.query_row("SELECT f FROM t", [], |r| r.get(0)).unwrap();
    assert_eq!(n, None, "NULL reads as None");
}

#[test]
fn a_duplicate_key_is_a_unique_violation() {
    let c = conn();
    c.execute("INSERT INTO t (id) VALUES ('a')", []).unwrap();
    let e = c
        .execute("INSERT INTO t (id) VALUES ('a')", [])
        .unwrap_err();
    assert!(e.is_unique_violation());
    assert!(!e.is_retryable());
}

#[test]
fn query_map_maps_every_row_and_params_come_in_every_shape() {
    let c = conn();
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        c.execute("INSERT INTO t (id, n) VALUES (?, ?)", params![id, i as i64])
            .unwrap();
    }
    let ids = ["a".to_string(), "c".to_string()];
    let mut stmt = c
        .prepare_cached("SELECT id, n FROM t WHERE id IN (?, ?) ORDER BY id")
        .unwrap();
    let rows: Vec<(String, i64)> = stmt
        .query_map(params_from_iter(ids.iter()), |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(rows, vec![("a".into(), 0), ("c".into(), 2)]);
    let e = c
        .execute("DELETE FROM t WHERE id = ?1", ["a", "b"])
        .unwrap_err();
    assert!(e.to_string().contains("2 parameters given"), "{e}");
}
