//! SQLite implementation of [`OperationStore`].

use super::{conflict_on_unique, SqliteStore};
use crate::operation::{Operation, OperationState, OperationStore};
use crate::sql::{params, Conn, OptionalExtension, Row};
use crate::{StoreError, StoreResult};

const COLUMNS: &str =
    "id, kind, subject, payload, completed, state, error, created_at, updated_at, owner";

/// A row as read, before its JSON and state are checked.
type RawRow = (Operation, String, String);

fn raw(r: &Row) -> crate::sql::Result<RawRow> {
    Ok((
        Operation {
            id: r.get(0)?,
            kind: r.get(1)?,
            subject: r.get(2)?,
            payload: serde_json::Value::Null,
            completed: r.get(4)?,
            state: OperationState::Running,
            error: r.get(6)?,
            created_at: r.get(7)?,
            updated_at: r.get(8)?,
            owner: r.get(9)?,
        },
        r.get(3)?,
        r.get(5)?,
    ))
}

fn finish((mut op, payload, state): RawRow) -> StoreResult<Operation> {
    op.payload = serde_json::from_str(&payload)?;
    op.state = OperationState::parse(&state)
        .ok_or_else(|| StoreError::Invalid(format!("operation {} has state {state}", op.id)))?;
    Ok(op)
}

/// The incarnations whose lease holds now (a subquery).
fn live(conn: &Conn) -> String {
    format!(
        "SELECT incarnation FROM controllers WHERE lease_until > {}",
        conn.dialect().now_micros()
    )
}

fn select(conn: &Conn, filter: &str, args: &[&str]) -> StoreResult<Vec<Operation>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM operations WHERE {filter} ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map(crate::sql::params_from_iter(args.iter()), raw)?;
    rows.map(|r| finish(r?)).collect()
}

impl OperationStore for SqliteStore {
    fn create_operation(&self, op: &Operation) -> StoreResult<()> {
        let payload = serde_json::to_string(&op.payload)?;
        self.db().write(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO operations({COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
                ),
                params![
                    op.id,
                    op.kind,
                    op.subject,
                    payload,
                    op.completed,
                    op.state.as_str(),
                    op.error,
                    op.created_at,
                    op.updated_at,
                    op.owner
                ],
            )
            .map_err(|e| conflict_on_unique(e, || format!("operation {} exists", op.id)))?;
            Ok(())
        })
    }

    fn update_operation(&self, op: &Operation) -> StoreResult<()> {
        let payload = serde_json::to_string(&op.payload)?;
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE operations SET payload=?2, completed=?3, state=?4, error=?5, updated_at=?6
                 WHERE id=?1",
                params![
                    op.id,
                    payload,
                    op.completed,
                    op.state.as_str(),
                    op.error,
                    op.updated_at
                ],
            )?;
            if n == 0 {
                return Err(StoreError::not_found("operation", op.id.clone()));
            }
            Ok(())
        })
    }

    fn get_operation(&self, id: &str) -> StoreResult<Option<Operation>> {
        let row = self.db().read(|c| {
            Ok(c.query_row(
                &format!("SELECT {COLUMNS} FROM operations WHERE id=?1"),
                [id],
                raw,
            )
            .optional()?)
        })?;
        row.map(finish).transpose()
    }

    fn operations_of(&self, subject: &str) -> StoreResult<Vec<Operation>> {
        self.db().read(|c| select(c, "subject=?1", &[subject]))
    }

    fn unfinished_operations(&self) -> StoreResult<Vec<Operation>> {
        self.db()
            .read(|c| select(c, "state NOT IN ('done', 'undone')", &[]))
    }

    fn orphaned_operations(&self) -> StoreResult<Vec<Operation>> {
        self.db().read(|c| {
            let filter = format!(
                "state NOT IN ('done', 'undone') AND (owner IS NULL OR owner NOT IN ({}))",
                live(c)
            );
            select(c, &filter, &[])
        })
    }

    fn claim_operation(&self, id: &str, owner: Option<&str>) -> StoreResult<bool> {
        self.db().write(|tx| {
            // The condition is the orphan test again, checked by the very
            // statement that takes the record over.
            let n = tx.execute(
                &format!(
                    "UPDATE operations SET owner = ?2
                     WHERE id = ?1 AND state NOT IN ('done', 'undone')
                       AND (owner IS NULL OR owner NOT IN ({}))",
                    live(tx)
                ),
                params![id, owner],
            )?;
            Ok(n == 1)
        })
    }

    fn incarnation(&self) -> Option<String> {
        SqliteStore::incarnation(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> (crate::testing::Keep, SqliteStore) {
        crate::testing::store()
    }

    fn op(id: &str, subject: &str, at: i64) -> Operation {
        Operation {
            id: id.into(),
            kind: "server.create".into(),
            subject: subject.into(),
            payload: json!({"servers": ["a", "b"]}),
            completed: 0,
            state: OperationState::Running,
            error: None,
            owner: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn an_operation_round_trips_and_its_progress_is_written_back() {
        let (_d, s) = store();
        let mut o = op("1", "r-1", 10);
        s.create_operation(&o).unwrap();
        assert_eq!(s.get_operation("1").unwrap().unwrap(), o);
        o.completed = 3;
        o.state = OperationState::Failed;
        o.error = Some("undo of group: gone".into());
        o.payload = json!({"servers": ["a"]});
        o.updated_at = 20;
        s.update_operation(&o).unwrap();
        assert_eq!(s.get_operation("1").unwrap().unwrap(), o);
        assert!(s.get_operation("2").unwrap().is_none());
    }

    #[test]
    fn a_taken_id_conflicts_and_updating_a_missing_one_is_not_found() {
        let (_d, s) = store();
        s.create_operation(&op("1", "r-1", 10)).unwrap();
        assert!(matches!(
            s.create_operation(&op("1", "r-2", 11)),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.update_operation(&op("9", "r-1", 10)),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn unfinished_are_running_undoing_and_failed_oldest_first() {
        let (_d, s) = store();
        let states = [
            OperationState::Failed,
            OperationState::Done,
            OperationState::Running,
            OperationState::Undone,
            OperationState::Undoing,
        ];
        for (n, state) in states.into_iter().enumerate() {
            let mut o = op(&n.to_string(), "srv", 100 - n as i64);
            o.state = state;
            s.create_operation(&o).unwrap();
        }
        let ids: Vec<String> = s
            .unfinished_operations()
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(ids, ["4", "2", "0"]);
        assert_eq!(s.operations_of("srv").unwrap().len(), 5);
        assert!(s.operations_of("other").unwrap().is_empty());
    }
}
