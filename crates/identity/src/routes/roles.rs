//! `/v3/roles`, and role grants on projects and domains: direct ones
//! (`/v3/projects/{p}/users/{u}/roles/{r}`, ...) and inherited ones
//! (OS-INHERIT: `/v3/OS-INHERIT/domains/{d}/users/{u}/roles/{r}/inherited_to_projects`,
//! ...), which apply to the projects below their target and not to the
//! target itself. Both kinds are one row in the same table, told apart by
//! a flag; the same handlers serve both, told apart by their route.

use super::require_name;
use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use crate::views;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use ferrostack_common::ids::new_hex_id;
use ferrostack_store::identity::{Actor, Assignment, AssignmentFilter, ListFilter, Role, Target};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Body of role create/update.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    role: RoleFields,
}

#[derive(Deserialize)]
struct RoleFields {
    name: Option<String>,
    domain_id: Option<String>,
    description: Option<String>,
    #[serde(default)]
    options: Option<Map<String, Value>>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// `POST /v3/roles`.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Json(body): Json<RoleBody>,
) -> IdResult<impl IntoResponse> {
    let f = body.role;
    if let Some(d) = &f.domain_id {
        id.store
            .get_domain(d)
            .map_err(|_| IdentityError::BadRequest(format!("Domain {d} does not exist.")))?;
    }
    let _ = f.options;
    let role = Role {
        id: new_hex_id(),
        name: require_name("role", f.name.as_ref())?,
        domain_id: f.domain_id,
        description: f.description.unwrap_or_default(),
        extra: f.extra,
    };
    id.store.create_role(&role)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "role": views::role(&id.config.public_url, &role) })),
    ))
}

/// `GET /v3/roles`.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let roles = id.store.list_roles(&ListFilter {
        name: q.get("name").cloned(),
        domain_id: q.get("domain_id").cloned(),
        ..Default::default()
    })?;
    let base = &id.config.public_url;
    Ok(axum::Json(json!({
        "roles": roles.iter().map(|r| views::role(base, r)).collect::<Vec<_>>(),
        "links": views::collection_links(base, "/v3/roles"),
    })))
}

/// `GET /v3/roles/{role_id}`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Path(role_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    let role = id.store.get_role(&role_id)?;
    Ok(axum::Json(
        json!({ "role": views::role(&id.config.public_url, &role) }),
    ))
}

/// `PATCH /v3/roles/{role_id}`.
pub async fn update(
    State(id): State<Arc<Identity>>,
    Path(role_id): Path<String>,
    Json(body): Json<RoleBody>,
) -> IdResult<axum::Json<Value>> {
    let f = body.role;
    let mut role = id.store.get_role(&role_id)?;
    if f.domain_id.is_some() && f.domain_id != role.domain_id {
        return Err(IdentityError::BadRequest(
            "A role's domain cannot change.".into(),
        ));
    }
    if f.name.is_some() {
        role.name = require_name("role", f.name.as_ref())?;
    }
    if let Some(d) = f.description {
        role.description = d;
    }
    for (k, v) in f.extra {
        role.extra.insert(k, v);
    }
    id.store.update_role(&role)?;
    Ok(axum::Json(
        json!({ "role": views::role(&id.config.public_url, &role) }),
    ))
}

