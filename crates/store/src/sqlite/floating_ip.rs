//! SQLite implementation of [`FloatingIpStore`]: the row keeps the
//! constrained columns (its port, the association) and a JSON body; each
//! write runs in one `BEGIN IMMEDIATE` transaction with the floating IP's
//! port, and bumps the hosts `host_plan` names.

use super::network::{get_body, insert_port, port_written};
use super::server::record_plan_write;
use super::SqliteStore;
use crate::floating_ip::{FloatingIpConflict, FloatingIpRecord, FloatingIpStore};
use crate::floating_ip::{ROUTER_GATEWAY_OWNER, STATUS_ACTIVE};
use crate::host_plan::PlanWrite;
use crate::network::{IpRequest, Port, Refusal};
use crate::sql::{params, Conn, OptionalExtension};
use crate::{StoreError, StoreResult};
use std::collections::BTreeMap;

const COLUMNS: &str = "body, port_id IS NULL";

/// A row read back: the body, disassociated when the `port_id` column was
/// cleared by the foreign key (a port deleted behind the service's back).
fn record(body: String, port_gone: bool) -> StoreResult<FloatingIpRecord> {
    let mut fip: FloatingIpRecord = serde_json::from_str(&body)?;
    if port_gone && fip.port_id.is_some() {
        fip.disassociate();
    }
    Ok(fip)
}

fn get(conn: &Conn, id: &str) -> StoreResult<Option<FloatingIpRecord>> {
    let row: Option<(String, bool)> = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM floating_ips WHERE id = ?1"),
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(b, gone)| record(b, gone)).transpose()
}

fn select(conn: &Conn, filter: &str, arg: &str) -> StoreResult<Vec<FloatingIpRecord>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM floating_ips WHERE {filter} ORDER BY id"
    ))?;
    let rows = stmt
        .query_map([arg], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(|(b, gone)| record(b, gone)).collect()
}

/// Write `fip`'s row (insert or update); a second floating IP on the
/// same fixed address and network is [`FloatingIpConflict`].
fn write(tx: &Conn, fip: &FloatingIpRecord, insert: bool) -> StoreResult<()> {
    let body = serde_json::to_string(fip)?;
    let sql = if insert {
        "INSERT INTO floating_ips (id, project_id, floating_network_id, floating_port_id,
           port_id, fixed_ip_address, router_id, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    } else {
        "UPDATE floating_ips SET project_id = ?2, floating_network_id = ?3,
           floating_port_id = ?4, port_id = ?5, fixed_ip_address = ?6, router_id = ?7,
           body = ?8 WHERE id = ?1"
    };
    let result = tx.execute(
        sql,
        params![
            fip.id,
            fip.project_id,
            fip.floating_network_id,
            fip.floating_port_id,
            fip.port_id,
            fip.fixed_ip_address,
            fip.router_id,
            body
        ],
    );
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.is_unique_violation() && fip.port_id.is_some() => {
            Err(FloatingIpConflict::PortAlreadyAssociated {
                floating_ip_address: fip.floating_ip_address.clone(),
                fip_id: fip.id.clone(),
                port_id: fip.port_id.clone().unwrap_or_default(),
                fixed_ip: fip.fixed_ip_address.clone().unwrap_or_default(),
                net_id: fip.floating_network_id.clone(),
            }
            .into())
        }
        Err(e) => Err(e.into()),
    }
}

