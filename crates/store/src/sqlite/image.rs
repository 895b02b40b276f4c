//! SQLite implementation of [`ImageStore`].

use super::{conflict_on_unique, SqliteStore};
use crate::image::{Image, ImageData, ImageMember, ImageStore, UploadHold};
use crate::sql::{params, Conn, OptionalExtension, Row};
use crate::{StoreError, StoreResult};

const COLUMNS: &str = "id, name, status, visibility, owner, protected, os_hidden, disk_format,
     container_format, size, virtual_size, checksum, os_hash_algo, os_hash_value, min_disk,
     min_ram, tags, properties, created_at, updated_at";

/// A row with its JSON columns still as text.
fn image_row(r: &Row) -> crate::sql::Result<(Image, String, String)> {
    Ok((
        Image {
            id: r.get(0)?,
            name: r.get(1)?,
            status: r.get(2)?,
            visibility: r.get(3)?,
            owner: r.get(4)?,
            protected: r.get(5)?,
            os_hidden: r.get(6)?,
            disk_format: r.get(7)?,
            container_format: r.get(8)?,
            size: r.get(9)?,
            virtual_size: r.get(10)?,
            checksum: r.get(11)?,
            os_hash_algo: r.get(12)?,
            os_hash_value: r.get(13)?,
            min_disk: r.get(14)?,
            min_ram: r.get(15)?,
            tags: Vec::new(),
            properties: Default::default(),
            created_at: r.get(18)?,
            updated_at: r.get(19)?,
        },
        r.get(16)?,
        r.get(17)?,
    ))
}

fn decode((mut image, tags, properties): (Image, String, String)) -> StoreResult<Image> {
    image.tags = serde_json::from_str(&tags)?;
    image.properties = serde_json::from_str(&properties)?;
    Ok(image)
}

pub(super) fn get(conn: &Conn, id: &str) -> StoreResult<Option<Image>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM images WHERE id=?1"),
        [id],
        image_row,
    )
    .optional()?
    .map(decode)
    .transpose()
}