/// `DELETE /v3/roles/{role_id}`.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Path(role_id): Path<String>,
) -> IdResult<StatusCode> {
    let holders = id.store.list_assignments(&AssignmentFilter {
        role_id: Some(role_id.clone()),
        ..Default::default()
    })?;
    id.store.delete_role(&role_id)?;
    for a in holders {
        revoke_tokens_for(&id, &a)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Which grant route was called: the actor kind and the target kind.
#[derive(Clone, Copy, Debug)]
pub enum GrantRoute {
    /// `/v3/projects/{project_id}/users/{user_id}/roles...`
    ProjectUser,
    /// `/v3/projects/{project_id}/groups/{group_id}/roles...`
    ProjectGroup,
    /// `/v3/domains/{domain_id}/users/{user_id}/roles...`
    DomainUser,
    /// `/v3/domains/{domain_id}/groups/{group_id}/roles...`
    DomainGroup,
}

fn assignment(
    id: &Identity,
    route: GrantRoute,
    target_id: &str,
    actor_id: &str,
    role_id: Option<&str>,
    inherited: bool,
) -> IdResult<Assignment> {
    let store = id.store.as_ref();
    let target = match route {
        GrantRoute::ProjectUser | GrantRoute::ProjectGroup => {
            store.get_project(target_id)?;
            Target::Project(target_id.to_string())
        }
        GrantRoute::DomainUser | GrantRoute::DomainGroup => {
            store.get_domain(target_id)?;
            Target::Domain(target_id.to_string())
        }
    };
    let actor = match route {
        GrantRoute::ProjectUser | GrantRoute::DomainUser => {
            store.get_user(actor_id)?;
            Actor::User(actor_id.to_string())
        }
        GrantRoute::ProjectGroup | GrantRoute::DomainGroup => {
            store.get_group(actor_id)?;
            Actor::Group(actor_id.to_string())
        }
    };
    let role_id = match role_id {
        Some(r) => {
            store.get_role(r)?;
            r.to_string()
        }
        None => String::new(),
    };
    Ok(Assignment {
        actor,
        target,
        role_id,
        inherited,
    })
}

/// Tokens that relied on an assignment stop working when it goes.
pub(crate) fn revoke_tokens_for(id: &Identity, a: &Assignment) -> IdResult<()> {
    let users = match &a.actor {
        Actor::User(u) => vec![u.clone()],
        Actor::Group(g) => id.store.list_group_user_ids(g)?,
    };
    for u in users {
        match &a.target {
            Target::Project(p) if !a.inherited => id.revoke_user_project_tokens(&u, p)?,
            _ => id.revoke_user_tokens(&u)?,
        }
    }
    Ok(())
}

/// `PUT .../roles/{role_id}`: grant.
pub async fn grant(
    State(id): State<Arc<Identity>>,
    route: GrantRoute,
    inherited: bool,
    (target_id, actor_id, role_id): (String, String, String),
) -> IdResult<StatusCode> {
    let a = assignment(&id, route, &target_id, &actor_id, Some(&role_id), inherited)?;
    id.store.grant(&a)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `HEAD/GET .../roles/{role_id}`: is it granted?
pub async fn check(
    State(id): State<Arc<Identity>>,
    route: GrantRoute,
    inherited: bool,
    (target_id, actor_id, role_id): (String, String, String),
) -> IdResult<StatusCode> {
    let a = assignment(&id, route, &target_id, &actor_id, Some(&role_id), inherited)?;
    let found = id.store.list_assignments(&AssignmentFilter {
        actors: Some(vec![a.actor.clone()]),
        target: Some(a.target.clone()),
        role_id: Some(a.role_id.clone()),
    })?;
    if found.iter().any(|x| x.inherited == inherited) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(IdentityError::NotFound(format!(
            "Could not find role assignment with role: {role_id}, actor: {actor_id}, target: {target_id}."
        )))
    }
}

/// `DELETE .../roles/{role_id}`: revoke, and end the tokens that relied on it.
pub async fn revoke(
    State(id): State<Arc<Identity>>,
    route: GrantRoute,
    inherited: bool,
    (target_id, actor_id, role_id): (String, String, String),
) -> IdResult<StatusCode> {
    let a = assignment(&id, route, &target_id, &actor_id, Some(&role_id), inherited)?;
    id.store.revoke(&a).map_err(|e| match e {
        ferrostack_store::StoreError::NotFound { .. } => IdentityError::NotFound(format!(
            "Could not find role assignment with role: {role_id}, actor: {actor_id}, target: {target_id}."
        )),
        // A database failure is a 500, not a missing assignment.
        other => other.into(),
    })?;
    revoke_tokens_for(&id, &a)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET .../roles` (or `.../roles/inherited_to_projects`): the roles
/// granted directly (or the inherited ones).
pub async fn list_grants(
    State(id): State<Arc<Identity>>,
    route: GrantRoute,
    inherited: bool,
    (target_id, actor_id): (String, String),
) -> IdResult<axum::Json<Value>> {
    let a = assignment(&id, route, &target_id, &actor_id, None, inherited)?;
    let role_ids: BTreeSet<String> = id
        .store
        .list_assignments(&AssignmentFilter {
            actors: Some(vec![a.actor]),
            target: Some(a.target),
            role_id: None,
        })?
        .into_iter()
        .filter(|x| x.inherited == inherited)
        .map(|x| x.role_id)
        .collect();
    let base = &id.config.public_url;
    let mut roles = Vec::new();
    for r in role_ids {
        if let Ok(role) = id.store.get_role(&r) {
            roles.push(views::role(base, &role));
        }
    }
    Ok(axum::Json(
        json!({"roles": roles, "links": views::collection_links(base, "/v3/roles")}),
    ))
}

macro_rules! grant_routes {
    ($($name:ident => $route:expr),* $(,)?) => {
        /// Per-route wrappers binding a [`GrantRoute`] to the generic grant
        /// handlers, direct (`grant`, ...) and inherited (`grant_inherited`, ...).
        pub mod by_route {
            use super::*;
            $(
                /// Grant handlers for one route family.
                pub mod $name {
                    use super::*;
                    /// PUT.
                    pub async fn grant(s: State<Arc<Identity>>, Path(p): Path<(String, String, String)>) -> IdResult<StatusCode> { super::super::grant(s, $route, false, p).await }
                    /// HEAD/GET.
                    pub async fn check(s: State<Arc<Identity>>, Path(p): Path<(String, String, String)>) -> IdResult<StatusCode> { super::super::check(s, $route, false, p).await }
                    /// DELETE.
                    pub async fn revoke(s: State<Arc<Identity>>, Path(p): Path<(String, String, String)>) -> IdResult<StatusCode> { super::super::revoke(s, $route, false, p).await }
                    /// GET list.
                    pub async fn list(s: State<Arc<Identity>>, Path(p): Path<(String, String)>) -> IdResult<axum::Json<Value>> { super::super::list_grants(s, $route, false, p).await }
                    /// PUT `.../inherited_to_projects`.
                    pub async fn grant_inherited(s: State<Arc<Identity>>, Path(p): Path<(String, String, String)>) -> IdResult<StatusCode> { super::super::grant(s, $route, true, p).await }
                    /// HEAD/GET `.../inherited_to_projects`.
                    pub async fn check_inherited(s: State<Arc<Identity>>, Path(p): Path<(String, String, String)>) -> IdResult<StatusCode> { super::super::check(s, $route, true, p).await }
                    /// DELETE `.../inherited_to_projects`.
                    pub async fn revoke_inherited(s: State<Arc<Identity>>, Path(p): Path<(String, String, String)>) -> IdResult<StatusCode> { super::super::revoke(s, $route, true, p).await }
                    /// GET `.../roles/inherited_to_projects`.
                    pub async fn list_inherited(s: State<Arc<Identity>>, Path(p): Path<(String, String)>) -> IdResult<axum::Json<Value>> { super::super::list_grants(s, $route, true, p).await }
                }
            )*
        }
    };
}

grant_routes! {
    project_user => GrantRoute::ProjectUser,
    project_group => GrantRoute::ProjectGroup,
    domain_user => GrantRoute::DomainUser,
    domain_group => GrantRoute::DomainGroup,
}
