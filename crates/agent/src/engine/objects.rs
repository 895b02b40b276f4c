//! The objects of every kind other than instances: bookkeeping, planning
//! and reports, the same for every kind (see [`crate::drivers`]).
//!
//! ```text
//!   not in the document ─────────────────> leave alone (an orphan; reported)
//!   deleted, present ────────────────────> remove, once nothing present
//!                                          requires it (else Waiting)
//!   deleted, absent ─────────────────────> Deleted
//!   failed for good at this generation ──> nothing (a new generation retries)
//!   absent, or a newer generation ───────> ensure, once what it requires is
//!                                          Ready (else Waiting)
//!   present at this generation ──────────> Ready
//! ```
//!
//! Unlike a VM, an object has no life of its own that an operator might
//! have chosen: one found missing on a resync (a bridge deleted by hand)
//! is ensured again at the same generation, so wiring comes back.

use super::*;
use crate::drivers::{Details, ObjectDriver};
use ferrostack_host_contract::{HostDesired, Kind, ObjectKey, ObjectPhase, ObservedObject};

/// The loop's bookkeeping for one object.
#[derive(Debug, Default)]
pub(super) struct TrackedObject {
    /// `(generation, deleted)` from the newest document; `None` when the
    /// document does not have it.
    pub(super) desired: Option<(u64, bool)>,
    pub(super) present: bool,
    pub(super) busy: bool,
    pub(super) finished_generation: u64,
    pub(super) failures: u32,
    pub(super) retry_at: Option<Instant>,
    pub(super) phase: Option<ObjectPhase>,
    pub(super) fault: Option<String>,
    pub(super) details: Details,
}

impl TrackedObject {
    pub(super) fn observed(&self, key: &ObjectKey) -> ObservedObject {
        ObservedObject {
            key: key.clone(),
            phase: self.phase.unwrap_or(ObjectPhase::Waiting),
            observed_generation: self.finished_generation,
            present: self.present,
            fault: self.fault.clone(),
            details: self.details.clone(),
        }
    }

    /// Ready: present as desired at the desired generation.
    pub(super) fn is_ready(&self) -> bool {
        self.phase == Some(ObjectPhase::Ready)
            && self.present
            && !self.busy
            && self
                .desired
                .is_some_and(|(g, deleted)| !deleted && g <= self.finished_generation)
    }
}

/// An operation on an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ObjectAction {
    Ensure,
    Remove,
}

impl ObjectAction {
    pub(super) fn direction(self) -> Direction {
        match self {
            ObjectAction::Ensure => Direction::Up,
            ObjectAction::Remove => Direction::Down,
        }
    }
}

/// An object operation's result, handed back to the loop.
#[derive(Debug)]
pub(super) struct ObjectDone {
    pub(super) key: ObjectKey,
    pub(super) action: ObjectAction,
    pub(super) generation: u64,
    pub(super) result: Result<Details, String>,
}

/// Decides the next operation for an idle object, or settles its phase.
pub(super) fn plan_object(t: &mut TrackedObject) -> Option<ObjectAction> {
    let (generation, deleted) = t.desired?;
    if deleted {
        if t.present {
            return Some(ObjectAction::Remove);
        }
        t.phase = Some(ObjectPhase::Deleted);
        t.finished_generation = generation;
        t.fault = None;
        return None;
    }
    let failed = t.phase == Some(ObjectPhase::Failed) && t.finished_generation >= generation;
    if failed {
        return None;
    }
    if !t.present || generation > t.finished_generation {
        return Some(ObjectAction::Ensure);
    }
    t.phase = Some(ObjectPhase::Ready);
    None
}

