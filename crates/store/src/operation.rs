//! Records of multi-step operations and the [`OperationStore`] trait the
//! step/undo runner (`ferrostack-operations`) keeps them in.
//!
//! An API operation that touches several resources (a server create: rows,
//! quota, group membership, a placement claim, the host assignment) is run
//! as named steps, each with an undo. Its record says how far it got, so a
//! failure is undone at once and a crash is resumed or undone at start-up:
//!
//! ```text
//!            step ok (completed += 1)
//!          ┌────────┐
//!          ▼        │           last step ok
//!   ──▶ running ────┴───────────────────────────▶ done
//!          │ a step failed / start-up chose undo
//!          ▼
//!       undoing ──(undo ok, completed -= 1)──┐
//!          │  ▲                          ◀───┘
//!          │  └───── start-up retries ─────┐
//!          │ completed == 0                │
//!          ├──────────────────▶ undone     │
//!          │ an undo failed                │
//!          └──────────────────▶ failed ────┘
//! ```
//!
//! `completed` counts the steps whose effect is in place: steps
//! `0..completed` have run (or, while undoing, not yet been undone). The
//! payload is the owner's JSON; the store never looks inside it.
//!
//! Each record names its *owner*: the controller incarnation running it
//! (see [`crate::controller`]). Start-up and the periodic sweep finish only
//! records whose owner is not live, taking each over with
//! [`OperationStore::claim_operation`] first, so a live controller's
//! operation is never resumed or undone under its feet and a dead one's is
//! finished exactly once.
//!
//! Rejected: one table per kind of operation (each service would need a
//! migration for every new multi-step action), and keeping progress only in
//! memory (a crash would forget what to take back).

use crate::StoreResult;
use serde_json::Value;

/// Where an operation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationState {
    /// Steps are running forward.
    Running,
    /// A step failed (or start-up chose to undo); undos are running.
    Undoing,
    /// Every step ran.
    Done,
    /// Every step that ran was undone.
    Undone,
    /// An undo failed; start-up retries the undos.
    Failed,
}

impl OperationState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationState::Running => "running",
            OperationState::Undoing => "undoing",
            OperationState::Done => "done",
            OperationState::Undone => "undone",
            OperationState::Failed => "failed",
        }
    }

    /// The state named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => OperationState::Running,
            "undoing" => OperationState::Undoing,
            "done" => OperationState::Done,
            "undone" => OperationState::Undone,
            "failed" => OperationState::Failed,
            _ => return None,
        })
    }

    /// True for `done` and `undone`: nothing is left to do.
    pub fn is_final(self) -> bool {
        matches!(self, OperationState::Done | OperationState::Undone)
    }
}

/// One multi-step operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// Its id (a UUID).
    pub id: String,
    /// What it is, e.g. `server.create`; start-up finds how to finish it by this.
    pub kind: String,
    /// The resource it acts on (a server id, a reservation id).
    pub subject: String,
    /// The owner's state, as JSON.
    pub payload: Value,
    /// How many steps have their effect in place (`0..completed`).
    pub completed: u32,
    /// Where it stands.
    pub state: OperationState,
    /// Why it is undoing, undone or failed: the error chain, for operators.
    pub error: Option<String>,
    /// The controller incarnation running it (`None`: written before
    /// controllers were registered, or by a process that never registered;
    /// never live, so recovered by whoever sweeps).
    pub owner: Option<String>,
    /// µs since the epoch.
    pub created_at: i64,
    /// µs since the epoch.
    pub updated_at: i64,
}

/// Stored operation records.
pub trait OperationStore: Send + Sync {
    /// Record a new operation. A taken id is a [`crate::StoreError::Conflict`].
    fn create_operation(&self, op: &Operation) -> StoreResult<()>;
    /// Write back its progress: `payload`, `completed`, `state`, `error`
    /// and `updated_at` (the rest never changes).
    /// [`crate::StoreError::NotFound`] if absent.
    fn update_operation(&self, op: &Operation) -> StoreResult<()>;
    /// One operation.
    fn get_operation(&self, id: &str) -> StoreResult<Option<Operation>>;
    /// The operations on `subject`, oldest first.
    fn operations_of(&self, subject: &str) -> StoreResult<Vec<Operation>>;
    /// Operations that are not final (`running`, `undoing`, `failed`),
    /// oldest first.
    fn unfinished_operations(&self) -> StoreResult<Vec<Operation>>;
    /// Unfinished operations whose owner is not a live controller
    /// incarnation, oldest first: what recovery has to finish.
    fn orphaned_operations(&self) -> StoreResult<Vec<Operation>>;
    /// Make `owner` the owner of operation `id` if it is still unfinished
    /// and its owner still not live, in one statement: of several
    /// controllers claiming the same record at once, exactly one gets
    /// `true` and finishes it.
    fn claim_operation(&self, id: &str, owner: Option<&str>) -> StoreResult<bool>;
    /// The incarnation that owns the records this store creates (see
    /// [`crate::controller::ControllerStore::register_controller`]).
    fn incarnation(&self) -> Option<String> {
        None
    }
}
