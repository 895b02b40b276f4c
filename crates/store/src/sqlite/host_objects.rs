//! SQLite implementation of [`HostObjectStore`].

use super::SqliteStore;
use crate::host_objects::{HostObjectStore, ReportedObject};
use crate::sql::params;
use crate::StoreResult;

impl HostObjectStore for SqliteStore {
    fn record_objects(
        &self,
        host: &str,
        reports: &[ReportedObject],
        gone: &[(String, String)],
    ) -> StoreResult<()> {
        self.db().write(|tx| {
            for r in reports {
                tx.execute(
                    "INSERT INTO host_objects (host, kind, id, report) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (host, kind, id) DO UPDATE SET report = excluded.report",
                    params![host, r.kind, r.id, r.report.to_string()],
                )?;
            }
            for (kind, id) in gone {
                tx.execute(
                    "DELETE FROM host_objects WHERE host = ?1 AND kind = ?2 AND id = ?3",
                    params![host, kind, id],
                )?;
            }
            Ok(())
        })
    }

    fn reported_objects(&self, host: &str) -> StoreResult<Vec<ReportedObject>> {
        self.db().read(|c| {
            let mut stmt = c.prepare(
                "SELECT kind, id, report FROM host_objects WHERE host = ?1 ORDER BY kind, id",
            )?;
            let rows = stmt
                .query_map([host], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(kind, id, text)| {
                    Ok(ReportedObject {
                        kind,
                        id,
                        report: serde_json::from_str(&text)?,
                    })
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_are_kept_per_host_and_replaced_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("db")).unwrap();
        let r = |id: &str, phase: &str| ReportedObject {
            kind: "port".into(),
            id: id.into(),
            report: json!({"phase": phase}),
        };
        s.record_objects("h1", &[r("p1", "working"), r("p2", "ready")], &[])
            .unwrap();
        s.record_objects("h2", &[r("p9", "ready")], &[]).unwrap();
        s.record_objects("h1", &[r("p1", "ready")], &[("port".into(), "p2".into())])
            .unwrap();
        let h1 = s.reported_objects("h1").unwrap();
        assert_eq!(h1, vec![r("p1", "ready")]);
        assert_eq!(s.reported_objects("h2").unwrap().len(), 1);
        assert!(s.reported_objects("h3").unwrap().is_empty());
    }
}
