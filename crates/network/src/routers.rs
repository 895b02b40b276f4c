//! `/v2.0/routers`: Neutron's L3 routers (with `ext-gw-mode`,
//! `extraroute` and `router_availability_zone`).
//!
//! A router is a row plus ports (see [`ferrostack_store::router`]): the
//! gateway port on an external network has no project (tenants never see
//! or count it, as in Neutron), interface ports belong to the router's
//! project and count against its port quota. All of them are bound to
//! the network host (the ML2 `dhcp_host`, where DHCP ports live too), so
//! the host documents carry their networks there; the router itself is
//! the host's `DesiredRouter` (see `router_section`).
//!
//! The rules over a router's whole set of ports (one port per subnet, no
//! overlapping CIDRs, static routes whose next hop is on a connected
//! subnet) are one [`RouterRules`] check run by the store inside the
//! write, so concurrent writes cannot slip past each other (see
//! `router_rules`).
//! Interface add/remove and the extra-route actions are in
//! `router_interfaces`.

use crate::attrs::{self, body_object, boolean, check_write, short_text, strings};
use crate::error::{Json, NetworkError, NetworkResult};
use crate::ports::bound_details;
use crate::query::QueryPairs;
use crate::query::{boolean as b, int, list as l, text as t, Collection, Fields, ListQuery};
pub use crate::router_rules::{parse_routes, RouteBreak, RouterRules, MAX_ROUTES};
use crate::{ipam, networks, NetworkState};
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Extension;
use ferrostack_policy::AuthContext;
use ferrostack_quota::NETWORK;
use ferrostack_store::network::{IpRequest, Port};
use ferrostack_store::router::{GatewayPort, Router, RouterGateway, ROUTER_GATEWAY_OWNER};
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The routers collection for [`ListQuery`].
pub const COLLECTION: Collection = Collection {
    name: "routers",
    singular_title: "Router",
    attributes: &[
        t("id"),
        t("name"),
        t("description"),
        t("project_id"),
        t("tenant_id"),
        t("status"),
        b("admin_state_up"),
        l("availability_zone_hints"),
        int("revision_number"),
        t("created_at"),
        t("updated_at"),
    ],
};

const CREATE: &[&str] = &[
    "name",
    "description",
    "project_id",
    "tenant_id",
    "admin_state_up",
    "external_gateway_info",
    "availability_zone_hints",
    "tags",
];

const UPDATE: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "external_gateway_info",
    "routes",
];

/// Neutron's view of a router; `ports` are its ports (for the gateway's
/// addresses).
pub fn view(r: &Router, ports: &[Port]) -> Value {
    let gateway = r.gateway.as_ref().map(|g| {
        let ips: Vec<Value> = ports
            .iter()
            .filter(|p| p.device_owner == ROUTER_GATEWAY_OWNER)
            .flat_map(|p| p.fixed_ips.iter())
            .map(|ip| json!({"subnet_id": ip.subnet_id, "ip_address": ip.ip_address}))
            .collect();
        json!({
            "network_id": g.network_id,
            "enable_snat": g.enable_snat,
            "external_fixed_ips": ips,
        })
    });
    let mut v = Map::new();
    v.insert("id".into(), json!(r.id));
    v.insert("name".into(), json!(r.name));
    v.insert("project_id".into(), json!(r.project_id));
    v.insert("tenant_id".into(), json!(r.project_id));
    v.insert("status".into(), json!(r.status));
    v.insert("admin_state_up".into(), json!(r.admin_state_up));
    v.insert("external_gateway_info".into(), json!(gateway));
    v.insert("routes".into(), json!(r.routes));
    v.insert(
        "availability_zone_hints".into(),
        json!(r.availability_zone_hints),
    );
    v.insert("availability_zones".into(), json!([crate::zones::ZONE]));
    attrs::standard(
        &mut v,
        &r.description,
        &r.tags,
        r.created_at,
        r.updated_at,
        r.revision_number,
    );
    Value::Object(v)
}

/// The router `id` if the caller may see it, else Neutron's 404.
pub fn load(state: &NetworkState, caller: &AuthContext, id: &str) -> NetworkResult<Router> {
    state
        .routers
        .get_router(id)?
        .filter(|r| attrs::can_read(caller, &r.project_id))
        .ok_or_else(|| attrs::not_found("RouterNotFound", "Router", id))
}

