//! Per-user quotas within a project, as Nova's `os-quota-sets?user_id=`
//! keeps them.
//!
//! A user's limit of a resource is the one set for that user in that
//! project, else the project's effective limit. It may not exceed what
//! the project has left for the user (the project's limit less what the
//! project's other users hold) nor, unless forced, go below what the
//! user holds: Nova's `get_settable_quotas` bounds.
//!
//! Enforcement: [`QuotaEngine::reserve_as`] takes the project's
//! allocation and then the user's, each one serialized check-and-record
//! ([`QuotaStore::allocate`]); when the user's does not fit, the project's
//! is given back. No interleaving can push either holding past its limit:
//! at worst a concurrent request is refused while a doomed allocation is
//! briefly held, which errs on the safe side.
//!
//! Storage reuses the quota tables (no new table, nothing more for
//! `admin migrate-store` to copy): the user's limits and holdings are kept
//! under the service key `<service>:project-user`, scoped by
//! `<project>/<user>`, so release by consumer (which does not know the
//! project) finds them. Holdings taken before per-user counting existed
//! are not counted for their user.

use crate::engine::{QuotaDetail, QuotaEngine, QuotaError, QuotaResult};
use crate::resources::Service;
use ferrostack_store::quota::ResourceMap;
use std::collections::BTreeMap;

/// The store key of per-user limits and holdings.
pub(crate) fn project_user_key(service: &Service) -> String {
    format!("{}:project-user", service.name)
}

fn scope(project_id: &str, user_id: &str) -> String {
    format!("{project_id}/{user_id}")
}

impl QuotaEngine {
    /// `user_id`'s effective limits in `project_id`: set for the user,
    /// else the project's.
    pub fn user_limits(
        &self,
        service: &Service,
        project_id: &str,
        user_id: &str,
    ) -> QuotaResult<ResourceMap> {
        let mut limits = self.limits(service, project_id)?;
        let own = self
            .store()
            .get_limits(&project_user_key(service), &scope(project_id, user_id))?;
        for (name, value) in own {
            if let Some(slot) = limits.get_mut(&name) {
                *slot = value;
            }
        }
        Ok(limits)
    }

    /// What `user_id` holds in `project_id` (0 where nothing), every resource.
    pub fn user_holdings(
        &self,
        service: &Service,
        project_id: &str,
        user_id: &str,
    ) -> QuotaResult<ResourceMap> {
        let used = self
            .store()
            .usage(&project_user_key(service), &scope(project_id, user_id))?;
        Ok(service
            .resources
            .iter()
            .map(|r| (r.name.to_string(), used.get(r.name).copied().unwrap_or(0)))
            .collect())
    }

    /// Limit and usage of every resource for `user_id` in `project_id`.
    pub fn user_detail(
        &self,
        service: &Service,
        project_id: &str,
        user_id: &str,
    ) -> QuotaResult<BTreeMap<String, QuotaDetail>> {
        let used = self.user_holdings(service, project_id, user_id)?;
        Ok(self
            .user_limits(service, project_id, user_id)?
            .into_iter()
            .map(|(name, limit)| {
                let in_use = used.get(&name).copied().unwrap_or(0);
                let detail = QuotaDetail {
                    limit,
                    in_use,
                    reserved: 0,
                };
                (name, detail)
            })
            .collect())
    }

    /// Set `user_id`'s limits in `project_id` and return the user's
    /// effective limits after. Each value must lie within Nova's bounds
    /// (see the module docs; the lower one is waived by `force`); nothing
    /// is written unless all do.
    pub fn set_user_limits(
        &self,
        service: &Service,
        project_id: &str,
        user_id: &str,
        changes: &ResourceMap,
        force: bool,
    ) -> QuotaResult<ResourceMap> {
        crate::engine::check_values(service, changes)?;
        if !force {
            let project_limits = self.limits(service, project_id)?;
            let project_used = self.usage(service, project_id)?;
            let user_used = self.user_holdings(service, project_id, user_id)?;
            for (resource, &limit) in changes {
                let mine = user_used.get(resource).copied().unwrap_or(0);
                let project_limit = project_limits.get(resource).copied().unwrap_or(-1);
                if project_limit >= 0 {
                    let others = project_used.get(resource).copied().unwrap_or(0) - mine;
                    let maximum = (project_limit - others).max(0);
                    if limit == -1 || limit > maximum {
                        return Err(QuotaError::AboveProject {
                            resource: resource.clone(),
                            limit,
                            maximum,
                        });
                    }
                }
                if limit != -1 && limit < mine {
                    return Err(QuotaError::BelowUsage {
                        resource: resource.clone(),
                        limit,
                        in_use: mine,
                    });
                }
            }
        }
        if !changes.is_empty() {
            let key = project_user_key(service);
            self.store()
                .set_limits(&key, &scope(project_id, user_id), changes)?;
            tracing::info!(
                service = service.name,
                project_id,
                user_id,
                ?changes,
                "user quota limits changed"
            );
        }
        self.user_limits(service, project_id, user_id)
    }

    /// Drop `user_id`'s limits in `project_id`: the project's apply again.
    pub fn reset_user(
        &self,
        service: &Service,
        project_id: &str,
        user_id: &str,
    ) -> QuotaResult<()> {
        self.store()
            .delete_limits(&project_user_key(service), &scope(project_id, user_id))?;
        tracing::info!(
            service = service.name,
            project_id,
            user_id,
            "user quota limits reset"
        );
        Ok(())
    }

