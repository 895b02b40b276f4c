//! What the scheduler knows of a compute host.
//!
//! A host is two records joined by name: [`HostInfo`] (service status,
//! heartbeat, zone, capabilities, the instances on it; kept by the compute
//! service) and a placement [`ProviderSummary`] (inventories with ratios and
//! reserved amounts, and usage counted from allocations). Only placement's
//! half is ever written by a claim, so the two never need a joint transaction.

use ferrostack_store::placement::{Inventory, ProviderSummary, DISK_GB, MEMORY_MB, VCPU};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

/// Whether the hypervisor runs guests with hardware acceleration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// KVM: hardware virtualization.
    Kvm,
    /// TCG: QEMU's emulator.
    Tcg,
}

impl Accel {
    /// Lower-case name (`kvm`, `tcg`).
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// What a host's hypervisor can run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Guest architecture, canonical (`x86_64`, `aarch64`).
    pub arch: String,
    /// Hypervisor type, lower case (`qemu`).
    pub hypervisor_type: String,
    /// Acceleration in use.
    pub accel: Accel,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            arch: "x86_64".into(),
            hypervisor_type: "qemu".into(),
            accel: Accel::Kvm,
        }
    }
}

/// The compute service's record of a host (everything but resources).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostInfo {
    /// Host name; also the name of its placement resource provider.
    pub name: String,
    /// Availability zone (Nova's default is `nova`).
    pub availability_zone: String,
    /// Compute service status: an operator can disable a host.
    pub enabled: bool,
    /// Last time the host's agent reported in.
    pub last_heartbeat: SystemTime,
    /// Hypervisor capabilities.
    pub capabilities: Capabilities,
    /// Uuids of the instances on the host (server group filters count them).
    pub instances: BTreeSet<String>,
}

impl HostInfo {
    /// An enabled host in zone `nova` that reported just now.
    pub fn new(name: impl Into<String>) -> Self {
        HostInfo {
            name: name.into(),
            availability_zone: "nova".into(),
            enabled: true,
            last_heartbeat: SystemTime::now(),
            capabilities: Capabilities::default(),
            instances: BTreeSet::new(),
        }
    }

    /// Up unless the last heartbeat is older than `service_down_time`
    /// (a heartbeat from the future, clock skew, counts as up).
    pub fn is_up(&self, now: SystemTime, service_down_time: Duration) -> bool {
        now.duration_since(self.last_heartbeat)
            .map(|age| age <= service_down_time)
            .unwrap_or(true)
    }
}

/// A host as the filters and weighers see it.
#[derive(Clone, Debug, PartialEq)]
pub struct HostState {
    /// Status, zone, capabilities and instances.
    pub info: HostInfo,
    /// Inventories (total, reserved, ratio) and usage from placement.
    pub resources: ProviderSummary,
}

impl HostState {
    /// The host's name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// What is left of `resource_class` after reserved, ratio and usage.
    pub fn free(&self, resource_class: &str) -> u64 {
        self.resources
            .inventories
            .get(resource_class)
            .map(|inv| {
                inv.capacity()
                    .saturating_sub(self.resources.used(resource_class))
            })
            .unwrap_or(0)
    }

    /// Record, in this snapshot, that `resources` were taken by `instance`
    /// (so the next instance of a multi-create sees them gone).
    pub fn consume(&mut self, instance: &str, resources: &BTreeMap<String, u64>) {
        for (rc, amount) in resources {
            *self.resources.usages.entry(rc.clone()).or_insert(0) += amount;
        }
        self.info.instances.insert(instance.to_string());
    }
}

/// Physical resources a host reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostResources {
    /// CPUs.
    pub vcpus: u64,
    /// Memory in MiB.
    pub memory_mb: u64,
    /// Local instance disk in GiB.
    pub disk_gb: u64,
}

