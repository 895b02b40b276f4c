//! SQLite implementation of [`VolumeStore`]: constrained columns beside a
//! JSON body (see [`crate::volume`]); every write is one `BEGIN IMMEDIATE`
//! transaction, so a state check and the change it allows cannot race.

use super::{conflict_on_unique, SqliteStore};
use crate::sql::{params, Conn, OptionalExtension};
use crate::volume::{
    Attachment, GroupChange, Refusal, Snapshot, Volume, VolumeConflict, VolumeGroup, VolumeStore,
    VolumeType,
};
use crate::{StoreError, StoreResult};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashSet};

fn bodies<T: DeserializeOwned>(
    conn: &Conn,
    sql: &str,
    args: &[&dyn crate::sql::ToSql],
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(args, |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    rows.iter()
        .map(|b| serde_json::from_str(b).map_err(StoreError::from))
        .collect()
}

fn one<T: DeserializeOwned>(conn: &Conn, sql: &str, id: &str) -> StoreResult<Option<T>> {
    Ok(bodies(conn, sql, &[&id])?.into_iter().next())
}

const VOLUME: &str = "SELECT body FROM volumes WHERE id = ?1";
const SNAPSHOT: &str = "SELECT body FROM volume_snapshots WHERE id = ?1";
const ATTACHMENT: &str = "SELECT body FROM volume_attachments WHERE id = ?1";

fn specs(conn: &Conn, type_id: &str) -> StoreResult<BTreeMap<String, String>> {
    let mut stmt =
        conn.prepare_cached("SELECT key, value FROM volume_type_extra_specs WHERE type_id = ?1")?;
    let rows = stmt.query_map([type_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn with_specs(conn: &Conn, types: Vec<VolumeType>) -> StoreResult<Vec<VolumeType>> {
    types
        .into_iter()
        .map(|mut t| {
            t.extra_specs = specs(conn, &t.id)?;
            Ok(t)
        })
        .collect()
}

fn refused(e: Refusal) -> StoreError {
    StoreError::Refused(e)
}

fn write_group(tx: &Conn, before: &VolumeGroup, after: &VolumeGroup) -> StoreResult<()> {
    let id = &after.volume.id;
    if after.delete {
        tx.execute("DELETE FROM volumes WHERE id = ?1", [id])?;
        return Ok(());
    }
    tx.execute(
        "UPDATE volumes SET body = ?2, volume_type_id = ?3, project_id = ?4 WHERE id = ?1",
        params![
            id,
            serde_json::to_string(&after.volume)?,
            after.volume.volume_type_id,
            after.volume.project_id
        ],
    )?;
    let kept: HashSet<&str> = after.attachments.iter().map(|a| a.id.as_str()).collect();
    for gone in before
        .attachments
        .iter()
        .filter(|a| !kept.contains(a.id.as_str()))
    {
        tx.execute("DELETE FROM volume_attachments WHERE id = ?1", [&gone.id])?;
    }
    for a in &after.attachments {
        if before.attachments.contains(a) {
            continue;
        }
        tx.execute(
            "INSERT INTO volume_attachments (id, volume_id, project_id, instance_uuid, body)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET body = excluded.body,
                 project_id = excluded.project_id",
            params![
                a.id,
                id,
                after.volume.project_id,
                a.instance_uuid,
                serde_json::to_string(a)?
            ],
        )?;
    }
    let kept: HashSet<&str> = after.snapshots.iter().map(|s| s.id.as_str()).collect();
    for gone in before
        .snapshots
        .iter()
        .filter(|s| !kept.contains(s.id.as_str()))
    {
        tx.execute("DELETE FROM volume_snapshots WHERE id = ?1", [&gone.id])?;
    }
    for s in &after.snapshots {
        if before.snapshots.contains(s) {
            continue;
        }
        tx.execute(
            "INSERT INTO volume_snapshots (id, volume_id, project_id, body)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET body = excluded.body,
                 project_id = excluded.project_id",
            params![s.id, id, s.project_id, serde_json::to_string(s)?],
        )?;
    }
    Ok(())
}

fn load_group(conn: &Conn, id: &str) -> StoreResult<Option<VolumeGroup>> {
    let Some(volume) = one::<Volume>(conn, VOLUME, id)? else {
        return Ok(None);
    };
    Ok(Some(VolumeGroup {
        volume,
        attachments: bodies(
            conn,
            "SELECT body FROM volume_attachments WHERE volume_id = ?1 ORDER BY rowid",
            &[&id],
        )?,
        snapshots: bodies(
            conn,
            "SELECT body FROM volume_snapshots WHERE volume_id = ?1 ORDER BY rowid",
            &[&id],
        )?,
        delete: false,
    }))
}

fn by_project<T: DeserializeOwned>(
    conn: &Conn,
    table: &str,
    project_id: Option<&str>,
) -> StoreResult<Vec<T>> {
    match project_id {
        Some(p) => bodies(
            conn,
            &format!("SELECT body FROM {table} WHERE project_id = ?1 ORDER BY rowid"),
            &[&p],
        ),
        None => bodies(
            conn,
            &format!("SELECT body FROM {table} ORDER BY rowid"),
            &[],
        ),
    }
}

impl VolumeStore for SqliteStore {
    fn create_volume(&self, volume: &Volume) -> StoreResult<()> {
        self.db().write(|tx| {
            if let Some(sid) = &volume.snapshot_id {
                let ok = one::<Snapshot>(tx, SNAPSHOT, sid)?
                    .is_some_and(|s| s.status == "available");
                if !ok {
                    return Err(VolumeConflict::SourceNotAvailable {
                        kind: "snapshot",
                        id: sid.clone(),
                    }
                    .into());
                }
            }
            if let Some(vid) = &volume.source_volid {
                let ok = one::<Volume>(tx, VOLUME, vid)?
                    .is_some_and(|v| v.status == "available" || v.status == "in-use");
                if !ok {
                    return Err(VolumeConflict::SourceNotAvailable {
                        kind: "volume",
                        id: vid.clone(),
                    }
                    .into());
                }
            }
            tx.execute(
                "INSERT INTO volumes (id, project_id, volume_type_id, body) VALUES (?1, ?2, ?3, ?4)",
                params![
                    volume.id,
                    volume.project_id,
                    volume.volume_type_id,
                    serde_json::to_string(volume)?
                ],
            )
            .map_err(|e| conflict_on_unique(e, || format!("volume {} exists", volume.id)))?;
            Ok(())
        })
    }

    fn get_volume(&self, id: &str) -> StoreResult<Option<Volume>> {
        self.db().read(|c| one(c, VOLUME, id))
    }

    fn list_volumes(&self, project_id: Option<&str>) -> StoreResult<Vec<Volume>> {
        self.db().read(|c| by_project(c, "volumes", project_id))
    }

    fn change_volume(&self, id: &str, f: &mut GroupChange<'_>) -> StoreResult<Option<VolumeGroup>> {
        self.db().write(|tx| {
            let Some(before) = load_group(tx, id)? else {
                return Ok(None);
            };
            let mut after = before.clone();
            f(&mut after).map_err(refused)?;
            // The ids are the store's: a closure cannot move rows elsewhere.
            after.volume.id = before.volume.id.clone();
            if after != before {
                after.volume.updated_at = ferrostack_common::time::now_micros();
                write_group(tx, &before, &after)?;
            }
            Ok(Some(after))
        })
    }

    fn volume_attachments(&self, volume_id: &str) -> StoreResult<Vec<Attachment>> {
        self.db().read(|c| {
            bodies(
                c,
                "SELECT body FROM volume_attachments WHERE volume_id = ?1 ORDER BY rowid",
                &[&volume_id],
            )
        })
    }

    fn get_snapshot(&self, id: &str) -> StoreResult<Option<Snapshot>> {
        self.db().read(|c| one(c, SNAPSHOT, id))
    }

    fn list_snapshots(&self, project_id: Option<&str>) -> StoreResult<Vec<Snapshot>> {
        self.db()
            .read(|c| by_project(c, "volume_snapshots", project_id))
    }

    fn get_attachment(&self, id: &str) -> StoreResult<Option<Attachment>> {
        self.db().read(|c| one(c, ATTACHMENT, id))
    }

    fn list_attachments(&self, project_id: Option<&str>) -> StoreResult<Vec<Attachment>> {
        self.db()
            .read(|c| by_project(c, "volume_attachments", project_id))
    }

    fn create_type(&self, t: &VolumeType) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO volume_types (id, name, body) VALUES (?1, ?2, ?3)",
                params![t.id, t.name, serde_json::to_string(t)?],
            )
            .map_err(|e| {
                conflict_on_unique(e, || format!("Volume Type {} already exists.", t.name))
            })?;
            for (k, v) in &t.extra_specs {
                tx.execute(
                    "INSERT INTO volume_type_extra_specs (type_id, key, value) VALUES (?1, ?2, ?3)",
                    params![t.id, k, v],
                )?;
            }
            Ok(())
        })
    }

    fn get_type(&self, id: &str) -> StoreResult<Option<VolumeType>> {
        self.db().read(|c| {
            let t = one(c, "SELECT body FROM volume_types WHERE id = ?1", id)?;
            Ok(with_specs(c, t.into_iter().collect())?.pop())
        })
    }

    fn get_type_by_name(&self, name: &str) -> StoreResult<Option<VolumeType>> {
        self.db().read(|c| {
            let t = one(c, "SELECT body FROM volume_types WHERE name = ?1", name)?;
            Ok(with_specs(c, t.into_iter().collect())?.pop())
        })
    }

    fn list_types(&self) -> StoreResult<Vec<VolumeType>> {
        self.db().read(|c| {
            let types = bodies(c, "SELECT body FROM volume_types ORDER BY rowid", &[])?;
            with_specs(c, types)
        })
    }

    fn update_type(
        &self,
        id: &str,
        f: &mut dyn FnMut(&mut VolumeType) -> Result<(), Refusal>,
    ) -> StoreResult<Option<VolumeType>> {
        self.db().write(|tx| {
            let Some(mut t) =
                one::<VolumeType>(tx, "SELECT body FROM volume_types WHERE id = ?1", id)?
            else {
                return Ok(None);
            };
            f(&mut t).map_err(refused)?;
            t.id = id.to_string();
            tx.execute(
                "UPDATE volume_types SET name = ?2, body = ?3 WHERE id = ?1",
                params![id, t.name, serde_json::to_string(&t)?],
            )
            .map_err(|e| {
                conflict_on_unique(e, || format!("Volume Type {} already exists.", t.name))
            })?;
            t.extra_specs = specs(tx, id)?;
            Ok(Some(t))
        })
    }

    fn delete_type(&self, id: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            let used: i64 = tx.query_row(
                "SELECT count(*) FROM volumes WHERE volume_type_id = ?1",
                [id],
                |r| r.get(0),
            )?;
            if used > 0 {
                return Err(VolumeConflict::TypeInUse(id.to_string()).into());
            }
            Ok(tx.execute("DELETE FROM volume_types WHERE id = ?1", [id])? > 0)
        })
    }

    fn set_type_specs(&self, id: &str, specs: &BTreeMap<String, String>) -> StoreResult<()> {
        self.db().write(|tx| {
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM volume_types WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?;
            if exists.is_none() {
                return Err(StoreError::not_found("volume type", id));
            }
            for (k, v) in specs {
                tx.execute(
                    "INSERT INTO volume_type_extra_specs (type_id, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (type_id, key) DO UPDATE SET value = excluded.value",
                    params![id, k, v],
                )?;
            }
            Ok(())
        })
    }

    fn delete_type_spec(&self, id: &str, key: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            Ok(tx.execute(
                "DELETE FROM volume_type_extra_specs WHERE type_id = ?1 AND key = ?2",
                [id, key],
            )? > 0)
        })
    }

    fn type_access(&self, id: &str) -> StoreResult<Vec<String>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT project_id FROM volume_type_access WHERE type_id = ?1 ORDER BY project_id",
            )?;
            let rows = stmt.query_map([id], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn add_type_access(&self, id: &str, project_id: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            Ok(tx.execute(
                "INSERT INTO volume_type_access (type_id, project_id) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                [id, project_id],
            )? > 0)
        })
    }

    fn remove_type_access(&self, id: &str, project_id: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            Ok(tx.execute(
                "DELETE FROM volume_type_access WHERE type_id = ?1 AND project_id = ?2",
                [id, project_id],
            )? > 0)
        })
    }
}

#[cfg(test)]
#[path = "volume_tests.rs"]
mod tests;
