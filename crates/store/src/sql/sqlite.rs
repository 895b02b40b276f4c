//! The SQLite backend of [`super::Session`]: rusqlite, with its own
//! prepared-statement cache.

use super::{DbErrorKind, Error, Result, Rows, Session, Value};
use rusqlite::types::ValueRef;

/// A rusqlite connection as a [`Session`].
pub(crate) struct SqliteSession {
    conn: rusqlite::Connection,
}

impl SqliteSession {
    /// Wrap an open, configured connection.
    pub(crate) fn new(conn: rusqlite::Connection) -> Self {
        SqliteSession { conn }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        let kind = match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                DbErrorKind::UniqueViolation
            }
            _ => DbErrorKind::Other,
        };
        Error::Database {
            kind,
            source: Box::new(e),
        }
    }
}

fn bind(stmt: &mut rusqlite::CachedStatement<'_>, params: &[Value]) -> Result<()> {
    for (i, value) in params.iter().enumerate() {
        let index = i + 1;
        match value {
            Value::Null => stmt.raw_bind_parameter(index, rusqlite::types::Null)?,
            Value::Integer(v) => stmt.raw_bind_parameter(index, v)?,
            Value::Real(v) => stmt.raw_bind_parameter(index, v)?,
            Value::Text(v) => stmt.raw_bind_parameter(index, v)?,
            Value::Blob(v) => stmt.raw_bind_parameter(index, v)?,
        }
    }
    Ok(())
}

fn owned(value: ValueRef<'_>) -> Result<Value> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|e| Error::FromSqlConversion {
                    column: "text".into(),
                    source: Box::new(e),
                })?
                .to_owned(),
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

impl Session for SqliteSession {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        if stmt.parameter_count() != params.len() {
            return Err(Error::ToSqlConversion(format!(
                "{} parameters given, the statement has {}",
                params.len(),
                stmt.parameter_count()
            )));
        }
        bind(&mut stmt, params)?;
        Ok(stmt.raw_execute()?)
    }

    fn execute_batch(&self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
    }

    fn query(&self, sql: &str, params: &[Value], limit: Option<usize>) -> Result<Rows> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        if stmt.parameter_count() != params.len() {
            return Err(Error::ToSqlConversion(format!(
                "{} parameters given, the statement has {}",
                params.len(),
                stmt.parameter_count()
            )));
        }
        bind(&mut stmt, params)?;
        let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let width = columns.len();
        let mut out = Rows {
            columns,
            rows: Vec::new(),
        };
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(owned(row.get_ref(i)?)?);
            }
            out.rows.push(values);
            if limit.is_some_and(|l| out.rows.len() >= l) {
                break;
            }
        }
        Ok(out)
    }
}
