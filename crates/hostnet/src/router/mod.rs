//! The router driver: a network namespace per router, its ports as veth
//! pairs into the networks' bridges, forwarding, routes, and NAT in one
//! nft table of its own ([`nat`]).
//!
//! ```text
//!  brq<ext> ── rg-<11 of port> ═veth═ qg-<11>  gateway address, floating IPs /32,
//!                                     │        default route via the subnet's gateway
//!                     qrouter-<id>    │  forwarding, nft table: SNAT, DNAT per FIP
//!  brq<net> ── rq-<11 of port> ═veth═ qr-<11>  the port's MAC and addresses
//! ```
//!
//! Why a namespace and nftables, not Neutron's L3 agent (iptables chains
//! rewritten by a Python process, keepalived for HA): the namespace is a
//! complete IP stack that the kernel keeps without us (a restarted agent
//! finds it forwarding), and one nft table per router, replaced in one
//! atomic transaction, makes a re-apply cost nothing to the connections
//! running through it (conntrack keeps their translation). Floating IPs
//! are map elements, so the rule count does not grow with them.
//!
//! Floating addresses are put on `qg-` as /32 rather than answered by
//! proxy ARP: the namespace then answers ARP for them by itself (with
//! the gateway port's MAC, which is what the external network knows),
//! `ip addr` shows them, and the gratuitous ARP of a new or moved
//! floating IP ([`sys::announce`]) has an address to come from. DNAT in
//! prerouting sends their traffic on before local delivery.
//!
//! Convergence follows the other drivers: `list()` reads the kernel (the
//! namespaces with the router prefix that are this host's: a marker file
//! in the state dir, or a veth in this host's namespace with the router
//! id in its alias) and reports a router absent when it is broken (its
//! table gone, a recorded link or its bridge end missing, forwarding
//! off), so the engine ensures it again at the same generation. An
//! ensure changes only what differs, and never flushes NAT state.

pub mod nat;
mod ports;
pub mod ra;
pub mod sys;

use crate::kernel::{Kernel, Link, Route};
use crate::names::{self, RouterPort};
use crate::network::find;
use crate::{error_chain, Error, HostNetConfig, Result};
use ferrostack_agent::drivers::{Details, DriverFuture, ObjectDriver};
use ferrostack_host_contract::network::DesiredRouter;
use ferrostack_host_contract::{HostDesired, Kind};
use nat::NatPlan;
use ports::{first_v4, floating_ips, parse_mac};
use ra::{Advertisers, RaLink};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// The identity (device, inode) of named namespace `ns`.
fn netns_identity(ns: &str) -> Option<NetnsId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/run/netns/{ns}"))
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// A namespace's identity (device, inode): one deleted and made again
/// under the same name is another namespace.
type NetnsId = (u64, u64);

/// Converges [`DesiredRouter`]s.
#[derive(Debug, Clone)]
pub struct RouterDriver {
    cfg: Arc<HostNetConfig>,
    kernel: Kernel,
    /// Per router namespace, a kernel handle and the namespace it was
    /// opened in (a namespace deleted and made again is another one).
    inner: Arc<Mutex<HashMap<String, (NetnsId, Kernel)>>>,
    /// The router advertisers running in this process.
    ra: Arc<Advertisers>,
}

/// What the marker file of a router records: its namespace, and what it
/// advertises (for a restarted agent to advertise again).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Marker {
    namespace: String,
    #[serde(default)]
    ra: Vec<RaLink>,
}

/// What one port's plumbing changed that the caller acts on.
struct Plumbed {
    /// The addresses newly put on its link.
    added: Vec<IpAddr>,
    /// Its link inside the namespace.
    link: Link,
}

impl RouterDriver {
    /// A driver for the host `cfg` describes.
    pub fn new(cfg: Arc<HostNetConfig>) -> Self {
        let kernel = Kernel::new(cfg.netns.clone());
        RouterDriver {
            cfg,
            kernel,
            inner: Arc::default(),
            ra: Arc::default(),
        }
    }

    fn marker(&self, id: &str) -> Result<PathBuf> {
        names::check_token(id)?;
        Ok(self.cfg.state_dir.join("routers").join(id))
    }

    /// The kernel handle of namespace `ns`, which exists.
    fn inner(&self, ns: &str) -> Result<Kernel> {
        let identity = netns_identity(ns)
            .ok_or_else(|| Error::Missing(format!("namespace {ns} does not exist")))?;
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(ns) {
            Some((have, k)) if *have == identity => Ok(k.clone()),
            _ => {
                let k = Kernel::new(Some(ns.to_owned()));
                map.insert(ns.to_owned(), (identity, k.clone()));
                Ok(k)
            }
        }
    }