/// How a host turns its [`HostResources`] into placement inventories.
/// Defaults are Nova's: `initial_cpu_allocation_ratio` 4.0,
/// `initial_ram_allocation_ratio` 1.0, `initial_disk_allocation_ratio` 1.0,
/// `reserved_host_memory_mb` 512, `reserved_host_disk_mb` 0,
/// `reserved_host_cpus` 0.
#[derive(Clone, Debug, PartialEq)]
pub struct InventoryConfig {
    /// vCPU overcommit.
    pub cpu_allocation_ratio: f64,
    /// Memory overcommit.
    pub ram_allocation_ratio: f64,
    /// Disk overcommit.
    pub disk_allocation_ratio: f64,
    /// CPUs kept for the host.
    pub reserved_host_cpus: u64,
    /// Memory kept for the host, MiB.
    pub reserved_host_memory_mb: u64,
    /// Disk kept for the host, MiB (reported to placement rounded up to GiB).
    pub reserved_host_disk_mb: u64,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        InventoryConfig {
            cpu_allocation_ratio: 4.0,
            ram_allocation_ratio: 1.0,
            disk_allocation_ratio: 1.0,
            reserved_host_cpus: 0,
            reserved_host_memory_mb: 512,
            reserved_host_disk_mb: 0,
        }
    }
}

impl InventoryConfig {
    /// The inventories a host with `resources` reports to placement.
    pub fn inventories(&self, resources: HostResources) -> BTreeMap<String, Inventory> {
        let mut out = BTreeMap::new();
        out.insert(
            VCPU.to_string(),
            Inventory::new(
                resources.vcpus,
                self.reserved_host_cpus,
                self.cpu_allocation_ratio,
            ),
        );
        out.insert(
            MEMORY_MB.to_string(),
            Inventory::new(
                resources.memory_mb,
                self.reserved_host_memory_mb,
                self.ram_allocation_ratio,
            ),
        );
        out.insert(
            DISK_GB.to_string(),
            Inventory::new(
                resources.disk_gb,
                self.reserved_host_disk_mb.div_ceil(1024),
                self.disk_allocation_ratio,
            ),
        );
        out
    }
}

/// A host with `vcpus`, `memory_mb` and `disk_gb` at ratio 1.0, nothing
/// reserved, nothing used: the building block of filter and weigher tests.
#[cfg(test)]
pub(crate) fn test_host(name: &str, vcpus: u64, memory_mb: u64, disk_gb: u64) -> HostState {
    let inventories = [
        (VCPU.to_string(), Inventory::new(vcpus, 0, 1.0)),
        (MEMORY_MB.to_string(), Inventory::new(memory_mb, 0, 1.0)),
        (DISK_GB.to_string(), Inventory::new(disk_gb, 0, 1.0)),
    ]
    .into();
    HostState {
        info: HostInfo::new(name),
        resources: ProviderSummary {
            name: name.to_string(),
            generation: 1,
            inventories,
            usages: BTreeMap::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nova_default_ratios_and_reserved() {
        let inv = InventoryConfig::default().inventories(HostResources {
            vcpus: 8,
            memory_mb: 16384,
            disk_gb: 100,
        });
        assert_eq!(inv[VCPU].capacity(), 32);
        assert_eq!(inv[MEMORY_MB].capacity(), 16384 - 512);
        assert_eq!(inv[DISK_GB].capacity(), 100);
    }

    #[test]
    fn reserved_disk_rounds_up_to_whole_gib() {
        let cfg = InventoryConfig {
            reserved_host_disk_mb: 1500,
            ..Default::default()
        };
        let inv = cfg.inventories(HostResources {
            vcpus: 1,
            memory_mb: 1024,
            disk_gb: 10,
        });
        assert_eq!(inv[DISK_GB].reserved, 2);
    }

    #[test]
    fn a_stale_heartbeat_is_down() {
        let mut h = HostInfo::new("h1");
        let now = SystemTime::now();
        h.last_heartbeat = now - Duration::from_secs(61);
        assert!(!h.is_up(now, Duration::from_secs(60)));
        h.last_heartbeat = now - Duration::from_secs(59);
        assert!(h.is_up(now, Duration::from_secs(60)));
        h.last_heartbeat = now + Duration::from_secs(5);
        assert!(h.is_up(now, Duration::from_secs(60)));
    }
}
