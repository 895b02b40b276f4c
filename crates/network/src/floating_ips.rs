//! Floating IPs: Neutron's L3 rules over the store (the HTTP handlers are
//! in `floating_ips_api`).
//!
//! - **Create**: the network must be `router:external` with an IPv4
//!   subnet; the address is a `network:floatingip` port on it (a given
//!   address, a given subnet's next free one, or the first IPv4 subnet's),
//!   made by the store in the floating IP's own transaction, so there is
//!   no new IPAM and a refused create leaves no port. Quota `floatingip`
//!   is reserved under the floating IP's id first and released if the
//!   store refuses or when it is deleted.
//! - **Association** (at create or by update): the fixed port's IPv4
//!   address (the one asked for, or its only one), then the router that
//!   connects that address's subnet to the floating IP's network, found
//!   from the port table alone as Neutron's `get_router_for_floatingip`
//!   does: a router is the `device_id` of a `network:router_interface`
//!   port with an address on the subnet and of a `network:router_gateway`
//!   port on the external network; the one whose interface holds the
//!   subnet's gateway address wins. No router: 404
//!   `ExternalGatewayForFloatingIPNotFound`. One floating IP per fixed
//!   address and network is the store's unique index (409).
//! - **Data plane**: [`desired_floating_ips`] is what a router's section
//!   of its gateway host's document lists; the router's generation should
//!   be the max of its own change time and
//!   [`FloatingIpStore::floating_ips_changed_at`] (which moves on
//!   associate, move, disassociate and delete; see the store's module).
//!
//! Rejected: a router lookup through a routers table (the router service
//! is separate; its ports are ordinary ports, as in Neutron), and a port
//! made through [`NetworkState::create_port`] then undone on failure (a
//! crash between the two would leave an orphan address).

use crate::error::{NetworkError, NetworkResult};
use crate::ipam::{self, parse_ip};
use crate::ports::{resolve_ips, FixedIpSpec};
use crate::NetworkState;
use ferrostack_host_contract::network::FloatingIp;
use ferrostack_quota::NETWORK;
use ferrostack_store::floating_ip::{
    FloatingIpRecord, FloatingIpStore, FLOATINGIP_OWNER, ROUTER_GATEWAY_OWNER,
    ROUTER_INTERFACE_OWNERS, STATUS_ACTIVE, STATUS_DOWN,
};
use ferrostack_store::network::{IpRequest, NetworkConflict, Port};
use http::StatusCode;
use serde_json::Map;

/// Who asks: the project acting and whether it is an admin (who may
/// associate another project's port and name the address).
#[derive(Clone, Copy)]
pub struct Asker<'a> {
    /// Admin rights.
    pub admin: bool,
    /// Sees a port (the HTTP layer's visibility rule); a port it cannot
    /// see is a 404.
    pub sees_port: &'a dyn Fn(&Port) -> bool,
}

/// A new floating IP, as asked.
#[derive(Clone, Debug, Default)]
pub struct FloatingIpSpec {
    /// Owning project.
    pub project_id: String,
    /// The external network.
    pub floating_network_id: String,
    /// A given address.
    pub floating_ip_address: Option<String>,
    /// A given subnet of the external network.
    pub subnet_id: Option<String>,
    /// A port to associate at once.
    pub port_id: Option<String>,
    /// Which of the port's addresses.
    pub fixed_ip_address: Option<String>,
    /// Free text.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
}

/// An association: (port, fixed address, router).
type Association = (String, String, String);

/// Neutron's `BadRequest` with `resource='floatingip'`.
pub fn bad_request(msg: impl std::fmt::Display) -> NetworkError {
    NetworkError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Bad floatingip request: {msg}."),
    )
}

/// Neutron's 404 for a floating IP absent or not the caller's.
pub fn not_found(id: &str) -> NetworkError {
    NetworkError::not_found(
        "FloatingIPNotFound",
        format!("Floating IP {id} could not be found"),
    )
}

fn is_v4(address: &str) -> bool {
    parse_ip(address).is_some_and(|(_, v6)| !v6)
}