    /// [`QuotaEngine::reserve`] for a request made by `user_id`: within
    /// the project's limits and within the user's; nothing is held when
    /// either refuses.
    pub fn reserve_as(
        &self,
        service: &Service,
        project_id: &str,
        user_id: &str,
        consumer_id: &str,
        requests: &ResourceMap,
    ) -> QuotaResult<()> {
        self.reserve(service, project_id, consumer_id, requests)?;
        let limits = self.limits(service, project_id)?;
        let key = project_user_key(service);
        let taken = self.store().allocate(
            &key,
            &scope(project_id, user_id),
            consumer_id,
            requests,
            &limits,
        );
        match taken {
            Ok(Ok(())) => Ok(()),
            Ok(Err(overages)) => {
                self.store().release(service.name, consumer_id)?;
                Err(QuotaError::OverQuota(overages))
            }
            Err(e) => {
                self.store().release(service.name, consumer_id)?;
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::resources::COMPUTE;
    use crate::{QuotaEngine, QuotaError, ResourceMap};
    use ferrostack_store::SqliteStore;
    use std::sync::Arc;

    fn engine() -> (tempfile::TempDir, QuotaEngine) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("q.db")).unwrap();
        (dir, QuotaEngine::new(Arc::new(store)))
    }

    fn map(pairs: &[(&str, i64)]) -> ResourceMap {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn a_user_without_limits_of_their_own_has_the_projects() {
        let (_d, q) = engine();
        q.set_limits(&COMPUTE, "p", &map(&[("ram", 5120)]), false)
            .unwrap();
        assert_eq!(
            q.user_limits(&COMPUTE, "p", "u").unwrap(),
            q.limits(&COMPUTE, "p").unwrap()
        );
        let after = q
            .set_user_limits(&COMPUTE, "p", "u", &map(&[("ram", 2048)]), false)
            .unwrap();
        assert_eq!((after["ram"], after["cores"]), (2048, 20));
        assert_eq!(
            q.limits(&COMPUTE, "p").unwrap()["ram"],
            5120,
            "the project's is unchanged"
        );
        assert_eq!(q.user_limits(&COMPUTE, "p", "other").unwrap()["ram"], 5120);
        q.reset_user(&COMPUTE, "p", "u").unwrap();
        assert_eq!(q.user_limits(&COMPUTE, "p", "u").unwrap()["ram"], 5120);
    }

    #[test]
    fn a_user_limit_stays_within_what_the_project_leaves() {
        let (_d, q) = engine();
        q.set_limits(&COMPUTE, "p", &map(&[("instances", 5)]), false)
            .unwrap();
        q.reserve_as(&COMPUTE, "p", "other", "vm-o", &map(&[("instances", 2)]))
            .unwrap();
        let over = q.set_user_limits(&COMPUTE, "p", "u", &map(&[("instances", 4)]), false);
        assert!(
            matches!(over, Err(QuotaError::AboveProject { maximum: 3, .. })),
            "{over:?}"
        );
        let unlimited = q.set_user_limits(&COMPUTE, "p", "u", &map(&[("instances", -1)]), false);
        assert!(matches!(unlimited, Err(QuotaError::AboveProject { .. })));
        assert_eq!(
            q.user_limits(&COMPUTE, "p", "u").unwrap()["instances"],
            5,
            "nothing written"
        );
        // Below what the user holds: refused unless forced.
        q.reserve_as(&COMPUTE, "p", "u", "vm-u", &map(&[("instances", 2)]))
            .unwrap();
        let below = q.set_user_limits(&COMPUTE, "p", "u", &map(&[("instances", 1)]), false);
        assert!(matches!(
            below,
            Err(QuotaError::BelowUsage { in_use: 2, .. })
        ));
        q.set_user_limits(&COMPUTE, "p", "u", &map(&[("instances", 1)]), true)
            .unwrap();
    }

    #[test]
    fn a_users_limit_refuses_that_user_and_not_another() {
        let (_d, q) = engine();
        q.set_user_limits(&COMPUTE, "p", "u", &map(&[("instances", 1)]), false)
            .unwrap();
        let one = map(&[("instances", 1), ("cores", 1)]);
        q.reserve_as(&COMPUTE, "p", "u", "vm-1", &one).unwrap();
        let refused = q.reserve_as(&COMPUTE, "p", "u", "vm-2", &one);
        assert!(matches!(refused, Err(QuotaError::OverQuota(_))));
        // Nothing of the refused request is held, in the project or the user.
        assert_eq!(q.usage(&COMPUTE, "p").unwrap()["instances"], 1);
        assert_eq!(q.user_holdings(&COMPUTE, "p", "u").unwrap()["cores"], 1);
        // Another user of the project is not limited by it.
        q.reserve_as(&COMPUTE, "p", "v", "vm-3", &one).unwrap();
        assert_eq!(q.usage(&COMPUTE, "p").unwrap()["instances"], 2);
        // Releasing a server frees the user's holding too.
        q.release(&COMPUTE, "vm-1").unwrap();
        assert_eq!(q.user_holdings(&COMPUTE, "p", "u").unwrap()["instances"], 0);
        q.reserve_as(&COMPUTE, "p", "u", "vm-4", &one).unwrap();
    }

    #[test]
    fn the_project_limit_still_binds_a_user_with_a_higher_one() {
        let (_d, q) = engine();
        q.set_limits(&COMPUTE, "p", &map(&[("instances", 2)]), false)
            .unwrap();
        q.set_user_limits(&COMPUTE, "p", "u", &map(&[("instances", 2)]), false)
            .unwrap();
        let one = map(&[("instances", 1)]);
        q.reserve_as(&COMPUTE, "p", "v", "vm-1", &one).unwrap();
        q.reserve_as(&COMPUTE, "p", "u", "vm-2", &one).unwrap();
        assert!(q.reserve_as(&COMPUTE, "p", "u", "vm-3", &one).is_err());
        assert_eq!(q.user_holdings(&COMPUTE, "p", "u").unwrap()["instances"], 1);
    }
}
