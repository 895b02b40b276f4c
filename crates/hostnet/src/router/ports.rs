//! One router port's plumbing (its veth pair, MAC, MTU, addresses) and
//! the checks of what the document gives the router.

use super::ra::RaLink;
use super::{Plumbed, RouterDriver};
use crate::kernel::{Kernel, LinkState};
use crate::names::{self, RouterPort};
use crate::network::find;
use crate::{Error, Result};
use ferrostack_host_contract::network::{DesiredPort, DesiredRouter};
use ferrostack_host_contract::HostDesired;
use std::net::{IpAddr, Ipv4Addr};

impl RouterDriver {
    /// What interface `p` (link `inn`) advertises: the IPv6 prefixes of
    /// its subnets with `ipv6_ra_mode` set, by the first one's mode.
    pub(super) fn ra_link(
        &self,
        desired: &HostDesired,
        r: &DesiredRouter,
        p: &DesiredPort,
        inn: &str,
    ) -> Result<Option<RaLink>> {
        let mut mode = None;
        let mut prefixes = Vec::new();
        for ip in &p.fixed_ips {
            let Some(s) = r.subnets.iter().find(|s| s.id == ip.subnet_id) else {
                continue;
            };
            let (Some(m), (IpAddr::V6(net), len)) =
                (&s.ipv6_ra_mode, names::check_prefix(&s.cidr)?)
            else {
                continue;
            };
            names::check_token(m)?;
            mode.get_or_insert_with(|| m.clone());
            if !prefixes.contains(&(net, len)) {
                prefixes.push((net, len));
            }
        }
        let Some(mode) = mode else {
            return Ok(None);
        };
        let net = find(&desired.network.networks, "network", &p.network_id, |n| {
            &n.id
        })?;
        let mac = parse_mac(&names::check_mac(&p.mac_address)?)
            .ok_or_else(|| Error::invalid("MAC address", &p.mac_address))?;
        Ok(Some(RaLink {
            ifname: inn.to_owned(),
            mac,
            mtu: net.mtu,
            mode,
            prefixes,
        }))
    }

    /// One port's veth pair: the outer end in its network's bridge (the
    /// router id in its alias), the inner end with the port's MAC, the
    /// network's MTU, the port's addresses (and `extra` ones) with their
    /// subnets' prefix lengths.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn plumb(
        &self,
        desired: &HostDesired,
        r: &DesiredRouter,
        role: RouterPort,
        p: &DesiredPort,
        ns: &str,
        inner: &Kernel,
        extra: &[String],
    ) -> Result<Plumbed> {
        let net = find(&desired.network.networks, "network", &p.network_id, |n| {
            &n.id
        })?;
        let br = names::bridge(&self.cfg, &net.id)?;
        if self.kernel.link(&br).await?.is_none() {
            return Err(Error::Missing(format!(
                "bridge {br} of network {} does not exist yet",
                net.id
            )));
        }
        let (outer, inn) = names::router_veth(role, &p.id)?;
        if inner.link(&inn).await?.is_none() {
            self.kernel.delete_link(&outer).await?;
            self.kernel.create_veth(&outer, &inn, Some(ns)).await?;
        }
        let have = self
            .kernel
            .link(&outer)
            .await?
            .ok_or_else(|| Error::Missing(format!("veth {outer} vanished after creation")))?;
        let want = LinkState {
            mtu: net.mtu,
            alias: Some(&r.id),
            master: Some(&br),
            up: true,
        };
        self.kernel.converge_link(&have, &want).await?;
        let mac = names::check_mac(&p.mac_address)?;
        let have = inner
            .link(&inn)
            .await?
            .ok_or_else(|| Error::Missing(format!("{inn} vanished in {ns}")))?;
        if have.address.as_deref().map(str::to_ascii_lowercase) != Some(mac.clone()) {
            inner.set_mac(&inn, &mac).await?;
        }
        let want = LinkState {
            mtu: net.mtu,
            alias: None,
            master: None,
            up: r.admin_state_up && p.admin_state_up && net.admin_state_up,
        };
        inner.converge_link(&have, &want).await?;
        let mut addrs: Vec<String> = Vec::new();
        for ip in &p.fixed_ips {
            let Some(subnet) = r.subnets.iter().find(|s| s.id == ip.subnet_id) else {
                continue;
            };
            let a = names::check_ip(&ip.ip_address)?;
            let (_, len) = names::check_prefix(&subnet.cidr)?;
            addrs.push(format!("{a}/{len}"));
        }
        addrs.extend(extra.iter().cloned());
        let have_addrs = inner.addresses(&inn).await?;
        let mut added = Vec::new();
        for a in addrs.iter().filter(|a| !have_addrs.contains(a)) {
            inner.add_address(&inn, a).await?;
            if let Some(ip) = a.split('/').next().and_then(|s| s.parse().ok()) {
                added.push(ip);
            }
        }
        for a in have_addrs.iter().filter(|a| !addrs.contains(a)) {
            inner.del_address(&inn, a).await?;
        }
        let link = inner
            .link(&inn)
            .await?
            .ok_or_else(|| Error::Missing(format!("{inn} vanished in {ns}")))?;
        Ok(Plumbed { added, link })
    }
}