impl NetworkState {
    /// The address request of a new floating IP on `network_id`.
    fn floating_address(&self, spec: &FloatingIpSpec) -> NetworkResult<IpRequest> {
        let net = &spec.floating_network_id;
        let subnets = self.subnets_of(net)?;
        let Some(first_v4) = subnets.iter().find(|s| s.ip_version == 4) else {
            return Err(bad_request(format!(
                "Network {net} does not contain any IPv4 subnet"
            )));
        };
        if spec.floating_ip_address.is_none() && spec.subnet_id.is_none() {
            return Ok(IpRequest {
                subnet_id: first_v4.id.clone(),
                ip_address: None,
            });
        }
        let asked = FixedIpSpec {
            subnet_id: spec.subnet_id.clone(),
            ip_address: spec.floating_ip_address.clone(),
        };
        let mac = [0xfa, 0x16, 0x3e, 0, 0, 0];
        let request = resolve_ips(net, &subnets, mac, Some(&[asked]))?
            .pop()
            .ok_or_else(|| NetworkError::internal("no address request resolved".into()))?;
        let v4 = subnets
            .iter()
            .any(|s| s.id == request.subnet_id && s.ip_version == 4);
        if !v4 {
            return Err(bad_request(format!(
                "Network {net} does not contain any IPv4 subnet"
            )));
        }
        Ok(request)
    }

    /// The association of `port_id` (address `fixed`, or its only IPv4
    /// one) for a floating IP of `project_id` on `external`: Neutron's
    /// `_internal_fip_assoc_data` then `get_router_for_floatingip`.
    fn association(
        &self,
        asker: Asker<'_>,
        project_id: &str,
        external: &str,
        port_id: &str,
        fixed: Option<&str>,
    ) -> NetworkResult<Association> {
        let port = self
            .store
            .get_port(port_id)?
            .filter(|p| (asker.sees_port)(p))
            .ok_or_else(|| crate::attrs::not_found("PortNotFound", "Port", port_id))?;
        if port.project_id != project_id && !asker.admin {
            return Err(bad_request(format!(
                "Cannot process floating IP association with Port {port_id}, since that port is owned by a different tenant"
            )));
        }
        let (subnet_id, address) = match fixed {
            Some(address) => {
                if !is_v4(address) {
                    return Err(bad_request(format!(
                        "Cannot process floating IP association with {address}, since that is not an IPv4 address"
                    )));
                }
                let canonical = ipam::canonical_ip(address).unwrap_or_default();
                let ip = port.fixed_ips.iter().find(|i| i.ip_address == canonical);
                let ip = ip.ok_or_else(|| {
                    bad_request(format!("Port {port_id} does not have fixed ip {address}"))
                })?;
                (ip.subnet_id.clone(), ip.ip_address.clone())
            }
            None => {
                let v4: Vec<_> = (port.fixed_ips.iter())
                    .filter(|i| is_v4(&i.ip_address))
                    .collect();
                match v4.as_slice() {
                    [] => return Err(bad_request(format!(
                        "Cannot add floating IP to port {port_id} that has no fixed IPv4 addresses"
                    ))),
                    [one] => (one.subnet_id.clone(), one.ip_address.clone()),
                    _ => return Err(bad_request(format!(
                        "Port {port_id} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP"
                    ))),
                }
            }
        };
        let router = self.router_for(&port, &subnet_id, external)?;
        Ok((port.id, address, router))
    }

