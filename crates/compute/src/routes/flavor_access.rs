//! Private flavors' access lists: `GET /flavors/{id}/os-flavor-access`
//! and the `addTenantAccess` / `removeTenantAccess` actions (admin only).
//!
//! Refusing access to a public flavor (409) starts at 2.7; before, Nova
//! recorded it. A project added by name is stored by id (Nova would refuse the name
//! as an unknown project id; openstackclient resolves names first, so
//! both ways end with the id stored).

use super::{resolve_admin, IfUnknown};
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::routes::flavors::not_found;
use crate::ComputeState;
use axum::extract::{Path, State};
use ferrostack_compute_types::flavor_body::{FlavorAction, FlavorActionBody};
use ferrostack_store::compute::Flavor;
use serde_json::{json, Value};
use std::sync::Arc;

fn access_list(flavor: &Flavor) -> Value {
    let entries: Vec<Value> = flavor
        .projects
        .iter()
        .map(|p| json!({"flavor_id": flavor.id, "tenant_id": p}))
        .collect();
    json!({ "flavor_access": entries })
}

fn flavor(state: &ComputeState, id: &str) -> ComputeResult<Flavor> {
    state.compute.get_flavor(id)?.ok_or_else(|| not_found(id))
}

/// `GET /v2.1/flavors/{flavor_id}/os-flavor-access`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let f = flavor(&state, &id)?;
    if f.is_public {
        return Err(ComputeError::NotFound(
            "Access list not available for public flavors.".into(),
        ));
    }
    Ok(axum::Json(access_list(&f)))
}

/// `POST /v2.1/flavors/{flavor_id}/action`: add or remove a project's access.
pub async fn action(
    State(state): State<Arc<ComputeState>>,
    Version(v): Version,
    Path(id): Path<String>,
    Json(body): Json<FlavorActionBody>,
) -> ComputeResult<axum::Json<Value>> {
    match body.action()? {
        FlavorAction::AddTenantAccess(raw) => {
            // Nova checks the project before the flavor.
            let project = resolve_admin(&state, &raw, IfUnknown::Refuse)?;
            let f = flavor(&state, &id)?;
            // Before 2.7 Nova recorded access to a public flavor (to no effect).
            if f.is_public && v.at_least(7) {
                return Err(ComputeError::Conflict(
                    "Can not add access to a public flavor.".into(),
                ));
            }
            if !state.compute.add_flavor_access(&id, &project)? {
                return Err(ComputeError::Conflict(format!(
                    "Flavor access already exists for flavor {id} and project {project} combination."
                )));
            }
        }
        FlavorAction::RemoveTenantAccess(raw) => {
            let project = resolve_admin(&state, &raw, IfUnknown::Refuse)?;
            flavor(&state, &id)?;
            if !state.compute.remove_flavor_access(&id, &project)? {
                return Err(ComputeError::NotFound(format!(
                    "Flavor access not found for {id} / {project} combination."
                )));
            }
        }
    }
    Ok(axum::Json(access_list(&flavor(&state, &id)?)))
}