/// The first IPv4 fixed address of port `p`.
pub(super) fn first_v4(p: &DesiredPort) -> Result<Option<Ipv4Addr>> {
    for ip in &p.fixed_ips {
        if let IpAddr::V4(a) = names::check_ip(&ip.ip_address)? {
            return Ok(Some(a));
        }
    }
    Ok(None)
}

/// Router `r`'s floating IPs as (floating, fixed), IPv4, each floating
/// and each fixed address once (the first wins).
pub(super) fn floating_ips(r: &DesiredRouter) -> Result<Vec<(Ipv4Addr, Ipv4Addr)>> {
    let mut out: Vec<(Ipv4Addr, Ipv4Addr)> = Vec::new();
    for f in &r.floating_ips {
        let (IpAddr::V4(floating), IpAddr::V4(fixed)) = (
            names::check_ip(&f.floating_ip_address)?,
            names::check_ip(&f.fixed_ip_address)?,
        ) else {
            return Err(Error::invalid(
                "floating IP (IPv4 only)",
                &f.floating_ip_address,
            ));
        };
        if !out.iter().any(|(a, b)| *a == floating || *b == fixed) {
            out.push((floating, fixed));
        }
    }
    Ok(out)
}

pub(super) fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrostack_host_contract::network::FloatingIp;

    fn fip(f: &str, x: &str) -> FloatingIp {
        FloatingIp {
            id: format!("fip-{f}"),
            floating_ip_address: f.into(),
            fixed_ip_address: x.into(),
        }
    }

    #[test]
    fn floating_ips_are_v4_and_unique() {
        let mut r = DesiredRouter {
            id: "r1".into(),
            gateway: None,
            enable_snat: true,
            interfaces: vec![],
            subnets: vec![],
            routes: vec![],
            floating_ips: vec![
                fip("172.24.4.20", "10.0.0.5"),
                fip("172.24.4.20", "10.0.0.6"),
                fip("172.24.4.21", "10.0.0.5"),
                fip("172.24.4.22", "10.0.0.7"),
            ],
            admin_state_up: true,
            generation: 1,
            deleted: false,
        };
        let got = floating_ips(&r).expect("fips");
        assert_eq!(got.len(), 2);
        r.floating_ips.push(fip("2001:db8::1", "10.0.0.9"));
        assert!(floating_ips(&r).is_err());
        r.floating_ips = vec![fip("172.24.4.30; flush ruleset", "10.0.0.9")];
        assert!(floating_ips(&r).is_err());
        assert_eq!(
            parse_mac("fa:16:3e:00:00:01"),
            Some([0xfa, 0x16, 0x3e, 0, 0, 1])
        );
        assert_eq!(parse_mac("fa:16"), None);
    }
}
