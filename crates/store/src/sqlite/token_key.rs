//! SQL implementation of [`TokenKeyStore`] (both databases).

use crate::sql::{params, Conn, Row};
use crate::sqlite::SqliteStore;
use crate::token_key::{KeyPlan, SealedKey, TokenKeyStore};
use crate::StoreResult;

fn key_row(r: &Row) -> crate::sql::Result<SealedKey> {
    let number: i64 = r.get("number")?;
    Ok(SealedKey {
        repository: r.get("repository")?,
        number: number as u32,
        sealed: r.get("sealed")?,
    })
}

fn all(c: &Conn) -> StoreResult<Vec<SealedKey>> {
    let mut stmt = c.prepare_cached(
        "SELECT repository, number, sealed FROM token_keys ORDER BY repository, number",
    )?;
    let rows = stmt.query_map([], key_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

impl TokenKeyStore for SqliteStore {
    fn list_token_keys(&self) -> StoreResult<Vec<SealedKey>> {
        self.db().read(all)
    }

    fn change_token_keys(&self, plan: &mut KeyPlan<'_>) -> StoreResult<Vec<SealedKey>> {
        self.db().write(|tx| {
            let before = all(tx)?;
            let Some(after) = plan(&before)? else {
                return Ok(before);
            };
            // Only the rows that differ are written: a rotation of the
            // token keys leaves the credential keys' rows alone.
            for old in before.iter().filter(|k| !after.contains(k)) {
                tx.execute(
                    "DELETE FROM token_keys WHERE repository = ?1 AND number = ?2",
                    params![old.repository, i64::from(old.number)],
                )?;
            }
            for new in after.iter().filter(|k| !before.contains(k)) {
                tx.execute(
                    "INSERT INTO token_keys(repository, number, sealed) VALUES (?1, ?2, ?3)",
                    params![new.repository, i64::from(new.number), new.sealed],
                )?;
            }
            all(tx)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityStore as _;
    use crate::{Dataset, StoreError};

    fn key(repository: &str, number: u32, sealed: &str) -> SealedKey {
        SealedKey {
            repository: repository.into(),
            number,
            sealed: sealed.into(),
        }
    }

    #[test]
    fn a_plan_replaces_the_keys_and_moves_their_generation_only() {
        let (_keep, s) = crate::testing::store();
        assert!(s.list_token_keys().unwrap().is_empty());
        let g = [Dataset::Identity, Dataset::TokenKeys].map(|d| s.generation(d));
        let first = vec![
            key("credential", 1, "c1"),
            key("token", 0, "a"),
            key("token", 1, "b"),
        ];
        let stored = s
            .change_token_keys(&mut |now| {
                assert!(now.is_empty());
                Ok(Some(first.clone()))
            })
            .unwrap();
        assert_eq!(stored, first);
        assert_eq!(s.generation(Dataset::Identity), g[0]);
        assert_eq!(s.generation(Dataset::TokenKeys), g[1] + 1);
        // A rotation: 0 becomes 2, a new 0; the credential row is untouched.
        let rotated = vec![
            key("credential", 1, "c1"),
            key("token", 0, "n"),
            key("token", 1, "b"),
            key("token", 2, "a2"),
        ];
        let stored = s
            .change_token_keys(&mut |now| {
                assert_eq!(now, first.as_slice());
                Ok(Some(rotated.clone()))
            })
            .unwrap();
        assert_eq!(stored, rotated);
        assert_eq!(s.list_token_keys().unwrap(), rotated);
        // A plan that changes nothing moves nothing.
        let g = s.generation(Dataset::TokenKeys);
        s.change_token_keys(&mut |_| Ok(None)).unwrap();
        assert_eq!(s.generation(Dataset::TokenKeys), g);
    }

    #[test]
    fn a_refused_plan_writes_nothing() {
        let (_keep, s) = crate::testing::store();
        let r = s.change_token_keys(&mut |_| Err(StoreError::Refused("no".into())));
        assert!(matches!(r, Err(StoreError::Refused(_))));
        assert!(s.list_token_keys().unwrap().is_empty());
    }
}
