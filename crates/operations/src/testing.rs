//! A fault-injecting [`OperationStore`] for tests of services that use the
//! runner: it records into a real store, except that, once armed, it fails
//! (or panics, as a dying process would stop) when asked to record that a
//! given step of a given kind completed.
//!
//! It is a seam on the store, not a mock of the steps: the steps under
//! test run for real, and what a user would notice (the API error, what is
//! left afterwards) is asserted on the real stores. Failing the record
//! right after a step is, to the runner, the same as the next step
//! failing, with the step itself also to undo; panicking there leaves the
//! store exactly as a crash between two steps would.

use ferrostack_store::operation::{Operation, OperationState, OperationStore};
use ferrostack_store::{StoreError, StoreResult};
use std::sync::{Arc, Mutex};

/// What to do when the armed record is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultMode {
    /// Return a store error.
    Fail,
    /// Panic (the operation stops dead, undoing nothing).
    Crash,
}

#[derive(Debug)]
struct Armed {
    kind: String,
    completed: u32,
    mode: FaultMode,
}

/// An [`OperationStore`] that can be told to fail one progress record.
pub struct FaultyRecords {
    inner: Arc<dyn OperationStore>,
    armed: Mutex<Option<Armed>>,
}

impl FaultyRecords {
    /// Pass everything through to `inner` until armed.
    pub fn new(inner: Arc<dyn OperationStore>) -> Self {
        FaultyRecords {
            inner,
            armed: Mutex::new(None),
        }
    }

    /// The next time an operation of `kind` records that its first
    /// `completed` steps ran, do `mode` instead (once).
    pub fn arm(&self, kind: &str, completed: u32, mode: FaultMode) {
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) = Some(Armed {
            kind: kind.to_string(),
            completed,
            mode,
        });
    }

    /// True once the armed fault has fired.
    pub fn fired(&self) -> bool {
        self.armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }
}

impl OperationStore for FaultyRecords {
    fn create_operation(&self, op: &Operation) -> StoreResult<()> {
        self.inner.create_operation(op)
    }

    fn update_operation(&self, op: &Operation) -> StoreResult<()> {
        let forward = matches!(op.state, OperationState::Running | OperationState::Done);
        let mode = {
            let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
            match armed.as_ref() {
                Some(a) if forward && a.kind == op.kind && a.completed == op.completed => {
                    armed.take().map(|a| a.mode)
                }
                _ => None,
            }
        };
        match mode {
            None => self.inner.update_operation(op),
            Some(FaultMode::Fail) => Err(StoreError::Invalid(format!(
                "injected failure recording step {} of {}",
                op.completed, op.kind
            ))),
            Some(FaultMode::Crash) => panic!(
                "injected crash recording step {} of {} (a test simulating a dying process)",
                op.completed, op.kind
            ),
        }
    }

    fn get_operation(&self, id: &str) -> StoreResult<Option<Operation>> {
        self.inner.get_operation(id)
    }

    fn operations_of(&self, subject: &str) -> StoreResult<Vec<Operation>> {
        self.inner.operations_of(subject)
    }

    fn unfinished_operations(&self) -> StoreResult<Vec<Operation>> {
        self.inner.unfinished_operations()
    }

    fn orphaned_operations(&self) -> StoreResult<Vec<Operation>> {
        self.inner.orphaned_operations()
    }

    fn claim_operation(&self, id: &str, owner: Option<&str>) -> StoreResult<bool> {
        self.inner.claim_operation(id, owner)
    }

    fn incarnation(&self) -> Option<String> {
        self.inner.incarnation()
    }
}
