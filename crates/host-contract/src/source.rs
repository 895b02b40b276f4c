//! The two traits the agent's engine runs against: where it reads its
//! host's desired document ([`DesiredStateSource`]) and where it reports
//! ([`ObservedStateSink`]).
//!
//! The controller implements both over its store (in process for
//! `allinone`, `ferrostack_compute::hostlink`); a remote agent implements
//! them over the host API (`ferrostack_agent::remote`); tests use the
//! in-memory pair in `ferrostack_agent::memory`.

use crate::{HostDesired, ObservedInstance, ObservedObject};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// never gives up on its host.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The backend (store, controller) could not be reached or failed.
    #[error("desired/observed state backend unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// This end does not keep objects of that kind yet (the controller
    /// writes no such desired state, so a conforming agent never asks).
    #[error("objects of kind {0} are not kept by this control plane")]
    UnsupportedKind(crate::Kind),
}

/// The answer of a sink that keeps no objects of other kinds: nothing to
/// do for an empty report, [`SourceError::UnsupportedKind`] otherwise.
pub fn refuse_objects(observed: &[ObservedObject]) -> Result<(), SourceError> {
    match observed.first() {
        None => Ok(()),
        Some(o) => Err(SourceError::UnsupportedKind(o.key.kind)),
    }
}

/// The future the source and sink methods return (boxed so the traits are
/// object-safe, like `ferrostack_hypervisor::HvFuture`).
pub type StateFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SourceError>> + Send + 'a>>;

/// Where the agent reads the desired state of its host.
pub trait DesiredStateSource: Send + Sync {
    /// Everything assigned to `host`, with the revision it was read at.
    fn assigned<'a>(&'a self, host: &'a str) -> StateFuture<'a, HostDesired>;

    /// Waits until the desired state of `host` may have changed since
    /// `since_revision`, or `timeout` passes (long poll), and returns the
    /// current revision. Returning early or spuriously is allowed: the
    /// agent re-reads [`assigned`](Self::assigned) when the revision moved.
    fn watch<'a>(
        &'a self,
        host: &'a str,
        since_revision: u64,
        timeout: Duration,
    ) -> StateFuture<'a, u64>;
}

/// Where the agent reports what it observes.
pub trait ObservedStateSink: Send + Sync {
    /// Records these instances' observed state (an upsert by id; a full
    /// resync reports every instance the agent knows).
    fn report<'a>(&'a self, host: &'a str, observed: Vec<ObservedInstance>) -> StateFuture<'a, ()>;

    /// What was last reported for `host`: the agent reads it at start so a
    /// restart neither re-acts on a generation it finished nor repeats a
    /// reboot.
    fn last_reported<'a>(&'a self, host: &'a str) -> StateFuture<'a, Vec<ObservedInstance>>;

    /// Records the observed state of objects of the other kinds (network
    /// and block-device objects; an upsert by key). Only kinds the agent
    /// has a driver for are ever reported.
    fn report_objects<'a>(
        &'a self,
        host: &'a str,
        observed: Vec<ObservedObject>,
    ) -> StateFuture<'a, ()>;

    /// What was last reported of the other kinds for `host` (read at
    /// start, like [`last_reported`](Self::last_reported)).
    fn last_reported_objects<'a>(&'a self, host: &'a str) -> StateFuture<'a, Vec<ObservedObject>>;
}
