//! `/v2.0/subnets`: address ranges of a network, validated as Neutron
//! validates them, and the network's DHCP port.
//!
//! A subnet with `enable_dhcp` gives the network's DHCP port (device
//! owner `network:dhcp`, bound to the configured DHCP host) an address on
//! it, creating the port with the first subnet; the data plane serves
//! DHCP from that address. The subnet and the port change in one store
//! transaction; turning `enable_dhcp` on or off later gives or takes that
//! address the same way. DHCP ports are the service's own and are not
//! charged to the project's port quota.

use crate::attrs::{self, body_object, boolean, check_write, short_text, strings};
use crate::error::{Json, NetworkError, NetworkResult};
use crate::ipam::{canonical_ip, default_pools, ip_text, parse_ip, Cidr};
use crate::query::{
    boolean as b, int, list as l, text as t, Collection, Fields, ListQuery, QueryPairs,
};
use crate::{networks, NetworkState};
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Extension;
use ferrostack_policy::AuthContext;
use ferrostack_quota::NETWORK;
use ferrostack_store::network::{HostRoute, Pool, Subnet};
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The subnets collection for [`ListQuery`].
pub const COLLECTION: Collection = Collection {
    name: "subnets",
    singular_title: "Subnet",
    attributes: &[
        t("id"),
        t("name"),
        t("description"),
        t("project_id"),
        t("tenant_id"),
        t("network_id"),
        int("ip_version"),
        t("cidr"),
        t("gateway_ip"),
        b("enable_dhcp"),
        t("ipv6_ra_mode"),
        t("ipv6_address_mode"),
        t("subnetpool_id"),
        l("dns_nameservers"),
        l("allocation_pools"),
        l("host_routes"),
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
    "network_id",
    "ip_version",
    "cidr",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "tags",
];

const UPDATE: &[&str] = &[
    "name",
    "description",
    "enable_dhcp",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
];

const V6_MODES: &[&str] = &["slaac", "dhcpv6-stateful", "dhcpv6-stateless"];

/// Neutron's view of a subnet.
pub fn view(s: &Subnet) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(s.id));
    v.insert("name".into(), json!(s.name));
    v.insert("project_id".into(), json!(s.project_id));
    v.insert("tenant_id".into(), json!(s.project_id));
    v.insert("network_id".into(), json!(s.network_id));
    v.insert("ip_version".into(), json!(s.ip_version));
    v.insert("cidr".into(), json!(s.cidr));
    v.insert("gateway_ip".into(), json!(s.gateway_ip));
    v.insert("allocation_pools".into(), json!(s.allocation_pools));
    v.insert("dns_nameservers".into(), json!(s.dns_nameservers));
    v.insert("host_routes".into(), json!(s.host_routes));
    v.insert("enable_dhcp".into(), json!(s.enable_dhcp));
    v.insert("ipv6_ra_mode".into(), json!(s.ipv6_ra_mode));
    v.insert("ipv6_address_mode".into(), json!(s.ipv6_address_mode));
    v.insert("subnetpool_id".into(), Value::Null);
    attrs::standard(
        &mut v,
        &s.description,
        &s.tags,
        s.created_at,
        s.updated_at,
        s.revision_number,
    );
    Value::Object(v)
}

/// The subnet `id` if the caller may see it (through its network).
pub fn load(state: &NetworkState, caller: &AuthContext, id: &str) -> NetworkResult<Subnet> {
    let missing = || attrs::not_found("SubnetNotFound", "Subnet", id);
    let s = state.store.get_subnet(id)?.ok_or_else(missing)?;
    if attrs::can_read(caller, &s.project_id) {
        return Ok(s);
    }
    match state.store.get_network(&s.network_id)? {
        Some(n) if networks::visible(caller, &n) => Ok(s),
        _ => Err(missing()),
    }
}

fn range_text(p: &Pool) -> String {
    format!("{}-{}", p.start, p.end)
}