/// The host of `router_id`'s gateway port, if bound.
fn gateway_host(tx: &Conn, router_id: &str) -> StoreResult<Option<String>> {
    Ok(tx
        .query_row(
            &format!(
                "SELECT host_id FROM ports WHERE device_owner = ?1
                   AND {} = ?2 AND host_id > ''
                 ORDER BY id LIMIT 1",
                tx.dialect().json_text("body", "device_id")
            ),
            params![ROUTER_GATEWAY_OWNER, router_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// What a floating IP write moves besides its row: the revisions of its
/// routers' gateway hosts (the rule is `host_plan`'s) and those routers'
/// floating IP change times.
fn fip_written(
    tx: &Conn,
    before: Option<&FloatingIpRecord>,
    after: Option<&FloatingIpRecord>,
) -> StoreResult<()> {
    let carried =
        |f: Option<&FloatingIpRecord>| f.and_then(|f| f.carried().map(|c| c.0.to_owned()));
    let (b, a) = (
        before.and_then(FloatingIpRecord::carried),
        after.and_then(FloatingIpRecord::carried),
    );
    if b == a {
        return Ok(());
    }
    let routers: Vec<String> = carried(before).into_iter().chain(carried(after)).collect();
    let mut gateway_hosts = BTreeMap::new();
    let now = ferrostack_common::time::now_micros();
    for router in &routers {
        if let Some(host) = gateway_host(tx, router)? {
            gateway_hosts.insert(router.clone(), host);
        }
        tx.execute(
            &format!(
                "INSERT INTO router_floating_ip_changes (router_id, changed_at) VALUES (?1, ?2)
                 ON CONFLICT (router_id) DO UPDATE SET changed_at = {}",
                tx.dialect().greatest(
                    "router_floating_ip_changes.changed_at",
                    "excluded.changed_at"
                )
            ),
            params![router, now],
        )?;
    }
    record_plan_write(
        tx,
        PlanWrite::FloatingIp {
            before,
            after,
            gateway_hosts: &gateway_hosts,
        },
    )
}

/// Disassociate the floating IPs of the fixed port `port_id` (it is being
/// deleted), in the port's delete transaction, as Neutron does: they stay,
/// `DOWN`, without a port.
pub(super) fn port_deleted(tx: &Conn, port_id: &str) -> StoreResult<()> {
    let now = ferrostack_common::time::now_micros();
    for before in select(tx, "port_id = ?1", port_id)? {
        let mut after = before.clone();
        after.disassociate();
        after.updated_at = now;
        after.revision_number += 1;
        write(tx, &after, false)?;
        fip_written(tx, Some(&before), Some(&after))?;
    }
    Ok(())
}

/// Disassociate the floating IPs of `port` whose fixed address it no
/// longer has (its addresses were changed), in the port's transaction: a
/// router must not translate to an address nobody holds.
pub(super) fn port_readdressed(tx: &Conn, port: &Port) -> StoreResult<()> {
    let now = ferrostack_common::time::now_micros();
    for before in select(tx, "port_id = ?1", &port.id)? {
        let kept = (port.fixed_ips.iter())
            .any(|ip| Some(&ip.ip_address) == before.fixed_ip_address.as_ref());
        if kept {
            continue;
        }
        let mut after = before.clone();
        after.disassociate();
        after.updated_at = now;
        after.revision_number += 1;
        write(tx, &after, false)?;
        fip_written(tx, Some(&before), Some(&after))?;
    }
    Ok(())
}

impl FloatingIpStore for SqliteStore {
    fn create_floating_ip(
        &self,
        fip: &FloatingIpRecord,
        port: &Port,
        ip: &IpRequest,
    ) -> StoreResult<FloatingIpRecord> {
        self.db().write(|tx| {
            let port = insert_port(tx, port, std::slice::from_ref(ip))?;
            let address = port.fixed_ips.first().ok_or_else(|| {
                StoreError::Invalid(format!("floating IP port {} got no address", port.id))
            })?;
            let mut fip = fip.clone();
            fip.floating_ip_address = address.ip_address.clone();
            fip.floating_port_id = port.id.clone();
            write(tx, &fip, true)?;
            fip_written(tx, None, Some(&fip))?;
            Ok(fip)
        })
    }

    fn get_floating_ip(&self, id: &str) -> StoreResult<Option<FloatingIpRecord>> {
        self.db().read(|c| get(c, id))
    }

    fn list_floating_ips(&self) -> StoreResult<Vec<FloatingIpRecord>> {
        self.db().read(|c| select(c, "?1 = ?1", ""))
    }

    fn update_floating_ip(
        &self,
        id: &str,
        f: &mut dyn FnMut(&mut FloatingIpRecord) -> Result<(), Refusal>,
    ) -> StoreResult<Option<FloatingIpRecord>> {
        self.db().write(|tx| {
            let Some(before) = get(tx, id)? else {
                return Ok(None);
            };
            let mut after = before.clone();
            f(&mut after).map_err(StoreError::Refused)?;
            // The status follows the association (no agent reports it).
            if after.port_id.is_none() {
                after.disassociate();
            } else {
                after.status = STATUS_ACTIVE.into();
            }
            after.revision_number += 1;
            write(tx, &after, false)?;
            fip_written(tx, Some(&before), Some(&after))?;
            Ok(Some(after))
        })
    }

    fn delete_floating_ip(&self, id: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            let Some(before) = get(tx, id)? else {
                return Ok(false);
            };
            fip_written(tx, Some(&before), None)?;
            tx.execute("DELETE FROM floating_ips WHERE id = ?1", [id])?;
            if let Some(port) = get_body::<Port>(tx, "ports", &before.floating_port_id)? {
                port_written(tx, Some(&port), None)?;
                tx.execute("DELETE FROM ports WHERE id = ?1", [&port.id])?;
            }
            Ok(true)
        })
    }

    fn floating_ips_changed_at(&self, router_id: &str) -> StoreResult<i64> {
        self.db().read(|c| {
            Ok(c.query_row(
                "SELECT changed_at FROM router_floating_ip_changes WHERE router_id = ?1",
                [router_id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
        })
    }
}

#[cfg(test)]
#[path = "floating_ip_tests.rs"]
mod tests;
