//! Ports: the in-process API (create, bind, unbind, delete as plain Rust
//! calls on [`NetworkState`], for compute to give servers NICs) and the
//! address choice behind it. The HTTP handlers are in `ports_api`.
//!
//! A port's addresses are resolved here against its network's subnets
//! (which subnet an address belongs to, SLAAC addresses from the MAC by
//! EUI-64, the default of one IPv4 address plus every SLAAC subnet) and
//! taken by the store in the port's own write transaction, so two
//! concurrent creates never share an address and a refused create leaves
//! nothing behind. Quota is reserved under the port's id first and
//! released if the store refuses.

use crate::error::{NetworkError, NetworkResult};
use crate::ipam::{self, canonical_ip, eui64, ip_text, parse_ip, Cidr};
use crate::NetworkState;
use ferrostack_quota::NETWORK;
use ferrostack_store::network::{
    AddressPair, IpRequest, NetworkConflict, Port, Subnet, DHCP_OWNER,
};
use http::StatusCode;
use serde_json::{json, Map, Value};

/// One `fixed_ips` entry of a request: a subnet, an address, or both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FixedIpSpec {
    /// The subnet.
    pub subnet_id: Option<String>,
    /// The address.
    pub ip_address: Option<String>,
}

/// An allowed address pair as asked: an address or CIDR, and a MAC
/// (`None`: the port's own).
pub type RawPair = (String, Option<String>);

/// What a new port is: Neutron's create attributes, typed.
#[derive(Clone, Debug, Default)]
pub struct PortSpec {
    /// The id to give the port (compute draws its ports' ids before it
    /// creates them, so an undo knows them); a new UUID when `None`.
    pub id: Option<String>,
    /// Owning project.
    pub project_id: String,
    /// The network.
    pub network_id: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Administrative state (Neutron's default: up).
    pub admin_state_up: Option<bool>,
    /// A MAC to use; a random `fa:16:3e:...` one otherwise.
    pub mac_address: Option<String>,
    /// Addresses asked for; `None` for Neutron's default.
    pub fixed_ips: Option<Vec<FixedIpSpec>>,
    /// `compute:nova`, ...
    pub device_owner: String,
    /// The server id, ...
    pub device_id: String,
    /// `binding:host_id`: bind at once to this host.
    pub host_id: Option<String>,
    /// `binding:vnic_type` (`normal`).
    pub vnic_type: Option<String>,
    /// `binding:profile`.
    pub profile: Map<String, Value>,
    /// Allowed address pairs (a missing MAC is the port's).
    pub allowed_address_pairs: Vec<RawPair>,
    /// Defaults to the network's.
    pub port_security_enabled: Option<bool>,
    /// Security group ids (their existence is checked by the caller).
    pub security_groups: Option<Vec<String>>,
    /// Tags.
    pub tags: Vec<String>,
}

/// The `binding:vif_details` of a bound port.
pub fn bound_details() -> Map<String, Value> {
    let v = json!({"port_filter": true, "connectivity": "l2"});
    v.as_object().cloned().unwrap_or_default()
}

/// `ACTIVE` once bound to a host with the port up, `DOWN` otherwise.
pub(crate) fn port_status(port: &Port) -> &'static str {
    if !port.host_id.is_empty() && port.admin_state_up {
        "ACTIVE"
    } else {
        "DOWN"
    }
}

fn invalid_subnet(network_id: &str, subnet_id: &str) -> NetworkError {
    NetworkError::invalid_operation(format!(
        "Failed to create port on network {network_id}, because fixed_ips included invalid subnet {subnet_id}"
    ))
}

fn is_slaac(s: &Subnet) -> bool {
    s.ip_version == 6
        && matches!(
            s.ipv6_address_mode.as_deref(),
            Some("slaac") | Some("dhcpv6-stateless")
        )
}

