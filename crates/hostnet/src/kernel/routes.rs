//! Routes over route netlink (`ip route add|del|show`), for the router
//! namespaces: their default route and static routes.
//!
//! The routes the data plane adds carry protocol `static` (`proto
//! static` in `ip route`), which is how [`Kernel::static_routes`] tells
//! them from the kernel's own (a connected subnet's route is `proto
//! kernel`): converging a router's routes touches only ours.

use super::Kernel;
use crate::rtnl;
use crate::Result;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage as Rtm};
use std::net::IpAddr;

/// One route: destination prefix and next hop.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// The destination's network address.
    pub dst: IpAddr,
    /// Its prefix length (0: the default route).
    pub len: u8,
    /// The next hop.
    pub via: IpAddr,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} via {}", self.dst, self.len, self.via)
    }
}

/// `RTM_NEWROUTE`/`RTM_DELROUTE` of `r` in the main table, `proto static`
/// (`ip route replace|del D/L via G proto static`).
pub(crate) fn route_message(r: &Route) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = match r.dst {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    m.header.destination_prefix_length = r.len;
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Static;
    m.header.scope = RouteScope::Universe;
    m.header.kind = RouteType::Unicast;
    if r.len > 0 {
        m.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(r.dst)));
    }
    m.attributes
        .push(RouteAttribute::Gateway(RouteAddress::from(r.via)));
    m
}

fn addr(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// The main table's `proto static` routes with one next hop among `all`.
pub(crate) fn static_routes_of<'a>(all: impl IntoIterator<Item = &'a RouteMessage>) -> Vec<Route> {
    let mut out: Vec<Route> = all
        .into_iter()
        .filter(|m| m.header.protocol == RouteProtocol::Static)
        .filter(|m| m.header.table == RouteHeader::RT_TABLE_MAIN)
        .filter_map(|m| {
            let via = m.attributes.iter().find_map(|a| match a {
                RouteAttribute::Gateway(g) => addr(g),
                _ => None,
            })?;
            let dst = m
                .attributes
                .iter()
                .find_map(|a| match a {
                    RouteAttribute::Destination(d) => addr(d),
                    _ => None,
                })
                .unwrap_or(match via {
                    IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                    IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                });
            Some(Route {
                dst,
                len: m.header.destination_prefix_length,
                via,
            })
        })
        .collect();
    out.sort();
    out
}

impl Kernel {
    /// The `proto static` routes of the main table, both families (`ip
    /// route show proto static`, `ip -6 route show proto static`).
    pub async fn static_routes(&self) -> Result<Vec<Route>> {
        let mut out = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut req = RouteMessage::default();
            req.header.address_family = family;
            let all = self
                .rtnl("RTM_GETROUTE dump", |s| s.dump(Rtm::GetRoute(req)))
                .await?;
            let routes = all.iter().filter_map(|m| match m {
                Rtm::NewRoute(r) => Some(r),
                _ => None,
            });
            out.extend(static_routes_of(routes));
        }
        Ok(out)
    }

    /// Adds (or replaces) route `r` (`ip route replace D/L via G proto
    /// static`).
    pub async fn add_route(&self, r: &Route) -> Result<()> {
        let what = format!("RTM_NEWROUTE {r}");
        self.request(
            &what,
            Rtm::NewRoute(route_message(r)),
            NLM_F_CREATE | NLM_F_REPLACE,
        )
        .await
    }

    /// Removes route `r` (`ip route del D/L via G`); absent is fine.
    pub async fn del_route(&self, r: &Route) -> Result<()> {
        let what = format!("RTM_DELROUTE {r}");
        let m = Rtm::DelRoute(route_message(r));
        self.rtnl(&what, |s| match s.ack(m, 0) {
            Err(e) if rtnl::errno(&e) == Some(libc::ESRCH) => Ok(()),
            other => other,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_route_has_no_destination_and_reads_back() {
        let r = Route {
            dst: "0.0.0.0".parse().expect("ip"),
            len: 0,
            via: "172.24.4.1".parse().expect("ip"),
        };
        let m = route_message(&r);
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Destination(_))));
        assert_eq!(static_routes_of([&m]), vec![r.clone()]);
        let mut kernel_route = m.clone();
        kernel_route.header.protocol = RouteProtocol::Kernel;
        assert!(static_routes_of([&kernel_route]).is_empty());
        assert_eq!(r.to_string(), "0.0.0.0/0 via 172.24.4.1");
    }
}
