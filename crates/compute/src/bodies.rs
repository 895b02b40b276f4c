//! Typed request bodies meet compute's errors.
//!
//! The bodies themselves are types in [`ferrostack_compute_types`] (a
//! module per resource), read by [`crate::error::Json`] so that malformed
//! JSON answers in Nova's shape; their checks answer
//! [`BodyError`], which becomes a [`ComputeError`] here, in one place.

use crate::error::ComputeError;
use ferrostack_compute_types::BodyError;

impl From<BodyError> for ComputeError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Forbidden(m) => ComputeError::Forbidden(m),
            other => ComputeError::BadRequest(other.to_string()),
        }
    }
}