/// Turn a port's requested addresses into store requests.
pub(crate) fn resolve_ips(
    network_id: &str,
    subnets: &[Subnet],
    mac: [u8; 6],
    requested: Option<&[FixedIpSpec]>,
) -> NetworkResult<Vec<IpRequest>> {
    let cidr_of = |s: &Subnet| {
        Cidr::parse(&s.cidr)
            .ok_or_else(|| NetworkError::internal(format!("stored CIDR {} unreadable", s.cidr)))
    };
    let slaac = |s: &Subnet| -> NetworkResult<IpRequest> {
        let c = cidr_of(s)?;
        Ok(IpRequest {
            subnet_id: s.id.clone(),
            ip_address: Some(ip_text(eui64(&c, mac), true)),
        })
    };
    let Some(requested) = requested else {
        let mut out = Vec::new();
        if let Some(v4) = subnets.iter().find(|s| s.ip_version == 4) {
            out.push(IpRequest {
                subnet_id: v4.id.clone(),
                ip_address: None,
            });
        }
        for s in subnets.iter().filter(|s| is_slaac(s)) {
            out.push(slaac(s)?);
        }
        if let Some(v6) = subnets.iter().find(|s| s.ip_version == 6 && !is_slaac(s)) {
            out.push(IpRequest {
                subnet_id: v6.id.clone(),
                ip_address: None,
            });
        }
        return Ok(out);
    };
    let mut out = Vec::new();
    for spec in requested {
        let subnet = match &spec.subnet_id {
            Some(id) => subnets
                .iter()
                .find(|s| &s.id == id)
                .ok_or_else(|| invalid_subnet(network_id, id))?,
            None => {
                let Some(ip) = &spec.ip_address else {
                    return Err(NetworkError::invalid_operation(
                        "IP allocation requires subnet_id or ip_address",
                    ));
                };
                let (value, v6) = parse_ip(ip).ok_or_else(|| {
                    NetworkError::invalid_input(
                        "fixed_ips",
                        format!("'{ip}' is not a valid IP address"),
                    )
                })?;
                subnets
                    .iter()
                    .find(|s| {
                        Cidr::parse(&s.cidr).is_some_and(|c| c.v6 == v6 && c.usable(value))
                    })
                    .ok_or_else(|| {
                        NetworkError::invalid_operation(format!(
                            "IP address {ip} is not a valid IP for any of the subnets on the specified network"
                        ))
                    })?
            }
        };
        match &spec.ip_address {
            Some(ip) => {
                let cidr = cidr_of(subnet)?;
                let (value, v6) = parse_ip(ip).ok_or_else(|| {
                    NetworkError::invalid_input(
                        "fixed_ips",
                        format!("'{ip}' is not a valid IP address"),
                    )
                })?;
                if v6 != cidr.v6 || !cidr.usable(value) {
                    return Err(NetworkError::invalid_operation(format!(
                        "IP address {ip} is not a valid IP for the specified subnet"
                    )));
                }
                if is_slaac(subnet) {
                    return Err(NetworkError::invalid_operation(format!(
                        "IPv6 address {ip} cannot be directly assigned to a port on subnet {} with {} address mode",
                        subnet.id,
                        subnet.ipv6_address_mode.as_deref().unwrap_or("slaac")
                    )));
                }
                out.push(IpRequest {
                    subnet_id: subnet.id.clone(),
                    ip_address: Some(ip_text(value, v6)),
                });
            }
            None if is_slaac(subnet) => out.push(slaac(subnet)?),
            None => out.push(IpRequest {
                subnet_id: subnet.id.clone(),
                ip_address: None,
            }),
        }
    }
    Ok(out)
}

/// Check allowed address pairs and security groups against port security.
pub(crate) fn check_security(
    port_security: bool,
    pairs: &[AddressPair],
    groups: &[String],
) -> NetworkResult<()> {
    if !port_security && !pairs.is_empty() {
        return Err(NetworkError::conflict(
            "AddressPairAndPortSecurityRequired",
            "Port Security must be enabled in order to have allowed address pairs on a port.",
        ));
    }
    if !port_security && !groups.is_empty() {
        return Err(NetworkError::new(
            StatusCode::BAD_REQUEST,
            "PortSecurityAndIPRequiredForSecurityGroups",
            "Port security must be enabled and port must have an IP address in order to use security groups.",
        ));
    }
    Ok(())
}

