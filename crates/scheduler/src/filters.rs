//! Host filters: each answers "can this host take one instance of this
//! request?" and is named as its Nova counterpart, so operators reading a
//! `NoValidHost` log recognize the filter.
//!
//! The placement check ([`CoreFilter`], [`RamFilter`], [`DiskFilter`]) is
//! what Nova's placement allocation-candidates query does (allocation ratio
//! and reserved applied); it always runs, even for forced hosts. The other
//! filters are configurable and are skipped for forced hosts, as in Nova.

use crate::host::{Accel, HostState};
use crate::request::{GroupPolicy, RequestSpec};
use ferrostack_store::placement::{DISK_GB, MEMORY_MB, VCPU};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

/// What a filter may know beyond the host and the request.
#[derive(Clone, Debug)]
pub struct FilterContext {
    /// The scheduler's clock reading for this request.
    pub now: SystemTime,
    /// Hosts holding members of the request's server group (including
    /// instances of this request already placed in the snapshot).
    pub group_hosts: BTreeSet<String>,
}

/// A host filter.
pub trait Filter: Send + Sync {
    /// Nova's name for the filter (`ComputeFilter`, ...).
    fn name(&self) -> &'static str;
    /// Whether `host` can take one instance of `spec`.
    fn host_passes(&self, host: &HostState, spec: &RequestSpec, ctx: &FilterContext) -> bool;
}

/// The placement check for one resource class.
fn fits(host: &HostState, resource_class: &str, amount: u64) -> bool {
    host.resources.check(resource_class, amount).is_ok()
}

/// Enough vCPUs (after `cpu_allocation_ratio` and reserved).
#[derive(Clone, Copy, Debug, Default)]
pub struct CoreFilter;

impl Filter for CoreFilter {
    fn name(&self) -> &'static str {
        "CoreFilter"
    }
    fn host_passes(&self, host: &HostState, spec: &RequestSpec, _: &FilterContext) -> bool {
        fits(host, VCPU, spec.flavor.vcpus)
    }
}

/// Enough memory (after `ram_allocation_ratio` and reserved).
#[derive(Clone, Copy, Debug, Default)]
pub struct RamFilter;

impl Filter for RamFilter {
    fn name(&self) -> &'static str {
        "RamFilter"
    }
    fn host_passes(&self, host: &HostState, spec: &RequestSpec, _: &FilterContext) -> bool {
        fits(host, MEMORY_MB, spec.flavor.memory_mb)
    }
}

/// Enough local disk (after `disk_allocation_ratio` and reserved).
#[derive(Clone, Copy, Debug, Default)]
pub struct DiskFilter;

impl Filter for DiskFilter {
    fn name(&self) -> &'static str {
        "DiskFilter"
    }
    fn host_passes(&self, host: &HostState, spec: &RequestSpec, _: &FilterContext) -> bool {
        fits(host, DISK_GB, spec.flavor.disk_gb)
    }
}

/// The compute service is enabled and up (heartbeat within `service_down_time`).
#[derive(Clone, Copy, Debug)]
pub struct ComputeFilter {
    /// Nova's `service_down_time` (60 s).
    pub service_down_time: Duration,
}

impl Default for ComputeFilter {
    fn default() -> Self {
        ComputeFilter {
            service_down_time: Duration::from_secs(60),
        }
    }
}

impl Filter for ComputeFilter {
    fn name(&self) -> &'static str {
        "ComputeFilter"
    }
    fn host_passes(&self, host: &HostState, _: &RequestSpec, ctx: &FilterContext) -> bool {
        host.info.enabled && host.info.is_up(ctx.now, self.service_down_time)
    }
}

/// The host is in the requested availability zone (any host if none asked).
#[derive(Clone, Copy, Debug, Default)]
pub struct AvailabilityZoneFilter;

impl Filter for AvailabilityZoneFilter {
    fn name(&self) -> &'static str {
        "AvailabilityZoneFilter"
    }
    fn host_passes(&self, host: &HostState, spec: &RequestSpec, _: &FilterContext) -> bool {
        spec.availability_zone
            .as_deref()
            .is_none_or(|az| host.info.availability_zone == az)
    }
}