    /// The routers of this host whose namespace exists and is whole.
    pub async fn existing(&self) -> Result<Vec<String>> {
        let prefix = &self.cfg.router_netns_prefix;
        let host_links = self.kernel.links(Some("veth")).await?;
        let mut out = Vec::new();
        for ns in self.kernel.namespaces().await? {
            let Some(id) = ns.strip_prefix(prefix.as_str()) else {
                continue;
            };
            if names::check_token(id).is_err() {
                continue;
            }
            let ours = self.marker(id)?.exists()
                || host_links.iter().any(|l| l.ifalias.as_deref() == Some(id));
            if !ours {
                continue;
            }
            match self.whole(&ns, &host_links).await {
                Ok(true) => {
                    self.restore_ra(id, &ns);
                    out.push(id.to_owned());
                }
                Ok(false) => {
                    tracing::warn!(router = %id, "router namespace is incomplete; ensuring it again")
                }
                Err(e) => {
                    tracing::warn!(router = %id, error = %error_chain(&e), "router namespace unreadable; ensuring it again")
                }
            }
        }
        Ok(out)
    }

    /// A router found whole but without its advertiser here (the agent
    /// restarted): it advertises again what its marker file records.
    fn restore_ra(&self, id: &str, ns: &str) {
        if self.ra.running(id) {
            return;
        }
        let Ok(path) = self.marker(id) else {
            return;
        };
        let marker: Marker = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        if !marker.ra.is_empty() {
            if let Err(e) = self.ra.set(id, ns, netns_identity(ns), marker.ra) {
                tracing::warn!(router = %id, error = %e, "router advertisements not restored");
            }
        }
    }

    /// Whether namespace `ns` still has its table, the links it records,
    /// their ends in bridges, and forwarding on.
    async fn whole(&self, ns: &str, host_links: &[Link]) -> Result<bool> {
        let Some(table) = self.read_table(ns).await? else {
            return Ok(false);
        };
        let inner = self.inner(ns)?;
        let links = inner.links(None).await?;
        for p in &table.ports {
            let inside = links.iter().any(|l| &l.ifname == p);
            let outer = names::router_outer(p);
            let bridged = host_links
                .iter()
                .any(|l| Some(&l.ifname) == outer.as_ref() && l.master.is_some());
            if !inside || !bridged {
                return Ok(false);
            }
        }
        sys::forwarding(ns)
            .await
            .map_err(Error::kernel(format!("forwarding in {ns}")))
    }