/// Validate pools against the CIDR and gateway, as Neutron's IPAM does.
fn check_pools(cidr: &Cidr, pools: &[Pool], gateway: Option<u128>) -> NetworkResult<()> {
    let mut ranges: Vec<(u128, u128, &Pool)> = Vec::new();
    for p in pools {
        let (Some((start, v6a)), Some((end, v6b))) = (parse_ip(&p.start), parse_ip(&p.end)) else {
            return Err(NetworkError::new(
                StatusCode::BAD_REQUEST,
                "InvalidAllocationPool",
                format!("The allocation pool {} is not valid.", range_text(p)),
            ));
        };
        if v6a != cidr.v6 || v6b != cidr.v6 || start > end {
            return Err(NetworkError::new(
                StatusCode::BAD_REQUEST,
                "InvalidAllocationPool",
                format!("The allocation pool {} is not valid.", range_text(p)),
            ));
        }
        let (first, last) = cidr.usable_range();
        if start < first || end > last {
            return Err(NetworkError::new(
                StatusCode::BAD_REQUEST,
                "OutOfBoundsAllocationPool",
                format!(
                    "The allocation pool {} spans beyond the subnet cidr {}.",
                    range_text(p),
                    cidr.text()
                ),
            ));
        }
        for (s, e, other) in &ranges {
            if start <= *e && *s <= end {
                return Err(NetworkError::conflict(
                    "OverlappingAllocationPools",
                    format!(
                        "Found overlapping allocation pools: {} and {} for subnet {}.",
                        range_text(other),
                        range_text(p),
                        cidr.text()
                    ),
                ));
            }
        }
        if let Some(g) = gateway {
            if g >= start && g <= end {
                return Err(NetworkError::conflict(
                    "GatewayConflictWithAllocationPools",
                    format!(
                        "Gateway ip {} conflicts with allocation pool {}.",
                        ip_text(g, cidr.v6),
                        range_text(p)
                    ),
                ));
            }
        }
        ranges.push((start, end, p));
    }
    Ok(())
}

fn read_pools(map: &Map<String, Value>) -> NetworkResult<Option<Vec<Pool>>> {
    match map.get("allocation_pools") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let pools: Vec<Pool> = serde_json::from_value(v.clone()).map_err(|_| {
                NetworkError::invalid_input("allocation_pools", format!("'{v}' is not valid"))
            })?;
            Ok(Some(
                pools
                    .into_iter()
                    .map(|p| Pool {
                        start: canonical_ip(&p.start).unwrap_or(p.start),
                        end: canonical_ip(&p.end).unwrap_or(p.end),
                    })
                    .collect(),
            ))
        }
    }
}

fn read_gateway(
    map: &Map<String, Value>,
    cidr: &Cidr,
    default: Option<u128>,
) -> NetworkResult<Option<u128>> {
    match map.get("gateway_ip") {
        None => Ok(default),
        Some(Value::Null) => Ok(None),
        Some(Value::String(g)) => {
            let (value, v6) = parse_ip(g).ok_or_else(|| {
                NetworkError::invalid_input(
                    "gateway_ip",
                    format!("'{g}' is not a valid IP address"),
                )
            })?;
            if v6 != cidr.v6 || !cidr.usable(value) {
                return Err(NetworkError::invalid_operation(format!(
                    "Gateway IP {g} is not valid on subnet {}",
                    cidr.text()
                )));
            }
            Ok(Some(value))
        }
        Some(other) => Err(NetworkError::invalid_input(
            "gateway_ip",
            format!("'{other}' is not a valid IP address"),
        )),
    }
}

fn read_nameservers(map: &Map<String, Value>) -> NetworkResult<Option<Vec<String>>> {
    let Some(list) = strings(map, "dns_nameservers")? else {
        return Ok(None);
    };
    let mut out: Vec<String> = Vec::new();
    for s in list {
        let c = canonical_ip(&s).ok_or_else(|| {
            NetworkError::invalid_input(
                "dns_nameservers",
                format!("'{s}' is not a valid nameserver"),
            )
        })?;
        if out.contains(&c) {
            return Err(NetworkError::invalid_input(
                "dns_nameservers",
                format!("Duplicate nameserver '{s}'"),
            ));
        }
        out.push(c);
    }
    Ok(Some(out))
}

fn read_routes(map: &Map<String, Value>) -> NetworkResult<Option<Vec<HostRoute>>> {
    match map.get("host_routes") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let routes: Vec<HostRoute> = serde_json::from_value(v.clone()).map_err(|_| {
                NetworkError::invalid_input("host_routes", format!("'{v}' is not valid"))
            })?;
            for r in &routes {
                if Cidr::parse(&r.destination).is_none() || parse_ip(&r.nexthop).is_none() {
                    return Err(NetworkError::invalid_input(
                        "host_routes",
                        format!("Invalid data format for hostroute: '{r:?}'"),
                    ));
                }
            }
            Ok(Some(routes))
        }
    }
}

fn pools_from(cidr: &Cidr, ranges: Vec<(u128, u128)>) -> Vec<Pool> {
    ranges
        .into_iter()
        .map(|(a, b)| Pool {
            start: ip_text(a, cidr.v6),
            end: ip_text(b, cidr.v6),
        })
        .collect()
}

