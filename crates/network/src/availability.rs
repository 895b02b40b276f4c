//! `/v2.0/network-ip-availabilities`: per network and subnet, how many
//! addresses the pools hold and how many are allocated (admins only, as
//! Neutron's default policy has it).

use crate::error::NetworkResult;
use crate::ipam::parse_ip;
use crate::query::{int, text as t, Collection, Fields, ListQuery, QueryPairs};
use crate::{attrs, NetworkState};
use axum::extract::{Path, State};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The collection for [`ListQuery`].
pub const COLLECTION: Collection = Collection {
    name: "network_ip_availabilities",
    singular_title: "Network",
    attributes: &[
        t("network_id"),
        t("network_name"),
        t("project_id"),
        t("tenant_id"),
        int("ip_version"),
        int("total_ips"),
        int("used_ips"),
    ],
};

fn views(state: &NetworkState) -> NetworkResult<Vec<Value>> {
    let mut used: HashMap<String, u64> = HashMap::new();
    for p in state.store.list_ports()? {
        for ip in p.fixed_ips {
            *used.entry(ip.subnet_id).or_default() += 1;
        }
    }
    let subnets = state.store.list_subnets()?;
    let mut out = Vec::new();
    for n in state.store.list_networks()? {
        let mut total_all: u128 = 0;
        let mut used_all: u64 = 0;
        let mut per_subnet = Vec::new();
        for s in subnets.iter().filter(|s| s.network_id == n.id) {
            let total: u128 = s
                .allocation_pools
                .iter()
                .filter_map(|p| Some(parse_ip(&p.end)?.0 - parse_ip(&p.start)?.0 + 1))
                .sum();
            let u = used.get(&s.id).copied().unwrap_or(0);
            total_all += total;
            used_all += u;
            per_subnet.push(json!({
                "subnet_id": s.id, "subnet_name": s.name, "cidr": s.cidr,
                "ip_version": s.ip_version,
                "total_ips": u64::try_from(total).unwrap_or(u64::MAX),
                "used_ips": u,
            }));
        }
        out.push(json!({
            "network_id": n.id, "network_name": n.name,
            "project_id": n.project_id, "tenant_id": n.project_id,
            "total_ips": u64::try_from(total_all).unwrap_or(u64::MAX),
            "used_ips": used_all,
            "subnet_ip_availability": per_subnet,
            // The list's marker and default order use `id`.
            "id": n.id,
        }));
    }
    Ok(out)
}

fn strip_id(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("id");
    }
    v
}

/// `GET /v2.0/network-ip-availabilities`.
pub async fn list(
    State(state): State<Arc<NetworkState>>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let q = ListQuery::parse(&pairs, &COLLECTION)?;
    let mut body = q.render(
        views(&state)?,
        &state.public_url,
        "/v2.0/network-ip-availabilities",
    )?;
    if let Some(Value::Array(items)) = body.get_mut(COLLECTION.name) {
        for i in items.iter_mut() {
            *i = strip_id(i.take());
        }
    }
    Ok(axum::Json(body))
}

/// `GET /v2.0/network-ip-availabilities/{network_id}`.
pub async fn show(
    State(state): State<Arc<NetworkState>>,
    Path(id): Path<String>,
    pairs: QueryPairs,
) -> NetworkResult<axum::Json<Value>> {
    let v = views(&state)?
        .into_iter()
        .find(|v| v["network_id"] == id.as_str())
        .ok_or_else(|| attrs::not_found("NetworkNotFound", "Network", &id))?;
    Ok(axum::Json(
        json!({"network_ip_availability": Fields::parse(&pairs).project(strip_id(v))}),
    ))
}
