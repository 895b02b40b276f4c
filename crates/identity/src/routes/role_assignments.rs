//! `GET /v3/role_assignments`: the assignments as stored, or with
//! `effective` what they amount to for users on concrete targets.
//!
//! With `effective` three things are expanded, as Keystone does: a group's
//! assignment becomes one per member (with a `membership` link), an
//! inherited assignment (OS-INHERIT) becomes one per project it reaches
//! (every project of the domain, or the project's subtree without the
//! project itself), and each role brings the roles it implies. Filters on
//! scope and role apply after the expansion, so asking for a project
//! shows what a token on that project would carry (domain-specific roles,
//! which never reach a token, are left out). Without `effective`,
//! an inherited assignment is listed once, on its domain or project, marked
//! `"OS-INHERIT:inherited_to": "projects"`.

use super::{parse_bool, Caller};
use crate::error::{IdResult, IdentityError};
use crate::service::Identity;
use crate::views;
use axum::extract::{Query, State};
use ferrostack_store::identity::{
    Actor, Assignment, AssignmentFilter, IdentityStore, ListFilter, Project, Target,
};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// One row of the answer, before rendering.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    actor_is_group: bool,
    actor_id: String,
    target: Target,
    role_id: String,
    inherited: bool,
    /// The grant this row comes from (its `links.assignment`).
    source: String,
    via_group: Option<String>,
}

/// The API path of the grant behind an assignment.
fn grant_path(a: &Assignment) -> String {
    let actor = match &a.actor {
        Actor::User(u) => format!("users/{u}"),
        Actor::Group(g) => format!("groups/{g}"),
    };
    let target = match &a.target {
        Target::Project(p) => format!("projects/{p}"),
        Target::Domain(d) => format!("domains/{d}"),
        Target::System => "system".to_string(),
    };
    if a.inherited {
        format!(
            "/v3/OS-INHERIT/{target}/{actor}/roles/{}/inherited_to_projects",
            a.role_id
        )
    } else {
        format!("/v3/{target}/{actor}/roles/{}", a.role_id)
    }
}

/// The projects an inherited assignment on `target` reaches: every project
/// of a domain, or every descendant of a project (not the project itself).
pub fn inherited_reach(all: &[Project], target: &Target) -> Vec<String> {
    match target {
        Target::Domain(d) => all
            .iter()
            .filter(|p| p.domain_id == *d)
            .map(|p| p.id.clone())
            .collect(),
        Target::Project(root) => {
            let mut out: Vec<String> = Vec::new();
            let mut frontier = vec![root.clone()];
            // Bounded by the project count: a parent loop cannot spin.
            while let Some(parent) = frontier.pop() {
                for child in all
                    .iter()
                    .filter(|p| p.parent_id.as_deref() == Some(parent.as_str()))
                {
                    if child.id != *root && !out.contains(&child.id) {
                        out.push(child.id.clone());
                        frontier.push(child.id.clone());
                    }
                }
            }
            out
        }
        Target::System => Vec::new(),
    }
}

/// `GET /v3/role_assignments`: with `user.id`, `group.id`, `role.id`,
/// `scope.project.id`, `scope.domain.id`, `scope.system`,
/// `scope.OS-INHERIT:inherited_to`, `effective` and `include_names`.
/// Non-admins may list their own (`user.id` = themselves).
pub async fn list(
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
    let inherited_only = q.contains_key("scope.OS-INHERIT:inherited_to");
    if effective && inherited_only {
        return Err(IdentityError::BadRequest(
            "Invalid query: effective and scope.OS-INHERIT:inherited_to cannot be combined.".into(),
        ));
    }
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
        // Inherited grants on a domain or an ancestor reach a project: with
        // effective, the scope filter applies after the expansion.
        target: if effective { None } else { target.clone() },
        role_id: if effective {
            None
        } else {
            q.get("role.id").cloned()
        },
    })?;
    let rows = if effective {
        expand(store, raw, &user_filter, target.as_ref(), q.get("role.id"))?
    } else {
        raw.into_iter()
            .filter(|a| !inherited_only || a.inherited)
            .map(|a| as_row(&a, a.target.clone(), a.role_id.clone(), None))
            .collect()
    };
    render(&id, rows, include_names)
}

