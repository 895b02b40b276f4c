//! Integration tests of the control plane together with host agents, in
//! one process: the compute API, its host link and host API, and agents
//! over the fake hypervisor (`tests/`).
//!
//! They live in a crate of their own because they need both sides of the
//! host contract: `ferrostack-compute` depends only on
//! `ferrostack-host-contract`, never on the agent or a hypervisor, and its
//! dependency tree (`cargo tree -p ferrostack-compute`) shows it.