    /// The router that connects `subnet_id` (of `port`'s network) to
    /// `external`, from the router ports in the port table.
    pub fn router_for(
        &self,
        port: &Port,
        subnet_id: &str,
        external: &str,
    ) -> NetworkResult<String> {
        let ports = self.store.list_ports()?;
        let gateways: Vec<&str> = (ports.iter())
            .filter(|p| p.device_owner == ROUTER_GATEWAY_OWNER && p.network_id == external)
            .filter(|p| !p.device_id.is_empty())
            .map(|p| p.device_id.as_str())
            .collect();
        let gateway_ip = self.store.get_subnet(subnet_id)?.and_then(|s| s.gateway_ip);
        let mut candidates: Vec<(&Port, &str)> = Vec::new();
        for p in &ports {
            let interface = ROUTER_INTERFACE_OWNERS.contains(&p.device_owner.as_str())
                && p.network_id == port.network_id
                && gateways.contains(&p.device_id.as_str());
            if !interface {
                continue;
            }
            for ip in p.fixed_ips.iter().filter(|i| i.subnet_id == subnet_id) {
                candidates.push((p, ip.ip_address.as_str()));
            }
        }
        candidates.sort_by_key(|(p, _)| (p.created_at, p.id.as_str()));
        let best = (candidates.iter())
            .find(|(_, ip)| gateway_ip.as_deref() == Some(*ip))
            .or(candidates.first());
        match best {
            Some((p, _)) => Ok(p.device_id.clone()),
            None => Err(NetworkError::not_found(
                "ExternalGatewayForFloatingIPNotFound",
                format!(
                    "External network {external} is not reachable from subnet {subnet_id}.  Therefore, cannot associate Port {} with a Floating IP.",
                    port.id
                ),
            )),
        }
    }

    /// Create a floating IP (the caller has checked who may).
    pub fn create_floating_ip(
        &self,
        asker: Asker<'_>,
        spec: FloatingIpSpec,
    ) -> NetworkResult<FloatingIpRecord> {
        let net = &spec.floating_network_id;
        let external = self.store.get_network(net)?.is_some_and(|n| n.external);
        if !external {
            return Err(bad_request(format!(
                "Network {net} is not a valid external network"
            )));
        }
        if spec.fixed_ip_address.is_some() && spec.port_id.is_none() {
            return Err(bad_request(
                "fixed_ip_address cannot be specified without a port_id",
            ));
        }
        let request = self.floating_address(&spec)?;
        let association = match &spec.port_id {
            Some(port) => Some(self.association(
                asker,
                &spec.project_id,
                net,
                port,
                spec.fixed_ip_address.as_deref(),
            )?),
            None => None,
        };
        let id = ferrostack_common::ids::new_uuid();
        self.quotas.reserve(
            &NETWORK,
            &spec.project_id,
            &id,
            &[("floatingip".to_string(), 1)].into(),
        )?;
        let result = self.insert_floating_ip(&id, &spec, association, &request);
        if result.is_err() {
            self.release(&id);
        }
        result
    }

    fn insert_floating_ip(
        &self,
        id: &str,
        spec: &FloatingIpSpec,
        association: Option<Association>,
        request: &IpRequest,
    ) -> NetworkResult<FloatingIpRecord> {
        let now = ferrostack_common::time::now_micros();
        let (port_id, fixed, router) = match association {
            Some((p, f, r)) => (Some(p), Some(f), Some(r)),
            None => (None, None, None),
        };
        let record = FloatingIpRecord {
            id: id.to_string(),
            project_id: spec.project_id.clone(),
            floating_network_id: spec.floating_network_id.clone(),
            floating_ip_address: String::new(),
            floating_port_id: String::new(),
            status: if port_id.is_some() {
                STATUS_ACTIVE
            } else {
                STATUS_DOWN
            }
            .into(),
            port_id,
            fixed_ip_address: fixed,
            router_id: router,
            description: spec.description.clone(),
            tags: spec.tags.clone(),
            created_at: now,
            updated_at: now,
            revision_number: 1,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = self.floating_port(id, &spec.floating_network_id, now);
            match self.store.create_floating_ip(&record, &port, request) {
                Ok(r) => return Ok(r),
                Err(e) => match e.network_conflict() {
                    Some(NetworkConflict::MacAddressInUse { .. }) if attempt < 5 => continue,
                    Some(NetworkConflict::IpAddressGenerationFailure { network_id }) => {
                        return Err(NetworkError::new(
                            StatusCode::BAD_REQUEST,
                            "ExternalIpAddressExhausted",
                            format!(
                                "Unable to find any IP address on external network {network_id}."
                            ),
                        ))
                    }
                    _ => return Err(fip_error(e)),
                },
            }
        }
    }

