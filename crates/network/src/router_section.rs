//! The routers of a host's network section: a [`DesiredRouter`] for each
//! router this host runs (its `host`, the network host) that has a
//! gateway or an interface; a router with neither has nothing to run.
//!
//! The router's ports are ports bound to the host, so the section's
//! networks include theirs (the bridges they plug into) and a VXLAN
//! network's peers include the router host, like any carrier. They are
//! not in the section's `ports`: those are VM taps, while a router's
//! ports are wired into its namespace by the router driver.
//!
//! Its floating IPs are those associated through it
//! ([`crate::floating_ips::desired_floating_ips`]).
//!
//! The generation is the latest of the router's update, its contents
//! time (moved when a port comes or goes, so a removed interface still
//! moves it), its ports' updates and its floating IPs' changes (one that
//! left it included: [`crate::floating_ips::floating_ips_generation`]),
//! in µs: it only grows.

use crate::floating_ips::{desired_floating_ips, floating_ips_generation};
use crate::host_section::desired_port;
use ferrostack_host_contract::network::{DesiredRouter, RouterSubnet};
use ferrostack_store::floating_ip::{FloatingIpRecord, FloatingIpStore};
use ferrostack_store::network::{Port, Subnet};
use ferrostack_store::router::{
    is_router_owner, Router, ROUTER_GATEWAY_OWNER, ROUTER_INTERFACE_OWNER,
};
use ferrostack_store::StoreResult;

/// Is `p` a port of some router (to keep it out of the VM ports)?
pub fn is_router_port(p: &Port) -> bool {
    is_router_owner(&p.device_owner)
}

/// Every floating IP, and where to read when one last left a router.
pub struct FloatingIps<'a> {
    /// Every floating IP.
    pub all: &'a [FloatingIpRecord],
    /// The store, for the routers' "floating IPs changed at" times.
    pub store: &'a dyn FloatingIpStore,
}

/// The routers `host` runs, from every router, port, subnet and floating
/// IP.
pub fn desired_routers(
    routers: &[Router],
    ports: &[Port],
    subnets: &[Subnet],
    fips: FloatingIps<'_>,
    host: &str,
) -> StoreResult<Vec<DesiredRouter>> {
    let mut out = Vec::new();
    for r in routers.iter().filter(|r| r.host == host) {
        // The gateway first, then the interfaces (by id): the order of
        // `subnets` follows.
        let mut mine: Vec<&Port> = ports
            .iter()
            .filter(|p| p.device_id == r.id && is_router_port(p))
            .collect();
        mine.sort_by_key(|p| (p.device_owner != ROUTER_GATEWAY_OWNER, &p.id));
        if mine.is_empty() {
            continue;
        }
        let mut generation = r.updated_at.max(r.contents_changed_at);
        for p in &mine {
            generation = generation.max(p.updated_at);
        }
        let generation =
            (generation.max(0) as u64).max(floating_ips_generation(fips.store, fips.all, &r.id)?);
        let mut subnet_ids: Vec<&str> = Vec::new();
        for ip in mine.iter().flat_map(|p| p.fixed_ips.iter()) {
            if !subnet_ids.contains(&ip.subnet_id.as_str()) {
                subnet_ids.push(&ip.subnet_id);
            }
        }
        out.push(DesiredRouter {
            id: r.id.clone(),
            gateway: (mine.iter())
                .find(|p| p.device_owner == ROUTER_GATEWAY_OWNER)
                .map(|p| desired_port(p)),
            enable_snat: r.gateway.as_ref().is_some_and(|g| g.enable_snat),
            interfaces: (mine.iter())
                .filter(|p| p.device_owner == ROUTER_INTERFACE_OWNER)
                .map(|p| desired_port(p))
                .collect(),
            subnets: (subnet_ids.iter())
                .filter_map(|id| subnets.iter().find(|s| s.id == *id))
                .map(|s| RouterSubnet {
                    id: s.id.clone(),
                    cidr: s.cidr.clone(),
                    gateway_ip: s.gateway_ip.clone(),
                    ipv6_ra_mode: s.ipv6_ra_mode.clone(),
                })
                .collect(),
            routes: (r.routes.iter())
                .map(|rt| (rt.destination.clone(), rt.nexthop.clone()))
                .collect(),
            floating_ips: desired_floating_ips(fips.all, &r.id),
            admin_state_up: r.admin_state_up,
            generation,
            deleted: false,
        });
    }
    Ok(out)
}
