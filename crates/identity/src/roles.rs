//! Effective roles: direct and group assignments, inherited assignments
//! from the project's domain and ancestors, then implied roles.
//!
//! Keystone computes roles at validation time rather than baking them
//! into tokens, so a revoked assignment stops working immediately; the
//! same is done here.

use ferrostack_store::identity::{Actor, AssignmentFilter, IdentityStore, Project, Role, Target};
use ferrostack_store::StoreResult;
use std::collections::{BTreeSet, HashMap};

fn actors_of(store: &dyn IdentityStore, user_id: &str) -> StoreResult<Vec<Actor>> {
    let mut actors = vec![Actor::User(user_id.to_string())];
    actors.extend(
        store
            .list_user_group_ids(user_id)?
            .into_iter()
            .map(Actor::Group),
    );
    Ok(actors)
}

fn role_ids_on(
    store: &dyn IdentityStore,
    actors: &[Actor],
    target: Target,
    inherited: bool,
) -> StoreResult<BTreeSet<String>> {
    Ok(store
        .list_assignments(&AssignmentFilter {
            actors: Some(actors.to_vec()),
            target: Some(target),
            role_id: None,
        })?
        .into_iter()
        .filter(|a| a.inherited == inherited)
        .map(|a| a.role_id)
        .collect())
}

/// Role ids plus everything they imply, transitively.
pub fn expand_role_ids(store: &dyn IdentityStore, ids: &[String]) -> StoreResult<BTreeSet<String>> {
    let mut implies: HashMap<String, Vec<String>> = HashMap::new();
    for (prior, implied) in store.list_role_implications()? {
        implies.entry(prior).or_default().push(implied);
    }
    let mut out: BTreeSet<String> = BTreeSet::new();
    let mut stack: Vec<String> = ids.to_vec();
    while let Some(id) = stack.pop() {
        if out.insert(id.clone()) {
            if let Some(next) = implies.get(&id) {
                stack.extend(next.iter().cloned());
            }
        }
    }
    Ok(out)
}

/// Would adding `prior ⇒ implied` to `edges` (pairs of prior, implied)
/// close a loop? True when `prior` is `implied` or is already reachable
/// from it. A loop would make every role in it imply every other, so an
/// admin could be granted by accident; Keystone refuses them too.
pub fn implication_creates_cycle(edges: &[(String, String)], prior: &str, implied: &str) -> bool {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut stack = vec![implied];
    while let Some(role) = stack.pop() {
        if role == prior {
            return true;
        }
        if seen.insert(role) {
            stack.extend(
                edges
                    .iter()
                    .filter(|(p, _)| p == role)
                    .map(|(_, i)| i.as_str()),
            );
        }
    }
    false
}

