//! Copying a whole cloud's state from one database to another: what
//! `ferrostack admin migrate-store` does to move a SQLite cloud onto
//! PostgreSQL.
//!
//! Row by row through the [`crate::sql`] layer rather than a dump and a
//! load: the two schemas are one list of migrations, so every table and
//! column exists on both sides and the values convert the same way the
//! store reads and writes them. Both sides are migrated to this build's
//! schema first. The source is held in a write transaction for the whole
//! copy, so no controller can change it half-way (stop the controllers
//! first anyway: what they write after the copy is not moved), and the
//! target is written in one transaction: a failed copy leaves it empty.
//!
//! Tables are copied parents first (by their foreign keys) and rows in
//! their insertion order (`rowid`), so every reference finds its row.
//! Tables that triggers keep ([`DERIVED`]) are rebuilt by the target's
//! own triggers as their sources are copied, and compared afterwards.

use crate::sql::{Conn, Dialect, Value};
use crate::{Db, StoreError, StoreResult};
use std::collections::{BTreeMap, BTreeSet};

/// Tables whose rows triggers derive from other tables.
pub const DERIVED: &[&str] = &["quota_usage"];

/// Rows copied per table.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Table name to rows copied (derived tables: rows found afterwards).
    pub rows: BTreeMap<String, u64>,
}

/// Copy every row of `from` into `to`, which must not hold a cloud yet
/// (no domain: a bootstrapped cloud has at least `Default`). What the
/// target's migrations seeded (the default volume type) is replaced by
/// the source's rows.
pub fn copy_all(from: &Db, to: &Db) -> StoreResult<CopyReport> {
    if from.dialect() != Dialect::Sqlite {
        return Err(StoreError::Invalid(
            "the source of a copy must be a SQLite database".into(),
        ));
    }
    from.write(|src| {
        let tables = tables_parents_first(src)?;
        to.write(|dst| {
            if count(dst, "domains")? > 0 {
                return Err(StoreError::Invalid(
                    "the target database already holds a cloud (it has domains)".into(),
                ));
            }
            for table in tables.iter().rev() {
                dst.execute(&format!("DELETE FROM {table}"), [])?;
            }
            let mut report = CopyReport::default();
            for table in &tables {
                if DERIVED.contains(&table.as_str()) {
                    continue;
                }
                let n = copy_table(src, dst, table)?;
                report.rows.insert(table.clone(), n);
            }
            for table in DERIVED {
                let want = count(src, table)?;
                let got = count(dst, table)?;
                if want != got {
                    return Err(StoreError::Invalid(format!(
                        "{table}: {want} rows in the source, {got} rebuilt in the target"
                    )));
                }
                report.rows.insert(table.to_string(), got);
            }
            if dst.dialect() == Dialect::Postgres {
                restart_identities(dst)?;
            }
            Ok(report)
        })
    })
}

