//! SQLite implementation of [`RouterStore`]: a router row (id, project,
//! host and a JSON body) and its ports in the port table, found by
//! `device_id` and owner; every write that touches both is one
//! `BEGIN IMMEDIATE` transaction (see [`crate::router`]).

use super::network::{allocate, get_body, insert_port, list_bodies, port_written, write_port};
use super::server::record_plan_write;
use super::SqliteStore;
use crate::host_plan::PlanWrite;
use crate::network::{IpRequest, Port, Refusal};
use crate::router::{
    GatewayPort, InterfaceAdd, InterfaceRemove, RemovedInterface, Router, RouterCheck,
    RouterConflict, RouterStore, ROUTER_GATEWAY_OWNER, ROUTER_INTERFACE_OWNER,
};
use crate::sql::{params, Conn};
use crate::{StoreError, StoreResult};

fn refused(e: Refusal) -> StoreError {
    StoreError::Refused(e)
}

/// The router's ports (gateway and interfaces), by id.
fn ports_of(conn: &Conn, router_id: &str) -> StoreResult<Vec<Port>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT body FROM ports WHERE {} = ?1
           AND device_owner IN (?2, ?3) ORDER BY id",
        conn.dialect().json_text("body", "device_id")
    ))?;
    let bodies = stmt
        .query_map(
            params![router_id, ROUTER_INTERFACE_OWNER, ROUTER_GATEWAY_OWNER],
            |r| r.get::<_, String>(0),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).map_err(StoreError::from))
        .collect()
}

fn write_router(tx: &Conn, r: &Router, insert: bool) -> StoreResult<()> {
    let body = serde_json::to_string(r)?;
    if insert {
        tx.execute(
            "INSERT INTO routers (id, project_id, host, body) VALUES (?1, ?2, ?3, ?4)",
            params![r.id, r.project_id, r.host, body],
        )?;
    } else {
        tx.execute(
            "UPDATE routers SET project_id = ?2, host = ?3, body = ?4 WHERE id = ?1",
            params![r.id, r.project_id, r.host, body],
        )?;
    }
    Ok(())
}

fn load(tx: &Conn, id: &str) -> StoreResult<Router> {
    get_body(tx, "routers", id)?.ok_or_else(|| StoreError::not_found("router", id))
}

fn delete_port(tx: &Conn, port: &Port) -> StoreResult<()> {
    port_written(tx, Some(port), None)?;
    tx.execute("DELETE FROM ports WHERE id = ?1", [&port.id])?;
    Ok(())
}

fn gateway_ports(tx: &Conn, router_id: &str) -> StoreResult<Vec<Port>> {
    Ok(ports_of(tx, router_id)?
        .into_iter()
        .filter(|p| p.device_owner == ROUTER_GATEWAY_OWNER)
        .collect())
}

/// Give `port` exactly the addresses of `ips` (those it keeps stay its own).
fn readdress(tx: &Conn, port: &Port, ips: &[IpRequest]) -> StoreResult<()> {
    let before = port.clone();
    let mut port = port.clone();
    tx.execute("DELETE FROM ip_allocations WHERE port_id = ?1", [&port.id])?;
    port.fixed_ips.clear();
    for request in ips {
        port.fixed_ips.push(allocate(tx, &port, request)?);
    }
    port.revision_number += 1;
    port.updated_at = ferrostack_common::time::now_micros();
    write_port(tx, &port, false)?;
    port_written(tx, Some(&before), Some(&port))
}

/// The router row written after its ports changed at `now`: its
/// contents time moves, then the check, the row and the host's revision.
fn finish(
    tx: &Conn,
    before: Option<&Router>,
    router: &mut Router,
    ports_changed: bool,
    check: &mut RouterCheck<'_>,
) -> StoreResult<()> {
    if ports_changed {
        let now = ferrostack_common::time::now_micros();
        router.contents_changed_at = router.contents_changed_at.max(now);
    }
    let ports = ports_of(tx, &router.id)?;
    check(router, &ports).map_err(refused)?;
    write_router(tx, router, before.is_none())?;
    record_plan_write(
        tx,
        PlanWrite::Router {
            before,
            after: Some(router),
        },
    )
}

impl RouterStore for SqliteStore {
    fn create_router(
        &self,
        router: &Router,
        gateway: Option<(&Port, &[IpRequest])>,
        check: &mut RouterCheck<'_>,
    ) -> StoreResult<Router> {
        self.db().write(|tx| {
            let mut router = router.clone();
            if let Some((port, ips)) = gateway {
                insert_port(tx, port, ips)?;
            }
            finish(tx, None, &mut router, false, check)?;
            Ok(router)
        })
    }

    fn get_router(&self, id: &str) -> StoreResult<Option<Router>> {
        self.db().read(|c| get_body(c, "routers", id))
    }

    fn list_routers(&self) -> StoreResult<Vec<Router>> {
        self.db().read(|c| list_bodies(c, "routers"))
    }

    fn router_ports(&self, id: &str) -> StoreResult<Vec<Port>> {
        self.db().read(|c| ports_of(c, id))
    }

    fn update_router(
        &self,
        id: &str,
        f: &mut dyn FnMut(&mut Router) -> Result<(), Refusal>,
        gateway: GatewayPort<'_>,
        check: &mut RouterCheck<'_>,
    ) -> StoreResult<Option<Router>> {
        self.db().write(|tx| {
            let Some(mut router) = get_body::<Router>(tx, "routers", id)? else {
                return Ok(None);
            };
            let before = router.clone();
            f(&mut router).map_err(refused)?;
            router.revision_number += 1;
            let changed = match gateway {
                GatewayPort::Keep => false,
                GatewayPort::Remove => {
                    for p in gateway_ports(tx, id)? {
                        delete_port(tx, &p)?;
                    }
                    true
                }
                GatewayPort::Create { port, ips } => {
                    for p in gateway_ports(tx, id)? {
                        delete_port(tx, &p)?;
                    }
                    insert_port(tx, port, ips)?;
                    true
                }
                GatewayPort::Readdress(ips) => {
                    for p in gateway_ports(tx, id)? {
                        readdress(tx, &p, ips)?;
                    }
                    true
                }
            };
            finish(tx, Some(&before), &mut router, changed, check)?;
            Ok(Some(router))
        })
    }