fn as_row(a: &Assignment, target: Target, role_id: String, via: Option<(String, String)>) -> Row {
    let (actor_is_group, actor_id, via_group) = match (&a.actor, via) {
        (_, Some((user, group))) => (false, user, Some(group)),
        (Actor::User(u), None) => (false, u.clone(), None),
        (Actor::Group(g), None) => (true, g.clone(), None),
    };
    Row {
        actor_is_group,
        actor_id,
        inherited: a.inherited && target == a.target,
        target,
        role_id,
        source: grant_path(a),
        via_group,
    }
}

/// The effective rows: groups to members, inherited grants to projects,
/// roles to what they imply; then the scope and role filters.
fn expand(
    store: &dyn IdentityStore,
    raw: Vec<Assignment>,
    user_filter: &Option<String>,
    target: Option<&Target>,
    role_filter: Option<&String>,
) -> IdResult<BTreeSet<Row>> {
    let implications = store.list_role_implications()?;
    let mut projects: Option<Vec<Project>> = None;
    let mut domain_role: HashMap<String, bool> = HashMap::new();
    let mut rows = BTreeSet::new();
    for a in raw {
        let targets: Vec<Target> = if a.inherited {
            let all = match &mut projects {
                Some(all) => all,
                none => none.insert(store.list_projects(&ListFilter::default())?),
            };
            inherited_reach(all, &a.target)
                .into_iter()
                .map(Target::Project)
                .collect()
        } else {
            vec![a.target.clone()]
        };
        let mut role_ids = vec![a.role_id.clone()];
        let mut i = 0;
        while i < role_ids.len() {
            for (prior, implied) in &implications {
                if *prior == role_ids[i] && !role_ids.contains(implied) {
                    role_ids.push(implied.clone());
                }
            }
            i += 1;
        }
        // Domain-specific roles only imply others and never reach a token,
        // so they are no effective assignment (Keystone strips them too).
        for r in &role_ids {
            if !domain_role.contains_key(r) {
                let scoped = match store.get_role(r) {
                    Ok(role) => role.domain_id.is_some(),
                    Err(ferrostack_store::StoreError::NotFound { .. }) => false,
                    Err(e) => return Err(e.into()),
                };
                domain_role.insert(r.clone(), scoped);
            }
        }
        role_ids.retain(|r| !domain_role.get(r).copied().unwrap_or(false));
        let members: Vec<Option<(String, String)>> = match &a.actor {
            Actor::Group(g) => store
                .list_group_user_ids(g)?
                .into_iter()
                .filter(|u| user_filter.as_ref().is_none_or(|f| f == u))
                .map(|u| Some((u, g.clone())))
                .collect(),
            Actor::User(_) => vec![None],
        };
        for t in targets
            .iter()
            .filter(|t| target.is_none_or(|want| want == *t))
        {
            for role_id in role_ids
                .iter()
                .filter(|r| role_filter.is_none_or(|f| f == *r))
            {
                for via in &members {
                    rows.insert(as_row(&a, t.clone(), role_id.clone(), via.clone()));
                }
            }
        }
    }
    Ok(rows)
}

fn render(id: &Identity, rows: BTreeSet<Row>, include_names: bool) -> IdResult<axum::Json<Value>> {
    let store = id.store.as_ref();
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
        let mut scope = match &r.target {
            Target::Project(p) => json!({"project": named(name_of("project", p), include_names)}),
            Target::Domain(d) => json!({"domain": named(name_of("domain", d), include_names)}),
            Target::System => json!({"system": {"all": true}}),
        };
        if r.inherited {
            scope["OS-INHERIT:inherited_to"] = json!("projects");
        }
        let mut links = json!({"assignment": format!("{base}{}", r.source)});
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
