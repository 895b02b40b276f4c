//! Values crossing the boundary between Rust and a database: one owned
//! [`Value`] type that both backends read into and bind from, and the
//! [`ToSql`]/[`FromSql`] conversions the store's code uses.
//!
//! The set of types is SQLite's (null, integer, real, text, blob), because
//! that is what the schema is written in: booleans are integers 0/1,
//! timestamps are integers, JSON documents are text. A PostgreSQL column
//! of another type (BOOL, INT4, NUMERIC) is read into the nearest of
//! these, so a query reads the same on both backends.

use super::{Error, Result};

/// One value of a column or a parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit signed integer (also booleans, as 0 and 1).
    Integer(i64),
    /// A double.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Value {
    /// The type's name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Integer(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        }
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Integer(v as i64)
    }
}

/// A Rust value that can be bound as a parameter.
pub trait ToSql {
    /// The value to bind.
    fn to_sql(&self) -> Result<Value>;
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_sql(&self) -> Result<Value> {
        (**self).to_sql()
    }
}

impl<T: ToSql + ?Sized> ToSql for Box<T> {
    fn to_sql(&self) -> Result<Value> {
        (**self).to_sql()
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_sql(&self) -> Result<Value> {
        match self {
            Some(v) => v.to_sql(),
            None => Ok(Value::Null),
        }
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> Result<Value> {
        Ok(self.clone())
    }
}

impl ToSql for str {
    fn to_sql(&self) -> Result<Value> {
        Ok(Value::Text(self.to_owned()))
    }
}

impl ToSql for String {
    fn to_sql(&self) -> Result<Value> {
        Ok(Value::Text(self.clone()))
    }
}

impl ToSql for [u8] {
    fn to_sql(&self) -> Result<Value> {
        Ok(Value::Blob(self.to_vec()))
    }
}

impl ToSql for Vec<u8> {
    fn to_sql(&self) -> Result<Value> {
        Ok(Value::Blob(self.clone()))
    }
}

impl ToSql for bool {
    fn to_sql(&self) -> Result<Value> {
        Ok(Value::Integer(*self as i64))
    }
}

impl ToSql for f64 {
    fn to_sql(&self) -> Result<Value> {
        Ok(Value::Real(*self))
    }
}

macro_rules! integer_to_sql {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_sql(&self) -> Result<Value> {
                i64::try_from(*self)
                    .map(Value::Integer)
                    .map_err(|_| Error::ToSqlConversion(format!("{self} does not fit a 64-bit integer")))
            }
        }
    )*};
}
integer_to_sql!(i8, i16, i32, i64, u8, u16, u32, u64, usize);

/// A Rust value that can be read from a column.
pub trait FromSql: Sized {
    /// Read `value`; `Err` names the type found, when it cannot be read.
    fn from_sql(value: &Value) -> std::result::Result<Self, FromSqlError>;
}

/// Why a column could not be read as the type asked for.
#[derive(Debug)]
pub enum FromSqlError {
    /// The column holds another type.
    InvalidType,
    /// An integer out of the asked type's range.
    OutOfRange(i64),
}

impl<T: FromSql> FromSql for Option<T> {
    fn from_sql(value: &Value) -> std::result::Result<Self, FromSqlError> {
        match value {
            Value::Null => Ok(None),
            v => T::from_sql(v).map(Some),
        }
    }
}

impl FromSql for Value {
    fn from_sql(value: &Value) -> std::result::Result<Self, FromSqlError> {
        Ok(value.clone())
    }
}

impl FromSql for String {
    fn from_sql(value: &Value) -> std::result::Result<Self, FromSqlError> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

impl FromSql for Vec<u8> {
    fn from_sql(value: &Value) -> std::result::Result<Self, FromSqlError> {
        match value {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

impl FromSql for f64 {
    fn from_sql(value: &Value) -> std::result::Result<Self, FromSqlError> {
        match value {
            Value::Real(f) => Ok(*f),
            Value::Integer(i) => Ok(*i as f64),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

impl FromSql for bool {
    fn from_sql(value: &Value) -> std::result::Result<Self, FromSqlError> {
        match value {
            Value::Integer(i) => Ok(*i != 0),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

macro_rules! integer_from_sql {
    ($($t:ty),*) => {$(
        impl FromSql for $t {
            fn from_sql(value: &Value) -> std::result::Result<Self, FromSqlError> {
                match value {
                    Value::Integer(i) => <$t>::try_from(*i).map_err(|_| FromSqlError::OutOfRange(*i)),
                    _ => Err(FromSqlError::InvalidType),
                }
            }
        }
    )*};
}
integer_from_sql!(i8, i16, i32, i64, u8, u16, u32, u64, usize);
