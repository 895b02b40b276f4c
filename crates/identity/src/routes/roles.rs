//! `/v3/roles`, role grants on projects, domains and the system, and
//! `GET /v3/role_assignments`.

use super::{parse_bool, require_name, Caller};
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
    (target_id, actor_id, role_id): (String, String, String),
) -> IdResult<StatusCode> {
    let a = assignment(&id, route, &target_id, &actor_id, Some(&role_id), false)?;
    id.store.grant(&a)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `HEAD/GET .../roles/{role_id}`: is it granted?
pub async fn check(
    State(id): State<Arc<Identity>>,
    route: GrantRoute,
    (target_id, actor_id, role_id): (String, String, String),
) -> IdResult<StatusCode> {
    let a = assignment(&id, route, &target_id, &actor_id, Some(&role_id), false)?;
    let found = id.store.list_assignments(&AssignmentFilter {
        actors: Some(vec![a.actor.clone()]),
        target: Some(a.target.clone()),
        role_id: Some(a.role_id.clone()),
    })?;
    if found.iter().any(|x| !x.inherited) {
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
    (target_id, actor_id, role_id): (String, String, String),
) -> IdResult<StatusCode> {
    let a = assignment(&id, route, &target_id, &actor_id, Some(&role_id), false)?;
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

/// `GET .../roles`: the roles granted directly.
pub async fn list_grants(
    State(id): State<Arc<Identity>>,
    route: GrantRoute,
    (target_id, actor_id): (String, String),
) -> IdResult<axum::Json<Value>> {
    let a = assignment(&id, route, &target_id, &actor_id, None, false)?;
    let role_ids: BTreeSet<String> = id
        .store
        .list_assignments(&AssignmentFilter {
            actors: Some(vec![a.actor]),
            target: Some(a.target),
            role_id: None,
        })?
        .into_iter()
        .filter(|x| !x.inherited)
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
        /// Per-route wrappers binding a [`GrantRoute`] to the generic grant handlers.
        pub mod by_route {
            use super::*;
            $(
                /// Grant handlers for one route family.
                pub mod $name {
                    use super::*;
                    /// PUT.
                    pub async fn grant(s: State<Arc<Identity>>, Path(p): Path<(String, String, String)>) -> IdResult<StatusCode> { super::super::grant(s, $route, p).await }
                    /// HEAD/GET.
                    pub async fn check(s: State<Arc<Identity>>, Path(p): Path<(String, String, String)>) -> IdResult<StatusCode> { super::super::check(s, $route, p).await }
                    /// DELETE.
                    pub async fn revoke(s: State<Arc<Identity>>, Path(p): Path<(String, String, String)>) -> IdResult<StatusCode> { super::super::revoke(s, $route, p).await }
                    /// GET list.
                    pub async fn list(s: State<Arc<Identity>>, Path(p): Path<(String, String)>) -> IdResult<axum::Json<Value>> { super::super::list_grants(s, $route, p).await }
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

/// One row of `GET /v3/role_assignments`, before rendering.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    actor_is_group: bool,
    actor_id: String,
    target: (u8, String),
    role_id: String,
    inherited: bool,
    via_group: Option<String>,
}

/// `GET /v3/role_assignments`: with `user.id`, `group.id`, `role.id`,
/// `scope.project.id`, `scope.domain.id`, `scope.system`, `effective` and
/// `include_names`. Non-admins may list their own (`user.id` = themselves).
pub async fn list_assignments(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Query(q): Query<HashMap<String, String>>,
) -> IdResult<axum::Json<Value>> {
    let flag = |k: &str| -> IdResult<bool> {
        match q.get(k) {
            Some(v) if v.is_empty() => Ok(true),
            Some(v) => parse_bool(k, v),
            None => Ok(false),
        }
    };
    let effective = flag("effective")?;
    let include_names = flag("include_names")?;
    let user_filter = q.get("user.id").cloned();
    if !caller.is_admin() && user_filter.as_deref() != Some(caller.user_id.as_str()) {
        return Err(IdentityError::forbidden());
    }
    let store = id.store.as_ref();
    let target = if let Some(p) = q.get("scope.project.id") {
        Some(Target::Project(p.clone()))
    } else if let Some(d) = q.get("scope.domain.id") {
        Some(Target::Domain(d.clone()))
    } else if q.contains_key("scope.system") {
        Some(Target::System)
    } else {
        None
    };
    // With effective, a user's assignments include those of their groups.
    let actors = match (&user_filter, q.get("group.id")) {
        (Some(u), _) if effective => {
            let mut a = vec![Actor::User(u.clone())];
            a.extend(store.list_user_group_ids(u)?.into_iter().map(Actor::Group));
            Some(a)
        }
        (Some(u), _) => Some(vec![Actor::User(u.clone())]),
        (None, Some(g)) => Some(vec![Actor::Group(g.clone())]),
        (None, None) => None,
    };
    let raw = store.list_assignments(&AssignmentFilter {
        actors,
        target: target.clone(),
        role_id: if effective {
            None
        } else {
            q.get("role.id").cloned()
        },
    })?;
    let mut rows: BTreeSet<Row> = BTreeSet::new();
    let implications = store.list_role_implications()?;
    for a in raw {
        let (actor_is_group, actor_id) = match &a.actor {
            Actor::User(u) => (false, u.clone()),
            Actor::Group(g) => (true, g.clone()),
        };
        let t = match &a.target {
            Target::Project(p) => (0u8, p.clone()),
            Target::Domain(d) => (1u8, d.clone()),
            Target::System => (2u8, "all".to_string()),
        };
        let mut role_ids = vec![a.role_id.clone()];
        if effective {
            let mut i = 0;
            while i < role_ids.len() {
                for (prior, implied) in &implications {
                    if *prior == role_ids[i] && !role_ids.contains(implied) {
                        role_ids.push(implied.clone());
                    }
                }
                i += 1;
            }
        }
        let members = if effective && actor_is_group {
            store
                .list_group_user_ids(&actor_id)?
                .into_iter()
                .filter(|u| user_filter.as_ref().is_none_or(|f| f == u))
                .map(|u| (false, u, Some(actor_id.clone())))
                .collect()
        } else {
            vec![(actor_is_group, actor_id.clone(), None)]
        };
        for role_id in &role_ids {
            if effective && q.get("role.id").is_some_and(|r| r != role_id) {
                continue;
            }
            for (is_group, aid, via) in &members {
                rows.insert(Row {
                    actor_is_group: *is_group,
                    actor_id: aid.clone(),
                    target: t.clone(),
                    role_id: role_id.clone(),
                    inherited: a.inherited,
                    via_group: via.clone(),
                });
            }
        }
    }
    let base = &id.config.public_url;
    let mut names: HashMap<String, Value> = HashMap::new();
    let mut name_of = |kind: &str, key: &str| -> Value {
        let cache_key = format!("{kind}:{key}");
        names
            .entry(cache_key)
            .or_insert_with(|| {
                match kind {
                "user" => store.get_user(key).ok().map(|u| {
                    let dn = store.get_domain(&u.domain_id).map(|d| d.name).unwrap_or_default();
                    json!({"id": u.id, "name": u.name, "domain": {"id": u.domain_id, "name": dn}})
                }),
                "group" => store.get_group(key).ok().map(|g| {
                    let dn = store.get_domain(&g.domain_id).map(|d| d.name).unwrap_or_default();
                    json!({"id": g.id, "name": g.name, "domain": {"id": g.domain_id, "name": dn}})
                }),
                "project" => store.get_project(key).ok().map(|p| {
                    let dn = store.get_domain(&p.domain_id).map(|d| d.name).unwrap_or_default();
                    json!({"id": p.id, "name": p.name, "domain": {"id": p.domain_id, "name": dn}})
                }),
                "domain" => store.get_domain(key).ok().map(|d| json!({"id": d.id, "name": d.name})),
                "role" => store.get_role(key).ok().map(|r| json!({"id": r.id, "name": r.name})),
                _ => None,
            }
            .unwrap_or_else(|| json!({"id": key}))
            })
            .clone()
    };
    let mut out = Vec::new();
    for r in rows {
        let named = |v: Value, include: bool| if include { v } else { json!({"id": v["id"]}) };
        let actor_kind = if r.actor_is_group { "group" } else { "user" };
        let actor = named(name_of(actor_kind, &r.actor_id), include_names);
        let role = named(name_of("role", &r.role_id), include_names);
        let mut scope = match r.target.0 {
            0 => json!({"project": named(name_of("project", &r.target.1), include_names)}),
            1 => json!({"domain": named(name_of("domain", &r.target.1), include_names)}),
            _ => json!({"system": {"all": true}}),
        };
        if r.inherited {
            scope["OS-INHERIT:inherited_to"] = json!("projects");
        }
        let mut links = json!({"assignment": format!("{base}/v3/role_assignments")});
        if let Some(g) = &r.via_group {
            links["membership"] = json!(format!("{base}/v3/groups/{g}/users/{}", r.actor_id));
        }
        let mut entry = json!({"role": role, "scope": scope, "links": links});
        entry[actor_kind] = actor;
        out.push(entry);
    }
    Ok(axum::Json(json!({
        "role_assignments": out,
        "links": views::collection_links(base, "/v3/role_assignments"),
    })))
}
