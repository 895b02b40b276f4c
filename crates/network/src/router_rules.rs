//! The rules over a router's whole set of ports and its static routes,
//! in Neutron's words: one router port per subnet, no two subnets of a
//! router overlapping (the gateway counts every subnet of its external
//! network), at most one IPv4 address on an interface port, and every
//! route's next hop on a connected subnet and not the router's own
//! address.
//!
//! [`RouterRules::check`] is what the store calls inside each router
//! write, with the router and its ports as they would be after it, so
//! two concurrent writes cannot each pass against the other's "before".
//! The route list's own format (`routes` on update, the extra-route
//! actions) is read by [`parse_routes`] before any write.

use crate::error::{NetworkError, NetworkResult};
use crate::ipam::{canonical_ip, parse_ip, Cidr};
use crate::NetworkState;
use ferrostack_store::network::{HostRoute, Port, Refusal, Subnet};
use ferrostack_store::router::{Router, ROUTER_GATEWAY_OWNER, ROUTER_INTERFACE_OWNER};
use http::StatusCode;
use serde_json::Value;
use std::collections::BTreeMap;

/// Neutron's default `max_routes`: static routes per router.
pub const MAX_ROUTES: usize = 30;

/// Python's repr of a route list, as Neutron's messages print it.
fn routes_repr(routes: &[HostRoute]) -> String {
    let items: Vec<String> = routes
        .iter()
        .map(|r| {
            format!(
                "{{'destination': '{}', 'nexthop': '{}'}}",
                r.destination, r.nexthop
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// Read a `routes` list: objects of exactly `destination` (a CIDR) and
/// `nexthop` (an address), no duplicates, at most [`MAX_ROUTES`].
pub fn parse_routes(value: &Value, router_id: &str) -> NetworkResult<Vec<HostRoute>> {
    let bad = |reason: String| NetworkError::invalid_input("routes", reason);
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => return Err(bad(format!("'{other}' is not a list"))),
    };
    let mut routes: Vec<HostRoute> = Vec::new();
    for item in items {
        let Some(o) = item.as_object() else {
            return Err(bad(format!("'{item}' is not a dictionary")));
        };
        if o.len() != 2 || !o.contains_key("destination") || !o.contains_key("nexthop") {
            return Err(bad(format!(
                "Validation of dictionary's keys failed. Expected keys: {{'destination', 'nexthop'}} Provided keys: {{{}}}",
                o.keys().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ")
            )));
        }
        let destination = o["destination"].as_str().unwrap_or_default();
        let nexthop = o["nexthop"].as_str().unwrap_or_default();
        let Some(cidr) = Cidr::parse(destination) else {
            return Err(bad(format!("'{destination}' is not a valid IP subnet")));
        };
        if Cidr::parse_strict(destination).is_none() {
            return Err(bad(format!(
                "'{destination}' isn't a recognized IP subnet cidr, '{}' is recommended",
                cidr.text()
            )));
        }
        let Some(nexthop) = canonical_ip(nexthop) else {
            return Err(bad(format!("'{nexthop}' is not a valid IP address")));
        };
        let route = HostRoute {
            destination: cidr.text(),
            nexthop,
        };
        if routes.contains(&route) {
            return Err(bad(format!("Duplicate hostroute '{item}'")));
        }
        routes.push(route);
    }
    if routes.len() > MAX_ROUTES {
        return Err(NetworkError::bad_request(format!(
            "Unable to complete operation for {router_id}. The number of routes exceeds the maximum {MAX_ROUTES}."
        )));
    }
    Ok(routes)
}

/// What a route error means: a route asked for that is not connected
/// (400 `InvalidRoutes`), or an interface removal that would leave a
/// route's next hop unconnected (409 `RouterInterfaceInUseByRoute`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteBreak {
    /// The routes are being set.
    Invalid,
    /// An interface is being removed.
    InUse,
}

/// The rules over a router's ports and routes, checked by the store
/// inside each router write (see the module doc).
pub struct RouterRules {
    /// Every subnet, by id (subnets with addresses on them cannot go
    /// away during the write, and their CIDRs never change).
    pub subnets: BTreeMap<String, Subnet>,
    /// The port this write adds, whose subnets must be new to the router
    /// and not overlap its others.
    pub new_port: Option<String>,
    /// What a route whose next hop is not connected means.
    pub routes: RouteBreak,
}

impl RouterRules {
    /// Over the store's subnets now.
    pub fn new(
        state: &NetworkState,
        new_port: Option<String>,
        routes: RouteBreak,
    ) -> NetworkResult<Self> {
        let subnets = (state.store.list_subnets()?.into_iter())
            .map(|s| (s.id.clone(), s))
            .collect();
        Ok(RouterRules {
            subnets,
            new_port,
            routes,
        })
    }

    /// The subnets a router port stands on: an interface's addresses'
    /// subnets; every subnet of the gateway's network (as Neutron counts
    /// them).
    fn port_subnets<'a>(&'a self, p: &'a Port) -> Vec<&'a Subnet> {
        if p.device_owner == ROUTER_GATEWAY_OWNER {
            return (self.subnets.values())
                .filter(|s| s.network_id == p.network_id)
                .collect();
        }
        (p.fixed_ips.iter())
            .filter_map(|ip| self.subnets.get(&ip.subnet_id))
            .collect()
    }

    /// Check `router` with `ports` (the store calls this in the write).
    pub fn check(&self, router: &Router, ports: &[Port]) -> Result<(), Refusal> {
        self.verify(router, ports)
            .map_err(|e| Box::new(e) as Refusal)
    }

    /// The same check with Neutron's error, for a write planned but not
    /// made yet (so its own failures, such as the address being taken,
    /// do not hide the rule it breaks).
    pub fn verify(&self, router: &Router, ports: &[Port]) -> NetworkResult<()> {
        self.check_ports(ports)?;
        self.check_routes(router, ports)
    }

    fn check_ports(&self, ports: &[Port]) -> NetworkResult<()> {
        let Some(new_id) = &self.new_port else {
            return Ok(());
        };
        let Some(new) = ports.iter().find(|p| &p.id == new_id) else {
            return Ok(());
        };
        if new.device_owner == ROUTER_INTERFACE_OWNER {
            if new.fixed_ips.is_empty() {
                return Err(NetworkError::bad_request(
                    "Router port must have at least one fixed IP",
                ));
            }
            let v4 = (new.fixed_ips.iter())
                .filter(|ip| parse_ip(&ip.ip_address).is_some_and(|(_, v6)| !v6))
                .count();
            if v4 > 1 {
                return Err(NetworkError::bad_request(
                    "Cannot have multiple IPv4 subnets on router port",
                ));
            }
        }
        let mine = self.port_subnets(new);
        for other in ports.iter().filter(|p| &p.id != new_id) {
            for existing in self.port_subnets(other) {
                for s in &mine {
                    if s.id == existing.id {
                        return Err(NetworkError::bad_request(format!(
                            "Router already has a port on subnet {}",
                            s.id
                        )));
                    }
                    if overlap(&s.cidr, &existing.cidr) {
                        return Err(NetworkError::bad_request(format!(
                            "Cidr {} of subnet {} overlaps with cidr {} of subnet {}",
                            s.cidr, s.id, existing.cidr, existing.id
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    fn check_routes(&self, router: &Router, ports: &[Port]) -> NetworkResult<()> {
        let connected: Vec<&Subnet> = ports.iter().flat_map(|p| self.port_subnets(p)).collect();
        let own: Vec<&str> = (ports.iter().flat_map(|p| p.fixed_ips.iter()))
            .map(|ip| ip.ip_address.as_str())
            .collect();
        for route in &router.routes {
            let hop = parse_ip(&route.nexthop);
            let within = |s: &Subnet| {
                let c = Cidr::parse(&s.cidr);
                matches!((c, hop), (Some(c), Some((v, v6))) if c.v6 == v6 && c.contains(v))
            };
            if connected.iter().any(|s| within(s)) {
                if own.contains(&route.nexthop.as_str()) {
                    return Err(invalid_routes(
                        &router.routes,
                        "the nexthop is used by router",
                    ));
                }
                continue;
            }
            return Err(match self.routes {
                RouteBreak::Invalid => {
                    invalid_routes(&router.routes, "the nexthop is not connected with router")
                }
                RouteBreak::InUse => {
                    let subnet = (self.subnets.values())
                        .find(|s| within(s))
                        .map(|s| s.id.clone())
                        .unwrap_or_default();
                    NetworkError::conflict(
                        "RouterInterfaceInUseByRoute",
                        format!(
                            "Router interface for subnet {subnet} on router {} cannot be deleted, as it is required by one or more routes.",
                            router.id
                        ),
                    )
                }
            });
        }
        Ok(())
    }
}

fn invalid_routes(routes: &[HostRoute], reason: &str) -> NetworkError {
    NetworkError::new(
        StatusCode::BAD_REQUEST,
        "InvalidRoutes",
        format!(
            "Invalid format for routes: {}, {reason}.",
            routes_repr(routes)
        ),
    )
}

/// Do two CIDRs share an address?
fn overlap(a: &str, b: &str) -> bool {
    match (Cidr::parse(a), Cidr::parse(b)) {
        (Some(a), Some(b)) if a.v6 == b.v6 => a.contains(b.network) || b.contains(a.network),
        _ => false,
    }
}
