//! The network driver: a Linux bridge per network and its uplink.
//!
//! ```text
//!   tap… ─┐
//!   dhq… ─┼─ brq<11 of id> ── vxlan-<vni>  (local <tunnel ip>, group or FDB to peers)
//!         │                ── <physical iface>            (flat)
//!         │                ── pvq<11 of id> ═veth═ pbq… in a mapped bridge (flat)
//!         │                ── vl<vid>-<8 of id> on iface  (VLAN, needs 8021q)
//! ```
//!
//! The bridge calls the inet hooks for bridged IP (`nf_call_iptables`,
//! per bridge rather than the host-wide sysctl, so nothing else on the
//! host changes), which the ports' stateful security-group rules need;
//! its traffic gets a conntrack zone of its own ([`nft::zone`]), since
//! networks may reuse each other's addresses.
//! Every ensure compares what the kernel has (links read over netlink, as
//! `ip -json -details` would print them) with what the document says and
//! changes only the difference; a VXLAN device with the wrong VNI, source
//! or group is replaced.

use crate::kernel::{BridgeOptions, Kernel, Link, LinkState};
use crate::{error_chain, names, nft, Error, HostNetConfig, Result};
use ferrostack_agent::drivers::{Details, DriverFuture, ObjectDriver};
use ferrostack_host_contract::network::{DesiredNetwork, Segment};
use ferrostack_host_contract::{HostDesired, Kind};
use std::net::IpAddr;
use std::sync::Arc;

/// Converges [`DesiredNetwork`]s.
#[derive(Debug, Clone)]
pub struct NetworkDriver {
    cfg: Arc<HostNetConfig>,
    kernel: Kernel,
}

impl NetworkDriver {
    /// A driver for the host `cfg` describes.
    pub fn new(cfg: Arc<HostNetConfig>) -> Self {
        let kernel = Kernel::new(cfg.netns.clone());
        NetworkDriver { cfg, kernel }
    }

    /// The ids of the networks whose bridge exists.
    pub async fn existing(&self) -> Result<Vec<String>> {
        let bridges = self.kernel.links(Some("bridge")).await?;
        Ok(bridges
            .into_iter()
            .filter(|l| l.ifname.starts_with(&self.cfg.bridge_prefix))
            .filter_map(|l| l.ifalias)
            .filter(|a| names::check_token(a).is_ok())
            .collect())
    }

    /// Makes network `net`'s bridge and uplink match it.
    pub async fn converge(&self, desired: &HostDesired, net: &DesiredNetwork) -> Result<Details> {
        let br = names::bridge(&self.cfg, &net.id)?;
        let have = match self.kernel.link(&br).await? {
            Some(l) => l,
            None => self.create_bridge(&br).await?,
        };
        if have.data("nf_call_iptables").and_then(|v| v.as_u64()) != Some(1) {
            let hooks = BridgeOptions {
                nf_call_iptables: Some(true),
                nf_call_ip6tables: Some(true),
                ..BridgeOptions::default()
            };
            self.kernel.set_bridge(&br, &hooks).await?;
        }
        let uplink = self.converge_uplink(net, &br).await?;
        self.rejoin_members(desired, net, &br).await?;
        let zone = nft::zone(&net.id);
        self.kernel
            .nft(&nft::zone_transaction(&self.cfg.nft_table, &br, zone))
            .await?;
        let want = LinkState {
            mtu: net.mtu,
            alias: Some(&net.id),
            master: None,
            up: net.admin_state_up,
        };
        self.kernel.converge_link(&have, &want).await?;
        let mut details = Details::new();
        details.insert("bridge".into(), br.into());
        if let Some(u) = uplink {
            details.insert("uplink".into(), u.into());
        }
        Ok(details)
    }

    /// Puts back into the bridge the taps of this network's ports, its
    /// DHCP veth and its routers' veths that exist outside it (the bridge
    /// was deleted and made again): their drivers see them present and
    /// would not.
    async fn rejoin_members(
        &self,
        desired: &HostDesired,
        net: &DesiredNetwork,
        br: &str,
    ) -> Result<()> {
        let n = &desired.network;
        let mut members: Vec<String> = n
            .ports
            .iter()
            .filter(|p| p.network_id == net.id && !p.deleted)
            .map(|p| p.tap.clone())
            .collect();
        if n.dhcp.iter().any(|d| d.network_id == net.id && !d.deleted) {
            members.push(names::dhcp_veth(&net.id)?);
        }
        for r in n.routers.iter().filter(|r| !r.deleted) {
            let gateway = r.gateway.iter().map(|p| (names::RouterPort::Gateway, p));
            let interfaces = r
                .interfaces
                .iter()
                .map(|p| (names::RouterPort::Interface, p));
            for (role, p) in gateway.chain(interfaces) {
                if p.network_id == net.id {
                    members.push(names::router_veth(role, &p.id)?.0);
                }
            }
        }
        let links = self.kernel.links(None).await?;
        for l in links.iter().filter(|l| members.contains(&l.ifname)) {
            if l.master.is_none() {
                self.kernel.set_master(&l.ifname, br).await?;
            }
        }
        Ok(())
    }

