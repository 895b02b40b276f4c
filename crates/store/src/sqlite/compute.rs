//! SQLite implementation of [`ComputeStore`].

use super::{conflict_on_unique, SqliteStore};
use crate::compute::{ComputeStore, Flavor, FlavorClash, KeyPair};
use crate::sql::{params, Conn, OptionalExtension, Row};
use crate::StoreResult;
use std::collections::BTreeMap;

const FLAVOR_COLUMNS: &str = "pk, flavorid, name, memory_mb, vcpus, root_gb, ephemeral_gb, swap,
     rxtx_factor, is_public, disabled, description, created_at, updated_at";

fn flavor_row(r: &Row) -> crate::sql::Result<Flavor> {
    Ok(Flavor {
        pk: r.get(0)?,
        id: r.get(1)?,
        name: r.get(2)?,
        memory_mb: r.get(3)?,
        vcpus: r.get(4)?,
        root_gb: r.get(5)?,
        ephemeral_gb: r.get(6)?,
        swap: r.get(7)?,
        rxtx_factor: r.get(8)?,
        is_public: r.get(9)?,
        disabled: r.get(10)?,
        description: r.get(11)?,
        extra_specs: BTreeMap::new(),
        projects: Vec::new(),
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

/// Fill in extra specs and access lists of `flavors`.
fn complete(conn: &Conn, flavors: &mut [Flavor], only: Option<i64>) -> StoreResult<()> {
    let by_pk: BTreeMap<i64, usize> = flavors.iter().enumerate().map(|(i, f)| (f.pk, i)).collect();
    let filter = if only.is_some() {
        " WHERE flavor_pk=?1"
    } else {
        ""
    };
    let args: Vec<i64> = only.into_iter().collect();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT flavor_pk, key, value FROM flavor_extra_specs{filter} ORDER BY key"
    ))?;
    let rows = stmt.query_map(crate::sql::params_from_iter(args.iter()), |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (pk, key, value) = row?;
        if let Some(&i) = by_pk.get(&pk) {
            flavors[i].extra_specs.insert(key, value);
        }
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT flavor_pk, project_id FROM flavor_access{filter} ORDER BY project_id"
    ))?;
    let rows = stmt.query_map(crate::sql::params_from_iter(args.iter()), |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (pk, project) = row?;
        if let Some(&i) = by_pk.get(&pk) {
            flavors[i].projects.push(project);
        }
    }
    Ok(())
}

fn flavor_by_id(conn: &Conn, id: &str) -> StoreResult<Option<Flavor>> {
    let found = conn
        .query_row(
            &format!("SELECT {FLAVOR_COLUMNS} FROM flavors WHERE flavorid=?1"),
            [id],
            flavor_row,
        )
        .optional()?;
    let Some(flavor) = found else {
        return Ok(None);
    };
    let pk = flavor.pk;
    let mut one = [flavor];
    complete(conn, &mut one, Some(pk))?;
    let [flavor] = one;
    Ok(Some(flavor))
}

fn flavor_pk(conn: &Conn, id: &str) -> StoreResult<Option<i64>> {
    Ok(conn
        .query_row("SELECT pk FROM flavors WHERE flavorid=?1", [id], |r| {
            r.get(0)
        })
        .optional()?)
}

const KEY_PAIR_COLUMNS: &str = "id, user_id, name, type, public_key, fingerprint, created_at";

fn key_pair_row(r: &Row) -> crate::sql::Result<KeyPair> {
    Ok(KeyPair {
        id: r.get(0)?,
        user_id: r.get(1)?,
        name: r.get(2)?,
        key_type: r.get(3)?,
        public_key: r.get(4)?,
        fingerprint: r.get(5)?,
        created_at: r.get(6)?,
    })
}

fn key_pair_by_name(conn: &Conn, user_id: &str, name: &str) -> StoreResult<Option<KeyPair>> {
    Ok(conn
        .query_row(
            &format!("SELECT {KEY_PAIR_COLUMNS} FROM key_pairs WHERE user_id=?1 AND name=?2"),
            [user_id, name],
            key_pair_row,
        )
        .optional()?)
}

