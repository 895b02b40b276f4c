//! `/v2.0/networks`: networks with their provider segment.
//!
//! A project's network takes the first tenant network type that has a
//! free id in its configured ranges; an admin may give `provider:*`
//! instead, checked as ML2's type drivers check them. The segment is
//! taken in the store's transaction (unique per type, physical network
//! and id), and the MTU is the underlay's minus the encapsulation.
//! Quota is reserved under the network's id before the row is written
//! and released if the write fails or when the network is deleted.

use crate::attrs::{self, body_object, boolean, check_write, short_text, strings};
use crate::config::Ml2Config;
use crate::error::{Json, NetworkError, NetworkResult};
use crate::query::{
    boolean as b, int, list as l, text as t, Collection, Fields, ListQuery, QueryPairs,
};
use crate::NetworkState;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Extension;
use ferrostack_policy::AuthContext;
use ferrostack_quota::NETWORK;
use ferrostack_store::network::{Network, SegmentRequest};
use ferrostack_store::router::ROUTER_GATEWAY_OWNER;
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The networks collection for [`ListQuery`].
pub const COLLECTION: Collection = Collection {
    name: "networks",
    singular_title: "Network",
    attributes: &[
        t("id"),
        t("name"),
        t("description"),
        t("project_id"),
        t("tenant_id"),
        t("status"),
        b("admin_state_up"),
        b("shared"),
        b("router:external"),
        b("port_security_enabled"),
        int("mtu"),
        int("revision_number"),
        t("provider:network_type"),
        t("provider:physical_network"),
        int("provider:segmentation_id"),
        l("subnets"),
        l("availability_zone_hints"),
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
    "shared",
    "router:external",
    "port_security_enabled",
    "mtu",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "availability_zone_hints",
    "tags",
];

const UPDATE: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "shared",
    "router:external",
    "port_security_enabled",
    "mtu",
];

/// Neutron's view of a network; `provider:*` only for admins.
pub fn view(n: &Network, subnets: Vec<String>, admin: bool) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), json!(n.id));
    v.insert("name".into(), json!(n.name));
    v.insert("project_id".into(), json!(n.project_id));
    v.insert("tenant_id".into(), json!(n.project_id));
    v.insert("status".into(), json!(n.status));
    v.insert("admin_state_up".into(), json!(n.admin_state_up));
    v.insert("shared".into(), json!(n.shared));
    v.insert("router:external".into(), json!(n.external));
    v.insert("mtu".into(), json!(n.mtu));
    v.insert(
        "port_security_enabled".into(),
        json!(n.port_security_enabled),
    );
    v.insert("subnets".into(), json!(subnets));
    v.insert(
        "availability_zone_hints".into(),
        json!(n.availability_zone_hints),
    );
    v.insert("availability_zones".into(), json!([crate::zones::ZONE]));
    v.insert("ipv4_address_scope".into(), Value::Null);
    v.insert("ipv6_address_scope".into(), Value::Null);
    v.insert("l2_adjacency".into(), json!(true));
    if admin {
        v.insert("provider:network_type".into(), json!(n.network_type));
        v.insert(
            "provider:physical_network".into(),
            json!(n.physical_network),
        );
        v.insert("provider:segmentation_id".into(), json!(n.segmentation_id));
    }
    attrs::standard(
        &mut v,
        &n.description,
        &n.tags,
        n.created_at,
        n.updated_at,
        n.revision_number,
    );
    Value::Object(v)
}

/// May the caller see `n`? Its project's readers, admins, and everyone
/// for shared and external networks.
pub fn visible(caller: &AuthContext, n: &Network) -> bool {
    n.shared || n.external || attrs::can_read(caller, &n.project_id)
}

/// The network `id` if the caller may see it, else Neutron's 404.
pub fn load(state: &NetworkState, caller: &AuthContext, id: &str) -> NetworkResult<Network> {
    state
        .store
        .get_network(id)?
        .filter(|n| visible(caller, n))
        .ok_or_else(|| attrs::not_found("NetworkNotFound", "Network", id))
}

