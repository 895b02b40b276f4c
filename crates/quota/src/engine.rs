//! [`QuotaEngine`]: effective limits, validated changes, usage and
//! reservations over a [`QuotaStore`].
//!
//! ```text
//!   effective limit of (service, project, resource)
//!     = project override        (quota_limits, set by `quota set`)
//!     | stored default          (quota_defaults, set by `quota set --default`)
//!     | built-in default        (resources.rs)
//! ```
//!
//! Changing a limit checks the new value against usage first and refuses
//! to go below it unless forced, as Nova does. That check and the write are
//! two steps: a reservation landing between them can leave usage above the
//! new limit, exactly as in Nova. Reservations themselves are exact: they
//! go through [`QuotaStore::allocate`], which checks and records in one
//! serialized transaction.

use crate::resources::{Service, COMPUTE, NETWORK, VOLUME};
use ferrostack_store::quota::{Overage, QuotaStore, ResourceMap};
use ferrostack_store::StoreError;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The largest limit a quota may have: the services store limits as
/// 32-bit integers and reject anything larger.
pub const MAX_LIMIT: i64 = i32::MAX as i64;

/// The quota class whose limits are the defaults of every project.
pub const DEFAULT_CLASS: &str = "default";

/// Why a quota operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    /// The service has no such resource.
    #[error("unknown quota resource {resource}")]
    UnknownResource {
        /// The name given.
        resource: String,
    },
    /// The limit is below -1 or above [`MAX_LIMIT`].
    #[error("quota limit {value} for {resource} must be between -1 and {MAX_LIMIT}")]
    InvalidLimit {
        /// Resource name.
        resource: String,
        /// The value given.
        value: i64,
    },
    /// The limit is below what the project already uses (and not forced).
    #[error("quota limit {limit} for {resource} is below current usage {in_use}")]
    BelowUsage {
        /// Resource name.
        resource: String,
        /// The limit asked for.
        limit: i64,
        /// Usage now.
        in_use: i64,
    },
    /// A user's limit above what the project leaves the user (see
    /// `user_quotas`), and not forced.
    #[error("quota limit {limit} for {resource} must be at most {maximum}")]
    AboveProject {
        /// Resource name.
        resource: String,
        /// The limit asked for (`-1`: unlimited).
        limit: i64,
        /// The most the project leaves the user.
        maximum: i64,
    },
    /// A reservation would exceed one or more limits; nothing was recorded.
    #[error("quota exceeded for {}", overage_names(.0))]
    OverQuota(Vec<Overage>),
    /// The store failed.
    #[error("quota store failed")]
    Store(#[from] StoreError),
}

