//! The controller-host contract: what the control plane and a host agent
//! say to each other, and nothing else.
//!
//! OpenStack drives hosts with fire-and-forget RPC: a lost message leaves a
//! server in BUILD forever. ferrostack does not send hosts commands. The
//! control plane stores what each host should run ([`HostDesired`]: typed
//! sections of objects, each with a generation) and bumps the host's
//! revision whenever that changes; the agent on the host reads it through
//! a [`DesiredStateSource`], converges the host, and reports what it
//! observes ([`ObservedInstance`], [`ObservedObject`]) to an
//! [`ObservedStateSink`].
//!
//! This crate owns those types, the host API's wire format ([`wire`]) and
//! its pinned-certificate TLS ([`tls`], [`join`]). The API crates
//! (compute, and network and volume as they arrive) and the agent both
//! depend on it and never on each other, so a control-plane crate links
//! no hypervisor and the agent links no API. Rejected: keeping the types in
//! the agent crate (the compute API then linked the whole agent and
//! hypervisor for a few structs) and one crate per kind (the agent orders
//! work across kinds, so it needs them together anyway).
//!
//! # The contract
//!
//! - Every write of an object's desired state bumps its `generation`. The
//!   agent never lets an older generation override a newer one it has seen.
//! - The agent acts on a generation once. When the host matches it (or the
//!   agent gave up on it) the agent reports `observed_generation =
//!   generation`. Afterwards drift is *reported, not corrected*: a VM that
//!   powered off behind the agent's back is reported `Shutoff` and stays
//!   off, as Nova's `sync_power_states` does. The control plane decides
//!   (by writing a new generation) whether it should run again.
//! - A reboot is a request with an id, acted on once; the agent reports the
//!   id it last performed in `last_reboot`, and the control plane may then
//!   clear the request.
//! - A snapshot is a request with an id too, acted on once whether it
//!   worked or not: the agent reports the id in `last_snapshot` and, when
//!   it failed, why in `snapshot_error`. A failed snapshot does not fail
//!   the instance.
//! - A resize is [`ResizeDesire::Keep`] with the new size in `spec`: the
//!   agent powers the instance off, resizes it keeping a backup, and
//!   brings its power back to `power`. [`ResizeDesire::Revert`] restores
//!   the backup; [`ResizeDesire::None`] (confirm) drops it. The agent
//!   reports `size` and `resize_backup`.
//! - A delete is `deleted: true`; the agent tears the object down and
//!   reports it gone ([`TaskOutcome::Deleted`], [`ObjectPhase::Deleted`]),
//!   after which the control plane drops the record.
//! - Objects depend on each other ([`HostDesired::requirements`]): the
//!   agent brings an object up only when what it requires is ready, and
//!   takes one down only when nothing present requires it.

pub mod block;
pub mod desired;
mod instance;
pub mod join;
pub mod metadata;
pub mod network;
mod source;
pub mod tls;
pub mod wire;

pub use desired::{
    Direction, HostDesired, Kind, ObjectDesire, ObjectKey, ObjectPhase, ObservedObject,
};
pub use instance::*;
pub use source::{refuse_objects, DesiredStateSource, ObservedStateSink, SourceError, StateFuture};
