//! SQLite implementation of [`ServerStore`].

use super::{conflict_on_unique, SqliteStore};
use crate::host_plan::{hosts_touched, PlanWrite};
use crate::server::{
    ComputeService, Instance, InstanceAction, InstanceChange, InstanceFilter, ServerGroup,
    ServerStore,
};
use crate::sql::{params, Conn, OptionalExtension, Row};
use crate::{StoreError, StoreResult};
use serde_json::Value;

const INSTANCE_COLUMNS: &str = "seq, uuid, project_id, user_id, name, host, vm_state, task_state,
     power_state, doc, desired, generation, observed, created_at, updated_at, deleted_at";

fn json(text: String) -> crate::sql::Result<Value> {
    serde_json::from_str(&text).map_err(|e| crate::sql::Error::FromSqlConversion {
        column: "json".into(),
        source: Box::new(e),
    })
}

fn opt_json(text: Option<String>) -> crate::sql::Result<Option<Value>> {
    text.map(json).transpose()
}

fn instance_row(r: &Row) -> crate::sql::Result<Instance> {
    Ok(Instance {
        seq: r.get(0)?,
        uuid: r.get(1)?,
        project_id: r.get(2)?,
        user_id: r.get(3)?,
        name: r.get(4)?,
        host: r.get(5)?,
        vm_state: r.get(6)?,
        task_state: r.get(7)?,
        power_state: r.get(8)?,
        doc: json(r.get(9)?)?,
        desired: opt_json(r.get(10)?)?,
        generation: r.get(11)?,
        observed: opt_json(r.get(12)?)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
        deleted_at: r.get(15)?,
    })
}

fn instance_by_uuid(conn: &Conn, uuid: &str) -> StoreResult<Option<Instance>> {
    Ok(conn
        .query_row(
            &format!("SELECT {INSTANCE_COLUMNS} FROM instances WHERE uuid=?1"),
            [uuid],
            instance_row,
        )
        .optional()?)
}

fn to_text(v: &Value) -> String {
    v.to_string()
}

/// Bumps the revision of every host whose plan `write` changes (the rule
/// is [`hosts_touched`]'s, not this backend's).
pub(crate) fn record_plan_write(conn: &Conn, write: PlanWrite<'_>) -> StoreResult<()> {
    for host in hosts_touched(write) {
        conn.execute(
            "INSERT INTO host_revisions(host, revision) VALUES (?1, 1)
             ON CONFLICT(host) DO UPDATE SET revision = host_revisions.revision + 1",
            [&host],
        )?;
    }
    Ok(())
}

fn revision(conn: &Conn, host: &str) -> StoreResult<u64> {
    let r: Option<i64> = conn
        .query_row(
            "SELECT revision FROM host_revisions WHERE host=?1",
            [host],
            |r| r.get(0),
        )
        .optional()?;
    Ok(r.unwrap_or(0).max(0) as u64)
}

const ACTION_COLUMNS: &str = "instance_uuid, request_id, action, project_id, user_id, message,
     start_time, finish_time, events";

fn action_row(r: &Row) -> crate::sql::Result<InstanceAction> {
    Ok(InstanceAction {
        instance_uuid: r.get(0)?,
        request_id: r.get(1)?,
        action: r.get(2)?,
        project_id: r.get(3)?,
        user_id: r.get(4)?,
        message: r.get(5)?,
        start_time: r.get(6)?,
        finish_time: r.get(7)?,
        events: json(r.get(8)?)?,
    })
}

const GROUP_COLUMNS: &str = "uuid, name, project_id, user_id, policy, rules, members, created_at";

fn group_row(r: &Row) -> crate::sql::Result<ServerGroup> {
    let members: Value = json(r.get(6)?)?;
    Ok(ServerGroup {
        uuid: r.get(0)?,
        name: r.get(1)?,
        project_id: r.get(2)?,
        user_id: r.get(3)?,
        policy: r.get(4)?,
        rules: json(r.get(5)?)?,
        members: members
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        created_at: r.get(7)?,
    })
}

fn group_by_uuid(conn: &Conn, uuid: &str) -> StoreResult<Option<ServerGroup>> {
    Ok(conn
        .query_row(
            &format!("SELECT {GROUP_COLUMNS} FROM server_groups WHERE uuid=?1"),
            [uuid],
            group_row,
        )
        .optional()?)
}

const SERVICE_COLUMNS: &str = "id, uuid, host, \"binary\", zone, disabled, disabled_reason,
     forced_down, capabilities, heartbeat_at, created_at, updated_at";

