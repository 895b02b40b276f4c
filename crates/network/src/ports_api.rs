//! `/v2.0/ports`: Neutron's port API over the in-process calls of
//! [`crate::ports`], with Neutron's policy: a port is seen by its
//! project and by its network's owner, `binding:*` attributes (but
//! `binding:vnic_type`) are admins' only, and a port on another
//! project's network needs that network to be shared.

use crate::attrs::{self, body_object, boolean, check_write, short_text, strings};
use crate::error::{Json, NetworkError, NetworkResult};
use crate::ports::{address_pairs, bound_details, check_security, port_status, resolve_ips};
use crate::ports::{FixedIpSpec, PortSpec, RawPair};
use crate::query::{boolean as b, list as l, text as t, Collection, Fields, ListQuery, QueryPairs};
use crate::{ipam, networks, NetworkState};
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Extension;
use ferrostack_policy::AuthContext;
use ferrostack_store::floating_ip::FLOATINGIP_OWNER;
use ferrostack_store::network::Port;
use ferrostack_store::router::is_router_owner;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::sync::Arc;

/// The ports collection for [`ListQuery`].
pub const COLLECTION: Collection = Collection {
    name: "ports",
    singular_title: "Port",
    attributes: &[
        t("id"),
        t("name"),
        t("description"),
        t("project_id"),
        t("tenant_id"),
        t("network_id"),
        t("mac_address"),
        b("admin_state_up"),
        t("status"),
        t("device_id"),
        t("device_owner"),
        l("fixed_ips"),
        l("security_groups"),
        l("allowed_address_pairs"),
        b("port_security_enabled"),
        t("binding:host_id"),
        t("binding:vif_type"),
        t("binding:vnic_type"),
        crate::query::int("revision_number"),
        t("created_at"),
        t("updated_at"),
    ],
};

const CREATE: &[&str] = &[
    "name",
    "description",
    "project_id",
    "tenant_id",
    "network_id",
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "binding:host_id",
    "binding:vnic_type",
    "binding:profile",
    "allowed_address_pairs",
    "port_security_enabled",
    "security_groups",
    "tags",
];

const UPDATE: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "fixed_ips",
    "device_id",
    "device_owner",
    "binding:host_id",
    "binding:vnic_type",
    "binding:profile",
    "allowed_address_pairs",
    "port_security_enabled",
    "security_groups",
];

/// Neutron's view of a port; `binding:*` but the vnic type only for admins.
pub fn view(p: &Port, admin: bool) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(p.id));
    v.insert("name".into(), json!(p.name));
    v.insert("network_id".into(), json!(p.network_id));
    v.insert("project_id".into(), json!(p.project_id));
    v.insert("tenant_id".into(), json!(p.project_id));
    v.insert("mac_address".into(), json!(p.mac_address));
    v.insert("admin_state_up".into(), json!(p.admin_state_up));
    v.insert("status".into(), json!(p.status));
    v.insert("device_id".into(), json!(p.device_id));
    v.insert("device_owner".into(), json!(p.device_owner));
    v.insert("fixed_ips".into(), json!(p.fixed_ips));
    v.insert(
        "allowed_address_pairs".into(),
        json!(p.allowed_address_pairs),
    );
    v.insert(
        "port_security_enabled".into(),
        json!(p.port_security_enabled),
    );
    v.insert("security_groups".into(), json!(p.security_groups));
    v.insert("binding:vnic_type".into(), json!(p.vnic_type));
    if admin {
        let vif_type = if p.host_id.is_empty() {
            "unbound"
        } else {
            "tap"
        };
        v.insert("binding:host_id".into(), json!(p.host_id));
        v.insert("binding:vif_type".into(), json!(vif_type));
        v.insert(
            "binding:vif_details".into(),
            Value::Object(p.vif_details.clone()),
        );
        v.insert("binding:profile".into(), Value::Object(p.profile.clone()));
    }
    attrs::standard(
        &mut v,
        &p.description,
        &p.tags,
        p.created_at,
        p.updated_at,
        p.revision_number,
    );
    Value::Object(v)
}

