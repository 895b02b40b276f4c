use super::*;
use crate::host::{HostResources, InventoryConfig};
use crate::request::{FlavorResources, GroupPolicy, ServerGroup};
use ferrostack_store::placement::{MemoryPlacement, MEMORY_MB, VCPU};
use ferrostack_store::SqliteStore;
use std::sync::{Barrier, Mutex};
use std::time::Duration;

/// Ratio 1.0, nothing reserved: capacities are exactly the totals.
fn flat() -> InventoryConfig {
    InventoryConfig {
        cpu_allocation_ratio: 1.0,
        reserved_host_memory_mb: 0,
        ..Default::default()
    }
}

fn add_host(
    p: &dyn PlacementStore,
    name: &str,
    cfg: &InventoryConfig,
    r: HostResources,
) -> HostInfo {
    p.put_provider(name, &cfg.inventories(r), None)
        .expect("put provider");
    HostInfo::new(name)
}

fn small(vcpus: u64) -> HostResources {
    HostResources {
        vcpus,
        memory_mb: 4096,
        disk_gb: 100,
    }
}

const TINY: FlavorResources = FlavorResources {
    vcpus: 1,
    memory_mb: 256,
    disk_gb: 1,
};

fn memory() -> Arc<MemoryPlacement> {
    Arc::new(MemoryPlacement::new())
}

fn spec(uuid: &str) -> RequestSpec {
    RequestSpec::new(uuid, TINY)
}

fn multi(prefix: &str, n: usize) -> RequestSpec {
    let mut s = spec("");
    s.instance_uuids = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    s
}

fn group(policy: GroupPolicy) -> Option<ServerGroup> {
    Some(ServerGroup {
        uuid: "g1".into(),
        policy,
        members: BTreeSet::new(),
        max_server_per_host: None,
    })
}

/// Record chosen hosts in the host records, as the compute service will.
fn place(hosts: &mut [HostInfo], selections: &[Selection]) {
    for s in selections {
        if let Some(h) = hosts.iter_mut().find(|h| h.name == s.host) {
            h.instances.insert(s.instance_uuid.clone());
        }
    }
}

fn only_host(r: Result<Vec<Selection>, ScheduleError>) -> String {
    let s = r.expect("scheduled");
    assert_eq!(s.len(), 1);
    s[0].host.clone()
}

fn no_valid_host(r: Result<Vec<Selection>, ScheduleError>) -> NoValidHost {
    match r {
        Err(ScheduleError::NoValidHost(e)) => e,
        other => panic!("expected NoValidHost, got {other:?}"),
    }
}

#[test]
fn the_host_with_most_free_resources_wins() {
    let p = memory();
    let hosts = vec![
        add_host(&*p, "a", &flat(), small(4)),
        add_host(
            &*p,
            "b",
            &flat(),
            HostResources {
                memory_mb: 8192,
                ..small(8)
            },
        ),
        add_host(&*p, "c", &flat(), small(4)),
    ];
    let s = Scheduler::new(p, SchedulerConfig::default());
    assert_eq!(only_host(s.schedule(&spec("vm1"), &hosts)), "b");
}

#[test]
fn equal_hosts_tie_break_by_name() {
    let p = memory();
    let hosts = vec![
        add_host(&*p, "c", &flat(), small(4)),
        add_host(&*p, "a", &flat(), small(4)),
        add_host(&*p, "b", &flat(), small(4)),
    ];
    let s = Scheduler::new(p, SchedulerConfig::default());
    assert_eq!(only_host(s.schedule(&spec("vm1"), &hosts)), "a");
    // a now has less free: spreading moves on to b.
    assert_eq!(only_host(s.schedule(&spec("vm2"), &hosts)), "b");
}

#[test]
fn a_negative_ram_multiplier_stacks() {
    let p = memory();
    let hosts = vec![
        add_host(&*p, "a", &flat(), small(4)),
        add_host(&*p, "b", &flat(), small(4)),
    ];
    let s = Scheduler::new(p, SchedulerConfig::default()).with_weighers(vec![Box::new(
        crate::weighers::RAMWeigher { multiplier: -1.0 },
    )]);
    for i in 0..4 {
        assert_eq!(only_host(s.schedule(&spec(&format!("vm{i}")), &hosts)), "a");
    }
    assert_eq!(only_host(s.schedule(&spec("vm4"), &hosts)), "b");
}