    /// The floating IP's own port (no project: it is nobody's to see or
    /// count, as in Neutron).
    fn floating_port(&self, fip_id: &str, network_id: &str, now: i64) -> Port {
        Port {
            id: ferrostack_common::ids::new_uuid(),
            network_id: network_id.to_string(),
            project_id: String::new(),
            name: String::new(),
            description: String::new(),
            admin_state_up: true,
            mac_address: ipam::random_mac(),
            fixed_ips: Vec::new(),
            device_owner: FLOATINGIP_OWNER.into(),
            device_id: fip_id.to_string(),
            host_id: String::new(),
            vnic_type: "normal".into(),
            vif_details: Map::new(),
            profile: Map::new(),
            allowed_address_pairs: Vec::new(),
            port_security_enabled: false,
            security_groups: Vec::new(),
            status: "N/A".into(),
            tags: Vec::new(),
            created_at: now,
            updated_at: now,
            revision_number: 1,
        }
    }

    /// Change a floating IP: `port` is `None` to leave the association,
    /// `Some(None)` to drop it, `Some(Some(id))` to (re)associate.
    pub fn update_floating_ip(
        &self,
        asker: Asker<'_>,
        current: &FloatingIpRecord,
        port: Option<Option<String>>,
        fixed_ip_address: Option<String>,
        description: Option<String>,
    ) -> NetworkResult<FloatingIpRecord> {
        let wants_port = matches!(&port, Some(Some(_)));
        if fixed_ip_address.is_some() && !wants_port {
            return Err(bad_request(
                "fixed_ip_address cannot be specified without a port_id",
            ));
        }
        let association = match &port {
            Some(Some(p)) => Some(Some(self.association(
                asker,
                &current.project_id,
                &current.floating_network_id,
                p,
                fixed_ip_address.as_deref(),
            )?)),
            Some(None) => Some(None),
            None => None,
        };
        let now = ferrostack_common::time::now_micros();
        self.store
            .update_floating_ip(&current.id, &mut |f| {
                match &association {
                    Some(Some((p, fixed, router))) => {
                        f.port_id = Some(p.clone());
                        f.fixed_ip_address = Some(fixed.clone());
                        f.router_id = Some(router.clone());
                    }
                    Some(None) => f.disassociate(),
                    None => {}
                }
                if let Some(d) = &description {
                    f.description = d.clone();
                }
                f.updated_at = now;
                Ok(())
            })
            .map_err(fip_error)?
            .ok_or_else(|| not_found(&current.id))
    }

    /// Delete a floating IP: its port and address go, its quota is given
    /// back.
    pub fn delete_floating_ip(&self, id: &str) -> NetworkResult<()> {
        if !self.store.delete_floating_ip(id)? {
            return Err(not_found(id));
        }
        self.release(id);
        Ok(())
    }
}

impl NetworkState {
    /// The floating IPs associated through `router_id`.
    pub fn floating_ips_of_router(&self, router_id: &str) -> NetworkResult<Vec<FloatingIpRecord>> {
        Ok((self.store.list_floating_ips()?.into_iter())
            .filter(|f| f.router_id.as_deref() == Some(router_id))
            .collect())
    }

    /// For the router service, before it removes `router_id`'s interface
    /// on `subnet_id`: 409 `RouterInterfaceInUseByFloatingIP` while a
    /// floating IP of the router forwards to an address of that subnet.
    pub fn check_interface_removal(&self, router_id: &str, subnet_id: &str) -> NetworkResult<()> {
        for f in self.floating_ips_of_router(router_id)? {
            let (Some(port), Some(fixed)) = (&f.port_id, &f.fixed_ip_address) else {
                continue;
            };
            let on_subnet = (self.store.get_port(port)?.into_iter())
                .flat_map(|p| p.fixed_ips)
                .any(|ip| &ip.ip_address == fixed && ip.subnet_id == subnet_id);
            if on_subnet {
                return Err(NetworkError::conflict(
                    "RouterInterfaceInUseByFloatingIP",
                    format!("Router interface for subnet {subnet_id} on router {router_id} cannot be deleted, as it is required by one or more floating IPs."),
                ));
            }
        }
        Ok(())
    }