    async fn create_bridge(&self, br: &str) -> Result<Link> {
        // The inet hooks from the start: one request, not a second to set
        // them (converge sets them on a bridge found without).
        let options = BridgeOptions {
            stp: Some(false),
            forward_delay: Some(0),
            nf_call_iptables: Some(true),
            nf_call_ip6tables: Some(true),
        };
        self.kernel.create_bridge(br, &options).await?;
        self.kernel
            .link(br)
            .await?
            .ok_or_else(|| Error::Missing(format!("bridge {br} vanished after creation")))
    }

    async fn converge_uplink(&self, net: &DesiredNetwork, br: &str) -> Result<Option<String>> {
        let name = match &net.segment {
            Segment::Local => return Ok(None),
            Segment::Vxlan {
                segmentation_id,
                group,
                peers,
            } => {
                let group = group.as_ref().or(self.cfg.vxlan_group.as_ref());
                // A one-host cloud (allinone) has no tunnel and nothing to
                // reach: the network is this host's bridge alone until a
                // peer or a group appears, which then needs a tunnel.
                if self.cfg.tunnel.is_none() && group.is_none() && peers.is_empty() {
                    return Ok(None);
                }
                self.converge_vxlan(*segmentation_id, group, peers).await?
            }
            Segment::Flat { physical_network } => self.flat_uplink(net, physical_network).await?,
            Segment::Vlan {
                physical_network,
                segmentation_id,
            } => {
                self.converge_vlan(net, physical_network, *segmentation_id)
                    .await?
            }
            Segment::Gre { .. } => {
                return Err(Error::Unsupported(
                    "GRE networks are not carried by the Linux-bridge data plane".into(),
                ))
            }
        };
        let have = self
            .kernel
            .link(&name)
            .await?
            .ok_or_else(|| Error::Missing(format!("uplink {name} does not exist")))?;
        let want = LinkState {
            mtu: have.mtu.max(net.mtu),
            alias: None,
            master: Some(br),
            up: true,
        };
        self.kernel.converge_link(&have, &want).await?;
        Ok(Some(name))
    }

    fn physical(&self, physnet: &str) -> Result<&str> {
        self.cfg
            .physical_networks
            .get(physnet)
            .map(String::as_str)
            .ok_or_else(|| {
                Error::Unsupported(format!(
                    "physical network {physnet:?} is not mapped on this host"
                ))
            })
    }

    /// The mapped interface itself, or, when the mapping names a bridge,
    /// our end of a veth pair whose other end is in that bridge.
    async fn flat_uplink(&self, net: &DesiredNetwork, physnet: &str) -> Result<String> {
        let iface = self.physical(physnet)?.to_owned();
        let link = self.kernel.link(&iface).await?.ok_or_else(|| {
            Error::Missing(format!(
                "physical interface {iface} of {physnet:?} does not exist"
            ))
        })?;
        if link.kind() != Some("bridge") {
            return Ok(iface);
        }
        let (ours, theirs) = names::phys_veth(&net.id)?;
        if self.kernel.link(&theirs).await?.is_none() {
            self.kernel.delete_link(&ours).await?;
            self.kernel.create_veth(&ours, &theirs, None).await?;
        }
        let have = self
            .kernel
            .link(&theirs)
            .await?
            .ok_or_else(|| Error::Missing(format!("veth {theirs} vanished after creation")))?;
        let want = LinkState {
            mtu: have.mtu.max(net.mtu),
            alias: None,
            master: Some(&iface),
            up: true,
        };
        self.kernel.converge_link(&have, &want).await?;
        Ok(ours)
    }

