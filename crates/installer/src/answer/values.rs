//! The value types of an answer file and their parsers.
//!
//! Each parser takes the value text (already trimmed, full-width
//! punctuation already reported and replaced) and returns either the
//! typed value or every problem in it, each with its character offset
//! inside the value, so the reader can point at the exact column of the
//! bad list entry rather than at the start of the line.

use serde::Serialize;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// A problem inside a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValueError {
    /// Characters from the start of the value.
    pub offset: usize,
    pub message: String,
    pub help: Option<String>,
}

impl ValueError {
    pub(crate) fn at(offset: usize, message: impl Into<String>) -> Self {
        ValueError {
            offset,
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

pub(crate) type Parsed<T> = Result<T, Vec<ValueError>>;

/// A host as the answer file names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum Host {
    /// An IP address.
    Ip(IpAddr),
    /// A host name, to be resolved on every host.
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => ip.fmt(f),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// An IP network, `address/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cidr {
    /// The network address.
    pub address: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// An ML2 type driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkType {
    /// Networks local to one host.
    Local,
    /// Untagged networks on a physical network.
    Flat,
    /// 802.1Q-tagged networks.
    Vlan,
    /// GRE tunnels.
    Gre,
    /// VXLAN tunnels.
    Vxlan,
    /// Geneve tunnels.
    Geneve,
}

impl NetworkType {
    const ALL: [(&'static str, NetworkType); 6] = [
        ("local", NetworkType::Local),
        ("flat", NetworkType::Flat),
        ("vlan", NetworkType::Vlan),
        ("gre", NetworkType::Gre),
        ("vxlan", NetworkType::Vxlan),
        ("geneve", NetworkType::Geneve),
    ];

    /// The name used in the answer file.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("", |(n, _)| n)
    }
}

/// `physnet:bridge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BridgeMapping {
    /// The physical network name Neutron uses.
    pub physnet: String,
    /// The bridge that reaches it.
    pub bridge: String,
}

/// `bridge:interface`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BridgeIface {
    /// The bridge.
    pub bridge: String,
    /// The interface it owns.
    pub iface: String,
}

/// `physnet` or `physnet:min:max`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VlanRange {
    /// The physical network.
    pub physnet: String,
    /// The VLAN ids tenant networks may take, if any.
    pub range: Option<(u16, u16)>,
}

/// Which hypervisor driver the compute hosts run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HypervisorKind {
    /// Real VMs under QEMU (KVM or TCG).
    Qemu,
    /// In-memory VMs.
    Fake,
}

impl HypervisorKind {
    /// The value of `--hypervisor`: `qemu` or `fake`.
    pub fn as_str(self) -> &'static str {
        match self {
            HypervisorKind::Qemu => "qemu",
            HypervisorKind::Fake => "fake",
        }
    }
}

/// The highest VXLAN network identifier (24 bits).
pub const MAX_VNI: u32 = (1 << 24) - 1;

/// The entries of a comma-separated list, trimmed, with their offsets.
/// Empty entries are kept (as empty strings) so they can be reported.
pub(crate) fn items(value: &str) -> Vec<(usize, &str)> {
    if value.trim().is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut start_chars = 0;
    for part in value.split(',') {
        let lead = part.chars().take_while(|c| c.is_whitespace()).count();
        out.push((start_chars + lead, part.trim()));
        start_chars += part.chars().count() + 1;
    }
    out
}

