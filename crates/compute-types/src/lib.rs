//! Wire types of ferrostack's compute API (Nova v2.1).
//!
//! Shapes only: no axum, no database. The compute service renders these,
//! and tests, the dashboard or an agent can parse them without depending
//! on the server. Quota views are maps rather than structs on purpose:
//! which keys appear depends on the microversion, and a struct would have
//! to pretend every field is optional.
//!
//! Request bodies are types here too, one module per resource (see
//! [`body`] for why their fields keep what was sent and how refusals are
//! worded as Nova words them).

pub mod aggregate;
pub mod body;
pub mod create_backup;
pub mod fault;
pub mod flavor;
pub mod flavor_body;
pub mod interface;
pub mod keypair;
pub mod quota;
pub mod server;
pub mod server_action;
pub mod server_group;
pub mod server_metadata;
pub mod service;
pub mod version;
pub mod volume_attachment;
pub mod volume_proxy;

pub use body::BodyError;
pub use fault::Fault;
pub use version::{ApiVersion, ParseVersionError};
