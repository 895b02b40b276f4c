//! The compute scheduler: Nova's filter scheduler over placement-style
//! resource accounting.
//!
//! Choosing a host for an instance is three steps, as in Nova since placement:
//!
//! ```text
//!  PlacementStore ──summaries──▶ HostState (HostInfo + inventory/usage)
//!        ▲                              │
//!        │                   placement check (CoreFilter, RamFilter, DiskFilter:
//!        │                     ratios and reserved, the allocation-candidates query)
//!        │                              │
//!        │                   filters (ComputeFilter, AvailabilityZoneFilter, ...)
//!        │                              │
//!        │                   weighers (RAMWeigher, CPUWeigher, ... normalized)
//!        │                              │
//!        └────────── claim (atomic, all instances or none) ◀── best host(s)
//! ```
//!
//! - [`host`]: what the scheduler knows of a host ([`HostInfo`] from the
//!   compute service records, inventories and usage from placement) and the
//!   inventory a host reports, with Nova's default allocation ratios.
//! - [`request`]: the [`RequestSpec`] (flavor, image properties, zone,
//!   server group, forced and ignored hosts, one uuid per instance).
//! - [`filters`] and [`weighers`]: one small type each, named as in Nova.
//! - [`scheduler`]: [`Scheduler::schedule`] and [`Scheduler::release`].
//!
//! Double-booking is prevented by the store, not by the scheduler: the
//! scheduler works on a snapshot, and [`ferrostack_store::placement::PlacementStore::claim`]
//! re-checks capacity inside one serialized write. A claim that loses a race
//! (someone took the room since the snapshot) makes the scheduler re-read
//! and choose again, a bounded number of times. So any number of scheduler
//! threads or processes sharing one store is safe, with no scheduler-side
//! lock, which is what lets the scheduler scale out later.
//!
//! Rejected: Nova's in-memory `HostState` consumption as the source of
//! truth (it double-books under concurrency and needs retries at the
//! compute host), and a single global scheduler lock (correct, but it makes
//! the scheduler a bottleneck and hides the race the store must handle anyway).

pub mod filters;
pub mod host;
pub mod request;
pub mod scheduler;
pub mod weighers;

pub use filters::{Filter, FilterContext};
pub use host::{Accel, Capabilities, HostInfo, HostResources, HostState, InventoryConfig};
pub use request::{FlavorResources, GroupPolicy, ImageProperties, RequestSpec, ServerGroup};
pub use scheduler::{
    FilterResult, NoValidHost, ScheduleError, Scheduler, SchedulerConfig, Selection,
};
pub use weighers::Weigher;
