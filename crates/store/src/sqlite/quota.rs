//! SQLite implementation of [`QuotaStore`].

use super::SqliteStore;
use crate::quota::{Overage, QuotaStore, ResourceMap};
use crate::sql::{params, Conn};
use crate::StoreResult;

fn resource_map(conn: &Conn, sql: &str, args: &[&str]) -> StoreResult<ResourceMap> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(crate::sql::params_from_iter(args.iter()), |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    Ok(rows.collect::<Result<ResourceMap, _>>()?)
}

const DEFAULTS: &str = "SELECT resource, hard_limit FROM quota_defaults WHERE service=?1";
const LIMITS: &str =
    "SELECT resource, hard_limit FROM quota_limits WHERE service=?1 AND project_id=?2";
/// Kept by triggers on `quota_allocations` (migration 10).
const USAGE: &str = "SELECT resource, in_use FROM quota_usage
                     WHERE service=?1 AND project_id=?2 AND in_use != 0";

impl QuotaStore for SqliteStore {
    fn get_defaults(&self, service: &str) -> StoreResult<ResourceMap> {
        self.db().read(|c| resource_map(c, DEFAULTS, &[service]))
    }

    fn set_defaults(&self, service: &str, limits: &ResourceMap) -> StoreResult<()> {
        self.db().write(|tx| {
            for (resource, limit) in limits {
                tx.execute(
                    "INSERT INTO quota_defaults(service, resource, hard_limit) VALUES (?1, ?2, ?3)
                     ON CONFLICT(service, resource) DO UPDATE SET hard_limit=excluded.hard_limit",
                    params![service, resource, limit],
                )?;
            }
            Ok(())
        })
    }

    fn get_limits(&self, service: &str, project_id: &str) -> StoreResult<ResourceMap> {
        self.db()
            .read(|c| resource_map(c, LIMITS, &[service, project_id]))
    }

    fn set_limits(&self, service: &str, project_id: &str, limits: &ResourceMap) -> StoreResult<()> {
        self.db().write(|tx| {
            for (resource, limit) in limits {
                tx.execute(
                    "INSERT INTO quota_limits(service, project_id, resource, hard_limit) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(service, project_id, resource) DO UPDATE SET hard_limit=excluded.hard_limit",
                    params![service, project_id, resource, limit],
                )?;
            }
            Ok(())
        })
    }

    fn delete_limits(&self, service: &str, project_id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "DELETE FROM quota_limits WHERE service=?1 AND project_id=?2",
                [service, project_id],
            )?;
            Ok(())
        })
    }

    fn usage(&self, service: &str, project_id: &str) -> StoreResult<ResourceMap> {
        self.db()
            .read(|c| resource_map(c, USAGE, &[service, project_id]))
    }

    fn allocate(
        &self,
        service: &str,
        project_id: &str,
        consumer_id: &str,
        requests: &ResourceMap,
        builtin_defaults: &ResourceMap,
    ) -> StoreResult<Result<(), Vec<Overage>>> {
        self.db().write(|tx| {
            let defaults = resource_map(tx, DEFAULTS, &[service])?;
            let limits = resource_map(tx, LIMITS, &[service, project_id])?;
            let usage = resource_map(tx, USAGE, &[service, project_id])?;
            let mut overages = Vec::new();
            for (resource, &requested) in requests {
                let limit = limits
                    .get(resource)
                    .or_else(|| defaults.get(resource))
                    .or_else(|| builtin_defaults.get(resource))
                    .copied()
                    .unwrap_or(-1);
                let in_use = usage.get(resource).copied().unwrap_or(0);
                if limit >= 0 && requested > 0 && in_use + requested > limit {
                    overages.push(Overage {
                        resource: resource.clone(),
                        limit,
                        in_use,
                        requested,
                    });
                }
            }
            if !overages.is_empty() {
                return Ok(Err(overages));
            }
            for (resource, amount) in requests {
                tx.execute(
                    "INSERT INTO quota_allocations(service, project_id, resource, consumer_id, amount)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(service, project_id, resource, consumer_id) DO UPDATE SET amount=quota_allocations.amount+excluded.amount",
                    params![service, project_id, resource, consumer_id, amount],
                )?;
            }
            Ok(Ok(()))
        })
    }

    fn release(&self, service: &str, consumer_id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "DELETE FROM quota_allocations WHERE service=?1 AND consumer_id=?2",
                [service, consumer_id],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    fn store() -> (crate::testing::Keep, SqliteStore) {
        crate::testing::store()
    }

    fn map(pairs: &[(&str, i64)]) -> ResourceMap {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn allocation_past_the_limit_is_refused_and_records_nothing() {
        let (_d, s) = store();
        s.set_limits("compute", "p1", &map(&[("cores", 4)]))
            .unwrap();
        assert!(s
            .allocate("compute", "p1", "vm1", &map(&[("cores", 3)]), &map(&[]))
            .unwrap()
            .is_ok());
        let refused = s
            .allocate(
                "compute",
                "p1",
                "vm2",
                &map(&[("cores", 2), ("instances", 1)]),
                &map(&[("instances", 10)]),
            )
            .unwrap()
            .unwrap_err();
        assert_eq!(
            refused,
            vec![Overage {
                resource: "cores".into(),
                limit: 4,
                in_use: 3,
                requested: 2
            }]
        );
        assert_eq!(s.usage("compute", "p1").unwrap(), map(&[("cores", 3)]));
        s.release("compute", "vm1").unwrap();
        assert!(s.usage("compute", "p1").unwrap().is_empty());
    }

    #[test]
    fn usage_follows_every_change_of_the_allocations() {
        let (_d, s) = store();
        let none = map(&[]);
        let take = |consumer: &str, cores: i64| {
            s.allocate("compute", "p1", consumer, &map(&[("cores", cores)]), &none)
                .unwrap()
                .unwrap()
        };
        take("vm1", 2);
        take("vm1", 1);
        take("vm2", 4);
        assert_eq!(s.usage("compute", "p1").unwrap(), map(&[("cores", 7)]));
        assert!(s.usage("compute", "p2").unwrap().is_empty());
        s.release("compute", "vm1").unwrap();
        assert_eq!(s.usage("compute", "p1").unwrap(), map(&[("cores", 4)]));
        s.release("compute", "vm2").unwrap();
        assert!(s.usage("compute", "p1").unwrap().is_empty());
    }

    #[test]
    fn concurrent_allocations_never_both_take_the_last_unit() {
        let (_d, s) = store();
        s.set_limits("compute", "p1", &map(&[("instances", 1)]))
            .unwrap();
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                let b = barrier.clone();
                std::thread::spawn(move || {
                    b.wait();
                    s.allocate(
                        "compute",
                        "p1",
                        &format!("vm{i}"),
                        &map(&[("instances", 1)]),
                        &map(&[]),
                    )
                    .unwrap()
                    .is_ok()
                })
            })
            .collect();
        let granted = handles
            .into_iter()
            .filter(|_| true)
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(granted, 1);
        assert_eq!(s.usage("compute", "p1").unwrap(), map(&[("instances", 1)]));
    }
}