/// A gateway as asked in `external_gateway_info`.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayRequest {
    /// The external network.
    pub network_id: String,
    /// `enable_snat` if given.
    pub enable_snat: Option<bool>,
    /// `external_fixed_ips` if given.
    pub fixed_ips: Option<Vec<crate::FixedIpSpec>>,
}

/// Read `external_gateway_info`: `None` when absent, `Some(None)` when it
/// clears the gateway (`null` or `{}`). `action` names the policy rule:
/// `enable_snat` and `external_fixed_ips` are admins' only.
fn gateway_request(
    caller: &AuthContext,
    map: &Map<String, Value>,
    action: &str,
) -> NetworkResult<Option<Option<GatewayRequest>>> {
    let info = match map.get("external_gateway_info") {
        None => return Ok(None),
        Some(Value::Null) => return Ok(Some(None)),
        Some(Value::Object(o)) if o.is_empty() => return Ok(Some(None)),
        Some(Value::Object(o)) => o,
        Some(other) => {
            return Err(NetworkError::invalid_input(
                "external_gateway_info",
                format!("'{other}' is not a dictionary"),
            ))
        }
    };
    let allowed = ["network_id", "enable_snat", "external_fixed_ips"];
    if let Some(k) = info.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(NetworkError::invalid_input(
            "external_gateway_info",
            format!("Unrecognized attribute(s) '{k}'"),
        ));
    }
    for attr in ["enable_snat", "external_fixed_ips"] {
        if info.contains_key(attr) && !caller.is_admin() {
            return Err(NetworkError::policy(&format!(
                "rule:{action} and rule:{action}:external_gateway_info and rule:{action}:external_gateway_info:{attr}"
            )));
        }
    }
    let network_id = attrs::text(info, "network_id")?.ok_or_else(|| {
        NetworkError::invalid_input(
            "external_gateway_info",
            "Validation of dictionary's keys failed. Expected keys: {'network_id'}",
        )
    })?;
    Ok(Some(Some(GatewayRequest {
        network_id,
        enable_snat: boolean(info, "enable_snat")?,
        fixed_ips: crate::ports_api::fixed_ips_of(info, "external_fixed_ips")?,
    })))
}

impl NetworkState {
    /// A new port of router `r` (addresses empty), bound to its host.
    pub(crate) fn router_port(
        &self,
        r: &Router,
        network_id: &str,
        owner: &str,
        project_id: &str,
    ) -> Port {
        let now = ferrostack_common::time::now_micros();
        Port {
            id: ferrostack_common::ids::new_uuid(),
            network_id: network_id.to_string(),
            project_id: project_id.to_string(),
            name: String::new(),
            description: String::new(),
            admin_state_up: true,
            mac_address: ipam::random_mac(),
            fixed_ips: Vec::new(),
            device_owner: owner.to_string(),
            device_id: r.id.clone(),
            host_id: r.host.clone(),
            vnic_type: "normal".into(),
            vif_details: bound_details(),
            profile: Map::new(),
            allowed_address_pairs: Vec::new(),
            port_security_enabled: false,
            security_groups: Vec::new(),
            status: "ACTIVE".into(),
            tags: Vec::new(),
            created_at: now,
            updated_at: now,
            revision_number: 1,
        }
    }

    /// The gateway port for `req` on router `r` and its address
    /// requests, after Neutron's checks of the network.
    fn gateway_port(
        &self,
        caller: &AuthContext,
        r: &Router,
        req: &GatewayRequest,
    ) -> NetworkResult<(Port, Vec<IpRequest>)> {
        let network = networks::load(self, caller, &req.network_id)?;
        if !network.external {
            return Err(NetworkError::bad_request(format!(
                "Network {} is not an external network",
                network.id
            )));
        }
        let subnets = self.subnets_of(&network.id)?;
        let port = self.router_port(r, &network.id, ROUTER_GATEWAY_OWNER, "");
        let mac = ipam::parse_mac(&port.mac_address).unwrap_or_default();
        if let Some(specs) = &req.fixed_ips {
            for ip in specs.iter().filter_map(|s| s.ip_address.as_deref()) {
                if subnets.iter().any(|s| s.gateway_ip.as_deref() == Some(ip)) {
                    return Err(NetworkError::bad_request(format!(
                        "External IP {ip} is the same as the gateway IP"
                    )));
                }
            }
        }
        let ips = crate::ports::resolve_ips(&network.id, &subnets, mac, req.fixed_ips.as_deref())?;
        Ok((port, ips))
    }