fn list<T>(value: &str, mut one: impl FnMut(usize, &str) -> Parsed<T>) -> Parsed<Vec<T>> {
    let mut good = Vec::new();
    let mut errors = Vec::new();
    for (off, item) in items(value) {
        if item.is_empty() {
            errors.push(
                ValueError::at(off, "empty entry in a comma-separated list")
                    .help("remove the extra comma"),
            );
            continue;
        }
        match one(off, item) {
            Ok(v) => good.push(v),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(good)
    } else {
        Err(errors)
    }
}

fn one_err<T>(offset: usize, message: impl Into<String>, help: Option<String>) -> Parsed<T> {
    Err(vec![ValueError {
        offset,
        message: message.into(),
        help,
    }])
}

/// An IP address or a host name (RFC 1123 labels).
pub(crate) fn host(off: usize, s: &str) -> Parsed<Host> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    if s.contains(':') {
        return one_err(off, format!("malformed IPv6 address \"{s}\""), None);
    }
    if s.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return one_err(
            off,
            format!("malformed IPv4 address \"{s}\""),
            Some("four numbers 0-255 separated by dots, e.g. 192.168.1.10".into()),
        );
    }
    let labels_ok = s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if labels_ok {
        Ok(Host::Name(s.to_string()))
    } else {
        let bad = s
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
            .map(|(i, _)| s[..i].chars().count())
            .unwrap_or(0);
        one_err(
            off + bad,
            format!("\"{s}\" is neither an IP address nor a valid host name"),
            Some("host names are letters, digits, '-' and '.'".into()),
        )
    }
}

/// A comma-separated list of hosts with at least `min` entries.
pub(crate) fn hosts(value: &str, min: usize) -> Parsed<Vec<Host>> {
    let hosts = list(value, host)?;
    if hosts.len() < min {
        return one_err(0, format!("at least {min} host needed"), None);
    }
    Ok(hosts)
}

/// `y` or `n`.
pub(crate) fn boolean(value: &str) -> Parsed<bool> {
    match value {
        "y" => Ok(true),
        "n" => Ok(false),
        other => {
            let help = match other.to_ascii_lowercase().as_str() {
                "yes" | "true" | "1" | "on" => "write y".to_string(),
                "no" | "false" | "0" | "off" => "write n".to_string(),
                _ => "y or n".to_string(),
            };
            one_err(0, format!("\"{other}\" is not y or n"), Some(help))
        }
    }
}

/// A TCP port.
pub(crate) fn port(value: &str) -> Parsed<u16> {
    match value.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => one_err(0, format!("\"{value}\" is not a TCP port (1-65535)"), None),
    }
}

/// An absolute path (`~/` allowed when `tilde`), empty when `optional`.
pub(crate) fn path(value: &str, optional: bool) -> Parsed<Option<PathBuf>> {
    if value.is_empty() {
        return if optional {
            Ok(None)
        } else {
            one_err(0, "a path is needed here", None)
        };
    }
    if value.starts_with('/') || (optional && value.starts_with("~/")) {
        Ok(Some(PathBuf::from(value)))
    } else {
        one_err(
            0,
            format!("\"{value}\" is not an absolute path"),
            Some("start it with /".into()),
        )
    }
}

/// `qemu` or `fake`.
pub(crate) fn hypervisor(value: &str) -> Parsed<HypervisorKind> {
    match value {
        "qemu" => Ok(HypervisorKind::Qemu),
        "fake" => Ok(HypervisorKind::Fake),
        other => one_err(
            0,
            format!("unknown hypervisor \"{other}\""),
            Some("qemu or fake".into()),
        ),
    }
}

/// Network types from [`NetworkType`].
pub(crate) fn network_types(value: &str) -> Parsed<Vec<NetworkType>> {
    let types = list(value, |off, s| {
        NetworkType::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names = NetworkType::ALL.map(|(n, _)| n);
                let e = ValueError::at(off, format!("unknown network type \"{s}\""));
                vec![match crate::diag::did_you_mean(s, names) {
                    Some(m) => e.help(format!("did you mean \"{m}\"?")),
                    None => e.help(format!("one of {}", names.join(", "))),
                }]
            })
    })?;
    if types.is_empty() {
        return one_err(0, "at least one network type needed", None);
    }
    Ok(types)
}

