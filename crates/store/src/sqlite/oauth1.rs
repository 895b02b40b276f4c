//! SQL implementation of [`OAuth1Store`].

use crate::oauth1::{Consumer, OAuth1Store};
use crate::sql::{params, OptionalExtension, Row};
use crate::sqlite::SqliteStore;
use crate::{StoreError, StoreResult};

fn consumer_row(r: &Row) -> crate::sql::Result<Consumer> {
    let extra: String = r.get("extra")?;
    Ok(Consumer {
        id: r.get("id")?,
        description: r.get("description")?,
        sealed_secret: r.get("secret")?,
        extra: serde_json::from_str(&extra).unwrap_or_default(),
    })
}

impl OAuth1Store for SqliteStore {
    fn create_consumer(&self, c: &Consumer) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO oauth1_consumers(id, description, secret, extra)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    c.id,
                    c.description,
                    c.sealed_secret,
                    serde_json::to_string(&c.extra)?
                ],
            )?;
            Ok(())
        })
    }

    fn get_consumer(&self, id: &str) -> StoreResult<Consumer> {
        self.db().read(|c| {
            c.prepare_cached("SELECT * FROM oauth1_consumers WHERE id = ?1")?
                .query_row([id], consumer_row)
                .optional()?
                .ok_or_else(|| StoreError::not_found("consumer", id))
        })
    }

    fn list_consumers(&self) -> StoreResult<Vec<Consumer>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached("SELECT * FROM oauth1_consumers ORDER BY id")?;
            let rows = stmt.query_map([], consumer_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn update_consumer(&self, c: &Consumer) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE oauth1_consumers SET description = ?2, extra = ?3 WHERE id = ?1",
                params![c.id, c.description, serde_json::to_string(&c.extra)?],
            )?;
            if n == 0 {
                return Err(StoreError::not_found("consumer", &c.id));
            }
            Ok(())
        })
    }

    fn delete_consumer(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            if tx.execute("DELETE FROM oauth1_consumers WHERE id = ?1", [id])? == 0 {
                return Err(StoreError::not_found("consumer", id));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::oauth1::{Consumer, OAuth1Store};
    use crate::testing::store;

    #[test]
    fn a_consumer_is_stored_changed_and_deleted() {
        let (_keep, s) = store();
        let mut c = Consumer {
            id: "c1".into(),
            description: Some("app".into()),
            sealed_secret: "1:0:sealed".into(),
            extra: Default::default(),
        };
        s.create_consumer(&c).unwrap();
        assert!(s.create_consumer(&c).is_err(), "a taken id");
        assert_eq!(s.get_consumer("c1").unwrap(), c);
        c.description = None;
        c.extra.insert("team".into(), serde_json::json!("x"));
        s.update_consumer(&c).unwrap();
        assert_eq!(s.list_consumers().unwrap(), vec![c.clone()]);
        s.delete_consumer("c1").unwrap();
        assert!(s.get_consumer("c1").is_err());
        assert!(s.delete_consumer("c1").is_err());
        assert!(s.list_consumers().unwrap().is_empty());
    }
}