    /// Create a router as `caller` from Neutron's request attributes.
    pub fn create_router(
        &self,
        caller: &AuthContext,
        map: &Map<String, Value>,
    ) -> NetworkResult<Router> {
        let project_id = attrs::owner_for_create(caller, map)?;
        check_write(caller, &project_id, "rule:create_router")?;
        let gateway = gateway_request(caller, map, "create_router")?.flatten();
        let hints = strings(map, "availability_zone_hints")?.unwrap_or_default();
        crate::zones::check_hints(&hints)?;
        let now = ferrostack_common::time::now_micros();
        let router = Router {
            id: ferrostack_common::ids::new_uuid(),
            project_id: project_id.clone(),
            name: short_text(map, "name")?.unwrap_or_default(),
            description: short_text(map, "description")?.unwrap_or_default(),
            admin_state_up: boolean(map, "admin_state_up")?.unwrap_or(true),
            status: "ACTIVE".into(),
            gateway: gateway.as_ref().map(|g| RouterGateway {
                network_id: g.network_id.clone(),
                enable_snat: g.enable_snat.unwrap_or(true),
            }),
            routes: Vec::new(),
            availability_zone_hints: hints,
            tags: crate::tags::dedup(strings(map, "tags")?.unwrap_or_default())?,
            host: self.ml2.dhcp_host.clone(),
            created_at: now,
            updated_at: now,
            contents_changed_at: now,
            revision_number: 1,
        };
        let gw = match &gateway {
            Some(g) => Some(self.gateway_port(caller, &router, g)?),
            None => None,
        };
        let rules = RouterRules::new(
            self,
            gw.as_ref().map(|g| g.0.id.clone()),
            RouteBreak::Invalid,
        )?;
        self.quotas.reserve(
            &NETWORK,
            &project_id,
            &router.id,
            &[("router".to_string(), 1)].into(),
        )?;
        let gw_ref = gw.as_ref().map(|(p, ips)| (p, ips.as_slice()));
        match self
            .routers
            .create_router(&router, gw_ref, &mut |r, p| rules.check(r, p))
        {
            Ok(r) => Ok(r),
            Err(e) => {
                self.release(&router.id);
                Err(e.into())
            }
        }
    }

    /// A router's view with its ports.
    pub fn router_view(&self, r: &Router) -> NetworkResult<Value> {
        let ports = self.routers.router_ports(&r.id)?;
        Ok(view(r, &ports))
    }
}

/// `GET /v2.0/routers`.
pub async fn list(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let q = ListQuery::parse(&pairs, &COLLECTION)?;
    let mut ports: BTreeMap<String, Vec<Port>> = BTreeMap::new();
    for p in state.store.list_ports()? {
        if p.device_owner == ROUTER_GATEWAY_OWNER {
            ports.entry(p.device_id.clone()).or_default().push(p);
        }
    }
    let views = (state.routers.list_routers()?.into_iter())
        .filter(|r| attrs::can_read(&caller, &r.project_id))
        .map(|r| view(&r, ports.get(&r.id).map_or(&[], Vec::as_slice)))
        .collect();
    Ok(axum::Json(q.render(
        views,
        &state.public_url,
        "/v2.0/routers",
    )?))
}

/// `GET /v2.0/routers/{id}`.
pub async fn show(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let r = load(&state, &caller, &id)?;
    let v = Fields::parse(&pairs).project(state.router_view(&r)?);
    Ok(axum::Json(json!({ "router": v })))
}

/// `POST /v2.0/routers`.
pub async fn create(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Json(body): Json<Value>,
) -> NetworkResult<impl IntoResponse> {
    let map = body_object(body, "router", CREATE, false)?;
    let r = state.create_router(&caller, &map)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"router": state.router_view(&r)?})),
    ))
}

