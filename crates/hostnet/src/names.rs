//! Kernel object names derived from document ids, and the checks every
//! name and address passes before it reaches a command line.
//!
//! Interface names are at most 15 bytes (`IFNAMSIZ` - 1), so a bridge is
//! its prefix and the first 11 characters of the network id; the full id
//! is kept in the link's alias for `list()`. Namespace names carry the full
//! id. Everything is checked against a small alphabet, so nothing from the
//! document can smuggle an option or an nft token into a command.

use crate::{Error, HostNetConfig, Result};
use std::net::IpAddr;

/// The longest interface name the kernel takes.
pub const IFNAMSIZ_MAX: usize = 15;

fn plain(s: &str, extra: &[char]) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(&c))
}

/// An interface name: 1-15 bytes of `[A-Za-z0-9_.-]`, not starting with `-`.
pub fn check_ifname(name: &str) -> Result<()> {
    if name.len() <= IFNAMSIZ_MAX && plain(name, &['-', '.']) {
        Ok(())
    } else {
        Err(Error::invalid("interface name", name))
    }
}

/// A network namespace name: `[A-Za-z0-9_.-]`, at most 64 bytes.
pub fn check_netns(name: &str) -> Result<()> {
    if name.len() <= 64 && plain(name, &['-', '.']) && name != "." && name != ".." {
        Ok(())
    } else {
        Err(Error::invalid("namespace name", name))
    }
}

/// An object id or nft identifier: `[A-Za-z0-9_-]`, at most 64 bytes.
pub fn check_token(s: &str) -> Result<()> {
    if s.len() <= 64 && plain(s, &['-']) {
        Ok(())
    } else {
        Err(Error::invalid("identifier", s))
    }
}

/// An IPv4 or IPv6 address, returned parsed.
pub fn check_ip(s: &str) -> Result<IpAddr> {
    s.parse().map_err(|_| Error::invalid("IP address", s))
}

/// An address or a CIDR, returned as (network-normalised address, prefix).
pub fn check_prefix(s: &str) -> Result<(IpAddr, u8)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip = check_ip(addr).map_err(|_| Error::invalid("prefix", s))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| Error::invalid("prefix", s))?,
        None => max,
    };
    Ok((mask(ip, len), len))
}

fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

/// A prefix rendered for nft: a bare address for a host prefix.
pub fn render_prefix(s: &str) -> Result<(bool, String)> {
    let (ip, len) = check_prefix(s)?;
    let host = if ip.is_ipv4() { 32 } else { 128 };
    let text = if len == host {
        ip.to_string()
    } else {
        format!("{ip}/{len}")
    };
    Ok((ip.is_ipv4(), text))
}

/// A MAC address, returned lower-case.
pub fn check_mac(s: &str) -> Result<String> {
    let parts: Vec<&str> = s.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(Error::invalid("MAC address", s))
    }
}

/// The IPv6 link-local address SLAAC derives from a MAC (EUI-64).
pub fn link_local(mac: &str) -> Result<IpAddr> {
    let mac = check_mac(mac)?;
    let b: Vec<u8> = mac
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).unwrap_or(0))
        .collect();
    let seg = [
        0xfe80,
        0,
        0,
        0,
        u16::from_be_bytes([b[0] ^ 0x02, b[1]]),
        u16::from_be_bytes([b[2], 0xff]),
        u16::from_be_bytes([0xfe, b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
    ];
    Ok(IpAddr::V6(std::net::Ipv6Addr::new(
        seg[0], seg[1], seg[2], seg[3], seg[4], seg[5], seg[6], seg[7],
    )))
}

fn short_id(id: &str) -> Result<String> {
    check_token(id)?;
    Ok(id.chars().take(11).collect())
}

/// The bridge of network `id`.
pub fn bridge(cfg: &HostNetConfig, network_id: &str) -> Result<String> {
    let name = format!("{}{}", cfg.bridge_prefix, short_id(network_id)?);
    check_ifname(&name)?;
    Ok(name)
}

/// The VXLAN device of VNI `vni`.
pub fn vxlan(vni: u32) -> String {
    format!("vxlan-{vni}")
}

/// The VLAN sub-interface of network `id` (its own name: `<iface>.<vid>`
/// may not fit in 15 bytes).
pub fn vlan(network_id: &str, vid: u16) -> Result<String> {
    let short: String = short_id(network_id)?.chars().take(8).collect();
    Ok(format!("vl{vid}-{short}")
        .chars()
        .take(IFNAMSIZ_MAX)
        .collect())
}

/// The DHCP namespace of network `id`.
pub fn dhcp_netns(cfg: &HostNetConfig, network_id: &str) -> Result<String> {
    check_token(network_id)?;
    let name = format!("{}{network_id}", cfg.dhcp_netns_prefix);
    check_netns(&name)?;
    Ok(name)
}

/// The host end of network `id`'s DHCP veth (in the bridge).
pub fn dhcp_veth(network_id: &str) -> Result<String> {
    Ok(format!("dhq{}", short_id(network_id)?))
}

/// The veth pair joining network `id`'s bridge to a mapped physical
/// bridge (flat networks on `br-ex`-style mappings): (ours, theirs).
pub fn phys_veth(network_id: &str) -> Result<(String, String)> {
    let short = short_id(network_id)?;
    Ok((format!("pvq{short}"), format!("pbq{short}")))
}

/// The namespace of router `id`.
pub fn router_netns(cfg: &HostNetConfig, router_id: &str) -> Result<String> {
    check_token(router_id)?;
    let name = format!("{}{router_id}", cfg.router_netns_prefix);
    check_netns(&name)?;
    Ok(name)
}

/// The role of a router's port: its link names differ by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterPort {
    /// On the external network (`qg-`).
    Gateway,
    /// On a tenant network (`qr-`).
    Interface,
}

