//! SQLite implementation of [`EndpointFilterStore`].

use crate::endpoint_filter::{EndpointFilterStore, EndpointGroup};
use crate::sql::{params, Conn, OptionalExtension, Row};
use crate::sqlite::SqliteStore;
use crate::{StoreError, StoreResult};

fn group_row(r: &Row) -> crate::sql::Result<EndpointGroup> {
    let filters: String = r.get("filters")?;
    Ok(EndpointGroup {
        id: r.get("id")?,
        name: r.get("name")?,
        description: r.get("description")?,
        filters: serde_json::from_str(&filters).unwrap_or_default(),
    })
}

fn pairs(c: &Conn, sql: &str) -> StoreResult<Vec<(String, String)>> {
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

impl EndpointFilterStore for SqliteStore {
    fn create_endpoint_group(&self, g: &EndpointGroup) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO endpoint_groups(id, name, description, filters)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    g.id,
                    g.name,
                    g.description,
                    serde_json::to_string(&g.filters)?
                ],
            )?;
            Ok(())
        })
    }

    fn get_endpoint_group(&self, id: &str) -> StoreResult<EndpointGroup> {
        self.db().read(|c| {
            c.prepare_cached("SELECT * FROM endpoint_groups WHERE id = ?1")?
                .query_row([id], group_row)
                .optional()?
                .ok_or_else(|| StoreError::not_found("endpoint group", id))
        })
    }

    fn list_endpoint_groups(&self) -> StoreResult<Vec<EndpointGroup>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached("SELECT * FROM endpoint_groups ORDER BY id")?;
            let rows = stmt.query_map([], group_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn update_endpoint_group(&self, g: &EndpointGroup) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE endpoint_groups SET name = ?2, description = ?3, filters = ?4
                 WHERE id = ?1",
                params![
                    g.id,
                    g.name,
                    g.description,
                    serde_json::to_string(&g.filters)?
                ],
            )?;
            if n == 0 {
                return Err(StoreError::not_found("endpoint group", &g.id));
            }
            Ok(())
        })
    }

    fn delete_endpoint_group(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            if tx.execute("DELETE FROM endpoint_groups WHERE id = ?1", [id])? == 0 {
                return Err(StoreError::not_found("endpoint group", id));
            }
            Ok(())
        })
    }

    fn add_project_endpoint(&self, project_id: &str, endpoint_id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO project_endpoints(project_id, endpoint_id) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                [project_id, endpoint_id],
            )?;
            Ok(())
        })
    }

    fn remove_project_endpoint(&self, project_id: &str, endpoint_id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute(
                "DELETE FROM project_endpoints WHERE project_id = ?1 AND endpoint_id = ?2",
                [project_id, endpoint_id],
            )?;
            if n == 0 {
                return Err(StoreError::not_found(
                    "project endpoint",
                    format!("{project_id}/{endpoint_id}"),
                ));
            }
            Ok(())
        })
    }

    fn list_project_endpoints(&self) -> StoreResult<Vec<(String, String)>> {
        self.db().read(|c| {
            pairs(
                c,
                "SELECT project_id, endpoint_id FROM project_endpoints
                 ORDER BY project_id, endpoint_id",
            )
        })
    }

    fn add_project_endpoint_group(&self, project_id: &str, group_id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO project_endpoint_groups(project_id, endpoint_group_id)
                 VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                [project_id, group_id],
            )?;
            Ok(())
        })
    }

    fn remove_project_endpoint_group(&self, project_id: &str, group_id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute(
                "DELETE FROM project_endpoint_groups
                 WHERE project_id = ?1 AND endpoint_group_id = ?2",
                [project_id, group_id],
            )?;
            if n == 0 {
                return Err(StoreError::not_found(
                    "project endpoint group",
                    format!("{project_id}/{group_id}"),
                ));
            }
            Ok(())
        })
    }

    fn list_project_endpoint_groups(&self) -> StoreResult<Vec<(String, String)>> {
        self.db().read(|c| {
            pairs(
                c,
                "SELECT project_id, endpoint_group_id FROM project_endpoint_groups
                 ORDER BY project_id, endpoint_group_id",
            )
        })
    }
}