fn subnet_ids(state: &NetworkState) -> NetworkResult<BTreeMap<String, Vec<String>>> {
    let mut by_net: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in state.store.list_subnets()? {
        by_net.entry(s.network_id).or_default().push(s.id);
    }
    Ok(by_net)
}

/// The segment of a new network, from `provider:*` (admins) or the
/// tenant network types.
fn segment(
    ml2: &Ml2Config,
    caller: &AuthContext,
    map: &Map<String, Value>,
) -> NetworkResult<SegmentRequest> {
    let network_type = attrs::text(map, "provider:network_type")?;
    let physnet = attrs::text(map, "provider:physical_network")?;
    let seg_id = attrs::integer(map, "provider:segmentation_id")?;
    if network_type.is_none() && physnet.is_none() && seg_id.is_none() {
        for ty in &ml2.tenant_network_types {
            if ty == "local" {
                return Ok(SegmentRequest::None);
            }
            let ranges = ml2.tenant_ranges(ty);
            if !ranges.is_empty() {
                return Ok(SegmentRequest::FromRanges {
                    network_type: ty.clone(),
                    ranges,
                });
            }
        }
        return Err(NetworkError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "NoNetworkAvailable",
            "Unable to create the network. No tenant network is available for allocation.",
        ));
    }
    if !caller.is_admin() {
        let attr = if network_type.is_some() {
            "provider:network_type"
        } else if physnet.is_some() {
            "provider:physical_network"
        } else {
            "provider:segmentation_id"
        };
        return Err(NetworkError::policy(&format!(
            "rule:create_network and rule:create_network:{attr}"
        )));
    }
    let Some(ty) = network_type else {
        return Err(NetworkError::invalid_operation(
            "provider:network_type required",
        ));
    };
    if !ml2.has_type(&ty) {
        return Err(NetworkError::invalid_operation(format!(
            "network_type value '{ty}' not supported"
        )));
    }
    match ty.as_str() {
        "local" => {
            if physnet.is_some() || seg_id.is_some() {
                return Err(NetworkError::invalid_operation(
                    "provider:physical_network and provider:segmentation_id prohibited for local provider network",
                ));
            }
            Ok(SegmentRequest::None)
        }
        "flat" => {
            if seg_id.is_some() {
                return Err(NetworkError::invalid_operation(
                    "segmentation_id specified for flat provider network",
                ));
            }
            let Some(p) = physnet else {
                return Err(NetworkError::invalid_operation(
                    "physical_network required for flat provider network",
                ));
            };
            if !ml2.flat_allowed(&p) {
                return Err(NetworkError::invalid_operation(format!(
                    "physical_network '{p}' unknown for flat provider network"
                )));
            }
            Ok(SegmentRequest::Given {
                network_type: ty,
                physical_network: p,
                segmentation_id: 0,
            })
        }
        "vlan" => {
            let Some(p) = physnet else {
                return Err(NetworkError::invalid_operation(
                    "physical_network required for VLAN provider network",
                ));
            };
            if !ml2.vlan_ranges.contains_key(&p) {
                return Err(NetworkError::invalid_operation(format!(
                    "physical_network '{p}' unknown for VLAN provider network"
                )));
            }
            match seg_id {
                Some(id) if !(1..=crate::config::MAX_VLAN).contains(&id) => {
                    Err(NetworkError::invalid_operation(format!(
                        "segmentation_id out of range (1 through {})",
                        crate::config::MAX_VLAN
                    )))
                }
                Some(id) => Ok(SegmentRequest::Given {
                    network_type: ty,
                    physical_network: p,
                    segmentation_id: id,
                }),
                None => {
                    let ranges = ml2.vlan_ranges[&p]
                        .iter()
                        .map(|(a, b)| (p.clone(), *a, *b))
                        .collect();
                    Ok(SegmentRequest::FromRanges {
                        network_type: ty,
                        ranges,
                    })
                }
            }
        }
        _ => {
            if physnet.is_some() {
                return Err(NetworkError::invalid_operation(format!(
                    "provider:physical_network specified for {} network",
                    ty.to_uppercase()
                )));
            }
            let max = Ml2Config::max_segment(&ty).unwrap_or(i64::MAX);
            match seg_id {
                Some(id) if !(1..=max).contains(&id) => Err(NetworkError::invalid_operation(
                    format!("segmentation_id out of range (1 through {max})"),
                )),
                Some(id) => Ok(SegmentRequest::Given {
                    network_type: ty,
                    physical_network: String::new(),
                    segmentation_id: id,
                }),
                None => Ok(SegmentRequest::FromRanges {
                    ranges: ml2.tenant_ranges(&ty),
                    network_type: ty,
                }),
            }
        }
    }
}