impl NetworkState {
    /// Create a subnet (and the network's DHCP address on it) as `caller`.
    pub fn create_subnet(
        &self,
        caller: &AuthContext,
        map: Map<String, Value>,
    ) -> NetworkResult<Subnet> {
        let network_id = attrs::required_text(&map, "network_id")?;
        let network = networks::load(self, caller, &network_id)?;
        let project_id = attrs::owner_for_create(caller, &map)?;
        check_write(caller, &project_id, "rule:create_subnet")?;
        if !caller.is_admin() && network.project_id != project_id {
            return Err(NetworkError::policy("rule:create_subnet"));
        }
        let ip_version =
            attrs::integer(&map, "ip_version")?.ok_or_else(|| attrs::required("ip_version"))?;
        if ip_version != 4 && ip_version != 6 {
            return Err(NetworkError::invalid_input(
                "ip_version",
                format!("{ip_version} is not in [4, 6]"),
            ));
        }
        let raw_cidr = attrs::text(&map, "cidr")?.ok_or_else(|| {
            NetworkError::bad_request("a cidr must be specified in the absence of a subnet pool")
        })?;
        let cidr = Cidr::parse(&raw_cidr).ok_or_else(|| {
            NetworkError::invalid_input("cidr", format!("'{raw_cidr}' is not a valid IP subnet"))
        })?;
        if cidr.v6 != (ip_version == 6) {
            return Err(NetworkError::invalid_operation(format!(
                "Cidr {raw_cidr} does not match ip_version {ip_version}"
            )));
        }
        if !cidr.v6 && cidr.prefix > 30 || cidr.v6 && cidr.prefix > 126 {
            return Err(NetworkError::invalid_input(
                "cidr",
                format!("'{raw_cidr}' is too small a subnet"),
            ));
        }
        let ra_mode = attrs::text(&map, "ipv6_ra_mode")?;
        let address_mode = attrs::text(&map, "ipv6_address_mode")?;
        for (attr, mode) in [
            ("ipv6_ra_mode", &ra_mode),
            ("ipv6_address_mode", &address_mode),
        ] {
            if let Some(m) = mode {
                if !V6_MODES.contains(&m.as_str()) {
                    return Err(NetworkError::invalid_input(
                        attr,
                        format!("'{m}' is not in {V6_MODES:?}"),
                    ));
                }
                if !cidr.v6 {
                    return Err(NetworkError::invalid_operation(
                        "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False or the subnet is IPv4",
                    ));
                }
            }
        }
        if let (Some(a), Some(b)) = (&ra_mode, &address_mode) {
            if a != b {
                return Err(NetworkError::invalid_operation(format!(
                    "ipv6_ra_mode set to '{a}' with ipv6_address_mode set to '{b}' is not valid. If both attributes are set, they must be the same value"
                )));
            }
        }
        if address_mode.as_deref() == Some("slaac") && cidr.prefix != 64 {
            return Err(NetworkError::invalid_operation(format!(
                "Invalid CIDR {} for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64",
                cidr.text()
            )));
        }
        for other in self.store.list_subnets()? {
            if other.network_id != network_id {
                continue;
            }
            if let Some(o) = Cidr::parse(&other.cidr) {
                if o.v6 == cidr.v6 && (o.contains(cidr.network) || cidr.contains(o.network)) {
                    return Err(NetworkError::invalid_operation(format!(
                        "Requested subnet with cidr: {} for network: {network_id} overlaps with another subnet",
                        cidr.text()
                    )));
                }
            }
        }
        let gateway = read_gateway(
            &map,
            &cidr,
            Some(cidr.usable_range().0 + u128::from(cidr.v6)),
        )?;
        let pools = match read_pools(&map)? {
            Some(p) => p,
            None => pools_from(&cidr, default_pools(&cidr, gateway)),
        };
        check_pools(&cidr, &pools, gateway)?;
        let enable_dhcp = boolean(&map, "enable_dhcp")?.unwrap_or(true);
        let now = ferrostack_common::time::now_micros();
        let subnet = Subnet {
            id: ferrostack_common::ids::new_uuid(),
            network_id,
            project_id: project_id.clone(),
            name: short_text(&map, "name")?.unwrap_or_default(),
            description: short_text(&map, "description")?.unwrap_or_default(),
            ip_version: if cidr.v6 { 6 } else { 4 },
            cidr: cidr.text(),
            gateway_ip: gateway.map(|g| ip_text(g, cidr.v6)),
            allocation_pools: pools,
            dns_nameservers: read_nameservers(&map)?.unwrap_or_default(),
            host_routes: read_routes(&map)?.unwrap_or_default(),
            enable_dhcp,
            ipv6_ra_mode: ra_mode,
            ipv6_address_mode: address_mode,
            tags: crate::tags::dedup(strings(&map, "tags")?.unwrap_or_default())?,
            created_at: now,
            updated_at: now,
            revision_number: 1,
        };
        let dhcp = enable_dhcp.then(|| self.dhcp_port_template(&network));
        self.quotas.reserve(
            &NETWORK,
            &project_id,
            &subnet.id,
            &[("subnet".to_string(), 1)].into(),
        )?;
        if let Err(e) = self.store.create_subnet(&subnet, dhcp.as_ref()) {
            self.release(&subnet.id);
            return Err(e.into());
        }
        Ok(subnet)
    }
}

