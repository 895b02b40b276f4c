//! Which drivers carry a host's network section: the real data plane
//! (`ferrostack-hostnet`: bridges, VXLAN, taps, nftables, dnsmasq) on a
//! QEMU host that has its prerequisites (root, iproute2, nft, dnsmasq,
//! /dev/net/tun), else the in-memory fakes, so a controller that writes
//! network sections still sees its objects converge on a fake or an
//! unprivileged host (and the VMs gated on their ports still start).
//!
//! The same choice serves `ferrostack agent` (flags below) and the
//! in-process agent of `allinone` (the defaults: no tunnel, no physical
//! networks; local networks work, VXLAN ones report why they cannot).

use crate::compute_host::Driver;
use anyhow::Context;
use clap::Args;
use ferrostack_agent::drivers::{FakeObjects, ObjectDriver};
use ferrostack_agent::metadata_proxy::MetadataProxy;
use ferrostack_host_contract::metadata::MetadataSource;
use ferrostack_host_contract::Kind;
use ferrostack_hostnet::{DhcpDriver, HostNetConfig, NetworkDriver, PortDriver, Tunnel};
use std::path::Path;
use std::sync::Arc;

/// The host data plane's options.
#[derive(Args, Debug, Clone, Default)]
pub struct HostNetArgs {
    /// This host's tunnel (VXLAN underlay) address.
    #[arg(long)]
    pub tunnel_ip: Option<String>,
    /// The underlay device VXLAN devices are bound to.
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
}

impl HostNetArgs {
    fn config(&self, state_dir: &Path) -> anyhow::Result<HostNetConfig> {
        let mut cfg = HostNetConfig::new(state_dir.to_path_buf());
        if let Some(ip) = &self.tunnel_ip {
            let device = self
                .tunnel_device
                .clone()
                .context("--tunnel-ip needs --tunnel-device")?;
            cfg.tunnel = Some(Tunnel {
                local_ip: ip.clone(),
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

/// The network, port and DHCP drivers for host `host` (DHCP files under
/// [`dhcp_state_dir`]); guests' metadata requests go to `metadata`.
pub fn drivers(
    driver: Driver,
    data_dir: &Path,
    args: &HostNetArgs,
    host: &str,
    metadata: Arc<dyn MetadataSource>,
) -> anyhow::Result<Vec<Arc<dyn ObjectDriver>>> {
    let fakes = || -> Vec<Arc<dyn ObjectDriver>> {
        [Kind::Network, Kind::Port, Kind::Dhcp]
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
    tracing::info!(tunnel = ?cfg.tunnel.as_ref().map(|t| &t.local_ip), "host data plane: Linux bridges, nftables, dnsmasq");
    Ok(vec![
        Arc::new(NetworkDriver::new(cfg.clone())),
        Arc::new(PortDriver::new(cfg.clone())),
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
        assert_eq!(kinds, vec![Kind::Network, Kind::Port, Kind::Dhcp]);
    }

    #[test]
    fn physical_networks_parse_and_bad_names_are_refused() {
        let args = HostNetArgs {
            tunnel_ip: Some("10.1.0.5".into()),
            tunnel_device: Some("eth1".into()),
            vxlan_group: None,
            physical_networks: vec!["physnet1:eth2".into()],
            fake_network: false,
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
