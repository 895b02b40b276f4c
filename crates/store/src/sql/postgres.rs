//! The PostgreSQL backend of [`super::Session`]: the synchronous `postgres`
//! client, with a prepared-statement cache per connection.
//!
//! The store writes its statements for SQLite's parser and [`Value`]'s
//! five types; this backend bridges the two differences that are the same
//! for every statement, so no statement needs to know:
//! - placeholders: `?N` and `?` become `$N` (outside string literals,
//!   quoted identifiers and comments), see [`placeholders`];
//! - types: a parameter is encoded as the type PostgreSQL inferred for its
//!   placeholder (an integer bound where a `BOOL` or `INT4` is expected, a
//!   text where `JSONB` is), and a column is read into the nearest
//!   [`Value`] (`BOOL` as 0/1, `NUMERIC` from `sum()` as an integer when it
//!   is one, `JSONB` as its text).
//!
//! What is not mechanical (SQLite's JSON functions, `max(a, b)`, bare
//! integer columns used as booleans) is the statement's business, through
//! [`super::Conn::dialect`] or a spelling both accept.

use super::{DbErrorKind, Error, Result, Rows, Session, Value};
use bytes::BytesMut;
use postgres::error::SqlState;
use postgres::types::{FromSql, IsNull, ToSql, Type};
use std::cell::RefCell;
use std::collections::HashMap;

/// Prepared statements kept per connection before the cache is emptied
/// (statements built with `format!`, such as `IN (...)` lists of varying
/// length, would otherwise grow it without bound).
const STATEMENT_CACHE: usize = 512;

/// A PostgreSQL connection as a [`Session`].
pub(crate) struct PgSession {
    // `Session` runs statements through `&self`, and the client needs
    // `&mut`; the `Conn` holding this is behind its pool's mutex, so the
    // cell is never borrowed twice.
    inner: RefCell<Inner>,
}

struct Inner {
    client: postgres::Client,
    /// Prepared statements by the store's SQL text (before translation).
    statements: HashMap<String, postgres::Statement>,
}

impl PgSession {
    /// Wrap an open connection.
    pub(crate) fn new(client: postgres::Client) -> Self {
        PgSession {
            inner: RefCell::new(Inner {
                client,
                statements: HashMap::new(),
            }),
        }
    }
}

impl Inner {
    fn prepare(&mut self, sql: &str, given: usize) -> Result<postgres::Statement> {
        let statement = match self.statements.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = self.client.prepare(&placeholders(sql))?;
                if self.statements.len() >= STATEMENT_CACHE {
                    self.statements.clear();
                }
                self.statements.insert(sql.to_owned(), statement.clone());
                statement
            }
        };
        if statement.params().len() != given {
            return Err(Error::ToSqlConversion(format!(
                "{given} parameters given, the statement has {}",
                statement.params().len()
            )));
        }
        Ok(statement)
    }
}

fn bound(params: &[Value]) -> Vec<Param<'_>> {
    params.iter().map(Param).collect()
}

fn as_dyn<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Session for PgSession {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<usize> {
        let mut inner = self.inner.borrow_mut();
        let statement = inner.prepare(sql, params.len())?;
        let params = bound(params);
        let changed = inner.client.execute(&statement, &as_dyn(&params))?;
        Ok(changed as usize)
    }

    fn execute_batch(&self, sql: &str) -> Result<()> {
        Ok(self.inner.borrow_mut().client.batch_execute(sql)?)
    }

    fn query(&self, sql: &str, params: &[Value], limit: Option<usize>) -> Result<Rows> {
        let mut inner = self.inner.borrow_mut();
        let statement = inner.prepare(sql, params.len())?;
        let params = bound(params);
        let rows = inner.client.query(&statement, &as_dyn(&params))?;
        let columns: Vec<String> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let take = limit.unwrap_or(rows.len()).min(rows.len());
        let mut out = Rows {
            columns,
            rows: Vec::with_capacity(take),
        };
        for row in rows.iter().take(take) {
            let mut values = Vec::with_capacity(row.len());
            for i in 0..row.len() {
                let Column(value) = row.try_get(i)?;
                values.push(value);
            }
            out.rows.push(values);
        }
        Ok(out)
    }
}

