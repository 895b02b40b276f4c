//! In-memory [`DesiredStateSource`] and [`ObservedStateSink`].
//!
//! Tests drive the agent through them, and `allinone` can use them until
//! the store-backed implementations exist. They are working stand-ins, not
//! mocks: the source has a revision and a real long poll (a
//! `tokio::sync::watch` channel), and the sink keeps the latest report per
//! instance and lets a caller wait for a condition with a deadline instead
//! of sleeping.

use crate::{
    DesiredInstance, DesiredStateSource, HostDesired, ObservedInstance, ObservedStateSink,
    StateFuture,
};
use ferrostack_host_contract::network::NetworkSection;
use ferrostack_host_contract::{ObjectKey, ObservedObject};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here can be left half-updated by a panic; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The desired state of every host, in memory. One revision counter covers
/// all hosts (a watch may wake spuriously for another host's change, which
/// the trait allows).
#[derive(Debug)]
pub struct MemoryDesiredState {
    hosts: Mutex<HashMap<String, BTreeMap<Uuid, DesiredInstance>>>,
    networks: Mutex<HashMap<String, NetworkSection>>,
    revision: watch::Sender<u64>,
}

impl Default for MemoryDesiredState {
    fn default() -> Self {
        MemoryDesiredState {
            hosts: Mutex::default(),
            networks: Mutex::default(),
            revision: watch::Sender::new(0),
        }
    }
}

impl MemoryDesiredState {
    /// An empty source at revision 0.
    pub fn new() -> Self {
        MemoryDesiredState::default()
    }

    /// Stores `desired` for `host` as given (replacing the instance's
    /// previous record, whatever its generation: the agent, not the source,
    /// guards against stale generations) and bumps the revision.
    pub fn put(&self, host: &str, desired: DesiredInstance) {
        lock(&self.hosts)
            .entry(host.to_owned())
            .or_default()
            .insert(desired.spec.id, desired);
        self.bump();
    }

    /// Changes an instance with `f`, bumps its generation, and returns the
    /// new record (`None` if it is not assigned to `host`).
    pub fn update(
        &self,
        host: &str,
        id: Uuid,
        f: impl FnOnce(&mut DesiredInstance),
    ) -> Option<DesiredInstance> {
        let out = {
            let mut hosts = lock(&self.hosts);
            let d = hosts.get_mut(host)?.get_mut(&id)?;
            f(d);
            d.generation += 1;
            d.clone()
        };
        self.bump();
        Some(out)
    }

    /// Unassigns an instance from `host` (a purge after delete, or a move).
    pub fn remove(&self, host: &str, id: Uuid) -> Option<DesiredInstance> {
        let out = lock(&self.hosts).get_mut(host)?.remove(&id);
        self.bump();
        out
    }

    /// One instance's desired state.
    pub fn get(&self, host: &str, id: Uuid) -> Option<DesiredInstance> {
        lock(&self.hosts).get(host)?.get(&id).cloned()
    }

    /// Changes `host`'s network section with `f` (the caller bumps the
    /// generations of the objects it changes) and bumps the revision.
    pub fn update_network(&self, host: &str, f: impl FnOnce(&mut NetworkSection)) {
        f(lock(&self.networks).entry(host.to_owned()).or_default());
        self.bump();
    }

    /// The current revision.
    pub fn revision(&self) -> u64 {
        *self.revision.borrow()
    }

    fn bump(&self) {
        self.revision.send_modify(|r| *r += 1);
    }
}

impl DesiredStateSource for MemoryDesiredState {
    fn assigned<'a>(&'a self, host: &'a str) -> StateFuture<'a, HostDesired> {
        Box::pin(async move {
            let hosts = lock(&self.hosts);
            let networks = lock(&self.networks);
            // Read the revision under the same locks as the sections, so a
            // write cannot slip between them unseen.
            let revision = *self.revision.borrow();
            Ok(HostDesired {
                revision,
                instances: hosts
                    .get(host)
                    .map(|m| m.values().cloned().collect())
                    .unwrap_or_default(),
                network: networks.get(host).cloned().unwrap_or_default(),
                block_devices: Default::default(),
            })
        })
    }

    fn watch<'a>(
        &'a self,
        _host: &'a str,
        since_revision: u64,
        timeout: Duration,
    ) -> StateFuture<'a, u64> {
        Box::pin(async move {
            let mut rx = self.revision.subscribe();
            // A timeout is a normal end of a long poll, not an error.
            let _ = tokio::time::timeout(timeout, rx.wait_for(|r| *r != since_revision)).await;
            let current = *rx.borrow();
            Ok(current)
        })
    }
}

