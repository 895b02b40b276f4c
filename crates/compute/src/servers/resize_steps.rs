//! Resize as steps of the step/undo runner (`ferrostack-operations`).
//!
//! ```text
//!  step   run                                          undo
//!  quota  reserve the extra quota under <uuid>/resize  release <uuid>/resize
//!  claim  claim the extra room on the server's host    release the claim
//!  apply  new flavor in the doc, new size in the       back to the old flavor
//!         desired state (task resize_prep)             (ResizeDesire::Revert)
//! ```
//!
//! Anything failing after the claim releases the claim and the quota at
//! once; the API answers the error and the server keeps its flavor.
//!
//! After a crash a resize is **resumed if `apply` took effect** (the row
//! carries the new flavor and keeps the old one), else **undone**. Once
//! applied, the host's agent may already be resizing the disk; finishing
//! costs nothing (`apply` sees its own change and does nothing again) and
//! leaves the server as the user asked, in VERIFY_RESIZE, where confirm
//! or revert decide. Before that nothing but quota and a claim exist, and
//! the client, which got no answer, may simply ask again.
//!
//! Rejected: always undoing (reverting a disk resize the agent may be in
//! the middle of, for a request that did go through) and always resuming
//! (reserving quota twice for a step that had run: reservations add up).

use super::lifecycle::start_action;
use super::FlavorSnapshot;
use crate::error::{ComputeError, ComputeResult};
use crate::hostlink::resize_consumer;
use crate::ComputeState;
use ferrostack_operations::{Direction, Recovery, Registry, Step};
use ferrostack_policy::AuthContext;
use ferrostack_quota::{QuotaError, COMPUTE};
use ferrostack_store::placement::Allocation;
use ferrostack_store::server::Instance;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// The operation kind of a resize.
pub const KIND: &str = "server.resize";

/// The steps of a resize, in order (a record's `completed` counts them).
pub const STEPS: [&str; 3] = ["quota", "claim", "apply"];

/// What a resize's steps share and its record keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResizeOp {
    /// The server (also the record's subject).
    pub server: String,
    /// Its project, which the extra quota is counted against.
    pub project_id: String,
    /// Its user, whose per-user quota also counts (empty in records
    /// written before per-user quotas: the project's alone).
    #[serde(default)]
    pub user_id: String,
    /// Its host, where the extra room is claimed.
    pub host: String,
    /// The API request (the `resize` action's id).
    pub request_id: String,
    /// The flavor asked for.
    pub new: FlavorSnapshot,
    /// Extra quota the new flavor needs.
    pub quota: BTreeMap<String, i64>,
    /// Extra placement resources the new flavor needs.
    pub placement: BTreeMap<String, u64>,
    /// `OS-DCF:diskConfig` asked for, shown from the apply on.
    #[serde(default)]
    pub disk_config: Option<String>,
}

/// What only a live request has.
#[derive(Clone, Copy)]
pub struct Live<'a> {
    /// Who asked (for the instance action).
    pub caller: &'a AuthContext,
    /// The server as `apply` left it.
    pub out: &'a RefCell<Option<Instance>>,
}

/// The steps of a resize; at start-up (no `live`) `apply` records no
/// instance action.
pub fn steps<'a>(
    state: &'a ComputeState,
    live: Option<Live<'a>>,
) -> Vec<Step<'a, ResizeOp, ComputeError>> {
    let consumer = |op: &ResizeOp| resize_consumer(&op.server);
    vec![
        Step::new(
            STEPS[0],
            move |op: &mut ResizeOp| reserve_quota(state, op),
            move |op: &mut ResizeOp| Ok(state.quotas.release(&COMPUTE, &consumer(op))?),
        ),
        Step::new(
            STEPS[1],
            move |op: &mut ResizeOp| claim(state, op),
            move |op: &mut ResizeOp| Ok(state.placement.release(&consumer(op))?),
        ),
        Step::new(
            STEPS[2],
            move |op: &mut ResizeOp| apply(state, live, op),
            move |op: &mut ResizeOp| super::resize::take_back_resize(state, op),
        ),
    ]
}

/// Start-up resumes a resize whose `apply` took effect and undoes the
/// others (see the module doc).
pub fn register<'a>(registry: &mut Registry<'a>, state: &'a ComputeState) {
    registry.register(KIND, move |_op, p: &ResizeOp| {
        let applied = match state.servers.get_instance(&p.server)? {
            Some(row) => super::resize::resize_in_effect(&row, p)?,
            None => false,
        };
        Ok::<_, ComputeError>(Recovery {
            direction: if applied {
                Direction::Resume
            } else {
                Direction::Undo
            },
            steps: steps(state, None),
        })
    });
}

fn reserve_quota(state: &ComputeState, op: &ResizeOp) -> ComputeResult<()> {
    if op.quota.is_empty() {
        return Ok(());
    }
    let consumer = resize_consumer(&op.server);
    let taken = if op.user_id.is_empty() {
        (state.quotas).reserve(&COMPUTE, &op.project_id, &consumer, &op.quota)
    } else {
        (state.quotas).reserve_as(&COMPUTE, &op.project_id, &op.user_id, &consumer, &op.quota)
    };
    taken.map_err(|e| match e {
        QuotaError::OverQuota(o) => ComputeError::Forbidden(format!(
            "Quota exceeded for {}: the new flavor needs more than is left.",
            o.iter()
                .map(|o| o.resource.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        other => other.into(),
    })
}

fn claim(state: &ComputeState, op: &ResizeOp) -> ComputeResult<()> {
    if op.placement.is_empty() {
        return Ok(());
    }
    let claim = state.placement.claim(&[Allocation {
        consumer: resize_consumer(&op.server),
        provider: op.host.clone(),
        resources: op.placement.clone(),
    }])?;
    claim.map_err(|conflict| {
        ComputeError::BadRequest(format!(
            "No valid host was found. The host has no room for the new flavor ({conflict})."
        ))
    })
}

/// Step `apply`: the desired-state change, then the instance action; if
/// that cannot be written the change is taken back. Resumed at start-up
/// (no `live`), it is done only if the server does not carry it yet.
fn apply(state: &ComputeState, live: Option<Live<'_>>, op: &mut ResizeOp) -> ComputeResult<()> {
    let Some(live) = live else {
        let applied = match state.servers.get_instance(&op.server)? {
            Some(row) => super::resize::resize_in_effect(&row, op)?,
            None => false,
        };
        if !applied {
            super::resize::apply_resize(state, op)?;
        }
        return Ok(());
    };
    let updated = super::resize::apply_resize(state, op)?;
    let event = "compute_resize_instance";
    if let Err(e) = start_action(
        state,
        live.caller,
        &updated,
        "resize",
        &op.request_id,
        event,
    ) {
        super::resize::take_back_resize(state, op)?;
        return Err(e);
    }
    *live.out.borrow_mut() = Some(updated);
    Ok(())
}