/// An IPv4 multicast address or empty.
pub(crate) fn multicast_group(value: &str) -> Parsed<Option<Ipv4Addr>> {
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<Ipv4Addr>() {
        Ok(ip) if ip.is_multicast() => Ok(Some(ip)),
        Ok(ip) => one_err(
            0,
            format!("{ip} is not a multicast address"),
            Some("multicast groups are 224.0.0.0-239.255.255.255, e.g. 239.1.1.5".into()),
        ),
        Err(_) => one_err(
            0,
            format!("malformed IPv4 address \"{value}\""),
            Some("e.g. 239.1.1.5".into()),
        ),
    }
}

fn number_range<T: std::str::FromStr + PartialOrd + Copy + fmt::Display>(
    off: usize,
    s: &str,
    lo: T,
    hi: T,
    what: &str,
) -> Parsed<(T, T)> {
    let Some((a, b)) = s.split_once(':') else {
        return one_err(
            off,
            format!("\"{s}\" is not a {what} range"),
            Some(format!("min:max, e.g. {lo}:{hi}")),
        );
    };
    let parse = |t: &str, at: usize| match t.trim().parse::<T>() {
        Ok(n) if n >= lo && n <= hi => Ok(n),
        _ => Err(vec![ValueError::at(
            at,
            format!("\"{t}\" is not a {what} ({lo}-{hi})"),
        )]),
    };
    let min = parse(a, off)?;
    let max = parse(b, off + a.chars().count() + 1)?;
    if min > max {
        return one_err(
            off,
            format!("range {min}:{max} ends before it starts"),
            Some(format!("{max}:{min}")),
        );
    }
    Ok((min, max))
}

/// VXLAN network identifier ranges.
pub(crate) fn vni_ranges(value: &str) -> Parsed<Vec<(u32, u32)>> {
    list(value, |off, s| number_range(off, s, 1, MAX_VNI, "VNI"))
}

/// A Linux interface name: 1-15 bytes, no '/', ':' or white space.
fn ifname(off: usize, s: &str, what: &str) -> Result<String, Vec<ValueError>> {
    if s.is_empty() {
        return one_err(off, format!("{what} name is missing"), None);
    }
    if s.len() > 15 || s.contains(['/', ':', ' ', '\t']) || s == "." || s == ".." {
        return one_err(
            off,
            format!("\"{s}\" is not a valid {what} name"),
            Some("at most 15 characters, no '/', ':' or spaces".into()),
        );
    }
    Ok(s.to_string())
}

fn physnet(off: usize, s: &str) -> Result<String, Vec<ValueError>> {
    if s.is_empty() || s.contains(char::is_whitespace) {
        return one_err(off, format!("\"{s}\" is not a physical network name"), None);
    }
    Ok(s.to_string())
}

fn pair<'a>(off: usize, s: &'a str, shape: &str) -> Result<(&'a str, &'a str), Vec<ValueError>> {
    s.split_once(':').ok_or_else(|| {
        vec![ValueError::at(off, format!("\"{s}\" is not {shape}")).help(format!("write {shape}"))]
    })
}

/// `physnet:bridge,...`.
pub(crate) fn bridge_mappings(value: &str) -> Parsed<Vec<BridgeMapping>> {
    list(value, |off, s| {
        let (p, b) = pair(off, s, "physnet:bridge")?;
        Ok(BridgeMapping {
            physnet: physnet(off, p)?,
            bridge: ifname(off + p.chars().count() + 1, b, "bridge")?,
        })
    })
}

/// `bridge:interface,...`.
pub(crate) fn bridge_ifaces(value: &str) -> Parsed<Vec<BridgeIface>> {
    list(value, |off, s| {
        let (b, i) = pair(off, s, "bridge:interface")?;
        Ok(BridgeIface {
            bridge: ifname(off, b, "bridge")?,
            iface: ifname(off + b.chars().count() + 1, i, "interface")?,
        })
    })
}

/// `*` or physical network names.
pub(crate) fn flat_networks(value: &str) -> Parsed<Vec<String>> {
    list(value, physnet)
}

