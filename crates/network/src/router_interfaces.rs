//! The router member actions: `add_router_interface`,
//! `remove_router_interface` (Neutron's L3 extension) and
//! `add_extraroutes`, `remove_extraroutes` (`extraroute-atomic`).
//!
//! An interface by subnet is a new port of the router's project on that
//! subnet's gateway address (quota reserved under the port's id, given
//! back if the write is refused or when the port goes), except that a
//! further IPv6 subnet of a network joins the router's IPv6 port there
//! (Neutron's multi-prefix port); an interface by
//! port takes a port of no device, which must have an address. Both are
//! checked, inside the store's write, against the router's other ports
//! by [`RouterRules`]. Removing an interface a static route needs is
//! refused (`RouterInterfaceInUseByRoute`).
//!
//! The extra-route actions add or remove routes as one write on the
//! current set (no read-modify-write race between two callers): the set
//! is changed inside the store's transaction and then checked whole.

use crate::attrs::{self, check_write};
use crate::error::{Json, NetworkError, NetworkResult};
use crate::ports::{bound_details, port_status};
use crate::routers::{self, load, parse_routes, RouteBreak, RouterRules};
use crate::{ports_api, subnets, NetworkState};
use axum::extract::{Path, State};
use axum::Extension;
use ferrostack_policy::AuthContext;
use ferrostack_quota::NETWORK;
use ferrostack_store::network::{FixedIp, HostRoute, IpRequest, Port};
use ferrostack_store::router::{
    GatewayPort, InterfaceAdd, InterfaceRemove, Router, ROUTER_INTERFACE_OWNER,
};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The `subnet_id` and `port_id` of an interface body.
fn interface_body(body: Value) -> NetworkResult<(Option<String>, Option<String>)> {
    let Value::Object(map) = body else {
        return Err(NetworkError::bad_request("Body contains invalid data"));
    };
    let id = |key: &str| -> NetworkResult<Option<String>> {
        match attrs::text(&map, key)? {
            Some(v) if uuid::Uuid::parse_str(&v).is_err() => Err(NetworkError::bad_request(
                format!("'{v}' is not a valid UUID"),
            )),
            other => Ok(other),
        }
    };
    let (subnet, port) = (id("subnet_id")?, id("port_id")?);
    if subnet.is_none() && port.is_none() {
        return Err(neither());
    }
    Ok((subnet, port))
}

/// Neutron's answer to an interface action: the router and the port.
fn interface_info(r: &Router, port: &Port, subnet_ids: Vec<String>) -> Value {
    json!({
        "id": r.id,
        "tenant_id": port.project_id,
        "project_id": port.project_id,
        "port_id": port.id,
        "network_id": port.network_id,
        "subnet_id": subnet_ids.last(),
        "subnet_ids": subnet_ids,
    })
}

