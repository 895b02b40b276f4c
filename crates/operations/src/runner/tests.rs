//! The runner against the real SQLite store: the order of runs and undos,
//! what the record says afterwards, and start-up finishing what a crash
//! or a failed undo left.

#![allow(clippy::unwrap_used)]

use crate::testing::{FaultMode, FaultyRecords};
use crate::{Direction, Outcome, Recovery, RecoveryReport, Registry, Runner, Step};
use ferrostack_store::operation::{Operation, OperationState, OperationStore};
use ferrostack_store::{SqliteStore, StoreError};
use std::cell::{Cell, RefCell};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
enum TestError {
    #[error("{0} broke")]
    Broke(&'static str),
    #[error("store")]
    Store(#[from] StoreError),
}

/// The payload: what ran, in order (it is saved with every step).
type Log = Vec<String>;

fn store() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("ops.db")).unwrap();
    (dir, Arc::new(s))
}

/// What the steps do to the world, and which of them break.
#[derive(Default)]
struct World {
    seen: RefCell<Vec<String>>,
    fail_run: Option<&'static str>,
    fail_undo: Option<&'static str>,
    /// How many more times the undo of `fail_undo` fails.
    undo_failures: Cell<u32>,
}

impl World {
    /// Steps `names`, logging into the payload and into `seen`.
    fn steps(&self, names: &[&'static str]) -> Vec<Step<'_, Log, TestError>> {
        names
            .iter()
            .map(|&name| {
                Step::new(
                    name,
                    move |log: &mut Log| {
                        self.seen.borrow_mut().push(format!("run {name}"));
                        if self.fail_run == Some(name) {
                            return Err(TestError::Broke(name));
                        }
                        log.push(name.to_string());
                        Ok(())
                    },
                    move |log: &mut Log| {
                        self.seen.borrow_mut().push(format!("undo {name}"));
                        if self.fail_undo == Some(name) && self.undo_failures.get() > 0 {
                            self.undo_failures.set(self.undo_failures.get() - 1);
                            return Err(TestError::Broke(name));
                        }
                        log.retain(|n| n != name);
                        Ok(())
                    },
                )
            })
            .collect()
    }

    fn seen(&self) -> Vec<String> {
        self.seen.take()
    }
}

fn only_record(store: &SqliteStore, subject: &str) -> Operation {
    let mut ops = store.operations_of(subject).unwrap();
    assert_eq!(ops.len(), 1, "{ops:?}");
    ops.remove(0)
}

#[test]
fn every_step_runs_in_order_and_the_record_ends_done_with_the_payload() {
    let (_d, store) = store();
    let world = World::default();
    let out = Runner::new(store.clone())
        .run("test.op", "s1", Log::new(), world.steps(&["a", "b", "c"]))
        .unwrap();
    assert_eq!(out, ["a", "b", "c"]);
    assert_eq!(world.seen(), ["run a", "run b", "run c"]);
    let op = only_record(&store, "s1");
    assert_eq!((op.state, op.completed), (OperationState::Done, 3));
    assert_eq!(op.payload, serde_json::json!(["a", "b", "c"]));
}

#[test]
fn a_failing_step_undoes_the_earlier_ones_at_once_in_reverse() {
    let (_d, store) = store();
    let world = World {
        fail_run: Some("c"),
        ..Default::default()
    };
    let err = Runner::new(store.clone())
        .run(
            "test.op",
            "s1",
            Log::new(),
            world.steps(&["a", "b", "c", "d"]),
        )
        .unwrap_err();
    assert!(matches!(err, TestError::Broke("c")), "{err:?}");
    assert_eq!(
        world.seen(),
        ["run a", "run b", "run c", "undo b", "undo a"]
    );
    let op = only_record(&store, "s1");
    assert_eq!((op.state, op.completed), (OperationState::Undone, 0));
    assert_eq!(op.payload, serde_json::json!([]));
    assert!(op.error.unwrap().contains("step c: c broke"));
}

#[test]
fn a_failing_undo_leaves_the_record_failed_and_start_up_retries_it() {
    let (_d, store) = store();
    let runner = Runner::new(store.clone());
    let world = World {
        fail_run: Some("c"),
        fail_undo: Some("b"),
        undo_failures: Cell::new(1),
        ..Default::default()
    };
    let err = runner
        .run("test.op", "s1", Log::new(), world.steps(&["a", "b", "c"]))
        .unwrap_err();
    assert!(
        matches!(err, TestError::Broke("c")),
        "the original error: {err:?}"
    );
    // The unwinding stops at the failed undo: a is still in effect.
    assert_eq!(world.seen(), ["run a", "run b", "run c", "undo b"]);
    let op = only_record(&store, "s1");
    assert_eq!((op.state, op.completed), (OperationState::Failed, 2));
    let why = op.error.unwrap();
    assert!(
        why.contains("undo of step b: b broke") && why.contains("step c"),
        "{why}"
    );

    let mut registry = Registry::new();
    registry.register("test.op", |_op: &Operation, _p: &Log| {
        Ok::<_, TestError>(Recovery {
            direction: Direction::Resume,
            steps: world.steps(&["a", "b", "c"]),
        })
    });
    let report = registry.recover(&runner).unwrap();
    assert_eq!((report.undone, report.failed), (1, 0));
    assert_eq!(
        world.seen(),
        ["undo b", "undo a"],
        "a failed undo is never resumed"
    );
    let op = only_record(&store, "s1");
    assert_eq!((op.state, op.completed), (OperationState::Undone, 0));
    assert!(store.unfinished_operations().unwrap().is_empty());
}

/// A record as the process would have left it, dying while step
/// `completed` ran.
fn crashed(store: &SqliteStore, kind: &str, subject: &str, completed: u32, payload: &[&str]) {
    store
        .create_operation(&Operation {
            id: format!("{kind}-crashed"),
            kind: kind.into(),
            subject: subject.into(),
            payload: serde_json::json!(payload),
            completed,
            state: OperationState::Running,
            error: None,
            owner: None,
            created_at: 1,
            updated_at: 1,
        })
        .unwrap();
}

#[test]
fn start_up_undoes_an_interrupted_operation_from_the_step_that_was_running() {
    let (_d, store) = store();
    crashed(&store, "test.undo", "s1", 2, &["a", "b"]);
    let world = World::default();
    let mut registry = Registry::new();
    registry.register("test.undo", |_op: &Operation, _p: &Log| {
        Ok::<_, TestError>(Recovery {
            direction: Direction::Undo,
            steps: world.steps(&["a", "b", "c", "d"]),
        })
    });
    let report = registry.recover(&Runner::new(store.clone())).unwrap();
    assert_eq!(report.undone, 1);
    // c may have run in part, so its (idempotent) undo runs too.
    assert_eq!(world.seen(), ["undo c", "undo b", "undo a"]);
    let op = only_record(&store, "s1");
    assert_eq!((op.state, op.completed), (OperationState::Undone, 0));
    assert_eq!(op.error.as_deref(), Some("interrupted by a restart"));
}

#[test]
fn start_up_resumes_a_kind_that_resumes_from_the_step_that_was_running() {
    let (_d, store) = store();
    crashed(&store, "test.resume", "s1", 1, &["a"]);
    let world = World::default();
    let mut registry = Registry::new();
    registry.register("test.resume", |_op: &Operation, _p: &Log| {
        Ok::<_, TestError>(Recovery {
            direction: Direction::Resume,
            steps: world.steps(&["a", "b", "c"]),
        })
    });
    let report = registry.recover(&Runner::new(store.clone())).unwrap();
    assert_eq!(report.done, 1);
    assert_eq!(world.seen(), ["run b", "run c"]);
    let op = only_record(&store, "s1");
    assert_eq!((op.state, op.completed), (OperationState::Done, 3));
    assert_eq!(op.payload, serde_json::json!(["a", "b", "c"]));
}

#[test]
fn other_kinds_are_left_alone_and_an_unreadable_payload_is_failed() {
    let (_d, store) = store();
    crashed(&store, "volume.attach", "s1", 1, &["a"]);
    let mut bad = only_record(&store, "s1");
    bad.id = "bad".into();
    bad.kind = "test.op".into();
    bad.subject = "s2".into();
    bad.payload = serde_json::json!({"not": "a log"});
    store.create_operation(&bad).unwrap();
    let world = World::default();
    let mut registry = Registry::new();
    registry.register("test.op", |_op: &Operation, _p: &Log| {
        Ok::<_, TestError>(Recovery {
            direction: Direction::Undo,
            steps: world.steps(&["a"]),
        })
    });
    let report = registry.recover(&Runner::new(store.clone())).unwrap();
    assert_eq!((report.skipped, report.failed), (1, 1));
    assert!(world.seen().is_empty());
    let other = only_record(&store, "s1");
    assert_eq!((other.state, other.completed), (OperationState::Running, 1));
    let bad = only_record(&store, "s2");
    assert_eq!(bad.state, OperationState::Failed);
    assert!(bad.error.unwrap().contains("unreadable payload"));
}

#[test]
fn a_step_whose_progress_cannot_be_recorded_is_undone_with_the_ones_before() {
    let (_d, store) = store();
    let failing = Arc::new(FaultyRecords::new(store.clone()));
    failing.arm("test.op", 2, FaultMode::Fail);
    let world = World::default();
    let err = Runner::new(failing)
        .run("test.op", "s1", Log::new(), world.steps(&["a", "b", "c"]))
        .unwrap_err();
    assert!(matches!(err, TestError::Store(_)), "{err:?}");
    assert_eq!(world.seen(), ["run a", "run b", "undo b", "undo a"]);
    let op = only_record(&store, "s1");
    assert_eq!((op.state, op.completed), (OperationState::Undone, 0));
    let outcome =
        Runner::new(store.clone()).finish(op, Log::new(), world.steps(&[]), Direction::Undo);
    assert_eq!(outcome, Outcome::Undone, "a final record is left as it is");
    assert!(world.seen().is_empty());
}

#[test]
fn a_live_controllers_operation_is_left_alone_and_a_replaced_ones_is_finished() {
    use ferrostack_store::controller::ControllerStore;
    let long = std::time::Duration::from_secs(60);
    let (_d, store) = store();
    // Controller A runs an operation (its runner stamps it with A's incarnation).
    store
        .register_controller("ctl-a", "a-1", "h", long)
        .unwrap();
    let world = World {
        fail_run: Some("b"),
        fail_undo: Some("a"),
        undo_failures: Cell::new(1),
        ..World::default()
    };
    let _ = Runner::new(store.clone()).run("test.undo", "s1", Log::new(), world.steps(&["a", "b"]));
    world.seen();
    assert_eq!(only_record(&store, "s1").owner.as_deref(), Some("a-1"));
    assert_eq!(only_record(&store, "s1").state, OperationState::Failed);
    let mut registry = Registry::new();
    registry.register("test.undo", |_op: &Operation, _p: &Log| {
        Ok::<_, TestError>(Recovery {
            direction: Direction::Undo,
            steps: world.steps(&["a", "b"]),
        })
    });
    // Controller B (same database) sweeps: A is live, nothing is touched.
    store
        .register_controller("ctl-b", "b-1", "h", long)
        .unwrap();
    let report = registry.recover(&Runner::new(store.clone())).unwrap();
    assert_eq!(report, RecoveryReport::default());
    assert!(world.seen().is_empty());
    // A restarts: its new incarnation replaces a-1, whose record it finishes.
    store
        .register_controller("ctl-a", "a-2", "h", long)
        .unwrap();
    let report = registry.recover(&Runner::new(store.clone())).unwrap();
    assert_eq!(report.undone, 1);
    assert_eq!(world.seen(), ["undo a"]);
    let op = only_record(&store, "s1");
    assert_eq!(
        (op.state, op.owner.as_deref()),
        (OperationState::Undone, Some("a-2"))
    );
}