    fn delete_router(&self, id: &str) -> StoreResult<Option<Router>> {
        self.db().write(|tx| {
            let Some(router) = get_body::<Router>(tx, "routers", id)? else {
                return Ok(None);
            };
            let ports = ports_of(tx, id)?;
            let interfaces: Vec<&str> = (ports.iter())
                .filter(|p| p.device_owner == ROUTER_INTERFACE_OWNER)
                .map(|p| p.id.as_str())
                .collect();
            if !interfaces.is_empty() {
                return Err(RouterConflict::RouterInUse {
                    router_id: id.to_string(),
                    ports: interfaces.join(", "),
                }
                .into());
            }
            for p in &ports {
                delete_port(tx, p)?;
            }
            record_plan_write(
                tx,
                PlanWrite::Router {
                    before: Some(&router),
                    after: None,
                },
            )?;
            tx.execute("DELETE FROM routers WHERE id = ?1", [id])?;
            Ok(Some(router))
        })
    }

    fn add_interface(
        &self,
        id: &str,
        add: InterfaceAdd<'_>,
        check: &mut RouterCheck<'_>,
    ) -> StoreResult<Port> {
        self.db().write(|tx| {
            let mut router = load(tx, id)?;
            let before = router.clone();
            let port = match add {
                InterfaceAdd::NewPort { port, ips } => insert_port(tx, port, ips)?,
                InterfaceAdd::AddAddress { port_id, ips } => {
                    let port = (ports_of(tx, id)?.into_iter())
                        .find(|p| p.id == port_id && p.device_owner == ROUTER_INTERFACE_OWNER)
                        .ok_or_else(|| RouterConflict::InterfaceNotFound {
                            router_id: id.to_string(),
                            port_id: port_id.to_string(),
                        })?;
                    readdress(tx, &port, ips)?;
                    get_body(tx, "ports", port_id)?
                        .ok_or_else(|| StoreError::not_found("port", port_id))?
                }
                InterfaceAdd::Existing { port_id, attach } => {
                    let mut port: Port = get_body(tx, "ports", port_id)?
                        .ok_or_else(|| StoreError::not_found("port", port_id))?;
                    if !port.device_id.is_empty() {
                        return Err(RouterConflict::PortInUse {
                            port_id: port.id.clone(),
                            network_id: port.network_id.clone(),
                            device_id: port.device_id.clone(),
                        }
                        .into());
                    }
                    let old = port.clone();
                    port.device_id = router.id.clone();
                    port.device_owner = ROUTER_INTERFACE_OWNER.into();
                    port.host_id = router.host.clone();
                    attach(&mut port);
                    port.revision_number += 1;
                    write_port(tx, &port, false)?;
                    port_written(tx, Some(&old), Some(&port))?;
                    port
                }
            };
            router.revision_number += 1;
            router.updated_at = port.updated_at.max(router.updated_at);
            finish(tx, Some(&before), &mut router, true, check)?;
            Ok(port)
        })
    }

    fn remove_interface(
        &self,
        id: &str,
        which: InterfaceRemove<'_>,
        check: &mut RouterCheck<'_>,
    ) -> StoreResult<RemovedInterface> {
        self.db().write(|tx| {
            let mut router = load(tx, id)?;
            let before = router.clone();
            let interfaces: Vec<Port> = (ports_of(tx, id)?.into_iter())
                .filter(|p| p.device_owner == ROUTER_INTERFACE_OWNER)
                .collect();
            let removed = match which {
                InterfaceRemove::Port(port_id) => {
                    let port = (interfaces.iter().find(|p| p.id == port_id)).ok_or_else(|| {
                        RouterConflict::InterfaceNotFound {
                            router_id: id.to_string(),
                            port_id: port_id.to_string(),
                        }
                    })?;
                    delete_port(tx, port)?;
                    RemovedInterface {
                        port: port.clone(),
                        deleted: true,
                    }
                }
                InterfaceRemove::Subnet(subnet_id) => {
                    let port = (interfaces.iter())
                        .find(|p| p.fixed_ips.iter().any(|ip| ip.subnet_id == subnet_id))
                        .ok_or_else(|| RouterConflict::InterfaceNotFoundForSubnet {
                            router_id: id.to_string(),
                            subnet_id: subnet_id.to_string(),
                        })?;
                    if port.fixed_ips.len() > 1 {
                        let keep: Vec<IpRequest> = (port.fixed_ips.iter())
                            .filter(|ip| ip.subnet_id != subnet_id)
                            .map(|ip| IpRequest {
                                subnet_id: ip.subnet_id.clone(),
                                ip_address: Some(ip.ip_address.clone()),
                            })
                            .collect();
                        readdress(tx, port, &keep)?;
                        RemovedInterface {
                            port: port.clone(),
                            deleted: false,
                        }
                    } else {
                        delete_port(tx, port)?;
                        RemovedInterface {
                            port: port.clone(),
                            deleted: true,
                        }
                    }
                }
            };
            router.revision_number += 1;
            router.updated_at = ferrostack_common::time::now_micros().max(router.updated_at);
            finish(tx, Some(&before), &mut router, true, check)?;
            Ok(removed)
        })
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
