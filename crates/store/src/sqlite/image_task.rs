//! SQLite implementation of [`ImageTaskStore`]: Glance tasks, and the
//! image writes an import makes together with its `os_glance_*`
//! bookkeeping properties (one transaction each, so a user's metadata
//! update cannot interleave and undo them).

use super::image::get;
use super::{conflict_on_unique, SqliteStore};
use crate::image::{Image, ImageData, ImageTask, ImageTaskStore, PropertyChanges};
use crate::sql::{params, Conn, OptionalExtension, Row};
use crate::StoreResult;

const COLUMNS: &str = "id, type, status, owner, image_id, request_id, user_id, input, result,
     message, expires_at, created_at, updated_at";

type RawRow = (ImageTask, String, Option<String>);

fn task_row(r: &Row) -> crate::sql::Result<RawRow> {
    Ok((
        ImageTask {
            id: r.get(0)?,
            task_type: r.get(1)?,
            status: r.get(2)?,
            owner: r.get(3)?,
            image_id: r.get(4)?,
            request_id: r.get(5)?,
            user_id: r.get(6)?,
            input: serde_json::Value::Null,
            result: None,
            message: r.get(9)?,
            expires_at: r.get(10)?,
            created_at: r.get(11)?,
            updated_at: r.get(12)?,
        },
        r.get(7)?,
        r.get(8)?,
    ))
}

fn decode((mut task, input, result): RawRow) -> StoreResult<ImageTask> {
    task.input = serde_json::from_str(&input)?;
    task.result = result.as_deref().map(serde_json::from_str).transpose()?;
    Ok(task)
}

fn query(conn: &Conn, filter: &str, arg: Option<&str>) -> StoreResult<Vec<ImageTask>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM image_tasks {filter} ORDER BY created_at, id"
    ))?;
    let rows = match arg {
        Some(a) => stmt
            .query_map([a], task_row)?
            .collect::<Result<Vec<_>, _>>()?,
        None => stmt
            .query_map([], task_row)?
            .collect::<Result<Vec<_>, _>>()?,
    };
    rows.into_iter().map(decode).collect()
}

/// Apply `changes` to the properties of `image` and write them back.
fn write_properties(
    tx: &Conn,
    image: &Image,
    changes: PropertyChanges<'_>,
    now: i64,
) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut properties = image.properties.clone();
    for (key, value) in changes {
        match value {
            Some(v) => properties.insert((*key).to_string(), (*v).to_string()),
            None => properties.remove(*key),
        };
    }
    tx.execute(
        "UPDATE images SET properties=?2, updated_at=?3 WHERE id=?1",
        params![image.id, serde_json::to_string(&properties)?, now],
    )?;
    Ok(())
}

impl ImageTaskStore for SqliteStore {
    fn create_task(&self, t: &ImageTask) -> StoreResult<()> {
        let input = serde_json::to_string(&t.input)?;
        let result = t.result.as_ref().map(serde_json::to_string).transpose()?;
        self.db().write(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO image_tasks ({COLUMNS}) VALUES
                     (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"
                ),
                params![
                    t.id,
                    t.task_type,
                    t.status,
                    t.owner,
                    t.image_id,
                    t.request_id,
                    t.user_id,
                    input,
                    result,
                    t.message,
                    t.expires_at,
                    t.created_at,
                    t.updated_at
                ],
            )
            .map_err(|e| conflict_on_unique(e, || format!("task {} exists", t.id)))?;
            Ok(())
        })
    }

    fn get_task(&self, id: &str) -> StoreResult<Option<ImageTask>> {
        self.db().read(|conn| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM image_tasks WHERE id=?1"),
                [id],
                task_row,
            )
            .optional()?
            .map(decode)
            .transpose()
        })
    }

    fn list_tasks(&self) -> StoreResult<Vec<ImageTask>> {
        self.db().read(|conn| query(conn, "", None))
    }

    fn tasks_of_image(&self, image_id: &str) -> StoreResult<Vec<ImageTask>> {
        self.db()
            .read(|conn| query(conn, "WHERE image_id=?1", Some(image_id)))
    }

    fn update_task(&self, t: &ImageTask) -> StoreResult<bool> {
        let result = t.result.as_ref().map(serde_json::to_string).transpose()?;
        self.db().write(|tx| {
            Ok(tx.execute(
                "UPDATE image_tasks SET status=?2, result=?3, message=?4, expires_at=?5,
                 updated_at=?6 WHERE id=?1",
                params![
                    t.id,
                    t.status,
                    result,
                    t.message,
                    t.expires_at,
                    t.updated_at
                ],
            )? == 1)
        })
    }

    fn transition_with_properties(
        &self,
        id: &str,
        from: &[&str],
        to: &str,
        properties: PropertyChanges<'_>,
        now: i64,
    ) -> StoreResult<Option<(Image, bool)>> {
        self.db().write(|tx| {
            let Some(image) = get(tx, id)? else {
                return Ok(None);
            };
            if !from.contains(&image.status.as_str()) {
                return Ok(Some((image, false)));
            }
            tx.execute(
                "UPDATE images SET status=?2, updated_at=?3 WHERE id=?1",
                params![id, to, now],
            )?;
            write_properties(tx, &image, properties, now)?;
            Ok(Some((image, true)))
        })
    }

    fn finish_import(
        &self,
        id: &str,
        d: &ImageData,
        properties: PropertyChanges<'_>,
        now: i64,
    ) -> StoreResult<bool> {
        self.db().write(|tx| {
            let Some(image) = get(tx, id)? else {
                return Ok(false);
            };
            if image.status != "importing" {
                return Ok(false);
            }
            tx.execute(
                "UPDATE images SET status='active', size=?2, virtual_size=?3, checksum=?4,
                 os_hash_algo=?5, os_hash_value=?6, updated_at=?7 WHERE id=?1",
                params![
                    id,
                    d.size,
                    d.virtual_size,
                    d.checksum,
                    d.os_hash_algo,
                    d.os_hash_value,
                    now
                ],
            )?;
            write_properties(tx, &image, properties, now)?;
            Ok(true)
        })
    }
}