fn service_row(r: &Row) -> crate::sql::Result<ComputeService> {
    Ok(ComputeService {
        id: r.get(0)?,
        uuid: r.get(1)?,
        host: r.get(2)?,
        binary: r.get(3)?,
        zone: r.get(4)?,
        disabled: r.get(5)?,
        disabled_reason: r.get(6)?,
        forced_down: r.get(7)?,
        capabilities: json(r.get(8)?)?,
        heartbeat_at: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
    })
}

fn service_where(conn: &Conn, clause: &str, args: &[&str]) -> StoreResult<Option<ComputeService>> {
    Ok(conn
        .query_row(
            &format!("SELECT {SERVICE_COLUMNS} FROM compute_services WHERE {clause}"),
            crate::sql::params_from_iter(args.iter()),
            service_row,
        )
        .optional()?)
}

impl ServerStore for SqliteStore {
    fn create_instance(&self, i: &Instance) -> StoreResult<Instance> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO instances(uuid, project_id, user_id, name, host, vm_state, task_state,
                     power_state, doc, desired, generation, observed, created_at, updated_at,
                     deleted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    i.uuid,
                    i.project_id,
                    i.user_id,
                    i.name,
                    i.host,
                    i.vm_state,
                    i.task_state,
                    i.power_state,
                    to_text(&i.doc),
                    i.desired.as_ref().map(to_text),
                    i.generation,
                    i.observed.as_ref().map(to_text),
                    i.created_at,
                    i.updated_at,
                    i.deleted_at
                ],
            )
            .map_err(|e| conflict_on_unique(e, || format!("instance {} exists", i.uuid)))?;
            record_plan_write(
                tx,
                PlanWrite::Instance {
                    before: None,
                    after: Some(i),
                },
            )?;
            instance_by_uuid(tx, &i.uuid)?.ok_or_else(|| StoreError::not_found("instance", &i.uuid))
        })
    }

    fn get_instance(&self, uuid: &str) -> StoreResult<Option<Instance>> {
        self.db().read(|c| instance_by_uuid(c, uuid))
    }

    fn list_instances(&self, f: &InstanceFilter) -> StoreResult<Vec<Instance>> {
        let mut clauses = Vec::new();
        let mut args: Vec<String> = Vec::new();
        if let Some(p) = &f.project_id {
            args.push(p.clone());
            clauses.push(format!("project_id=?{}", args.len()));
        }
        if let Some(h) = &f.host {
            args.push(h.clone());
            clauses.push(format!("host=?{}", args.len()));
        }
        if !f.include_deleted {
            clauses.push("deleted_at IS NULL".into());
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {INSTANCE_COLUMNS} FROM instances{filter} ORDER BY seq DESC"
            ))?;
            let rows = stmt
                .query_map(crate::sql::params_from_iter(args.iter()), instance_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn modify_instance(&self, uuid: &str, change: InstanceChange<'_>) -> StoreResult<Instance> {
        self.db().write(|tx| {
            let before = instance_by_uuid(tx, uuid)?
                .ok_or_else(|| StoreError::not_found("instance", uuid))?;
            let mut after = before.clone();
            change(&mut after)?;
            after.updated_at = ferrostack_common::time::now_micros().max(before.updated_at);
            tx.execute(
                "UPDATE instances SET name=?2, host=?3, vm_state=?4, task_state=?5, power_state=?6,
                     doc=?7, desired=?8, generation=?9, observed=?10, updated_at=?11,
                     deleted_at=?12, project_id=?13, user_id=?14
                 WHERE uuid=?1",
                params![
                    uuid,
                    after.name,
                    after.host,
                    after.vm_state,
                    after.task_state,
                    after.power_state,
                    to_text(&after.doc),
                    after.desired.as_ref().map(to_text),
                    after.generation,
                    after.observed.as_ref().map(to_text),
                    after.updated_at,
                    after.deleted_at,
                    after.project_id,
                    after.user_id
                ],
            )?;
            record_plan_write(
                tx,
                PlanWrite::Instance {
                    before: Some(&before),
                    after: Some(&after),
                },
            )?;
            Ok(after)
        })
    }

    fn purge_instance(&self, uuid: &str) -> StoreResult<bool> {
        self.db().write(|tx| {
            let before = instance_by_uuid(tx, uuid)?;
            let n = tx.execute("DELETE FROM instances WHERE uuid=?1", [uuid])?;
            tx.execute(
                "DELETE FROM instance_actions WHERE instance_uuid=?1",
                [uuid],
            )?;
            record_plan_write(
                tx,
                PlanWrite::Instance {
                    before: before.as_ref(),
                    after: None,
                },
            )?;
            Ok(n > 0)
        })
    }

    fn assigned_to_host(&self, host: &str) -> StoreResult<(u64, Vec<Instance>)> {
        // A write transaction gives one snapshot of revision and rows; the
        // agent asks rarely (on a revision change), so this is cheap.
        self.db().write(|tx| {
            let rev = revision(tx, host)?;
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {INSTANCE_COLUMNS} FROM instances
                 WHERE host=?1 AND desired IS NOT NULL ORDER BY seq"
            ))?;
            let rows = stmt
                .query_map([host], instance_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok((rev, rows))
        })
    }

    fn host_revision(&self, host: &str) -> StoreResult<u64> {
        self.db().read(|c| revision(c, host))
    }

    fn revision_changes(&self) -> Option<std::sync::Arc<crate::generations::Generations>> {
        Some(self.db().generations())
    }

    fn add_action(&self, a: &InstanceAction) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO instance_actions(instance_uuid, request_id, action,
                     project_id, user_id, message, start_time, finish_time, events)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
                params![
                    a.instance_uuid,
                    a.request_id,
                    a.action,
                    a.project_id,
                    a.user_id,
                    a.message,
                    a.start_time,
                    a.finish_time,
                    to_text(&a.events)
                ],
            )?;
            Ok(())
        })
    }

    fn modify_action(
        &self,
        instance_uuid: &str,
        request_id: &str,
        change: &mut dyn FnMut(&mut InstanceAction),
    ) -> StoreResult<bool> {
        self.db().write(|tx| {
            let found = tx
                .query_row(
                    &format!(
                        "SELECT {ACTION_COLUMNS} FROM instance_actions
                         WHERE instance_uuid=?1 AND request_id=?2"
                    ),
                    [instance_uuid, request_id],
                    action_row,
                )
                .optional()?;
            let Some(mut a) = found else {
                return Ok(false);
            };
            change(&mut a);
            tx.execute(
                "UPDATE instance_actions SET message=?3, finish_time=?4, events=?5
                 WHERE instance_uuid=?1 AND request_id=?2",
                params![
                    instance_uuid,
                    request_id,
                    a.message,
                    a.finish_time,
                    to_text(&a.events)
                ],
            )?;
            Ok(true)
        })
    }

    fn list_actions(&self, instance_uuid: &str) -> StoreResult<Vec<InstanceAction>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ACTION_COLUMNS} FROM instance_actions
                 WHERE instance_uuid=?1 ORDER BY start_time DESC, id DESC"
            ))?;
            let rows = stmt
                .query_map([instance_uuid], action_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn create_group(&self, g: &ServerGroup) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO server_groups(uuid, name, project_id, user_id, policy, rules,
                     members, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    g.uuid,
                    g.name,
                    g.project_id,
                    g.user_id,
                    g.policy,
                    to_text(&g.rules),
                    serde_json::to_string(&g.members)?,
                    g.created_at
                ],
            )
            .map_err(|e| conflict_on_unique(e, || format!("server group {} exists", g.uuid)))?;
            Ok(())
        })
    }

    fn get_group(&self, uuid: &str) -> StoreResult<Option<ServerGroup>> {
        self.db().read(|c| group_by_uuid(c, uuid))
    }

    fn list_groups(&self, project_id: Option<&str>) -> StoreResult<Vec<ServerGroup>> {
        self.db().read(|c| {
            let (filter, args): (&str, Vec<&str>) = match project_id {
                Some(p) => (" WHERE project_id=?1", vec![p]),
                None => ("", vec![]),
            };
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {GROUP_COLUMNS} FROM server_groups{filter} ORDER BY seq"
            ))?;
            let rows = stmt
                .query_map(crate::sql::params_from_iter(args.iter()), group_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn modify_group(
        &self,
        uuid: &str,
        change: &mut dyn FnMut(&mut ServerGroup) -> StoreResult<()>,
    ) -> StoreResult<ServerGroup> {
        self.db().write(|tx| {
            let mut g = group_by_uuid(tx, uuid)?
                .ok_or_else(|| StoreError::not_found("server group", uuid))?;
            change(&mut g)?;
            tx.execute(
                "UPDATE server_groups SET name=?2, rules=?3, members=?4 WHERE uuid=?1",
                params![
                    uuid,
                    g.name,
                    to_text(&g.rules),
                    serde_json::to_string(&g.members)?
                ],
            )?;
            Ok(g)
        })
    }

    fn delete_group(&self, uuid: &str) -> StoreResult<bool> {
        self.db()
            .write(|tx| Ok(tx.execute("DELETE FROM server_groups WHERE uuid=?1", [uuid])? > 0))
    }

    fn upsert_service(&self, s: &ComputeService) -> StoreResult<ComputeService> {
        self.db().write(|tx| {
            let existing = service_where(tx, "host=?1 AND \"binary\"=?2", &[&s.host, &s.binary])?;
            match existing {
                Some(old) => {
                    tx.execute(
                        "UPDATE compute_services SET zone=?2, capabilities=?3, heartbeat_at=?4,
                             updated_at=?5 WHERE id=?1",
                        params![
                            old.id,
                            s.zone,
                            to_text(&s.capabilities),
                            s.heartbeat_at,
                            s.updated_at
                        ],
                    )?;
                }
                None => {
                    tx.execute(
                        "INSERT INTO compute_services(uuid, host, \"binary\", zone, disabled,
                             disabled_reason, forced_down, capabilities, heartbeat_at,
                             created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                        params![
                            s.uuid,
                            s.host,
                            s.binary,
                            s.zone,
                            s.disabled,
                            s.disabled_reason,
                            s.forced_down,
                            to_text(&s.capabilities),
                            s.heartbeat_at,
                            s.created_at,
                            s.updated_at
                        ],
                    )?;
                }
            }
            service_where(tx, "host=?1 AND \"binary\"=?2", &[&s.host, &s.binary])?
                .ok_or_else(|| StoreError::not_found("service", &s.host))
        })
    }

    fn list_services(&self) -> StoreResult<Vec<ComputeService>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {SERVICE_COLUMNS} FROM compute_services ORDER BY id"
            ))?;
            let rows = stmt
                .query_map([], service_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn modify_service(
        &self,
        uuid: &str,
        change: &mut dyn FnMut(&mut ComputeService) -> StoreResult<()>,
    ) -> StoreResult<ComputeService> {
        self.db().write(|tx| {
            let mut s = service_where(tx, "uuid=?1", &[uuid])?
                .ok_or_else(|| StoreError::not_found("service", uuid))?;
            change(&mut s)?;
            tx.execute(
                "UPDATE compute_services SET zone=?2, disabled=?3, disabled_reason=?4,
                     forced_down=?5, capabilities=?6, heartbeat_at=?7, updated_at=?8
                 WHERE uuid=?1",
                params![
                    uuid,
                    s.zone,
                    s.disabled,
                    s.disabled_reason,
                    s.forced_down,
                    to_text(&s.capabilities),
                    s.heartbeat_at,
                    ferrostack_common::time::now_micros()
                ],
            )?;
            Ok(s)
        })
    }

    fn delete_service(&self, uuid: &str) -> StoreResult<bool> {
        self.db()
            .write(|tx| Ok(tx.execute("DELETE FROM compute_services WHERE uuid=?1", [uuid])? > 0))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn store() -> (crate::testing::Keep, SqliteStore) {
        crate::testing::store()
    }

    fn instance(uuid: &str, host: Option<&str>) -> Instance {
        Instance {
            seq: 0,
            uuid: uuid.into(),
            project_id: "p".into(),
            user_id: "u".into(),
            name: "vm".into(),
            host: host.map(str::to_owned),
            vm_state: "building".into(),
            task_state: Some("scheduling".into()),
            power_state: 0,
            doc: json!({"metadata": {}}),
            desired: host.map(|_| json!({"power": "running"})),
            generation: 1,
            observed: None,
            created_at: 1,
            updated_at: 1,
            deleted_at: None,
        }
    }

    #[test]
    fn desired_changes_bump_the_host_revision_and_others_do_not() {
        let (_d, s) = store();
        s.create_instance(&instance("a", Some("h1"))).unwrap();
        assert_eq!(s.host_revision("h1").unwrap(), 1);
        s.modify_instance("a", &mut |i| {
            i.name = "renamed".into();
            Ok(())
        })
        .unwrap();
        assert_eq!(
            s.host_revision("h1").unwrap(),
            1,
            "a rename is not the agent's business"
        );
        s.modify_instance("a", &mut |i| {
            i.generation += 1;
            i.desired = Some(json!({"power": "stopped"}));
            Ok(())
        })
        .unwrap();
        assert_eq!(s.host_revision("h1").unwrap(), 2);
        let (rev, assigned) = s.assigned_to_host("h1").unwrap();
        assert_eq!((rev, assigned.len()), (2, 1));
        assert_eq!(assigned[0].desired, Some(json!({"power": "stopped"})));
        // Moving hosts bumps both.
        s.modify_instance("a", &mut |i| {
            i.host = Some("h2".into());
            Ok(())
        })
        .unwrap();
        assert_eq!(s.host_revision("h1").unwrap(), 3);
        assert_eq!(s.host_revision("h2").unwrap(), 1);
        assert!(s.assigned_to_host("h1").unwrap().1.is_empty());
    }

    #[test]
    fn a_failed_change_writes_nothing() {
        let (_d, s) = store();
        s.create_instance(&instance("a", None)).unwrap();
        let err = s
            .modify_instance("a", &mut |i| {
                i.vm_state = "active".into();
                Err(StoreError::Conflict("busy".into()))
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)));
        assert_eq!(s.get_instance("a").unwrap().unwrap().vm_state, "building");
        assert!(matches!(
            s.modify_instance("nope", &mut |_| Ok(())),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            s.create_instance(&instance("a", None)),
            Err(StoreError::Conflict(_))
        ));
    }

    #[test]
    fn lists_filter_by_project_and_hide_deleted() {
        let (_d, s) = store();
        s.create_instance(&instance("a", None)).unwrap();
        let mut b = instance("b", None);
        b.project_id = "q".into();
        s.create_instance(&b).unwrap();
        s.modify_instance("a", &mut |i| {
            i.deleted_at = Some(5);
            Ok(())
        })
        .unwrap();
        let all = InstanceFilter::default();
        assert_eq!(s.list_instances(&all).unwrap().len(), 1);
        let with_deleted = InstanceFilter {
            include_deleted: true,
            ..Default::default()
        };
        let uuids: Vec<_> = s
            .list_instances(&with_deleted)
            .unwrap()
            .into_iter()
            .map(|i| i.uuid)
            .collect();
        assert_eq!(uuids, ["b", "a"], "newest first");
        let q = InstanceFilter {
            project_id: Some("q".into()),
            ..Default::default()
        };
        assert_eq!(s.list_instances(&q).unwrap()[0].uuid, "b");
    }

    #[test]
    fn actions_groups_and_services_round_trip() {
        let (_d, s) = store();
        let action = InstanceAction {
            instance_uuid: "a".into(),
            request_id: "req-1".into(),
            action: "create".into(),
            project_id: "p".into(),
            user_id: "u".into(),
            message: None,
            start_time: 1,
            finish_time: None,
            events: json!([]),
        };
        s.add_action(&action).unwrap();
        s.add_action(&action).unwrap();
        assert!(s
            .modify_action("a", "req-1", &mut |a| a.finish_time = Some(2))
            .unwrap());
        let actions = s.list_actions("a").unwrap();
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0].finish_time, Some(2));

        let group = ServerGroup {
            uuid: "g".into(),
            name: "web".into(),
            project_id: "p".into(),
            user_id: "u".into(),
            policy: "anti-affinity".into(),
            rules: json!({}),
            members: vec![],
            created_at: 1,
        };
        s.create_group(&group).unwrap();
        s.modify_group("g", &mut |g| {
            g.members.push("a".into());
            Ok(())
        })
        .unwrap();
        assert_eq!(s.get_group("g").unwrap().unwrap().members, ["a"]);
        assert_eq!(s.list_groups(Some("q")).unwrap().len(), 0);
        assert!(s.delete_group("g").unwrap());

        let svc = ComputeService {
            id: 0,
            uuid: "s1".into(),
            host: "h1".into(),
            binary: "nova-compute".into(),
            zone: "nova".into(),
            disabled: false,
            disabled_reason: None,
            forced_down: false,
            capabilities: json!({"vcpus": 2}),
            heartbeat_at: 1,
            created_at: 1,
            updated_at: 1,
        };
        let stored = s.upsert_service(&svc).unwrap();
        s.modify_service(&stored.uuid, &mut |s| {
            s.disabled = true;
            Ok(())
        })
        .unwrap();
        let mut again = svc.clone();
        again.uuid = "other".into();
        again.heartbeat_at = 9;
        let refreshed = s.upsert_service(&again).unwrap();
        assert_eq!(refreshed.uuid, "s1", "identity kept");
        assert!(refreshed.disabled, "operator's setting kept");
        assert_eq!(refreshed.heartbeat_at, 9);
        assert_eq!(s.list_services().unwrap().len(), 1);
    }
}