impl NetworkState {
    /// Create a network as `caller` from Neutron's request attributes.
    pub fn create_network(
        &self,
        caller: &AuthContext,
        map: Map<String, Value>,
    ) -> NetworkResult<Network> {
        let project_id = attrs::owner_for_create(caller, &map)?;
        check_write(caller, &project_id, "rule:create_network")?;
        let shared = boolean(&map, "shared")?.unwrap_or(false);
        let external = boolean(&map, "router:external")?.unwrap_or(false);
        if shared && !caller.is_admin() {
            return Err(NetworkError::policy(
                "rule:create_network and rule:create_network:shared",
            ));
        }
        if external && !caller.is_admin() {
            return Err(NetworkError::policy(
                "rule:create_network and rule:create_network:router:external",
            ));
        }
        let segment = segment(&self.ml2, caller, &map)?;
        let network_type = match &segment {
            SegmentRequest::None => "local",
            SegmentRequest::Given { network_type, .. }
            | SegmentRequest::FromRanges { network_type, .. } => network_type.as_str(),
        };
        let max_mtu = self.ml2.mtu(network_type);
        let mtu = match attrs::integer(&map, "mtu")? {
            Some(m) if m < 68 || m > max_mtu => {
                return Err(NetworkError::invalid_operation(format!(
                    "Requested MTU is too big, maximum is {max_mtu}"
                )))
            }
            Some(m) => m,
            None => max_mtu,
        };
        let hints = strings(&map, "availability_zone_hints")?.unwrap_or_default();
        crate::zones::check_hints(&hints)?;
        let now = ferrostack_common::time::now_micros();
        let network = Network {
            id: ferrostack_common::ids::new_uuid(),
            project_id: project_id.clone(),
            name: short_text(&map, "name")?.unwrap_or_default(),
            description: short_text(&map, "description")?.unwrap_or_default(),
            admin_state_up: boolean(&map, "admin_state_up")?.unwrap_or(true),
            shared,
            external,
            mtu,
            port_security_enabled: boolean(&map, "port_security_enabled")?.unwrap_or(true),
            network_type: network_type.to_string(),
            physical_network: None,
            segmentation_id: None,
            availability_zone_hints: hints,
            status: "ACTIVE".into(),
            tags: crate::tags::dedup(strings(&map, "tags")?.unwrap_or_default())?,
            created_at: now,
            updated_at: now,
            revision_number: 1,
            contents_changed_at: now,
        };
        self.quotas.reserve(
            &NETWORK,
            &project_id,
            &network.id,
            &[("network".to_string(), 1)].into(),
        )?;
        match self.store.create_network(&network, &segment) {
            Ok(n) => Ok(n),
            Err(e) => {
                self.release(&network.id);
                Err(e.into())
            }
        }
    }

    /// Give back the quota `consumer` holds; a failure is logged (the
    /// usage is then too high until an operator resets it).
    pub(crate) fn release(&self, consumer: &str) {
        if let Err(e) = self.quotas.release(&NETWORK, consumer) {
            tracing::warn!(consumer, error = %e, "network quota not released");
        }
    }
}

/// `GET /v2.0/networks`.
pub async fn list(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let q = ListQuery::parse(&pairs, &COLLECTION)?;
    let mut subnets = subnet_ids(&state)?;
    let views = state
        .store
        .list_networks()?
        .into_iter()
        .filter(|n| visible(&caller, n))
        .map(|n| {
            let s = subnets.remove(&n.id).unwrap_or_default();
            view(&n, s, caller.is_admin())
        })
        .collect();
    Ok(axum::Json(q.render(
        views,
        &state.public_url,
        "/v2.0/networks",
    )?))
}