fn count(conn: &Conn, table: &str) -> StoreResult<u64> {
    Ok(conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
}

/// The source's tables, each after every table it references.
fn tables_parents_first(src: &Conn) -> StoreResult<Vec<String>> {
    let names: Vec<String> = src
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in &names {
        let refs: Vec<String> = src
            .prepare(&format!(
                "SELECT \"table\" FROM pragma_foreign_key_list('{name}')"
            ))?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        parents.insert(
            name.clone(),
            refs.into_iter().filter(|p| p != name).collect(),
        );
    }
    let mut ordered: Vec<String> = Vec::with_capacity(names.len());
    while ordered.len() < names.len() {
        let ready: Vec<String> = names
            .iter()
            .filter(|n| !ordered.contains(n))
            .filter(|n| parents[*n].iter().all(|p| ordered.contains(p)))
            .cloned()
            .collect();
        if ready.is_empty() {
            return Err(StoreError::Invalid(
                "the tables' foreign keys form a cycle".into(),
            ));
        }
        ordered.extend(ready);
    }
    Ok(ordered)
}

/// The columns of `table` on the target.
fn target_columns(dst: &Conn, table: &str) -> StoreResult<BTreeSet<String>> {
    let sql = match dst.dialect() {
        Dialect::Sqlite => format!("SELECT name FROM pragma_table_info('{table}')"),
        Dialect::Postgres => format!(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = '{table}'"
        ),
    };
    Ok(dst
        .prepare(&sql)?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

fn copy_table(src: &Conn, dst: &Conn, table: &str) -> StoreResult<u64> {
    let source_columns: Vec<String> = src
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let target = target_columns(dst, table)?;
    let mut columns: Vec<String> = source_columns
        .iter()
        .filter(|c| target.contains(c.as_str()))
        .cloned()
        .collect();
    if let Some(missing) = source_columns.iter().find(|c| !target.contains(c.as_str())) {
        return Err(StoreError::Invalid(format!(
            "{table}.{missing} has no column in the target"
        )));
    }
    // PostgreSQL's tables carry SQLite's implicit row order as a column.
    let keep_rowid = target.contains("rowid") && !columns.iter().any(|c| c == "rowid");
    let mut select_list = columns.clone();
    if keep_rowid {
        select_list.push("rowid".into());
        columns.push("rowid".into());
    }
    // Quoted: a column may be a word PostgreSQL reserves (`binary`).
    let quoted = |names: &[String]| -> String {
        names
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let select = format!(
        "SELECT {} FROM {table} ORDER BY rowid",
        quoted(&select_list)
    );
    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let insert = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        quoted(&columns),
        marks.join(", ")
    );
    let width = columns.len();
    let rows: Vec<Vec<Value>> = src
        .prepare(&select)?
        .query_map([], |r| (0..width).map(|i| r.get::<_, Value>(i)).collect())?
        .collect::<Result<_, _>>()?;
    for row in &rows {
        dst.execute(&insert, crate::sql::params_from_iter(row.iter()))?;
    }
    Ok(rows.len() as u64)
}

/// Move each identity column's next value past the rows copied with
/// explicit values.
fn restart_identities(dst: &Conn) -> StoreResult<()> {
    let identities: Vec<(String, String)> = dst
        .prepare(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (table, column) in identities {
        dst.query_row(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                        CAST(coalesce(max({column}), 0) + 1 AS BIGINT), false) FROM {table}"
            ),
            [],
            |_| Ok(()),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(db: &Db, sql: &str) {
        db.write(|tx| {
            tx.execute_batch(sql)?;
            Ok(())
        })
        .unwrap();
    }

    fn count_in(db: &Db, table: &str) -> u64 {
        db.read(|c| count(c, table)).unwrap()
    }

    #[test]
    fn every_row_arrives_with_its_order_and_derived_rows_are_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let from = Db::open(&dir.path().join("from.db")).unwrap();
        write(
            &from,
            "INSERT INTO domains(id, name, enabled, tags, extra, created_at) VALUES ('d', 'd', 1, '[]', '{}', 0);
             INSERT INTO projects(id, name, domain_id, parent_id, enabled, tags, extra, created_at)
                VALUES ('p1', 'one', 'd', NULL, 1, '[]', '{}', 0),
                       ('p2', 'two', 'd', 'p1', 1, '[]', '{}', 0);
             INSERT INTO quota_allocations(service, project_id, consumer_id, resource, amount)
                VALUES ('compute', 'p1', 'c1', 'cores', 2), ('compute', 'p1', 'c2', 'cores', 3);",
        );
        let to = Db::open(&dir.path().join("to.db")).unwrap();
        let seeded = count_in(&to, "volume_types");
        assert!(seeded > 0, "migrations seed the default volume type");
        let report = copy_all(&from, &to).unwrap();
        assert_eq!(
            count_in(&to, "volume_types"),
            count_in(&from, "volume_types")
        );
        assert_eq!(report.rows["projects"], 2);
        assert_eq!(report.rows["quota_usage"], 1);
        let in_use: i64 = to
            .read(|c| {
                Ok(c.query_row(
                    "SELECT in_use FROM quota_usage WHERE project_id = 'p1'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(in_use, 5, "the target's triggers rebuilt the usage");
        let parent: Option<String> = to
            .read(|c| {
                Ok(
                    c.query_row("SELECT parent_id FROM projects WHERE id = 'p2'", [], |r| {
                        r.get(0)
                    })?,
                )
            })
            .unwrap();
        assert_eq!(parent.as_deref(), Some("p1"));
    }

    #[test]
    fn a_sqlite_cloud_arrives_on_postgresql_and_identities_go_on_after_it() {
        let Some(pg) = crate::testing::postgres::database() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let from = Db::open(&dir.path().join("from.db")).unwrap();
        write(
            &from,
            "INSERT INTO domains(id, name, enabled, tags, extra, created_at) VALUES ('d', 'd', 1, '[]', '{}', 0);
             INSERT INTO projects(id, name, domain_id, parent_id, enabled, tags, extra, created_at)
                VALUES ('p1', 'one', 'd', NULL, 1, '[]', '{}', 0);
             INSERT INTO compute_services(uuid, host, binary, zone, heartbeat_at, created_at, updated_at)
                VALUES ('u', 'h1', 'nova-compute', 'nova', 1, 1, 1);
             INSERT INTO revocation_events(audit_id, issued_before, created_at) VALUES ('a1', 1, 1), ('a2', 2, 2);
             INSERT INTO flavors(flavorid, name, memory_mb, vcpus, root_gb, rxtx_factor, created_at)
                VALUES ('f', 'tiny', 512, 1, 1, 1.5, 0);
             INSERT INTO quota_allocations(service, project_id, consumer_id, resource, amount)
                VALUES ('compute', 'p1', 'c1', 'cores', 2);",
        );
        let to = Db::open_postgres(&pg.url()).unwrap();
        let report = copy_all(&from, &to).unwrap();
        for (table, rows) in &report.rows {
            assert_eq!(count_in(&to, table), *rows, "{table}");
            assert_eq!(count_in(&from, table), *rows, "{table}");
        }
        let (binary, factor): (String, f64) = to
            .read(|c| {
                Ok(c.query_row(
                    "SELECT s.\"binary\", f.rxtx_factor FROM compute_services s, flavors f",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?)
            })
            .unwrap();
        assert_eq!((binary.as_str(), factor), ("nova-compute", 1.5));
        let next: i64 = to
            .write(|c| {
                Ok(c.query_row(
                    "INSERT INTO revocation_events(audit_id, issued_before, created_at)
                     VALUES ('a3', 3, 3) RETURNING id",
                    [],
                    |r| r.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(next, 3, "the identity goes on after the copied ids");
    }

    #[test]
    fn a_target_with_rows_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let from = Db::open(&dir.path().join("from.db")).unwrap();
        write(
            &from,
            "INSERT INTO domains(id, name, enabled, tags, extra, created_at) VALUES ('d', 'd', 1, '[]', '{}', 0);
             INSERT INTO regions(id, description, extra) VALUES ('r', '', '{}');",
        );
        let to = Db::open(&dir.path().join("to.db")).unwrap();
        write(
            &to,
            "INSERT INTO domains(id, name, enabled, tags, extra, created_at) VALUES ('kept', 'kept', 1, '[]', '{}', 0);
             INSERT INTO regions(id, description, extra) VALUES ('r', 'kept', '{}');",
        );
        assert!(copy_all(&from, &to).is_err());
        let (domain, description): (String, String) = to
            .read(|c| {
                Ok((
                    c.query_row("SELECT group_concat(id) FROM domains", [], |r| r.get(0))?,
                    c.query_row("SELECT description FROM regions", [], |r| r.get(0))?,
                ))
            })
            .unwrap();
        assert_eq!((domain.as_str(), description.as_str()), ("kept", "kept"));
    }
}
