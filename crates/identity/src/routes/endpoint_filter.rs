//! OS-EP-FILTER: endpoint groups, and which endpoints a project's tokens
//! list (`/v3/OS-EP-FILTER/...`).
//!
//! An endpoint group is a filter over endpoint attributes (`service_id`,
//! `region_id`, `interface`). A project is associated with endpoints
//! directly or with endpoint groups; once it has any association, its
//! project-scoped tokens carry only those endpoints ([`crate::catalog`]).
//! Associations live in the store beside the catalog and move its
//! generation, so the next token sees a change. All admin, as Keystone.

use crate::catalog::group_matches;
use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use crate::views;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use ferrostack_common::ids::new_hex_id;
use ferrostack_identity_types::catalog_extras::EndpointGroupBody;
use ferrostack_store::endpoint_filter::EndpointGroup;
use ferrostack_store::identity::Endpoint;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

const FILTER_KEYS: [&str; 3] = ["service_id", "region_id", "interface"];

fn group_view(base: &str, g: &EndpointGroup) -> Value {
    json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "filters": g.filters,
        "links": {"self": format!("{base}/v3/OS-EP-FILTER/endpoint_groups/{}", g.id)},
    })
}

fn one(id: &Identity, g: &EndpointGroup) -> axum::Json<Value> {
    axum::Json(json!({ "endpoint_group": group_view(&id.config.public_url, g) }))
}

fn check_filters(f: Map<String, Value>) -> IdResult<Map<String, Value>> {
    for (k, v) in &f {
        if !FILTER_KEYS.contains(&k.as_str()) || !v.is_string() {
            return Err(IdentityError::BadRequest(format!(
                "Invalid input for field 'filters': {k} is not an endpoint attribute a group \
                 can filter on (service_id, region_id, interface; string values)."
            )));
        }
    }
    Ok(f)
}

/// `POST /v3/OS-EP-FILTER/endpoint_groups`: `name` and `filters` required.
pub async fn create_group(
    State(id): State<Arc<Identity>>,
    Json(body): Json<EndpointGroupBody>,
) -> IdResult<impl IntoResponse> {
    let f = body.endpoint_group;
    let name = super::require_name("endpoint group", f.name.as_ref())?;
    let filters = f.filters.ok_or_else(|| {
        IdentityError::BadRequest("Invalid input for field 'filters': required.".into())
    })?;
    let g = EndpointGroup {
        id: new_hex_id(),
        name,
        description: f.description.unwrap_or_default(),
        filters: check_filters(filters)?,
    };
    id.store.create_endpoint_group(&g)?;
    tracing::info!(endpoint_group_id = %g.id, "endpoint group created");
    Ok((StatusCode::CREATED, one(&id, &g)))
}

/// `GET /v3/OS-EP-FILTER/endpoint_groups`.
pub async fn list_groups(State(id): State<Arc<Identity>>) -> IdResult<axum::Json<Value>> {
    let base = &id.config.public_url;
    let groups: Vec<Value> = id
        .store
        .list_endpoint_groups()?
        .iter()
        .map(|g| group_view(base, g))
        .collect();
    Ok(axum::Json(json!({
        "endpoint_groups": groups,
        "links": views::collection_links(base, "/v3/OS-EP-FILTER/endpoint_groups"),
    })))
}