    /// For the router service, before it clears or moves `router_id`'s
    /// gateway on `network_id`: 409 `RouterExternalGatewayInUseByFloatingIp`
    /// while floating IPs go through the router.
    pub fn check_gateway_removal(&self, router_id: &str, network_id: &str) -> NetworkResult<()> {
        let used = (self.floating_ips_of_router(router_id)?.iter())
            .any(|f| f.floating_network_id == network_id);
        if used {
            return Err(NetworkError::conflict(
                "RouterExternalGatewayInUseByFloatingIp",
                format!("Gateway cannot be updated for router {router_id}, since a gateway to external network {network_id} is required by one or more floating IPs."),
            ));
        }
        Ok(())
    }
}

/// A store error of a floating IP write, in Neutron's words.
pub fn fip_error(e: ferrostack_store::StoreError) -> NetworkError {
    match e.floating_ip_conflict() {
        Some(c) => NetworkError::conflict("FloatingIPPortAlreadyAssociated", c.to_string()),
        None => e.into(),
    }
}

/// The floating IPs `router_id` carries (associated through it), for its
/// section of its gateway host's document, by floating address.
pub fn desired_floating_ips(fips: &[FloatingIpRecord], router_id: &str) -> Vec<FloatingIp> {
    let mut out: Vec<FloatingIp> = (fips.iter())
        .filter_map(|f| f.carried().filter(|c| c.0 == router_id).map(|c| (f, c)))
        .map(|(f, (_, floating, fixed))| FloatingIp {
            id: f.id.clone(),
            floating_ip_address: floating.to_string(),
            fixed_ip_address: fixed.to_string(),
        })
        .collect();
    out.sort_by(|a, b| a.floating_ip_address.cmp(&b.floating_ip_address));
    out
}

/// The generation a router's floating IPs give it: the latest change of
/// the ones it carries, or of one that left it (µs since the epoch). The
/// router's generation is the max of this and its own.
pub fn floating_ips_generation(
    store: &dyn FloatingIpStore,
    fips: &[FloatingIpRecord],
    router_id: &str,
) -> ferrostack_store::StoreResult<u64> {
    let carried = (fips.iter())
        .filter(|f| f.router_id.as_deref() == Some(router_id))
        .map(|f| f.updated_at)
        .max()
        .unwrap_or(0);
    let left = store.floating_ips_changed_at(router_id)?;
    Ok(carried.max(left).max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fip(id: &str, router: Option<&str>, floating: &str, at: i64) -> FloatingIpRecord {
        FloatingIpRecord {
            id: id.into(),
            project_id: "p".into(),
            floating_network_id: "ext".into(),
            floating_ip_address: floating.into(),
            floating_port_id: format!("{id}-port"),
            port_id: router.map(|_| format!("{id}-fixed")),
            fixed_ip_address: router.map(|_| "10.0.0.5".to_string()),
            router_id: router.map(str::to_owned),
            description: String::new(),
            tags: vec![],
            status: "ACTIVE".into(),
            created_at: at,
            updated_at: at,
            revision_number: 1,
        }
    }

    #[test]
    fn a_router_carries_only_its_associated_floating_ips() {
        let fips = [
            fip("b", Some("r1"), "203.0.113.9", 1),
            fip("a", Some("r1"), "203.0.113.7", 2),
            fip("c", Some("r2"), "203.0.113.8", 3),
            fip("d", None, "203.0.113.6", 4),
        ];
        let d = desired_floating_ips(&fips, "r1");
        let got: Vec<(&str, &str)> = (d.iter())
            .map(|f| (f.id.as_str(), f.floating_ip_address.as_str()))
            .collect();
        assert_eq!(got, [("a", "203.0.113.7"), ("b", "203.0.113.9")]);
        assert!(desired_floating_ips(&fips, "r3").is_empty());
    }
}
