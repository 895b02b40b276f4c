use super::*;
use crate::sql::{params, Conn, Dialect, OptionalExtension};
use crate::testing::postgres::database;

#[test]
fn placeholders_are_numbered_outside_literals_and_comments() {
    assert_eq!(
        placeholders("SELECT a FROM t WHERE b = ?2 AND c = ?1 AND d = '?3' -- ?4\nAND e = ?"),
        "SELECT a FROM t WHERE b = $2 AND c = $1 AND d = '?3' -- ?4\nAND e = $3"
    );
    assert_eq!(
        placeholders("INSERT INTO t VALUES (?, ?, 'it''s ?', \"q?\", ?)"),
        "INSERT INTO t VALUES ($1, $2, 'it''s ?', \"q?\", $3)"
    );
    assert_eq!(placeholders("?10 + ?"), "$10 + $11");
}

fn conn(db: &crate::testing::postgres::TestDatabase) -> Conn {
    Conn::new(Box::new(PgSession::new(db.connect())), Dialect::Postgres)
}

#[test]
fn values_go_in_and_come_back_by_the_column_types() {
    let Some(db) = database() else { return };
    let c = conn(&db);
    c.execute_batch(
        "CREATE TABLE t (i BIGINT, small INT, f DOUBLE PRECISION, s TEXT, b BYTEA,
                         flag BOOL, doc JSONB)",
    )
    .unwrap();
    let blob: Vec<u8> = vec![0, 1, 255];
    let n = c
        .execute(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![i64::MAX, 7, 1.5, "text", blob, true, r#"{"a": 1}"#],
        )
        .unwrap();
    assert_eq!(n, 1);
    c.execute(
        "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null
        ],
    )
    .unwrap();
    let rows: Vec<Vec<Value>> = c
        .prepare("SELECT i, small, f, s, b, flag, doc FROM t ORDER BY i NULLS LAST")
        .unwrap()
        .query_map([], |r| (0..7).map(|i| r.get(i)).collect())
        .unwrap()
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(
        rows[0],
        vec![
            Value::Integer(i64::MAX),
            Value::Integer(7),
            Value::Real(1.5),
            Value::Text("text".into()),
            Value::Blob(blob),
            Value::Integer(1),
            Value::Text(r#"{"a": 1}"#.into()),
        ]
    );
    assert_eq!(rows[1], vec![Value::Null; 7]);
    let flag: bool = c
        .query_row("SELECT flag FROM t WHERE s = ?", ["text"], |r| r.get(0))
        .unwrap();
    assert!(flag);
}

#[test]
fn sums_are_integers_when_whole_and_doubles_otherwise() {
    let Some(db) = database() else { return };
    let c = conn(&db);
    let get = |sql: &str| -> Value { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    c.execute_batch("CREATE TABLE a (n BIGINT); INSERT INTO a VALUES (40000), (2), (-7)")
        .unwrap();
    assert_eq!(get("SELECT sum(n) FROM a"), Value::Integer(39995));
    assert_eq!(get("SELECT sum(n) FROM a WHERE n < 0"), Value::Integer(-7));
    assert_eq!(get("SELECT sum(n) FROM a WHERE n > 100000"), Value::Null);
    assert_eq!(
        get("SELECT 123456789012::numeric"),
        Value::Integer(123456789012)
    );
    assert_eq!(get("SELECT 0::numeric"), Value::Integer(0));
    assert_eq!(get("SELECT 2.5::numeric"), Value::Real(2.5));
    assert_eq!(get("SELECT -0.25::numeric"), Value::Real(-0.25));
}

#[test]
fn a_unique_violation_is_reported_as_one_and_missing_rows_as_none() {
    let Some(db) = database() else { return };
    let c = conn(&db);
    c.execute_batch("CREATE TABLE u (k TEXT PRIMARY KEY)")
        .unwrap();
    c.execute("INSERT INTO u VALUES (?1)", ["x"]).unwrap();
    let err = c.execute("INSERT INTO u VALUES (?1)", ["x"]).unwrap_err();
    assert!(err.is_unique_violation(), "{err:?}");
    let none: Option<String> = c
        .query_row("SELECT k FROM u WHERE k = ?1", ["y"], |r| r.get(0))
        .optional()
        .unwrap();
    assert_eq!(none, None);
    let err = c
        .execute("INSERT INTO u VALUES (?1)", ["a", "b"])
        .unwrap_err();
    assert!(matches!(err, Error::ToSqlConversion(_)), "{err:?}");
}