/// `GET /v2.0/subnets`.
pub async fn list(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let q = ListQuery::parse(&pairs, &COLLECTION)?;
    let visible_nets: std::collections::HashSet<String> = state
        .store
        .list_networks()?
        .into_iter()
        .filter(|n| networks::visible(&caller, n))
        .map(|n| n.id)
        .collect();
    let views = state
        .store
        .list_subnets()?
        .iter()
        .filter(|s| attrs::can_read(&caller, &s.project_id) || visible_nets.contains(&s.network_id))
        .map(view)
        .collect();
    Ok(axum::Json(q.render(
        views,
        &state.public_url,
        "/v2.0/subnets",
    )?))
}

/// `GET /v2.0/subnets/{id}`.
pub async fn show(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let s = load(&state, &caller, &id)?;
    Ok(axum::Json(
        json!({"subnet": Fields::parse(&pairs).project(view(&s))}),
    ))
}

/// `POST /v2.0/subnets`.
pub async fn create(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Json(body): Json<Value>,
) -> NetworkResult<impl IntoResponse> {
    let map = body_object(body, "subnet", CREATE, false)?;
    let s = state.create_subnet(&caller, map)?;
    Ok((StatusCode::CREATED, axum::Json(json!({"subnet": view(&s)}))))
}

/// `PUT /v2.0/subnets/{id}`.
pub async fn update(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> NetworkResult<axum::Json<Value>> {
    let map = body_object(body, "subnet", UPDATE, true)?;
    let current = load(&state, &caller, &id)?;
    check_write(&caller, &current.project_id, "rule:update_subnet")?;
    let cidr = Cidr::parse(&current.cidr).ok_or_else(|| {
        NetworkError::internal(format!("stored CIDR {} unreadable", current.cidr))
    })?;
    let old_gateway = current
        .gateway_ip
        .as_deref()
        .and_then(parse_ip)
        .map(|g| g.0);
    let gateway = read_gateway(&map, &cidr, old_gateway)?;
    let pools = read_pools(&map)?.unwrap_or(current.allocation_pools.clone());
    check_pools(&cidr, &pools, gateway)?;
    let name = short_text(&map, "name")?;
    let description = short_text(&map, "description")?;
    let nameservers = read_nameservers(&map)?;
    let routes = read_routes(&map)?;
    let enable_dhcp = boolean(&map, "enable_dhcp")?;
    let dhcp = match enable_dhcp {
        Some(true) if !current.enable_dhcp => {
            let network = state
                .store
                .get_network(&current.network_id)?
                .ok_or_else(|| {
                    attrs::not_found("NetworkNotFound", "Network", &current.network_id)
                })?;
            Some(state.dhcp_port_template(&network))
        }
        _ => None,
    };
    let now = ferrostack_common::time::now_micros();
    let s = state
        .store
        .update_subnet(
            &id,
            &mut |s| {
                if let Some(v) = enable_dhcp {
                    s.enable_dhcp = v;
                }
                if let Some(v) = &name {
                    s.name = v.clone();
                }
                if let Some(v) = &description {
                    s.description = v.clone();
                }
                if let Some(v) = &nameservers {
                    s.dns_nameservers = v.clone();
                }
                if let Some(v) = &routes {
                    s.host_routes = v.clone();
                }
                s.gateway_ip = gateway.map(|g| ip_text(g, cidr.v6));
                s.allocation_pools = pools.clone();
                s.updated_at = now;
                Ok(())
            },
            dhcp.as_ref(),
        )?
        .ok_or_else(|| attrs::not_found("SubnetNotFound", "Subnet", &id))?;
    Ok(axum::Json(json!({"subnet": view(&s)})))
}

/// `DELETE /v2.0/subnets/{id}`.
pub async fn delete(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
) -> NetworkResult<StatusCode> {
    let s = load(&state, &caller, &id)?;
    check_write(&caller, &s.project_id, "rule:delete_subnet")?;
    if !state.store.delete_subnet(&id)? {
        return Err(attrs::not_found("SubnetNotFound", "Subnet", &id));
    }
    state.release(&id);
    Ok(StatusCode::NO_CONTENT)
}
