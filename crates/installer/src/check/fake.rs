//! An in-memory [`HostFacts`]: a healthy all-in-one host by default,
//! with public fields a test changes to inject one fault.

use super::facts::{DiskSpace, HostFacts, KvmFacts, KvmProbe, Memory, TimeService, TimeSync};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

const GIB: u64 = 1 << 30;

/// Facts held in memory.
#[derive(Debug, Clone)]
pub struct FakeHostFacts {
    /// Host name.
    pub hostname: String,
    /// Addresses.
    pub addresses: Vec<IpAddr>,
    /// Clock state.
    pub time: TimeSync,
    /// Name -> addresses; names absent do not resolve.
    pub hosts: BTreeMap<String, Vec<IpAddr>>,
    /// `/etc/resolv.conf`.
    pub resolv_conf: String,
    /// Memory.
    pub memory: Memory,
    /// Free bytes anywhere.
    pub disk_available: u64,
    /// CPU flags.
    pub cpu_flags: Vec<String>,
    /// KVM.
    pub kvm: KvmFacts,
    /// Installed programs (by name; found in /usr/bin).
    pub programs: BTreeSet<String>,
    /// Interfaces.
    pub interfaces: Vec<String>,
    /// Ports something listens on.
    pub busy_ports: BTreeSet<u16>,
    /// Addresses that do not answer (a host down or firewalled).
    pub silent: BTreeSet<IpAddr>,
    /// Who listens on some of them: port -> (program, pid).
    pub port_holders: BTreeMap<u16, (String, u32)>,
    /// The kernel's configuration text.
    pub kernel_config: String,
}

/// The data-plane options of a Debian kernel, as the default fake has.
pub const DEBIAN_KERNEL: &str = "CONFIG_BRIDGE=m\nCONFIG_TUN=m\nCONFIG_VETH=m\nCONFIG_NF_TABLES=m\nCONFIG_NFT_CT=m\nCONFIG_VXLAN=m\nCONFIG_VLAN_8021Q=m\nCONFIG_NET_IPGRE=m\nCONFIG_BRIDGE_NETFILTER=m\nCONFIG_NF_CONNTRACK_BRIDGE=m\n";

impl Default for FakeHostFacts {
    fn default() -> Self {
        let ip = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10));
        FakeHostFacts {
            hostname: "openstack".into(),
            addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST), ip],
            time: TimeSync {
                service: Some(TimeService::Chrony),
                synchronized: true,
                source: Some("192.168.1.254".into()),
                offset_seconds: Some(0.000_031),
                evidence: "^* 192.168.1.254  3  7  377  28  +31us[+89us] +/- 25ms".into(),
            },
            hosts: BTreeMap::from([("openstack".to_string(), vec![ip])]),
            resolv_conf: "nameserver 192.168.1.254\n".into(),
            memory: Memory {
                total: 16 * GIB,
                available: 12 * GIB,
            },
            disk_available: 100 * GIB,
            cpu_flags: ["fpu", "sse2", "ssse3", "vmx"].map(String::from).to_vec(),
            kvm: KvmFacts {
                device: true,
                probe: KvmProbe::RanGuest,
            },
            programs: super::programs::PROGRAMS
                .iter()
                .map(|p| p.name.to_string())
                .collect(),
            interfaces: ["lo", "eth0", "br-ex"].map(String::from).to_vec(),
            busy_ports: BTreeSet::new(),
            port_holders: BTreeMap::new(),
            kernel_config: DEBIAN_KERNEL.into(),
            silent: BTreeSet::new(),
        }
    }
}

impl HostFacts for FakeHostFacts {
    fn hostname(&self) -> String {
        self.hostname.clone()
    }
    fn addresses(&self) -> Vec<IpAddr> {
        self.addresses.clone()
    }
    fn time_sync(&self) -> TimeSync {
        self.time.clone()
    }
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        self.hosts
            .get(name)
            .cloned()
            .ok_or_else(|| format!("{name}: Name or service not known"))
    }
    fn resolv_conf(&self) -> Result<String, String> {
        Ok(self.resolv_conf.clone())
    }
    fn memory(&self) -> Option<Memory> {
        Some(self.memory)
    }
    fn disk_space(&self, path: &Path) -> Result<DiskSpace, String> {
        Ok(DiskSpace {
            measured: path.to_path_buf(),
            available: self.disk_available,
        })
    }
    fn cpu_flags(&self) -> Vec<String> {
        self.cpu_flags.clone()
    }
    fn kvm(&self) -> KvmFacts {
        self.kvm.clone()
    }
    fn program(&self, name: &str) -> Option<PathBuf> {
        self.programs
            .contains(name)
            .then(|| PathBuf::from("/usr/bin").join(name))
    }
    fn interfaces(&self) -> Vec<String> {
        self.interfaces.clone()
    }
    fn port_free(&self, port: u16) -> Result<(), String> {
        if self.busy_ports.contains(&port) {
            Err(format!("bind 0.0.0.0:{port}: Address already in use"))
        } else {
            Ok(())
        }
    }
    fn answers(&self, addr: IpAddr, port: u16) -> Result<(), String> {
        if self.silent.contains(&addr) {
            Err(format!("TCP {addr}:{port}: connection timed out"))
        } else {
            Ok(())
        }
    }
    fn port_holder(&self, port: u16) -> Option<(String, u32)> {
        self.port_holders.get(&port).cloned()
    }
    fn kernel_config(&self) -> Result<String, String> {
        Ok(self.kernel_config.clone())
    }
    fn module_loaded(&self, _name: &str) -> bool {
        false
    }
    fn modules_loadable(&self) -> bool {
        true
    }
}
