//! The host agent's reconcile engine.
//!
//! OpenStack drives hosts with fire-and-forget RPC: a lost message leaves a
//! server in BUILD forever. ferrostack does not send the host commands. The
//! control plane stores the *desired* state of every instance
//! ([`DesiredInstance`]); the agent on each host reads what is assigned to
//! it through a [`DesiredStateSource`], converges the host to it through the
//! [`Hypervisor`](ferrostack_hypervisor::Hypervisor) trait, and writes what
//! it *observes* ([`ObservedInstance`]) to an [`ObservedStateSink`]. Nothing
//! is lost when either side restarts: the desired state is in the store, the
//! VMs are re-adopted from the hypervisor, and the agent's memory of what it
//! has already done (the generation it converged, the reboot it performed)
//! is read back from the sink.
//!
//! The engine has no HTTP and no database: the source and the sink are
//! traits. [`memory`] has in-memory implementations for tests; the
//! controller's store-backed one is `ferrostack_compute::hostlink`, used
//! in process by `allinone`; [`remote`] is the same pair over the
//! controller's HTTP host API, for `ferrostack agent` on another machine.
//! The loop itself is in [`engine`], whose module doc draws it.
//!
//! The contract itself (generations, requests with ids, deletes) is
//! written once, in `ferrostack_host_contract`; the types are re-exported
//! here for the agent's users.

pub mod drivers;
pub mod engine;
pub mod exports;
pub mod images;
pub mod memory;
pub mod metadata_proxy;
pub mod remote;

pub use engine::{Agent, AgentConfig};
pub use images::{BaseImages, LocalBaseImages};
pub use memory::{MemoryDesiredState, MemoryObservedState};
pub use remote::{RemoteBaseImages, RemoteControlPlane};

pub use ferrostack_host_contract::{
    DesiredInstance, DesiredPower, DesiredStateSource, Fault, HostDesired, InstanceSize,
    ObservedInstance, ObservedStateSink, RebootRequest, RebuildRequest, ResizeDesire,
    SnapshotRequest, SourceError, StateFuture, TaskOutcome,
};
