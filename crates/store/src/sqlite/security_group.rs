//! SQLite implementation of [`SecurityGroupStore`].
//!
//! Uniqueness is the schema's: `UNIQUE(security_group_id, match_key)` for
//! rules and a partial unique index on `project_id WHERE is_default` for
//! default groups. The checks below run first inside the same serialized
//! transaction only to name the clashing rule in the refusal.

use super::SqliteStore;
use crate::security_group::{
    DeletedGroup, GroupUpdate, RuleExists, SecurityGroup, SecurityGroupRule, SecurityGroupStore,
};
use crate::sql::{params, Conn, OptionalExtension, Row};
use crate::{StoreError, StoreResult};
use std::collections::BTreeMap;

const GROUP_COLUMNS: &str = "id, project_id, name, description, stateful, is_default,
     revision_number, created_at, updated_at, members_changed_at";

const RULE_COLUMNS: &str = "id, project_id, security_group_id, direction, ethertype, protocol,
     port_range_min, port_range_max, remote_ip_prefix, remote_group_id, description, match_key,
     revision_number, created_at, updated_at";

fn group_row(r: &Row) -> crate::sql::Result<SecurityGroup> {
    Ok(SecurityGroup {
        id: r.get(0)?,
        project_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        stateful: r.get(4)?,
        is_default: r.get(5)?,
        revision_number: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        members_changed_at: r.get(9)?,
        rules: Vec::new(),
    })
}

fn rule_row(r: &Row) -> crate::sql::Result<SecurityGroupRule> {
    Ok(SecurityGroupRule {
        id: r.get(0)?,
        project_id: r.get(1)?,
        security_group_id: r.get(2)?,
        direction: r.get(3)?,
        ethertype: r.get(4)?,
        protocol: r.get(5)?,
        port_range_min: r.get(6)?,
        port_range_max: r.get(7)?,
        remote_ip_prefix: r.get(8)?,
        remote_group_id: r.get(9)?,
        description: r.get(10)?,
        match_key: r.get(11)?,
        revision_number: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

/// Rules selected by `filter` (a `WHERE` clause over `args`), oldest first.
fn rules_where(
    conn: &Conn,
    filter: &str,
    args: &[&dyn crate::sql::ToSql],
) -> StoreResult<Vec<SecurityGroupRule>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RULE_COLUMNS} FROM security_group_rules {filter} ORDER BY created_at, rowid"
    ))?;
    let rows = stmt.query_map(args, rule_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Groups selected by `filter`, oldest first, each with its rules.
fn groups_where(
    conn: &Conn,
    filter: &str,
    args: &[&dyn crate::sql::ToSql],
) -> StoreResult<Vec<SecurityGroup>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {GROUP_COLUMNS} FROM security_groups {filter} ORDER BY created_at, rowid"
    ))?;
    let mut groups: Vec<SecurityGroup> =
        stmt.query_map(args, group_row)?.collect::<Result<_, _>>()?;
    if groups.is_empty() {
        return Ok(groups);
    }
    let index: BTreeMap<String, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.id.clone(), i))
        .collect();
    // One query for the rules of every group selected: the same filter,
    // applied to the rules' groups.
    let rules = rules_where(
        conn,
        &format!("WHERE security_group_id IN (SELECT id FROM security_groups {filter})"),
        args,
    )?;
    for rule in rules {
        if let Some(&i) = index.get(&rule.security_group_id) {
            groups[i].rules.push(rule);
        }
    }
    Ok(groups)
}

fn group_by_id(conn: &Conn, id: &str) -> StoreResult<SecurityGroup> {
    groups_where(conn, "WHERE id=?1", &[&id])?
        .pop()
        .ok_or_else(|| StoreError::not_found("security group", id))
}

fn rule_by_id(conn: &Conn, id: &str) -> StoreResult<SecurityGroupRule> {
    rules_where(conn, "WHERE id=?1", &[&id])?
        .pop()
        .ok_or_else(|| StoreError::not_found("security group rule", id))
}

