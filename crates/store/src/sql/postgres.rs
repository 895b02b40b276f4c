//! The PostgreSQL backend of [`super::Session`].

use super::{DbErrorKind, Error};
use postgres::error::SqlState;

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
