//! [`Runner`]: runs steps forward, recording each, and unwinds on failure.

use crate::{error_chain, Direction, Outcome, Step};
use ferrostack_common::time::now_micros;
use ferrostack_store::operation::{Operation, OperationState, OperationStore};
use ferrostack_store::StoreError;
use serde::Serialize;
use std::sync::Arc;

/// Runs operations and records their progress. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    store: Arc<dyn OperationStore>,
}

impl Runner {
    /// A runner recording into `store`.
    pub fn new(store: Arc<dyn OperationStore>) -> Self {
        Runner { store }
    }

    /// Where the records are.
    pub fn store(&self) -> &Arc<dyn OperationStore> {
        &self.store
    }

    /// Record an operation of `kind` on `subject`, then run `steps` in
    /// order, recording after each. If one fails, the ones before it are
    /// undone at once, in reverse, and its error is returned; the record
    /// ends `undone` (or `failed` if an undo failed too: that is logged
    /// and left for start-up). On success the final payload is returned.
    pub fn run<P, E>(
        &self,
        kind: &str,
        subject: &str,
        mut payload: P,
        mut steps: Vec<Step<'_, P, E>>,
    ) -> Result<P, E>
    where
        P: Serialize,
        E: std::error::Error + From<StoreError>,
    {
        let now = now_micros();
        let mut op = Operation {
            id: ferrostack_common::ids::new_uuid(),
            kind: kind.to_string(),
            subject: subject.to_string(),
            payload: serde_json::to_value(&payload).map_err(StoreError::from)?,
            completed: 0,
            state: if steps.is_empty() {
                OperationState::Done
            } else {
                OperationState::Running
            },
            error: None,
            owner: self.store.incarnation(),
            created_at: now,
            updated_at: now,
        };
        self.store.create_operation(&op)?;
        self.forward(&mut op, &mut payload, &mut steps)?;
        Ok(payload)
    }

    /// Finish `op`, interrupted by a crash, with `steps` rebuilt from its
    /// payload: a `running` one goes `direction`; an `undoing` or `failed`
    /// one is undone from where its undos stopped.
    pub fn finish<P, E>(
        &self,
        mut op: Operation,
        mut payload: P,
        mut steps: Vec<Step<'_, P, E>>,
        direction: Direction,
    ) -> Outcome
    where
        P: Serialize,
        E: std::error::Error + From<StoreError>,
    {
        let n = steps.len();
        if op.completed as usize > n {
            let why = format!("the record says {} steps ran of {n}", op.completed);
            return self.give_up(op, why);
        }
        if op.state == OperationState::Running && op.completed as usize == n {
            op.state = OperationState::Done;
            self.record(&mut op, &payload);
            return Outcome::Done;
        }
        let in_flight = (op.completed as usize + 1).min(n);
        match (op.state, direction) {
            (OperationState::Done, _) => Outcome::Done,
            (OperationState::Undone, _) => Outcome::Undone,
            (OperationState::Running, Direction::Resume) => {
                tracing::info!(operation = %op.id, kind = %op.kind, subject = %op.subject,
                    completed = op.completed, "resuming an operation a restart interrupted");
                match self.forward(&mut op, &mut payload, &mut steps) {
                    Ok(()) => Outcome::Done,
                    Err(_) if op.state == OperationState::Failed => Outcome::Failed,
                    Err(_) => Outcome::Undone,
                }
            }
            (OperationState::Running, Direction::Undo) => {
                tracing::info!(operation = %op.id, kind = %op.kind, subject = %op.subject,
                    completed = op.completed, "undoing an operation a restart interrupted");
                let cause = "interrupted by a restart".to_string();
                self.unwind(&mut op, &mut payload, &mut steps, in_flight, cause)
            }
            (OperationState::Undoing | OperationState::Failed, _) => {
                tracing::info!(operation = %op.id, kind = %op.kind, subject = %op.subject,
                    completed = op.completed, "retrying the undos of an operation");
                let cause = op
                    .error
                    .clone()
                    .unwrap_or_else(|| "interrupted by a restart".into());
                let from = op.completed as usize;
                self.unwind(&mut op, &mut payload, &mut steps, from, cause)
            }
        }
    }