/// `GET /v2.0/networks/{id}`.
pub async fn show(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let n = load(&state, &caller, &id)?;
    let subnets = subnet_ids(&state)?.remove(&n.id).unwrap_or_default();
    let v = Fields::parse(&pairs).project(view(&n, subnets, caller.is_admin()));
    Ok(axum::Json(json!({ "network": v })))
}

/// `POST /v2.0/networks`.
pub async fn create(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Json(body): Json<Value>,
) -> NetworkResult<impl IntoResponse> {
    let map = body_object(body, "network", CREATE, false)?;
    let n = state.create_network(&caller, map)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"network": view(&n, vec![], caller.is_admin())})),
    ))
}

/// `PUT /v2.0/networks/{id}`.
pub async fn update(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> NetworkResult<axum::Json<Value>> {
    let map = body_object(body, "network", UPDATE, true)?;
    let current = load(&state, &caller, &id)?;
    check_write(&caller, &current.project_id, "rule:update_network")?;
    for admin_only in ["shared", "router:external"] {
        if map.contains_key(admin_only) && !caller.is_admin() {
            return Err(NetworkError::policy(&format!(
                "rule:update_network and rule:update_network:{admin_only}"
            )));
        }
    }
    let name = short_text(&map, "name")?;
    let description = short_text(&map, "description")?;
    let admin_state_up = boolean(&map, "admin_state_up")?;
    let shared = boolean(&map, "shared")?;
    let external = boolean(&map, "router:external")?;
    let port_security = boolean(&map, "port_security_enabled")?;
    let max_mtu = state.ml2.mtu(&current.network_type);
    let mtu = attrs::integer(&map, "mtu")?;
    if let Some(m) = mtu {
        if !(68..=max_mtu).contains(&m) {
            return Err(NetworkError::invalid_operation(format!(
                "Requested MTU is too big, maximum is {max_mtu}"
            )));
        }
    }
    if external == Some(false) && current.external {
        let gateways = (state.store.list_ports()?.into_iter())
            .any(|p| p.network_id == id && p.device_owner == ROUTER_GATEWAY_OWNER);
        if gateways {
            return Err(NetworkError::conflict(
                "ExternalNetworkInUse",
                format!("External network {id} cannot be updated to be made non-external, since it has existing gateway ports."),
            ));
        }
    }
    let now = ferrostack_common::time::now_micros();
    let n = state
        .store
        .update_network(&id, &mut |n| {
            if let Some(v) = &name {
                n.name = v.clone();
            }
            if let Some(v) = &description {
                n.description = v.clone();
            }
            if let Some(v) = admin_state_up {
                n.admin_state_up = v;
            }
            if let Some(v) = shared {
                n.shared = v;
            }
            if let Some(v) = external {
                n.external = v;
            }
            if let Some(v) = port_security {
                n.port_security_enabled = v;
            }
            if let Some(v) = mtu {
                n.mtu = v;
            }
            n.updated_at = now;
            Ok(())
        })?
        .ok_or_else(|| attrs::not_found("NetworkNotFound", "Network", &id))?;
    let subnets = subnet_ids(&state)?.remove(&n.id).unwrap_or_default();
    Ok(axum::Json(
        json!({"network": view(&n, subnets, caller.is_admin())}),
    ))
}

/// `DELETE /v2.0/networks/{id}`.
pub async fn delete(
    State(state): State<Arc<NetworkState>>,
    Extension(caller): Extension<AuthContext>,
    Path(id): Path<String>,
) -> NetworkResult<StatusCode> {
    let n = load(&state, &caller, &id)?;
    check_write(&caller, &n.project_id, "rule:delete_network")?;
    // What goes with the network (its subnets, DHCP ports) gives back
    // its quota too.
    let subnets: Vec<String> = state
        .store
        .list_subnets()?
        .into_iter()
        .filter(|s| s.network_id == id)
        .map(|s| s.id)
        .collect();
    if !state.store.delete_network(&id)? {
        return Err(attrs::not_found("NetworkNotFound", "Network", &id));
    }
    state.release(&id);
    for s in subnets {
        state.release(&s);
    }
    Ok(StatusCode::NO_CONTENT)
}
