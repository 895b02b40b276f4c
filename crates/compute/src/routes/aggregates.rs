//! `/v2.1/os-aggregates`: host aggregates, and the availability zones
//! they make (admins only, as Nova's default policy).
//!
//! An aggregate is a named set of compute hosts with metadata. The
//! metadata key `availability_zone` puts its hosts in that zone: a host's
//! zone is its zoned aggregate's, else the zone its service registered
//! (`nova` by default), as Nova's `get_host_availability_zone` reads it.
//! [`zoned_services`] is the one place that applies this, and everything
//! that shows or filters on a host's zone reads services through it:
//! `os-availability-zone`, `os-services`, the scheduler's
//! AvailabilityZoneFilter and the zone check of a server create.
//!
//! Nova's rules, each checked inside the store's transaction against the
//! other aggregates as written: names are unique (409); a host cannot be
//! in two zones, so adding a host to a zoned aggregate when it is in an
//! aggregate of another zone is 409, and giving an aggregate a zone that
//! one of its hosts already has otherwise is 400; a host holding servers
//! cannot change zone that way either (their `OS-EXT-AZ` would lie); an
//! aggregate with hosts cannot be deleted (400); hosts must be compute
//! hosts this cloud knows (404).
//!
//! Not served: `POST /os-aggregates/{id}/images` (image pre-caching, 2.81).

use super::services::COMPUTE_BINARY;
use super::Caller;
use crate::error::{ComputeError, ComputeResult, Json};
use crate::microversion::Version;
use crate::servers::lifecycle::{from_store, to_store};
use crate::ComputeState;
use axum::extract::{Path, State};
use ferrostack_common::time::{nova_time, now_micros};
use ferrostack_compute_types::aggregate::{self, AggregateAction, AggregateFields};
use ferrostack_compute_types::ApiVersion;
use ferrostack_store::aggregate::{Aggregate, ZONE_KEY};
use ferrostack_store::server::{ComputeService, InstanceFilter};
use ferrostack_store::StoreError;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every service, a compute host's `zone` replaced by its zoned
/// aggregate's zone when it is in one.
pub fn zoned_services(state: &ComputeState) -> ComputeResult<Vec<ComputeService>> {
    let zones = host_zones(&state.aggregates.list_aggregates()?);
    let mut services = state.servers.list_services()?;
    for s in services.iter_mut().filter(|s| s.binary == COMPUTE_BINARY) {
        if let Some(z) = zones.get(&s.host) {
            s.zone = z.clone();
        }
    }
    Ok(services)
}

/// host → zone, from the zoned aggregates.
fn host_zones(aggregates: &[Aggregate]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for a in aggregates {
        if let Some(z) = a.zone() {
            for h in &a.hosts {
                out.insert(h.clone(), z.to_string());
            }
        }
    }
    out
}

fn view(v: ApiVersion, a: &Aggregate, full: bool) -> Value {
    let mut m = json!({
        "id": a.id,
        "name": a.name,
        "availability_zone": a.zone(),
        "created_at": nova_time(a.created_at),
        "updated_at": (a.updated_at != 0).then(|| nova_time(a.updated_at)),
        "deleted_at": null,
        "deleted": false,
    });
    if full {
        m["hosts"] = json!(a.hosts);
        m["metadata"] = json!(a.metadata);
    }
    if v.at_least(41) {
        m["uuid"] = json!(a.uuid);
    }
    m
}

fn not_found(id: &str) -> ComputeError {
    ComputeError::NotFound(format!("Aggregate {id} could not be found."))
}

/// The aggregate a path names: Nova's ids are integers; anything else
/// names no aggregate.
fn parse_id(raw: &str) -> ComputeResult<i64> {
    raw.parse().map_err(|_| not_found(raw))
}

fn store_error(id: &str, e: StoreError) -> ComputeError {
    match e {
        StoreError::NotFound { .. } => not_found(id),
        other => from_store(other),
    }
}

/// Hosts (other than those of `a` itself) in a zone other than `zone`.
fn zone_clash(zone: &str, hosts: &[String], others: &[Aggregate]) -> Vec<String> {
    let mut clash: Vec<String> = others
        .iter()
        .filter_map(|o| o.zone().filter(|z| *z != zone).map(|z| (o, z)))
        .filter(|(o, _)| o.hosts.iter().any(|h| hosts.contains(h)))
        .map(|(_, z)| z.to_string())
        .collect();
    clash.dedup();
    clash
}