/// Takes a new document in for every registered kind; older generations
/// lose. Returns the keys whose report changed.
pub(super) fn apply_desired_objects(
    tracked: &mut BTreeMap<ObjectKey, TrackedObject>,
    drivers: &BTreeMap<Kind, Arc<dyn ObjectDriver>>,
    doc: &HostDesired,
    dirty: &mut BTreeSet<ObjectKey>,
) {
    let mut in_doc = BTreeSet::new();
    for kind in drivers.keys() {
        for o in doc.objects(*kind) {
            let key = ObjectKey::new(*kind, o.id);
            in_doc.insert(key.clone());
            let t = tracked.entry(key.clone()).or_default();
            let newest = t
                .desired
                .map_or(t.finished_generation, |(g, _)| g.max(t.finished_generation));
            if o.generation < newest {
                continue;
            }
            if t.desired.map(|(g, _)| g) != Some(o.generation) {
                t.failures = 0;
                t.retry_at = None;
                dirty.insert(key);
            }
            t.desired = Some((o.generation, o.deleted));
        }
    }
    tracked.retain(|key, t| {
        if in_doc.contains(key) {
            return true;
        }
        if t.desired.take().is_some() {
            dirty.insert(key.clone());
        }
        // Forget what is neither in the document nor on the host.
        t.present || t.busy
    });
}

/// Runs one object operation under the agent's deadline.
pub(super) async fn execute_object(
    driver: Arc<dyn ObjectDriver>,
    doc: Arc<HostDesired>,
    key: ObjectKey,
    action: ObjectAction,
    generation: u64,
    deadline: Duration,
) -> ObjectDone {
    let call = async {
        match action {
            ObjectAction::Ensure => driver.ensure(&doc, &key.id).await,
            ObjectAction::Remove => driver.remove(&key.id).await.map(|()| Details::new()),
        }
    };
    let result = match timeout(deadline, call).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{action:?} of {key} did not finish within {deadline:?}"
        )),
    };
    ObjectDone {
        key,
        action,
        generation,
        result,
    }
}

/// Takes an object operation's result in.
pub(super) fn complete_object(t: &mut TrackedObject, done: ObjectDone, cfg: &AgentConfig) {
    t.busy = false;
    match done.result {
        Ok(details) => {
            t.failures = 0;
            t.fault = None;
            match done.action {
                ObjectAction::Ensure => {
                    t.present = true;
                    t.details = details;
                    t.finished_generation = t.finished_generation.max(done.generation);
                    t.phase = Some(ObjectPhase::Ready);
                }
                ObjectAction::Remove => {
                    t.present = false;
                    t.details = Details::new();
                    t.finished_generation = t.finished_generation.max(done.generation);
                    t.phase = Some(ObjectPhase::Deleted);
                }
            }
        }
        Err(message) => {
            t.failures += 1;
            warn!(object = %done.key, action = ?done.action, attempt = t.failures, error = %message, "object operation failed");
            t.fault = Some(message);
            if t.failures >= cfg.max_attempts {
                t.phase = Some(ObjectPhase::Failed);
                t.finished_generation = t.finished_generation.max(done.generation);
                t.retry_at = None;
            } else {
                t.phase = Some(ObjectPhase::Retrying);
                t.retry_at = Some(Instant::now() + cfg.backoff(t.failures));
            }
        }
    }
}

impl Engine {
    /// Reads what the object drivers find on the host and the agent's
    /// memory of them. A failure here is logged: the next resync lists
    /// again, and until then an object is assumed absent (ensure is
    /// idempotent, so that costs at most one redundant call).
    pub(super) async fn adopt_objects(&mut self) {
        if self.drivers.is_empty() {
            return;
        }
        self.list_objects().await;
        match self.sink.last_reported_objects(&self.host).await {
            Ok(last) => {
                for o in last {
                    if !self.drivers.contains_key(&o.key.kind) {
                        continue;
                    }
                    let t = self.objects.entry(o.key.clone()).or_default();
                    t.finished_generation = o.observed_generation;
                    t.fault = o.fault;
                    t.phase = Some(o.phase);
                    t.details = o.details;
                    self.dirty_objects.insert(o.key);
                }
            }
            Err(e) => {
                warn!(host = %self.host, error = %chain(&e), "cannot read the last object report")
            }
        }
    }