impl ComputeStore for SqliteStore {
    fn create_flavor(&self, f: &Flavor) -> StoreResult<Result<Flavor, FlavorClash>> {
        self.db().write(|tx| {
            if flavor_pk(tx, &f.id)?.is_some() {
                return Ok(Err(FlavorClash::Id));
            }
            let named: Option<i64> = tx
                .query_row("SELECT pk FROM flavors WHERE name=?1", [&f.name], |r| {
                    r.get(0)
                })
                .optional()?;
            if named.is_some() {
                return Ok(Err(FlavorClash::Name));
            }
            tx.execute(
                "INSERT INTO flavors(flavorid, name, memory_mb, vcpus, root_gb, ephemeral_gb,
                     swap, rxtx_factor, is_public, disabled, description, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    f.id,
                    f.name,
                    f.memory_mb,
                    f.vcpus,
                    f.root_gb,
                    f.ephemeral_gb,
                    f.swap,
                    f.rxtx_factor,
                    f.is_public,
                    f.disabled,
                    f.description,
                    f.created_at
                ],
            )
            .map_err(|e| conflict_on_unique(e, || format!("flavor {} exists", f.id)))?;
            let stored = flavor_by_id(tx, &f.id)?
                .ok_or_else(|| crate::StoreError::not_found("flavor", f.id.clone()))?;
            Ok(Ok(stored))
        })
    }

    fn get_flavor(&self, id: &str) -> StoreResult<Option<Flavor>> {
        self.db().read(|c| flavor_by_id(c, id))
    }

    fn list_flavors(&self) -> StoreResult<Vec<Flavor>> {
        self.db().read(|c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {FLAVOR_COLUMNS} FROM flavors ORDER BY pk"))?;
            let mut flavors = stmt
                .query_map([], flavor_row)?
                .collect::<Result<Vec<_>, _>>()?;
            complete(c, &mut flavors, None)?;
            Ok(flavors)
        })
    }

    fn set_flavor_description(&self, id: &str, description: Option<&str>) -> StoreResult<bool> {
        let now = ferrostack_common::time::now_micros();
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE flavors SET description=?2, updated_at=?3 WHERE flavorid=?1",
                params![id, description, now],
            )?;
            Ok(n > 0)
        })
    }

    fn delete_flavor(&self, id: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            let n = tx.execute("DELETE FROM flavors WHERE flavorid=?1", [id])?;
            Ok(n > 0)
        })
    }

    fn set_extra_specs(&self, id: &str, specs: &BTreeMap<String, String>) -> StoreResult<bool> {
        self.db().write(|tx| {
            let Some(pk) = flavor_pk(tx, id)? else {
                return Ok(false);
            };
            for (key, value) in specs {
                tx.execute(
                    "INSERT INTO flavor_extra_specs(flavor_pk, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT(flavor_pk, key) DO UPDATE SET value=excluded.value",
                    params![pk, key, value],
                )?;
            }
            Ok(true)
        })
    }

    fn delete_extra_spec(&self, id: &str, key: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            let Some(pk) = flavor_pk(tx, id)? else {
                return Ok(false);
            };
            let n = tx.execute(
                "DELETE FROM flavor_extra_specs WHERE flavor_pk=?1 AND key=?2",
                params![pk, key],
            )?;
            Ok(n > 0)
        })
    }

    fn add_flavor_access(&self, id: &str, project_id: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            let Some(pk) = flavor_pk(tx, id)? else {
                return Ok(false);
            };
            let n = tx.execute(
                "INSERT INTO flavor_access(flavor_pk, project_id) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                params![pk, project_id],
            )?;
            Ok(n > 0)
        })
    }

    fn remove_flavor_access(&self, id: &str, project_id: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            let Some(pk) = flavor_pk(tx, id)? else {
                return Ok(false);
            };
            let n = tx.execute(
                "DELETE FROM flavor_access WHERE flavor_pk=?1 AND project_id=?2",
                params![pk, project_id],
            )?;
            Ok(n > 0)
        })
    }

    fn create_key_pair(&self, k: &KeyPair) -> StoreResult<Option<KeyPair>> {
        self.db().write(|tx| {
            if key_pair_by_name(tx, &k.user_id, &k.name)?.is_some() {
                return Ok(None);
            }
            tx.execute(
                "INSERT INTO key_pairs(user_id, name, type, public_key, fingerprint, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    k.user_id,
                    k.name,
                    k.key_type,
                    k.public_key,
                    k.fingerprint,
                    k.created_at
                ],
            )?;
            key_pair_by_name(tx, &k.user_id, &k.name)
        })
    }

    fn get_key_pair(&self, user_id: &str, name: &str) -> StoreResult<Option<KeyPair>> {
        self.db().read(|c| key_pair_by_name(c, user_id, name))
    }

    fn list_key_pairs(&self, user_id: &str) -> StoreResult<Vec<KeyPair>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {KEY_PAIR_COLUMNS} FROM key_pairs WHERE user_id=?1 ORDER BY id"
            ))?;
            let rows = stmt.query_map([user_id], key_pair_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn delete_key_pair(&self, user_id: &str, name: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            let n = tx.execute(
                "DELETE FROM key_pairs WHERE user_id=?1 AND name=?2",
                [user_id, name],
            )?;
            Ok(n > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (crate::testing::Keep, SqliteStore) {
        crate::testing::store()
    }

    fn flavor(id: &str, name: &str) -> Flavor {
        Flavor {
            pk: 0,
            id: id.into(),
            name: name.into(),
            memory_mb: 512,
            vcpus: 1,
            root_gb: 1,
            ephemeral_gb: 0,
            swap: 0,
            rxtx_factor: 1.0,
            is_public: true,
            disabled: false,
            description: None,
            extra_specs: BTreeMap::new(),
            projects: vec![],
            created_at: 1,
            updated_at: None,
        }
    }

    #[test]
    fn flavor_ids_and_names_are_unique() {
        let (_d, s) = store();
        let made = s.create_flavor(&flavor("1", "m1.tiny")).unwrap().unwrap();
        assert_eq!(made.name, "m1.tiny");
        assert_eq!(
            s.create_flavor(&flavor("1", "other")).unwrap(),
            Err(FlavorClash::Id)
        );
        assert_eq!(
            s.create_flavor(&flavor("2", "m1.tiny")).unwrap(),
            Err(FlavorClash::Name)
        );
        assert_eq!(s.list_flavors().unwrap().len(), 1);
    }

    #[test]
    fn deleting_a_flavor_takes_its_specs_and_access_with_it() {
        let (_d, s) = store();
        s.create_flavor(&flavor("1", "a")).unwrap().unwrap();
        let specs = BTreeMap::from([("hw:cpu_policy".to_string(), "shared".to_string())]);
        assert!(s.set_extra_specs("1", &specs).unwrap());
        assert!(s.add_flavor_access("1", "p1").unwrap());
        assert!(!s.add_flavor_access("1", "p1").unwrap());
        let got = s.get_flavor("1").unwrap().unwrap();
        assert_eq!(got.extra_specs, specs);
        assert_eq!(got.projects, vec!["p1".to_string()]);
        assert!(s.delete_flavor("1").unwrap());
        assert!(s.get_flavor("1").unwrap().is_none());
        s.create_flavor(&flavor("1", "a")).unwrap().unwrap();
        let again = s.get_flavor("1").unwrap().unwrap();
        assert!(again.extra_specs.is_empty() && again.projects.is_empty());
    }

    #[test]
    fn key_pair_names_are_unique_per_user() {
        let (_d, s) = store();
        let k = KeyPair {
            id: 0,
            user_id: "u1".into(),
            name: "k".into(),
            key_type: "ssh".into(),
            public_key: "ssh-ed25519 AAAA".into(),
            fingerprint: "aa".into(),
            created_at: 1,
        };
        assert!(s.create_key_pair(&k).unwrap().is_some());
        assert!(s.create_key_pair(&k).unwrap().is_none());
        let other = KeyPair {
            user_id: "u2".into(),
            ..k.clone()
        };
        assert!(s.create_key_pair(&other).unwrap().is_some());
        assert_eq!(s.list_key_pairs("u1").unwrap().len(), 1);
        assert!(s.delete_key_pair("u1", "k").unwrap());
        assert!(!s.delete_key_pair("u1", "k").unwrap());
        assert!(s.get_key_pair("u2", "k").unwrap().is_some());
    }
}
