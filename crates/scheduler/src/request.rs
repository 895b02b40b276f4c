//! What is being scheduled: Nova's `RequestSpec`, reduced to the fields the
//! filters and weighers read.

use ferrostack_store::placement::{Resources, DISK_GB, MEMORY_MB, VCPU};
use std::collections::{BTreeMap, BTreeSet};

/// The resources a flavor asks for, per instance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlavorResources {
    /// vCPUs.
    pub vcpus: u64,
    /// Memory in MiB.
    pub memory_mb: u64,
    /// Local disk in GiB: root + ephemeral + swap (rounded up), as Nova
    /// asks placement for. Zero for a boot-from-volume root.
    pub disk_gb: u64,
}

impl FlavorResources {
    /// The placement request: amounts by resource class (zeros left out).
    pub fn resources(&self) -> Resources {
        [
            (VCPU, self.vcpus),
            (MEMORY_MB, self.memory_mb),
            (DISK_GB, self.disk_gb),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(rc, n)| (rc.to_string(), n))
        .collect()
    }
}

/// Image properties the scheduler honours.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageProperties {
    /// `hw_architecture` (e.g. `x86_64`, `aarch64`).
    pub hw_architecture: Option<String>,
    /// `img_hv_type` (e.g. `qemu`, `kvm`).
    pub img_hv_type: Option<String>,
}

/// A server group's policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupPolicy {
    /// All members on one host (a filter: fails when impossible).
    Affinity,
    /// Members on different hosts (a filter).
    AntiAffinity,
    /// Prefer one host (a weigher: never fails for it).
    SoftAffinity,
    /// Prefer different hosts (a weigher).
    SoftAntiAffinity,
}

impl GroupPolicy {
    /// Nova's spelling (`affinity`, `anti-affinity`, `soft-affinity`, `soft-anti-affinity`).
    pub fn as_str(self) -> &'static str {
        match self {
            GroupPolicy::Affinity => "affinity",
            GroupPolicy::AntiAffinity => "anti-affinity",
            GroupPolicy::SoftAffinity => "soft-affinity",
            GroupPolicy::SoftAntiAffinity => "soft-anti-affinity",
        }
    }

    /// Parse Nova's spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "affinity" => GroupPolicy::Affinity,
            "anti-affinity" => GroupPolicy::AntiAffinity,
            "soft-affinity" => GroupPolicy::SoftAffinity,
            "soft-anti-affinity" => GroupPolicy::SoftAntiAffinity,
            _ => return None,
        })
    }
}

/// The server group the instances join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerGroup {
    /// Group uuid.
    pub uuid: String,
    /// Its policy.
    pub policy: GroupPolicy,
    /// Uuids of the group's instances (those being scheduled count as
    /// members whether listed or not).
    pub members: BTreeSet<String>,
    /// Anti-affinity rule `max_server_per_host` (default 1).
    pub max_server_per_host: Option<u32>,
}

/// One scheduling request: `instance_uuids.len()` identical instances.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestSpec {
    /// One uuid per instance. Nova's `instance_uuid` is the first, its
    /// `num_instances` the length; multi-create is all or nothing.
    pub instance_uuids: Vec<String>,
    /// The owning project.
    pub project_id: String,
    /// Per-instance resources.
    pub flavor: FlavorResources,
    /// The flavor's extra specs (`capabilities:*` keys are matched by
    /// ComputeCapabilitiesFilter).
    pub flavor_extra_specs: BTreeMap<String, String>,
    /// The image's scheduling properties.
    pub image_properties: ImageProperties,
    /// Requested availability zone.
    pub availability_zone: Option<String>,
    /// Server group, if the instances join one.
    pub server_group: Option<ServerGroup>,
    /// Admin only: consider only these hosts, and skip the filters
    /// (placement's capacity check still applies), as Nova does.
    pub force_hosts: Vec<String>,
    /// Never consider these hosts.
    pub ignore_hosts: Vec<String>,
}

impl RequestSpec {
    /// A request for one instance of `flavor`.
    pub fn new(instance_uuid: impl Into<String>, flavor: FlavorResources) -> Self {
        RequestSpec {
            instance_uuids: vec![instance_uuid.into()],
            flavor,
            ..Default::default()
        }
    }

    /// Nova's `num_instances`.
    pub fn num_instances(&self) -> usize {
        self.instance_uuids.len()
    }

    /// How many instances of the server group (members, or instances of
    /// this request) `instances` holds.
    pub fn group_members_in(&self, instances: &BTreeSet<String>) -> usize {
        let Some(group) = &self.server_group else {
            return 0;
        };
        instances
            .iter()
            .filter(|i| group.members.contains(*i) || self.instance_uuids.contains(i))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_amounts_are_not_requested() {
        let f = FlavorResources {
            vcpus: 2,
            memory_mb: 512,
            disk_gb: 0,
        };
        assert_eq!(
            f.resources(),
            [(VCPU.to_string(), 2), (MEMORY_MB.to_string(), 512)].into()
        );
    }

    #[test]
    fn policies_round_trip() {
        for p in [
            GroupPolicy::Affinity,
            GroupPolicy::AntiAffinity,
            GroupPolicy::SoftAffinity,
            GroupPolicy::SoftAntiAffinity,
        ] {
            assert_eq!(GroupPolicy::parse(p.as_str()), Some(p));
        }
        assert_eq!(GroupPolicy::parse("cozy"), None);
    }
}
