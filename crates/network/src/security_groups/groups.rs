//! `/v2.0/security-groups`: list, create, show, update, delete.
//!
//! Lists go through the shared [`crate::query`] mechanism over the views;
//! a non-admin sees their project's groups, an admin every group. A list
//! or show first makes the project's default group if it has none, as
//! Neutron does (for the `project_id` filter's project when an admin
//! gives one, else the caller's).

use super::{
    check, default_name_taken, default_not_removable, default_not_updatable, group_not_found,
    group_view, in_use, new_group, target_project,
};
use crate::error::{Json, NetworkError, NetworkResult};
use crate::query::{boolean, int, list, text, Collection, Fields, ListQuery, QueryPairs};
use crate::NetworkState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use ferrostack_policy::AuthContext;
use ferrostack_store::security_group::{GroupUpdate, SecurityGroup};
use ferrostack_store::StoreError;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// The group list's filterable attributes.
pub const COLLECTION: Collection = Collection {
    name: "security_groups",
    singular_title: "Security group",
    attributes: &[
        text("id"),
        text("name"),
        text("description"),
        boolean("stateful"),
        text("project_id"),
        text("tenant_id"),
        int("revision_number"),
        text("created_at"),
        text("updated_at"),
        list("security_group_rules"),
    ],
};

/// Longest name and description Neutron stores.
const MAX_TEXT: usize = 255;

fn bounded(field: &str, value: Option<String>) -> NetworkResult<Option<String>> {
    match value {
        Some(v) if v.chars().count() > MAX_TEXT => Err(NetworkError::invalid_input(
            field,
            format!("'{v}' exceeds maximum length of {MAX_TEXT}"),
        )),
        other => Ok(other),
    }
}

fn stateful_value(value: Option<&Value>) -> NetworkResult<Option<bool>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => crate::query::parse_bool(s).map(Some).ok_or_else(|| {
            NetworkError::invalid_input("stateful", format!("'{s}' is not a valid boolean value"))
        }),
        Some(other) => Err(NetworkError::invalid_input(
            "stateful",
            format!("'{other}' is not a valid boolean value"),
        )),
    }
}

/// `security_group` of a POST (also what Nova's proxy creates).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// The name (not `default`).
    #[serde(default)]
    pub name: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// A boolean in any of Neutron's spellings.
    #[serde(default)]
    pub stateful: Option<Value>,
    /// Owner (admins only may name another project).
    #[serde(default)]
    pub project_id: Option<String>,
    /// Old name of `project_id`.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// The body of a POST.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    security_group: CreateGroup,
}

/// `security_group` of a PUT (also what Nova's proxy changes).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// A new description.
    #[serde(default)]
    pub description: Option<String>,
    /// A new statefulness.
    #[serde(default)]
    pub stateful: Option<Value>,
}

/// The body of a PUT.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    security_group: UpdateGroup,
}

fn is_default_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("default")
}

/// The group `id` if the caller may see it (`write`: change it).
pub fn visible(
    state: &NetworkState,
    caller: &AuthContext,
    id: &str,
    write: bool,
) -> NetworkResult<SecurityGroup> {
    let group = state
        .security_groups
        .store
        .get_group(id)
        .map_err(|e| match e {
            StoreError::NotFound { .. } => group_not_found(id),
            other => other.into(),
        })?;
    check(caller, &group.project_id, write, || group_not_found(id))?;
    Ok(group)
}

/// Make the default group of the project a list or show is about.
fn ensure_default_for(
    state: &NetworkState,
    caller: &AuthContext,
    pairs: &QueryPairs,
) -> NetworkResult<()> {
    let asked = pairs.get("project_id").or_else(|| pairs.get("tenant_id"));
    let project = match asked {
        Some(p) if caller.is_admin() => Some(p),
        Some(p) if Some(p) != caller.project_id() => None,
        _ => caller.project_id(),
    };
    if let Some(project) = project {
        state.security_groups.ensure_default(project)?;
    }
    Ok(())
}

