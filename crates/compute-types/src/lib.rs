//! Wire types of ferrostack's compute API (Nova v2.1).
//!
//! Shapes only: no axum, no database. The compute service renders these,
//! and tests, the dashboard or an agent can parse them without depending
//! on the server. Quota views are maps rather than structs on purpose:
//! which keys appear depends on the microversion, and a struct would have
//! to pretend every field is optional.

pub mod fault;
pub mod flavor;
pub mod keypair;
pub mod quota;
pub mod version;

pub use fault::Fault;
pub use version::{ApiVersion, ParseVersionError};