/// Refuses changing the zone of `hosts` while any holds a server.
fn hosts_without_servers(state: &ComputeState, id: i64, hosts: &[String]) -> ComputeResult<()> {
    for h in hosts {
        let held = state.servers.list_instances(&InstanceFilter {
            host: Some(h.clone()),
            ..Default::default()
        })?;
        if !held.is_empty() {
            return Err(ComputeError::BadRequest(format!(
                "Cannot update aggregate {id}. Reason: One or more hosts contain instances in this zone."
            )));
        }
    }
    Ok(())
}

/// Applies a zone change to `a` (checked against the others).
fn set_zone(
    state: &ComputeState,
    a: &mut Aggregate,
    zone: Option<String>,
    others: &[Aggregate],
) -> ComputeResult<()> {
    if a.zone() == zone.as_deref() {
        return Ok(());
    }
    if let Some(z) = &zone {
        let clash = zone_clash(z, &a.hosts, others);
        if !clash.is_empty() {
            return Err(ComputeError::BadRequest(format!(
                "Cannot update aggregate {}. Reason: One or more hosts already in availability zone(s) {clash:?}.",
                a.id
            )));
        }
    }
    hosts_without_servers(state, a.id, &a.hosts)?;
    match zone {
        Some(z) => a.metadata.insert(ZONE_KEY.into(), z),
        None => a.metadata.remove(ZONE_KEY),
    };
    Ok(())
}

/// `GET /v2.1/os-aggregates`.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
) -> ComputeResult<axum::Json<Value>> {
    let all: Vec<Value> = state
        .aggregates
        .list_aggregates()?
        .iter()
        .map(|a| view(v, a, true))
        .collect();
    Ok(axum::Json(json!({ "aggregates": all })))
}

/// `POST /v2.1/os-aggregates`: the view without hosts and metadata, as
/// Nova answers a create.
pub async fn create(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    Json(body): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    let AggregateFields {
        name,
        availability_zone,
    } = aggregate::create(&body)?;
    let mut metadata = BTreeMap::new();
    if let Some(Some(z)) = availability_zone {
        metadata.insert(ZONE_KEY.to_string(), z);
    }
    let a = state
        .aggregates
        .create_aggregate(Aggregate {
            id: 0,
            uuid: uuid::Uuid::new_v4().to_string(),
            name: name.unwrap_or_default(),
            hosts: vec![],
            metadata,
            created_at: now_micros(),
            updated_at: 0,
        })
        .map_err(from_store)?;
    Ok(axum::Json(json!({ "aggregate": view(v, &a, false) })))
}

/// `GET /v2.1/os-aggregates/{aggregate_id}`.
pub async fn show(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    Path(raw): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    let a = state
        .aggregates
        .get_aggregate(parse_id(&raw)?)?
        .ok_or_else(|| not_found(&raw))?;
    Ok(axum::Json(json!({ "aggregate": view(v, &a, true) })))
}

/// `PUT /v2.1/os-aggregates/{aggregate_id}`: name and zone.
pub async fn update(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    Path(raw): Path<String>,
    Json(body): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    let fields = aggregate::update(&body)?;
    let a = change(&state, &raw, |mut a, others| {
        if let Some(n) = &fields.name {
            a.name = n.clone();
        }
        if let Some(z) = &fields.availability_zone {
            set_zone(&state, &mut a, z.clone(), others)?;
        }
        Ok(Some(a))
    })?;
    Ok(axum::Json(json!({ "aggregate": view(v, &a, true) })))
}

/// `DELETE /v2.1/os-aggregates/{aggregate_id}`: only an empty aggregate.
pub async fn delete(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Path(raw): Path<String>,
) -> ComputeResult<()> {
    let id = parse_id(&raw)?;
    state
        .aggregates
        .change_aggregate(id, &mut |a, _| {
            if a.hosts.is_empty() {
                Ok(None)
            } else {
                Err(to_store(ComputeError::BadRequest(format!(
                    "Cannot remove aggregate {id}. Reason: Host aggregate is not empty."
                ))))
            }
        })
        .map_err(|e| store_error(&raw, e))?;
    Ok(())
}

/// One change of aggregate `raw` with its `updated_at` stamped; `f`'s
/// errors write nothing.
fn change(
    state: &ComputeState,
    raw: &str,
    mut f: impl FnMut(Aggregate, &[Aggregate]) -> ComputeResult<Option<Aggregate>>,
) -> ComputeResult<Aggregate> {
    let id = parse_id(raw)?;
    let now = now_micros();
    state
        .aggregates
        .change_aggregate(id, &mut |a, others| {
            let before = a.clone();
            match f(a, others).map_err(to_store)? {
                Some(mut after) if after != before => {
                    after.updated_at = now;
                    Ok(Some(after))
                }
                kept => Ok(kept),
            }
        })
        .map_err(|e| store_error(raw, e))?
        .ok_or_else(|| not_found(raw))
}