/// Read allowed address pairs, the missing MACs being `mac`'s.
pub(crate) fn address_pairs(pairs: &[RawPair], mac: &str) -> NetworkResult<Vec<AddressPair>> {
    pairs
        .iter()
        .map(|(ip, pair_mac)| {
            let ip_ok = canonical_ip(ip).is_some() || Cidr::parse(ip).is_some();
            if !ip_ok {
                return Err(NetworkError::invalid_input(
                    "allowed_address_pairs",
                    format!("'{ip}' is not a valid IP address"),
                ));
            }
            let mac = match pair_mac {
                Some(m) => ipam::parse_mac(m).map(ipam::mac_text).ok_or_else(|| {
                    NetworkError::invalid_input(
                        "allowed_address_pairs",
                        format!("'{m}' is not a valid MAC address"),
                    )
                })?,
                None => mac.to_string(),
            };
            Ok(AddressPair {
                ip_address: ip.clone(),
                mac_address: mac,
            })
        })
        .collect()
}

impl NetworkState {
    /// The subnets of `network_id`, oldest first.
    pub fn subnets_of(&self, network_id: &str) -> NetworkResult<Vec<Subnet>> {
        let mut s: Vec<Subnet> = self
            .store
            .list_subnets()?
            .into_iter()
            .filter(|s| s.network_id == network_id)
            .collect();
        s.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(s)
    }

