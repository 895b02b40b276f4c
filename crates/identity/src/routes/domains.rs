//! `/v3/domains`: create, list, show, update, delete.

use super::{list_filter, require_name, Caller};
use crate::error::{IdResult, IdentityError, Json};
use crate::roles;
use crate::service::Identity;
use crate::views;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use ferrostack_common::ids::new_hex_id;
use ferrostack_identity_types::resources::DomainBody;
use ferrostack_store::identity::{Domain, ListFilter};
use http::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// `POST /v3/domains`.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Json(body): Json<DomainBody>,
) -> IdResult<impl IntoResponse> {
    let f = body.domain;
    let domain = Domain {
        id: new_hex_id(),
        name: require_name("domain", f.name.as_ref())?,
        description: f.description.unwrap_or_default(),
        enabled: f.enabled.unwrap_or(true),
        tags: f.tags.unwrap_or_default(),
        extra: f.extra,
    };
    id.store.create_domain(&domain)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "domain": views::domain(&id.config.public_url, &domain) })),
    ))
}

/// `GET /v3/domains`.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let domains = id.store.list_domains(&list_filter(&q)?)?;
    let base = &id.config.public_url;
    Ok(axum::Json(json!({
        "domains": domains.iter().map(|d| views::domain(base, d)).collect::<Vec<_>>(),
        "links": views::collection_links(base, "/v3/domains"),
    })))
}

/// `GET /v3/domains/{domain_id}`: admins, members of the domain, and users
/// of the domain may see it; to anyone else it does not exist.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(domain_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    let domain = id.store.get_domain(&domain_id)?;
    let visible = caller.is_admin()
        || caller.user_domain_id == domain.id
        || roles::domain_ids_for_user(id.store.as_ref(), &caller.user_id)?.contains(&domain.id);
    if !visible {
        return Err(IdentityError::not_found("domain", &domain_id));
    }
    Ok(axum::Json(
        json!({ "domain": views::domain(&id.config.public_url, &domain) }),
    ))
}

/// `PATCH /v3/domains/{domain_id}`.
pub async fn update(
    State(id): State<Arc<Identity>>,
    Path(domain_id): Path<String>,
    Json(body): Json<DomainBody>,
) -> IdResult<axum::Json<Value>> {
    let f = body.domain;
    let mut domain = id.store.get_domain(&domain_id)?;
    if f.name.is_some() {
        domain.name = require_name("domain", f.name.as_ref())?;
    }
    if let Some(d) = f.description {
        domain.description = d;
    }
    if let Some(e) = f.enabled {
        domain.enabled = e;
    }
    if let Some(t) = f.tags {
        domain.tags = t;
    }
    for (k, v) in f.extra {
        domain.extra.insert(k, v);
    }
    id.store.update_domain(&domain)?;
    Ok(axum::Json(
        json!({ "domain": views::domain(&id.config.public_url, &domain) }),
    ))
}

/// `DELETE /v3/domains/{domain_id}`: only a disabled domain can go, and
/// it takes its projects, users and groups with it (Keystone's cascade):
/// their tokens are revoked and the other services hear of each project.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Path(domain_id): Path<String>,
) -> IdResult<StatusCode> {
    delete_with_contents(&id, &domain_id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete a disabled domain and everything in it (also reached through
/// `DELETE /v3/projects/{id}` of a project acting as a domain).
pub fn delete_with_contents(id: &Identity, domain_id: &str) -> IdResult<()> {
    let domain = id.store.get_domain(domain_id)?;
    if domain.enabled {
        return Err(IdentityError::Forbidden(
            "Cannot delete a domain that is enabled, please disable it first.".into(),
        ));
    }
    let owned = ListFilter {
        domain_id: Some(domain_id.to_string()),
        ..Default::default()
    };
    let projects = id.store.list_projects(&owned)?;
    let users = id.store.list_users(&owned)?;
    id.store.delete_domain(domain_id)?;
    for u in &users {
        id.revoke_user_tokens(&u.id)?;
    }
    for p in &projects {
        id.revoke_project_tokens(&p.id)?;
        id.project_deleted(&p.id);
    }
    tracing::info!(
        domain_id,
        projects = projects.len(),
        users = users.len(),
        "domain deleted with its contents"
    );
    Ok(())
}
