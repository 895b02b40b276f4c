//! `/v2.0/floatingips`: Neutron's floating IP API over
//! [`crate::floating_ips`], with Neutron's default policy: a floating IP is
//! its project's (another project's answers 404), naming the address
//! (`floating_ip_address`) is for admins, and the association rules are
//! the service's. The view carries `port_details` (`fip-port-details`).
//! `/v2.0/floatingip_pools` lists where floating IPs come from: the IPv4
//! subnets of external networks (`floatingip-pools`).

use crate::attrs::{self, body_object, short_text, strings};
use crate::error::{Json, NetworkError, NetworkResult};
use crate::floating_ips::{not_found, Asker, FloatingIpSpec};
use crate::query::{int, list as l, text as t, Collection, Fields, ListQuery, QueryPairs};
use crate::{ports_api, NetworkState};
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Extension;
use ferrostack_policy::AuthContext;
use ferrostack_store::floating_ip::FloatingIpRecord;
use ferrostack_store::network::Port;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The floating IPs collection for [`ListQuery`].
pub const COLLECTION: Collection = Collection {
    name: "floatingips",
    singular_title: "FloatingIP",
    attributes: &[
        t("id"),
        t("project_id"),
        t("tenant_id"),
        t("floating_ip_address"),
        t("floating_network_id"),
        t("router_id"),
        t("port_id"),
        t("fixed_ip_address"),
        t("status"),
        t("description"),
        l("tags"),
        int("revision_number"),
        t("created_at"),
        t("updated_at"),
    ],
};

const CREATE: &[&str] = &[
    "floating_network_id",
    "floating_ip_address",
    "subnet_id",
    "port_id",
    "fixed_ip_address",
    "description",
    "project_id",
    "tenant_id",
    "tags",
];

const UPDATE: &[&str] = &["port_id", "fixed_ip_address", "description"];

/// Neutron's view of a floating IP; `port` is its associated port.
pub fn view(f: &FloatingIpRecord, port: Option<&Port>) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(f.id));
    v.insert("project_id".into(), json!(f.project_id));
    v.insert("tenant_id".into(), json!(f.project_id));
    v.insert("floating_ip_address".into(), json!(f.floating_ip_address));
    v.insert("floating_network_id".into(), json!(f.floating_network_id));
    v.insert("router_id".into(), json!(f.router_id));
    v.insert("port_id".into(), json!(f.port_id));
    v.insert("fixed_ip_address".into(), json!(f.fixed_ip_address));
    v.insert("status".into(), json!(f.status));
    let details = port.map(|p| {
        json!({
            "name": p.name,
            "network_id": p.network_id,
            "mac_address": p.mac_address,
            "admin_state_up": p.admin_state_up,
            "status": p.status,
            "device_id": p.device_id,
            "device_owner": p.device_owner,
        })
    });
    v.insert("port_details".into(), details.unwrap_or(Value::Null));
    attrs::standard(
        &mut v,
        &f.description,
        &f.tags,
        f.created_at,
        f.updated_at,
        f.revision_number,
    );
    Value::Object(v)
}

fn view_one(state: &NetworkState, f: &FloatingIpRecord) -> NetworkResult<Value> {
    let port = match &f.port_id {
        Some(id) => state.store.get_port(id)?,
        None => None,
    };
    Ok(view(f, port.as_ref()))
}

/// The floating IP `id` if the caller may see it.
pub fn load(
    state: &NetworkState,
    caller: &AuthContext,
    id: &str,
) -> NetworkResult<FloatingIpRecord> {
    state
        .store
        .get_floating_ip(id)?
        .filter(|f| attrs::can_read(caller, &f.project_id))
        .ok_or_else(|| not_found(id))
}

/// Run `f` with the caller as an [`Asker`] (ports it may see: as the
/// port API shows them).
pub fn with_asker<R>(
    state: &NetworkState,
    caller: &AuthContext,
    f: impl FnOnce(Asker<'_>) -> NetworkResult<R>,
) -> NetworkResult<R> {
    let sees = |p: &Port| ports_api::load(state, caller, &p.id).is_ok();
    f(Asker {
        admin: caller.is_admin(),
        sees_port: &sees,
    })
}

/// An address attribute, checked as Neutron's attribute map does.
fn address(map: &Map<String, Value>, key: &str) -> NetworkResult<Option<String>> {
    let v = attrs::text(map, key)?;
    if let Some(a) = &v {
        if crate::ipam::canonical_ip(a).is_none() {
            return Err(NetworkError::invalid_input(
                key,
                format!("'{a}' is not a valid IP address"),
            ));
        }
    }
    Ok(v)
}

/// `port_id` of an update: absent, `null`, or an id.
fn port_change(map: &Map<String, Value>) -> NetworkResult<Option<Option<String>>> {
    match map.get("port_id") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.is_empty() => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(other) => Err(NetworkError::invalid_input(
            "port_id",
            format!("'{other}' is not a valid UUID"),
        )),
    }
}