/// `?N` and `?` (SQLite's placeholders) as `$N`, outside string literals,
/// quoted identifiers and comments. A bare `?` is numbered as SQLite does:
/// one past the largest number so far.
pub(crate) fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut largest = 0u32;
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        let skip = match c {
            '\'' | '"' => {
                let mut i = 1;
                loop {
                    match rest[i..].find(c) {
                        Some(j) if rest[i + j + 1..].starts_with(c) => i += j + 2,
                        Some(j) => break i + j + 1,
                        None => break rest.len(),
                    }
                }
            }
            '-' if rest.starts_with("--") => rest.find('\n').unwrap_or(rest.len()),
            '?' => {
                let digits = rest[1..]
                    .find(|d: char| !d.is_ascii_digit())
                    .unwrap_or(rest.len() - 1);
                let n = if digits == 0 {
                    largest + 1
                } else {
                    rest[1..=digits].parse().unwrap_or(largest + 1)
                };
                largest = largest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
                rest = &rest[1 + digits..];
                continue;
            }
            _ => c.len_utf8(),
        };
        out.push_str(&rest[..skip]);
        rest = &rest[skip..];
    }
    out
}

/// A [`Value`] bound as a parameter, encoded as the type PostgreSQL
/// inferred for its placeholder.
#[derive(Debug)]
struct Param<'a>(&'a Value);

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        let mismatch = || -> BoxError {
            format!(
                "a {} parameter where PostgreSQL expects {ty}",
                self.0.type_name()
            )
            .into()
        };
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    i.to_string().to_sql(&Type::TEXT, out)
                }
                _ => Err(mismatch()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => Err(mismatch()),
            },
            Value::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    s.as_str().to_sql(&Type::TEXT, out)
                }
                // JSON's binary form is its text; JSONB's, a version byte first.
                Type::JSON => {
                    out.extend_from_slice(s.as_bytes());
                    Ok(IsNull::No)
                }
                Type::JSONB => {
                    out.extend_from_slice(&[1]);
                    out.extend_from_slice(s.as_bytes());
                    Ok(IsNull::No)
                }
                _ => Err(mismatch()),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(mismatch()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A column read into the nearest [`Value`].
struct Column(Value);

impl<'a> FromSql<'a> for Column {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        let value = match *ty {
            Type::INT8 => Value::Integer(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Integer(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Integer(i16::from_sql(ty, raw)?.into()),
            Type::OID => Value::Integer(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Integer(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::NUMERIC => numeric(raw)?,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Value::Text(String::from_sql(ty, raw)?)
            }
            Type::JSON => Value::Text(std::str::from_utf8(raw)?.to_owned()),
            Type::JSONB => match raw.split_first() {
                Some((1, text)) => Value::Text(std::str::from_utf8(text)?.to_owned()),
                _ => return Err("unknown JSONB version".into()),
            },
            Type::BYTEA => Value::Blob(raw.to_vec()),
            // What a function called for its effect returns (pg_notify).
            Type::VOID => Value::Null,
            _ => return Err(format!("a column of type {ty} has no Value").into()),
        };
        Ok(Column(value))
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Self, BoxError> {
        Ok(Column(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A `NUMERIC` (what `sum()` of a `BIGINT` column gives) as an integer when
/// it is a whole number that fits, else as a double. The binary form:
/// digit count, weight (of the first base-10000 digit), sign, display
/// scale, then the digits.
fn numeric(raw: &[u8]) -> std::result::Result<Value, BoxError> {
    let word = |i: usize| -> std::result::Result<u16, BoxError> {
        raw.get(2 * i..2 * i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "short NUMERIC".into())
    };
    let ndigits = usize::from(word(0)?);
    let weight = word(1)? as i16;
    let sign = word(2)?;
    if sign == 0xC000 {
        return Ok(Value::Real(f64::NAN));
    }
    let negative = sign == 0x4000;
    let mut whole: i128 = 0;
    let mut float = 0f64;
    let mut fraction = false;
    for d in 0..ndigits {
        let digit = word(4 + d)?;
        let power = i32::from(weight) - d as i32;
        float += f64::from(digit) * 10000f64.powi(power);
        if power < 0 {
            fraction |= digit != 0;
        } else {
            whole =
                whole.saturating_add(i128::from(digit) * 10000i128.saturating_pow(power as u32));
        }
    }
    let whole = if negative { -whole } else { whole };
    Ok(match i64::try_from(whole) {
        Ok(i) if !fraction => Value::Integer(i),
        _ => Value::Real(if negative { -float } else { float }),
    })
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        let kind = match e.code() {
            Some(c) if *c == SqlState::UNIQUE_VIOLATION => DbErrorKind::UniqueViolation,
            Some(c)
                if *c == SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == SqlState::T_R_DEADLOCK_DETECTED =>
            {
                DbErrorKind::Retryable
            }
            _ => DbErrorKind::Other,
        };
        Error::Database {
            kind,
            source: Box::new(e),
        }
    }
}

impl From<postgres::Error> for crate::StoreError {
    fn from(e: postgres::Error) -> Self {
        crate::StoreError::Database(e.into())
    }
}

#[cfg(test)]
mod tests;