fn owned_networks(state: &NetworkState, caller: &AuthContext) -> NetworkResult<HashSet<String>> {
    Ok(state
        .store
        .list_networks()?
        .into_iter()
        .filter(|n| attrs::can_read(caller, &n.project_id))
        .map(|n| n.id)
        .collect())
}

/// The port `id` if the caller may see it.
pub fn load(state: &NetworkState, caller: &AuthContext, id: &str) -> NetworkResult<Port> {
    let missing = || attrs::not_found("PortNotFound", "Port", id);
    let p = state.store.get_port(id)?.ok_or_else(missing)?;
    if attrs::can_read(caller, &p.project_id) {
        return Ok(p);
    }
    match state.store.get_network(&p.network_id)? {
        Some(n) if attrs::can_read(caller, &n.project_id) => Ok(p),
        _ => Err(missing()),
    }
}

fn fixed_ips(map: &Map<String, Value>) -> NetworkResult<Option<Vec<FixedIpSpec>>> {
    fixed_ips_of(map, "fixed_ips")
}

/// A `fixed_ips`-shaped list under `key` (`external_fixed_ips` too).
pub(crate) fn fixed_ips_of(
    map: &Map<String, Value>,
    key: &str,
) -> NetworkResult<Option<Vec<FixedIpSpec>>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                let Value::Object(o) = i else {
                    return Err(NetworkError::invalid_input(
                        key,
                        format!("'{i}' is not a dictionary"),
                    ));
                };
                if let Some(k) = o.keys().find(|k| *k != "subnet_id" && *k != "ip_address") {
                    return Err(NetworkError::invalid_input(
                        key,
                        format!("Unexpected keys supplied: {k}"),
                    ));
                }
                Ok(FixedIpSpec {
                    subnet_id: attrs::text(o, "subnet_id")?,
                    ip_address: attrs::text(o, "ip_address")?,
                })
            })
            .collect::<NetworkResult<Vec<_>>>()
            .map(Some),
        Some(other) => Err(NetworkError::invalid_input(
            key,
            format!("'{other}' is not a list"),
        )),
    }
}

fn raw_pairs(map: &Map<String, Value>) -> NetworkResult<Option<Vec<RawPair>>> {
    match map.get("allowed_address_pairs") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                let o = i.as_object().ok_or_else(|| {
                    NetworkError::invalid_input(
                        "allowed_address_pairs",
                        format!("'{i}' is not a dictionary"),
                    )
                })?;
                let ip = attrs::text(o, "ip_address")?.ok_or_else(|| {
                    NetworkError::new(
                        StatusCode::BAD_REQUEST,
                        "AllowedAddressPairsMissingIP",
                        "AllowedAddressPair must contain ip_address",
                    )
                })?;
                Ok((ip, attrs::text(o, "mac_address")?))
            })
            .collect::<NetworkResult<Vec<_>>>()
            .map(Some),
        Some(other) => Err(NetworkError::invalid_input(
            "allowed_address_pairs",
            format!("'{other}' is not a list"),
        )),
    }
}

fn profile(map: &Map<String, Value>) -> NetworkResult<Option<Map<String, Value>>> {
    match map.get("binding:profile") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o.clone())),
        Some(other) => Err(NetworkError::invalid_input(
            "binding:profile",
            format!("'{other}' is not a dictionary"),
        )),
    }
}

fn check_binding_rights(
    caller: &AuthContext,
    map: &Map<String, Value>,
    action: &str,
) -> NetworkResult<()> {
    if caller.is_admin() {
        return Ok(());
    }
    for attr in ["binding:host_id", "binding:profile", "mac_address"] {
        if map.contains_key(attr) && !(attr == "mac_address" && action == "create_port") {
            return Err(NetworkError::policy(&format!(
                "rule:{action} and rule:{action}:{attr}"
            )));
        }
    }
    Ok(())
}