/// `physnet[:min:max],...`.
pub(crate) fn vlan_ranges(value: &str) -> Parsed<Vec<VlanRange>> {
    list(value, |off, s| match s.split_once(':') {
        None => Ok(VlanRange {
            physnet: physnet(off, s)?,
            range: None,
        }),
        Some((p, r)) => Ok(VlanRange {
            physnet: physnet(off, p)?,
            range: Some(number_range(
                off + p.chars().count() + 1,
                r,
                1,
                4094,
                "VLAN id",
            )?),
        }),
    })
}

/// `address/prefix` with no host bits set.
pub(crate) fn cidr(value: &str) -> Parsed<Cidr> {
    let Some((a, p)) = value.split_once('/') else {
        return one_err(
            0,
            format!("\"{value}\" is not in CIDR notation"),
            Some("address/prefix, e.g. 172.24.4.0/24".into()),
        );
    };
    let address: IpAddr = match a.parse() {
        Ok(ip) => ip,
        Err(_) => return one_err(0, format!("malformed IP address \"{a}\""), None),
    };
    let max = if address.is_ipv4() { 32 } else { 128 };
    let p_off = a.chars().count() + 1;
    let prefix = match p.parse::<u8>() {
        Ok(n) if n <= max => n,
        _ => {
            return one_err(
                p_off,
                format!("\"{p}\" is not a prefix length (0-{max})"),
                None,
            )
        }
    };
    let network = mask(address, prefix);
    if network != address {
        return one_err(
            0,
            format!("{value} has host bits set"),
            Some(format!("the network is {network}/{prefix}")),
        );
    }
    Ok(Cidr { address, prefix })
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & m))
        }
        IpAddr::V6(v6) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & m).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_offsets_point_at_entries() {
        assert_eq!(items("a, b,c"), vec![(0, "a"), (3, "b"), (5, "c")]);
        let e = hosts("192.168.1.10,192.168.1.300", 1).unwrap_err();
        assert_eq!(e[0].offset, 13);
        assert!(e[0].message.contains("malformed IPv4"));
    }

    #[test]
    fn hosts_accept_names_and_addresses() {
        let h = hosts("nova01, 192.168.1.11,::1", 1).unwrap();
        assert_eq!(h[0], Host::Name("nova01".into()));
        assert_eq!(h.len(), 3);
        assert!(hosts("", 1).is_err());
        assert!(hosts("", 0).unwrap().is_empty());
        assert_eq!(hosts("a,,b", 0).unwrap_err()[0].offset, 2);
        assert_eq!(host(0, "nova_01").unwrap_err()[0].offset, 4);
    }

    #[test]
    fn cidrs() {
        assert_eq!(cidr("10.0.0.0/8").unwrap().prefix, 8);
        assert!(
            cidr("10.0.0.1/8").unwrap_err()[0].help.as_deref() == Some("the network is 10.0.0.0/8")
        );
        assert_eq!(cidr("10.0.0.0/33").unwrap_err()[0].offset, 9);
        assert!(cidr("10.0.0.0").is_err());
        assert!(cidr("fd00::/64").is_ok());
    }

    #[test]
    fn ranges_and_groups() {
        assert_eq!(
            vni_ranges("10:100,200:300").unwrap(),
            vec![(10, 100), (200, 300)]
        );
        assert_eq!(vni_ranges("10:100,300:200").unwrap_err()[0].offset, 7);
        assert_eq!(vni_ranges("10:16777216").unwrap_err()[0].offset, 3);
        assert!(multicast_group("239.1.1.5").is_ok());
        assert!(multicast_group("192.168.1.5").is_err());
        assert_eq!(vlan_ranges("physnet1:1:4094,p2").unwrap().len(), 2);
    }

    #[test]
    fn booleans_suggest_the_right_letter() {
        assert!(boolean("y").unwrap());
        assert_eq!(
            boolean("yes").unwrap_err()[0].help.as_deref(),
            Some("write y")
        );
    }
}