    /// A new DHCP port for `network`, bound to the DHCP host, for the
    /// store to insert with its first subnet.
    pub(crate) fn dhcp_port_template(&self, network: &ferrostack_store::network::Network) -> Port {
        let now = ferrostack_common::time::now_micros();
        Port {
            id: ferrostack_common::ids::new_uuid(),
            network_id: network.id.clone(),
            project_id: network.project_id.clone(),
            name: String::new(),
            description: String::new(),
            admin_state_up: true,
            mac_address: ipam::random_mac(),
            fixed_ips: Vec::new(),
            device_owner: DHCP_OWNER.into(),
            device_id: format!("dhcp-{}", network.id),
            host_id: self.ml2.dhcp_host.clone(),
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

    /// The security groups of a port of `project_id`: the project's
    /// default group when none are asked for and the port is filtered
    /// (port security on, not a network device), else the ones asked for,
    /// which must exist in the project.
    pub fn groups_for(
        &self,
        project_id: &str,
        filtered: bool,
        requested: Option<&[String]>,
    ) -> NetworkResult<Vec<String>> {
        if !filtered && requested.is_none() {
            return Ok(Vec::new());
        }
        let groups = self.security_groups.for_port(project_id, requested)?;
        Ok(groups.into_iter().map(|g| g.id).collect())
    }

    /// Create a port from `spec`. The caller has checked who may (the
    /// HTTP handlers apply Neutron's policy; compute acts for its users).
    pub fn create_port(&self, spec: PortSpec) -> NetworkResult<Port> {
        let network = self.store.get_network(&spec.network_id)?.ok_or_else(|| {
            crate::attrs::not_found("NetworkNotFound", "Network", &spec.network_id)
        })?;
        let subnets = self.subnets_of(&network.id)?;
        let given_mac = match &spec.mac_address {
            Some(m) => Some(ipam::parse_mac(m).ok_or_else(|| {
                NetworkError::invalid_input(
                    "mac_address",
                    format!("'{m}' is not a valid MAC address"),
                )
            })?),
            None => None,
        };
        let port_security = spec
            .port_security_enabled
            .unwrap_or(network.port_security_enabled);
        let groups = self.groups_for(
            &spec.project_id,
            port_security && !spec.device_owner.starts_with("network:"),
            spec.security_groups.as_deref(),
        )?;
        let now = ferrostack_common::time::now_micros();
        let id = spec
            .id
            .clone()
            .unwrap_or_else(ferrostack_common::ids::new_uuid);
        self.quotas.reserve(
            &NETWORK,
            &spec.project_id,
            &id,
            &[("port".to_string(), 1)].into(),
        )?;
        let result = (|| {
            // A random MAC may collide in the network; try a few.
            let mut attempt = 0;
            loop {
                attempt += 1;
                let mac = given_mac.unwrap_or_else(|| {
                    ipam::parse_mac(&ipam::random_mac()).unwrap_or([0xfa, 0x16, 0x3e, 0, 0, 1])
                });
                let mac_text = ipam::mac_text(mac);
                let pairs = address_pairs(&spec.allowed_address_pairs, &mac_text)?;
                check_security(port_security, &pairs, &groups)?;
                let ips = resolve_ips(&network.id, &subnets, mac, spec.fixed_ips.as_deref())?;
                let host = spec.host_id.clone().unwrap_or_default();
                let mut port = Port {
                    id: id.clone(),
                    network_id: network.id.clone(),
                    project_id: spec.project_id.clone(),
                    name: spec.name.clone(),
                    description: spec.description.clone(),
                    admin_state_up: spec.admin_state_up.unwrap_or(true),
                    mac_address: mac_text,
                    fixed_ips: Vec::new(),
                    device_owner: spec.device_owner.clone(),
                    device_id: spec.device_id.clone(),
                    vif_details: if host.is_empty() {
                        Map::new()
                    } else {
                        bound_details()
                    },
                    host_id: host,
                    vnic_type: spec.vnic_type.clone().unwrap_or_else(|| "normal".into()),
                    profile: spec.profile.clone(),
                    allowed_address_pairs: pairs,
                    port_security_enabled: port_security,
                    security_groups: groups.clone(),
                    status: String::new(),
                    tags: spec.tags.clone(),
                    created_at: now,
                    updated_at: now,
                    revision_number: 1,
                };
                port.status = port_status(&port).into();
                match self.store.create_port(&port, &ips) {
                    Err(e)
                        if given_mac.is_none()
                            && attempt < 5
                            && matches!(
                                e.network_conflict(),
                                Some(NetworkConflict::MacAddressInUse { .. })
                            ) =>
                    {
                        continue
                    }
                    other => return other.map_err(NetworkError::from),
                }
            }
        })();
        if result.is_err() {
            self.release(&id);
        }
        result
    }

    /// The network `id` if `project_id` may put a port on it (its own, or
    /// shared), else Neutron's 404: compute's check of `--network`.
    pub fn usable_network(
        &self,
        project_id: &str,
        id: &str,
    ) -> NetworkResult<ferrostack_store::network::Network> {
        self.store
            .get_network(id)?
            .filter(|n| n.project_id == project_id || n.shared)
            .ok_or_else(|| crate::attrs::not_found("NetworkNotFound", "Network", id))
    }

    /// The ports whose `device_id` is `device_id` (a server's NICs).
    pub fn device_ports(&self, device_id: &str) -> NetworkResult<Vec<Port>> {
        Ok(self
            .store
            .list_ports()?
            .into_iter()
            .filter(|p| p.device_id == device_id)
            .collect())
    }

    /// Bind a port to `host` for `device_id` (compute, before the guest
    /// starts): `binding:vif_type` becomes `tap`, the status `ACTIVE`.
    pub fn bind_port(
        &self,
        port_id: &str,
        host: &str,
        device_id: &str,
        device_owner: &str,
    ) -> NetworkResult<Port> {
        let now = ferrostack_common::time::now_micros();
        self.store
            .update_port(port_id, &mut |p| {
                p.host_id = host.to_string();
                p.device_id = device_id.to_string();
                p.device_owner = device_owner.to_string();
                p.vif_details = bound_details();
                p.status = port_status(p).into();
                p.updated_at = now;
                Ok(None)
            })?
            .ok_or_else(|| crate::attrs::not_found("PortNotFound", "Port", port_id))
    }

    /// Unbind a port (its server went away; the port was the user's).
    pub fn unbind_port(&self, port_id: &str) -> NetworkResult<Port> {
        let now = ferrostack_common::time::now_micros();
        self.store
            .update_port(port_id, &mut |p| {
                p.host_id.clear();
                p.device_id.clear();
                p.device_owner.clear();
                p.vif_details = Map::new();
                p.status = port_status(p).into();
                p.updated_at = now;
                Ok(None)
            })?
            .ok_or_else(|| crate::attrs::not_found("PortNotFound", "Port", port_id))
    }

    /// Delete a port, free its addresses and give back its quota.
    pub fn delete_port(&self, port_id: &str) -> NetworkResult<()> {
        if !self.store.delete_port(port_id)? {
            return Err(crate::attrs::not_found("PortNotFound", "Port", port_id));
        }
        self.release(port_id);
        Ok(())
    }
}
