//! `/v2.0/security-group-rules`: list, create, show, update (the
//! description), delete.
//!
//! A rule belongs to its group's project whoever created it, so the
//! visibility of a rule is its group's. A create is read and validated
//! whole ([`super::rules`]) before the group is looked up, quota reserved
//! or anything written.

use super::rules::RuleRequest;
use super::{check, group_not_found, new_rule, rule_not_found, rule_view, target_project};
use crate::error::{Json, NetworkError, NetworkResult};
use crate::query::{int, text, Collection, Fields, ListQuery, QueryPairs};
use crate::NetworkState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use ferrostack_policy::AuthContext;
use ferrostack_store::security_group::SecurityGroupRule;
use ferrostack_store::StoreError;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The rule list's filterable attributes.
pub const COLLECTION: Collection = Collection {
    name: "security_group_rules",
    singular_title: "Security group rule",
    attributes: &[
        text("id"),
        text("security_group_id"),
        text("direction"),
        text("ethertype"),
        text("protocol"),
        int("port_range_min"),
        int("port_range_max"),
        text("remote_ip_prefix"),
        text("normalized_cidr"),
        text("remote_group_id"),
        text("remote_address_group_id"),
        text("description"),
        text("project_id"),
        text("tenant_id"),
        crate::query::boolean("belongs_to_default_sg"),
        int("revision_number"),
        text("created_at"),
        text("updated_at"),
    ],
};

/// The body of a POST.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    security_group_rule: RuleRequest,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateRule {
    #[serde(default)]
    description: Option<String>,
}

/// The body of a PUT: only the description changes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    security_group_rule: UpdateRule,
}

/// Is the group of `rule` its project's default group?
fn in_default(state: &NetworkState, rule: &SecurityGroupRule) -> NetworkResult<Option<bool>> {
    match state
        .security_groups
        .store
        .get_group(&rule.security_group_id)
    {
        Ok(g) => Ok(Some(g.is_default)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The rule `id` if the caller may see it (`write`: change it).
/// Rule `id` if the caller may see it (`write`: change it).
pub fn visible(
    state: &NetworkState,
    caller: &AuthContext,
    id: &str,
    write: bool,
) -> NetworkResult<SecurityGroupRule> {
    let rule = state
        .security_groups
        .store
        .get_rule(id)
        .map_err(|e| match e {
            StoreError::NotFound { .. } => rule_not_found(id),
            other => other.into(),
        })?;
    check(caller, &rule.project_id, write, || rule_not_found(id))?;
    Ok(rule)
}

/// `GET /v2.0/security-group-rules`.
pub async fn list_rules(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let query = ListQuery::parse(&pairs, &COLLECTION)?;
    let scope = if caller.is_admin() {
        None
    } else {
        caller.project_id()
    };
    let store = &state.security_groups.store;
    let defaults: BTreeMap<String, bool> = store
        .list_groups(scope)?
        .into_iter()
        .map(|g| (g.id, g.is_default))
        .collect();
    let views = store
        .list_rules(scope)?
        .iter()
        .map(|r| rule_view(r, defaults.get(&r.security_group_id).copied()))
        .collect();
    Ok(axum::Json(query.render(
        views,
        &state.public_url,
        "/v2.0/security-group-rules",
    )?))
}

/// `POST /v2.0/security-group-rules` (201).
pub async fn create_rule(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Json(body): Json<CreateBody>,
) -> NetworkResult<Response> {
    let (created, in_default) = create(&state, &caller, &body.security_group_rule)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"security_group_rule": rule_view(&created, Some(in_default))})),
    )
        .into_response())
}

/// Add rule `request` for `caller`; also whether its group is the
/// project's default one.
pub fn create(
    state: &NetworkState,
    caller: &AuthContext,
    request: &RuleRequest,
) -> NetworkResult<(SecurityGroupRule, bool)> {
    let rule = request.normalize()?;
    target_project(
        caller,
        request.project_id.as_deref(),
        request.tenant_id.as_deref(),
    )?;
    let store = &state.security_groups.store;
    let not_found = |id: &str| {
        let id = id.to_string();
        move |e| match e {
            StoreError::NotFound { .. } => group_not_found(&id),
            other => NetworkError::from(other),
        }
    };
    let group = store
        .get_group(&request.security_group_id)
        .map_err(not_found(&request.security_group_id))?;
    check(caller, &group.project_id, true, || {
        group_not_found(&group.id)
    })?;
    if let Some(remote) = &rule.remote_group_id {
        let remote_group = store.get_group(remote).map_err(not_found(remote))?;
        check(caller, &remote_group.project_id, false, || {
            group_not_found(remote)
        })?;
    }
    let now = ferrostack_common::time::now_micros();
    let description = request.description.clone().unwrap_or_default();
    if description.chars().count() > 255 {
        return Err(NetworkError::invalid_input(
            "description",
            "it exceeds maximum length of 255",
        ));
    }
    let created = state
        .security_groups
        .add_rule(&new_rule(&group, &rule, description, now))?;
    Ok((created, group.is_default))
}

/// `GET /v2.0/security-group-rules/{id}`.
pub async fn show_rule(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let rule = visible(&state, &caller, &id, false)?;
    let view = Fields::parse(&pairs).project(rule_view(&rule, in_default(&state, &rule)?));
    Ok(axum::Json(json!({ "security_group_rule": view })))
}

/// `PUT /v2.0/security-group-rules/{id}`.
pub async fn update_rule(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> NetworkResult<axum::Json<Value>> {
    let rule = visible(&state, &caller, &id, true)?;
    let description = body
        .security_group_rule
        .description
        .unwrap_or(rule.description);
    if description.chars().count() > 255 {
        return Err(NetworkError::invalid_input(
            "description",
            "it exceeds maximum length of 255",
        ));
    }
    let updated = state
        .security_groups
        .store
        .update_rule(&id, &description, ferrostack_common::time::now_micros())
        .map_err(|e| match e {
            StoreError::NotFound { .. } => rule_not_found(&id),
            other => other.into(),
        })?;
    let in_default = in_default(&state, &updated)?;
    Ok(axum::Json(
        json!({"security_group_rule": rule_view(&updated, in_default)}),
    ))
}

/// `DELETE /v2.0/security-group-rules/{id}` (204).
pub async fn delete_rule(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
) -> NetworkResult<Response> {
    delete(&state, &caller, &id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Delete rule `id` of `caller`'s and give back its quota.
pub fn delete(state: &NetworkState, caller: &AuthContext, id: &str) -> NetworkResult<()> {
    visible(state, caller, id, true)?;
    let gone = state
        .security_groups
        .store
        .delete_rule(id, ferrostack_common::time::now_micros())
        .map_err(|e| match e {
            StoreError::NotFound { .. } => rule_not_found(id),
            other => other.into(),
        })?;
    state.security_groups.release([gone.id.as_str()]);
    Ok(())
}
