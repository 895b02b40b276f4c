//! The installer: everything `ferrostack gen-answer-file`, `ferrostack
//! check` and (later) `ferrostack deploy` do, as a library so it is tested
//! without root, without a network and without the binary.
//!
//! The seed's author lost weeks to faults a tool could have named before
//! installing anything: an unsynchronized clock, a bridge name typed
//! wrong, full-width punctuation in the answer file, too little memory, a
//! missing CPU feature. So the order here is: read the answer file with
//! exact diagnostics ([`answer`]), then look at the host and say, per
//! finding, OK / WARN / FAIL, the evidence and the fix ([`check`]).
//!
//! The host is seen only through the [`check::HostFacts`] trait: a local
//! implementation reads `/proc`, `/sys` and runs `chronyc`; a fake holds
//! facts in memory for tests; deploy will add one that asks a remote host
//! over SSH, and the checks will not change.

pub mod answer;
pub mod check;
pub mod deploy;
pub mod diag;

pub use diag::{Diagnostic, Severity};
