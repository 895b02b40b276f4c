//! SQL implementation of [`AccessRuleStore`].

use super::identity::insert_app_credential;
use crate::access_rule::{AccessRule, AccessRuleStore};
use crate::identity::ApplicationCredential;
use crate::sql::{params, Row};
use crate::sqlite::SqliteStore;
use crate::{StoreError, StoreResult};

fn rule_row(r: &Row) -> crate::sql::Result<AccessRule> {
    Ok(AccessRule {
        id: r.get("id")?,
        user_id: r.get("user_id")?,
        service: r.get("service")?,
        method: r.get("method")?,
        path: r.get("path")?,
    })
}

impl AccessRuleStore for SqliteStore {
    fn create_app_credential_with_rules(
        &self,
        c: &ApplicationCredential,
        rules: &[AccessRule],
    ) -> StoreResult<()> {
        self.db().write(|tx| {
            insert_app_credential(tx, c)?;
            for r in rules {
                tx.execute(
                    "INSERT INTO access_rules(id, user_id, service, method, path)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    params![r.id, c.user_id, r.service, r.method, r.path],
                )?;
                tx.execute(
                    "INSERT INTO application_credential_access_rules(application_credential_id, access_rule_id)
                     SELECT ?1, id FROM access_rules
                      WHERE user_id = ?2 AND service = ?3 AND method = ?4 AND path = ?5
                     ON CONFLICT DO NOTHING",
                    params![c.id, c.user_id, r.service, r.method, r.path],
                )?;
            }
            Ok(())
        })
    }

    fn app_credential_access_rules(&self, cred_id: &str) -> StoreResult<Vec<AccessRule>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT r.* FROM access_rules r
                   JOIN application_credential_access_rules l ON l.access_rule_id = r.id
                  WHERE l.application_credential_id = ?1 ORDER BY r.id",
            )?;
            let rows = stmt.query_map([cred_id], rule_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn list_access_rules(&self, user_id: &str) -> StoreResult<Vec<AccessRule>> {
        self.db().read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT * FROM access_rules WHERE user_id = ?1 ORDER BY id")?;
            let rows = stmt.query_map([user_id], rule_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn delete_access_rule(&self, user_id: &str, rule_id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            // Another user's rule does not exist, in use or not.
            let (owned, used): (i64, i64) = tx.query_row(
                "SELECT (SELECT count(*) FROM access_rules WHERE id = ?1 AND user_id = ?2),
                        (SELECT count(*) FROM application_credential_access_rules WHERE access_rule_id = ?1)",
                [rule_id, user_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if owned == 0 {
                return Err(StoreError::not_found("access rule", rule_id));
            }
            if used > 0 {
                return Err(StoreError::Conflict(format!(
                    "Access rule {rule_id} is in use by an application credential."
                )));
            }
            tx.execute("DELETE FROM access_rules WHERE id = ?1", [rule_id])?;
            Ok(())
        })
    }
}