/// `GET /v2.0/security-groups`.
pub async fn list_groups(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let query = ListQuery::parse(&pairs, &COLLECTION)?;
    ensure_default_for(&state, &caller, &pairs)?;
    let scope = if caller.is_admin() {
        None
    } else {
        caller.project_id()
    };
    let views = state
        .security_groups
        .store
        .list_groups(scope)?
        .iter()
        .map(group_view)
        .collect();
    Ok(axum::Json(query.render(
        views,
        &state.public_url,
        "/v2.0/security-groups",
    )?))
}

/// `POST /v2.0/security-groups` (201).
pub async fn create_group(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Json(body): Json<CreateBody>,
) -> NetworkResult<Response> {
    let created = create(&state, &caller, body.security_group)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"security_group": group_view(&created)})),
    )
        .into_response())
}

/// Create group `g` for `caller` (after the project's default group).
pub fn create(
    state: &NetworkState,
    caller: &AuthContext,
    g: CreateGroup,
) -> NetworkResult<SecurityGroup> {
    let name = bounded("name", g.name)?.unwrap_or_default();
    let description = bounded("description", g.description)?.unwrap_or_default();
    let stateful = stateful_value(g.stateful.as_ref())?.unwrap_or(true);
    if is_default_name(&name) {
        return Err(default_name_taken());
    }
    let project = target_project(caller, g.project_id.as_deref(), g.tenant_id.as_deref())?;
    state.security_groups.ensure_default(&project)?;
    let now = ferrostack_common::time::now_micros();
    let group = new_group(&project, name, description, stateful, false, now);
    state.security_groups.create(&group)
}

/// `GET /v2.0/security-groups/{id}`.
pub async fn show_group(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    if let Some(project) = caller.project_id() {
        state.security_groups.ensure_default(project)?;
    }
    let group = visible(&state, &caller, &id, false)?;
    let view = Fields::parse(&pairs).project(group_view(&group));
    Ok(axum::Json(json!({ "security_group": view })))
}

/// `PUT /v2.0/security-groups/{id}`.
pub async fn update_group(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> NetworkResult<axum::Json<Value>> {
    let updated = update(&state, &caller, &id, body.security_group)?;
    Ok(axum::Json(json!({"security_group": group_view(&updated)})))
}

/// Change group `id` of `caller`'s as `u` says.
pub fn update(
    state: &NetworkState,
    caller: &AuthContext,
    id: &str,
    u: UpdateGroup,
) -> NetworkResult<SecurityGroup> {
    let update = GroupUpdate {
        name: bounded("name", u.name)?,
        description: bounded("description", u.description)?,
        stateful: stateful_value(u.stateful.as_ref())?,
    };
    if update.name.as_deref().is_some_and(is_default_name) {
        return Err(default_name_taken());
    }
    let group = visible(state, caller, id, true)?;
    if group.is_default && update.name.is_some() {
        return Err(default_not_updatable());
    }
    if update.stateful.is_some_and(|s| s != group.stateful)
        && state.security_groups.usage.in_use(&group.id)?
    {
        return Err(in_use(&group.id));
    }
    state
        .security_groups
        .store
        .update_group(id, &update, ferrostack_common::time::now_micros())
        .map_err(|e| match e {
            StoreError::NotFound { .. } => group_not_found(id),
            other => other.into(),
        })
}

/// `DELETE /v2.0/security-groups/{id}` (204).
pub async fn delete_group(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
) -> NetworkResult<Response> {
    delete(&state, &caller, &id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Delete group `id` of `caller`'s: the default group only by an admin,
/// one in use never (409).
pub fn delete(state: &NetworkState, caller: &AuthContext, id: &str) -> NetworkResult<()> {
    let group = visible(state, caller, id, true)?;
    if group.is_default && !caller.is_admin() {
        return Err(default_not_removable());
    }
    state.security_groups.delete(&group)
}
