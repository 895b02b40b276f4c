//! Generations of derived data: one counter per kind of cache, each moved
//! only by the writes that can change what that cache derives.
//!
//! Services cache what they derive from the store (a validated token's
//! context, the catalog, the revocation list) and must see a change on the
//! very next request. The cheap way to know a cache is stale is a counter
//! that moves whenever its inputs change: a cache remembers the counter it
//! was built at and rebuilds once it has moved. One counter for the whole
//! store was simple but wrong-sized: every agent report, server write or
//! quota change emptied identity's token cache, so compute traffic slowed
//! token validation for everyone. So each [`Dataset`] has its own counter,
//! and [`SOURCES`] is the one place that says which tables feed which
//! dataset. Writes are not annotated by hand: the backend watches the
//! tables (SQLite: temporary triggers on the write connection, see
//! [`crate::db`]), so a write that reaches an identity table from anywhere
//! (a cascade, another store's method) still moves the identity counter.
//!
//! A table is listed in [`SOURCES`] or in [`UNCACHED`], never both, never
//! neither; a test checks that against the schema, so a new table forces a
//! decision. Listing a table under a dataset it does not feed only costs
//! needless rebuilds; leaving out one it feeds serves stale data, so when in
//! doubt list it.
//!
//! The counters live in memory and count this process's writes. With
//! several controllers on PostgreSQL they must come from the database (a
//! counter row per dataset bumped by the same table triggers, read or
//! notified by every controller); [`crate::identity::IdentityStore::generation`]
//! is the one method that changes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// A kind of derived data with its own generation counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dataset {
    /// What token validation and role resolution read: domains, projects,
    /// users, groups and memberships, roles and implications, role
    /// assignments, application credentials, trusts.
    Identity,
    /// The service catalog: regions, services, endpoints.
    Catalog,
    /// Token revocation events.
    Revocations,
    /// Compute hosts' revisions: what wakes an agent's long poll when a
    /// server assigned to its host changes, whichever controller wrote it.
    HostRevisions,
    /// The token and credential keys (sealed), shared by every controller.
    TokenKeys,
}

impl Dataset {
    /// Every dataset, in counter order.
    pub const ALL: [Dataset; 5] = [
        Dataset::Identity,
        Dataset::Catalog,
        Dataset::Revocations,
        Dataset::HostRevisions,
        Dataset::TokenKeys,
    ];

    /// Position of this dataset's counter (and its bit in a change mask).
    pub const fn index(self) -> usize {
        match self {
            Dataset::Identity => 0,
            Dataset::Catalog => 1,
            Dataset::Revocations => 2,
            Dataset::HostRevisions => 3,
            Dataset::TokenKeys => 4,
        }
    }

    /// This dataset's bit in a change mask.
    pub const fn bit(self) -> u32 {
        1 << self.index()
    }
}

/// Which tables each dataset derives from. The one place that decides what
/// invalidates which cache.
pub const SOURCES: &[(Dataset, &[&str])] = &[
    (
        Dataset::Identity,
        &[
            "domains",
            "projects",
            "users",
            "groups",
            "user_groups",
            "roles",
            "implied_roles",
            "assignments",
            "application_credentials",
            "access_rules",
            "application_credential_access_rules",
            "trusts",
        ],
    ),
    (
        Dataset::Catalog,
        &[
            "regions",
            "services",
            "endpoints",
            "endpoint_groups",
            "project_endpoints",
            "project_endpoint_groups",
        ],
    ),
    (Dataset::Revocations, &["revocation_events"]),
    (Dataset::HostRevisions, &["host_revisions"]),
    (Dataset::TokenKeys, &["token_keys"]),
];

/// Tables no generation-keyed cache derives from: writes to them (agent
/// reports, servers, quota, images, placement...) move no counter.
pub const UNCACHED: &[&str] = &[
    "settings",
    "aggregates",
    "credentials",
    "policies",
    "oauth1_consumers",
    "user_login_failures",
    "registered_limits",
    "limits",
    "domain_configs",
    "volume_backups",
    "qos_specs",
    "qos_associations",
    "volume_transfers",
    "volume_exports",
    "quota_defaults",
    "quota_limits",
    "quota_allocations",
    "quota_usage",
    "flavors",
    "flavor_extra_specs",
    "flavor_access",
    "key_pairs",
    "images",
    "image_members",
    "image_tasks",
    "metadef_namespaces",
    "metadef_resource_types",
    "placement_providers",
    "placement_inventories",
    "placement_allocations",
    "instances",
    "instance_actions",
    "server_groups",
    "compute_services",
    "operations",
    "controllers",
    "leases",
    "networks",
    "network_segments",
    "subnets",
    "ports",
    "ip_allocations",
    "ipam_next",
    "routers",
    "floating_ips",
    "router_floating_ip_changes",
    "security_groups",
    "security_group_rules",
    "host_objects",
    "volume_types",
    "volume_type_extra_specs",
    "volume_type_access",
    "volumes",
    "volume_snapshots",
    "volume_attachments",
];

