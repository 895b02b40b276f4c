//! Implied roles: `/v3/roles/{prior_role_id}/implies[/{implied_role_id}]`
//! and `GET /v3/role_inferences`.
//!
//! An inference rule `prior ⇒ implied` gives everyone holding `prior` the
//! `implied` role too; bootstrap sets up admin ⇒ manager ⇒ member ⇒ reader, which
//! every policy check relies on. Rules are expanded at validation time
//! ([`crate::roles`]), so adding or removing one changes what existing
//! tokens carry at once. A rule that closes a loop (every role in it would
//! imply every other) is refused with 400. As in Keystone, 403 refuses a
//! global role implying a domain-specific one (a domain's roles would leak
//! into every other domain through a global grant) and any rule implying
//! `admin` (a quiet route to full control). A domain-specific role may
//! imply a global role or another domain's role: that is how a domain
//! gives its own role names to the cloud's roles.

use crate::error::{IdResult, IdentityError};
use crate::roles::implication_creates_cycle;
use crate::service::Identity;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferrostack_store::identity::Role;
use http::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Roles that no rule may imply.
const PROHIBITED_IMPLIED: &[&str] = &["admin"];

fn role_ref(base: &str, r: &Role) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "links": {"self": format!("{base}/v3/roles/{}", r.id)},
    })
}

fn rule_not_found(prior: &str, implied: &str) -> IdentityError {
    IdentityError::NotFound(format!("{prior} does not imply {implied}."))
}

fn one_rule_body(id: &Identity, prior: &Role, implied: &Role) -> Value {
    let base = &id.config.public_url;
    json!({
        "role_inference": {
            "prior_role": role_ref(base, prior),
            "implies": role_ref(base, implied),
        },
        "links": {"self": format!("{base}/v3/roles/{}/implies/{}", prior.id, implied.id)},
    })
}

/// `GET /v3/roles/{prior_role_id}/implies`: the roles one role implies directly.
pub async fn list_for_role(
    State(id): State<Arc<Identity>>,
    Path(prior_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    let prior = id.store.get_role(&prior_id)?;
    let base = &id.config.public_url;
    let mut implies = Vec::new();
    for (p, i) in id.store.list_role_implications()? {
        if p == prior.id {
            implies.push(role_ref(base, &id.store.get_role(&i)?));
        }
    }
    Ok(axum::Json(json!({
        "role_inference": {"prior_role": role_ref(base, &prior), "implies": implies},
        "links": {"self": format!("{base}/v3/roles/{prior_id}/implies")},
    })))
}

/// `PUT /v3/roles/{prior_role_id}/implies/{implied_role_id}`: 201 with the rule.
pub async fn create(
    State(id): State<Arc<Identity>>,
    Path((prior_id, implied_id)): Path<(String, String)>,
) -> IdResult<Response> {
    let prior = id.store.get_role(&prior_id)?;
    let implied = id.store.get_role(&implied_id)?;
    if prior.domain_id.is_none() && implied.domain_id.is_some() {
        return Err(IdentityError::Forbidden(format!(
            "Global role cannot imply a domain-specific role: {implied_id} cannot be an implied role."
        )));
    }
    if PROHIBITED_IMPLIED.contains(&implied.name.as_str()) {
        return Err(IdentityError::Forbidden(format!(
            "The {} role cannot be implied by another role.",
            implied.name
        )));
    }
    let edges = id.store.list_role_implications()?;
    if edges
        .iter()
        .any(|(p, i)| *p == prior.id && *i == implied.id)
    {
        return Err(IdentityError::Conflict(format!(
            "Role {prior_id} already implies role {implied_id}."
        )));
    }
    if implication_creates_cycle(&edges, &prior.id, &implied.id) {
        return Err(IdentityError::BadRequest(format!(
            "Role {prior_id} implying role {implied_id} would create a cycle of implied roles."
        )));
    }
    id.store.add_implied_role(&prior.id, &implied.id)?;
    tracing::info!(prior = %prior.name, implied = %implied.name, "role inference rule created");
    Ok((
        StatusCode::CREATED,
        axum::Json(one_rule_body(&id, &prior, &implied)),
    )
        .into_response())
}

/// `GET /v3/roles/{prior_role_id}/implies/{implied_role_id}` answers the
/// rule (200); `HEAD` only confirms it (204), as Keystone does.
pub async fn show(
    State(id): State<Arc<Identity>>,
    method: Method,
    Path((prior_id, implied_id)): Path<(String, String)>,
) -> IdResult<Response> {
    let prior = id.store.get_role(&prior_id)?;
    let implied = id.store.get_role(&implied_id)?;
    let exists = id
        .store
        .list_role_implications()?
        .iter()
        .any(|(p, i)| *p == prior.id && *i == implied.id);
    if !exists {
        return Err(rule_not_found(&prior_id, &implied_id));
    }
    if method == Method::HEAD {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(axum::Json(one_rule_body(&id, &prior, &implied)).into_response())
}

/// `DELETE /v3/roles/{prior_role_id}/implies/{implied_role_id}`.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Path((prior_id, implied_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    id.store.get_role(&prior_id)?;
    id.store.get_role(&implied_id)?;
    id.store
        .remove_implied_role(&prior_id, &implied_id)
        .map_err(|e| match e {
            ferrostack_store::StoreError::NotFound { .. } => rule_not_found(&prior_id, &implied_id),
            other => other.into(),
        })?;
    tracing::info!(prior_id, implied_id, "role inference rule deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v3/role_inferences`: every rule, grouped by prior role.
pub async fn list_all(State(id): State<Arc<Identity>>) -> IdResult<axum::Json<Value>> {
    let base = &id.config.public_url;
    let mut roles: HashMap<String, Role> = HashMap::new();
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (p, i) in id.store.list_role_implications()? {
        for r in [&p, &i] {
            if !roles.contains_key(r) {
                roles.insert(r.clone(), id.store.get_role(r)?);
            }
        }
        grouped.entry(p).or_default().push(i);
    }
    let rules: Vec<Value> = grouped
        .iter()
        .map(|(p, implied)| {
            json!({
                "prior_role": role_ref(base, &roles[p]),
                "implies": implied.iter().map(|i| role_ref(base, &roles[i])).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "role_inferences": rules,
        "links": {"self": format!("{base}/v3/role_inferences"), "previous": null, "next": null},
    })))
}
