//! SQLite implementation of [`NetworkStore`]: rows keep the constrained
//! columns and a JSON body (see [`crate::network`]); every method that
//! writes runs in one `BEGIN IMMEDIATE` transaction, so address and
//! segment choices cannot race.

use super::security_group::touch_membership;
use super::server::record_plan_write;
use super::SqliteStore;
use crate::host_plan::PlanWrite;
use crate::network::{
    FixedIp, IpRequest, Network, NetworkConflict, NetworkStore, Port, PortChange, Refusal,
    SegmentRequest, Subnet, DHCP_OWNER,
};
use crate::sql::{params, Conn, OptionalExtension};
use crate::{StoreError, StoreResult};
use serde::de::DeserializeOwned;
use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;

pub(super) fn get_body<T: DeserializeOwned>(
    conn: &Conn,
    table: &str,
    id: &str,
) -> StoreResult<Option<T>> {
    let body: Option<String> = conn
        .query_row(
            &format!("SELECT body FROM {table} WHERE id = ?1"),
            [id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match body {
        Some(b) => Some(serde_json::from_str(&b)?),
        None => None,
    })
}

pub(super) fn list_bodies<T: DeserializeOwned>(conn: &Conn, table: &str) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare(&format!("SELECT body FROM {table} ORDER BY id"))?;
    let bodies = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).map_err(StoreError::from))
        .collect()
}

fn ip_value(text: &str) -> Option<u128> {
    match text.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some(u128::from(u32::from(a))),
        IpAddr::V6(a) => Some(u128::from(a)),
    }
}

fn ip_text(value: u128, v6: bool) -> String {
    if v6 {
        std::net::Ipv6Addr::from(value).to_string()
    } else {
        std::net::Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX)).to_string()
    }
}

/// How many addresses after the subnet's hint IPAM tries before it reads
/// every allocation of the subnet.
const HINT_PROBES: u32 = 8;

