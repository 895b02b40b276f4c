//! `GET /v2.1/limits`: the absolute limits and usage of the caller's
//! project, or of `?tenant_id=` for an admin.
//!
//! Two leniencies over Nova, both for openstackclient: openstacksdk sends
//! `tenant_id=None` (the Python `None`, stringified) when no project was
//! asked for, which is read here as no `tenant_id`; and a non-admin may
//! name their own project, which reveals nothing. Nova would answer 403
//! to a non-admin in both cases, breaking `openstack limits show` for them.

use super::{resolve_admin, Caller, IfUnknown, QueryPairs};
use crate::error::{ComputeError, ComputeResult};
use crate::microversion::Version;
use crate::ComputeState;
use axum::extract::State;
use ferrostack_compute_types::quota::{absolute_limits, Limits, LimitsBody};
use ferrostack_quota::{own_project, COMPUTE};
use std::sync::Arc;

/// `GET /v2.1/limits`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<LimitsBody>> {
    q.check_known(v, &["tenant_id"])?;
    let tenant = q.get("tenant_id").filter(|t| *t != "None");
    let own = tenant.and_then(|t| own_project(&caller, t));
    let project_id = match (tenant, own) {
        (_, Some(own)) => own,
        (Some(raw), None) => {
            if !caller.is_admin() {
                return Err(ComputeError::Forbidden(
                    "Policy doesn't allow os_compute_api:limits:other_project to be performed."
                        .into(),
                ));
            }
            // Nova does not check the project here; a name still resolves.
            resolve_admin(&state, raw, IfUnknown::UseAsGiven)?
        }
        // A token without a project (system or domain scope) sees the defaults.
        (None, None) => caller.project_id().unwrap_or_default().to_string(),
    };
    let limits = state.quotas.limits(&COMPUTE, &project_id)?;
    let usage = state.quotas.usage(&COMPUTE, &project_id)?;
    Ok(axum::Json(LimitsBody {
        limits: Limits {
            absolute: absolute_limits(v, &limits, &usage),
            rate: vec![],
        },
    }))
}