/// What an update does to the gateway port.
enum Plan {
    Keep,
    Remove,
    Create(Box<Port>, Vec<IpRequest>),
    Readdress(Vec<IpRequest>),
}

/// Change router `id` through `f` and its gateway by `gateway` (as
/// `external_gateway_info` asked, or unchanged), checking the rules.
pub(crate) fn write_router(
    state: &NetworkState,
    caller: &AuthContext,
    current: &Router,
    gateway: Option<Option<GatewayRequest>>,
    f: &mut dyn FnMut(&mut Router),
) -> NetworkResult<Router> {
    let ports = state.routers.router_ports(&current.id)?;
    let gw_port = ports
        .iter()
        .find(|p| p.device_owner == ROUTER_GATEWAY_OWNER);
    let mut new_gateway = current.gateway.clone();
    let plan = match &gateway {
        None => Plan::Keep,
        Some(None) => {
            new_gateway = None;
            Plan::Remove
        }
        Some(Some(req)) => {
            let (port, ips) = state.gateway_port(caller, current, req)?;
            new_gateway = Some(RouterGateway {
                network_id: req.network_id.clone(),
                enable_snat: req.enable_snat.unwrap_or(true),
            });
            match gw_port {
                Some(p) if p.network_id == req.network_id && req.fixed_ips.is_some() => {
                    Plan::Readdress(ips)
                }
                Some(p) if p.network_id == req.network_id => Plan::Keep,
                _ => Plan::Create(Box::new(port), ips),
            }
        }
    };
    // Floating IPs through the gateway keep it on its network (Neutron's
    // RouterExternalGatewayInUseByFloatingIp).
    if let (Plan::Remove | Plan::Create(..), Some(p)) = (&plan, gw_port) {
        state.check_gateway_removal(&current.id, &p.network_id)?;
    }
    let (gateway_write, new_port) = match &plan {
        Plan::Keep => (GatewayPort::Keep, None),
        Plan::Remove => (GatewayPort::Remove, None),
        Plan::Create(port, ips) => (GatewayPort::Create { port, ips }, Some(port.id.clone())),
        Plan::Readdress(ips) => (GatewayPort::Readdress(ips), None),
    };
    let rules = RouterRules::new(state, new_port, RouteBreak::Invalid)?;
    let now = ferrostack_common::time::now_micros();
    state
        .routers
        .update_router(
            &current.id,
            &mut |r| {
                f(r);
                r.gateway = new_gateway.clone();
                r.updated_at = now;
                Ok(())
            },
            gateway_write,
            &mut |r, p| rules.check(r, p),
        )?
        .ok_or_else(|| attrs::not_found("RouterNotFound", "Router", &current.id))
}

/// `PUT /v2.0/routers/{id}`.
pub async fn update(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> NetworkResult<axum::Json<Value>> {
    let map = body_object(body, "router", UPDATE, true)?;
    let current = load(&state, &caller, &id)?;
    check_write(&caller, &current.project_id, "rule:update_router")?;
    let gateway = gateway_request(&caller, &map, "update_router")?;
    let name = short_text(&map, "name")?;
    let description = short_text(&map, "description")?;
    let admin_state_up = boolean(&map, "admin_state_up")?;
    let routes = match map.get("routes") {
        Some(v) => Some(parse_routes(v, &id)?),
        None => None,
    };
    let r = write_router(&state, &caller, &current, gateway, &mut |r| {
        if let Some(v) = &name {
            r.name = v.clone();
        }
        if let Some(v) = &description {
            r.description = v.clone();
        }
        if let Some(v) = admin_state_up {
            r.admin_state_up = v;
        }
        if let Some(v) = &routes {
            r.routes = v.clone();
        }
    })?;
    Ok(axum::Json(json!({"router": state.router_view(&r)?})))
}

/// `DELETE /v2.0/routers/{id}`: refused while it has interfaces; its
/// gateway port goes with it.
pub async fn delete(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
) -> NetworkResult<StatusCode> {
    let r = load(&state, &caller, &id)?;
    check_write(&caller, &r.project_id, "rule:delete_router")?;
    if state.routers.delete_router(&id)?.is_none() {
        return Err(attrs::not_found("RouterNotFound", "Router", &id));
    }
    state.release(&id);
    Ok(StatusCode::NO_CONTENT)
}
