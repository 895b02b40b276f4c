//! SQLite implementation of [`BackupRecords`] and [`QosRecords`].

use super::SqliteStore;
use crate::sql::{params, OptionalExtension};
use crate::volume_extras::{
    Backup, BackupChange, BackupRecords, ExtrasConflict, QosRecords, QosSpecs, Transfer,
    TransferRecords,
};
use crate::StoreResult;
use std::collections::BTreeMap;

fn backup_of(text: &str) -> StoreResult<Backup> {
    Ok(serde_json::from_str(text)?)
}

impl BackupRecords for SqliteStore {
    fn create_backup(&self, b: &Backup) -> StoreResult<()> {
        let body = serde_json::to_string(b)?;
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO volume_backups (id, project_id, volume_id, parent_id, body)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![b.id, b.project_id, b.volume_id, b.parent_id, body],
            )?;
            Ok(())
        })
    }

    fn get_backup(&self, id: &str) -> StoreResult<Option<Backup>> {
        self.db().read(|c| {
            c.query_row("SELECT body FROM volume_backups WHERE id = ?1", [id], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .map(|t| backup_of(&t))
            .transpose()
        })
    }

    fn list_backups(&self, project_id: Option<&str>) -> StoreResult<Vec<Backup>> {
        self.db().read(|c| {
            let mut stmt = c.prepare(
                "SELECT body FROM volume_backups WHERE CAST(?1 AS TEXT) IS NULL OR project_id = ?1",
            )?;
            let rows = stmt
                .query_map([project_id], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = rows
                .iter()
                .map(|t| backup_of(t))
                .collect::<StoreResult<Vec<_>>>()?;
            out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(out)
        })
    }

    fn backup_children(&self, id: &str) -> StoreResult<Vec<String>> {
        self.db().read(|c| {
            let mut stmt = c.prepare("SELECT id FROM volume_backups WHERE parent_id = ?1")?;
            let rows = stmt
                .query_map([id], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn change_backup(&self, id: &str, f: &mut BackupChange<'_>) -> StoreResult<Option<Backup>> {
        self.db().write(|tx| {
            let Some(text) = tx
                .query_row("SELECT body FROM volume_backups WHERE id = ?1", [id], |r| {
                    r.get::<_, String>(0)
                })
                .optional()?
            else {
                return Ok(None);
            };
            let mut b = backup_of(&text)?;
            f(&mut b)?;
            tx.execute(
                "UPDATE volume_backups SET body = ?2 WHERE id = ?1",
                params![id, serde_json::to_string(&b)?],
            )?;
            Ok(Some(b))
        })
    }

    fn delete_backup(&self, id: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            let children: i64 = tx.query_row(
                "SELECT count(*) FROM volume_backups WHERE parent_id = ?1",
                [id],
                |r| r.get(0),
            )?;
            if children > 0 {
                return Err(ExtrasConflict::BackupHasDependents(id.into()).into());
            }
            Ok(tx.execute("DELETE FROM volume_backups WHERE id = ?1", [id])? > 0)
        })
    }
}

fn qos_of(text: &str) -> StoreResult<QosSpecs> {
    Ok(serde_json::from_str(text)?)
}

impl QosRecords for SqliteStore {
    fn create_qos(&self, q: &QosSpecs) -> StoreResult<()> {
        let body = serde_json::to_string(q)?;
        self.db().write(|tx| {
            let taken: i64 = tx.query_row(
                "SELECT count(*) FROM qos_specs WHERE name = ?1",
                [&q.name],
                |r| r.get(0),
            )?;
            if taken > 0 {
                return Err(ExtrasConflict::QosNameTaken(q.name.clone()).into());
            }
            tx.execute(
                "INSERT INTO qos_specs (id, name, body) VALUES (?1, ?2, ?3)",
                params![q.id, q.name, body],
            )?;
            Ok(())
        })
    }

    fn get_qos(&self, id: &str) -> StoreResult<Option<QosSpecs>> {
        self.db().read(|c| {
            c.query_row("SELECT body FROM qos_specs WHERE id = ?1", [id], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
            .map(|t| qos_of(&t))
            .transpose()
        })
    }

    fn list_qos(&self) -> StoreResult<Vec<QosSpecs>> {
        self.db().read(|c| {
            let mut stmt = c.prepare("SELECT body FROM qos_specs ORDER BY name")?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            rows.iter().map(|t| qos_of(t)).collect()
        })
    }

    fn set_qos_specs(&self, id: &str, specs: &BTreeMap<String, String>) -> StoreResult<bool> {
        self.db().write(|tx| {
            let Some(text) = tx
                .query_row("SELECT body FROM qos_specs WHERE id = ?1", [id], |r| {
                    r.get::<_, String>(0)
                })
                .optional()?
            else {
                return Ok(false);
            };
            let mut q = qos_of(&text)?;
            q.specs = specs.clone();
            tx.execute(
                "UPDATE qos_specs SET body = ?2 WHERE id = ?1",
                params![id, serde_json::to_string(&q)?],
            )?;
            Ok(true)
        })
    }

    fn delete_qos(&self, id: &str, force: bool) -> StoreResult<bool> {
        self.db().write(|tx| {
            let used: i64 = tx.query_row(
                "SELECT count(*) FROM qos_associations WHERE qos_id = ?1",
                [id],
                |r| r.get(0),
            )?;
            if used > 0 && !force {
                return Err(ExtrasConflict::QosInUse(id.into()).into());
            }
            tx.execute("DELETE FROM qos_associations WHERE qos_id = ?1", [id])?;
            Ok(tx.execute("DELETE FROM qos_specs WHERE id = ?1", [id])? > 0)
        })
    }

    fn associate_qos(&self, qos_id: &str, type_id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO qos_associations (type_id, qos_id) VALUES (?1, ?2)
                 ON CONFLICT (type_id) DO UPDATE SET qos_id = excluded.qos_id",
                params![type_id, qos_id],
            )?;
            Ok(())
        })
    }

    fn disassociate_qos(&self, qos_id: &str, type_id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "DELETE FROM qos_associations WHERE qos_id = ?1 AND type_id = ?2",
                params![qos_id, type_id],
            )?;
            Ok(())
        })
    }

    fn disassociate_all_qos(&self, qos_id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute("DELETE FROM qos_associations WHERE qos_id = ?1", [qos_id])?;
            Ok(())
        })
    }

    fn qos_types(&self, qos_id: &str) -> StoreResult<Vec<String>> {
        self.db().read(|c| {
            let mut stmt = c.prepare(
                "SELECT type_id FROM qos_associations WHERE qos_id = ?1 ORDER BY type_id",
            )?;
            let rows = stmt
                .query_map([qos_id], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn qos_of_type(&self, type_id: &str) -> StoreResult<Option<QosSpecs>> {
        self.db().read(|c| {
            c.query_row(
                "SELECT q.body FROM qos_associations a JOIN qos_specs q ON q.id = a.qos_id
                 WHERE a.type_id = ?1",
                [type_id],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .map(|t| qos_of(&t))
            .transpose()
        })
    }
}

impl TransferRecords for SqliteStore {
    fn create_transfer(&self, t: &Transfer) -> StoreResult<()> {
        let body = serde_json::to_string(t)?;
        self.db().write(|tx| {
            let taken: i64 = tx.query_row(
                "SELECT count(*) FROM volume_transfers WHERE volume_id = ?1",
                [&t.volume_id],
                |r| r.get(0),
            )?;
            if taken > 0 {
                return Err(crate::StoreError::Conflict(format!(
                    "Volume {} already has a transfer.",
                    t.volume_id
                )));
            }
            tx.execute(
                "INSERT INTO volume_transfers (id, volume_id, project_id, body)
                 VALUES (?1, ?2, ?3, ?4)",
                params![t.id, t.volume_id, t.project_id, body],
            )?;
            Ok(())
        })
    }

    fn get_transfer(&self, id: &str) -> StoreResult<Option<Transfer>> {
        self.db().read(|c| {
            c.query_row(
                "SELECT body FROM volume_transfers WHERE id = ?1",
                [id],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .map(|t| Ok(serde_json::from_str(&t)?))
            .transpose()
        })
    }

    fn list_transfers(&self, project_id: Option<&str>) -> StoreResult<Vec<Transfer>> {
        self.db().read(|c| {
            let mut stmt =
                c.prepare("SELECT body FROM volume_transfers WHERE CAST(?1 AS TEXT) IS NULL OR project_id = ?1")?;
            let rows = stmt
                .query_map([project_id], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = rows
                .iter()
                .map(|t| Ok(serde_json::from_str(t)?))
                .collect::<StoreResult<Vec<Transfer>>>()?;
            out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(out)
        })
    }

    fn delete_transfer(&self, id: &str) -> StoreResult<bool> {
        self.db()
            .write(|tx| Ok(tx.execute("DELETE FROM volume_transfers WHERE id = ?1", [id])? > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreError;

    fn store() -> (crate::testing::Keep, SqliteStore) {
        crate::testing::store()
    }

    fn backup(id: &str, parent: Option<&str>) -> Backup {
        Backup {
            id: id.into(),
            project_id: "p".into(),
            user_id: "u".into(),
            volume_id: "v".into(),
            parent_id: parent.map(str::to_string),
            name: None,
            description: None,
            status: "creating".into(),
            fail_reason: None,
            size_gib: 1,
            object_count: 0,
            stored_bytes: 0,
            container: "backups".into(),
            host: None,
            availability_zone: "nova".into(),
            metadata: BTreeMap::new(),
            data_timestamp: 1,
            created_at: 1,
            updated_at: 1,
        }
    }

    #[test]
    fn a_backup_with_increments_is_not_deleted_until_they_are() {
        let (_d, s) = store();
        s.create_backup(&backup("full", None)).unwrap();
        s.create_backup(&backup("inc", Some("full"))).unwrap();
        assert_eq!(s.backup_children("full").unwrap(), vec!["inc".to_string()]);
        let refused = s.delete_backup("full").unwrap_err();
        assert!(matches!(refused, StoreError::Refused(_)), "{refused}");
        assert!(s.get_backup("full").unwrap().is_some());
        let changed = s
            .change_backup("inc", &mut |b| {
                b.status = "available".into();
                Ok(())
            })
            .unwrap()
            .unwrap();
        assert_eq!(changed.status, "available");
        assert!(s.delete_backup("inc").unwrap());
        assert!(s.delete_backup("full").unwrap());
        assert!(!s.delete_backup("full").unwrap());
        assert!(s.list_backups(None).unwrap().is_empty());
    }

    #[test]
    fn qos_specs_belong_to_one_type_each_and_in_use_ones_need_force() {
        let (_d, s) = store();
        let q = |id: &str, name: &str| QosSpecs {
            id: id.into(),
            name: name.into(),
            consumer: "front-end".into(),
            specs: [("write_iops_sec".to_string(), "100".to_string())].into(),
            created_at: 1,
        };
        s.create_qos(&q("q1", "slow")).unwrap();
        assert!(s.create_qos(&q("q2", "slow")).is_err(), "names are unique");
        s.create_qos(&q("q2", "slower")).unwrap();
        s.associate_qos("q1", "t1").unwrap();
        assert_eq!(s.qos_of_type("t1").unwrap().unwrap().id, "q1");
        s.associate_qos("q2", "t1").unwrap();
        assert_eq!(
            s.qos_of_type("t1").unwrap().unwrap().id,
            "q2",
            "one set per type"
        );
        assert!(s.qos_types("q1").unwrap().is_empty());
        assert!(s.delete_qos("q2", false).is_err());
        assert!(s.qos_of_type("t1").unwrap().is_some());
        assert!(s.delete_qos("q2", true).unwrap());
        assert!(s.qos_of_type("t1").unwrap().is_none());
        let specs = [("read_iops_sec".to_string(), "5".to_string())].into();
        assert!(s.set_qos_specs("q1", &specs).unwrap());
        assert_eq!(s.get_qos("q1").unwrap().unwrap().specs, specs);
    }
}
