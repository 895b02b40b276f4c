//! Host weighers: each scores the hosts that passed the filters; scores are
//! normalized to 0..1 across the candidates (Nova's `normalize`: the lowest
//! raw value maps to 0, the highest to 1, all 0 when they are equal), then
//! multiplied by the weigher's multiplier and summed. The highest total wins.
//!
//! With positive multipliers (Nova's defaults) the resource weighers spread
//! instances over hosts; a negative multiplier stacks them.

use crate::filters::FilterContext;
use crate::host::HostState;
use crate::request::{GroupPolicy, RequestSpec};
use ferrostack_store::placement::{DISK_GB, MEMORY_MB, VCPU};

/// A host weigher.
pub trait Weigher: Send + Sync {
    /// Nova's name (`RAMWeigher`, ...).
    fn name(&self) -> &'static str;
    /// Factor applied to the normalized weight.
    fn multiplier(&self) -> f64;
    /// Raw weight of `host` for `spec`; larger is better.
    fn weigh(&self, host: &HostState, spec: &RequestSpec, ctx: &FilterContext) -> f64;
}

/// Nova's normalization: map `values` onto 0..1 by their own min and max.
pub fn normalize(values: &[f64]) -> Vec<f64> {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let range = max - min;
    if !range.is_finite() || range == 0.0 {
        return vec![0.0; values.len()];
    }
    values.iter().map(|v| (v - min) / range).collect()
}

/// Total weight of each host: Σ multiplier × normalized raw weight.
pub fn weigh_hosts(
    weighers: &[Box<dyn Weigher>],
    hosts: &[&HostState],
    spec: &RequestSpec,
    ctx: &FilterContext,
) -> Vec<f64> {
    let mut totals = vec![0.0; hosts.len()];
    for w in weighers {
        let multiplier = w.multiplier();
        if multiplier == 0.0 {
            continue;
        }
        let raw: Vec<f64> = hosts.iter().map(|h| w.weigh(h, spec, ctx)).collect();
        for (total, n) in totals.iter_mut().zip(normalize(&raw)) {
            *total += multiplier * n;
        }
    }
    totals
}

/// Free memory (after ratio, reserved and usage). Nova's `ram_weight_multiplier`, default 1.0.
#[derive(Clone, Copy, Debug)]
pub struct RAMWeigher {
    /// Positive spreads, negative stacks.
    pub multiplier: f64,
}

impl Weigher for RAMWeigher {
    fn name(&self) -> &'static str {
        "RAMWeigher"
    }
    fn multiplier(&self) -> f64 {
        self.multiplier
    }
    fn weigh(&self, host: &HostState, _: &RequestSpec, _: &FilterContext) -> f64 {
        host.free(MEMORY_MB) as f64
    }
}

/// Free vCPUs. Nova's `cpu_weight_multiplier`, default 1.0.
#[derive(Clone, Copy, Debug)]
pub struct CPUWeigher {
    /// Positive spreads, negative stacks.
    pub multiplier: f64,
}

impl Weigher for CPUWeigher {
    fn name(&self) -> &'static str {
        "CPUWeigher"
    }
    fn multiplier(&self) -> f64 {
        self.multiplier
    }
    fn weigh(&self, host: &HostState, _: &RequestSpec, _: &FilterContext) -> f64 {
        host.free(VCPU) as f64
    }
}

/// Free local disk. Nova's `disk_weight_multiplier`, default 1.0.
#[derive(Clone, Copy, Debug)]
pub struct DiskWeigher {
    /// Positive spreads, negative stacks.
    pub multiplier: f64,
}

impl Weigher for DiskWeigher {
    fn name(&self) -> &'static str {
        "DiskWeigher"
    }
    fn multiplier(&self) -> f64 {
        self.multiplier
    }
    fn weigh(&self, host: &HostState, _: &RequestSpec, _: &FilterContext) -> f64 {
        host.free(DISK_GB) as f64
    }
}

/// `soft-affinity`: more group members on a host weigh more.
/// Nova's `soft_affinity_weight_multiplier`, default 1.0.
#[derive(Clone, Copy, Debug)]
pub struct ServerGroupSoftAffinityWeigher {
    /// Must be non-negative to mean affinity.
    pub multiplier: f64,
}

impl Weigher for ServerGroupSoftAffinityWeigher {
    fn name(&self) -> &'static str {
        "ServerGroupSoftAffinityWeigher"
    }
    fn multiplier(&self) -> f64 {
        self.multiplier
    }
    fn weigh(&self, host: &HostState, spec: &RequestSpec, _: &FilterContext) -> f64 {
        match &spec.server_group {
            Some(g) if g.policy == GroupPolicy::SoftAffinity => {
                spec.group_members_in(&host.info.instances) as f64
            }
            _ => 0.0,
        }
    }
}

/// `soft-anti-affinity`: more group members on a host weigh less.
/// Nova's `soft_anti_affinity_weight_multiplier`, default 1.0.
#[derive(Clone, Copy, Debug)]
pub struct ServerGroupSoftAntiAffinityWeigher {
    /// Must be non-negative to mean anti-affinity.
    pub multiplier: f64,
}

