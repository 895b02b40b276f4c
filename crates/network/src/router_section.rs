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
//! Floating IPs are not derived here: `floating_ips` stays empty until
//! the floating IP service fills it.
//!
//! The generation is the latest of the router's update, its contents
//! time (moved when a port comes or goes, so a removed interface still
//! moves it) and its ports' updates, in µs: it only grows.

use crate::host_section::desired_port;
use ferrostack_host_contract::network::{DesiredRouter, RouterSubnet};
use ferrostack_store::network::{Port, Subnet};
use ferrostack_store::router::{
    is_router_owner, Router, ROUTER_GATEWAY_OWNER, ROUTER_INTERFACE_OWNER,
};

/// Is `p` a port of some router (to keep it out of the VM ports)?
pub fn is_router_port(p: &Port) -> bool {
    is_router_owner(&p.device_owner)
}

/// The routers `host` runs, from every router, port and subnet.
pub fn desired_routers(
    routers: &[Router],
    ports: &[Port],
    subnets: &[Subnet],
    host: &str,
) -> Vec<DesiredRouter> {
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
            floating_ips: Vec::new(),
            admin_state_up: r.admin_state_up,
            generation: generation.max(0) as u64,
            deleted: false,
        });
    }
    out
}
