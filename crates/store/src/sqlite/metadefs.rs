//! SQLite (and PostgreSQL) implementation of [`MetadefStore`]: one row per
//! namespace, its parts as JSON (see [`crate::metadefs`] for why).

use super::SqliteStore;
use crate::metadefs::{MetadefStore, Namespace, Refusal, ResourceType};
use crate::sql::{params, Conn, OptionalExtension, Row};
use crate::{StoreError, StoreResult};

const COLUMNS: &str = "namespace, visibility, protected, owner, body, created_at, updated_at";

fn row(r: &Row) -> crate::sql::Result<(Namespace, String)> {
    Ok((
        Namespace {
            namespace: r.get(0)?,
            visibility: r.get(1)?,
            protected: r.get(2)?,
            owner: r.get(3)?,
            created_at: r.get(5)?,
            updated_at: r.get(6)?,
            body: Default::default(),
        },
        r.get(4)?,
    ))
}

fn decode((mut ns, body): (Namespace, String)) -> StoreResult<Namespace> {
    ns.body = serde_json::from_str(&body)?;
    Ok(ns)
}

fn get(conn: &Conn, name: &str) -> StoreResult<Option<Namespace>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM metadef_namespaces WHERE namespace=?1"),
        [name],
        row,
    )
    .optional()?
    .map(decode)
    .transpose()
}

fn exists(conn: &Conn, name: &str) -> StoreResult<bool> {
    Ok(conn
        .query_row(
            "SELECT namespace FROM metadef_namespaces WHERE namespace=?1",
            [name],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .is_some())
}

fn insert(conn: &Conn, ns: &Namespace) -> StoreResult<()> {
    conn.execute(
        &format!("INSERT INTO metadef_namespaces ({COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7)"),
        params![
            ns.namespace,
            ns.visibility,
            ns.protected,
            ns.owner,
            serde_json::to_string(&ns.body)?,
            ns.created_at,
            ns.updated_at
        ],
    )?;
    add_resource_types(conn, ns)
}

/// Glance creates a resource type the first time a namespace names it.
fn add_resource_types(conn: &Conn, ns: &Namespace) -> StoreResult<()> {
    for a in &ns.body.resource_type_associations {
        conn.execute(
            "INSERT INTO metadef_resource_types (name, created_at, updated_at)
             VALUES (?1, ?2, ?2) ON CONFLICT DO NOTHING",
            params![a.name, a.created_at],
        )?;
    }
    Ok(())
}

impl MetadefStore for SqliteStore {
    fn create_namespace(&self, ns: &Namespace) -> StoreResult<bool> {
        self.db().write(|tx| {
            if exists(tx, &ns.namespace)? {
                return Ok(false);
            }
            insert(tx, ns)?;
            Ok(true)
        })
    }

    fn get_namespace(&self, name: &str) -> StoreResult<Option<Namespace>> {
        self.db().read(|conn| get(conn, name))
    }

    fn list_namespaces(&self) -> StoreResult<Vec<Namespace>> {
        self.db().read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM metadef_namespaces ORDER BY created_at, namespace"
            ))?;
            let rows = stmt.query_map([], row)?;
            rows.map(|r| decode(r?)).collect()
        })
    }

    fn update_namespace(
        &self,
        name: &str,
        f: &mut dyn FnMut(&mut Namespace) -> Result<(), Refusal>,
    ) -> StoreResult<Option<Namespace>> {
        self.db().write(|tx| {
            let Some(mut ns) = get(tx, name)? else {
                return Ok(None);
            };
            f(&mut ns).map_err(StoreError::Refused)?;
            if ns.namespace != name && exists(tx, &ns.namespace)? {
                return Err(StoreError::Conflict(format!(
                    "Metadata definition namespace={} already exists.",
                    ns.namespace
                )));
            }
            tx.execute(
                "UPDATE metadef_namespaces SET namespace=?2, visibility=?3, protected=?4,
                 owner=?5, body=?6, updated_at=?7 WHERE namespace=?1",
                params![
                    name,
                    ns.namespace,
                    ns.visibility,
                    ns.protected,
                    ns.owner,
                    serde_json::to_string(&ns.body)?,
                    ns.updated_at
                ],
            )?;
            add_resource_types(tx, &ns)?;
            Ok(Some(ns))
        })
    }

    fn delete_namespace(
        &self,
        name: &str,
        check: &mut dyn FnMut(&Namespace) -> Result<(), Refusal>,
    ) -> StoreResult<bool> {
        self.db().write(|tx| {
            let Some(ns) = get(tx, name)? else {
                return Ok(false);
            };
            check(&ns).map_err(StoreError::Refused)?;
            tx.execute("DELETE FROM metadef_namespaces WHERE namespace=?1", [name])?;
            Ok(true)
        })
    }

    fn list_resource_types(&self) -> StoreResult<Vec<ResourceType>> {
        self.db().read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT name, created_at, updated_at FROM metadef_resource_types ORDER BY name",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(ResourceType {
                    name: r.get(0)?,
                    created_at: r.get(1)?,
                    updated_at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn load_stock_namespaces(&self, marker: &str, namespaces: &[Namespace]) -> StoreResult<usize> {
        self.db().write(|tx| {
            let done = tx
                .query_row("SELECT value FROM settings WHERE key=?1", [marker], |r| {
                    r.get::<_, String>(0)
                })
                .optional()?;
            if done.is_some() {
                return Ok(0);
            }
            let mut made = 0;
            for ns in namespaces {
                if !exists(tx, &ns.namespace)? {
                    insert(tx, ns)?;
                    made += 1;
                }
            }
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)",
                params![marker, made.to_string()],
            )?;
            Ok(made)
        })
    }
}
