//! `GET /v2.1/os-migrations` (admins) and
//! `GET /v2.1/servers/{id}/migrations` (2.23+): Nova's migration records.
//!
//! The only migrations this cloud makes are same-host resizes, and each
//! already has a record: the resize's operation (`server.resize`, kept
//! after it finishes). A migration is read from it, not stored twice:
//! `status` from where the operation stands and what followed it
//! (`migrating` while it runs, `error` when it was undone, then
//! `finished` until `confirmResize` or `revertResize` makes it
//! `confirmed` or `reverted`), the host as both source and destination,
//! the flavors by their integer ids (as Nova's database ids), the old
//! one only while the resize waits for confirmation (the server's record
//! keeps it until then), else null, as is a flavor deleted since.
//!
//! Nova's ids are integers; the operation's is a UUID, so the id shown is
//! its first 52 bits as a number: stable across restarts and exact in a
//! JSON number. The per-server list is of live migrations in progress,
//! which this cloud never makes: it is always empty, for a server the
//! caller may see.

use super::{Caller, QueryPairs};
use crate::error::{ComputeError, ComputeResult};
use crate::microversion::Version;
use crate::servers::{self, doc, resize_steps};
use crate::ComputeState;
use axum::extract::{Path, State};
use ferrostack_common::time::nova_time;
use ferrostack_compute_types::ApiVersion;
use ferrostack_store::operation::{Operation, OperationState};
use ferrostack_store::server::{Instance, InstanceFilter};
use serde_json::{json, Value};
use std::sync::Arc;

/// The integer id of the migration of operation `op_id`.
fn migration_id(op_id: &str) -> u64 {
    let hex: String = op_id.chars().filter(|c| *c != '-').take(13).collect();
    u64::from_str_radix(&hex, 16).unwrap_or(0)
}

/// The status of a resize operation `op` of server `i`.
fn status(state: &ComputeState, i: &Instance, op: &Operation) -> ComputeResult<&'static str> {
    Ok(match op.state {
        OperationState::Running | OperationState::Undoing => "migrating",
        OperationState::Undone | OperationState::Failed => "error",
        OperationState::Done => {
            let after = state
                .servers
                .list_actions(&i.uuid)?
                .into_iter()
                .filter(|a| a.start_time >= op.created_at)
                .filter(|a| a.action == "confirmResize" || a.action == "revertResize")
                .min_by_key(|a| a.start_time);
            match after.map(|a| a.action) {
                Some(a) if a == "confirmResize" => "confirmed",
                Some(_) => "reverted",
                None => "finished",
            }
        }
    })
}

/// A flavor's integer id (Nova's `instance_type_id` is its database id,
/// not the flavor id users see); null once the flavor is deleted.
fn flavor_pk(state: &ComputeState, flavor_id: &str) -> ComputeResult<Option<i64>> {
    Ok(state.compute.get_flavor(flavor_id)?.map(|f| f.pk))
}

fn view(state: &ComputeState, v: ApiVersion, i: &Instance, op: &Operation) -> ComputeResult<Value> {
    let payload: resize_steps::ResizeOp = serde_json::from_value(op.payload.clone())
        .map_err(|e| ComputeError::Internal(e.to_string()))?;
    let status = status(state, i, op)?;
    let old = (status == "finished")
        .then(|| doc(i).ok().and_then(|d| d.old_flavor).map(|f| f.id))
        .flatten();
    let id = migration_id(&op.id);
    let mut m = json!({
        "id": id,
        "instance_uuid": i.uuid,
        "source_compute": payload.host,
        "dest_compute": payload.host,
        "source_node": payload.host,
        "dest_node": payload.host,
        "dest_host": null,
        "old_instance_type_id": old.map(|f| flavor_pk(state, &f)).transpose()?.flatten(),
        "new_instance_type_id": flavor_pk(state, &payload.new.id)?,
        "status": status,
        "created_at": nova_time(op.created_at),
        "updated_at": nova_time(op.updated_at),
    });
    if v.at_least(23) {
        m["migration_type"] = json!("resize");
        m["links"] = json!([]);
    }
    if v.at_least(59) {
        m["uuid"] = json!(op.id);
    }
    if v.at_least(80) {
        m["project_id"] = json!(i.project_id);
        m["user_id"] = json!(i.user_id);
    }
    Ok(m)
}

/// `GET /v2.1/os-migrations`: filters `instance_uuid`, `status`, `host`
/// (source or destination), `source_compute`, `migration_type`, and from
/// 2.80 `project_id`/`user_id`; newest first.
pub async fn list(
    State(state): State<Arc<ComputeState>>,
    Caller(_): Caller,
    Version(v): Version,
    q: QueryPairs,
) -> ComputeResult<axum::Json<Value>> {
    let servers = state.servers.list_instances(&InstanceFilter {
        include_deleted: true,
        ..Default::default()
    })?;
    let mut out: Vec<(i64, Value)> = Vec::new();
    for i in servers {
        if q.get("instance_uuid").is_some_and(|u| u != i.uuid) {
            continue;
        }
        if v.at_least(80) {
            if q.get("project_id").is_some_and(|p| p != i.project_id) {
                continue;
            }
            if q.get("user_id").is_some_and(|u| u != i.user_id) {
                continue;
            }
        }
        for op in state.operations.store().operations_of(&i.uuid)? {
            if op.kind != resize_steps::KIND {
                continue;
            }
            let m = view(&state, v, &i, &op)?;
            let field = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let keep = q.get("status").is_none_or(|s| s == field("status"))
                && q.get("host").is_none_or(|h| h == field("source_compute"))
                && q.get("source_compute")
                    .is_none_or(|h| h == field("source_compute"))
                && q.get("migration_type").is_none_or(|t| t == "resize");
            if keep {
                out.push((op.created_at, m));
            }
        }
    }
    out.sort_by_key(|m| std::cmp::Reverse(m.0));
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok());
    let all: Vec<Value> = out
        .into_iter()
        .map(|(_, m)| m)
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    Ok(axum::Json(json!({ "migrations": all })))
}

/// `GET /v2.1/servers/{server_id}/migrations` (2.23+): the server's live
/// migrations in progress, of which there are never any here.
pub async fn server_list(
    State(state): State<Arc<ComputeState>>,
    Caller(caller): Caller,
    Version(v): Version,
    Path(id): Path<String>,
) -> ComputeResult<axum::Json<Value>> {
    if !v.at_least(23) {
        return Err(ComputeError::NotFound(
            "The resource could not be found.".into(),
        ));
    }
    servers::find(&state, &caller, &id, false)?;
    Ok(axum::Json(json!({ "migrations": [] })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_uuids_first_52_bits() {
        assert_eq!(migration_id("00000000-0000-1000-0000-000000000000"), 1);
        assert!(migration_id("ffffffff-ffff-ffff-0000-000000000000") < (1 << 53));
    }
}
