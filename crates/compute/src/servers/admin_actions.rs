//! `injectNetworkInfo` (admin): the server's host is sent its current
//! desired state again.
//!
//! In Nova the action asks the compute host to rewrite the guest's
//! network configuration from the network info cache. Here the host agent
//! is the one that wires a server from its desired state (NICs, their
//! ports, the config drive), so re-sending that state is the same request:
//! the desired document is written back unchanged under a new generation,
//! which bumps the host's revision in the same transaction (see
//! `ferrostack_store::server`), and the agent reconciles the server
//! against it at once. Nothing about the server changes, so no instance
//! action is recorded, as Nova records none.
//!
//! Refused like Nova: 403 for a non-admin (the route lets members in for
//! the other actions), 409 for a server on no host yet, or when locked
//! and the caller is not an admin (which cannot happen with the default
//! rule, kept for an operator's looser one).

use super::actions::check_lock;
use super::lifecycle::{from_store, to_store};
use super::{desired, set_desired};
use crate::error::{ComputeError, ComputeResult};
use crate::ComputeState;
use ferrostack_policy::AuthContext;
use ferrostack_store::server::Instance;

fn no_host(uuid: &str) -> ComputeError {
    ComputeError::Conflict(format!(
        "Instance {uuid} is not on a host yet: there is no network information to inject."
    ))
}

/// `injectNetworkInfo`: 202 once the host has been sent the state again.
pub fn inject_network_info(
    state: &ComputeState,
    caller: &AuthContext,
    i: &Instance,
) -> ComputeResult<Instance> {
    if !caller.is_admin() {
        return Err(ComputeError::Forbidden(
            "Policy doesn't allow os_compute_api:os-admin-actions:inject_network_info to be performed."
                .into(),
        ));
    }
    check_lock(caller, i)?;
    let updated = state
        .servers
        .modify_instance(&i.uuid, &mut |row| {
            let want = desired(row).map_err(to_store)?;
            match (want, row.host.as_ref()) {
                (Some(want), Some(_)) => set_desired(row, want).map_err(to_store),
                _ => Err(to_store(no_host(&row.uuid))),
            }
        })
        .map_err(from_store)?;
    state.link.kick();
    tracing::info!(server = %i.uuid, generation = updated.generation, "network information re-sent to the host");
    Ok(updated)
}