/// `update`'s properties with `current`'s `os_glance_*` bookkeeping: an
/// import may have changed those since `update` was read.
fn with_bookkeeping(update: &Image, current: &Image) -> std::collections::BTreeMap<String, String> {
    let ours = |k: &String| k.starts_with(crate::image::BOOKKEEPING_PREFIX);
    let mut properties: std::collections::BTreeMap<String, String> = update
        .properties
        .iter()
        .filter(|(k, _)| !ours(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    properties.extend(
        current
            .properties
            .iter()
            .filter(|(k, _)| ours(k))
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    properties
}

fn member_row(r: &Row) -> crate::sql::Result<ImageMember> {
    Ok(ImageMember {
        image_id: r.get(0)?,
        member_id: r.get(1)?,
        status: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

impl ImageStore for SqliteStore {
    fn create_image(&self, i: &Image) -> StoreResult<bool> {
        let tags = serde_json::to_string(&i.tags)?;
        let properties = serde_json::to_string(&i.properties)?;
        let inserted = self.db().write(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO images ({COLUMNS}) VALUES
                     (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20)"
                ),
                params![
                    i.id,
                    i.name,
                    i.status,
                    i.visibility,
                    i.owner,
                    i.protected,
                    i.os_hidden,
                    i.disk_format,
                    i.container_format,
                    i.size,
                    i.virtual_size,
                    i.checksum,
                    i.os_hash_algo,
                    i.os_hash_value,
                    i.min_disk,
                    i.min_ram,
                    tags,
                    properties,
                    i.created_at,
                    i.updated_at
                ],
            )
            .map_err(|e| conflict_on_unique(e, || format!("image {} exists", i.id)))?;
            Ok(())
        });
        match inserted {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn get_image(&self, id: &str) -> StoreResult<Option<Image>> {
        self.db().read(|conn| get(conn, id))
    }

    fn list_images(&self) -> StoreResult<Vec<Image>> {
        self.db().read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM images ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([], image_row)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(decode(row?)?);
            }
            Ok(out)
        })
    }

    fn update_image(&self, i: &Image) -> StoreResult<bool> {
        let tags = serde_json::to_string(&i.tags)?;
        self.db().write(|tx| {
            let Some(current) = get(tx, &i.id)? else {
                return Ok(false);
            };
            let properties = serde_json::to_string(&with_bookkeeping(i, &current))?;
            let n = tx.execute(
                // The formats may only change while no data exists: an
                // upload that started meanwhile was inspected against the
                // stored formats, which must stay the ones it checked.
                "UPDATE images SET name=?2, visibility=?3, owner=?4, protected=?5, os_hidden=?6,
                 disk_format=CASE WHEN status='queued' THEN ?7 ELSE disk_format END,
                 container_format=CASE WHEN status='queued' THEN ?8 ELSE container_format END,
                 min_disk=?9, min_ram=?10, tags=?11, properties=?12, updated_at=?13 WHERE id=?1",
                params![
                    i.id,
                    i.name,
                    i.visibility,
                    i.owner,
                    i.protected,
                    i.os_hidden,
                    i.disk_format,
                    i.container_format,
                    i.min_disk,
                    i.min_ram,
                    tags,
                    properties,
                    i.updated_at
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn transition_status(
        &self,
        id: &str,
        from: &[&str],
        to: &str,
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
            Ok(Some((image, true)))
        })
    }

    fn finish_upload(&self, id: &str, d: &ImageData, status: &str, now: i64) -> StoreResult<bool> {
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE images SET status=?2, size=?3, virtual_size=?4, checksum=?5,
                 os_hash_algo=?6, os_hash_value=?7, updated_at=?8
                 WHERE id=?1 AND status='saving'",
                params![
                    id,
                    status,
                    d.size,
                    d.virtual_size,
                    d.checksum,
                    d.os_hash_algo,
                    d.os_hash_value,
                    now
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn delete_image(&self, id: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            tx.execute("DELETE FROM image_members WHERE image_id=?1", [id])?;
            Ok(tx.execute("DELETE FROM images WHERE id=?1", [id])? == 1)
        })
    }

    fn list_members(&self, image_id: &str) -> StoreResult<Vec<ImageMember>> {
        self.db().read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT image_id, member_id, status, created_at, updated_at
                 FROM image_members WHERE image_id=?1 ORDER BY member_id",
            )?;
            let rows = stmt.query_map([image_id], member_row)?;
            Ok(rows.collect::<crate::sql::Result<Vec<_>>>()?)
        })
    }

    fn memberships(&self, member_id: &str) -> StoreResult<Vec<ImageMember>> {
        self.db().read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT image_id, member_id, status, created_at, updated_at
                 FROM image_members WHERE member_id=?1 ORDER BY image_id",
            )?;
            let rows = stmt.query_map([member_id], member_row)?;
            Ok(rows.collect::<crate::sql::Result<Vec<_>>>()?)
        })
    }

    fn add_member(&self, m: &ImageMember) -> StoreResult<bool> {
        let added =
            self.db().write(|tx| {
                tx.execute(
                "INSERT INTO image_members (image_id, member_id, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![m.image_id, m.member_id, m.status, m.created_at, m.updated_at],
            )
            .map_err(|e| conflict_on_unique(e, || "member exists".into()))?;
                Ok(())
            });
        match added {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn set_member_status(
        &self,
        image_id: &str,
        member_id: &str,
        status: &str,
        now: i64,
    ) -> StoreResult<bool> {
        self.db().write(|tx| {
            Ok(tx.execute(
                "UPDATE image_members SET status=?3, updated_at=?4
                 WHERE image_id=?1 AND member_id=?2",
                params![image_id, member_id, status, now],
            )? == 1)
        })
    }

    fn delete_member(&self, image_id: &str, member_id: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            Ok(tx.execute(
                "DELETE FROM image_members WHERE image_id=?1 AND member_id=?2",
                params![image_id, member_id],
            )? == 1)
        })
    }

    fn reserve_upload_bytes(&self, h: &UploadHold<'_>) -> StoreResult<Result<(), u64>> {
        self.db().write(|tx| {
            // Summed here rather than in SQL: PostgreSQL's SUM of a BIGINT
            // is a NUMERIC.
            let mut stored: u64 = 0;
            let mut sizes = tx.prepare_cached(
                "SELECT size FROM images WHERE owner = ?1 AND size IS NOT NULL AND size > 0",
            )?;
            for size in sizes.query_map([h.owner], |r| r.get::<_, i64>(0))? {
                stored = stored.saturating_add(size?.max(0) as u64);
            }
            let in_flight: i64 = tx
                .query_row(
                    "SELECT in_use FROM quota_usage
                     WHERE service = ?1 AND project_id = ?2 AND resource = ?3",
                    [h.service, h.owner, h.resource],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0);
            let used = stored.saturating_add(in_flight.max(0) as u64);
            if used.saturating_add(h.bytes) > h.limit {
                return Ok(Err(used));
            }
            tx.execute(
                "INSERT INTO quota_allocations(service, project_id, resource, consumer_id, amount)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(service, project_id, resource, consumer_id)
                 DO UPDATE SET amount = quota_allocations.amount + excluded.amount",
                params![
                    h.service,
                    h.owner,
                    h.resource,
                    h.image_id,
                    as_count(h.bytes)
                ],
            )?;
            Ok(Ok(()))
        })
    }
}

