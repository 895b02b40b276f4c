//! The one SQL layer the store's code is written against, whatever the
//! database: SQLite (embedded, the default) or PostgreSQL (shared by
//! several controllers).
//!
//! Why a layer of our own rather than two implementations of every store
//! trait: the store's SQL is about six thousand lines, and nearly all of it
//! is the same text on both databases. Written twice it would drift; behind
//! a generic driver (sqlx's `Any`) it would become async and slower for
//! queries that take microseconds. So the store's code speaks to a [`Conn`]
//! whose methods have rusqlite's names and shapes (`execute`, `query_row`,
//! `prepare_cached(..).query_map(..)`, `row.get::<_, T>(i)`, `params!`,
//! `.optional()`), and each backend is a [`Session`]: it runs a statement
//! with [`Value`] parameters and hands back rows of [`Value`]s. Statements
//! are written with `?N` placeholders, in SQL both databases accept; a
//! backend translates what it must (PostgreSQL's `$N`). Where no common
//! spelling exists, the statement asks [`Conn::dialect`].
//!
//! Transactions are not here: [`crate::Db`] opens and ends them, because
//! how (SQLite's one writer, PostgreSQL's serializable retries) is the
//! backend's business, not the statement's.

mod dialect;
mod postgres;
mod sqlite;
mod value;

pub(crate) use postgres::PgSession;
pub(crate) use sqlite::SqliteSession;
pub use value::{FromSql, FromSqlError, ToSql, Value};

/// Which database a connection talks to, for the rare statement that has
/// no spelling both accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (rusqlite, bundled).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// What kind of database failure, as far as the store's logic cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbErrorKind {
    /// A UNIQUE or PRIMARY KEY constraint refused the write.
    UniqueViolation,
    /// The transaction lost a race with another one and may be retried
    /// from the start (PostgreSQL's serialization failure or deadlock).
    Retryable,
    /// Anything else.
    Other,
}

/// Errors of the SQL layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `query_row` found no row (`.optional()` turns this into `None`).
    #[error("the query returned no rows")]
    QueryReturnedNoRows,
    /// A column index past the row's end.
    #[error("no column {0}")]
    InvalidColumnIndex(usize),
    /// A column name the row does not have.
    #[error("no column named {0}")]
    InvalidColumnName(String),
    /// A column read as a type it does not hold.
    #[error("column {column} holds {found}, not {wanted}")]
    InvalidColumnType {
        /// The column's name.
        column: String,
        /// The type found.
        found: &'static str,
        /// The Rust type asked for.
        wanted: &'static str,
    },
    /// An integer column out of the asked type's range.
    #[error("column {column}: {value} is out of range")]
    IntegralValueOutOfRange {
        /// The column's name.
        column: String,
        /// The value found.
        value: i64,
    },
    /// A parameter that cannot be bound.
    #[error("parameter: {0}")]
    ToSqlConversion(String),
    /// A column whose text could not be decoded by the caller (stored JSON).
    #[error("column {column} could not be decoded")]
    FromSqlConversion {
        /// The column's name or index.
        column: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database refused or failed the statement.
    #[error("{kind:?}")]
    Database {
        /// What kind of failure.
        kind: DbErrorKind,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Whether a UNIQUE or PRIMARY KEY constraint refused the write.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            Error::Database {
                kind: DbErrorKind::UniqueViolation,
                ..
            }
        )
    }

    /// Whether the transaction may be retried from the start.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Database {
                kind: DbErrorKind::Retryable,
                ..
            }
        )
    }
}

/// Result alias of the SQL layer.
pub type Result<T> = std::result::Result<T, Error>;

/// The rows a statement returned: column names, then values row by row.
#[derive(Debug, Default)]
pub struct Rows {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Each row's values, one per column.
    pub rows: Vec<Vec<Value>>,
}

/// A backend's connection: runs one statement at a time.
pub trait Session: Send {
    /// Run a statement that returns no rows; the number of rows changed.
    fn execute(&self, sql: &str, params: &[Value]) -> Result<usize>;
    /// Run statements separated by `;`, without parameters.
    fn execute_batch(&self, sql: &str) -> Result<()>;
    /// Run a query. `limit` stops reading after that many rows.
    fn query(&self, sql: &str, params: &[Value], limit: Option<usize>) -> Result<Rows>;
}

/// A connection of either backend, with rusqlite's method names.
pub struct Conn {
    session: Box<dyn Session>,
    dialect: Dialect,
}

impl Conn {
    /// Wrap a backend's session.
    pub fn new(session: Box<dyn Session>, dialect: Dialect) -> Self {
        Conn { session, dialect }
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Run one statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize> {
        self.session.execute(sql, &params.into_values()?)
    }

    /// Run several statements (no parameters).
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.session.execute_batch(sql)
    }