/// `POST /v2.1/os-aggregates/{aggregate_id}/action`.
pub async fn action(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    Path(raw): Path<String>,
    Json(body): Json<Value>,
) -> ComputeResult<axum::Json<Value>> {
    let action = aggregate::action(&body)?;
    let id = parse_id(&raw)?;
    if let AggregateAction::AddHost(h) | AggregateAction::RemoveHost(h) = &action {
        let known = state
            .servers
            .list_services()?
            .iter()
            .any(|s| s.binary == COMPUTE_BINARY && &s.host == h);
        if !known {
            // Nova looks the aggregate up first.
            state
                .aggregates
                .get_aggregate(id)?
                .ok_or_else(|| not_found(&raw))?;
            return Err(ComputeError::NotFound(format!(
                "Compute host {h} could not be found."
            )));
        }
    }
    let a = change(&state, &raw, |mut a, others| {
        match &action {
            AggregateAction::AddHost(h) => {
                if a.hosts.contains(h) {
                    return Err(ComputeError::Conflict(format!(
                        "Aggregate {id} already has host {h}."
                    )));
                }
                if let Some(z) = a.zone() {
                    let clash = zone_clash(z, std::slice::from_ref(h), others);
                    if !clash.is_empty() {
                        return Err(ComputeError::Conflict(format!(
                            "Cannot add host to aggregate {id}. Reason: One or more hosts already in availability zone(s) {clash:?}."
                        )));
                    }
                    hosts_without_servers_moving(&state, id, h, z, others)?;
                }
                a.hosts.push(h.clone());
            }
            AggregateAction::RemoveHost(h) => {
                if !a.hosts.contains(h) {
                    return Err(ComputeError::NotFound(format!(
                        "Aggregate {id} has no host {h}."
                    )));
                }
                if a.zone().is_some() {
                    hosts_without_servers(&state, id, std::slice::from_ref(h))?;
                }
                a.hosts.retain(|x| x != h);
            }
            AggregateAction::SetMetadata(md) => {
                for (k, value) in md {
                    if k == ZONE_KEY {
                        set_zone(&state, &mut a, value.clone(), others)?;
                        continue;
                    }
                    match value {
                        Some(val) => a.metadata.insert(k.clone(), val.clone()),
                        None => a.metadata.remove(k),
                    };
                }
            }
        }
        Ok(Some(a))
    })?;
    Ok(axum::Json(json!({ "aggregate": view(v, &a, true) })))
}

/// A host joining a zoned aggregate changes zone unless another of its
/// aggregates already gives it this zone; with servers on it, refused.
fn hosts_without_servers_moving(
    state: &ComputeState,
    id: i64,
    host: &str,
    zone: &str,
    others: &[Aggregate],
) -> ComputeResult<()> {
    let already = others
        .iter()
        .any(|o| o.zone() == Some(zone) && o.hosts.iter().any(|x| x == host));
    if already {
        return Ok(());
    }
    hosts_without_servers(state, id, &[host.to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg(id: i64, zone: Option<&str>, hosts: &[&str]) -> Aggregate {
        Aggregate {
            id,
            uuid: String::new(),
            name: format!("a{id}"),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            metadata: zone
                .map(|z| [(ZONE_KEY.to_string(), z.to_string())].into())
                .unwrap_or_default(),
            created_at: 1,
            updated_at: 0,
        }
    }

    #[test]
    fn a_zoned_aggregate_gives_its_hosts_its_zone() {
        let zones = host_zones(&[agg(1, Some("z1"), &["h1"]), agg(2, None, &["h2"])]);
        assert_eq!(zones.get("h1").map(String::as_str), Some("z1"));
        assert_eq!(zones.get("h2"), None);
    }

    #[test]
    fn a_host_in_another_zone_clashes() {
        let others = [agg(1, Some("z1"), &["h1"]), agg(2, None, &["h2"])];
        assert_eq!(zone_clash("z2", &["h1".into()], &others), vec!["z1"]);
        assert!(zone_clash("z1", &["h1".into()], &others).is_empty());
        assert!(zone_clash("z2", &["h2".into()], &others).is_empty());
    }
}
