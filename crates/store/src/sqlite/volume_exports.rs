//! SQLite implementation of [`ExportRecords`].

use super::server::record_plan_write;
use super::SqliteStore;
use crate::host_plan::PlanWrite;
use crate::sql::{params, Conn, OptionalExtension};
use crate::volume_exports::{ExportChange, ExportRecords, VolumeExport};
use crate::StoreResult;

fn get(c: &Conn, volume_id: &str) -> StoreResult<Option<VolumeExport>> {
    c.query_row(
        "SELECT body FROM volume_exports WHERE volume_id = ?1",
        [volume_id],
        |r| r.get::<_, String>(0),
    )
    .optional()?
    .map(|b| Ok(serde_json::from_str(&b)?))
    .transpose()
}

impl ExportRecords for SqliteStore {
    fn change_export(
        &self,
        volume_id: &str,
        f: &mut ExportChange<'_>,
    ) -> StoreResult<Option<VolumeExport>> {
        self.db().write(|tx| {
            let before = get(tx, volume_id)?;
            let mut after = f(before.clone());
            if let Some(a) = after.as_mut() {
                a.volume_id = volume_id.to_string();
                a.generation = before.as_ref().map_or(0, |b| b.generation);
                if before.as_ref() == Some(a) {
                    return Ok(after);
                }
                a.generation += 1;
                tx.execute(
                    "INSERT INTO volume_exports (volume_id, host, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT(volume_id) DO UPDATE SET host = ?2, body = ?3",
                    params![volume_id, a.host, serde_json::to_string(a)?],
                )?;
            } else if before.is_some() {
                tx.execute(
                    "DELETE FROM volume_exports WHERE volume_id = ?1",
                    [volume_id],
                )?;
            } else {
                return Ok(None);
            }
            record_plan_write(
                tx,
                PlanWrite::Export {
                    before: before.as_ref().map(|b| b.host.as_str()),
                    after: after.as_ref().map(|a| a.host.as_str()),
                },
            )?;
            Ok(after)
        })
    }

    fn get_export(&self, volume_id: &str) -> StoreResult<Option<VolumeExport>> {
        self.db().read(|c| get(c, volume_id))
    }

    fn host_exports(&self, host: &str) -> StoreResult<Vec<VolumeExport>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT body FROM volume_exports WHERE host = ?1 ORDER BY volume_id",
            )?;
            let rows = stmt
                .query_map([host], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            rows.iter().map(|b| Ok(serde_json::from_str(b)?)).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::ServerStore;

    fn export(host: &str, allowed: &[&str]) -> VolumeExport {
        VolumeExport {
            volume_id: String::new(),
            host: host.into(),
            path: "/v/v1".into(),
            format: "qcow2".into(),
            allowed_hosts: allowed.iter().map(|h| h.to_string()).collect(),
            key: "ab".repeat(32),
            generation: 0,
        }
    }

    #[test]
    fn writes_bump_the_storage_host_and_generations_grow() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = SqliteStore::open(&dir.path().join("db")).expect("store");
        let r0 = s.host_revision("s1").expect("rev");
        let e = s
            .change_export("v1", &mut |_| Some(export("s1", &["c1"])))
            .expect("create")
            .expect("row");
        assert_eq!(e.generation, 1);
        let r1 = s.host_revision("s1").expect("rev");
        assert!(r1 > r0, "the storage host's document changed");
        // The same row again: no write, no bump.
        s.change_export("v1", &mut |e| e).expect("same");
        assert_eq!(s.host_revision("s1").expect("rev"), r1);
        let e = s
            .change_export("v1", &mut |_| Some(export("s1", &["c1", "c2"])))
            .expect("add")
            .expect("row");
        assert_eq!(e.generation, 2);
        assert_eq!(s.host_exports("s1").expect("list"), vec![e]);
        assert!(!format!("{:?}", s.get_export("v1").unwrap()).contains(&"ab".repeat(32)));
        assert!(s
            .change_export("v1", &mut |_| None)
            .expect("drop")
            .is_none());
        assert!(s.host_exports("s1").expect("list").is_empty());
        assert!(s.host_revision("s1").expect("rev") > r1);
    }
}