#[test]
fn cpu_allocation_ratio_bounds_the_instances_per_host() {
    let p = memory();
    // Nova's default 4.0: 2 CPUs take 8 one-vCPU instances.
    let cfg = InventoryConfig {
        reserved_host_memory_mb: 0,
        ..Default::default()
    };
    let hosts = vec![add_host(&*p, "a", &cfg, small(2))];
    let s = Scheduler::new(p.clone(), SchedulerConfig::default());
    for i in 0..8 {
        s.schedule(&spec(&format!("vm{i}")), &hosts).expect("fits");
    }
    let e = no_valid_host(s.schedule(&spec("vm8"), &hosts));
    assert_eq!(
        e.filter_results[0],
        FilterResult {
            name: "CoreFilter",
            start: 1,
            end: 0
        }
    );
    assert_eq!(p.provider_summary("a").expect("a").used(VCPU), 8);
}

#[test]
fn no_valid_host_says_so_and_counts_per_filter() {
    let p = memory();
    let mut hosts = vec![
        add_host(&*p, "a", &flat(), small(4)),
        add_host(&*p, "b", &flat(), small(4)),
        add_host(&*p, "c", &flat(), small(4)),
    ];
    hosts[0].enabled = false;
    hosts[1].availability_zone = "az2".into();
    let mut r = spec("vm1");
    r.availability_zone = Some("az2".into());
    r.flavor.memory_mb = 4000;
    // Fill b so only the zone filter is left to remove a, c.
    p.claim(&[Allocation {
        consumer: "other".into(),
        provider: "b".into(),
        resources: [(MEMORY_MB.to_string(), 4096)].into(),
    }])
    .expect("store")
    .expect("fits");
    let s = Scheduler::new(p, SchedulerConfig::default());
    let e = no_valid_host(s.schedule(&r, &hosts));
    assert_eq!(
        e.to_string(),
        "No valid host was found. There are not enough hosts available."
    );
    assert_eq!(e.instance_uuid, "vm1");
    assert_eq!(
        e.filter_summary(),
        "['CoreFilter: (start: 3, end: 3)', 'RamFilter: (start: 3, end: 2)', \
         'DiskFilter: (start: 2, end: 2)', 'AvailabilityZoneFilter: (start: 2, end: 0)']"
    );
}

#[test]
fn a_disabled_host_is_never_chosen() {
    let p = memory();
    let mut hosts = vec![
        add_host(&*p, "a", &flat(), small(64)),
        add_host(&*p, "b", &flat(), small(2)),
    ];
    hosts[0].enabled = false;
    let s = Scheduler::new(p.clone(), SchedulerConfig::default());
    assert_eq!(only_host(s.schedule(&spec("vm1"), &hosts)), "b");
    assert_eq!(only_host(s.schedule(&spec("vm2"), &hosts)), "b");
    let e = no_valid_host(s.schedule(&spec("vm3"), &hosts));
    assert!(e
        .filter_results
        .iter()
        .any(|r| r.name == "ComputeFilter" && r.removed() == 1));
    assert_eq!(p.provider_summary("a").expect("a").used(VCPU), 0);
}

#[test]
fn a_host_without_a_recent_heartbeat_is_down() {
    let p = memory();
    let mut hosts = vec![
        add_host(&*p, "a", &flat(), small(64)),
        add_host(&*p, "b", &flat(), small(2)),
    ];
    hosts[0].last_heartbeat = SystemTime::now() - Duration::from_secs(300);
    let s = Scheduler::new(p, SchedulerConfig::default());
    assert_eq!(only_host(s.schedule(&spec("vm1"), &hosts)), "b");
}