/// Bytes as the quota tables count them.
fn as_count(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn image(id: &str) -> Image {
        Image {
            id: id.into(),
            name: Some("cirros".into()),
            status: "queued".into(),
            visibility: "shared".into(),
            owner: Some("p1".into()),
            protected: false,
            os_hidden: false,
            disk_format: Some("qcow2".into()),
            container_format: Some("bare".into()),
            size: None,
            virtual_size: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            min_disk: 0,
            min_ram: 0,
            tags: vec!["a".into(), "b".into()],
            properties: [("os_distro".to_string(), "cirros".to_string())].into(),
            created_at: 1,
            updated_at: 1,
        }
    }

    fn store() -> (crate::testing::Keep, SqliteStore) {
        crate::testing::store()
    }

    #[test]
    fn upload_holds_racing_on_two_controllers_never_pass_the_limit_together() {
        use crate::quota::QuotaStore;
        const MIB: u64 = 1 << 20;
        let (keep, first) = store();
        let second = crate::testing::reopen(&keep);
        let mut stored = image("stored");
        stored.size = Some(MIB as i64);
        assert!(first.create_image(&stored).unwrap());
        let stores = [first, second];
        let granted = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for n in 0..8 {
                let (store, granted) = (&stores[n % 2], &granted);
                scope.spawn(move || {
                    let id = format!("upload-{n}");
                    let hold = UploadHold {
                        service: "image",
                        resource: "image_size_uploading",
                        owner: "p1",
                        image_id: &id,
                        bytes: 4 * MIB,
                        limit: 10 * MIB,
                    };
                    if store.reserve_upload_bytes(&hold).unwrap().is_ok() {
                        granted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        // 1 MiB stored + two 4 MiB uploads fit in 10 MiB; a third would not.
        assert_eq!(granted.into_inner(), 2);
        let held = stores[0].usage("image", "p1").unwrap();
        assert_eq!(held.get("image_size_uploading"), Some(&(8 * MIB as i64)));
        // A refusal says what is in use and holds nothing.
        let hold = UploadHold {
            service: "image",
            resource: "image_size_uploading",
            owner: "p1",
            image_id: "late",
            bytes: 2 * MIB,
            limit: 10 * MIB,
        };
        assert_eq!(stores[1].reserve_upload_bytes(&hold).unwrap(), Err(9 * MIB));
        // Another project's quota is its own.
        let other = UploadHold {
            owner: "p2",
            ..hold
        };
        assert_eq!(stores[1].reserve_upload_bytes(&other).unwrap(), Ok(()));
    }

    #[test]
    fn images_round_trip_with_tags_and_properties() {
        let (_d, s) = store();
        let i = image("i1");
        assert!(s.create_image(&i).unwrap());
        assert!(!s.create_image(&i).unwrap(), "duplicate id");
        assert_eq!(s.get_image("i1").unwrap().unwrap(), i);
        let mut changed = i.clone();
        changed.name = Some("renamed".into());
        changed.tags.push("c".into());
        changed.size = Some(99); // data fields are not changed by update_image
        changed.status = "active".into(); // nor is the status
        assert!(s.update_image(&changed).unwrap());
        let got = s.get_image("i1").unwrap().unwrap();
        assert_eq!(got.name.as_deref(), Some("renamed"));
        assert_eq!(got.tags, ["a", "b", "c"]);
        assert_eq!(got.size, None);
        assert_eq!(got.status, "queued");
        assert_eq!(s.list_images().unwrap().len(), 1);
    }

    #[test]
    fn uploads_finish_only_from_saving() {
        let (_d, s) = store();
        s.create_image(&image("i1")).unwrap();
        let mut stale = s.get_image("i1").unwrap().unwrap();
        let data = ImageData {
            size: 3,
            virtual_size: 3,
            checksum: "c".into(),
            os_hash_algo: "sha512".into(),
            os_hash_value: "h".into(),
        };
        assert!(!s.finish_upload("i1", &data, "active", 2).unwrap());
        let (before, changed) = s
            .transition_status("i1", &["queued"], "saving", 2)
            .unwrap()
            .unwrap();
        assert!(changed && before.status == "queued");
        let (_, again) = s
            .transition_status("i1", &["queued"], "saving", 2)
            .unwrap()
            .unwrap();
        assert!(!again, "a second upload must not start");
        // A metadata update loaded before the upload started cannot change
        // the formats the upload is being inspected against.
        stale.disk_format = Some("raw".into());
        assert!(s.update_image(&stale).unwrap());
        assert_eq!(
            s.get_image("i1").unwrap().unwrap().disk_format.as_deref(),
            Some("qcow2")
        );
        assert!(s.finish_upload("i1", &data, "active", 3).unwrap());
        let got = s.get_image("i1").unwrap().unwrap();
        assert_eq!((got.status.as_str(), got.size), ("active", Some(3)));
        assert!(s
            .transition_status("nope", &["queued"], "saving", 1)
            .unwrap()
            .is_none());
    }

    #[test]
    fn members_follow_their_image() {
        let (_d, s) = store();
        s.create_image(&image("i1")).unwrap();
        let m = ImageMember {
            image_id: "i1".into(),
            member_id: "p2".into(),
            status: "pending".into(),
            created_at: 1,
            updated_at: 1,
        };
        assert!(s.add_member(&m).unwrap());
        assert!(!s.add_member(&m).unwrap());
        assert!(s.set_member_status("i1", "p2", "accepted", 2).unwrap());
        assert_eq!(s.memberships("p2").unwrap()[0].status, "accepted");
        assert!(s.delete_image("i1").unwrap());
        assert!(s.memberships("p2").unwrap().is_empty());
        assert!(!s.delete_member("i1", "p2").unwrap());
    }
}