fn overage_names(overages: &[Overage]) -> String {
    overages
        .iter()
        .map(|o| o.resource.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Result alias for quota operations.
pub type QuotaResult<T> = Result<T, QuotaError>;

/// A resource's limit with its usage, as detail views show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaDetail {
    /// Effective limit; `-1` is unlimited.
    pub limit: i64,
    /// Amount held by the project's consumers.
    pub in_use: i64,
    /// Amount reserved but not yet in use: always 0, since a reservation
    /// is an allocation (kept for the APIs that report it).
    pub reserved: i64,
}

/// Shared quota logic. Cheap to clone; holds only the store.
#[derive(Clone)]
pub struct QuotaEngine {
    store: Arc<dyn QuotaStore>,
}

impl QuotaEngine {
    /// An engine over `store`.
    pub fn new(store: Arc<dyn QuotaStore>) -> Self {
        QuotaEngine { store }
    }

    pub(crate) fn store(&self) -> &dyn QuotaStore {
        self.store.as_ref()
    }

    /// Default limits of every resource: stored default, else built-in.
    pub fn defaults(&self, service: &Service) -> QuotaResult<ResourceMap> {
        let stored = self.store.get_defaults(service.name)?;
        Ok(layer(service, &[&stored]))
    }

    /// Effective limits of every resource for `project_id`.
    pub fn limits(&self, service: &Service, project_id: &str) -> QuotaResult<ResourceMap> {
        let stored = self.store.get_defaults(service.name)?;
        let overrides = self.store.get_limits(service.name, project_id)?;
        Ok(layer(service, &[&overrides, &stored]))
    }

    /// Effective limits of the per-kind resources of `kinds` for
    /// `project_id` (see [`Service::per_kind`]): set on the project, else
    /// a stored default, else unlimited.
    pub fn kind_limits(
        &self,
        service: &Service,
        project_id: &str,
        kinds: &[String],
    ) -> QuotaResult<ResourceMap> {
        let overrides = self.store.get_limits(service.name, project_id)?;
        self.kind_layer(service, kinds, &overrides)
    }

    /// The defaults of the per-kind resources of `kinds` (a stored
    /// default, else unlimited): what the default quota class shows.
    pub fn kind_defaults(&self, service: &Service, kinds: &[String]) -> QuotaResult<ResourceMap> {
        self.kind_layer(service, kinds, &ResourceMap::new())
    }

    fn kind_layer(
        &self,
        service: &Service,
        kinds: &[String],
        overrides: &ResourceMap,
    ) -> QuotaResult<ResourceMap> {
        let stored = self.store.get_defaults(service.name)?;
        Ok(service
            .kind_names(kinds)
            .into_iter()
            .map(|n| {
                let v = overrides.get(&n).or(stored.get(&n)).copied().unwrap_or(-1);
                (n, v)
            })
            .collect())
    }

    /// Limit and usage of the per-kind resources of `kinds`.
    pub fn kind_detail(
        &self,
        service: &Service,
        project_id: &str,
        kinds: &[String],
    ) -> QuotaResult<BTreeMap<String, QuotaDetail>> {
        let used = self.store.usage(service.name, project_id)?;
        Ok(self
            .kind_limits(service, project_id, kinds)?
            .into_iter()
            .map(|(name, limit)| {
                let in_use = used.get(&name).copied().unwrap_or(0);
                (
                    name,
                    QuotaDetail {
                        limit,
                        in_use,
                        reserved: 0,
                    },
                )
            })
            .collect())
    }

    /// Only the limits set on `project_id` itself (empty when it uses defaults).
    pub fn overrides(&self, service: &Service, project_id: &str) -> QuotaResult<ResourceMap> {
        let mut overrides = self.store.get_limits(service.name, project_id)?;
        overrides.retain(|name, _| service.has(name));
        Ok(overrides)
    }

    /// Usage of every resource for `project_id` (0 where nothing is held).
    pub fn usage(&self, service: &Service, project_id: &str) -> QuotaResult<ResourceMap> {
        let used = self.store.usage(service.name, project_id)?;
        Ok(service
            .resources
            .iter()
            .map(|r| (r.name.to_string(), used.get(r.name).copied().unwrap_or(0)))
            .collect())
    }

    /// Limit and usage of every resource for `project_id`.
    pub fn detail(
        &self,
        service: &Service,
        project_id: &str,
    ) -> QuotaResult<BTreeMap<String, QuotaDetail>> {
        let limits = self.limits(service, project_id)?;
        let usage = self.usage(service, project_id)?;
        Ok(limits
            .into_iter()
            .map(|(name, limit)| {
                let in_use = usage.get(&name).copied().unwrap_or(0);
                (
                    name,
                    QuotaDetail {
                        limit,
                        in_use,
                        reserved: 0,
                    },
                )
            })
            .collect())
    }

    /// Set limits on `project_id` and return its effective limits after.
    ///
    /// Every value is checked before anything is written: unknown
    /// resources, values outside `-1..=MAX_LIMIT`, and (unless `force`)
    /// values below current usage are refused, and then nothing changes.
    pub fn set_limits(
        &self,
        service: &Service,
        project_id: &str,
        changes: &ResourceMap,
        force: bool,
    ) -> QuotaResult<ResourceMap> {
        check_values(service, changes)?;
        if !force {
            // Every stored usage, per-kind resources included.
            let usage = self.store.usage(service.name, project_id)?;
            for (resource, &limit) in changes {
                let in_use = usage.get(resource).copied().unwrap_or(0);
                if limit != -1 && limit < in_use {
                    return Err(QuotaError::BelowUsage {
                        resource: resource.clone(),
                        limit,
                        in_use,
                    });
                }
            }
        }
        if !changes.is_empty() {
            self.store.set_limits(service.name, project_id, changes)?;
            tracing::info!(
                service = service.name,
                project_id,
                ?changes,
                "quota limits changed"
            );
        }
        self.limits(service, project_id)
    }

    /// Change the default limits (the `default` quota class) and return them.
    pub fn set_defaults(
        &self,
        service: &Service,
        changes: &ResourceMap,
    ) -> QuotaResult<ResourceMap> {
        self.set_class(service, DEFAULT_CLASS, changes)
    }

    /// Limits of a quota class: the `default` class is the defaults; any
    /// other class has its own stored values over the defaults. (Nova and
    /// Cinder keep named classes but apply only `default` to projects.)
    pub fn class_limits(&self, service: &Service, class: &str) -> QuotaResult<ResourceMap> {
        let defaults = self.store.get_defaults(service.name)?;
        if class == DEFAULT_CLASS {
            return Ok(layer(service, &[&defaults]));
        }
        let own = self.store.get_defaults(&class_key(service, class))?;
        Ok(layer(service, &[&own, &defaults]))
    }

    /// Change a quota class's limits and return them.
    pub fn set_class(
        &self,
        service: &Service,
        class: &str,
        changes: &ResourceMap,
    ) -> QuotaResult<ResourceMap> {
        check_values(service, changes)?;
        if !changes.is_empty() {
            let key = if class == DEFAULT_CLASS {
                service.name.to_string()
            } else {
                class_key(service, class)
            };
            self.store.set_defaults(&key, changes)?;
            tracing::info!(
                service = service.name,
                class,
                ?changes,
                "quota class changed"
            );
        }
        self.class_limits(service, class)
    }

    /// Drop `project_id`'s overrides so the defaults apply again.
    pub fn reset(&self, service: &Service, project_id: &str) -> QuotaResult<()> {
        self.store.delete_limits(service.name, project_id)?;
        tracing::info!(service = service.name, project_id, "quota limits reset");
        Ok(())
    }

    /// Forget a deleted project's overrides in every service in `services`.
    pub fn purge_project(&self, services: &[&Service], project_id: &str) -> QuotaResult<()> {
        for service in services {
            self.store.delete_limits(service.name, project_id)?;
        }
        Ok(())
    }

    /// What to call once a project is deleted: its overrides in every
    /// service go, so an id reused by a restore does not inherit them.
    /// (Usage needs no purge: it belongs to the project's servers, volumes
    /// and networks, whose deletion releases it.)
    pub fn project_deleted(&self, project_id: &str) -> QuotaResult<()> {
        self.purge_project(&[&COMPUTE, &VOLUME, &NETWORK], project_id)?;
        tracing::info!(project_id, "quota overrides of a deleted project removed");
        Ok(())
    }

    /// Atomically take `requests` for `consumer_id` in `project_id`, or
    /// nothing and [`QuotaError::OverQuota`] when any resource would exceed
    /// its limit. Requests for unknown resources are refused.
    pub fn reserve(
        &self,
        service: &Service,
        project_id: &str,
        consumer_id: &str,
        requests: &ResourceMap,
    ) -> QuotaResult<()> {
        if let Some(unknown) = requests.keys().find(|k| !service.has(k)) {
            return Err(QuotaError::UnknownResource {
                resource: unknown.clone(),
            });
        }
        match self.store.allocate(
            service.name,
            project_id,
            consumer_id,
            requests,
            &service.builtin_defaults(),
        )? {
            Ok(()) => Ok(()),
            Err(overages) => Err(QuotaError::OverQuota(overages)),
        }
    }

    /// Like [`QuotaEngine::reserve`], but counted per user: `user_id`'s
    /// holdings are checked against `project_id`'s effective limits. Nova
    /// counts key pairs this way (each user may have `key_pairs` of them,
    /// whatever project they work in), so two users of one project do not
    /// share the allowance. Usage is kept under a separate store key and
    /// does not show in the project's usage.
    pub fn reserve_for_user(
        &self,
        service: &Service,
        project_id: &str,
        user_id: &str,
        consumer_id: &str,
        requests: &ResourceMap,
    ) -> QuotaResult<()> {
        if let Some(unknown) = requests.keys().find(|k| !service.has(k)) {
            return Err(QuotaError::UnknownResource {
                resource: unknown.clone(),
            });
        }
        // Nothing is ever stored under the per-user key, so the project's
        // effective limits, passed as the fallback, are the limits applied.
        let limits = self.limits(service, project_id)?;
        match self
            .store
            .allocate(&user_key(service), user_id, consumer_id, requests, &limits)?
        {
            Ok(()) => Ok(()),
            Err(overages) => Err(QuotaError::OverQuota(overages)),
        }
    }

    /// Give back what `consumer_id` holds through [`QuotaEngine::reserve_for_user`].
    pub fn release_for_user(&self, service: &Service, consumer_id: &str) -> QuotaResult<()> {
        Ok(self.store.release(&user_key(service), consumer_id)?)
    }

    /// What `user_id` holds through [`QuotaEngine::reserve_for_user`].
    pub fn user_usage(&self, service: &Service, user_id: &str) -> QuotaResult<ResourceMap> {
        Ok(self.store.usage(&user_key(service), user_id)?)
    }

    /// Give back everything `consumer_id` holds in `service`, its
    /// user's share included (see [`QuotaEngine::reserve_as`]).
    pub fn release(&self, service: &Service, consumer_id: &str) -> QuotaResult<()> {
        self.store.release(service.name, consumer_id)?;
        let per_user = crate::user_quotas::project_user_key(service);
        Ok(self.store.release(&per_user, consumer_id)?)
    }
}

/// The store key of per-user usage (see [`QuotaEngine::reserve_for_user`]).
fn user_key(service: &Service) -> String {
    format!("{}:user", service.name)
}

/// The store key of a named, non-default quota class.
fn class_key(service: &Service, class: &str) -> String {
    format!("{}:class:{}", service.name, class)
}

/// Every resource of `service`, valued from the first layer that has it,
/// else the built-in default. Stored values for resources the service no
/// longer has are ignored.
fn layer(service: &Service, layers: &[&ResourceMap]) -> ResourceMap {
    service
        .resources
        .iter()
        .map(|r| {
            let value = layers
                .iter()
                .find_map(|l| l.get(r.name).copied())
                .unwrap_or(r.default);
            (r.name.to_string(), value)
        })
        .collect()
}

pub(crate) fn check_values(service: &Service, changes: &ResourceMap) -> QuotaResult<()> {
    for (resource, &value) in changes {
        if !service.has(resource) {
            return Err(QuotaError::UnknownResource {
                resource: resource.clone(),
            });
        }
        if !(-1..=MAX_LIMIT).contains(&value) {
            return Err(QuotaError::InvalidLimit {
                resource: resource.clone(),
                value,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrostack_store::SqliteStore;
    use std::sync::Barrier;

    fn engine() -> (tempfile::TempDir, QuotaEngine) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("q.db")).unwrap();
        (dir, QuotaEngine::new(Arc::new(store)))
    }

    fn map(pairs: &[(&str, i64)]) -> ResourceMap {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn a_fresh_project_has_the_builtin_defaults() {
        let (_d, q) = engine();
        assert_eq!(
            q.limits(&COMPUTE, "p1").unwrap(),
            COMPUTE.builtin_defaults()
        );
        assert_eq!(q.limits(&VOLUME, "p1").unwrap()["gigabytes"], 1000);
        assert_eq!(q.limits(&NETWORK, "p1").unwrap()["port"], 500);
    }

    #[test]
    fn override_beats_stored_default_beats_builtin() {
        let (_d, q) = engine();
        q.set_defaults(&COMPUTE, &map(&[("cores", 40), ("ram", 1024)]))
            .unwrap();
        q.set_limits(&COMPUTE, "p1", &map(&[("cores", 30)]), false)
            .unwrap();
        let p1 = q.limits(&COMPUTE, "p1").unwrap();
        assert_eq!((p1["cores"], p1["ram"], p1["instances"]), (30, 1024, 10));
        let p2 = q.limits(&COMPUTE, "p2").unwrap();
        assert_eq!((p2["cores"], p2["ram"]), (40, 1024));
        assert_eq!(q.defaults(&COMPUTE).unwrap()["cores"], 40);
    }

    #[test]
    fn set_limits_returns_the_effective_limits() {
        let (_d, q) = engine();
        let after = q
            .set_limits(&VOLUME, "p1", &map(&[("volumes", 3)]), false)
            .unwrap();
        assert_eq!(after["volumes"], 3);
        assert_eq!(after["snapshots"], 10);
    }

    #[test]
    fn invalid_values_are_refused_and_nothing_changes() {
        let (_d, q) = engine();
        for bad in [
            map(&[("cores", 5), ("bogus", 1)]),
            map(&[("cores", 5), ("ram", -2)]),
            map(&[("cores", MAX_LIMIT + 1)]),
        ] {
            assert!(q.set_limits(&COMPUTE, "p1", &bad, false).is_err());
        }
        assert!(q.overrides(&COMPUTE, "p1").unwrap().is_empty());
        assert!(matches!(
            q.set_defaults(&COMPUTE, &map(&[("volumes", 1)])),
            Err(QuotaError::UnknownResource { .. })
        ));
        assert_eq!(q.defaults(&COMPUTE).unwrap(), COMPUTE.builtin_defaults());
    }

    #[test]
    fn minus_one_means_unlimited() {
        let (_d, q) = engine();
        q.set_limits(&COMPUTE, "p1", &map(&[("instances", -1)]), false)
            .unwrap();
        for i in 0..50 {
            q.reserve(&COMPUTE, "p1", &format!("vm{i}"), &map(&[("instances", 1)]))
                .unwrap();
        }
        assert_eq!(q.usage(&COMPUTE, "p1").unwrap()["instances"], 50);
    }

    #[test]
    fn a_limit_below_usage_is_refused_unless_forced() {
        let (_d, q) = engine();
        q.reserve(&COMPUTE, "p1", "vm1", &map(&[("cores", 8)]))
            .unwrap();
        let err = q
            .set_limits(&COMPUTE, "p1", &map(&[("cores", 4)]), false)
            .unwrap_err();
        assert!(matches!(
            err,
            QuotaError::BelowUsage {
                limit: 4,
                in_use: 8,
                ..
            }
        ));
        assert_eq!(q.limits(&COMPUTE, "p1").unwrap()["cores"], 20);
        // Equal to usage and unlimited are both fine.
        q.set_limits(&COMPUTE, "p1", &map(&[("cores", 8)]), false)
            .unwrap();
        q.set_limits(&COMPUTE, "p1", &map(&[("cores", -1)]), false)
            .unwrap();
        let forced = q
            .set_limits(&COMPUTE, "p1", &map(&[("cores", 4)]), true)
            .unwrap();
        assert_eq!(forced["cores"], 4);
    }

    #[test]
    fn reset_restores_the_defaults() {
        let (_d, q) = engine();
        q.set_limits(&NETWORK, "p1", &map(&[("network", 1)]), false)
            .unwrap();
        q.reset(&NETWORK, "p1").unwrap();
        assert_eq!(q.limits(&NETWORK, "p1").unwrap()["network"], 100);
    }

    #[test]
    fn purge_forgets_every_service() {
        let (_d, q) = engine();
        q.set_limits(&COMPUTE, "p1", &map(&[("cores", 1)]), false)
            .unwrap();
        q.set_limits(&VOLUME, "p1", &map(&[("volumes", 1)]), false)
            .unwrap();
        q.project_deleted("p1").unwrap();
        assert!(q.overrides(&COMPUTE, "p1").unwrap().is_empty());
        assert!(q.overrides(&VOLUME, "p1").unwrap().is_empty());
    }

    #[test]
    fn usage_and_detail_cover_every_resource() {
        let (_d, q) = engine();
        q.reserve(
            &COMPUTE,
            "p1",
            "vm1",
            &map(&[("instances", 1), ("ram", 512)]),
        )
        .unwrap();
        let detail = q.detail(&COMPUTE, "p1").unwrap();
        assert_eq!(detail.len(), COMPUTE.resources.len());
        assert_eq!(
            detail["ram"],
            QuotaDetail {
                limit: 51200,
                in_use: 512,
                reserved: 0
            }
        );
        assert_eq!(detail["cores"].in_use, 0);
        q.release(&COMPUTE, "vm1").unwrap();
        assert_eq!(q.usage(&COMPUTE, "p1").unwrap()["ram"], 0);
    }

    #[test]
    fn reservation_past_the_limit_takes_nothing() {
        let (_d, q) = engine();
        q.set_limits(&COMPUTE, "p1", &map(&[("cores", 4)]), false)
            .unwrap();
        q.reserve(
            &COMPUTE,
            "p1",
            "vm1",
            &map(&[("cores", 3), ("instances", 1)]),
        )
        .unwrap();
        let err = q
            .reserve(
                &COMPUTE,
                "p1",
                "vm2",
                &map(&[("cores", 2), ("instances", 1)]),
            )
            .unwrap_err();
        let QuotaError::OverQuota(overages) = err else {
            panic!("expected OverQuota, got {err:?}");
        };
        assert_eq!(overages.len(), 1);
        assert_eq!(overages[0].resource, "cores");
        let usage = q.usage(&COMPUTE, "p1").unwrap();
        assert_eq!((usage["cores"], usage["instances"]), (3, 1));
    }

    #[test]
    fn reservation_uses_the_builtin_default_when_nothing_is_stored() {
        let (_d, q) = engine();
        for i in 0..10 {
            q.reserve(&COMPUTE, "p1", &format!("vm{i}"), &map(&[("instances", 1)]))
                .unwrap();
        }
        assert!(matches!(
            q.reserve(&COMPUTE, "p1", "vm10", &map(&[("instances", 1)])),
            Err(QuotaError::OverQuota(_))
        ));
    }

    #[test]
    fn reservation_of_an_unknown_resource_is_refused() {
        let (_d, q) = engine();
        assert!(matches!(
            q.reserve(&VOLUME, "p1", "v1", &map(&[("cores", 1)])),
            Err(QuotaError::UnknownResource { .. })
        ));
    }

    #[test]
    fn two_concurrent_reservations_never_both_take_the_last_unit() {
        let (_d, q) = engine();
        q.set_limits(&COMPUTE, "p1", &map(&[("instances", 5)]), false)
            .unwrap();
        for i in 0..4 {
            q.reserve(
                &COMPUTE,
                "p1",
                &format!("old{i}"),
                &map(&[("instances", 1)]),
            )
            .unwrap();
        }
        // One unit left; race for it many times over.
        for round in 0..20 {
            let barrier = Arc::new(Barrier::new(2));
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let (q, b) = (q.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        b.wait();
                        q.reserve(
                            &COMPUTE,
                            "p1",
                            &format!("r{round}-{i}"),
                            &map(&[("instances", 1)]),
                        )
                        .is_ok()
                    })
                })
                .collect();
            let granted = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|ok| *ok)
                .count();
            assert_eq!(granted, 1, "round {round}");
            assert_eq!(q.usage(&COMPUTE, "p1").unwrap()["instances"], 5);
            q.release(&COMPUTE, &format!("r{round}-0")).unwrap();
            q.release(&COMPUTE, &format!("r{round}-1")).unwrap();
        }
    }

    #[test]
    fn per_user_reservations_count_each_user_against_the_projects_limit() {
        let (_d, q) = engine();
        q.set_limits(&COMPUTE, "p1", &map(&[("key_pairs", 2)]), false)
            .unwrap();
        let one = map(&[("key_pairs", 1)]);
        q.reserve_for_user(&COMPUTE, "p1", "u1", "k1", &one)
            .unwrap();
        q.reserve_for_user(&COMPUTE, "p1", "u1", "k2", &one)
            .unwrap();
        assert!(matches!(
            q.reserve_for_user(&COMPUTE, "p1", "u1", "k3", &one),
            Err(QuotaError::OverQuota(_))
        ));
        // Another user of the same project has an allowance of their own.
        q.reserve_for_user(&COMPUTE, "p1", "u2", "k4", &one)
            .unwrap();
        assert_eq!(q.user_usage(&COMPUTE, "u1").unwrap()["key_pairs"], 2);
        q.release_for_user(&COMPUTE, "k1").unwrap();
        q.reserve_for_user(&COMPUTE, "p1", "u1", "k3", &one)
            .unwrap();
        assert_eq!(q.usage(&COMPUTE, "p1").unwrap()["key_pairs"], 0);
    }

    #[test]
    fn named_classes_sit_over_the_defaults() {
        let (_d, q) = engine();
        q.set_defaults(&COMPUTE, &map(&[("cores", 40)])).unwrap();
        q.set_class(&COMPUTE, "gold", &map(&[("ram", 99)])).unwrap();
        let gold = q.class_limits(&COMPUTE, "gold").unwrap();
        assert_eq!((gold["cores"], gold["ram"]), (40, 99));
        // A named class does not change what projects get.
        assert_eq!(q.limits(&COMPUTE, "p1").unwrap()["ram"], 51200);
        assert_eq!(
            q.class_limits(&COMPUTE, DEFAULT_CLASS).unwrap()["cores"],
            40
        );
    }
}