/// `GET`/`HEAD /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}`.
pub async fn show_group(
    State(id): State<Arc<Identity>>,
    Path(group_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    Ok(one(&id, &id.store.get_endpoint_group(&group_id)?))
}

/// `PATCH /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}`.
pub async fn update_group(
    State(id): State<Arc<Identity>>,
    Path(group_id): Path<String>,
    Json(body): Json<EndpointGroupBody>,
) -> IdResult<axum::Json<Value>> {
    let mut g = id.store.get_endpoint_group(&group_id)?;
    let f = body.endpoint_group;
    if f.name.is_some() {
        g.name = super::require_name("endpoint group", f.name.as_ref())?;
    }
    if let Some(d) = f.description {
        g.description = d;
    }
    if let Some(filters) = f.filters {
        g.filters = check_filters(filters)?;
    }
    id.store.update_endpoint_group(&g)?;
    Ok(one(&id, &g))
}

/// `DELETE /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}`.
pub async fn delete_group(
    State(id): State<Arc<Identity>>,
    Path(group_id): Path<String>,
) -> IdResult<StatusCode> {
    id.store.delete_endpoint_group(&group_id)?;
    tracing::info!(endpoint_group_id = %group_id, "endpoint group deleted");
    Ok(StatusCode::NO_CONTENT)
}

fn endpoints_view(id: &Identity, eps: &[Endpoint], path: &str) -> axum::Json<Value> {
    let base = &id.config.public_url;
    let list: Vec<Value> = eps.iter().map(|e| views::endpoint(base, e)).collect();
    axum::Json(json!({
        "endpoints": list,
        "links": views::collection_links(base, path),
    }))
}

fn projects_view(id: &Identity, project_ids: &BTreeSet<String>, path: &str) -> axum::Json<Value> {
    let base = &id.config.public_url;
    let list: Vec<Value> = project_ids
        .iter()
        .filter_map(|p| id.store.get_project(p).ok())
        .map(|p| views::project(base, &p))
        .collect();
    axum::Json(json!({
        "projects": list,
        "links": views::collection_links(base, path),
    }))
}

/// `GET /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/endpoints`:
/// the endpoints the group's filter matches.
pub async fn group_endpoints(
    State(id): State<Arc<Identity>>,
    Path(group_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    let g = id.store.get_endpoint_group(&group_id)?;
    let eps: Vec<Endpoint> = id
        .store
        .list_endpoints()?
        .into_iter()
        .filter(|e| group_matches(&g, e))
        .collect();
    Ok(endpoints_view(
        &id,
        &eps,
        &format!("/v3/OS-EP-FILTER/endpoint_groups/{group_id}/endpoints"),
    ))
}

/// `GET /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects`.
pub async fn group_projects(
    State(id): State<Arc<Identity>>,
    Path(group_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    id.store.get_endpoint_group(&group_id)?;
    let projects: BTreeSet<String> = id
        .store
        .list_project_endpoint_groups()?
        .into_iter()
        .filter(|(_, g)| *g == group_id)
        .map(|(p, _)| p)
        .collect();
    Ok(projects_view(
        &id,
        &projects,
        &format!("/v3/OS-EP-FILTER/endpoint_groups/{group_id}/projects"),
    ))
}

fn group_association_missing(group_id: &str, project_id: &str) -> IdentityError {
    IdentityError::NotFound(format!(
        "Could not find project endpoint group association: endpoint group {group_id}, \
         project {project_id}."
    ))
}

fn group_association_exists(id: &Identity, group_id: &str, project_id: &str) -> IdResult<bool> {
    id.store.get_endpoint_group(group_id)?;
    id.store.get_project(project_id)?;
    Ok(id
        .store
        .list_project_endpoint_groups()?
        .iter()
        .any(|(p, g)| p == project_id && g == group_id))
}

/// `PUT /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}`.
pub async fn add_group_project(
    State(id): State<Arc<Identity>>,
    Path((group_id, project_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    id.store.get_endpoint_group(&group_id)?;
    id.store.get_project(&project_id)?;
    id.store
        .add_project_endpoint_group(&project_id, &group_id)?;
    tracing::info!(endpoint_group_id = %group_id, project_id, "endpoint group associated");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET`/`HEAD .../endpoint_groups/{endpoint_group_id}/projects/{project_id}`.
pub async fn show_group_project(
    State(id): State<Arc<Identity>>,
    Path((group_id, project_id)): Path<(String, String)>,
) -> IdResult<axum::Json<Value>> {
    if !group_association_exists(&id, &group_id, &project_id)? {
        return Err(group_association_missing(&group_id, &project_id));
    }
    let base = &id.config.public_url;
    Ok(axum::Json(json!({"project_endpoint_group": {
        "endpoint_group_id": group_id,
        "project_id": project_id,
        "links": {"self": format!(
            "{base}/v3/OS-EP-FILTER/endpoint_groups/{group_id}/projects/{project_id}"
        )},
    }})))
}

/// `DELETE .../endpoint_groups/{endpoint_group_id}/projects/{project_id}`.
pub async fn remove_group_project(
    State(id): State<Arc<Identity>>,
    Path((group_id, project_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    if !group_association_exists(&id, &group_id, &project_id)? {
        return Err(group_association_missing(&group_id, &project_id));
    }
    id.store
        .remove_project_endpoint_group(&project_id, &group_id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups`.
pub async fn project_groups(
    State(id): State<Arc<Identity>>,
    Path(project_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    id.store.get_project(&project_id)?;
    let base = &id.config.public_url;
    let groups: Vec<Value> = id
        .store
        .list_project_endpoint_groups()?
        .into_iter()
        .filter(|(p, _)| *p == project_id)
        .filter_map(|(_, g)| id.store.get_endpoint_group(&g).ok())
        .map(|g| group_view(base, &g))
        .collect();
    Ok(axum::Json(json!({
        "endpoint_groups": groups,
        "links": views::collection_links(
            base,
            &format!("/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups"),
        ),
    })))
}

/// `GET /v3/OS-EP-FILTER/projects/{project_id}/endpoints`: the endpoints
/// the project's tokens carry when it is filtered (direct and through
/// its groups).
pub async fn project_endpoints(
    State(id): State<Arc<Identity>>,
    Path(project_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    id.store.get_project(&project_id)?;
    let filters = id.endpoint_filters()?;
    let allowed = filters.get(&project_id).cloned().unwrap_or_default();
    let eps: Vec<Endpoint> = id
        .store
        .list_endpoints()?
        .into_iter()
        .filter(|e| allowed.contains(&e.id))
        .collect();
    Ok(endpoints_view(
        &id,
        &eps,
        &format!("/v3/OS-EP-FILTER/projects/{project_id}/endpoints"),
    ))
}

fn endpoint_association_exists(
    id: &Identity,
    project_id: &str,
    endpoint_id: &str,
) -> IdResult<bool> {
    id.store.get_project(project_id)?;
    id.store.get_endpoint(endpoint_id)?;
    Ok(id
        .store
        .list_project_endpoints()?
        .iter()
        .any(|(p, e)| p == project_id && e == endpoint_id))
}

fn endpoint_association_missing(project_id: &str, endpoint_id: &str) -> IdentityError {
    IdentityError::NotFound(format!(
        "Could not find project endpoint association: project {project_id}, \
         endpoint {endpoint_id}."
    ))
}

/// `PUT /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}`.
pub async fn add_project_endpoint(
    State(id): State<Arc<Identity>>,
    Path((project_id, endpoint_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    id.store.get_project(&project_id)?;
    id.store.get_endpoint(&endpoint_id)?;
    id.store.add_project_endpoint(&project_id, &endpoint_id)?;
    tracing::info!(project_id, endpoint_id, "endpoint associated with project");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET`/`HEAD /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}`: 204 or 404.
pub async fn check_project_endpoint(
    State(id): State<Arc<Identity>>,
    Path((project_id, endpoint_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    if endpoint_association_exists(&id, &project_id, &endpoint_id)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(endpoint_association_missing(&project_id, &endpoint_id))
    }
}

/// `DELETE /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}`.
pub async fn remove_project_endpoint(
    State(id): State<Arc<Identity>>,
    Path((project_id, endpoint_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    if !endpoint_association_exists(&id, &project_id, &endpoint_id)? {
        return Err(endpoint_association_missing(&project_id, &endpoint_id));
    }
    id.store
        .remove_project_endpoint(&project_id, &endpoint_id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects`: the projects
/// associated with the endpoint directly.
pub async fn endpoint_projects(
    State(id): State<Arc<Identity>>,
    Path(endpoint_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    id.store.get_endpoint(&endpoint_id)?;
    let projects: BTreeSet<String> = id
        .store
        .list_project_endpoints()?
        .into_iter()
        .filter(|(_, e)| *e == endpoint_id)
        .map(|(p, _)| p)
        .collect();
    Ok(projects_view(
        &id,
        &projects,
        &format!("/v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects"),
    ))
}
