//! `/v3/projects`: create, list (with filters), show, update, delete.

use super::{list_filter, parse_bool, require_name, Caller};
use crate::bootstrap::DEFAULT_DOMAIN_ID;
use crate::error::{IdResult, IdentityError, Json};
use crate::roles;
use crate::service::Identity;
use crate::views;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use ferrostack_common::ids::new_hex_id;
use ferrostack_identity_types::resources::{ProjectBody, ProjectFields};
use ferrostack_store::identity::{Domain, ListFilter, Project};
use ferrostack_store::StoreError;
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

fn merge_extra(project: &mut Project, fields: &ProjectFields) {
    for (k, v) in &fields.extra {
        project.extra.insert(k.clone(), v.clone());
    }
}

fn check_tags(tags: &[String]) -> IdResult<()> {
    super::project_tags::validate_tags(tags)
}

/// `POST /v3/projects`.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Json(body): Json<ProjectBody>,
) -> IdResult<impl IntoResponse> {
    let f = body.project;
    let name = require_name("project", f.name.as_ref())?;
    if f.is_domain == Some(true) {
        return create_domain(&id, name, f);
    }
    let store = id.store.as_ref();
    // parent_id may name a project, or the domain itself for a top-level project.
    let (domain_id, parent_id) = match (&f.domain_id, &f.parent_id) {
        (_, Some(parent)) if store.get_project(parent).is_ok() => {
            let parent_project = store.get_project(parent)?;
            if f.domain_id
                .as_ref()
                .is_some_and(|d| *d != parent_project.domain_id)
            {
                return Err(IdentityError::BadRequest(
                    "A project's domain must be the domain of its parent.".into(),
                ));
            }
            (parent_project.domain_id, Some(parent.clone()))
        }
        (_, Some(parent)) => {
            if store.get_domain(parent).is_err() {
                return Err(IdentityError::BadRequest(format!(
                    "The parent {parent} is neither a project nor a domain."
                )));
            }
            (parent.clone(), None)
        }
        (Some(d), None) => (d.clone(), None),
        (None, None) => (DEFAULT_DOMAIN_ID.to_string(), None),
    };
    if store.get_domain(&domain_id).is_err() {
        return Err(IdentityError::BadRequest(format!(
            "Domain {domain_id} does not exist."
        )));
    }
    let tags = f.tags.clone().unwrap_or_default();
    check_tags(&tags)?;
    let mut project = Project {
        id: new_hex_id(),
        name,
        domain_id,
        parent_id,
        description: f.description.clone().unwrap_or_default(),
        enabled: f.enabled.unwrap_or(true),
        tags,
        extra: Default::default(),
    };
    merge_extra(&mut project, &f);
    store.create_project(&project)?;
    tracing::info!(project_id = %project.id, name = %project.name, "project created");
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "project": views::project(&id.config.public_url, &project) })),
    ))
}

/// `POST /v3/projects` with `is_domain: true`: as in Keystone, a project
/// acting as a domain *is* a domain (one id, listed by both APIs); it has
/// no parent and belongs to no domain.
fn create_domain(
    id: &Identity,
    name: String,
    f: ProjectFields,
) -> IdResult<(StatusCode, axum::Json<Value>)> {
    if f.parent_id.is_some() || f.domain_id.is_some() {
        return Err(IdentityError::BadRequest(
            "A project acting as a domain has no parent and no domain.".into(),
        ));
    }
    if name.chars().count() > 64 {
        return Err(IdentityError::BadRequest(
            "Invalid input for field 'name': the domain name is longer than 64 characters.".into(),
        ));
    }
    let tags = f.tags.clone().unwrap_or_default();
    check_tags(&tags)?;
    let domain = Domain {
        id: new_hex_id(),
        name,
        description: f.description.clone().unwrap_or_default(),
        enabled: f.enabled.unwrap_or(true),
        tags,
        extra: f.extra.clone(),
    };
    id.store.create_domain(&domain)?;
    tracing::info!(domain_id = %domain.id, name = %domain.name, "domain created through the projects API");
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "project": views::domain_as_project(&id.config.public_url, &domain) })),
    ))
}

/// `GET /v3/projects`.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let mut filter = list_filter(&q)?;
    if let Some(v) = q.get("is_domain") {
        if parse_bool("is_domain", v)? {
            let domains = id.store.list_domains(&ListFilter {
                name: filter.name.clone(),
                enabled: filter.enabled,
                ..Default::default()
            })?;
            let base = &id.config.public_url;
            return Ok(axum::Json(json!({
                "projects": domains.iter().map(|d| views::domain_as_project(base, d)).collect::<Vec<_>>(),
                "links": views::collection_links(base, "/v3/projects"),
            })));
        }
    }
    // A top-level project's parent is its domain.
    let mut top_level_of: Option<String> = None;
    if let Some(parent) = filter.parent_id.clone() {
        if id.store.get_project(&parent).is_err() && id.store.get_domain(&parent).is_ok() {
            top_level_of = Some(parent.clone());
            filter.parent_id = None;
            filter.domain_id = Some(parent);
        }
    }
    let tags_any: Option<Vec<String>> = q
        .get("tags-any")
        .map(|t| t.split(',').map(str::to_owned).collect());
    let tags_all: Option<Vec<String>> = q
        .get("tags")
        .map(|t| t.split(',').map(str::to_owned).collect());
    let projects: Vec<Project> = id
        .store
        .list_projects(&filter)?
        .into_iter()
        .filter(|p| top_level_of.is_none() || p.parent_id.is_none())
        .filter(|p| {
            tags_all
                .as_ref()
                .is_none_or(|t| t.iter().all(|x| p.tags.contains(x)))
        })
        .filter(|p| {
            tags_any
                .as_ref()
                .is_none_or(|t| t.iter().any(|x| p.tags.contains(x)))
        })
        .collect();
    let base = &id.config.public_url;
    Ok(axum::Json(json!({
        "projects": projects.iter().map(|p| views::project(base, p)).collect::<Vec<_>>(),
        "links": views::collection_links(base, "/v3/projects"),
    })))
}

