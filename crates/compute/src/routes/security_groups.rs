//! `/v2.1/os-security-groups` and `/v2.1/os-security-group-rules` (to
//! 2.35; 404 from 2.36, as Nova), and a server's groups
//! (`/servers/{id}/os-security-groups`, every version): Nova's proxies
//! to the network service's security groups. What is Nova's own (bodies,
//! rule checks, views) is [`crate::network_proxy`]; the groups and rules
//! are the network service's, so one made here is the same object
//! through the network API.

use super::{Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::network_proxy::{self as proxy, group_view, groups_view, rule_view, RuleBody};
use crate::networks::ServerNetworks;
use crate::servers;
use crate::ComputeState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

/// The network service, or 501 in a cloud without one.
pub fn service(state: &ComputeState) -> ComputeResult<&Arc<dyn ServerNetworks>> {
    state.link.networks().ok_or_else(|| {
        ComputeError::NotImplemented("This cloud has no network service to proxy to.".into())
    })
}

/// `GET /os-security-groups` (`all_tenants` for admins).
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let all = caller.is_admin() && q.get("all_tenants").is_some();
    let groups = service(&state)?.proxy_groups(&caller, all)?;
    Ok(axum::Json(groups_view(super::offset_limited(groups, &q)?)))
}

/// `GET /os-security-groups/{id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    proxy::validate_id(&id)?;
    let group = service(&state)?.proxy_group(&caller, &id)?;
    Ok(axum::Json(json!({"security_group": group_view(&group)})))
}

/// `POST /os-security-groups` (200, as Nova).
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Json(body): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let group = proxy::from_body(&body, "security_group")?;
    let name = proxy::group_text(group, "name")?;
    let description = proxy::group_text(group, "description")?;
    let created = service(&state)?.proxy_create_group(&caller, &name, &description)?;
    Ok(axum::Json(json!({"security_group": group_view(&created)})))
}

/// `PUT /os-security-groups/{id}`.
pub async fn update(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    proxy::validate_id(&id)?;
    let networks = service(&state)?;
    networks.proxy_group(&caller, &id)?;
    let group = proxy::from_body(&body, "security_group")?;
    let name = proxy::group_text(group, "name")?;
    let description = proxy::group_text(group, "description")?;
    let updated = networks.proxy_update_group(&caller, &id, &name, &description)?;
    Ok(axum::Json(json!({"security_group": group_view(&updated)})))
}

/// `DELETE /os-security-groups/{id}` (202).
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<Response> {
    super::removed_at(v, 36)?;
    proxy::validate_id(&id)?;
    service(&state)?.proxy_delete_group(&caller, &id)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `POST /os-security-group-rules` (200): an ingress rule, after Nova's
/// checks (the parent and peer groups exist, the rule is valid and new).
pub async fn create_rule(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Json(body): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let networks = service(&state)?;
    let body = RuleBody::parse(&body)?;
    let parent = networks.proxy_group(&caller, &body.parent_group_id)?;
    let peer = match &body.group_id {
        Some(id) => {
            let g = networks.proxy_group(&caller, id)?;
            Some(proxy::GroupRef {
                name: g.name,
                project_id: g.project_id,
            })
        }
        None => None,
    };
    let rule = body.to_rule()?;
    if proxy::rule_exists(&parent, &rule, peer.as_ref()) {
        return Err(ComputeError::BadRequest(format!(
            "This rule already exists in group {}",
            parent.id
        )));
    }
    let mut created = networks.proxy_create_rule(&caller, &rule)?;
    created.group = peer;
    Ok(axum::Json(
        json!({"security_group_rule": rule_view(&created)}),
    ))
}

/// `DELETE /os-security-group-rules/{id}` (202).
pub async fn delete_rule(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<Response> {
    super::removed_at(v, 36)?;
    proxy::validate_id(&id)?;
    service(&state)?.proxy_delete_rule(&caller, &id)?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `GET /servers/{id}/os-security-groups`: the groups on the server's ports.
pub async fn server_list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let i = servers::find(&state, &caller, &id, false)?;
    let networks = service(&state)?;
    let mut groups = Vec::new();
    for gid in networks.server_security_group_ids(&i.uuid)? {
        match networks.proxy_group(&caller, &gid) {
            Ok(g) => groups.push(g),
            Err(ComputeError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(axum::Json(groups_view(groups)))
}