/// Nova's canonical architecture names (`amd64` is `x86_64`, ...).
pub fn canonical_arch(arch: &str) -> String {
    let a = arch.to_ascii_lowercase();
    match a.as_str() {
        "amd64" | "x64" => "x86_64".into(),
        "i386" | "i486" | "i586" => "i686".into(),
        "arm64" => "aarch64".into(),
        _ => a,
    }
}

/// The image's `hw_architecture` and `img_hv_type` match the host's
/// hypervisor. `img_hv_type=kvm` needs a host running KVM; `qemu` is
/// satisfied by any QEMU host (libvirt reports both for a KVM host).
#[derive(Clone, Copy, Debug, Default)]
pub struct ImagePropertiesFilter;

impl Filter for ImagePropertiesFilter {
    fn name(&self) -> &'static str {
        "ImagePropertiesFilter"
    }
    fn host_passes(&self, host: &HostState, spec: &RequestSpec, _: &FilterContext) -> bool {
        let caps = &host.info.capabilities;
        let props = &spec.image_properties;
        if let Some(arch) = &props.hw_architecture {
            if canonical_arch(arch) != canonical_arch(&caps.arch) {
                return false;
            }
        }
        if let Some(hv) = &props.img_hv_type {
            let hv = hv.to_ascii_lowercase();
            let host_hv = caps.hypervisor_type.to_ascii_lowercase();
            let ok = match hv.as_str() {
                "kvm" => host_hv == "qemu" && caps.accel == Accel::Kvm,
                _ => hv == host_hv,
            };
            if !ok {
                return false;
            }
        }
        true
    }
}

/// Flavor extra specs scoped `capabilities:` (`cpu_arch`, `hypervisor_type`,
/// `accel`) equal the host's. The lite version: equality only, with Nova's
/// `s==` accepted as a prefix; an unknown capability fails the host, as in Nova.
#[derive(Clone, Copy, Debug, Default)]
pub struct ComputeCapabilitiesFilter;

impl Filter for ComputeCapabilitiesFilter {
    fn name(&self) -> &'static str {
        "ComputeCapabilitiesFilter"
    }
    fn host_passes(&self, host: &HostState, spec: &RequestSpec, _: &FilterContext) -> bool {
        let caps = &host.info.capabilities;
        spec.flavor_extra_specs.iter().all(|(key, want)| {
            let Some(cap) = key.strip_prefix("capabilities:") else {
                return true;
            };
            let want = want.strip_prefix("s==").unwrap_or(want).trim();
            let have = match cap {
                "cpu_arch" => canonical_arch(&caps.arch),
                "hypervisor_type" => caps.hypervisor_type.clone(),
                "accel" => caps.accel.as_str().to_string(),
                _ => return false,
            };
            let want = if cap == "cpu_arch" {
                canonical_arch(want)
            } else {
                want.to_string()
            };
            have.eq_ignore_ascii_case(&want)
        })
    }
}

/// `affinity`: once any member is placed, only its host passes.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerGroupAffinityFilter;

impl Filter for ServerGroupAffinityFilter {
    fn name(&self) -> &'static str {
        "ServerGroupAffinityFilter"
    }
    fn host_passes(&self, host: &HostState, spec: &RequestSpec, ctx: &FilterContext) -> bool {
        match &spec.server_group {
            Some(g) if g.policy == GroupPolicy::Affinity => {
                ctx.group_hosts.is_empty() || ctx.group_hosts.contains(host.name())
            }
            _ => true,
        }
    }
}

/// `anti-affinity`: a host with `max_server_per_host` (default 1) members
/// already is out.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerGroupAntiAffinityFilter;

impl Filter for ServerGroupAntiAffinityFilter {
    fn name(&self) -> &'static str {
        "ServerGroupAntiAffinityFilter"
    }
    fn host_passes(&self, host: &HostState, spec: &RequestSpec, _: &FilterContext) -> bool {
        match &spec.server_group {
            Some(g) if g.policy == GroupPolicy::AntiAffinity => {
                let max = g.max_server_per_host.unwrap_or(1).max(1) as usize;
                spec.group_members_in(&host.info.instances) < max
            }
            _ => true,
        }
    }
}