/// The observed state of every host, in memory, with a way to wait for it.
#[derive(Debug)]
pub struct MemoryObservedState {
    hosts: Mutex<HashMap<String, BTreeMap<Uuid, ObservedInstance>>>,
    objects: Mutex<HashMap<String, BTreeMap<ObjectKey, ObservedObject>>>,
    /// Counts reports; waiters watch it.
    reports: watch::Sender<u64>,
}

impl Default for MemoryObservedState {
    fn default() -> Self {
        MemoryObservedState {
            hosts: Mutex::default(),
            objects: Mutex::default(),
            reports: watch::Sender::new(0),
        }
    }
}

impl MemoryObservedState {
    /// An empty sink.
    pub fn new() -> Self {
        MemoryObservedState::default()
    }

    /// The last report of one instance.
    pub fn get(&self, host: &str, id: Uuid) -> Option<ObservedInstance> {
        lock(&self.hosts).get(host)?.get(&id).cloned()
    }

    /// The last report of every instance of `host`, by id.
    pub fn all(&self, host: &str) -> Vec<ObservedInstance> {
        lock(&self.hosts)
            .get(host)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The last report of one object of another kind.
    pub fn object(&self, host: &str, key: &ObjectKey) -> Option<ObservedObject> {
        lock(&self.objects).get(host)?.get(key).cloned()
    }

    /// Waits until one object's report satisfies `pred` and returns it, or
    /// `None` after `timeout`.
    pub async fn wait_for_object(
        &self,
        host: &str,
        key: &ObjectKey,
        timeout: Duration,
        pred: impl Fn(&ObservedObject) -> bool,
    ) -> Option<ObservedObject> {
        let ok = self
            .wait_until(host, timeout, |_| {
                self.object(host, key).is_some_and(|o| pred(&o))
            })
            .await;
        if ok {
            self.object(host, key)
        } else {
            None
        }
    }

    /// How many reports were received.
    pub fn report_count(&self) -> u64 {
        *self.reports.borrow()
    }

    /// Waits until `pred` holds for `host`'s observed instances, or
    /// `timeout` passes; returns whether it held.
    pub async fn wait_until(
        &self,
        host: &str,
        timeout: Duration,
        mut pred: impl FnMut(&BTreeMap<Uuid, ObservedInstance>) -> bool,
    ) -> bool {
        let mut rx = self.reports.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            {
                let hosts = lock(&self.hosts);
                let empty = BTreeMap::new();
                if pred(hosts.get(host).unwrap_or(&empty)) {
                    return true;
                }
            }
            rx.mark_unchanged();
            tokio::select! {
                r = rx.changed() => if r.is_err() { return false },
                _ = tokio::time::sleep_until(deadline) => return false,
            }
        }
    }

    /// Waits until one instance's report satisfies `pred` and returns it, or
    /// `None` after `timeout`.
    pub async fn wait_for(
        &self,
        host: &str,
        id: Uuid,
        timeout: Duration,
        pred: impl Fn(&ObservedInstance) -> bool,
    ) -> Option<ObservedInstance> {
        let ok = self
            .wait_until(host, timeout, |m| m.get(&id).is_some_and(&pred))
            .await;
        if ok {
            self.get(host, id)
        } else {
            None
        }
    }
}

impl ObservedStateSink for MemoryObservedState {
    fn report<'a>(&'a self, host: &'a str, observed: Vec<ObservedInstance>) -> StateFuture<'a, ()> {
        Box::pin(async move {
            {
                let mut hosts = lock(&self.hosts);
                let m = hosts.entry(host.to_owned()).or_default();
                for o in observed {
                    m.insert(o.id, o);
                }
            }
            self.reports.send_modify(|n| *n += 1);
            Ok(())
        })
    }

    fn last_reported<'a>(&'a self, host: &'a str) -> StateFuture<'a, Vec<ObservedInstance>> {
        Box::pin(async move { Ok(self.all(host)) })
    }

    fn report_objects<'a>(
        &'a self,
        host: &'a str,
        observed: Vec<ObservedObject>,
    ) -> StateFuture<'a, ()> {
        Box::pin(async move {
            {
                let mut objects = lock(&self.objects);
                let m = objects.entry(host.to_owned()).or_default();
                for o in observed {
                    m.insert(o.key.clone(), o);
                }
            }
            self.reports.send_modify(|n| *n += 1);
            Ok(())
        })
    }

    fn last_reported_objects<'a>(&'a self, host: &'a str) -> StateFuture<'a, Vec<ObservedObject>> {
        Box::pin(async move {
            Ok(lock(&self.objects)
                .get(host)
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default())
        })
    }
}
