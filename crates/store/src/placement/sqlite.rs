//! SQLite implementation of [`PlacementStore`].
//!
//! A claim reads the providers it touches and inserts its allocations in one
//! `BEGIN IMMEDIATE` transaction ([`crate::Db::write`]), so two claims are
//! serialized and the second sees the first's usage.

use super::{check_claims, Allocation, ClaimConflict, Inventory, PlacementStore, ProviderSummary};
use crate::sql::{params, Conn, OptionalExtension};
use crate::{SqliteStore, StoreError, StoreResult};
use std::collections::BTreeMap;

fn generation(conn: &Conn, name: &str) -> StoreResult<Option<u64>> {
    Ok(conn
        .query_row(
            "SELECT generation FROM placement_providers WHERE name=?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .map(|g| g as u64))
}

fn bump(conn: &Conn, name: &str) -> StoreResult<()> {
    conn.execute(
        "UPDATE placement_providers SET generation=generation+1 WHERE name=?1",
        [name],
    )?;
    Ok(())
}

/// Summaries of every provider, or of the one named.
fn summaries(conn: &Conn, only: Option<&str>) -> StoreResult<BTreeMap<String, ProviderSummary>> {
    let filter = if only.is_some() { " WHERE name=?1" } else { "" };
    let args: Vec<&str> = only.into_iter().collect();
    let mut out = BTreeMap::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT name, generation FROM placement_providers{filter}"
    ))?;
    let rows = stmt.query_map(crate::sql::params_from_iter(args.iter()), |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (name, generation) = row?;
        out.insert(
            name.clone(),
            ProviderSummary {
                name,
                generation: generation as u64,
                inventories: BTreeMap::new(),
                usages: BTreeMap::new(),
            },
        );
    }
    let filter = if only.is_some() {
        " WHERE provider=?1"
    } else {
        ""
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT provider, resource_class, total, reserved, min_unit, max_unit, step_size,
                allocation_ratio FROM placement_inventories{filter}"
    ))?;
    let rows = stmt.query_map(crate::sql::params_from_iter(args.iter()), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            Inventory {
                total: r.get::<_, i64>(2)? as u64,
                reserved: r.get::<_, i64>(3)? as u64,
                min_unit: r.get::<_, i64>(4)? as u64,
                max_unit: r.get::<_, i64>(5)? as u64,
                step_size: r.get::<_, i64>(6)? as u64,
                allocation_ratio: r.get(7)?,
            },
        ))
    })?;
    for row in rows {
        let (provider, rc, inventory) = row?;
        if let Some(p) = out.get_mut(&provider) {
            p.inventories.insert(rc, inventory);
        }
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT provider, resource_class, sum(used) FROM placement_allocations{filter}
         GROUP BY provider, resource_class"
    ))?;
    let rows = stmt.query_map(crate::sql::params_from_iter(args.iter()), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (provider, rc, used) = row?;
        if let Some(p) = out.get_mut(&provider) {
            p.usages.insert(rc, used as u64);
        }
    }
    Ok(out)
}

