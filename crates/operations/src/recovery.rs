//! [`Registry`]: finish what a crash interrupted.
//!
//! Each service registers the kinds it owns with a function that rebuilds
//! the steps from a record's payload and says which way to go. Records of
//! kinds a registry does not know belong to another service (or a newer
//! version) and are left as they are.
//!
//! Only *orphaned* records are touched: those whose owner incarnation is
//! not a live controller (a crashed or stopped one, or this controller's
//! own previous process; see `ferrostack_store::controller`). A live
//! controller's record is its own business, even when it is old: undoing
//! it would take back a create that controller is still running. Each
//! orphan is claimed (made this runner's) by one conditional write before
//! anything is done to it, so controllers sweeping at the same moment
//! finish each record once. The same sweep runs at start-up and, on a
//! timer, for controllers that died while others live on.

use crate::{error_chain, Direction, Outcome, Runner, Step};
use ferrostack_store::operation::Operation;
use ferrostack_store::{StoreError, StoreResult};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;

/// How to finish one interrupted operation.
pub struct Recovery<'a, P, E> {
    /// Resume or undo (only for a record that was still running).
    pub direction: Direction,
    /// The same steps [`Runner::run`] was given, rebuilt from the payload.
    pub steps: Vec<Step<'a, P, E>>,
}

type Finisher<'a> = Box<dyn Fn(&Runner, Operation) -> Outcome + 'a>;

/// Kind → how to finish it.
#[derive(Default)]
pub struct Registry<'a> {
    kinds: BTreeMap<String, Finisher<'a>>,
}

/// What [`Registry::recover`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Resumed to the end.
    pub done: usize,
    /// Undone.
    pub undone: usize,
    /// Left `failed` (logged): start-up tries again next time.
    pub failed: usize,
    /// Of kinds this registry does not own; untouched.
    pub skipped: usize,
}

impl<'a> Registry<'a> {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Finish records of `kind` with `plan`, which reads the payload as a
    /// `P` and rebuilds the steps. A payload that does not read, or a plan
    /// that fails, leaves the record `failed` with the reason.
    pub fn register<P, E, F>(&mut self, kind: &str, plan: F)
    where
        P: Serialize + DeserializeOwned + 'a,
        E: std::error::Error + From<StoreError> + 'a,
        F: Fn(&Operation, &P) -> Result<Recovery<'a, P, E>, E> + 'a,
    {
        let finish = move |runner: &Runner, op: Operation| {
            let payload: P = match serde_json::from_value(op.payload.clone()) {
                Ok(p) => p,
                Err(e) => return runner.give_up(op, format!("unreadable payload: {e}")),
            };
            match plan(&op, &payload) {
                Ok(r) => runner.finish(op, payload, r.steps, r.direction),
                Err(e) => runner.give_up(op, error_chain(&e)),
            }
        };
        self.kinds.insert(kind.to_string(), Box::new(finish));
    }

    /// Finish every orphaned record of a registered kind, oldest first
    /// (see the module docs); one another controller claimed first is
    /// counted as skipped.
    pub fn recover(&self, runner: &Runner) -> StoreResult<RecoveryReport> {
        let mut report = RecoveryReport::default();
        let me = runner.store().incarnation();
        for op in runner.store().orphaned_operations()? {
            let Some(finish) = self.kinds.get(&op.kind) else {
                tracing::debug!(operation = %op.id, kind = %op.kind, "not this registry's kind");
                report.skipped += 1;
                continue;
            };
            if !runner.store().claim_operation(&op.id, me.as_deref())? {
                tracing::debug!(operation = %op.id, "claimed by another controller first");
                report.skipped += 1;
                continue;
            }
            match finish(runner, op) {
                Outcome::Done => report.done += 1,
                Outcome::Undone => report.undone += 1,
                Outcome::Failed => report.failed += 1,
            }
        }
        Ok(report)
    }
}