#[test]
fn anti_affinity_with_two_hosts_refuses_the_third_instance() {
    let p = memory();
    let mut hosts = vec![
        add_host(&*p, "a", &flat(), small(8)),
        add_host(&*p, "b", &flat(), small(8)),
    ];
    let s = Scheduler::new(p, SchedulerConfig::default());
    let mut members = BTreeSet::new();
    let mut chosen = BTreeSet::new();
    for i in 0..3 {
        let mut r = spec(&format!("vm{i}"));
        r.server_group = group(GroupPolicy::AntiAffinity);
        if let Some(g) = r.server_group.as_mut() {
            g.members = members.clone();
        }
        members.insert(format!("vm{i}"));
        let result = s.schedule(&r, &hosts);
        if i < 2 {
            let sel = result.expect("room for two");
            chosen.insert(sel[0].host.clone());
            place(&mut hosts, &sel);
        } else {
            let e = no_valid_host(result);
            let last = e.filter_results.last().expect("a filter ran");
            assert_eq!(last.name, "ServerGroupAntiAffinityFilter");
            assert_eq!(last.removed(), 2);
        }
    }
    assert_eq!(chosen.len(), 2, "the two instances are on different hosts");
}

#[test]
fn anti_affinity_multi_create_is_all_or_nothing() {
    let p = memory();
    let hosts = vec![
        add_host(&*p, "a", &flat(), small(8)),
        add_host(&*p, "b", &flat(), small(8)),
    ];
    let s = Scheduler::new(p.clone(), SchedulerConfig::default());
    let mut r = multi("vm", 3);
    r.server_group = group(GroupPolicy::AntiAffinity);
    let e = no_valid_host(s.schedule(&r, &hosts));
    assert_eq!(e.instance_uuid, "vm-2");
    for h in ["a", "b"] {
        assert_eq!(p.provider_summary(h).expect("host").used(VCPU), 0);
    }
    // Two fit, on different hosts.
    r.instance_uuids.pop();
    let sel = s.schedule(&r, &hosts).expect("two fit");
    assert_ne!(sel[0].host, sel[1].host);
}

#[test]
fn affinity_pins_every_member_to_one_host() {
    let p = memory();
    let mut hosts = vec![
        add_host(&*p, "a", &flat(), small(8)),
        add_host(&*p, "b", &flat(), small(8)),
        add_host(&*p, "c", &flat(), small(8)),
    ];
    let s = Scheduler::new(p, SchedulerConfig::default());
    let mut r = multi("first", 3);
    r.server_group = group(GroupPolicy::Affinity);
    let sel = s.schedule(&r, &hosts).expect("fits");
    let host = sel[0].host.clone();
    assert!(sel.iter().all(|x| x.host == host));
    place(&mut hosts, &sel);
    // A later member follows, though spreading would prefer another host.
    let mut later = spec("later");
    later.server_group = r.server_group.clone();
    if let Some(g) = later.server_group.as_mut() {
        g.members = r.instance_uuids.iter().cloned().collect();
    }
    assert_eq!(only_host(s.schedule(&later, &hosts)), host);
}

#[test]
fn soft_anti_affinity_spreads_but_never_fails() {
    let p = memory();
    let hosts = vec![
        add_host(&*p, "a", &flat(), small(8)),
        add_host(&*p, "b", &flat(), small(8)),
    ];
    let s = Scheduler::new(p, SchedulerConfig::default());
    let mut r = multi("vm", 4);
    r.server_group = group(GroupPolicy::SoftAntiAffinity);
    let sel = s.schedule(&r, &hosts).expect("soft policies do not filter");
    let on_a = sel.iter().filter(|x| x.host == "a").count();
    assert_eq!(on_a, 2);
}

#[test]
fn multi_create_claims_all_or_none() {
    let p = memory();
    let hosts = vec![add_host(&*p, "a", &flat(), small(3))];
    let s = Scheduler::new(p.clone(), SchedulerConfig::default());
    no_valid_host(s.schedule(&multi("vm", 4), &hosts));
    assert_eq!(p.provider_summary("a").expect("a").used(VCPU), 0);
    assert_eq!(s.schedule(&multi("vm", 3), &hosts).expect("fits").len(), 3);
    assert_eq!(p.provider_summary("a").expect("a").used(VCPU), 3);
}

#[test]
fn release_frees_capacity() {
    let p = memory();
    let hosts = vec![add_host(&*p, "a", &flat(), small(1))];
    let s = Scheduler::new(p.clone(), SchedulerConfig::default());
    only_host(s.schedule(&spec("vm1"), &hosts));
    no_valid_host(s.schedule(&spec("vm2"), &hosts));
    s.release("vm1").expect("release");
    assert!(p.allocations("vm1").expect("read").is_empty());
    assert_eq!(only_host(s.schedule(&spec("vm2"), &hosts)), "a");
}

