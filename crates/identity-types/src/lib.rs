//! Keystone v3 wire types, shared by the identity service, the dashboard,
//! and tests. Serde only: no HTTP framework, no database.
//!
//! Request types accept what OpenStack clients send (unknown keys on
//! resources are kept as "extra" attributes, as Keystone does). View types
//! render exactly the fields clients read.

pub mod auth;
pub mod catalog_extras;
pub mod error;
pub mod resources;
pub mod v2;

pub use error::ErrorBody;