/// Fetch a project the caller may see: admins see all, others only
/// projects they hold a role on; anything else is "not found".
fn visible_project(
    id: &Identity,
    caller: &ferrostack_policy::AuthContext,
    project_id: &str,
) -> IdResult<Project> {
    let project = id.store.get_project(project_id)?;
    if caller.is_admin() {
        return Ok(project);
    }
    let has_role =
        !roles::effective_roles_on_project(id.store.as_ref(), &caller.user_id, &project)?
            .is_empty();
    if has_role {
        Ok(project)
    } else {
        Err(IdentityError::not_found("project", project_id))
    }
}

/// `GET /v3/projects/{project_id}`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(project_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    if caller.is_admin() && id.store.get_project(&project_id).is_err() {
        if let Ok(domain) = id.store.get_domain(&project_id) {
            return Ok(axum::Json(
                json!({ "project": views::domain_as_project(&id.config.public_url, &domain) }),
            ));
        }
    }
    let project = visible_project(&id, &caller, &project_id)?;
    Ok(axum::Json(
        json!({ "project": views::project(&id.config.public_url, &project) }),
    ))
}

/// `PATCH /v3/projects/{project_id}`.
pub async fn update(
    State(id): State<Arc<Identity>>,
    Path(project_id): Path<String>,
    Json(body): Json<ProjectBody>,
) -> IdResult<axum::Json<Value>> {
    let f = body.project;
    let mut project = match id.store.get_project(&project_id) {
        Err(StoreError::NotFound { .. }) if id.store.get_domain(&project_id).is_ok() => {
            return update_domain(&id, &project_id, f);
        }
        other => other?,
    };
    if f.domain_id
        .as_ref()
        .is_some_and(|d| *d != project.domain_id)
    {
        return Err(IdentityError::BadRequest(
            "A project cannot move to another domain.".into(),
        ));
    }
    if f.is_domain == Some(true) {
        return Err(IdentityError::BadRequest(
            "is_domain cannot be changed.".into(),
        ));
    }
    if f.name.is_some() {
        project.name = require_name("project", f.name.as_ref())?;
    }
    if let Some(d) = &f.description {
        project.description = d.clone();
    }
    let disabling = f.enabled == Some(false) && project.enabled;
    if let Some(e) = f.enabled {
        project.enabled = e;
    }
    if let Some(tags) = &f.tags {
        check_tags(tags)?;
        project.tags = tags.clone();
    }
    merge_extra(&mut project, &f);
    id.store.update_project(&project)?;
    if disabling {
        id.revoke_project_tokens(&project.id)?;
    }
    Ok(axum::Json(
        json!({ "project": views::project(&id.config.public_url, &project) }),
    ))
}

/// `PATCH /v3/projects/{id}` of a project acting as a domain: the
/// domain's own fields.
fn update_domain(id: &Identity, domain_id: &str, f: ProjectFields) -> IdResult<axum::Json<Value>> {
    if f.is_domain == Some(false) || f.domain_id.is_some() || f.parent_id.is_some() {
        return Err(IdentityError::BadRequest(
            "is_domain, domain_id and parent_id cannot be changed.".into(),
        ));
    }
    let mut domain = id.store.get_domain(domain_id)?;
    if f.name.is_some() {
        domain.name = require_name("domain", f.name.as_ref())?;
    }
    if let Some(d) = &f.description {
        domain.description = d.clone();
    }
    if let Some(e) = f.enabled {
        domain.enabled = e;
    }
    if let Some(tags) = &f.tags {
        check_tags(tags)?;
        domain.tags = tags.clone();
    }
    for (k, v) in &f.extra {
        domain.extra.insert(k.clone(), v.clone());
    }
    id.store.update_domain(&domain)?;
    Ok(axum::Json(
        json!({ "project": views::domain_as_project(&id.config.public_url, &domain) }),
    ))
}

/// `DELETE /v3/projects/{project_id}`.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Path(project_id): Path<String>,
) -> IdResult<StatusCode> {
    if matches!(
        id.store.get_project(&project_id),
        Err(StoreError::NotFound { .. })
    ) && id.store.get_domain(&project_id).is_ok()
    {
        super::domains::delete_with_contents(&id, &project_id)?;
        return Ok(StatusCode::NO_CONTENT);
    }
    id.store.delete_project(&project_id)?;
    id.revoke_project_tokens(&project_id)?;
    id.project_deleted(&project_id);
    tracing::info!(project_id, "project deleted");
    Ok(StatusCode::NO_CONTENT)
}
