//! Which drivers carry a host's network section: the real data plane
//! (`ferrostack-hostnet`: bridges, VXLAN, taps, nftables, dnsmasq, router
//! namespaces) on a
//! QEMU host that has its prerequisites (root, iproute2, nft, dnsmasq,
//! /dev/net/tun), else the in-memory fakes, so a controller that writes
//! network sections still sees its objects converge on a fake or an
//! unprivileged host (and the VMs gated on their ports still start).
//!
//! The same choice serves `ferrostack agent` (flags below) and the
//! in-process agent of `allinone` (the defaults: no tunnel, no physical
//! networks; local networks work, VXLAN ones report why they cannot).
//! `ferrostack deploy` fills the flags from the answer file: the host's
//! address as `--tunnel-ip` (the device holding it is looked up here, so
//! deploy need not know the hosts' interface names), the VXLAN group and
//! CONFIG_NEUTRON_OVS_BRIDGE_MAPPINGS as `--physical-network`.

use crate::compute_host::Driver;
use anyhow::Context;
use clap::Args;
use ferrostack_agent::drivers::{FakeObjects, ObjectDriver};
use ferrostack_agent::metadata_proxy::MetadataProxy;
use ferrostack_host_contract::metadata::MetadataSource;
use ferrostack_host_contract::Kind;
use ferrostack_hostnet::{
    DhcpDriver, HostNetConfig, NetworkDriver, PortDriver, RouterDriver, Tunnel,
};
use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;

/// The host data plane's options.
#[derive(Args, Debug, Clone, Default)]
pub struct HostNetArgs {
    /// This host's tunnel (VXLAN underlay) address; a host name is
    /// resolved at start.
    #[arg(long)]
    pub tunnel_ip: Option<String>,
    /// The underlay device VXLAN devices are bound to (default: the
    /// interface that holds --tunnel-ip, looked up at start; what
    /// `ferrostack deploy` relies on).
    #[arg(long, requires = "tunnel_ip")]
    pub tunnel_device: Option<String>,
    /// A multicast group for VXLAN networks without one of their own
    /// (default: unicast to the peers the controller lists).
    #[arg(long)]
    pub vxlan_group: Option<String>,
    /// `physnet:interface` for flat and VLAN networks (repeatable).
    #[arg(long = "physical-network", value_name = "PHYSNET:IFACE")]
    pub physical_networks: Vec<String>,
    /// Keep network objects in memory instead of programming this host's
    /// kernel (control-plane tests on a machine whose network must not be
    /// touched; guests with NICs cannot start then).
    #[arg(long)]
    pub fake_network: bool,
    /// The port this host's NBD server (volume exports to other hosts)
    /// listens on, at --tunnel-ip (default 10809).
    #[arg(long)]
    pub nbd_port: Option<u16>,
}

impl HostNetArgs {
    /// `--tunnel-ip` resolved to an address, as the host registers it
    /// (the other hosts of its VXLAN networks send to it).
    pub fn tunnel_address(&self) -> anyhow::Result<Option<String>> {
        self.tunnel_ip
            .as_deref()
            .map(|given| resolve(given).map(|ip| ip.to_string()))
            .transpose()
    }

    fn config(&self, state_dir: &Path) -> anyhow::Result<HostNetConfig> {
        let mut cfg = HostNetConfig::new(state_dir.to_path_buf());
        if let Some(given) = &self.tunnel_ip {
            let ip = resolve(given)?;
            let device = match &self.tunnel_device {
                Some(d) => d.clone(),
                None => {
                    let out = std::process::Command::new("ip")
                        .args(["-o", "addr", "show"])
                        .output()
                        .context("cannot run `ip -o addr show` to find the tunnel device")?;
                    anyhow::ensure!(
                        out.status.success(),
                        "`ip -o addr show` exited with {}: {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                    device_holding(&String::from_utf8_lossy(&out.stdout), ip).with_context(|| {
                        format!("no interface of this host holds the tunnel address {ip} (--tunnel-ip {given}); add it, or pass --tunnel-device")
                    })?
                }
            };
            tracing::info!(%ip, device = %device, "tunnel endpoint");
            cfg.tunnel = Some(Tunnel {
                local_ip: ip.to_string(),
                device,
            });
        }
        cfg.vxlan_group = self.vxlan_group.clone();
        for m in &self.physical_networks {
            let (physnet, iface) = m
                .split_once(':')
                .with_context(|| format!("--physical-network {m:?} is not PHYSNET:IFACE"))?;
            cfg.physical_networks.insert(physnet.into(), iface.into());
        }
        cfg.validate().context("invalid host network options")?;
        Ok(cfg)
    }
}

/// `--tunnel-ip`'s address: the address itself, or a host name's first
/// address (IPv4 preferred: VXLAN multicast groups are IPv4).
fn resolve(given: &str) -> anyhow::Result<IpAddr> {
    if let Ok(ip) = given.parse() {
        return Ok(ip);
    }
    let addrs: Vec<IpAddr> = (given, 0)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve --tunnel-ip {given}"))?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .with_context(|| format!("--tunnel-ip {given} resolves to no address"))
}

/// The interface holding `ip`, from `ip -o addr show`'s lines
/// (`2: eth0    inet 10.0.0.5/24 brd ... scope global eth0\ ...`; a veth
/// shows as `veth0@if4`).
fn device_holding(ip_o_addr: &str, ip: IpAddr) -> Option<String> {
    ip_o_addr.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        let _index = f.next()?;
        let name = f.next()?;
        let family = f.next()?;
        let addr = f.next()?;
        let addr: IpAddr = addr.split('/').next()?.parse().ok()?;
        (matches!(family, "inet" | "inet6") && addr == ip)
            .then(|| name.split('@').next().unwrap_or(name).to_string())
    })
}