/// Neutron's guard on router ports made through the port API: a
/// non-admin's port may name a router as its device only if the router
/// is the port's project's (else another project's router would gain
/// an interface), `DeviceIDNotOwnedByTenant` 409.
fn check_router_device(
    state: &NetworkState,
    caller: &AuthContext,
    owner: &str,
    device_id: &str,
    project_id: &str,
) -> NetworkResult<()> {
    if caller.is_admin() || !is_router_owner(owner) || device_id.is_empty() {
        return Ok(());
    }
    match state.routers.get_router(device_id)? {
        Some(r) if r.project_id != project_id => Err(NetworkError::conflict(
            "DeviceIDNotOwnedByTenant",
            format!("The following device_id {device_id} is not owned by your project or matches another project router."),
        )),
        _ => Ok(()),
    }
}

/// `GET /v2.0/ports`.
pub async fn list(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let q = ListQuery::parse(&pairs, &COLLECTION)?;
    let owned = owned_networks(&state, &caller)?;
    let views = state
        .store
        .list_ports()?
        .iter()
        .filter(|p| attrs::can_read(&caller, &p.project_id) || owned.contains(&p.network_id))
        .map(|p| view(p, caller.is_admin()))
        .collect();
    Ok(axum::Json(q.render(
        views,
        &state.public_url,
        "/v2.0/ports",
    )?))
}

/// `GET /v2.0/ports/{id}`.
pub async fn show(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let p = load(&state, &caller, &id)?;
    let v = Fields::parse(&pairs).project(view(&p, caller.is_admin()));
    Ok(axum::Json(json!({ "port": v })))
}

/// `POST /v2.0/ports`.
pub async fn create(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Json(body): Json<Value>,
) -> NetworkResult<impl IntoResponse> {
    let map = body_object(body, "port", CREATE, false)?;
    let network_id = attrs::required_text(&map, "network_id")?;
    let network = networks::load(&state, &caller, &network_id)?;
    let project_id = attrs::owner_for_create(&caller, &map)?;
    check_write(&caller, &project_id, "rule:create_port")?;
    check_binding_rights(&caller, &map, "create_port")?;
    if !caller.is_admin() && network.project_id != project_id && !network.shared {
        return Err(attrs::not_found("NetworkNotFound", "Network", &network_id));
    }
    let spec = PortSpec {
        id: None,
        project_id,
        network_id,
        name: short_text(&map, "name")?.unwrap_or_default(),
        description: short_text(&map, "description")?.unwrap_or_default(),
        admin_state_up: boolean(&map, "admin_state_up")?,
        mac_address: attrs::text(&map, "mac_address")?,
        fixed_ips: fixed_ips(&map)?,
        device_owner: attrs::text(&map, "device_owner")?.unwrap_or_default(),
        device_id: attrs::text(&map, "device_id")?.unwrap_or_default(),
        host_id: attrs::text(&map, "binding:host_id")?.filter(|h| !h.is_empty()),
        vnic_type: attrs::text(&map, "binding:vnic_type")?,
        profile: profile(&map)?.unwrap_or_default(),
        allowed_address_pairs: raw_pairs(&map)?.unwrap_or_default(),
        port_security_enabled: boolean(&map, "port_security_enabled")?,
        security_groups: strings(&map, "security_groups")?,
        tags: crate::tags::dedup(strings(&map, "tags")?.unwrap_or_default())?,
    };
    check_router_device(
        &state,
        &caller,
        &spec.device_owner,
        &spec.device_id,
        &spec.project_id,
    )?;
    let p = state.create_port(spec)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"port": view(&p, caller.is_admin())})),
    ))
}