fn resolve(store: &dyn IdentityStore, ids: BTreeSet<String>) -> StoreResult<Vec<Role>> {
    let all: Vec<String> = ids.into_iter().collect();
    let expanded = expand_role_ids(store, &all)?;
    let mut roles = Vec::with_capacity(expanded.len());
    for id in expanded {
        match store.get_role(&id) {
            // Domain-specific roles only serve to imply global ones; Keystone leaves them out of tokens.
            Ok(role) if role.domain_id.is_none() => roles.push(role),
            Ok(_) | Err(ferrostack_store::StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(roles)
}

/// The user's effective roles on `project`.
pub fn effective_roles_on_project(
    store: &dyn IdentityStore,
    user_id: &str,
    project: &Project,
) -> StoreResult<Vec<Role>> {
    let actors = actors_of(store, user_id)?;
    let mut ids = role_ids_on(store, &actors, Target::Project(project.id.clone()), false)?;
    ids.extend(role_ids_on(
        store,
        &actors,
        Target::Domain(project.domain_id.clone()),
        true,
    )?);
    let mut parent = project.parent_id.clone();
    let mut hops = 0;
    while let Some(pid) = parent {
        ids.extend(role_ids_on(
            store,
            &actors,
            Target::Project(pid.clone()),
            true,
        )?);
        parent = store.get_project(&pid)?.parent_id;
        hops += 1;
        if hops > 64 {
            break;
        }
    }
    resolve(store, ids)
}

/// The user's effective roles on a domain.
pub fn effective_roles_on_domain(
    store: &dyn IdentityStore,
    user_id: &str,
    domain_id: &str,
) -> StoreResult<Vec<Role>> {
    let actors = actors_of(store, user_id)?;
    resolve(
        store,
        role_ids_on(store, &actors, Target::Domain(domain_id.to_string()), false)?,
    )
}

/// The user's effective roles on the system.
pub fn effective_roles_on_system(
    store: &dyn IdentityStore,
    user_id: &str,
) -> StoreResult<Vec<Role>> {
    let actors = actors_of(store, user_id)?;
    resolve(store, role_ids_on(store, &actors, Target::System, false)?)
}

/// Ids of the projects where the user holds any role: direct or group
/// assignments on the project, or inherited ones from its domain or an ancestor.
pub fn project_ids_for_user(store: &dyn IdentityStore, user_id: &str) -> StoreResult<Vec<String>> {
    let actors = actors_of(store, user_id)?;
    let assignments = store.list_assignments(&AssignmentFilter {
        actors: Some(actors),
        target: None,
        role_id: None,
    })?;
    let mut ids: BTreeSet<String> = BTreeSet::new();
    let mut inherited_roots: Vec<Target> = Vec::new();
    for a in assignments {
        match (&a.target, a.inherited) {
            (Target::Project(pid), false) => {
                ids.insert(pid.clone());
            }
            (Target::Project(_), true) | (Target::Domain(_), true) => {
                inherited_roots.push(a.target)
            }
            _ => {}
        }
    }
    if !inherited_roots.is_empty() {
        let all = store.list_projects(&ferrostack_store::identity::ListFilter::default())?;
        for p in &all {
            let mut cursor = p.parent_id.clone();
            let mut inherited = inherited_roots.contains(&Target::Domain(p.domain_id.clone()));
            let mut hops = 0;
            while let (false, Some(pid)) = (inherited, cursor.clone()) {
                inherited = inherited_roots.contains(&Target::Project(pid.clone()));
                cursor = all
                    .iter()
                    .find(|x| x.id == pid)
                    .and_then(|x| x.parent_id.clone());
                hops += 1;
                if hops > 64 {
                    break;
                }
            }
            if inherited {
                ids.insert(p.id.clone());
            }
        }
    }
    Ok(ids.into_iter().collect())
}

/// Ids of the domains where the user holds a role directly or through a group.
pub fn domain_ids_for_user(store: &dyn IdentityStore, user_id: &str) -> StoreResult<Vec<String>> {
    let actors = actors_of(store, user_id)?;
    let ids: BTreeSet<String> = store
        .list_assignments(&AssignmentFilter {
            actors: Some(actors),
            target: None,
            role_id: None,
        })?
        .into_iter()
        .filter_map(|a| match a.target {
            Target::Domain(d) if !a.inherited => Some(d),
            _ => None,
        })
        .collect();
    Ok(ids.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::implication_creates_cycle;

    fn edges(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
            .collect()
    }

    #[test]
    fn a_role_cannot_imply_itself() {
        assert!(implication_creates_cycle(&[], "a", "a"));
    }

    #[test]
    fn closing_a_chain_is_a_cycle() {
        let e = edges(&[("admin", "member"), ("member", "reader")]);
        assert!(implication_creates_cycle(&e, "reader", "admin"));
        assert!(implication_creates_cycle(&e, "member", "admin"));
    }

    #[test]
    fn extending_a_chain_or_a_diamond_is_not() {
        let e = edges(&[("admin", "member"), ("member", "reader"), ("admin", "x")]);
        assert!(!implication_creates_cycle(&e, "reader", "observer"));
        assert!(!implication_creates_cycle(&e, "x", "reader"));
        assert!(!implication_creates_cycle(&e, "admin", "reader"));
    }

    #[test]
    fn unrelated_loops_elsewhere_do_not_hang() {
        // The store never holds a loop, but the walk must still end if it did.
        let e = edges(&[("p", "q"), ("q", "p")]);
        assert!(!implication_creates_cycle(&e, "a", "b"));
        assert!(implication_creates_cycle(&e, "p", "q"));
    }
}