/// The datasets a write to `table` changes, as a mask of [`Dataset::bit`]s
/// (0 for an [`UNCACHED`] or unknown table).
pub fn mask_of(table: &str) -> u32 {
    SOURCES
        .iter()
        .filter(|(_, tables)| tables.contains(&table))
        .fold(0, |mask, (d, _)| mask | d.bit())
}

/// One counter per [`Dataset`], and a wake-up for whoever waits on one.
#[derive(Debug)]
pub struct Generations {
    counters: [AtomicU64; Dataset::ALL.len()],
    /// Woken after every move (ours or, on PostgreSQL, another
    /// controller's heard by the listener), so a waiter such as an agent's
    /// long poll answers at once instead of at its next poll.
    moved: Notify,
}

impl Default for Generations {
    fn default() -> Self {
        // Start at 1 so a cache initialized at 0 is stale from the start.
        Generations {
            counters: std::array::from_fn(|_| AtomicU64::new(1)),
            moved: Notify::new(),
        }
    }
}

impl Generations {
    /// The current generation of `dataset`.
    pub fn get(&self, dataset: Dataset) -> u64 {
        self.counters[dataset.index()].load(Ordering::Acquire)
    }

    /// Move the counter of every dataset in `mask` (after a committed write).
    pub fn bump(&self, mask: u32) {
        for d in Dataset::ALL {
            if mask & d.bit() != 0 {
                self.counters[d.index()].fetch_add(1, Ordering::Release);
            }
        }
        if mask != 0 {
            self.moved.notify_waiters();
        }
    }

    /// Wait until `dataset` is past `seen` or `timeout` passes; returns its
    /// generation then. Moves of other datasets wake the wait, which then
    /// goes on waiting.
    pub async fn wait_past(&self, dataset: Dataset, seen: u64, timeout: Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before the check, so a move between the check and
            // the wait still wakes it.
            let moved = self.moved.notified();
            let now = self.get(dataset);
            if now != seen {
                return now;
            }
            if tokio::time::timeout_at(deadline, moved).await.is_err() {
                return self.get(dataset);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_table_is_both_cached_and_uncached_or_listed_twice() {
        let mut seen = std::collections::HashSet::new();
        for table in SOURCES.iter().flat_map(|(_, t)| t.iter()).chain(UNCACHED) {
            assert!(seen.insert(*table), "{table} is listed twice");
        }
    }

    #[test]
    fn bump_moves_only_the_masked_counters() {
        let g = Generations::default();
        g.bump(mask_of("users") | mask_of("quota_limits"));
        assert_eq!(g.get(Dataset::Identity), 2);
        assert_eq!(g.get(Dataset::Catalog), 1);
        assert_eq!(g.get(Dataset::Revocations), 1);
        g.bump(mask_of("endpoints") | mask_of("revocation_events"));
        assert_eq!(g.get(Dataset::Identity), 2);
        assert_eq!(g.get(Dataset::Catalog), 2);
        assert_eq!(g.get(Dataset::Revocations), 2);
    }

    #[tokio::test]
    async fn a_waiter_wakes_on_its_dataset_and_sleeps_through_others() {
        let g = std::sync::Arc::new(Generations::default());
        let seen = g.get(Dataset::HostRevisions);
        let waiter = {
            let g = g.clone();
            tokio::spawn(async move {
                let started = tokio::time::Instant::now();
                let now = g
                    .wait_past(Dataset::HostRevisions, seen, Duration::from_secs(5))
                    .await;
                (now, started.elapsed())
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        g.bump(mask_of("users"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "an identity write does not end it");
        g.bump(mask_of("host_revisions"));
        let (now, took) = waiter.await.unwrap();
        assert_eq!(now, seen + 1);
        assert!(took < Duration::from_secs(1), "{took:?}");
        // Nothing moves: the timeout ends it with the same generation.
        let same = g
            .wait_past(Dataset::HostRevisions, now, Duration::from_millis(30))
            .await;
        assert_eq!(same, now);
    }
}