    /// Mark `op` failed with `why` (its record cannot be acted on).
    pub(crate) fn give_up(&self, mut op: Operation, why: String) -> Outcome {
        tracing::error!(operation = %op.id, kind = %op.kind, subject = %op.subject,
            error = %why, "cannot finish an interrupted operation; it stays failed");
        op.state = OperationState::Failed;
        op.error = Some(why);
        op.updated_at = now_micros();
        if let Err(e) = self.store.update_operation(&op) {
            tracing::error!(operation = %op.id, error = %error_chain(&e), "cannot record an operation's failure");
        }
        Outcome::Failed
    }

    /// Run the steps from `op.completed` on; on a failure unwind and
    /// return it.
    fn forward<P, E>(
        &self,
        op: &mut Operation,
        payload: &mut P,
        steps: &mut [Step<'_, P, E>],
    ) -> Result<(), E>
    where
        P: Serialize,
        E: std::error::Error + From<StoreError>,
    {
        let n = steps.len();
        while (op.completed as usize) < n {
            let k = op.completed as usize;
            let step = &mut steps[k];
            let name = step.name;
            tracing::debug!(operation = %op.id, kind = %op.kind, step = name, "running");
            if let Err(e) = (step.run)(payload) {
                // The caller reports the error itself (a refused quota is
                // not worth more than debug here).
                tracing::debug!(operation = %op.id, kind = %op.kind, step = name,
                    error = %error_chain(&e), "a step failed; undoing the steps before it");
                let cause = format!("step {name}: {}", error_chain(&e));
                self.unwind(op, payload, steps, k, cause);
                return Err(e);
            }
            op.completed += 1;
            if op.completed as usize == n {
                op.state = OperationState::Done;
            }
            if let Err(e) = self.save(op, payload) {
                // The step took effect but its record did not: undo it too.
                let e = E::from(e);
                tracing::warn!(operation = %op.id, kind = %op.kind, step = name,
                    error = %error_chain(&e), "cannot record a step; undoing it and the ones before");
                let cause = format!("recording step {name}: {}", error_chain(&e));
                self.unwind(op, payload, steps, k + 1, cause);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Undo steps `in_effect-1 ..= 0`, recording each; stop at the first
    /// undo that fails and leave the record `failed`.
    fn unwind<P, E>(
        &self,
        op: &mut Operation,
        payload: &mut P,
        steps: &mut [Step<'_, P, E>],
        in_effect: usize,
        cause: String,
    ) -> Outcome
    where
        P: Serialize,
        E: std::error::Error,
    {
        op.state = OperationState::Undoing;
        op.completed = in_effect as u32;
        op.error = Some(cause.clone());
        self.record(op, payload);
        for j in (0..in_effect).rev() {
            let step = &mut steps[j];
            if let Err(e) = (step.undo)(payload) {
                let why = format!("undo of step {}: {}", step.name, error_chain(&e));
                tracing::error!(operation = %op.id, kind = %op.kind, subject = %op.subject,
                    error = %why, undoing_because = %cause,
                    "an undo failed; the operation stays failed until start-up retries it");
                op.state = OperationState::Failed;
                op.error = Some(format!("{why} (undoing because of {cause})"));
                self.record(op, payload);
                return Outcome::Failed;
            }
            op.completed = j as u32;
            if j > 0 {
                self.record(op, payload);
            }
        }
        op.state = OperationState::Undone;
        self.record(op, payload);
        Outcome::Undone
    }

    /// Save progress; a failure is logged (the undos are idempotent, so a
    /// stale record only means start-up repeats some of them).
    fn record<P: Serialize>(&self, op: &mut Operation, payload: &P) {
        if let Err(e) = self.save(op, payload) {
            tracing::error!(operation = %op.id, kind = %op.kind, state = op.state.as_str(),
                error = %error_chain(&e), "cannot record an operation's undo progress");
        }
    }

    fn save<P: Serialize>(&self, op: &mut Operation, payload: &P) -> Result<(), StoreError> {
        op.payload = serde_json::to_value(payload)?;
        op.updated_at = now_micros();
        self.store.update_operation(op)
    }
}

#[cfg(test)]
mod tests;