/// `GET /v2.0/floatingips`.
pub async fn list(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let q = ListQuery::parse(&pairs, &COLLECTION)?;
    let ports: HashMap<String, Port> = (state.store.list_ports()?.into_iter())
        .map(|p| (p.id.clone(), p))
        .collect();
    let views = (state.store.list_floating_ips()?.iter())
        .filter(|f| attrs::can_read(&caller, &f.project_id))
        .map(|f| view(f, f.port_id.as_ref().and_then(|p| ports.get(p))))
        .collect();
    Ok(axum::Json(q.render(
        views,
        &state.public_url,
        "/v2.0/floatingips",
    )?))
}

/// `GET /v2.0/floatingips/{id}`.
pub async fn show(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let f = load(&state, &caller, &id)?;
    let v = Fields::parse(&pairs).project(view_one(&state, &f)?);
    Ok(axum::Json(json!({ "floatingip": v })))
}

/// `POST /v2.0/floatingips`.
pub async fn create(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Json(body): Json<Value>,
) -> NetworkResult<impl IntoResponse> {
    let map = body_object(body, "floatingip", CREATE, false)?;
    let floating_network_id = attrs::required_text(&map, "floating_network_id")?;
    let project_id = attrs::owner_for_create(&caller, &map)?;
    attrs::check_write(&caller, &project_id, "rule:create_floatingip")?;
    let floating_ip_address = address(&map, "floating_ip_address")?;
    if floating_ip_address.is_some() && !caller.is_admin() {
        return Err(NetworkError::policy(
            "rule:create_floatingip and rule:create_floatingip:floating_ip_address",
        ));
    }
    let spec = FloatingIpSpec {
        project_id,
        floating_network_id,
        floating_ip_address,
        subnet_id: attrs::text(&map, "subnet_id")?,
        port_id: attrs::text(&map, "port_id")?.filter(|p| !p.is_empty()),
        fixed_ip_address: address(&map, "fixed_ip_address")?,
        description: short_text(&map, "description")?.unwrap_or_default(),
        tags: crate::tags::dedup(strings(&map, "tags")?.unwrap_or_default())?,
    };
    let f = with_asker(&state, &caller, |a| state.create_floating_ip(a, spec))?;
    let v = view_one(&state, &f)?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "floatingip": v }))))
}

/// `PUT /v2.0/floatingips/{id}`.
pub async fn update(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> NetworkResult<axum::Json<Value>> {
    let map = body_object(body, "floatingip", UPDATE, true)?;
    let current = load(&state, &caller, &id)?;
    attrs::check_write(&caller, &current.project_id, "rule:update_floatingip")?;
    let port = port_change(&map)?;
    let fixed = address(&map, "fixed_ip_address")?;
    let description = short_text(&map, "description")?;
    let f = with_asker(&state, &caller, |a| {
        state.update_floating_ip(a, &current, port, fixed, description)
    })?;
    Ok(axum::Json(json!({"floatingip": view_one(&state, &f)?})))
}

/// `DELETE /v2.0/floatingips/{id}`.
pub async fn delete(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
) -> NetworkResult<StatusCode> {
    let f = load(&state, &caller, &id)?;
    attrs::check_write(&caller, &f.project_id, "rule:delete_floatingip")?;
    state.delete_floating_ip(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The floating IP pools collection for [`ListQuery`].
pub const POOLS: Collection = Collection {
    name: "floatingip_pools",
    singular_title: "FloatingIPPool",
    attributes: &[
        t("subnet_id"),
        t("subnet_name"),
        t("network_id"),
        t("project_id"),
        t("tenant_id"),
    ],
};

/// `GET /v2.0/floatingip_pools`: every IPv4 subnet of an external network.
pub async fn pools(
    State(state): State<Arc<NetworkState>>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let q = ListQuery::parse(&pairs, &POOLS)?;
    let external: std::collections::HashSet<String> = (state.store.list_networks()?.into_iter())
        .filter(|n| n.external)
        .map(|n| n.id)
        .collect();
    let views = (state.store.list_subnets()?.into_iter())
        .filter(|s| s.ip_version == 4 && external.contains(&s.network_id))
        .map(|s| {
            json!({"subnet_id": s.id, "subnet_name": s.name, "network_id": s.network_id,
                   "project_id": s.project_id, "tenant_id": s.project_id})
        })
        .collect();
    Ok(axum::Json(q.render(
        views,
        &state.public_url,
        "/v2.0/floatingip_pools",
    )?))
}
