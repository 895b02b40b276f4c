//! The SQL implementation of [`AggregateStore`].

use super::{conflict_on_unique, SqliteStore};
use crate::aggregate::{Aggregate, AggregateChange, AggregateStore};
use crate::sql::{params, Conn, OptionalExtension};
use crate::{StoreError, StoreResult};

fn decode(id: i64, body: &str) -> StoreResult<Aggregate> {
    let mut a: Aggregate = serde_json::from_str(body)?;
    a.id = id;
    Ok(a)
}

fn get(c: &Conn, id: i64) -> StoreResult<Option<Aggregate>> {
    c.query_row("SELECT id, body FROM aggregates WHERE id = ?1", [id], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })
    .optional()?
    .map(|(id, b)| decode(id, &b))
    .transpose()
}

fn list(c: &Conn) -> StoreResult<Vec<Aggregate>> {
    let mut stmt = c.prepare_cached("SELECT id, body FROM aggregates ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    rows.iter().map(|(id, b)| decode(*id, b)).collect()
}

fn taken(name: &str) -> impl FnOnce() -> String + '_ {
    move || format!("Aggregate {name} already exists.")
}

impl AggregateStore for SqliteStore {
    fn create_aggregate(&self, a: Aggregate) -> StoreResult<Aggregate> {
        self.db().write(|tx| {
            let id: i64 = tx
                .query_row(
                    "INSERT INTO aggregates (name, body) VALUES (?1, ?2) RETURNING id",
                    params![a.name, serde_json::to_string(&a)?],
                    |r| r.get(0),
                )
                .map_err(|e| conflict_on_unique(e, taken(&a.name)))?;
            Ok(Aggregate { id, ..a.clone() })
        })
    }

    fn get_aggregate(&self, id: i64) -> StoreResult<Option<Aggregate>> {
        self.db().read(|c| get(c, id))
    }

    fn list_aggregates(&self) -> StoreResult<Vec<Aggregate>> {
        self.db().read(list)
    }

    fn change_aggregate(
        &self,
        id: i64,
        f: &mut AggregateChange<'_>,
    ) -> StoreResult<Option<Aggregate>> {
        self.db().write(|tx| {
            let before =
                get(tx, id)?.ok_or_else(|| StoreError::not_found("aggregate", id.to_string()))?;
            let others: Vec<Aggregate> = list(tx)?.into_iter().filter(|a| a.id != id).collect();
            match f(before.clone(), &others)? {
                None => {
                    tx.execute("DELETE FROM aggregates WHERE id = ?1", [id])?;
                    Ok(None)
                }
                Some(mut after) => {
                    after.id = id;
                    if after != before {
                        tx.execute(
                            "UPDATE aggregates SET name = ?2, body = ?3 WHERE id = ?1",
                            params![id, after.name, serde_json::to_string(&after)?],
                        )
                        .map_err(|e| conflict_on_unique(e, taken(&after.name)))?;
                    }
                    Ok(Some(after))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg(name: &str) -> Aggregate {
        Aggregate {
            id: 0,
            uuid: format!("uuid-{name}"),
            name: name.into(),
            hosts: vec![],
            metadata: Default::default(),
            created_at: 1,
            updated_at: 0,
        }
    }

    #[test]
    fn names_are_unique_and_changes_see_the_others() {
        let (_keep, s) = crate::testing::store();
        let a = s.create_aggregate(agg("a")).expect("a");
        let b = s.create_aggregate(agg("b")).expect("b");
        assert!(b.id > a.id);
        assert!(matches!(
            s.create_aggregate(agg("a")),
            Err(StoreError::Conflict(_))
        ));
        let renamed = s.change_aggregate(b.id, &mut |mut x, others| {
            assert_eq!(others.len(), 1);
            x.name = "a".into();
            Ok(Some(x))
        });
        assert!(matches!(renamed, Err(StoreError::Conflict(_))));
        let changed = s
            .change_aggregate(a.id, &mut |mut x, _| {
                x.hosts.push("h1".into());
                Ok(Some(x))
            })
            .expect("add host")
            .expect("row");
        assert_eq!(s.get_aggregate(a.id).expect("get"), Some(changed));
        assert!(s
            .change_aggregate(a.id, &mut |_, _| Ok(None))
            .expect("delete")
            .is_none());
        assert_eq!(s.list_aggregates().expect("list"), vec![b]);
        assert!(matches!(
            s.change_aggregate(a.id, &mut |x, _| Ok(Some(x))),
            Err(StoreError::NotFound { .. })
        ));
    }
}
