//! `/v2.1/os-networks` and `/v2.1/os-tenant-networks` (to 2.35; 404 from
//! 2.36): Nova's read-only views of the networks the caller can see in
//! the network service. As Nova with Neutron, only `id` and `label` (the
//! network's name) carry a value; the nova-network fields are null, and
//! `os-tenant-networks` shows `cidr` as the string `"None"`, as Nova has
//! always answered. The nova-network-only actions (create, delete,
//! associate) answer 410 Gone, as Nova does since they were removed.

use super::security_groups::service;
use super::Caller;
use crate::error::{ComputeError, ComputeResult};
use crate::microversion::Version;
use crate::network_proxy::ProxyNetwork;
use crate::ComputeState;
use axum::extract::{Path, State};
use http::StatusCode;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Fields every caller sees in `os-networks`.
const FIELDS: &[&str] = &[
    "id",
    "cidr",
    "netmask",
    "gateway",
    "broadcast",
    "dns1",
    "dns2",
    "cidr_v6",
    "gateway_v6",
    "label",
    "netmask_v6",
];

/// Fields only admins see.
const ADMIN_FIELDS: &[&str] = &[
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
    "injected",
    "bridge",
    "vlan",
    "vpn_public_address",
    "vpn_public_port",
    "vpn_private_address",
    "dhcp_start",
    "project_id",
    "host",
    "bridge_interface",
    "multi_host",
    "priority",
    "rxtx_base",
    "mtu",
    "dhcp_server",
    "enable_dhcp",
    "share_address",
];

/// One `os-networks` network.
fn network_view(n: &ProxyNetwork, admin: bool) -> Value {
    let extra = if admin { ADMIN_FIELDS } else { &[] };
    let mut out = Map::new();
    for field in FIELDS.iter().chain(extra) {
        let value = match *field {
            "id" => json!(n.id),
            "label" => json!(n.name),
            _ => Value::Null,
        };
        out.insert(field.to_string(), value);
    }
    Value::Object(out)
}

/// One `os-tenant-networks` network.
fn tenant_view(n: &ProxyNetwork) -> Value {
    json!({"id": n.id, "cidr": "None", "label": n.name})
}

fn network_not_found() -> ComputeError {
    ComputeError::NotFound("Network not found".into())
}

fn find(
    state: &ComputeState,
    caller: &ferrostack_policy::AuthContext,
    id: &str,
) -> ComputeResult<ProxyNetwork> {
    let networks = service(state)?.proxy_networks(caller)?;
    networks
        .into_iter()
        .find(|n| n.id == id)
        .ok_or_else(network_not_found)
}

/// `GET /os-networks`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let admin = caller.is_admin();
    let networks = service(&state)?.proxy_networks(&caller)?;
    let views: Vec<Value> = networks.iter().map(|n| network_view(n, admin)).collect();
    Ok(axum::Json(json!({ "networks": views })))
}

/// `GET /os-networks/{id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let n = find(&state, &caller, &id)?;
    Ok(axum::Json(
        json!({ "network": network_view(&n, caller.is_admin()) }),
    ))
}

/// `GET /os-tenant-networks`.
pub async fn tenant_list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let networks = service(&state)?.proxy_networks(&caller)?;
    let views: Vec<Value> = networks.iter().map(tenant_view).collect();
    Ok(axum::Json(json!({ "networks": views })))
}

/// `GET /os-tenant-networks/{id}`.
pub async fn tenant_show(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    super::removed_at(v, 36)?;
    let n = find(&state, &caller, &id)?;
    Ok(axum::Json(json!({ "network": tenant_view(&n) })))
}

/// The nova-network-only actions: 410 Gone (404 from 2.36).
pub async fn removed(Version(v): Version) -> ComputeError {
    if let Err(e) = super::removed_at(v, 36) {
        return e;
    }
    ComputeError::Status(StatusCode::GONE, "Gone".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_show_id_and_label_only() {
        let n = ProxyNetwork {
            id: "n1".into(),
            name: "private".into(),
        };
        let user = network_view(&n, false);
        assert_eq!(user["id"], "n1");
        assert_eq!(user["label"], "private");
        assert!(user["cidr"].is_null());
        assert!(user.get("bridge").is_none());
        let admin = network_view(&n, true);
        assert!(admin.get("bridge").is_some_and(Value::is_null));
        assert_eq!(
            tenant_view(&n),
            json!({"id": "n1", "cidr": "None", "label": "private"})
        );
    }
}
