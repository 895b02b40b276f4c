//! SQL implementation of [`UnifiedLimitStore`] (both backends).

use super::conflict_on_unique;
use crate::sql::{params, Conn, OptionalExtension, Row};
use crate::sqlite::SqliteStore;
use crate::unified_limit::*;
use crate::{StoreError, StoreResult};

const LIMIT_SELECT: &str = "SELECT l.id, r.service_id, r.region_id, r.resource_name, l.project_id,
        l.domain_id, l.resource_limit, l.description
     FROM limits l JOIN registered_limits r ON r.id = l.registered_limit_id";

fn registered_row(r: &Row) -> crate::sql::Result<RegisteredLimit> {
    Ok(RegisteredLimit {
        id: r.get("id")?,
        service_id: r.get("service_id")?,
        region_id: r.get("region_id")?,
        resource_name: r.get("resource_name")?,
        default_limit: r.get("default_limit")?,
        description: r.get("description")?,
    })
}

fn limit_row(r: &Row) -> crate::sql::Result<Limit> {
    Ok(Limit {
        id: r.get(0)?,
        service_id: r.get(1)?,
        region_id: r.get(2)?,
        resource_name: r.get(3)?,
        project_id: r.get(4)?,
        domain_id: r.get(5)?,
        resource_limit: r.get(6)?,
        description: r.get(7)?,
    })
}

fn duplicate(what: &str) -> impl Fn() -> String + '_ {
    move || format!("Conflict occurred attempting to store {what} - Duplicate entry.")
}

fn referenced(tx: &Conn, id: &str) -> StoreResult<bool> {
    let n: i64 = tx.query_row(
        "SELECT count(*) FROM limits WHERE registered_limit_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

fn in_use(id: &str) -> StoreError {
    StoreError::Invalid(format!(
        "Unable to update or delete registered limit {id} because there are project limits associated with it."
    ))
}

impl UnifiedLimitStore for SqliteStore {
    fn create_registered_limits(&self, rs: &[RegisteredLimit]) -> StoreResult<()> {
        self.db().write(|tx| {
            for r in rs {
                tx.execute(
                    "INSERT INTO registered_limits(id, service_id, region_id, resource_name, default_limit, description)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![r.id, r.service_id, r.region_id, r.resource_name, r.default_limit, r.description],
                )
                .map_err(|e| conflict_on_unique(e, duplicate("registered_limit")))?;
            }
            Ok(())
        })
    }

    fn get_registered_limit(&self, id: &str) -> StoreResult<RegisteredLimit> {
        self.db().read(|c| {
            c.prepare_cached("SELECT * FROM registered_limits WHERE id = ?1")?
                .query_row([id], registered_row)
                .optional()?
                .ok_or_else(|| StoreError::not_found("registered limit", id))
        })
    }

    fn list_registered_limits(&self, f: &LimitFilter) -> StoreResult<Vec<RegisteredLimit>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT * FROM registered_limits
                 WHERE (CAST(?1 AS TEXT) IS NULL OR service_id = ?1)
                   AND (CAST(?2 AS TEXT) IS NULL OR region_id = ?2)
                   AND (CAST(?3 AS TEXT) IS NULL OR resource_name = ?3)
                 ORDER BY id",
            )?;
            let rows = stmt.query_map(
                params![f.service_id, f.region_id, f.resource_name],
                registered_row,
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn update_registered_limit(&self, r: &RegisteredLimit) -> StoreResult<()> {
        self.db().write(|tx| {
            let old = tx
                .query_row(
                    "SELECT * FROM registered_limits WHERE id = ?1",
                    [&r.id],
                    registered_row,
                )
                .optional()?
                .ok_or_else(|| StoreError::not_found("registered limit", &r.id))?;
            let moved = old.service_id != r.service_id
                || old.region_id != r.region_id
                || old.resource_name != r.resource_name;
            if moved && referenced(tx, &r.id)? {
                return Err(in_use(&r.id));
            }
            tx.execute(
                "UPDATE registered_limits SET service_id = ?2, region_id = ?3, resource_name = ?4,
                     default_limit = ?5, description = ?6 WHERE id = ?1",
                params![
                    r.id,
                    r.service_id,
                    r.region_id,
                    r.resource_name,
                    r.default_limit,
                    r.description
                ],
            )
            .map_err(|e| conflict_on_unique(e, duplicate("registered_limit")))?;
            Ok(())
        })
    }

    fn delete_registered_limit(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            if referenced(tx, id)? {
                return Err(in_use(id));
            }
            if tx.execute("DELETE FROM registered_limits WHERE id = ?1", [id])? == 0 {
                return Err(StoreError::not_found("registered limit", id));
            }
            Ok(())
        })
    }

    fn create_limits(&self, ls: &[Limit]) -> StoreResult<()> {
        self.db().write(|tx| {
            for l in ls {
                let registered: String = tx
                    .query_row(
                        "SELECT id FROM registered_limits WHERE service_id = ?1
                         AND coalesce(region_id, '') = coalesce(CAST(?2 AS TEXT), '')
                         AND resource_name = ?3",
                        params![l.service_id, l.region_id, l.resource_name],
                        |r| r.get(0),
                    )
                    .optional()?
                    .ok_or_else(|| StoreError::not_found(NO_REGISTERED_LIMIT, &l.resource_name))?;
                tx.execute(
                    "INSERT INTO limits(id, registered_limit_id, project_id, domain_id, resource_limit, description)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![l.id, registered, l.project_id, l.domain_id, l.resource_limit, l.description],
                )
                .map_err(|e| conflict_on_unique(e, duplicate("project_limit")))?;
            }
            Ok(())
        })
    }

    fn get_limit(&self, id: &str) -> StoreResult<Limit> {
        self.db().read(|c| {
            c.prepare_cached(&format!("{LIMIT_SELECT} WHERE l.id = ?1"))?
                .query_row([id], limit_row)
                .optional()?
                .ok_or_else(|| StoreError::not_found("limit", id))
        })
    }

    fn list_limits(&self, f: &LimitFilter) -> StoreResult<Vec<Limit>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "{LIMIT_SELECT}
                 WHERE (CAST(?1 AS TEXT) IS NULL OR r.service_id = ?1)
                   AND (CAST(?2 AS TEXT) IS NULL OR r.region_id = ?2)
                   AND (CAST(?3 AS TEXT) IS NULL OR r.resource_name = ?3)
                   AND (CAST(?4 AS TEXT) IS NULL OR l.project_id = ?4)
                   AND (CAST(?5 AS TEXT) IS NULL OR l.domain_id = ?5)
                 ORDER BY l.id"
            ))?;
            let rows = stmt.query_map(
                params![
                    f.service_id,
                    f.region_id,
                    f.resource_name,
                    f.project_id,
                    f.domain_id
                ],
                limit_row,
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn update_limit(&self, l: &Limit) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE limits SET resource_limit = ?2, description = ?3 WHERE id = ?1",
                params![l.id, l.resource_limit, l.description],
            )?;
            if n == 0 {
                return Err(StoreError::not_found("limit", &l.id));
            }
            Ok(())
        })
    }

    fn delete_limit(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            if tx.execute("DELETE FROM limits WHERE id = ?1", [id])? == 0 {
                return Err(StoreError::not_found("limit", id));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
