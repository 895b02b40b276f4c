//! SQL implementation of [`DomainConfigStore`].

use crate::domain_config::{ConfigChange, DomainConfig, DomainConfigStore};
use crate::sql::{params, OptionalExtension};
use crate::sqlite::SqliteStore;
use crate::StoreResult;

fn parse(body: Option<String>) -> StoreResult<Option<DomainConfig>> {
    Ok(match body {
        Some(b) => Some(serde_json::from_str(&b)?),
        None => None,
    })
}

impl DomainConfigStore for SqliteStore {
    fn get_domain_config(&self, domain_id: &str) -> StoreResult<Option<DomainConfig>> {
        let body: Option<String> = self.db().read(|c| {
            Ok(
                c.prepare_cached("SELECT body FROM domain_configs WHERE domain_id = ?1")?
                    .query_row([domain_id], |r| r.get(0))
                    .optional()?,
            )
        })?;
        parse(body)
    }

    fn modify_domain_config(
        &self,
        domain_id: &str,
        change: ConfigChange<'_>,
    ) -> StoreResult<Option<DomainConfig>> {
        self.db().write(|tx| {
            let body: Option<String> = tx
                .query_row(
                    "SELECT body FROM domain_configs WHERE domain_id = ?1",
                    [domain_id],
                    |r| r.get(0),
                )
                .optional()?;
            let next = change(parse(body)?)?;
            match &next {
                Some(config) => {
                    tx.execute(
                        "INSERT INTO domain_configs(domain_id, body) VALUES (?1, ?2)
                         ON CONFLICT (domain_id) DO UPDATE SET body = excluded.body",
                        params![domain_id, serde_json::to_string(config)?],
                    )?;
                }
                None => {
                    tx.execute(
                        "DELETE FROM domain_configs WHERE domain_id = ?1",
                        [domain_id],
                    )?;
                }
            }
            Ok(next)
        })
    }
}
