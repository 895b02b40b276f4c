//! The step/undo runner: multi-step API operations whose progress is in
//! the store.
//!
//! A create that reserves quota, joins a group, claims a host and assigns
//! it touches four resources; if the third fails the first two must be
//! given back *now*, not when someone notices, and if the process dies in
//! between, start-up must know what was half done. So such an operation
//! is a list of named [`Step`]s, each with a `run` and an `undo`, handed
//! to [`Runner::run`]:
//!
//! ```text
//!  record(kind, subject, payload) ──▶ run 0 ─▶ record ─▶ run 1 ─▶ record ─▶ … ─▶ done
//!                                        step k fails (or its record fails)
//!                                            ▼
//!                          undo k-1 ─▶ record ─▶ … ─▶ undo 0 ─▶ undone
//!                                 an undo fails ─▶ failed (logged; start-up retries)
//! ```
//!
//! The record ([`ferrostack_store::operation::Operation`]) holds the kind,
//! the subject, the owner's payload (any serde type, saved after every step
//! so later undos see what earlier runs decided) and how many steps have
//! their effect in place. At start-up, a [`Registry`] maps each kind to how
//! its steps are rebuilt from the payload and whether an interrupted one is
//! resumed or undone ([`Direction`]); [`Registry::recover`] finishes every
//! unfinished record of the kinds it knows that no live controller owns
//! (each record names its owner incarnation; see `recovery`), and leaves
//! other services' kinds alone.
//!
//! Kinds today, each explained where its steps are written: `server.create`
//! (always undone after a crash: the client never saw the ids) and
//! `server.resize` (resumed once its desired-state change is applied, since
//! the host may be resizing already; undone before that), both in
//! `ferrostack-compute`'s `servers::create` and `servers::resize`. Ports,
//! volumes and migrations are meant to join them.
//!
//! What a step must promise:
//! - `run` either takes effect or fails leaving nothing of its own behind
//!   (the runner undoes the steps *before* a failed one, not the failed one);
//! - `undo` is idempotent and harmless when the step never ran or ran only
//!   in part: after a crash the step that was running is undone too, since
//!   its effect may or may not be in place;
//! - for kinds that resume, `run` is idempotent too (the interrupted step is
//!   run again).
//!
//! The step that was running at a crash is not recorded as done, so that
//! is why both promises are needed. A failed undo stops the unwinding (later
//! undos may depend on it, as a purge after a release does) and leaves the
//! record `failed` with the error chain; nothing is dropped silently.
//!
//! Rejected: a step trait with a context type parameter (closures that
//! capture what they need are shorter and let each service keep its own
//! state type); an async runner (the steps are store writes that take
//! microseconds, like the rest of the store); compensations written by
//! hand at every early return (what the create path did before: each new
//! step had to remember every earlier one, and a crash left rows that
//! start-up could only mark ERROR).

mod recovery;
mod runner;
/// A fault-injecting record store for services' undo tests (only with the
/// `test-support` feature, so no production build carries it).
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use recovery::{Recovery, RecoveryReport, Registry};
pub use runner::Runner;

/// A step's `run` or `undo`: changes the world, may update the payload.
pub type Action<'a, P, E> = Box<dyn FnMut(&mut P) -> Result<(), E> + 'a>;

/// One named step of an operation: what to do and how to take it back.
pub struct Step<'a, P, E> {
    name: &'static str,
    run: Action<'a, P, E>,
    undo: Action<'a, P, E>,
}

impl<'a, P, E> Step<'a, P, E> {
    /// A step called `name` (it appears in logs and error records).
    pub fn new(
        name: &'static str,
        run: impl FnMut(&mut P) -> Result<(), E> + 'a,
        undo: impl FnMut(&mut P) -> Result<(), E> + 'a,
    ) -> Self {
        Step {
            name,
            run: Box::new(run),
            undo: Box::new(undo),
        }
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// What start-up does with an operation that was running at a crash.
/// (One that was already undoing, or whose undo failed, is always undone.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Run the interrupted step again and the rest after it.
    Resume,
    /// Undo the interrupted step and every one before it.
    Undo,
}

/// How an operation ended (for now).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every step ran.
    Done,
    /// Everything that ran was undone.
    Undone,
    /// An undo failed (or the record could not be read); start-up retries.
    Failed,
}

pub use ferrostack_common::error::error_chain;
