//! Test support for the store's tests and other crates' (feature
//! `test-support`): for now a private PostgreSQL ([`postgres`]).
//!
//! Here rather than in `ferrostack-testkit`: the store's own tests need it,
//! and testkit depends on the store (a dev-dependency back on testkit would
//! build the store twice, with two incompatible sets of types).

pub mod postgres;
