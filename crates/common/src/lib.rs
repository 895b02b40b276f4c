//! Plumbing every ferrostack service shares and nothing service-specific.
//!
//! What lives here is small on purpose: identifier generation, the OpenStack
//! timestamp formats, the request-id middleware (every response carries
//! `X-OpenStack-Request-Id`), the error pattern every service shares
//! ([`error`]: a status + message core, one cause chain for the log; each
//! service only renders its body), list paging ([`page`]: `limit` and
//! `marker` read and applied once, next-link queries), and the listener
//! helper that serves an axum router until shutdown. Anything with a wire
//! shape of its own (error bodies, resource views) belongs in a service's
//! `*-types` crate, so that the dashboard, agents and tests can depend on
//! shapes without depending on servers.

pub mod error;
pub mod ids;
pub mod json;
pub mod page;
pub mod request_id;
pub mod serve;
pub mod time;

pub use request_id::{RequestId, REQUEST_ID_HEADER};