    /// The router table of namespace `ns`, read back; `None` when absent.
    pub async fn read_table(&self, ns: &str) -> Result<Option<nat::NatRead>> {
        let argv = [
            "nft",
            "-j",
            "list",
            "table",
            "ip",
            self.cfg.nft_table.as_str(),
        ];
        match self.kernel.exec_in(Some(ns), &argv, None).await {
            Ok(out) => {
                let v: serde_json::Value =
                    serde_json::from_str(&out).map_err(|source| Error::Output {
                        argv: argv.iter().map(|s| s.to_string()).collect(),
                        source,
                    })?;
                Ok(Some(nat::read(&v)))
            }
            Err(Error::Command { stderr, .. }) if stderr.contains("No such file") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Makes router `r`'s namespace match it.
    pub async fn converge(&self, desired: &HostDesired, r: &DesiredRouter) -> Result<Details> {
        let ns = names::router_netns(&self.cfg, &r.id)?;
        if !self.kernel.namespaces().await?.contains(&ns) {
            self.kernel.run(&["ip", "netns", "add", &ns], None).await?;
        }
        let marker = self.marker(&r.id)?;
        if let Some(dir) = marker.parent() {
            std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        }
        if !marker.exists() {
            // Ours from now on, even before it has a port.
            std::fs::write(&marker, "{}").map_err(Error::io(&marker))?;
        }
        let inner = self.inner(&ns)?;
        inner.set_up("lo").await?;
        sys::enable_forwarding(&ns)
            .await
            .map_err(Error::kernel(format!("forwarding in {ns}")))?;

        let gw_v4 = match &r.gateway {
            Some(g) => first_v4(g)?,
            None => None,
        };
        let fips = if gw_v4.is_some() {
            floating_ips(r)?
        } else {
            Vec::new()
        };
        let mut wanted = Vec::new();
        let mut routes = Vec::new();
        let mut announce = None;
        if let Some(g) = &r.gateway {
            let extra: Vec<String> = fips.iter().map(|(f, _)| format!("{f}/32")).collect();
            let p = self
                .plumb(desired, r, RouterPort::Gateway, g, &ns, &inner, &extra)
                .await?;
            for ip in &g.fixed_ips {
                let gw = r
                    .subnets
                    .iter()
                    .find(|s| s.id == ip.subnet_id)
                    .and_then(|s| s.gateway_ip.as_deref());
                if let Some(gw) = gw {
                    let via = names::check_ip(gw)?;
                    let dst = if via.is_ipv4() {
                        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                    } else {
                        IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
                    };
                    let route = Route { dst, len: 0, via };
                    if !routes.contains(&route) {
                        routes.push(route);
                    }
                }
            }
            let added: Vec<Ipv4Addr> = p
                .added
                .iter()
                .filter_map(|a| match a {
                    IpAddr::V4(v4) => Some(*v4),
                    IpAddr::V6(_) => None,
                })
                .collect();
            announce = Some((p.link, added));
            wanted.push(names::router_veth(RouterPort::Gateway, &g.id)?.1);
        }
        let mut ra_links = Vec::new();
        for p in &r.interfaces {
            self.plumb(desired, r, RouterPort::Interface, p, &ns, &inner, &[])
                .await?;
            let inn = names::router_veth(RouterPort::Interface, &p.id)?.1;
            if let Some(l) = self.ra_link(desired, r, p, &inn)? {
                ra_links.push(l);
            }
            wanted.push(inn);
        }
        for l in inner.links(Some("veth")).await? {
            let ours = l.ifname.starts_with("qr-") || l.ifname.starts_with("qg-");
            if ours && !wanted.contains(&l.ifname) {
                inner.delete_link(&l.ifname).await?;
            }
        }
        for (dst, via) in &r.routes {
            let (dst, len) = names::check_prefix(dst)?;
            let route = Route {
                dst,
                len,
                via: names::check_ip(via)?,
            };
            if !routes.contains(&route) {
                routes.push(route);
            }
        }
        if !r.admin_state_up {
            routes.clear();
        }
        let have = inner.static_routes().await?;
        for old in have.iter().filter(|h| !routes.contains(h)) {
            inner.del_route(old).await?;
        }
        for new in routes.iter().filter(|w| !have.contains(w)) {
            inner.add_route(new).await?;
        }

        wanted.sort();
        let plan = NatPlan {
            ports: wanted.clone(),
            gateway: match (&r.gateway, gw_v4) {
                (Some(g), Some(a)) => Some((names::router_veth(RouterPort::Gateway, &g.id)?.1, a)),
                _ => None,
            },
            enable_snat: r.enable_snat,
            fips: fips.clone(),
        };
        let script = nat::render(&self.cfg.nft_table, &plan);
        self.kernel
            .exec_in(Some(&ns), &["nft", "-f", "-"], Some(&script))
            .await?;
        if let Some((link, added)) = announce.filter(|(l, a)| !a.is_empty() && l.is_up()) {
            let mac = link.address.as_deref().and_then(parse_mac);
            if let Some(mac) = mac {
                sys::announce(&ns, link.index, mac, added)
                    .await
                    .map_err(Error::kernel(format!("gratuitous ARP in {ns}")))?;
            }
        }
        if !r.admin_state_up {
            ra_links.clear();
        }
        let record = Marker {
            namespace: ns.clone(),
            ra: ra_links.clone(),
        };
        let text = serde_json::to_string(&record).unwrap_or_default();
        std::fs::write(&marker, text).map_err(Error::io(&marker))?;
        self.ra
            .set(&r.id, &ns, netns_identity(&ns), ra_links)
            .map_err(Error::kernel(format!("router advertisements in {ns}")))?;
        let mut details = Details::new();
        details.insert("namespace".into(), ns.into());
        if let Some(a) = gw_v4 {
            details.insert("gateway_ip".into(), a.to_string().into());
        }
        details.insert("interfaces".into(), r.interfaces.len().into());
        details.insert("floating_ips".into(), fips.len().into());
        Ok(details)
    }

    /// Tears router `id` down: its advertiser, veths, namespace, marker.
    pub async fn teardown(&self, id: &str) -> Result<()> {
        let ns = names::router_netns(&self.cfg, id)?;
        self.ra.stop(id);
        for l in self.kernel.links(Some("veth")).await? {
            let ours = l.ifname.starts_with("rq-") || l.ifname.starts_with("rg-");
            if ours && l.ifalias.as_deref() == Some(id) {
                self.kernel.delete_link(&l.ifname).await?;
            }
        }
        if self.kernel.namespaces().await?.contains(&ns) {
            self.kernel.run(&["ip", "netns", "del", &ns], None).await?;
        }
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&ns);
        let marker = self.marker(id)?;
        match std::fs::remove_file(&marker) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&marker)(e)),
            _ => Ok(()),
        }
    }
}

impl ObjectDriver for RouterDriver {
    fn kind(&self) -> Kind {
        Kind::Router
    }

    fn list(&self) -> DriverFuture<'_, Vec<String>> {
        Box::pin(async move { self.existing().await.map_err(|e| error_chain(&e)) })
    }

    fn ensure<'a>(&'a self, desired: &'a HostDesired, id: &'a str) -> DriverFuture<'a, Details> {
        Box::pin(async move {
            let r = find(&desired.network.routers, "router", id, |r| &r.id)
                .map_err(|e| error_chain(&e))?;
            self.converge(desired, r).await.map_err(|e| error_chain(&e))
        })
    }

    fn remove<'a>(&'a self, id: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move { self.teardown(id).await.map_err(|e| error_chain(&e)) })
    }
}