/// `PUT /v2.0/ports/{id}`.
pub async fn update(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> NetworkResult<axum::Json<Value>> {
    let map = body_object(body, "port", UPDATE, true)?;
    let current = load(&state, &caller, &id)?;
    check_write(&caller, &current.project_id, "rule:update_port")?;
    check_binding_rights(&caller, &map, "update_port")?;
    let name = short_text(&map, "name")?;
    let description = short_text(&map, "description")?;
    let admin_state_up = boolean(&map, "admin_state_up")?;
    let device_owner = attrs::text(&map, "device_owner")?;
    let device_id = attrs::text(&map, "device_id")?;
    check_router_device(
        &state,
        &caller,
        device_owner.as_deref().unwrap_or(&current.device_owner),
        device_id.as_deref().unwrap_or(&current.device_id),
        &current.project_id,
    )?;
    let host = attrs::text(&map, "binding:host_id")?;
    let vnic = attrs::text(&map, "binding:vnic_type")?;
    let prof = profile(&map)?;
    let port_security = boolean(&map, "port_security_enabled")?;
    let groups = match strings(&map, "security_groups")? {
        Some(ids) => Some(state.groups_for(&current.project_id, true, Some(&ids))?),
        None => None,
    };
    let pairs = match raw_pairs(&map)? {
        Some(raw) => Some(address_pairs(&raw, &current.mac_address)?),
        None => None,
    };
    check_security(
        port_security.unwrap_or(current.port_security_enabled),
        pairs.as_ref().unwrap_or(&current.allowed_address_pairs),
        groups.as_ref().unwrap_or(&current.security_groups),
    )?;
    let ips = match fixed_ips(&map)? {
        Some(specs) => {
            let subnets = state.subnets_of(&current.network_id)?;
            let mac = ipam::parse_mac(&current.mac_address).unwrap_or_default();
            Some(resolve_ips(
                &current.network_id,
                &subnets,
                mac,
                Some(&specs),
            )?)
        }
        None => None,
    };
    let now = ferrostack_common::time::now_micros();
    let p = state
        .store
        .update_port(&id, &mut |p| {
            if let Some(v) = &name {
                p.name = v.clone();
            }
            if let Some(v) = &description {
                p.description = v.clone();
            }
            if let Some(v) = admin_state_up {
                p.admin_state_up = v;
            }
            if let Some(v) = &device_owner {
                p.device_owner = v.clone();
            }
            if let Some(v) = &device_id {
                p.device_id = v.clone();
            }
            if let Some(v) = &host {
                p.host_id = v.clone();
                p.vif_details = if v.is_empty() {
                    Map::new()
                } else {
                    bound_details()
                };
            }
            if let Some(v) = &vnic {
                p.vnic_type = v.clone();
            }
            if let Some(v) = &prof {
                p.profile = v.clone();
            }
            if let Some(v) = port_security {
                p.port_security_enabled = v;
            }
            if let Some(v) = &groups {
                p.security_groups = v.clone();
            }
            if let Some(v) = &pairs {
                p.allowed_address_pairs = v.clone();
            }
            p.status = port_status(p).into();
            p.updated_at = now;
            Ok(ips.clone())
        })?
        .ok_or_else(|| attrs::not_found("PortNotFound", "Port", &id))?;
    Ok(axum::Json(json!({"port": view(&p, caller.is_admin())})))
}

/// `DELETE /v2.0/ports/{id}`.
pub async fn delete(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
) -> NetworkResult<StatusCode> {
    let p = load(&state, &caller, &id)?;
    check_write(&caller, &p.project_id, "rule:delete_port")?;
    // A router's ports go through the router API, and a floating IP's own
    // port with the floating IP (Neutron's prevent_l3_port_deletion),
    // unless what owns them is gone.
    let router_port =
        is_router_owner(&p.device_owner) && state.routers.get_router(&p.device_id)?.is_some();
    let floating = p.device_owner == FLOATINGIP_OWNER
        && !p.fixed_ips.is_empty()
        && state.store.get_floating_ip(&p.device_id)?.is_some();
    if router_port || floating {
        return Err(NetworkError::conflict(
            "ServicePortInUse",
            format!(
                "Port {id} cannot be deleted directly via the port API: has device owner {}.",
                p.device_owner
            ),
        ));
    }
    state.delete_port(&id)?;
    Ok(StatusCode::NO_CONTENT)
}