    /// Run a query and map its first row; [`Error::QueryReturnedNoRows`]
    /// when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T> {
        let rows = self.session.query(sql, &params.into_values()?, Some(1))?;
        let values = rows.rows.first().ok_or(Error::QueryReturnedNoRows)?;
        f(&Row {
            columns: &rows.columns,
            values,
        })
    }

    /// A statement to run with [`Statement::query_map`].
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            conn: self,
            sql: sql.to_owned(),
        })
    }

    /// As [`Conn::prepare`]; backends cache prepared statements themselves.
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        self.prepare(sql)
    }
}

/// A statement bound to a connection.
pub struct Statement<'c> {
    conn: &'c Conn,
    sql: String,
}

impl Statement<'_> {
    /// Run the query and map every row; the results in order.
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        mut f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let rows = self
            .conn
            .session
            .query(&self.sql, &params.into_values()?, None)?;
        let mapped: Vec<Result<T>> = rows
            .rows
            .iter()
            .map(|values| {
                f(&Row {
                    columns: &rows.columns,
                    values,
                })
            })
            .collect();
        Ok(mapped.into_iter())
    }

    /// Run the query and map its first row, as [`Conn::query_row`].
    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T> {
        self.conn.query_row(&self.sql, params, f)
    }

    /// Run the statement; the number of rows it changed.
    pub fn execute(&mut self, params: impl Params) -> Result<usize> {
        self.conn.execute(&self.sql, params)
    }
}

/// One row of a result.
pub struct Row<'r> {
    columns: &'r [String],
    values: &'r [Value],
}

/// A column by position or by name.
pub trait RowIndex {
    /// The position of the column in `columns`.
    fn index(&self, columns: &[String]) -> Result<usize>;
}

impl RowIndex for usize {
    fn index(&self, columns: &[String]) -> Result<usize> {
        if *self < columns.len() {
            Ok(*self)
        } else {
            Err(Error::InvalidColumnIndex(*self))
        }
    }
}

impl RowIndex for &str {
    fn index(&self, columns: &[String]) -> Result<usize> {
        columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(self))
            .ok_or_else(|| Error::InvalidColumnName((*self).to_owned()))
    }
}

impl Row<'_> {
    /// The column `idx` as a `T`.
    pub fn get<I: RowIndex, T: FromSql>(&self, idx: I) -> Result<T> {
        let i = idx.index(self.columns)?;
        let value = &self.values[i];
        T::from_sql(value).map_err(|e| match e {
            FromSqlError::InvalidType => Error::InvalidColumnType {
                column: self.columns[i].clone(),
                found: value.type_name(),
                wanted: std::any::type_name::<T>(),
            },
            FromSqlError::OutOfRange(value) => Error::IntegralValueOutOfRange {
                column: self.columns[i].clone(),
                value,
            },
        })
    }
}

/// What a statement's parameters can be given as: `params![a, b]`, an
/// array `[a, b]`, `[]`, a slice of `&dyn ToSql`, or [`params_from_iter`].
pub trait Params {
    /// The values to bind, in order.
    fn into_values(self) -> Result<Vec<Value>>;
}

impl Params for &[&dyn ToSql] {
    fn into_values(self) -> Result<Vec<Value>> {
        self.iter().map(|p| p.to_sql()).collect()
    }
}

impl Params for [&(dyn ToSql + Send + Sync); 0] {
    fn into_values(self) -> Result<Vec<Value>> {
        Ok(Vec::new())
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn into_values(self) -> Result<Vec<Value>> {
                self.iter().map(|p| p.to_sql()).collect()
            }
        }
        impl<T: ToSql> Params for &[T; $n] {
            fn into_values(self) -> Result<Vec<Value>> {
                self.iter().map(|p| p.to_sql()).collect()
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);

/// Parameters from an iterator of values.
pub struct ParamsFromIter<I>(I);

/// Parameters taken from `iter`, in order.
pub fn params_from_iter<I>(iter: I) -> ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToSql,
{
    ParamsFromIter(iter)
}

impl<I> Params for ParamsFromIter<I>
where
    I: IntoIterator,
    I::Item: ToSql,
{
    fn into_values(self) -> Result<Vec<Value>> {
        self.0.into_iter().map(|p| p.to_sql()).collect()
    }
}

/// `params![a, b, c]`: parameters of mixed types, bound in order.
#[macro_export]
macro_rules! sql_params {
    () => {
        &[] as &[&dyn $crate::sql::ToSql]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::sql::ToSql),+] as &[&dyn $crate::sql::ToSql]
    };
}
pub use crate::sql_params as params;

/// `.optional()` on a `query_row` result: no row is `Ok(None)`.
pub trait OptionalExtension<T> {
    /// `Ok(None)` for [`Error::QueryReturnedNoRows`].
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