    async fn converge_vxlan(
        &self,
        vni: u32,
        group: Option<&String>,
        peers: &[String],
    ) -> Result<String> {
        let tunnel = self.cfg.tunnel.as_ref().ok_or_else(|| {
            Error::Unsupported(
                "VXLAN network but this host has no tunnel address configured".into(),
            )
        })?;
        if vni == 0 || vni > 0x00ff_ffff {
            return Err(Error::invalid("VNI", &vni.to_string()));
        }
        let group = match group {
            Some(g) => Some(names::check_ip(g)?),
            None => None,
        };
        let local = names::check_ip(&tunnel.local_ip)?;
        let name = names::vxlan(vni);
        if let Some(have) = self.kernel.link(&name).await? {
            let right = have.data("id").and_then(|v| v.as_u64()) == Some(u64::from(vni))
                && have.data("local").and_then(|v| v.as_str()) == Some(local.to_string().as_str())
                && have.data("group").and_then(|v| v.as_str())
                    == group.map(|g| g.to_string()).as_deref();
            if !right {
                self.kernel.delete_link(&name).await?;
            }
        }
        if self.kernel.link(&name).await?.is_none() {
            self.kernel
                .create_vxlan(
                    &name,
                    vni,
                    local,
                    &tunnel.device,
                    self.cfg.vxlan_port,
                    group,
                )
                .await?;
        }
        if group.is_none() {
            self.converge_fdb(&name, peers).await?;
        }
        Ok(name)
    }

    /// The all-zero FDB entries that flood to each peer (head-end
    /// replication), exactly the document's peers.
    async fn converge_fdb(&self, dev: &str, peers: &[String]) -> Result<()> {
        let mut want = Vec::new();
        for p in peers {
            want.push(names::check_ip(p)?);
        }
        let have: Vec<IpAddr> = self
            .kernel
            .flood_peers(dev)
            .await?
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect();
        for p in want.iter().filter(|p| !have.contains(p)) {
            self.kernel.flood_add(dev, *p).await?;
        }
        for p in have.iter().filter(|p| !want.contains(p)) {
            self.kernel.flood_del(dev, *p).await?;
        }
        Ok(())
    }

    async fn converge_vlan(&self, net: &DesiredNetwork, physnet: &str, vid: u16) -> Result<String> {
        if !(1..=4094).contains(&vid) {
            return Err(Error::invalid("VLAN id", &vid.to_string()));
        }
        let iface = self.physical(physnet)?.to_owned();
        let name = names::vlan(&net.id, vid)?;
        if let Some(have) = self.kernel.link(&name).await? {
            let right = have.data("id").and_then(|v| v.as_u64()) == Some(u64::from(vid));
            if right {
                return Ok(name);
            }
            self.kernel.delete_link(&name).await?;
        }
        let created = self.kernel.create_vlan(&name, &iface, vid).await;
        match created {
            Ok(_) => Ok(name),
            Err(e) if !std::path::Path::new("/proc/net/vlan").exists() => {
                Err(Error::Unsupported(format!(
                    "VLAN networks need the kernel's 8021q support, which this host lacks ({})",
                    error_chain(&e)
                )))
            }
            Err(e) => Err(e),
        }
    }

    /// Tears network `id`'s bridge down, with the uplink devices we made.
    pub async fn teardown(&self, id: &str) -> Result<()> {
        let br = names::bridge(&self.cfg, id)?;
        if self.kernel.link(&br).await?.is_none() {
            return Ok(());
        }
        for l in self.kernel.links(None).await? {
            let ours = matches!(l.kind(), Some("vxlan") | Some("vlan"))
                || (l.kind() == Some("veth") && l.ifname.starts_with("pvq"));
            if l.master.as_deref() == Some(br.as_str()) && ours {
                self.kernel.delete_link(&l.ifname).await?;
            }
        }
        self.kernel
            .nft(&nft::zone_removal(&self.cfg.nft_table, &br, nft::zone(id)))
            .await?;
        self.kernel.delete_link(&br).await
    }
}

pub(crate) fn find<'a, T>(
    items: &'a [T],
    what: &str,
    id: &str,
    key: impl Fn(&T) -> &str,
) -> Result<&'a T> {
    items
        .iter()
        .find(|o| key(o) == id)
        .ok_or_else(|| Error::Missing(format!("{what} {id:?} is not in the desired state")))
}

impl ObjectDriver for NetworkDriver {
    fn kind(&self) -> Kind {
        Kind::Network
    }

    fn list(&self) -> DriverFuture<'_, Vec<String>> {
        Box::pin(async move { self.existing().await.map_err(|e| error_chain(&e)) })
    }

    fn ensure<'a>(&'a self, desired: &'a HostDesired, id: &'a str) -> DriverFuture<'a, Details> {
        Box::pin(async move {
            let net = find(&desired.network.networks, "network", id, |n| &n.id)
                .map_err(|e| error_chain(&e))?;
            self.converge(desired, net)
                .await
                .map_err(|e| error_chain(&e))
        })
    }

    fn remove<'a>(&'a self, id: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move { self.teardown(id).await.map_err(|e| error_chain(&e)) })
    }
}
