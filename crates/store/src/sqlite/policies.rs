//! SQLite implementation of [`PolicyStore`].

use crate::policies::{PolicyDoc, PolicyStore};
use crate::sql::{params, OptionalExtension, Row};
use crate::sqlite::SqliteStore;
use crate::{StoreError, StoreResult};

fn policy_row(r: &Row) -> crate::sql::Result<PolicyDoc> {
    let extra: String = r.get("extra")?;
    Ok(PolicyDoc {
        id: r.get("id")?,
        blob: r.get("blob")?,
        kind: r.get("type")?,
        extra: serde_json::from_str(&extra).unwrap_or_default(),
    })
}

impl PolicyStore for SqliteStore {
    fn create_policy(&self, p: &PolicyDoc) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO policies(id, blob, type, extra) VALUES (?1, ?2, ?3, ?4)",
                params![p.id, p.blob, p.kind, serde_json::to_string(&p.extra)?],
            )?;
            Ok(())
        })
    }

    fn get_policy(&self, id: &str) -> StoreResult<PolicyDoc> {
        self.db().read(|c| {
            c.prepare_cached("SELECT * FROM policies WHERE id = ?1")?
                .query_row([id], policy_row)
                .optional()?
                .ok_or_else(|| StoreError::not_found("policy", id))
        })
    }

    fn list_policies(&self, kind: Option<&str>) -> StoreResult<Vec<PolicyDoc>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT * FROM policies WHERE (CAST(?1 AS TEXT) IS NULL OR type = ?1) ORDER BY id",
            )?;
            let rows = stmt.query_map([kind], policy_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn update_policy(&self, p: &PolicyDoc) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE policies SET blob = ?2, type = ?3, extra = ?4 WHERE id = ?1",
                params![p.id, p.blob, p.kind, serde_json::to_string(&p.extra)?],
            )?;
            if n == 0 {
                return Err(StoreError::not_found("policy", &p.id));
            }
            Ok(())
        })
    }

    fn delete_policy(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            if tx.execute("DELETE FROM policies WHERE id = ?1", [id])? == 0 {
                return Err(StoreError::not_found("policy", id));
            }
            Ok(())
        })
    }
}