/// A router port's veth pair: (the end in the network's bridge, the end
/// inside the router's namespace), `rg-`/`qg-` for the gateway and
/// `rq-`/`qr-` for an interface, with 11 characters of the port id, as
/// Neutron names the inside ends.
pub fn router_veth(role: RouterPort, port_id: &str) -> Result<(String, String)> {
    let short = short_id(port_id)?;
    Ok(match role {
        RouterPort::Gateway => (format!("rg-{short}"), format!("qg-{short}")),
        RouterPort::Interface => (format!("rq-{short}"), format!("qr-{short}")),
    })
}

/// The end in the bridge of the router veth whose inside end is `inner`
/// (`qr-…` -> `rq-…`, `qg-…` -> `rg-…`).
pub fn router_outer(inner: &str) -> Option<String> {
    if let Some(s) = inner.strip_prefix("qr-") {
        Some(format!("rq-{s}"))
    } else {
        inner.strip_prefix("qg-").map(|s| format!("rg-{s}"))
    }
}

/// The DHCP veth's end inside the DHCP namespace.
pub const DHCP_INNER: &str = "ns-dhcp";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_and_reject_options() {
        let cfg = HostNetConfig::new("/tmp".into());
        let id = "0123456789abcdef-0123";
        assert_eq!(bridge(&cfg, id).unwrap(), "brq0123456789a");
        assert!(bridge(&cfg, "-rf").is_err());
        assert!(bridge(&cfg, "a b").is_err());
        assert!(check_ifname("0123456789abcdef").is_err());
        assert_eq!(vxlan(16_777_215).len(), 14);
        assert!(vlan(id, 4094).unwrap().len() <= 15);
        assert_eq!(dhcp_veth(id).unwrap(), "dhq0123456789a");
        let (outer, inner) = router_veth(RouterPort::Interface, id).unwrap();
        assert_eq!(
            (outer.as_str(), inner.as_str()),
            ("rq-0123456789a", "qr-0123456789a")
        );
        assert_eq!(router_outer(&inner).as_deref(), Some(outer.as_str()));
        assert_eq!(
            router_veth(RouterPort::Gateway, id).unwrap().1,
            "qg-0123456789a"
        );
        assert_eq!(router_outer("eth0"), None);
        assert_eq!(router_netns(&cfg, id).unwrap(), format!("qrouter-{id}"));
        assert!(router_netns(&cfg, "../x").is_err());
    }

    #[test]
    fn prefixes_are_normalised() {
        assert_eq!(render_prefix("10.0.0.7/24").unwrap().1, "10.0.0.0/24");
        assert_eq!(render_prefix("10.0.0.7").unwrap().1, "10.0.0.7");
        assert_eq!(render_prefix("::/0").unwrap().1, "::/0");
        assert!(render_prefix("10.0.0.0/33").is_err());
        assert!(render_prefix("10.0.0.0/8; drop").is_err());
    }

    #[test]
    fn link_local_from_mac() {
        assert_eq!(
            link_local("fa:16:3e:11:22:33").unwrap().to_string(),
            "fe80::f816:3eff:fe11:2233"
        );
        assert!(check_mac("fa:16:3e:11:22").is_err());
    }
}