    /// Asks every object driver what exists, for the objects no operation
    /// is running on.
    pub(super) async fn list_objects(&mut self) {
        for (kind, driver) in &self.drivers {
            let ids: BTreeSet<String> = match timeout(self.cfg.op_deadline, driver.list()).await {
                Ok(Ok(ids)) => ids.into_iter().collect(),
                Ok(Err(e)) => {
                    warn!(host = %self.host, %kind, error = %e, "cannot list objects");
                    continue;
                }
                Err(_) => {
                    warn!(host = %self.host, %kind, "listing objects timed out");
                    continue;
                }
            };
            for (key, t) in self.objects.iter_mut().filter(|(k, _)| k.kind == *kind) {
                if t.busy {
                    continue;
                }
                let present = ids.contains(&key.id);
                if present != t.present {
                    if !present && t.phase == Some(ObjectPhase::Ready) {
                        info!(host = %self.host, object = %key, "object gone behind the agent's back; ensuring it again");
                    }
                    t.present = present;
                    self.dirty_objects.insert(key.clone());
                }
            }
            for id in ids {
                let key = ObjectKey::new(*kind, id);
                if !self.objects.contains_key(&key) {
                    self.objects.insert(
                        key.clone(),
                        TrackedObject {
                            present: true,
                            ..TrackedObject::default()
                        },
                    );
                    self.dirty_objects.insert(key);
                }
            }
        }
    }

    /// Plans every idle object and starts operations up to the limit.
    pub(super) fn dispatch_objects(&mut self, now: Instant) {
        let keys: Vec<ObjectKey> = self.objects.keys().cloned().collect();
        for key in keys {
            let Some(t) = self.objects.get_mut(&key) else {
                continue;
            };
            if t.busy || t.retry_at.is_some_and(|r| r > now) {
                continue;
            }
            let before = t.observed(&key);
            let action = plan_object(t);
            let generation = t.desired.map_or(0, |(g, _)| g);
            let changed = t.observed(&key) != before;
            if changed {
                self.dirty_objects.insert(key.clone());
            }
            let Some(action) = action else {
                continue;
            };
            match self.gate(&key, action.direction()) {
                Gate::Go => {}
                Gate::Wait => {
                    if let Some(t) = self.objects.get_mut(&key) {
                        if t.phase != Some(ObjectPhase::Waiting) {
                            t.phase = Some(ObjectPhase::Waiting);
                            self.dirty_objects.insert(key.clone());
                        }
                    }
                    continue;
                }
                Gate::Blocked(message) => {
                    if let Some(t) = self.objects.get_mut(&key) {
                        t.phase = Some(ObjectPhase::Failed);
                        t.fault = Some(message);
                        t.finished_generation = generation;
                        self.dirty_objects.insert(key.clone());
                    }
                    continue;
                }
            }
            let Some(driver) = self.drivers.get(&key.kind).cloned() else {
                continue;
            };
            if self.inflight.len() >= self.cfg.max_concurrent {
                continue;
            }
            if let Some(t) = self.objects.get_mut(&key) {
                t.busy = true;
                t.retry_at = None;
                t.phase = Some(ObjectPhase::Working);
            }
            self.dirty_objects.insert(key.clone());
            debug!(host = %self.host, object = %key, ?action, "starting object operation");
            let doc = self.doc.clone();
            let deadline = self.cfg.op_deadline;
            self.inflight.spawn(async move {
                Finished::Object(
                    execute_object(driver, doc, key, action, generation, deadline).await,
                )
            });
        }
    }

    /// Reports the objects whose observation changed, and forgets those
    /// that are neither in the document nor on the host any more.
    pub(super) async fn flush_objects(&mut self) {
        if self.dirty_objects.is_empty() {
            return;
        }
        let batch: Vec<ObservedObject> = self
            .dirty_objects
            .iter()
            .filter_map(|k| self.objects.get(k).map(|t| t.observed(k)))
            .collect();
        match self.sink.report_objects(&self.host, batch).await {
            Ok(()) => self.dirty_objects.clear(),
            Err(e) => warn!(host = %self.host, error = %chain(&e), "cannot report objects"),
        }
    }
}