/// Insert one rule, refusing a duplicate of its group with [`RuleExists`].
fn insert_rule(conn: &Conn, r: &SecurityGroupRule) -> StoreResult<()> {
    let existing: Option<String> = conn
        .query_row(
            "SELECT id FROM security_group_rules WHERE security_group_id=?1 AND match_key=?2",
            [&r.security_group_id, &r.match_key],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(rule_id) = existing {
        return Err(StoreError::Refused(Box::new(RuleExists { rule_id })));
    }
    conn.execute(
        &format!(
            "INSERT INTO security_group_rules ({RULE_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ),
        params![
            r.id,
            r.project_id,
            r.security_group_id,
            r.direction,
            r.ethertype,
            r.protocol,
            r.port_range_min,
            r.port_range_max,
            r.remote_ip_prefix,
            r.remote_group_id,
            r.description,
            r.match_key,
            r.revision_number,
            r.created_at,
            r.updated_at,
        ],
    )?;
    Ok(())
}

fn insert_group(conn: &Conn, g: &SecurityGroup) -> StoreResult<()> {
    conn.execute(
        &format!(
            "INSERT INTO security_groups ({GROUP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            g.id,
            g.project_id,
            g.name,
            g.description,
            g.stateful,
            g.is_default,
            g.revision_number,
            g.created_at,
            g.updated_at,
            g.members_changed_at,
        ],
    )
    .map_err(|e| {
        super::conflict_on_unique(e, || {
            format!("security group {} or a default group of project {} exists", g.id, g.project_id)
        })
    })?;
    for rule in &g.rules {
        insert_rule(conn, rule)?;
    }
    Ok(())
}

/// A rule added to or removed from `group_id` is a change of the group.
fn touch_group(conn: &Conn, group_id: &str, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE security_groups SET revision_number=revision_number+1, updated_at=?2 WHERE id=?1",
        params![group_id, now],
    )?;
    Ok(())
}

/// Note a membership change of `group_ids` at `now`; for the ports code
/// to call inside its own write transaction.
pub(crate) fn touch_membership(conn: &Conn, group_ids: &[String], now: i64) -> StoreResult<()> {
    let list = serde_json::to_string(group_ids)?;
    let d = conn.dialect();
    conn.execute(
        &format!(
            "UPDATE security_groups SET members_changed_at={}
             WHERE id IN ({})",
            d.greatest("members_changed_at", "?2"),
            d.json_array_strings("?1")
        ),
        params![list, now],
    )?;
    Ok(())
}

fn default_of(conn: &Conn, project_id: &str) -> StoreResult<Option<SecurityGroup>> {
    Ok(groups_where(conn, "WHERE project_id=?1 AND is_default=1", &[&project_id])?.pop())
}

/// A group or rule of `project_id` was written: the hosts with its
/// ports re-read their documents (the rule is `host_plan`'s).
fn group_written(tx: &Conn, project_id: &str) -> StoreResult<()> {
    let hosts = super::network::project_hosts(tx, project_id)?;
    super::server::record_plan_write(
        tx,
        crate::host_plan::PlanWrite::SecurityGroup {
            project_hosts: &hosts,
        },
    )
}

impl SecurityGroupStore for SqliteStore {
    fn create_group(&self, group: &SecurityGroup) -> StoreResult<SecurityGroup> {
        self.db().write(|tx| {
            insert_group(tx, group)?;
            group_by_id(tx, &group.id)
        })
    }

    fn ensure_default_group(&self, group: &SecurityGroup) -> StoreResult<(SecurityGroup, bool)> {
        self.db().write(|tx| {
            if let Some(existing) = default_of(tx, &group.project_id)? {
                return Ok((existing, false));
            }
            let mut group = group.clone();
            group.is_default = true;
            insert_group(tx, &group)?;
            Ok((group_by_id(tx, &group.id)?, true))
        })
    }

    fn default_group(&self, project_id: &str) -> StoreResult<Option<SecurityGroup>> {
        self.db().read(|c| default_of(c, project_id))
    }

    fn get_group(&self, id: &str) -> StoreResult<SecurityGroup> {
        self.db().read(|c| group_by_id(c, id))
    }

    fn list_groups(&self, project_id: Option<&str>) -> StoreResult<Vec<SecurityGroup>> {
        self.db().read(|c| match project_id {
            Some(p) => groups_where(c, "WHERE project_id=?1", &[&p]),
            None => groups_where(c, "", &[]),
        })
    }

    fn groups_by_id(&self, ids: &[String]) -> StoreResult<Vec<SecurityGroup>> {
        let list = serde_json::to_string(ids)?;
        self.db().read(|c| {
            let filter = format!("WHERE id IN ({})", c.dialect().json_array_strings("?1"));
            groups_where(c, &filter, &[&list])
        })
    }

    fn update_group(&self, id: &str, update: &GroupUpdate, now: i64) -> StoreResult<SecurityGroup> {
        self.db().write(|tx| {
            let mut group = group_by_id(tx, id)?;
            if let Some(name) = &update.name {
                group.name = name.clone();
            }
            if let Some(description) = &update.description {
                group.description = description.clone();
            }
            if let Some(stateful) = update.stateful {
                group.stateful = stateful;
            }
            tx.execute(
                "UPDATE security_groups SET name=?2, description=?3, stateful=?4,
                 revision_number=revision_number+1, updated_at=?5 WHERE id=?1",
                params![id, group.name, group.description, group.stateful, now],
            )?;
            group_written(tx, &group.project_id)?;
            group_by_id(tx, id)
        })
    }

    fn delete_group(&self, id: &str, now: i64) -> StoreResult<DeletedGroup> {
        self.db().write(|tx| {
            let group = group_by_id(tx, id)?;
            let remote_rules = rules_where(
                tx,
                "WHERE remote_group_id=?1 AND security_group_id<>?1",
                &[&id],
            )?;
            // The cascade removes both kinds of rules.
            tx.execute("DELETE FROM security_groups WHERE id=?1", [id])?;
            group_written(tx, &group.project_id)?;
            for rule in &remote_rules {
                touch_group(tx, &rule.security_group_id, now)?;
            }
            Ok(DeletedGroup {
                group,
                remote_rules,
            })
        })
    }

    fn create_rule(&self, rule: &SecurityGroupRule) -> StoreResult<SecurityGroupRule> {
        self.db().write(|tx| {
            group_by_id(tx, &rule.security_group_id)?;
            if let Some(remote) = &rule.remote_group_id {
                group_by_id(tx, remote)?;
            }
            insert_rule(tx, rule)?;
            touch_group(tx, &rule.security_group_id, rule.created_at)?;
            group_written(tx, &rule.project_id)?;
            rule_by_id(tx, &rule.id)
        })
    }

    fn note_membership_change(&self, group_ids: &[String], now: i64) -> StoreResult<()> {
        self.db().write(|tx| touch_membership(tx, group_ids, now))
    }

    fn get_rule(&self, id: &str) -> StoreResult<SecurityGroupRule> {
        self.db().read(|c| rule_by_id(c, id))
    }

    fn list_rules(&self, project_id: Option<&str>) -> StoreResult<Vec<SecurityGroupRule>> {
        self.db().read(|c| match project_id {
            Some(p) => rules_where(c, "WHERE project_id=?1", &[&p]),
            None => rules_where(c, "", &[]),
        })
    }

    fn update_rule(&self, id: &str, description: &str, now: i64) -> StoreResult<SecurityGroupRule> {
        self.db().write(|tx| {
            let changed = tx.execute(
                "UPDATE security_group_rules SET description=?2,
                 revision_number=revision_number+1, updated_at=?3 WHERE id=?1",
                params![id, description, now],
            )?;
            if changed == 0 {
                return Err(StoreError::not_found("security group rule", id));
            }
            rule_by_id(tx, id)
        })
    }

    fn delete_rule(&self, id: &str, now: i64) -> StoreResult<SecurityGroupRule> {
        self.db().write(|tx| {
            let rule = rule_by_id(tx, id)?;
            tx.execute("DELETE FROM security_group_rules WHERE id=?1", [id])?;
            touch_group(tx, &rule.security_group_id, now)?;
            group_written(tx, &rule.project_id)?;
            Ok(rule)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    fn store() -> (crate::testing::Keep, SqliteStore) {
        crate::testing::store()
    }

    fn rule(id: &str, group: &str, key: &str) -> SecurityGroupRule {
        SecurityGroupRule {
            id: id.into(),
            project_id: "p".into(),
            security_group_id: group.into(),
            direction: "egress".into(),
            ethertype: "IPv4".into(),
            protocol: None,
            port_range_min: None,
            port_range_max: None,
            remote_ip_prefix: None,
            remote_group_id: None,
            description: String::new(),
            match_key: key.into(),
            revision_number: 0,
            created_at: 1,
            updated_at: 1,
        }
    }

    fn group(id: &str, project: &str, rules: &[(&str, &str)]) -> SecurityGroup {
        SecurityGroup {
            id: id.into(),
            project_id: project.into(),
            name: id.into(),
            description: String::new(),
            stateful: true,
            is_default: false,
            revision_number: 0,
            created_at: 1,
            updated_at: 1,
            members_changed_at: 0,
            rules: rules.iter().map(|(r, k)| rule(r, id, k)).collect(),
        }
    }

    #[test]
    fn a_group_comes_back_with_its_rules() {
        let (_d, s) = store();
        let g = s
            .create_group(&group("g", "p", &[("r1", "a"), ("r2", "b")]))
            .unwrap();
        assert_eq!(g.rules.len(), 2);
        assert_eq!(s.get_group("g").unwrap(), g);
        assert_eq!(s.list_groups(Some("p")).unwrap(), vec![g.clone()]);
        assert!(s.list_groups(Some("other")).unwrap().is_empty());
        assert_eq!(
            s.groups_by_id(&["g".into(), "nope".into()]).unwrap(),
            vec![g]
        );
    }

    #[test]
    fn a_duplicate_rule_is_refused_with_the_existing_id_and_nothing_is_written() {
        let (_d, s) = store();
        s.create_group(&group("g", "p", &[("r1", "a")])).unwrap();
        let err = s.create_rule(&rule("r2", "g", "a")).unwrap_err();
        let StoreError::Refused(inner) = err else {
            panic!("{err:?}")
        };
        assert_eq!(inner.downcast_ref::<RuleExists>().unwrap().rule_id, "r1");
        assert!(s.get_rule("r2").is_err());
        // Within one group create too: the whole group is refused.
        assert!(s
            .create_group(&group("h", "p", &[("r3", "x"), ("r4", "x")]))
            .is_err());
        assert!(s.get_group("h").is_err());
        assert!(s.get_rule("r3").is_err());
    }

    #[test]
    fn rules_change_their_groups_revision() {
        let (_d, s) = store();
        s.create_group(&group("g", "p", &[])).unwrap();
        s.create_rule(&rule("r1", "g", "a")).unwrap();
        assert_eq!(s.get_group("g").unwrap().revision_number, 1);
        s.delete_rule("r1", 2).unwrap();
        assert_eq!(s.get_group("g").unwrap().revision_number, 2);
        assert!(matches!(
            s.create_rule(&rule("r2", "absent", "a")),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn deleting_a_group_takes_the_rules_that_name_it_as_remote() {
        let (_d, s) = store();
        s.create_group(&group("a", "p", &[("own", "k")])).unwrap();
        s.create_group(&group("b", "p", &[])).unwrap();
        let mut via = rule("via", "b", "remote-a");
        via.remote_group_id = Some("a".into());
        s.create_rule(&via).unwrap();
        let gone = s.delete_group("a", 2).unwrap();
        assert_eq!(gone.group.rules.len(), 1);
        assert_eq!(gone.remote_rules.len(), 1);
        assert_eq!(gone.remote_rules[0].id, "via");
        assert!(s.get_rule("own").is_err() && s.get_rule("via").is_err());
        assert!(s.get_group("b").unwrap().rules.is_empty());
    }

    #[test]
    fn concurrent_first_requests_make_one_default_group() {
        let (_d, s) = store();
        let s = Arc::new(s);
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let s = Arc::clone(&s);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let candidate = group(&format!("d{i}"), "p", &[(&format!("r{i}"), "k")]);
                    barrier.wait();
                    s.ensure_default_group(&candidate).unwrap()
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
        let id = &results[0].0.id;
        assert!(results.iter().all(|(g, _)| &g.id == id && g.is_default));
        assert_eq!(s.list_groups(Some("p")).unwrap().len(), 1);
        assert_eq!(s.default_group("p").unwrap().unwrap().id, *id);
    }

    #[test]
    fn updates_bump_the_revision_and_missing_records_are_not_found() {
        let (_d, s) = store();
        s.create_group(&group("g", "p", &[("r", "k")])).unwrap();
        let update = GroupUpdate {
            name: Some("web".into()),
            stateful: Some(false),
            ..GroupUpdate::default()
        };
        let g = s.update_group("g", &update, 5).unwrap();
        assert_eq!(
            (g.name.as_str(), g.stateful, g.revision_number),
            ("web", false, 1)
        );
        assert_eq!(g.updated_at, 5);
        let r = s.update_rule("r", "ssh", 6).unwrap();
        assert_eq!((r.description.as_str(), r.revision_number), ("ssh", 1));
        assert!(matches!(
            s.update_group("nope", &update, 1),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            s.update_rule("nope", "", 1),
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            s.delete_rule("nope", 1),
            Err(StoreError::NotFound { .. })
        ));
        s.note_membership_change(&["g".into()], 9).unwrap();
        s.note_membership_change(&["g".into()], 7).unwrap();
        assert_eq!(s.get_group("g").unwrap().members_changed_at, 9);
    }
}