impl Weigher for ServerGroupSoftAntiAffinityWeigher {
    fn name(&self) -> &'static str {
        "ServerGroupSoftAntiAffinityWeigher"
    }
    fn multiplier(&self) -> f64 {
        self.multiplier
    }
    fn weigh(&self, host: &HostState, spec: &RequestSpec, _: &FilterContext) -> f64 {
        match &spec.server_group {
            Some(g) if g.policy == GroupPolicy::SoftAntiAffinity => {
                -(spec.group_members_in(&host.info.instances) as f64)
            }
            _ => 0.0,
        }
    }
}

/// Nova's default weighers with its default multipliers (all 1.0).
pub fn default_weighers() -> Vec<Box<dyn Weigher>> {
    vec![
        Box::new(RAMWeigher { multiplier: 1.0 }),
        Box::new(CPUWeigher { multiplier: 1.0 }),
        Box::new(DiskWeigher { multiplier: 1.0 }),
        Box::new(ServerGroupSoftAffinityWeigher { multiplier: 1.0 }),
        Box::new(ServerGroupSoftAntiAffinityWeigher { multiplier: 1.0 }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::test_host;
    use crate::request::{FlavorResources, ServerGroup};
    use std::collections::BTreeSet;
    use std::time::SystemTime;

    fn ctx() -> FilterContext {
        FilterContext {
            now: SystemTime::now(),
            group_hosts: BTreeSet::new(),
        }
    }

    fn spec() -> RequestSpec {
        RequestSpec::new(
            "vm1",
            FlavorResources {
                vcpus: 1,
                memory_mb: 512,
                disk_gb: 1,
            },
        )
    }

    fn weights(w: Box<dyn Weigher>, hosts: &[HostState], spec: &RequestSpec) -> Vec<f64> {
        let refs: Vec<&HostState> = hosts.iter().collect();
        weigh_hosts(&[w], &refs, spec, &ctx())
    }

    #[test]
    fn normalize_maps_onto_zero_to_one() {
        assert_eq!(normalize(&[10.0, 20.0, 15.0]), [0.0, 1.0, 0.5]);
        assert_eq!(normalize(&[3.0, 3.0]), [0.0, 0.0]);
        assert!(normalize(&[]).is_empty());
    }

    #[test]
    fn ram_weigher_spreads_by_default_and_stacks_when_negative() {
        let hosts = [test_host("a", 4, 2048, 10), test_host("b", 4, 8192, 10)];
        let w = weights(Box::new(RAMWeigher { multiplier: 1.0 }), &hosts, &spec());
        assert_eq!(w, [0.0, 1.0]);
        let w = weights(Box::new(RAMWeigher { multiplier: -2.0 }), &hosts, &spec());
        assert_eq!(w, [0.0, -2.0]);
    }

    #[test]
    fn cpu_weigher_prefers_free_vcpus() {
        let mut hosts = [test_host("a", 8, 2048, 10), test_host("b", 8, 2048, 10)];
        hosts[0].resources.usages.insert(VCPU.into(), 6);
        let w = weights(Box::new(CPUWeigher { multiplier: 1.0 }), &hosts, &spec());
        assert_eq!(w, [0.0, 1.0]);
    }

    #[test]
    fn disk_weigher_prefers_free_disk() {
        let hosts = [test_host("a", 8, 2048, 100), test_host("b", 8, 2048, 10)];
        let w = weights(Box::new(DiskWeigher { multiplier: 1.0 }), &hosts, &spec());
        assert_eq!(w, [1.0, 0.0]);
    }

    fn grouped(policy: GroupPolicy) -> (Vec<HostState>, RequestSpec) {
        let mut hosts = vec![test_host("a", 8, 2048, 10), test_host("b", 8, 2048, 10)];
        hosts[0].info.instances.insert("m1".into());
        let mut s = spec();
        s.server_group = Some(ServerGroup {
            uuid: "g".into(),
            policy,
            members: ["m1".to_string()].into(),
            max_server_per_host: None,
        });
        (hosts, s)
    }

    #[test]
    fn soft_affinity_weigher_prefers_the_group_host() {
        let (hosts, s) = grouped(GroupPolicy::SoftAffinity);
        let w = ServerGroupSoftAffinityWeigher { multiplier: 1.0 };
        assert_eq!(weights(Box::new(w), &hosts, &s), [1.0, 0.0]);
        let (hosts, s) = grouped(GroupPolicy::SoftAntiAffinity);
        assert_eq!(weights(Box::new(w), &hosts, &s), [0.0, 0.0]);
    }

    #[test]
    fn soft_anti_affinity_weigher_avoids_the_group_host() {
        let (hosts, s) = grouped(GroupPolicy::SoftAntiAffinity);
        let w = ServerGroupSoftAntiAffinityWeigher { multiplier: 1.0 };
        assert_eq!(weights(Box::new(w), &hosts, &s), [0.0, 1.0]);
    }
}
