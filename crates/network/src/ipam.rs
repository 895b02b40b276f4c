//! Address arithmetic for subnets and ports: CIDRs, pools, EUI-64 and
//! MAC addresses. Pure functions; the race-free part of IPAM (taking an
//! address) is the store's, inside its write transaction.
//!
//! Addresses are handled as `u128` (IPv4 in the low 32 bits) so one code
//! path serves both families. Rejected: a CIDR crate for the dozen lines
//! used here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A parsed CIDR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The network address.
    pub network: u128,
    /// Prefix length.
    pub prefix: u8,
    /// IPv6?
    pub v6: bool,
}

/// Parse an address to (value, is IPv6).
pub fn parse_ip(text: &str) -> Option<(u128, bool)> {
    match text.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some((u128::from(u32::from(a)), false)),
        IpAddr::V6(a) => Some((u128::from(a), true)),
    }
}

/// The canonical text of an address.
pub fn ip_text(value: u128, v6: bool) -> String {
    if v6 {
        Ipv6Addr::from(value).to_string()
    } else {
        Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX)).to_string()
    }
}

/// Canonical text of `text`, if it is an address.
pub fn canonical_ip(text: &str) -> Option<String> {
    parse_ip(text).map(|(v, six)| ip_text(v, six))
}

impl Cidr {
    /// Parse `a.b.c.d/n` or `x::/n`; host bits are cleared (Neutron keeps
    /// the CIDR as given only when it is already a network address; it
    /// refuses others, see [`Cidr::parse_strict`]).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = text.trim().split_once('/')?;
        let (value, v6) = parse_ip(addr)?;
        let prefix: u8 = prefix.parse().ok()?;
        if prefix > if v6 { 128 } else { 32 } {
            return None;
        }
        let cidr = Cidr {
            network: 0,
            prefix,
            v6,
        };
        Some(Cidr {
            network: value & cidr.mask(),
            ..cidr
        })
    }

    /// Parse, refusing host bits set (`10.0.0.1/24`).
    pub fn parse_strict(text: &str) -> Option<Cidr> {
        let (addr, _) = text.trim().split_once('/')?;
        let c = Cidr::parse(text)?;
        (parse_ip(addr)?.0 == c.network).then_some(c)
    }

    fn bits(&self) -> u32 {
        if self.v6 {
            128
        } else {
            32
        }
    }

    /// The netmask as a value.
    pub fn mask(&self) -> u128 {
        let host_bits = self.bits() - u32::from(self.prefix);
        let all = if self.v6 {
            u128::MAX
        } else {
            u128::from(u32::MAX)
        };
        if host_bits >= 128 {
            0
        } else {
            all & !((1u128 << host_bits) - 1)
        }
    }

    /// The last address.
    pub fn last(&self) -> u128 {
        let all = if self.v6 {
            u128::MAX
        } else {
            u128::from(u32::MAX)
        };
        self.network | (all & !self.mask())
    }

    /// Number of addresses.
    pub fn size(&self) -> u128 {
        self.last() - self.network + 1
    }

    /// Does the CIDR contain `value` (of the same family)?
    pub fn contains(&self, value: u128) -> bool {
        value >= self.network && value <= self.last()
    }

    /// May `value` be given to a port? In the CIDR, and for IPv4 neither
    /// the network nor the broadcast address (unless /31 or /32).
    pub fn usable(&self, value: u128) -> bool {
        if !self.contains(value) {
            return false;
        }
        self.v6 || self.prefix >= 31 || (value != self.network && value != self.last())
    }

    /// The first and last usable addresses.
    pub fn usable_range(&self) -> (u128, u128) {
        if self.v6 || self.prefix >= 31 {
            (self.network, self.last())
        } else {
            (self.network + 1, self.last() - 1)
        }
    }

    /// Canonical text.
    pub fn text(&self) -> String {
        format!("{}/{}", ip_text(self.network, self.v6), self.prefix)
    }
}

/// The pools Neutron makes when none are given: the usable range minus
/// the gateway (IPv6 pools start after the subnet-router anycast address,
/// the network address itself).
pub fn default_pools(cidr: &Cidr, gateway: Option<u128>) -> Vec<(u128, u128)> {
    let (mut first, last) = cidr.usable_range();
    if cidr.v6 && first == cidr.network {
        first += 1;
    }
    if first > last {
        return Vec::new();
    }
    match gateway {
        Some(g) if g >= first && g <= last => {
            let mut pools = Vec::new();
            if g > first {
                pools.push((first, g - 1));
            }
            if g < last {
                pools.push((g + 1, last));
            }
            pools
        }
        _ => vec![(first, last)],
    }
}

/// A random MAC with OpenStack's `fa:16:3e` prefix.
pub fn random_mac() -> String {
    let b: [u8; 3] = rand::random();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2])
}

/// Parse a MAC to its six bytes.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(parts) {
        if p.len() != 2 {
            return None;
        }
        *o = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

/// Canonical (lower case, colon) text of a MAC.
pub fn mac_text(b: [u8; 6]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The SLAAC address of `mac` on a /64 (EUI-64: the universal/local bit
/// flipped, `ff:fe` in the middle).
pub fn eui64(cidr: &Cidr, mac: [u8; 6]) -> u128 {
    let iid = [
        mac[0] ^ 0x02,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ];
    cidr.network | u128::from(u64::from_be_bytes(iid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_default_pools() {
        let c = Cidr::parse("10.0.0.0/24").unwrap();
        assert_eq!(c.text(), "10.0.0.0/24");
        assert!(Cidr::parse_strict("10.0.0.1/24").is_none());
        let gw = parse_ip("10.0.0.1").unwrap().0;
        let pools = default_pools(&c, Some(gw));
        assert_eq!(
            pools
                .iter()
                .map(|(a, b)| (ip_text(*a, false), ip_text(*b, false)))
                .collect::<Vec<_>>(),
            [("10.0.0.2".to_string(), "10.0.0.254".to_string())]
        );
        assert!(!c.usable(parse_ip("10.0.0.255").unwrap().0));
    }

    #[test]
    fn slaac_address_from_the_mac() {
        let c = Cidr::parse("2001:db8::/64").unwrap();
        let mac = parse_mac("fa:16:3e:12:34:56").unwrap();
        assert_eq!(
            ip_text(eui64(&c, mac), true),
            "2001:db8::f816:3eff:fe12:3456"
        );
    }
}
