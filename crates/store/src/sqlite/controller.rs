//! SQL implementation of [`ControllerStore`] (both databases).

use super::SqliteStore;
use crate::controller::{Controller, ControllerStore};
use crate::sql::params;
use crate::StoreResult;
use std::time::Duration;

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl ControllerStore for SqliteStore {
    fn register_controller(
        &self,
        id: &str,
        incarnation: &str,
        host: &str,
        ttl: Duration,
    ) -> StoreResult<()> {
        self.db().write(|tx| {
            let now = tx.dialect().now_micros();
            tx.execute(
                &format!(
                    "INSERT INTO controllers(id, incarnation, host, started_at, lease_until)
                     VALUES (?1, ?2, ?3, {now}, {now} + ?4)
                     ON CONFLICT(id) DO UPDATE SET incarnation = excluded.incarnation,
                         host = excluded.host, started_at = excluded.started_at,
                         lease_until = excluded.lease_until"
                ),
                params![id, incarnation, host, micros(ttl)],
            )?;
            Ok(())
        })?;
        self.set_incarnation(Some(incarnation.to_string()));
        Ok(())
    }

    fn renew_controller(&self, id: &str, incarnation: &str, ttl: Duration) -> StoreResult<bool> {
        self.db().write(|tx| {
            let now = tx.dialect().now_micros();
            let n = tx.execute(
                &format!(
                    "UPDATE controllers SET lease_until = {now} + ?3
                     WHERE id = ?1 AND incarnation = ?2"
                ),
                params![id, incarnation, micros(ttl)],
            )?;
            Ok(n == 1)
        })
    }

    fn retire_controller(&self, id: &str, incarnation: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let now = tx.dialect().now_micros();
            tx.execute(
                &format!(
                    "UPDATE controllers SET lease_until = {now}
                     WHERE id = ?1 AND incarnation = ?2"
                ),
                params![id, incarnation],
            )?;
            Ok(())
        })
    }

    fn set_controller_peer(
        &self,
        id: &str,
        incarnation: &str,
        peer_url: &str,
        volume_dir: &str,
    ) -> StoreResult<bool> {
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE controllers SET peer_url = ?3, volume_dir = ?4
                 WHERE id = ?1 AND incarnation = ?2",
                params![id, incarnation, peer_url, volume_dir],
            )?;
            Ok(n == 1)
        })
    }

    fn controllers(&self) -> StoreResult<Vec<Controller>> {
        self.db().read(|c| {
            let now = c.dialect().now_micros();
            let mut stmt = c.prepare_cached(&format!(
                "SELECT id, incarnation, host, started_at, lease_until,
                        CASE WHEN lease_until > {now} THEN 1 ELSE 0 END,
                        peer_url, volume_dir
                 FROM controllers ORDER BY id"
            ))?;
            let rows = stmt.query_map([], |r| {
                Ok(Controller {
                    id: r.get(0)?,
                    incarnation: r.get(1)?,
                    host: r.get(2)?,
                    started_at: r.get(3)?,
                    lease_until: r.get(4)?,
                    live: r.get::<_, i64>(5)? == 1,
                    peer_url: r.get(6)?,
                    volume_dir: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn try_acquire_lease(&self, name: &str, holder: &str, ttl: Duration) -> StoreResult<bool> {
        self.db().write(|tx| {
            let now = tx.dialect().now_micros();
            // One statement: a racing controller's insert conflicts, and
            // the update's condition is checked on the row as it is then.
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO leases(name, holder, expires_at) VALUES (?1, ?2, {now} + ?3)
                 ON CONFLICT(name) DO UPDATE SET holder = excluded.holder,
                     expires_at = excluded.expires_at
                 WHERE leases.holder = excluded.holder OR leases.expires_at <= {now}
                 RETURNING holder"
            ))?;
            let granted: Vec<String> = stmt
                .query_map(params![name, holder, micros(ttl)], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(!granted.is_empty())
        })
    }

    fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
                params![name, holder],
            )?;
            Ok(())
        })
    }
}