/// Where the DHCP servers' files live. dnsmasq drops to `nobody` and
/// reads them as that user, so not under the private data dir: under
/// /run (gone at reboot, like the dnsmasq processes; their leases are all
/// static), one directory per data dir so two agents on a machine (tests)
/// keep apart, the same one across restarts so a restarted agent adopts.
fn dhcp_state_dir(data_dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let root = Path::new("/run/ferrostack");
    let dir = dhcp_state_path(data_dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for d in [root, dir.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot open {} to dnsmasq", d.display()))?;
    }
    Ok(dir)
}

/// [`dhcp_state_dir`]'s path, without creating it (`net show` only reads).
pub fn dhcp_state_path(data_dir: &Path) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data_dir.as_os_str().as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Path::new("/run/ferrostack").join(format!("network-{h:016x}"))
}

/// The network, port, router and DHCP drivers for host `host` (DHCP files under
/// [`dhcp_state_dir`]); guests' metadata requests go to `metadata`.
pub fn drivers(
    driver: Driver,
    data_dir: &Path,
    args: &HostNetArgs,
    host: &str,
    metadata: Arc<dyn MetadataSource>,
) -> anyhow::Result<Vec<Arc<dyn ObjectDriver>>> {
    let fakes = || -> Vec<Arc<dyn ObjectDriver>> {
        [Kind::Network, Kind::Port, Kind::Dhcp, Kind::Router]
            .into_iter()
            .map(|k| Arc::new(FakeObjects::new(k)) as Arc<dyn ObjectDriver>)
            .collect()
    };
    if driver == Driver::Fake || args.fake_network {
        return Ok(fakes());
    }
    if let Err(why) = ferrostack_hostnet::prerequisites() {
        tracing::warn!(reason = %why, "no host data plane here: network objects are kept in memory only");
        return Ok(fakes());
    }
    let cfg = Arc::new(args.config(&dhcp_state_dir(data_dir)?)?);
    tracing::info!(tunnel = ?cfg.tunnel.as_ref().map(|t| &t.local_ip), "host data plane: Linux bridges, nftables, dnsmasq, router namespaces");
    Ok(vec![
        Arc::new(NetworkDriver::new(cfg.clone())),
        Arc::new(PortDriver::new(cfg.clone())),
        Arc::new(RouterDriver::new(cfg.clone())),
        Arc::new(DhcpDriver::new(cfg).with_metadata(Arc::new(MetadataProxy::new(host, metadata)))),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fake_host_gets_fake_network_drivers() {
        struct NoMetadata;
        impl MetadataSource for NoMetadata {
            fn metadata<'a>(
                &'a self,
                _: &'a str,
                _: &'a str,
                _: &'a str,
            ) -> ferrostack_host_contract::StateFuture<
                'a,
                Option<ferrostack_host_contract::metadata::MetadataAnswer>,
            > {
                Box::pin(async { Ok(None) })
            }
        }
        let d = drivers(
            Driver::Fake,
            Path::new("/nonexistent"),
            &HostNetArgs::default(),
            "h1",
            Arc::new(NoMetadata),
        )
        .expect("drivers");
        let kinds: Vec<Kind> = d.iter().map(|d| d.kind()).collect();
        assert_eq!(
            kinds,
            vec![Kind::Network, Kind::Port, Kind::Dhcp, Kind::Router]
        );
    }

    #[test]
    fn the_tunnel_device_is_the_interface_holding_the_address() {
        let out = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n\
                   2: eth0    inet 192.168.1.11/24 brd 192.168.1.255 scope global eth0\\       valid_lft forever\n\
                   2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever\n\
                   7: veth-h1@if6    inet 10.99.0.2/24 scope global veth-h1\\       valid_lft forever\n";
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            device_holding(out, ip("192.168.1.11")).as_deref(),
            Some("eth0")
        );
        assert_eq!(device_holding(out, ip("fe80::1")).as_deref(), Some("eth0"));
        assert_eq!(
            device_holding(out, ip("10.99.0.2")).as_deref(),
            Some("veth-h1")
        );
        assert_eq!(device_holding(out, ip("192.168.1.12")), None);
        assert_eq!(resolve("10.1.0.5").unwrap(), ip("10.1.0.5"));
        let args = HostNetArgs {
            tunnel_ip: Some("10.1.0.5".into()),
            ..HostNetArgs::default()
        };
        assert_eq!(args.tunnel_address().unwrap().as_deref(), Some("10.1.0.5"));
        assert_eq!(HostNetArgs::default().tunnel_address().unwrap(), None);
    }

    #[test]
    fn physical_networks_parse_and_bad_names_are_refused() {
        let args = HostNetArgs {
            tunnel_ip: Some("10.1.0.5".into()),
            tunnel_device: Some("eth1".into()),
            vxlan_group: None,
            physical_networks: vec!["physnet1:eth2".into()],
            fake_network: false,
            nbd_port: None,
        };
        let cfg = args.config(Path::new("/var/lib/x")).expect("config");
        assert_eq!(cfg.physical_networks["physnet1"], "eth2");
        let bad = HostNetArgs {
            physical_networks: vec!["physnet1:-rf".into()],
            ..args
        };
        assert!(bad.config(Path::new("/var/lib/x")).is_err());
    }
}