impl PlacementStore for SqliteStore {
    fn put_provider(
        &self,
        name: &str,
        inventories: &BTreeMap<String, Inventory>,
        expected_generation: Option<u64>,
    ) -> StoreResult<u64> {
        self.db().write(|tx| {
            let current = generation(tx, name)?;
            if let Some(expected) = expected_generation {
                if expected != current.unwrap_or(0) {
                    return Err(StoreError::Conflict(format!(
                        "resource provider {name} is at generation {}, not {expected}",
                        current.unwrap_or(0)
                    )));
                }
            }
            if current.is_none() {
                tx.execute(
                    "INSERT INTO placement_providers(name, generation) VALUES (?1, 0)",
                    [name],
                )?;
            }
            tx.execute(
                "DELETE FROM placement_inventories WHERE provider=?1",
                [name],
            )?;
            for (rc, inv) in inventories {
                tx.execute(
                    "INSERT INTO placement_inventories(provider, resource_class, total, reserved,
                         min_unit, max_unit, step_size, allocation_ratio)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        name,
                        rc,
                        inv.total as i64,
                        inv.reserved as i64,
                        inv.min_unit as i64,
                        inv.max_unit as i64,
                        inv.step_size as i64,
                        inv.allocation_ratio
                    ],
                )?;
            }
            bump(tx, name)?;
            Ok(current.unwrap_or(0) + 1)
        })
    }

    fn delete_provider(&self, name: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            if generation(tx, name)?.is_none() {
                return Err(StoreError::not_found("resource provider", name));
            }
            let held: i64 = tx.query_row(
                "SELECT count(*) FROM placement_allocations WHERE provider=?1",
                [name],
                |r| r.get(0),
            )?;
            if held > 0 {
                return Err(StoreError::Conflict(format!(
                    "resource provider {name} still has allocations"
                )));
            }
            tx.execute("DELETE FROM placement_providers WHERE name=?1", [name])?;
            Ok(())
        })
    }

    fn provider_summaries(&self) -> StoreResult<Vec<ProviderSummary>> {
        self.db()
            .read(|c| Ok(summaries(c, None)?.into_values().collect()))
    }

    fn provider_summary(&self, name: &str) -> StoreResult<ProviderSummary> {
        self.db().read(|c| {
            summaries(c, Some(name))?
                .remove(name)
                .ok_or_else(|| StoreError::not_found("resource provider", name))
        })
    }

    fn claim(&self, allocations: &[Allocation]) -> StoreResult<Result<(), ClaimConflict>> {
        self.db().write(|tx| {
            let mut providers = BTreeMap::new();
            for a in allocations {
                let held: i64 = tx.query_row(
                    "SELECT count(*) FROM placement_allocations WHERE consumer=?1",
                    [&a.consumer],
                    |r| r.get(0),
                )?;
                if held > 0 {
                    return Err(StoreError::Conflict(format!(
                        "consumer {} already holds allocations",
                        a.consumer
                    )));
                }
                if !providers.contains_key(&a.provider) {
                    providers.extend(summaries(tx, Some(&a.provider))?);
                }
            }
            if let Err(conflict) = check_claims(allocations, &providers) {
                return Ok(Err(conflict));
            }
            for a in allocations {
                for (rc, &amount) in a.resources.iter().filter(|(_, &n)| n > 0) {
                    tx.execute(
                        "INSERT INTO placement_allocations(consumer, provider, resource_class, used)
                         VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(consumer, provider, resource_class)
                         DO UPDATE SET used=placement_allocations.used+excluded.used",
                        params![a.consumer, a.provider, rc, amount as i64],
                    )?;
                }
                bump(tx, &a.provider)?;
            }
            Ok(Ok(()))
        })
    }

    fn release(&self, consumer: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let providers: Vec<String> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT DISTINCT provider FROM placement_allocations WHERE consumer=?1",
                )?;
                let rows = stmt.query_map([consumer], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            tx.execute(
                "DELETE FROM placement_allocations WHERE consumer=?1",
                [consumer],
            )?;
            for p in providers {
                bump(tx, &p)?;
            }
            Ok(())
        })
    }

    fn allocations(&self, consumer: &str) -> StoreResult<Vec<Allocation>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT provider, resource_class, used FROM placement_allocations
                 WHERE consumer=?1 ORDER BY provider, resource_class",
            )?;
            let rows = stmt.query_map([consumer], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            let mut out: Vec<Allocation> = Vec::new();
            for row in rows {
                let (provider, rc, used) = row?;
                match out.last_mut() {
                    Some(a) if a.provider == provider => {
                        a.resources.insert(rc, used as u64);
                    }
                    _ => out.push(Allocation {
                        consumer: consumer.to_string(),
                        provider,
                        resources: [(rc, used as u64)].into(),
                    }),
                }
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::conformance;
    use crate::SqliteStore;

    fn store() -> (crate::testing::Keep, SqliteStore) {
        crate::testing::store()
    }

    #[test]
    fn claims_and_releases() {
        let (_d, s) = store();
        conformance::claims_and_releases(&s);
    }

    #[test]
    fn generations_compare_and_swap() {
        let (_d, s) = store();
        conformance::generations_compare_and_swap(&s);
    }

    #[test]
    fn concurrent_claims_never_overcommit() {
        let (_d, s) = store();
        conformance::concurrent_claims_never_overcommit(std::sync::Arc::new(s));
    }

    #[test]
    fn state_survives_reopen() {
        use crate::placement::{Inventory, PlacementStore, VCPU};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.db");
        {
            let s = SqliteStore::open(&path).expect("open");
            s.put_provider(
                "h1",
                &[(VCPU.into(), Inventory::new(4, 0, 2.0))].into(),
                None,
            )
            .expect("put");
            conformance::claim_vcpus(&s, "vm1", "h1", 3).expect("fits");
        }
        let s = SqliteStore::open(&path).expect("reopen");
        let p = s.provider_summary("h1").expect("summary");
        assert_eq!(p.used(VCPU), 3);
        assert_eq!(p.inventories[VCPU].allocation_ratio, 2.0);
    }
}
