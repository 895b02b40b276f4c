//! Drivers for the kinds of object other than instances, and an
//! in-memory one for tests.
//!
//! Instances have the [`Hypervisor`](ferrostack_hypervisor::Hypervisor)
//! trait and a state machine of their own (power, reboot, resize,
//! snapshot). Every other kind (a network's bridge, a port's tap and
//! rules, a DHCP server, a volume attachment or export) is *an object that
//! exists as specified or does not*, so one small trait covers them all:
//! [`ObjectDriver::ensure`] makes the object match its desired state (create
//! or change, idempotent), [`ObjectDriver::remove`] tears it down (absent is
//! not an error), [`ObjectDriver::list`] says what exists. The engine does
//! the rest the same way for every kind: generations, deadlines, backoff,
//! `Failed`, reports, and the ordering between kinds.
//!
//! Registering a kind is handing a driver to
//! [`Agent::run_with_drivers`](crate::Agent::run_with_drivers); the
//! engine's loop does not change. The host network's real drivers are in
//! `ferrostack-hostnet` (bridges, VXLAN, taps, nftables, dnsmasq); volume
//! exports are [`crate::exports`]' (a `qemu-storage-daemon` over QMP);
//! [`FakeObjects`] is the
//! working in-memory stand-in that tests use, with injected failures and
//! delays like the fake hypervisor.

use ferrostack_host_contract::{HostDesired, Kind};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The future driver methods return (boxed: the trait is object-safe).
pub type DriverFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// Facts about an object that the control plane may show (a tap's name, a
/// device path).
pub type Details = Map<String, Value>;

/// Converges the objects of one kind on this host.
pub trait ObjectDriver: Send + Sync {
    /// The kind this driver handles.
    fn kind(&self) -> Kind;

    /// The ids of the objects of this kind that exist on the host.
    fn list(&self) -> DriverFuture<'_, Vec<String>>;

    /// Makes object `id` match what `desired` says of it (its section of
    /// the document): creates it or changes it in place. Must be
    /// idempotent: it is called again after a failure, a timeout or a
    /// restart.
    fn ensure<'a>(&'a self, desired: &'a HostDesired, id: &'a str) -> DriverFuture<'a, Details>;

    /// Tears object `id` down. An object that is not there is not an error.
    fn remove<'a>(&'a self, id: &'a str) -> DriverFuture<'a, ()>;
}

/// What [`FakeObjects`] has done, in order (for tests of the ordering).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeEvent {
    /// `ensure(id)` succeeded.
    Ensured(String),
    /// `remove(id)` succeeded.
    Removed(String),
}

#[derive(Debug, Default)]
struct FakeState {
    present: BTreeMap<String, u64>,
    fail_ensure: u32,
    fail_remove: u32,
    delay: Duration,
    events: Vec<FakeEvent>,
}

/// An in-memory driver for any kind: objects exist in a map. Failures and
/// delays can be injected; what it did is kept in order.
#[derive(Debug, Clone)]
pub struct FakeObjects {
    kind: Kind,
    state: Arc<Mutex<FakeState>>,
}

impl FakeObjects {
    /// An empty host for objects of `kind`.
    pub fn new(kind: Kind) -> Self {
        FakeObjects {
            kind,
            state: Arc::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next `count` ensures fail.
    pub fn fail_next_ensures(&self, count: u32) {
        self.state().fail_ensure = count;
    }

    /// The next `count` removes fail.
    pub fn fail_next_removes(&self, count: u32) {
        self.state().fail_remove = count;
    }

    /// Every ensure and remove takes `delay` first.
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    /// Whether object `id` exists.
    pub fn is_present(&self, id: &str) -> bool {
        self.state().present.contains_key(id)
    }

    /// The generation object `id` was last ensured at.
    pub fn generation(&self, id: &str) -> Option<u64> {
        self.state().present.get(id).copied()
    }

    /// Makes object `id` vanish behind the agent's back (an operator's
    /// `ip link del`).
    pub fn lose(&self, id: &str) {
        self.state().present.remove(id);
    }

    /// What succeeded, in order.
    pub fn events(&self) -> Vec<FakeEvent> {
        self.state().events.clone()
    }

    async fn pause(&self) {
        let delay = self.state().delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

impl ObjectDriver for FakeObjects {
    fn kind(&self) -> Kind {
        self.kind
    }

    fn list(&self) -> DriverFuture<'_, Vec<String>> {
        Box::pin(async move { Ok(self.state().present.keys().cloned().collect()) })
    }

    fn ensure<'a>(&'a self, desired: &'a HostDesired, id: &'a str) -> DriverFuture<'a, Details> {
        Box::pin(async move {
            self.pause().await;
            let generation = desired
                .objects(self.kind)
                .into_iter()
                .find(|o| o.id == id)
                .map(|o| o.generation)
                .ok_or_else(|| format!("{} {id} is not in the desired state", self.kind))?;
            let mut s = self.state();
            if s.fail_ensure > 0 {
                s.fail_ensure -= 1;
                return Err(format!("injected failure ensuring {} {id}", self.kind));
            }
            s.present.insert(id.to_owned(), generation);
            s.events.push(FakeEvent::Ensured(id.to_owned()));
            let mut details = Details::new();
            details.insert("generation".into(), generation.into());
            Ok(details)
        })
    }

    fn remove<'a>(&'a self, id: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move {
            self.pause().await;
            let mut s = self.state();
            if s.fail_remove > 0 {
                s.fail_remove -= 1;
                return Err(format!("injected failure removing {} {id}", self.kind));
            }
            if s.present.remove(id).is_some() {
                s.events.push(FakeEvent::Removed(id.to_owned()));
            }
            Ok(())
        })
    }
}