#[test]
fn forced_hosts_skip_filters_but_not_capacity() {
    let p = memory();
    let mut hosts = vec![
        add_host(&*p, "a", &flat(), small(8)),
        add_host(&*p, "b", &flat(), small(1)),
    ];
    hosts[1].enabled = false;
    let s = Scheduler::new(p, SchedulerConfig::default());
    let mut r = spec("vm1");
    r.force_hosts = vec!["b".into()];
    assert_eq!(only_host(s.schedule(&r, &hosts)), "b");
    r.instance_uuids = vec!["vm2".into()];
    let e = no_valid_host(s.schedule(&r, &hosts));
    assert_eq!(e.filter_results[0].name, "force_hosts");
    assert_eq!(e.filter_results[1].name, "CoreFilter");
    r.force_hosts = vec!["nowhere".into()];
    no_valid_host(s.schedule(&r, &hosts));
}

#[test]
fn ignored_hosts_are_never_chosen() {
    let p = memory();
    let hosts = vec![
        add_host(&*p, "a", &flat(), small(8)),
        add_host(&*p, "b", &flat(), small(1)),
    ];
    let s = Scheduler::new(p, SchedulerConfig::default());
    let mut r = spec("vm1");
    r.ignore_hosts = vec!["a".into()];
    assert_eq!(only_host(s.schedule(&r, &hosts)), "b");
}

#[test]
fn a_host_without_inventory_is_not_a_candidate() {
    let p = memory();
    let hosts = vec![HostInfo::new("ghost")];
    let s = Scheduler::new(p, SchedulerConfig::default());
    let e = no_valid_host(s.schedule(&spec("vm1"), &hosts));
    assert_eq!(e.filter_results[0].start, 0);
}

#[test]
fn host_subset_size_picks_among_the_best_n() {
    let p = memory();
    let mut hosts = Vec::new();
    for (name, mem) in [("a", 8192), ("b", 8000), ("c", 7900), ("d", 1024)] {
        hosts.push(add_host(
            &*p,
            name,
            &flat(),
            HostResources {
                vcpus: 64,
                memory_mb: mem,
                disk_gb: 100,
            },
        ));
    }
    let s = Scheduler::new(
        p,
        SchedulerConfig {
            host_subset_size: 3,
            ..Default::default()
        },
    )
    .with_weighers(vec![Box::new(crate::weighers::RAMWeigher {
        multiplier: 1.0,
    })]);
    let mut seen = BTreeSet::new();
    for i in 0..60 {
        let host = only_host(s.schedule(&spec(&format!("vm{i}")), &hosts));
        s.release(&format!("vm{i}")).expect("release");
        seen.insert(host);
    }
    assert!(!seen.contains("d"), "d is never among the best three");
    assert!(
        seen.len() > 1,
        "randomness picks more than one host: {seen:?}"
    );
}

#[test]
fn a_thousand_hosts_fill_evenly() {
    let p = memory();
    let hosts: Vec<HostInfo> = (0..1000)
        .map(|i| add_host(&*p, &format!("host{i:04}"), &flat(), small(2)))
        .collect();
    let s = Scheduler::new(p.clone(), SchedulerConfig::default());
    for batch in 0..20 {
        let sel = s
            .schedule(&multi(&format!("b{batch}"), 100), &hosts)
            .expect("room");
        assert_eq!(sel.len(), 100);
    }
    for p in p.provider_summaries().expect("list") {
        assert_eq!(p.used(VCPU), 2, "{} is filled like every other", p.name);
    }
    no_valid_host(s.schedule(&spec("one-too-many"), &hosts));
}

/// A store in which another scheduler claims the whole of a host between
/// our snapshot and our claim, once.
struct Racing {
    inner: MemoryPlacement,
    thief: Mutex<Option<String>>,
}