/// `PUT /v2.0/routers/{id}/add_router_interface`.
pub async fn add(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> NetworkResult<axum::Json<Value>> {
    let r = load(&state, &caller, &id)?;
    check_write(&caller, &r.project_id, "rule:add_router_interface")?;
    let (port, subnet_ids) = match interface_body(body)? {
        (Some(_), Some(_)) => {
            return Err(NetworkError::bad_request(
                "Cannot specify both subnet-id and port-id",
            ))
        }
        (Some(subnet_id), None) => {
            let port = add_by_subnet(&state, &caller, &r, &subnet_id)?;
            (port, vec![subnet_id])
        }
        (None, Some(port_id)) => {
            let port = add_by_port(&state, &caller, &r, &port_id)?;
            let subnets = (port.fixed_ips.iter())
                .map(|ip| ip.subnet_id.clone())
                .collect();
            (port, subnets)
        }
        (None, None) => return Err(neither()),
    };
    Ok(axum::Json(interface_info(&r, &port, subnet_ids)))
}

fn neither() -> NetworkError {
    NetworkError::bad_request("Either subnet_id or port_id must be specified")
}

fn add_by_subnet(
    state: &NetworkState,
    caller: &AuthContext,
    r: &Router,
    subnet_id: &str,
) -> NetworkResult<Port> {
    let subnet = subnets::load(state, caller, subnet_id)?;
    let Some(gateway_ip) = subnet.gateway_ip.clone() else {
        return Err(NetworkError::bad_request(
            "Subnet for router interface must have a gateway IP",
        ));
    };
    if subnet.ip_version == 6 && subnet.ipv6_ra_mode.is_none() && subnet.ipv6_address_mode.is_some()
    {
        return Err(NetworkError::bad_request(format!(
            "IPv6 subnet {subnet_id} configured to receive RAs from an external router cannot be added to Neutron Router."
        )));
    }
    if !caller.is_admin() && caller.project_id() != Some(subnet.project_id.as_str()) {
        return Err(NetworkError::bad_request(format!(
            "Cannot add interface to router because subnet {subnet_id} is not owned by project making the request"
        )));
    }
    let current = state.routers.router_ports(&r.id)?;
    if (current.iter()).any(|p| p.fixed_ips.iter().any(|ip| ip.subnet_id == subnet.id)) {
        return Err(NetworkError::bad_request(format!(
            "Router already has a port on subnet {}",
            subnet.id
        )));
    }
    if subnet.ip_version == 6 {
        let v6_port = current.iter().find(|p| {
            p.device_owner == ROUTER_INTERFACE_OWNER
                && p.network_id == subnet.network_id
                && (p.fixed_ips.iter()).any(|ip| ip.ip_address.contains(':'))
        });
        if let Some(port) = v6_port {
            return add_prefix(state, r, port, &subnet.id, &gateway_ip);
        }
    }
    let port = state.router_port(r, &subnet.network_id, ROUTER_INTERFACE_OWNER, &r.project_id);
    let ips = [IpRequest {
        subnet_id: subnet.id.clone(),
        ip_address: Some(gateway_ip),
    }];
    let rules = RouterRules::new(state, Some(port.id.clone()), RouteBreak::Invalid)?;
    // Neutron's checks come before the port is made: the gateway address
    // of a subnet already on the router is taken, by the router.
    let mut planned = state.routers.router_ports(&r.id)?;
    let mut probe = port.clone();
    probe.fixed_ips = vec![FixedIp {
        subnet_id: subnet.id.clone(),
        ip_address: ips[0].ip_address.clone().unwrap_or_default(),
    }];
    planned.push(probe);
    rules.verify(r, &planned)?;
    state.quotas.reserve(
        &NETWORK,
        &r.project_id,
        &port.id,
        &[("port".to_string(), 1)].into(),
    )?;
    let add = InterfaceAdd::NewPort {
        port: &port,
        ips: &ips,
    };
    let result = state
        .routers
        .add_interface(&r.id, add, &mut |r, p| rules.check(r, p));
    match result {
        Ok(p) => Ok(p),
        Err(e) => {
            state.release(&port.id);
            Err(e.into())
        }
    }
}

/// Neutron's IPv6 multi-prefix router port: a further IPv6 subnet of a
/// network the router has an IPv6 port on becomes one more address of
/// that port (no new port, no quota).
fn add_prefix(
    state: &NetworkState,
    r: &Router,
    port: &Port,
    subnet_id: &str,
    gateway_ip: &str,
) -> NetworkResult<Port> {
    let mut ips: Vec<IpRequest> = (port.fixed_ips.iter())
        .map(|ip| IpRequest {
            subnet_id: ip.subnet_id.clone(),
            ip_address: Some(ip.ip_address.clone()),
        })
        .collect();
    ips.push(IpRequest {
        subnet_id: subnet_id.to_string(),
        ip_address: Some(gateway_ip.to_string()),
    });
    let rules = RouterRules::new(state, Some(port.id.clone()), RouteBreak::Invalid)?;
    let add = InterfaceAdd::AddAddress {
        port_id: &port.id,
        ips: &ips,
    };
    Ok(state
        .routers
        .add_interface(&r.id, add, &mut |r, p| rules.check(r, p))?)
}

fn add_by_port(
    state: &NetworkState,
    caller: &AuthContext,
    r: &Router,
    port_id: &str,
) -> NetworkResult<Port> {
    let port = ports_api::load(state, caller, port_id)?;
    check_write(caller, &port.project_id, "rule:update_port")?;
    let rules = RouterRules::new(state, Some(port.id.clone()), RouteBreak::Invalid)?;
    let now = ferrostack_common::time::now_micros();
    let attach = move |p: &mut Port| {
        p.vif_details = bound_details();
        p.status = port_status(p).into();
        p.updated_at = now;
    };
    let add = InterfaceAdd::Existing {
        port_id,
        attach: &attach,
    };
    Ok(state
        .routers
        .add_interface(&r.id, add, &mut |r, p| rules.check(r, p))?)
}

/// `PUT /v2.0/routers/{id}/remove_router_interface`.
pub async fn remove(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> NetworkResult<axum::Json<Value>> {
    let r = load(&state, &caller, &id)?;
    check_write(&caller, &r.project_id, "rule:remove_router_interface")?;
    let (subnet_id, port_id) = interface_body(body)?;
    if let (Some(s), Some(p)) = (&subnet_id, &port_id) {
        let port = ports_api::load(&state, &caller, p)?;
        if !port.fixed_ips.iter().any(|ip| &ip.subnet_id == s) {
            return Err(NetworkError::new(
                http::StatusCode::BAD_REQUEST,
                "SubnetMismatchForPort",
                format!("Subnet on port {p} does not match the requested subnet {s}."),
            ));
        }
    }
    let which = match (&port_id, &subnet_id) {
        (Some(p), _) => InterfaceRemove::Port(p),
        (None, Some(s)) => {
            subnets::load(&state, &caller, s)?;
            InterfaceRemove::Subnet(s)
        }
        (None, None) => return Err(neither()),
    };
    // Floating IPs through this interface keep it (Neutron's
    // RouterInterfaceInUseByFloatingIP).
    let leaving: Vec<String> = match (&port_id, &subnet_id) {
        (Some(p), _) => (state.store.get_port(p)?.into_iter())
            .flat_map(|p| p.fixed_ips)
            .map(|ip| ip.subnet_id)
            .collect(),
        (None, Some(s)) => vec![s.clone()],
        (None, None) => Vec::new(),
    };
    for s in &leaving {
        state.check_interface_removal(&r.id, s)?;
    }
    let rules = RouterRules::new(&state, None, RouteBreak::InUse)?;
    let removed = state
        .routers
        .remove_interface(&r.id, which, &mut |r, p| rules.check(r, p))?;
    if removed.deleted {
        state.release(&removed.port.id);
    }
    let subnet_ids = match &subnet_id {
        Some(s) if !removed.deleted || port_id.is_none() => vec![s.clone()],
        _ => (removed.port.fixed_ips.iter())
            .map(|ip| ip.subnet_id.clone())
            .collect(),
    };
    Ok(axum::Json(interface_info(&r, &removed.port, subnet_ids)))
}

/// The `routes` of an extra-route action body `{"router": {"routes": [...]}}`.
fn action_routes(body: Value, router_id: &str) -> NetworkResult<Vec<HostRoute>> {
    let map: Map<String, Value> = attrs::body_object(body, "router", &["routes"], false)?;
    let routes = map.get("routes").ok_or_else(|| attrs::required("routes"))?;
    parse_routes(routes, router_id)
}

/// Add (`true`) or remove `routes` on router `id` as one write.
fn change_routes(
    state: &NetworkState,
    caller: &AuthContext,
    id: &str,
    body: Value,
    adding: bool,
) -> NetworkResult<Value> {
    let r = load(state, caller, id)?;
    let rule = if adding {
        "rule:add_extraroutes"
    } else {
        "rule:remove_extraroutes"
    };
    check_write(caller, &r.project_id, rule)?;
    let routes = action_routes(body, id)?;
    let rules = RouterRules::new(state, None, RouteBreak::Invalid)?;
    let now = ferrostack_common::time::now_micros();
    let updated = state
        .routers
        .update_router(
            id,
            &mut |r| {
                if adding {
                    for route in &routes {
                        if !r.routes.contains(route) {
                            r.routes.push(route.clone());
                        }
                    }
                } else {
                    r.routes.retain(|route| !routes.contains(route));
                }
                r.updated_at = now;
                Ok(())
            },
            GatewayPort::Keep,
            &mut |r, p| {
                if r.routes.len() > routers::MAX_ROUTES {
                    return Err(Box::new(NetworkError::bad_request(format!(
                        "Unable to complete operation for {}. The number of routes exceeds the maximum {}.",
                        r.id,
                        routers::MAX_ROUTES
                    ))));
                }
                rules.check(r, p)
            },
        )?
        .ok_or_else(|| attrs::not_found("RouterNotFound", "Router", id))?;
    Ok(json!({"router": state.router_view(&updated)?}))
}

/// `PUT /v2.0/routers/{id}/add_extraroutes`.
pub async fn add_routes(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> NetworkResult<axum::Json<Value>> {
    change_routes(&state, &caller, &id, body, true).map(axum::Json)
}

/// `PUT /v2.0/routers/{id}/remove_extraroutes`.
pub async fn remove_routes(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> NetworkResult<axum::Json<Value>> {
    change_routes(&state, &caller, &id, body, false).map(axum::Json)
}