/// The placement check, always applied first.
pub fn placement_filters() -> Vec<Box<dyn Filter>> {
    vec![
        Box::new(CoreFilter),
        Box::new(RamFilter),
        Box::new(DiskFilter),
    ]
}

/// The default enabled filters, in Nova's order.
pub fn default_filters() -> Vec<Box<dyn Filter>> {
    vec![
        Box::new(AvailabilityZoneFilter),
        Box::new(ComputeFilter::default()),
        Box::new(ComputeCapabilitiesFilter),
        Box::new(ImagePropertiesFilter),
        Box::new(ServerGroupAntiAffinityFilter),
        Box::new(ServerGroupAffinityFilter),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::test_host;
    use crate::request::{FlavorResources, ServerGroup};

    fn ctx() -> FilterContext {
        FilterContext {
            now: SystemTime::now(),
            group_hosts: BTreeSet::new(),
        }
    }

    fn spec(vcpus: u64, memory_mb: u64, disk_gb: u64) -> RequestSpec {
        RequestSpec::new(
            "vm1",
            FlavorResources {
                vcpus,
                memory_mb,
                disk_gb,
            },
        )
    }

    fn group(policy: GroupPolicy, members: &[&str]) -> Option<ServerGroup> {
        Some(ServerGroup {
            uuid: "g1".into(),
            policy,
            members: members.iter().map(|s| s.to_string()).collect(),
            max_server_per_host: None,
        })
    }

    #[test]
    fn core_filter_applies_the_allocation_ratio() {
        let mut h = test_host("h1", 2, 1024, 10);
        h.resources
            .inventories
            .get_mut(VCPU)
            .expect("vcpu")
            .allocation_ratio = 4.0;
        h.resources.usages.insert(VCPU.into(), 6);
        assert!(CoreFilter.host_passes(&h, &spec(2, 0, 0), &ctx()));
        h.resources.usages.insert(VCPU.into(), 7);
        assert!(!CoreFilter.host_passes(&h, &spec(2, 0, 0), &ctx()));
        // As in Nova, one instance never gets more vCPUs than the host has
        // (max_unit = total), whatever the ratio.
        h.resources.usages.clear();
        assert!(!CoreFilter.host_passes(&h, &spec(3, 0, 0), &ctx()));
    }

    #[test]
    fn ram_filter_leaves_reserved_memory_alone() {
        let mut h = test_host("h1", 2, 2048, 10);
        h.resources
            .inventories
            .get_mut(MEMORY_MB)
            .expect("ram")
            .reserved = 512;
        assert!(RamFilter.host_passes(&h, &spec(1, 1536, 0), &ctx()));
        assert!(!RamFilter.host_passes(&h, &spec(1, 1537, 0), &ctx()));
    }

    #[test]
    fn disk_filter_counts_usage_and_ignores_zero_disk() {
        let mut h = test_host("h1", 2, 2048, 10);
        h.resources.usages.insert(DISK_GB.into(), 8);
        assert!(DiskFilter.host_passes(&h, &spec(1, 1, 2), &ctx()));
        assert!(!DiskFilter.host_passes(&h, &spec(1, 1, 3), &ctx()));
        h.resources.inventories.remove(DISK_GB);
        assert!(DiskFilter.host_passes(&h, &spec(1, 1, 0), &ctx()));
    }

    #[test]
    fn compute_filter_drops_disabled_and_down_hosts() {
        let f = ComputeFilter::default();
        let mut h = test_host("h1", 2, 2048, 10);
        assert!(f.host_passes(&h, &spec(1, 1, 1), &ctx()));
        h.info.enabled = false;
        assert!(!f.host_passes(&h, &spec(1, 1, 1), &ctx()));
        h.info.enabled = true;
        h.info.last_heartbeat = SystemTime::now() - Duration::from_secs(120);
        assert!(!f.host_passes(&h, &spec(1, 1, 1), &ctx()));
    }

    #[test]
    fn availability_zone_filter_matches_the_requested_zone() {
        let mut h = test_host("h1", 2, 2048, 10);
        h.info.availability_zone = "az1".into();
        let mut s = spec(1, 1, 1);
        assert!(AvailabilityZoneFilter.host_passes(&h, &s, &ctx()));
        s.availability_zone = Some("az1".into());
        assert!(AvailabilityZoneFilter.host_passes(&h, &s, &ctx()));
        s.availability_zone = Some("nova".into());
        assert!(!AvailabilityZoneFilter.host_passes(&h, &s, &ctx()));
    }

    #[test]
    fn image_properties_filter_checks_arch_and_hypervisor() {
        let mut h = test_host("h1", 2, 2048, 10);
        let mut s = spec(1, 1, 1);
        s.image_properties.hw_architecture = Some("amd64".into());
        assert!(ImagePropertiesFilter.host_passes(&h, &s, &ctx()));
        s.image_properties.hw_architecture = Some("aarch64".into());
        assert!(!ImagePropertiesFilter.host_passes(&h, &s, &ctx()));
        s.image_properties.hw_architecture = None;
        s.image_properties.img_hv_type = Some("kvm".into());
        assert!(ImagePropertiesFilter.host_passes(&h, &s, &ctx()));
        h.info.capabilities.accel = Accel::Tcg;
        assert!(!ImagePropertiesFilter.host_passes(&h, &s, &ctx()));
        s.image_properties.img_hv_type = Some("QEMU".into());
        assert!(ImagePropertiesFilter.host_passes(&h, &s, &ctx()));
        s.image_properties.img_hv_type = Some("xen".into());
        assert!(!ImagePropertiesFilter.host_passes(&h, &s, &ctx()));
    }

    #[test]
    fn compute_capabilities_filter_matches_scoped_extra_specs() {
        let h = test_host("h1", 2, 2048, 10);
        let mut s = spec(1, 1, 1);
        s.flavor_extra_specs
            .insert("hw:cpu_policy".into(), "dedicated".into());
        assert!(ComputeCapabilitiesFilter.host_passes(&h, &s, &ctx()));
        s.flavor_extra_specs
            .insert("capabilities:cpu_arch".into(), "s== x86_64".into());
        assert!(ComputeCapabilitiesFilter.host_passes(&h, &s, &ctx()));
        s.flavor_extra_specs
            .insert("capabilities:accel".into(), "tcg".into());
        assert!(!ComputeCapabilitiesFilter.host_passes(&h, &s, &ctx()));
        s.flavor_extra_specs.remove("capabilities:accel");
        s.flavor_extra_specs
            .insert("capabilities:gpu".into(), "yes".into());
        assert!(!ComputeCapabilitiesFilter.host_passes(&h, &s, &ctx()));
    }

    #[test]
    fn affinity_filter_pins_to_the_group_host() {
        let h1 = test_host("h1", 2, 2048, 10);
        let h2 = test_host("h2", 2, 2048, 10);
        let mut s = spec(1, 1, 1);
        s.server_group = group(GroupPolicy::Affinity, &["other"]);
        let mut c = ctx();
        assert!(ServerGroupAffinityFilter.host_passes(&h2, &s, &c));
        c.group_hosts.insert("h1".into());
        assert!(ServerGroupAffinityFilter.host_passes(&h1, &s, &c));
        assert!(!ServerGroupAffinityFilter.host_passes(&h2, &s, &c));
    }

    #[test]
    fn anti_affinity_filter_honours_max_server_per_host() {
        let mut h = test_host("h1", 2, 2048, 10);
        h.info.instances.insert("other".into());
        h.info.instances.insert("stranger".into());
        let mut s = spec(1, 1, 1);
        assert!(ServerGroupAntiAffinityFilter.host_passes(&h, &s, &ctx()));
        s.server_group = group(GroupPolicy::AntiAffinity, &["other"]);
        assert!(!ServerGroupAntiAffinityFilter.host_passes(&h, &s, &ctx()));
        if let Some(g) = s.server_group.as_mut() {
            g.max_server_per_host = Some(2);
        }
        assert!(ServerGroupAntiAffinityFilter.host_passes(&h, &s, &ctx()));
        // Soft policies never filter.
        s.server_group = group(GroupPolicy::SoftAntiAffinity, &["other"]);
        assert!(ServerGroupAntiAffinityFilter.host_passes(&h, &s, &ctx()));
    }
}
