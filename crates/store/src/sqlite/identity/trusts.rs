//! SQLite implementation of [`TrustStore`].

use super::rows::{changed, get_one, json_col, to_json};
use crate::sql::{params, Row};
use crate::sqlite::SqliteStore;
use crate::trust::{Trust, TrustStore};
use crate::{StoreError, StoreResult};

fn trust_row(r: &Row) -> crate::sql::Result<Trust> {
    Ok(Trust {
        id: r.get("id")?,
        trustor_user_id: r.get("trustor_user_id")?,
        trustee_user_id: r.get("trustee_user_id")?,
        project_id: r.get("project_id")?,
        impersonation: r.get("impersonation")?,
        expires_at: r.get("expires_at")?,
        remaining_uses: r.get("remaining_uses")?,
        redelegated_trust_id: r.get("redelegated_trust_id")?,
        redelegation_count: r.get("redelegation_count")?,
        role_ids: json_col(r, "roles")?,
        extra: json_col(r, "extra")?,
        created_at: r.get("created_at")?,
    })
}

impl TrustStore for SqliteStore {
    fn create_trust(&self, t: &Trust) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO trusts(id, trustor_user_id, trustee_user_id, project_id, impersonation,
                     expires_at, remaining_uses, redelegated_trust_id, redelegation_count, roles,
                     extra, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    t.id,
                    t.trustor_user_id,
                    t.trustee_user_id,
                    t.project_id,
                    t.impersonation,
                    t.expires_at,
                    t.remaining_uses,
                    t.redelegated_trust_id,
                    t.redelegation_count,
                    to_json(&t.role_ids),
                    to_json(&t.extra),
                    t.created_at
                ],
            )?;
            Ok(())
        })
    }

    fn get_trust(&self, id: &str) -> StoreResult<Trust> {
        self.db().read(|c| {
            get_one(
                c,
                "SELECT * FROM trusts WHERE id = ?",
                id,
                "trust",
                trust_row,
            )
        })
    }

    fn list_trusts(&self, trustor: Option<&str>, trustee: Option<&str>) -> StoreResult<Vec<Trust>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT * FROM trusts
                 WHERE (CAST(?1 AS TEXT) IS NULL OR trustor_user_id = ?1)
                   AND (CAST(?2 AS TEXT) IS NULL OR trustee_user_id = ?2)
                 ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map(params![trustor, trustee], trust_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn delete_trust(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute("DELETE FROM trusts WHERE id = ?1", [id])?;
            changed(n, "trust", id)
        })
    }

    fn consume_trust_use(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE trusts SET remaining_uses = remaining_uses - 1
                 WHERE id = ?1 AND remaining_uses IS NOT NULL AND remaining_uses > 0",
                [id],
            )?;
            if n == 1 {
                return Ok(());
            }
            // Unlimited trusts have nothing to take; a used-up one is gone.
            let unlimited: Option<bool> = tx
                .query_row(
                    "SELECT remaining_uses IS NULL FROM trusts WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .ok();
            match unlimited {
                Some(true) => Ok(()),
                _ => Err(StoreError::not_found("trust", id)),
            }
        })
    }
}