/// Take `request`'s address for `port_id`: the given one, or a free
/// address of the subnet's pools: the one after the address given last
/// when it is free (a few index lookups), else the first free one from
/// the pools' start (a read of the subnet's allocations; it finds the
/// holes deletes left, and says when the pools are full).
pub(super) fn allocate(tx: &Conn, port: &Port, request: &IpRequest) -> StoreResult<FixedIp> {
    let address = match &request.ip_address {
        Some(a) => a.clone(),
        None => {
            let subnet: Subnet = get_body(tx, "subnets", &request.subnet_id)?
                .ok_or_else(|| StoreError::not_found("subnet", &request.subnet_id))?;
            let v6 = subnet.ip_version == 6;
            let pools: Vec<(u128, u128)> = subnet
                .allocation_pools
                .iter()
                .filter_map(|p| Some((ip_value(&p.start)?, ip_value(&p.end)?)))
                .collect();
            let found = match after_hint(tx, &subnet.id, &pools, v6)? {
                Some(a) => Some(a),
                None => first_free(tx, &subnet.id, &pools)?,
            };
            let found = found.ok_or_else(|| NetworkConflict::IpAddressGenerationFailure {
                network_id: port.network_id.clone(),
            })?;
            tx.execute(
                "INSERT INTO ipam_next (subnet_id, next_value) VALUES (?1, ?2)
                 ON CONFLICT (subnet_id) DO UPDATE SET next_value = excluded.next_value",
                params![subnet.id, ip_text(found.saturating_add(1), v6)],
            )?;
            ip_text(found, v6)
        }
    };
    match tx.execute(
        "INSERT INTO ip_allocations (subnet_id, ip_address, port_id) VALUES (?1, ?2, ?3)",
        params![request.subnet_id, address, port.id],
    ) {
        Ok(_) => Ok(FixedIp {
            subnet_id: request.subnet_id.clone(),
            ip_address: address,
        }),
        Err(e) if e.is_unique_violation() => Err(NetworkConflict::IpAddressAlreadyAllocated {
            ip_address: address,
            subnet_id: request.subnet_id.clone(),
        }
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// A free address at or shortly after the subnet's hint, inside a pool.
fn after_hint(
    tx: &Conn,
    subnet_id: &str,
    pools: &[(u128, u128)],
    v6: bool,
) -> StoreResult<Option<u128>> {
    let hint: Option<String> = tx
        .query_row(
            "SELECT next_value FROM ipam_next WHERE subnet_id = ?1",
            [subnet_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(mut a) = hint.as_deref().and_then(ip_value) else {
        return Ok(None);
    };
    let mut taken = tx.prepare_cached(
        "SELECT COUNT(*) FROM ip_allocations WHERE subnet_id = ?1 AND ip_address = ?2",
    )?;
    for _ in 0..HINT_PROBES {
        if !pools.iter().any(|(start, end)| *start <= a && a <= *end) {
            return Ok(None);
        }
        let n: i64 = taken.query_row(params![subnet_id, ip_text(a, v6)], |r| r.get(0))?;
        if n == 0 {
            return Ok(Some(a));
        }
        a = a.saturating_add(1);
    }
    Ok(None)
}

/// The first free address of the pools, in order.
fn first_free(tx: &Conn, subnet_id: &str, pools: &[(u128, u128)]) -> StoreResult<Option<u128>> {
    let used: HashSet<u128> = {
        let mut stmt = tx.prepare("SELECT ip_address FROM ip_allocations WHERE subnet_id = ?1")?;
        let rows = stmt
            .query_map([subnet_id], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.iter().filter_map(|a| ip_value(a)).collect()
    };
    for (start, end) in pools {
        let mut a = *start;
        while a <= *end {
            if !used.contains(&a) {
                return Ok(Some(a));
            }
            a += 1;
        }
    }
    Ok(None)
}

pub(super) fn write_port(tx: &Conn, port: &Port, insert: bool) -> StoreResult<()> {
    let body = serde_json::to_string(port)?;
    // Asked before the write, not after a failed one: on PostgreSQL a
    // failed statement ends the transaction (the serializable transaction
    // also makes a racing insert of the same MAC fail and be retried, and
    // the retry sees it here).
    let taken: i64 = tx.query_row(
        "SELECT COUNT(*) FROM ports WHERE network_id = ?1 AND mac_address = ?2 AND id <> ?3",
        params![port.network_id, port.mac_address, port.id],
        |r| r.get(0),
    )?;
    if taken > 0 {
        return Err(NetworkConflict::MacAddressInUse {
            network_id: port.network_id.clone(),
            mac: port.mac_address.clone(),
        }
        .into());
    }
    let result = if insert {
        tx.execute(
            "INSERT INTO ports (id, network_id, mac_address, device_owner, project_id, host_id, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                port.id,
                port.network_id,
                port.mac_address,
                port.device_owner,
                port.project_id,
                port.host_id,
                body
            ],
        )
    } else {
        tx.execute(
            "UPDATE ports SET mac_address = ?2, device_owner = ?3, project_id = ?4, host_id = ?5,
               body = ?6 WHERE id = ?1",
            params![
                port.id,
                port.mac_address,
                port.device_owner,
                port.project_id,
                port.host_id,
                body
            ],
        )
    };
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.is_unique_violation() => {
            Err(StoreError::Conflict(format!("port {} exists", port.id)))
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) fn insert_port(tx: &Conn, port: &Port, ips: &[IpRequest]) -> StoreResult<Port> {
    let mut port = port.clone();
    port.fixed_ips.clear();
    // The row first: allocations refer to it.
    write_port(tx, &port, true)?;
    for request in ips {
        port.fixed_ips.push(allocate(tx, &port, request)?);
    }
    write_port(tx, &port, false)?;
    port_written(tx, None, Some(&port))?;
    Ok(port)
}

fn take_segment(tx: &Conn, network: &mut Network, req: &SegmentRequest) -> StoreResult<()> {
    let (network_type, physnet, id) = match req {
        SegmentRequest::None => return Ok(()),
        SegmentRequest::Given {
            network_type,
            physical_network,
            segmentation_id,
        } => {
            let taken: i64 = tx.query_row(
                "SELECT COUNT(*) FROM network_segments WHERE network_type = ?1
                 AND physical_network = ?2 AND segmentation_id = ?3",
                params![network_type, physical_network, segmentation_id],
                |r| r.get(0),
            )?;
            if taken > 0 {
                return Err(NetworkConflict::SegmentInUse {
                    network_type: network_type.clone(),
                    physical_network: physical_network.clone(),
                    segmentation_id: *segmentation_id,
                }
                .into());
            }
            (
                network_type.clone(),
                physical_network.clone(),
                *segmentation_id,
            )
        }
        SegmentRequest::FromRanges {
            network_type,
            ranges,
        } => {
            let mut chosen = None;
            for (physnet, first, last) in ranges {
                let used: HashSet<i64> = {
                    let mut stmt = tx.prepare(
                        "SELECT segmentation_id FROM network_segments
                         WHERE network_type = ?1 AND physical_network = ?2
                         AND segmentation_id BETWEEN ?3 AND ?4",
                    )?;
                    stmt.query_map(params![network_type, physnet, first, last], |r| {
                        r.get::<_, i64>(0)
                    })?
                    .collect::<Result<_, _>>()?
                };
                if let Some(id) = (*first..=*last).find(|id| !used.contains(id)) {
                    chosen = Some((physnet.clone(), id));
                    break;
                }
            }
            let (physnet, id) = chosen.ok_or(NetworkConflict::NoNetworkAvailable)?;
            (network_type.clone(), physnet, id)
        }
    };
    tx.execute(
        "INSERT INTO network_segments (network_id, network_type, physical_network, segmentation_id)
         VALUES (?1, ?2, ?3, ?4)",
        params![network.id, network_type, physnet, id],
    )?;
    network.network_type = network_type;
    network.physical_network = (!physnet.is_empty()).then_some(physnet);
    network.segmentation_id = (network.network_type != "flat").then_some(id);
    Ok(())
}

/// Give the network's DHCP port an address on `subnet`, inserting
/// `template` as that port when the network has none.
fn attach_dhcp(tx: &Conn, subnet: &Subnet, template: &Port) -> StoreResult<()> {
    let request = IpRequest {
        subnet_id: subnet.id.clone(),
        ip_address: None,
    };
    let existing: Option<String> = tx
        .query_row(
            "SELECT id FROM ports WHERE network_id = ?1 AND device_owner = ?2
             ORDER BY id LIMIT 1",
            params![subnet.network_id, DHCP_OWNER],
            |r| r.get(0),
        )
        .optional()?;
    match existing {
        Some(port_id) => {
            let mut port: Port = get_body(tx, "ports", &port_id)?
                .ok_or_else(|| StoreError::not_found("port", &port_id))?;
            if port.fixed_ips.iter().any(|ip| ip.subnet_id == subnet.id) {
                return Ok(());
            }
            let before = port.clone();
            let ip = allocate(tx, &port, &request)?;
            port.fixed_ips.push(ip);
            port.revision_number += 1;
            write_port(tx, &port, false)?;
            port_written(tx, Some(&before), Some(&port))
        }
        None => insert_port(tx, template, &[request]).map(|_| ()),
    }
}

/// Take DHCP ports' addresses on `subnet_id` away (a port left with none
/// goes). The ids of the ports holding addresses on the subnet that are
/// not DHCP ports are returned.
fn detach_dhcp(tx: &Conn, subnet_id: &str) -> StoreResult<Vec<String>> {
    let holders: Vec<(String, String)> = {
        let mut stmt = tx.prepare(
            "SELECT DISTINCT p.id, p.device_owner FROM ip_allocations a
             JOIN ports p ON p.id = a.port_id WHERE a.subnet_id = ?1",
        )?;
        stmt.query_map([subnet_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut others = Vec::new();
    for (port_id, owner) in holders {
        if owner != DHCP_OWNER {
            others.push(port_id);
            continue;
        }
        let Some(mut port) = get_body::<Port>(tx, "ports", &port_id)? else {
            continue;
        };
        let before = port.clone();
        port.fixed_ips.retain(|ip| ip.subnet_id != subnet_id);
        if port.fixed_ips.is_empty() {
            port_written(tx, Some(&before), None)?;
            tx.execute("DELETE FROM ports WHERE id = ?1", [&port_id])?;
        } else {
            tx.execute(
                "DELETE FROM ip_allocations WHERE port_id = ?1 AND subnet_id = ?2",
                params![port_id, subnet_id],
            )?;
            port.revision_number += 1;
            write_port(tx, &port, false)?;
            port_written(tx, Some(&before), Some(&port))?;
        }
    }
    Ok(others)
}

/// The distinct non-empty `host_id`s of the ports `filter` selects.
fn hosts_where(tx: &Conn, filter: &str, arg: &str) -> StoreResult<BTreeSet<String>> {
    let sql = format!("SELECT DISTINCT host_id FROM ports WHERE {filter} AND host_id > ''");
    let mut stmt = tx.prepare(&sql)?;
    let hosts = stmt
        .query_map([arg], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    Ok(hosts)
}

fn dhcp_hosts(tx: &Conn, network_id: &str) -> StoreResult<BTreeSet<String>> {
    let filter = format!("network_id = ?1 AND device_owner = '{DHCP_OWNER}'");
    hosts_where(tx, &filter, network_id)
}

fn network_hosts(tx: &Conn, network_id: &str) -> StoreResult<BTreeSet<String>> {
    hosts_where(tx, "network_id = ?1", network_id)
}

pub(crate) fn project_hosts(tx: &Conn, project_id: &str) -> StoreResult<BTreeSet<String>> {
    hosts_where(tx, "project_id = ?1", project_id)
}

/// Moves network `id`'s `contents_changed_at` to `now` (never back).
fn touch_contents(tx: &Conn, id: &str, now: i64) -> StoreResult<()> {
    let d = tx.dialect();
    let later = d.greatest(
        &format!(
            "coalesce({}, 0)",
            d.json_integer("body", "contents_changed_at")
        ),
        "?2",
    );
    tx.execute(
        &format!(
            "UPDATE networks SET body = {} WHERE id = ?1",
            d.json_set_integer("body", "contents_changed_at", &later)
        ),
        params![id, now],
    )?;
    Ok(())
}

/// What a port write moves besides the row: the revisions of the hosts
/// whose documents show it (the rule is `host_plan`'s), its network's
/// contents time, and the membership time of the groups it joined, left
/// or changed addresses in.
pub(super) fn port_written(
    tx: &Conn,
    before: Option<&Port>,
    after: Option<&Port>,
) -> StoreResult<()> {
    let Some(any) = after.or(before) else {
        return Ok(());
    };
    let now = ferrostack_common::time::now_micros();
    let dhcp = dhcp_hosts(tx, &any.network_id)?;
    let project = project_hosts(tx, &any.project_id)?;
    let carriers = network_hosts(tx, &any.network_id)?;
    record_plan_write(
        tx,
        PlanWrite::Port {
            before,
            after,
            dhcp_hosts: &dhcp,
            project_hosts: &project,
            network_hosts: &carriers,
        },
    )?;
    // A host joining or leaving the network changes the other carriers'
    // VXLAN peers, so it moves the contents time too (the network's
    // generation in a VXLAN host section follows it).
    let addresses = |p: Option<&Port>| {
        p.map(|p| {
            (
                p.mac_address.clone(),
                p.fixed_ips.clone(),
                p.host_id.clone(),
            )
        })
    };
    if addresses(before) != addresses(after) {
        touch_contents(tx, &any.network_id, now)?;
    }
    let members = |p: Option<&Port>| {
        p.map(|p| {
            (
                p.fixed_ips.clone(),
                p.allowed_address_pairs.clone(),
                p.security_groups.clone(),
            )
        })
    };
    if members(before) != members(after) {
        let mut groups: Vec<String> = Vec::new();
        for p in [before, after].into_iter().flatten() {
            groups.extend(p.security_groups.iter().cloned());
        }
        touch_membership(tx, &groups, now)?;
    }
    Ok(())
}

fn subnet_written(tx: &Conn, network_id: &str) -> StoreResult<()> {
    let dhcp = dhcp_hosts(tx, network_id)?;
    record_plan_write(tx, PlanWrite::Subnet { dhcp_hosts: &dhcp })?;
    touch_contents(tx, network_id, ferrostack_common::time::now_micros())
}

fn refused(e: Refusal) -> StoreError {
    StoreError::Refused(e)
}

impl NetworkStore for SqliteStore {
    fn create_network(&self, network: &Network, segment: &SegmentRequest) -> StoreResult<Network> {
        self.db().write(|tx| {
            let mut network = network.clone();
            tx.execute(
                "INSERT INTO networks (id, project_id, body) VALUES (?1, ?2, '{}')",
                params![network.id, network.project_id],
            )?;
            take_segment(tx, &mut network, segment)?;
            tx.execute(
                "UPDATE networks SET body = ?2 WHERE id = ?1",
                params![network.id, serde_json::to_string(&network)?],
            )?;
            Ok(network)
        })
    }

    fn get_network(&self, id: &str) -> StoreResult<Option<Network>> {
        self.db().read(|c| get_body(c, "networks", id))
    }

    fn list_networks(&self) -> StoreResult<Vec<Network>> {
        self.db().read(|c| list_bodies(c, "networks"))
    }

    fn update_network(
        &self,
        id: &str,
        f: &mut dyn FnMut(&mut Network) -> Result<(), Refusal>,
    ) -> StoreResult<Option<Network>> {
        self.db().write(|tx| {
            let Some(mut network) = get_body::<Network>(tx, "networks", id)? else {
                return Ok(None);
            };
            let before = network.clone();
            f(&mut network).map_err(refused)?;
            network.revision_number += 1;
            tx.execute(
                "UPDATE networks SET body = ?2 WHERE id = ?1",
                params![id, serde_json::to_string(&network)?],
            )?;
            let carriers = hosts_where(tx, "network_id = ?1", id)?;
            record_plan_write(
                tx,
                PlanWrite::Network {
                    before: &before,
                    after: Some(&network),
                    carriers: &carriers,
                },
            )?;
            Ok(Some(network))
        })
    }

    fn delete_network(&self, id: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            let others: i64 = tx.query_row(
                "SELECT COUNT(*) FROM ports WHERE network_id = ?1 AND device_owner != ?2",
                params![id, DHCP_OWNER],
                |r| r.get(0),
            )?;
            if others > 0 {
                return Err(NetworkConflict::NetworkInUse {
                    network_id: id.to_string(),
                }
                .into());
            }
            let Some(before) = get_body::<Network>(tx, "networks", id)? else {
                return Ok(false);
            };
            let carriers = hosts_where(tx, "network_id = ?1", id)?;
            record_plan_write(
                tx,
                PlanWrite::Network {
                    before: &before,
                    after: None,
                    carriers: &carriers,
                },
            )?;
            // Subnets, ports, allocations and the segment go by cascade.
            Ok(tx.execute("DELETE FROM networks WHERE id = ?1", [id])? > 0)
        })
    }

    fn create_subnet(&self, subnet: &Subnet, dhcp: Option<&Port>) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO subnets (id, network_id, body) VALUES (?1, ?2, ?3)",
                params![subnet.id, subnet.network_id, serde_json::to_string(subnet)?],
            )?;
            subnet_written(tx, &subnet.network_id)?;
            match dhcp {
                Some(template) => attach_dhcp(tx, subnet, template),
                None => Ok(()),
            }
        })
    }

    fn get_subnet(&self, id: &str) -> StoreResult<Option<Subnet>> {
        self.db().read(|c| get_body(c, "subnets", id))
    }

    fn list_subnets(&self) -> StoreResult<Vec<Subnet>> {
        self.db().read(|c| list_bodies(c, "subnets"))
    }

    fn update_subnet(
        &self,
        id: &str,
        f: &mut dyn FnMut(&mut Subnet) -> Result<(), Refusal>,
        dhcp: Option<&Port>,
    ) -> StoreResult<Option<Subnet>> {
        self.db().write(|tx| {
            let Some(mut subnet) = get_body::<Subnet>(tx, "subnets", id)? else {
                return Ok(None);
            };
            let had_dhcp = subnet.enable_dhcp;
            f(&mut subnet).map_err(refused)?;
            subnet.revision_number += 1;
            tx.execute(
                "UPDATE subnets SET body = ?2 WHERE id = ?1",
                params![id, serde_json::to_string(&subnet)?],
            )?;
            subnet_written(tx, &subnet.network_id)?;
            match (had_dhcp, subnet.enable_dhcp, dhcp) {
                (false, true, Some(template)) => attach_dhcp(tx, &subnet, template)?,
                (true, false, _) => {
                    detach_dhcp(tx, id)?;
                }
                _ => {}
            }
            Ok(Some(subnet))
        })
    }

    fn delete_subnet(&self, id: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            let Some(subnet) = get_body::<Subnet>(tx, "subnets", id)? else {
                return Ok(false);
            };
            // While the DHCP port still names its host.
            subnet_written(tx, &subnet.network_id)?;
            // Detaching is undone with the transaction when others hold
            // addresses.
            if !detach_dhcp(tx, id)?.is_empty() {
                return Err(NetworkConflict::SubnetInUse {
                    subnet_id: id.to_string(),
                }
                .into());
            }
            Ok(tx.execute("DELETE FROM subnets WHERE id = ?1", [id])? > 0)
        })
    }

    fn create_port(&self, port: &Port, ips: &[IpRequest]) -> StoreResult<Port> {
        self.db().write(|tx| insert_port(tx, port, ips))
    }

    fn get_port(&self, id: &str) -> StoreResult<Option<Port>> {
        self.db().read(|c| get_body(c, "ports", id))
    }

    fn list_ports(&self) -> StoreResult<Vec<Port>> {
        self.db().read(|c| list_bodies(c, "ports"))
    }

    fn update_port(&self, id: &str, f: &mut PortChange<'_>) -> StoreResult<Option<Port>> {
        self.db().write(|tx| {
            let Some(mut port) = get_body::<Port>(tx, "ports", id)? else {
                return Ok(None);
            };
            let before = port.clone();
            if let Some(requests) = f(&mut port).map_err(refused)? {
                tx.execute("DELETE FROM ip_allocations WHERE port_id = ?1", [id])?;
                port.fixed_ips.clear();
                for request in &requests {
                    port.fixed_ips.push(allocate(tx, &port, request)?);
                }
            }
            port.revision_number += 1;
            write_port(tx, &port, false)?;
            port_written(tx, Some(&before), Some(&port))?;
            if before.fixed_ips != port.fixed_ips {
                super::floating_ip::port_readdressed(tx, &port)?;
            }
            Ok(Some(port))
        })
    }

    fn delete_port(&self, id: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            let Some(before) = get_body::<Port>(tx, "ports", id)? else {
                return Ok(false);
            };
            super::floating_ip::port_deleted(tx, id)?;
            port_written(tx, Some(&before), None)?;
            Ok(tx.execute("DELETE FROM ports WHERE id = ?1", [id])? > 0)
        })
    }
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
