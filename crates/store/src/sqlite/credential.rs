//! SQLite implementation of [`CredentialStore`].

use crate::credential::{Credential, CredentialStore};
use crate::sql::{params, OptionalExtension, Row};
use crate::sqlite::{conflict_on_unique, SqliteStore};
use crate::{StoreError, StoreResult};

fn credential_row(r: &Row) -> crate::sql::Result<Credential> {
    Ok(Credential {
        id: r.get("id")?,
        user_id: r.get("user_id")?,
        project_id: r.get("project_id")?,
        kind: r.get("type")?,
        sealed_blob: r.get("blob")?,
        created_at: r.get("created_at")?,
    })
}

impl CredentialStore for SqliteStore {
    fn create_credential(&self, c: &Credential) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO credentials(id, user_id, project_id, type, blob, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    c.id,
                    c.user_id,
                    c.project_id,
                    c.kind,
                    c.sealed_blob,
                    c.created_at
                ],
            )
            .map_err(|e| {
                conflict_on_unique(e, || {
                    format!("Duplicate entry: a credential with id {} exists.", c.id)
                })
            })?;
            Ok(())
        })
    }

    fn get_credential(&self, id: &str) -> StoreResult<Credential> {
        self.db().read(|c| {
            c.prepare_cached("SELECT * FROM credentials WHERE id = ?1")?
                .query_row([id], credential_row)
                .optional()?
                .ok_or_else(|| StoreError::not_found("credential", id))
        })
    }

    fn list_credentials(
        &self,
        user_id: Option<&str>,
        kind: Option<&str>,
    ) -> StoreResult<Vec<Credential>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT * FROM credentials
                 WHERE (CAST(?1 AS TEXT) IS NULL OR user_id = ?1)
                   AND (CAST(?2 AS TEXT) IS NULL OR type = ?2)
                 ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map(params![user_id, kind], credential_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn update_credential_blob(&self, id: &str, sealed_blob: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE credentials SET blob = ?2 WHERE id = ?1",
                params![id, sealed_blob],
            )?;
            if n == 0 {
                return Err(StoreError::not_found("credential", id));
            }
            Ok(())
        })
    }

    fn delete_credential(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            if tx.execute("DELETE FROM credentials WHERE id = ?1", [id])? == 0 {
                return Err(StoreError::not_found("credential", id));
            }
            Ok(())
        })
    }
}