impl PlacementStore for Racing {
    fn put_provider(
        &self,
        name: &str,
        inventories: &BTreeMap<String, ferrostack_store::placement::Inventory>,
        expected_generation: Option<u64>,
    ) -> ferrostack_store::StoreResult<u64> {
        self.inner
            .put_provider(name, inventories, expected_generation)
    }
    fn delete_provider(&self, name: &str) -> ferrostack_store::StoreResult<()> {
        self.inner.delete_provider(name)
    }
    fn provider_summaries(&self) -> ferrostack_store::StoreResult<Vec<ProviderSummary>> {
        self.inner.provider_summaries()
    }
    fn provider_summary(&self, name: &str) -> ferrostack_store::StoreResult<ProviderSummary> {
        self.inner.provider_summary(name)
    }
    fn claim(
        &self,
        allocations: &[Allocation],
    ) -> ferrostack_store::StoreResult<Result<(), ferrostack_store::placement::ClaimConflict>> {
        if let Some(host) = self.thief.lock().expect("lock").take() {
            let free = self.inner.provider_summary(&host)?.inventories[VCPU].capacity();
            self.inner
                .claim(&[Allocation {
                    consumer: "thief".into(),
                    provider: host,
                    resources: [(VCPU.to_string(), free)].into(),
                }])?
                .expect("thief fits");
        }
        self.inner.claim(allocations)
    }
    fn release(&self, consumer: &str) -> ferrostack_store::StoreResult<()> {
        self.inner.release(consumer)
    }
    fn allocations(&self, consumer: &str) -> ferrostack_store::StoreResult<Vec<Allocation>> {
        self.inner.allocations(consumer)
    }
}

#[test]
fn a_claim_that_loses_a_race_moves_to_the_next_host() {
    let p = Arc::new(Racing {
        inner: MemoryPlacement::new(),
        thief: Mutex::new(Some("a".into())),
    });
    let hosts = vec![
        add_host(&*p, "a", &flat(), small(8)),
        add_host(&*p, "b", &flat(), small(4)),
    ];
    let s = Scheduler::new(p.clone(), SchedulerConfig::default());
    assert_eq!(only_host(s.schedule(&spec("vm1"), &hosts)), "b");
    assert_eq!(p.provider_summary("a").expect("a").used(VCPU), 8);
}

/// 8 threads schedule into hosts with room for exactly `capacity`
/// instances in all; exactly that many succeed, and usage is the sum of
/// the claims, never past the ratio.
fn concurrent_schedules_fill_exactly(p: Arc<dyn PlacementStore>) {
    // 5 hosts × 2 CPUs × ratio 4.0 = 40 one-vCPU instances.
    let cfg = InventoryConfig {
        reserved_host_memory_mb: 0,
        ..Default::default()
    };
    let hosts: Vec<HostInfo> = (0..5)
        .map(|i| {
            add_host(
                &*p,
                &format!("h{i}"),
                &cfg,
                HostResources {
                    vcpus: 2,
                    memory_mb: 1 << 20,
                    disk_gb: 1000,
                },
            )
        })
        .collect();
    let capacity = 40;
    let s = Arc::new(Scheduler::new(p.clone(), SchedulerConfig::default()));
    let hosts = Arc::new(hosts);
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (s, hosts, barrier) = (s.clone(), hosts.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut won = Vec::new();
                for i in 0.. {
                    let uuid = format!("t{t}-{i}");
                    match s.schedule(&spec(&uuid), &hosts) {
                        Ok(sel) => won.extend(sel),
                        Err(ScheduleError::NoValidHost(_)) => break,
                        Err(ScheduleError::ClaimRetriesExhausted { .. }) => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: Vec<Selection> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("thread"))
        .collect();
    assert_eq!(won.len(), capacity);
    for h in p.provider_summaries().expect("list") {
        let claimed: u64 = won
            .iter()
            .filter(|w| w.host == h.name)
            .map(|w| w.allocation[VCPU])
            .sum();
        assert_eq!(h.used(VCPU), claimed, "{}", h.name);
        assert!(h.used(VCPU) <= h.inventories[VCPU].capacity());
    }
}

#[test]
fn concurrent_schedules_fill_exactly_in_memory() {
    concurrent_schedules_fill_exactly(memory());
}

#[test]
fn concurrent_schedules_fill_exactly_in_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("s.db")).expect("open");
    concurrent_schedules_fill_exactly(Arc::new(store));
}
