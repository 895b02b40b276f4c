//! SQLite implementation of [`IdentityStore`].

use super::{conflict_on_unique, SqliteStore};
use crate::identity::*;
use crate::sql::Value as SqlValue;
use crate::sql::{params, Conn, OptionalExtension};
use crate::{StoreError, StoreResult};
use ferrostack_common::time::now_micros;

mod login;
mod rows;
#[cfg(test)]
mod tests;
mod trusts;

use rows::*;

impl IdentityStore for SqliteStore {
    fn generation(&self, of: crate::Dataset) -> u64 {
        self.db().generation(of)
    }

    fn create_domain(&self, d: &Domain) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO domains(id, name, description, enabled, tags, extra, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    d.id,
                    d.name,
                    d.description,
                    d.enabled,
                    to_json(&d.tags),
                    to_json(&d.extra),
                    now_micros()
                ],
            )
            .map_err(|e| {
                conflict_on_unique(e, || {
                    format!("Duplicate entry: a domain named {} already exists.", d.name)
                })
            })?;
            Ok(())
        })
    }

    fn get_domain(&self, id: &str) -> StoreResult<Domain> {
        self.db().read(|c| {
            get_one(
                c,
                "SELECT * FROM domains WHERE id = ?",
                id,
                "domain",
                domain_row,
            )
        })
    }

    fn get_domain_by_name(&self, name: &str) -> StoreResult<Domain> {
        self.db().read(|c| {
            get_one(
                c,
                "SELECT * FROM domains WHERE name = ?",
                name,
                "domain",
                domain_row,
            )
        })
    }

    fn list_domains(&self, f: &ListFilter) -> StoreResult<Vec<Domain>> {
        self.db().read(|c| {
            Select::new("SELECT * FROM domains")
                .eq("name", f.name.clone())
                .eq("enabled", f.enabled)
                .is_in("id", f.ids.as_ref())
                .page(f)
                .run(c, domain_row)
        })
    }

    fn update_domain(&self, d: &Domain) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx
                .execute(
                    "UPDATE domains SET name=?2, description=?3, enabled=?4, tags=?5, extra=?6 WHERE id=?1",
                    params![d.id, d.name, d.description, d.enabled, to_json(&d.tags), to_json(&d.extra)],
                )
                .map_err(|e| conflict_on_unique(e, || format!("Duplicate entry: a domain named {} already exists.", d.name)))?;
            changed(n, "domain", &d.id)
        })
    }

    fn delete_domain(&self, id: &str) -> StoreResult<()> {
        // Keystone's cascade: the domain's projects (whole trees: a
        // project's domain is its parent's), users and groups go with it,
        // with every grant to or on them, in one transaction. Rows that
        // hang off users and projects (memberships, credentials, trusts,
        // endpoint filters, domain configuration) go by their foreign keys.
        self.db().write(|tx| {
            let projects = "SELECT id FROM projects WHERE domain_id=?1";
            let users = "SELECT id FROM users WHERE domain_id=?1";
            let groups = "SELECT id FROM groups WHERE domain_id=?1";
            tx.execute(
                &format!(
                    "DELETE FROM assignments WHERE (target_kind='domain' AND target_id=?1)
                        OR (target_kind='project' AND target_id IN ({projects}))
                        OR (actor_kind='user' AND actor_id IN ({users}))
                        OR (actor_kind='group' AND actor_id IN ({groups}))"
                ),
                [id],
            )?;
            tx.execute(
                &format!("DELETE FROM application_credentials WHERE project_id IN ({projects})"),
                [id],
            )?;
            tx.execute(
                "UPDATE projects SET parent_id = NULL WHERE domain_id=?1",
                [id],
            )?;
            tx.execute("DELETE FROM projects WHERE domain_id=?1", [id])?;
            tx.execute("DELETE FROM users WHERE domain_id=?1", [id])?;
            tx.execute("DELETE FROM groups WHERE domain_id=?1", [id])?;
            tx.execute("DELETE FROM roles WHERE domain_id=?1", [id])?;
            let n = tx.execute("DELETE FROM domains WHERE id=?1", [id])?;
            changed(n, "domain", id)
        })
    }

    fn create_project(&self, p: &Project) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO projects(id, name, domain_id, parent_id, description, enabled, tags, extra, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![p.id, p.name, p.domain_id, p.parent_id, p.description, p.enabled, to_json(&p.tags), to_json(&p.extra), now_micros()],
            )
            .map_err(|e| conflict_on_unique(e, || format!("Conflict occurred attempting to store project - it is not permitted to have two projects with the same name in the same domain : {}.", p.name)))?;
            Ok(())
        })
    }

    fn get_project(&self, id: &str) -> StoreResult<Project> {
        self.db().read(|c| {
            get_one(
                c,
                "SELECT * FROM projects WHERE id = ?",
                id,
                "project",
                project_row,
            )
        })
    }

    fn find_projects_by_name(&self, name: &str) -> StoreResult<Vec<Project>> {
        self.db().read(|c| {
            Select::new("SELECT * FROM projects")
                .eq("name", Some(name.to_string()))
                .page(&ListFilter::default())
                .run(c, project_row)
        })
    }

    fn list_projects(&self, f: &ListFilter) -> StoreResult<Vec<Project>> {
        self.db().read(|c| {
            Select::new("SELECT * FROM projects")
                .eq("name", f.name.clone())
                .eq("domain_id", f.domain_id.clone())
                .eq("enabled", f.enabled)
                .eq("parent_id", f.parent_id.clone())
                .is_in("id", f.ids.as_ref())
                .page(f)
                .run(c, project_row)
        })
    }

    fn update_project(&self, p: &Project) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx
                .execute(
                    "UPDATE projects SET name=?2, description=?3, enabled=?4, tags=?5, extra=?6, parent_id=?7 WHERE id=?1",
                    params![p.id, p.name, p.description, p.enabled, to_json(&p.tags), to_json(&p.extra), p.parent_id],
                )
                .map_err(|e| conflict_on_unique(e, || format!("Conflict occurred attempting to store project - it is not permitted to have two projects with the same name in the same domain : {}.", p.name)))?;
            changed(n, "project", &p.id)
        })
    }

    fn delete_project(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let children: i64 = tx.query_row(
                "SELECT count(*) FROM projects WHERE parent_id=?1",
                [id],
                |r| r.get(0),
            )?;
            if children > 0 {
                return Err(StoreError::Invalid(format!(
                    "Cannot delete project {id}: it has sub-projects."
                )));
            }
            tx.execute(
                "DELETE FROM assignments WHERE target_kind='project' AND target_id=?1",
                [id],
            )?;
            tx.execute(
                "DELETE FROM application_credentials WHERE project_id=?1",
                [id],
            )?;
            let n = tx.execute("DELETE FROM projects WHERE id=?1", [id])?;
            changed(n, "project", id)
        })
    }

    fn create_user(&self, u: &User) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO users(id, name, domain_id, enabled, password_hash, default_project_id, description, email, extra, password_changed_at, created_at, options, password_expires_at, password_self_service, password_history)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![u.id, u.name, u.domain_id, u.enabled, u.password_hash, u.default_project_id, u.description, u.email, to_json(&u.extra), u.password_changed_at, now_micros(), to_json(&u.security.options), u.security.password_expires_at, u.security.password_self_service, to_json(&u.security.password_history)],
            )
            .map_err(|e| conflict_on_unique(e, || format!("Conflict occurred attempting to store user - Duplicate entry found with name {} at domain ID {}.", u.name, u.domain_id)))?;
            Ok(())
        })
    }

    fn get_user(&self, id: &str) -> StoreResult<User> {
        self.db()
            .read(|c| get_one(c, "SELECT * FROM users WHERE id = ?", id, "user", user_row))
    }

    fn get_user_by_name(&self, domain_id: &str, name: &str) -> StoreResult<User> {
        self.db().read(|c| {
            c.prepare_cached("SELECT * FROM users WHERE domain_id = ?1 AND name = ?2")?
                .query_row([domain_id, name], user_row)
                .optional()?
                .ok_or_else(|| StoreError::not_found("user", name))
        })
    }

    fn list_users(&self, f: &ListFilter) -> StoreResult<Vec<User>> {
        self.db().read(|c| {
            Select::new("SELECT * FROM users")
                .eq("name", f.name.clone())
                .eq("domain_id", f.domain_id.clone())
                .eq("enabled", f.enabled)
                .is_in("id", f.ids.as_ref())
                .page(f)
                .run(c, user_row)
        })
    }

    fn update_user(&self, u: &User) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx
                .execute(
                    "UPDATE users SET name=?2, enabled=?3, password_hash=?4, default_project_id=?5, description=?6, email=?7, extra=?8, password_changed_at=?9, options=?10, password_expires_at=?11, password_self_service=?12, password_history=?13 WHERE id=?1",
                    params![u.id, u.name, u.enabled, u.password_hash, u.default_project_id, u.description, u.email, to_json(&u.extra), u.password_changed_at, to_json(&u.security.options), u.security.password_expires_at, u.security.password_self_service, to_json(&u.security.password_history)],
                )
                .map_err(|e| conflict_on_unique(e, || format!("Conflict occurred attempting to store user - Duplicate entry found with name {} at domain ID {}.", u.name, u.domain_id)))?;
            changed(n, "user", &u.id)
        })
    }

    fn delete_user(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "DELETE FROM assignments WHERE actor_kind='user' AND actor_id=?1",
                [id],
            )?;
            let n = tx.execute("DELETE FROM users WHERE id=?1", [id])?;
            changed(n, "user", id)
        })
    }

    fn record_login_failure(&self, user_id: &str, at: i64) -> StoreResult<()> {
        login::record_failure(self.db(), user_id, at)
    }

    fn login_failures(&self, user_id: &str) -> StoreResult<Option<LoginFailures>> {
        login::failures(self.db(), user_id)
    }

    fn clear_login_failures(&self, user_id: &str) -> StoreResult<()> {
        login::clear(self.db(), user_id)
    }

    fn create_group(&self, g: &Group) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO groups(id, name, domain_id, description, extra, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![g.id, g.name, g.domain_id, g.description, to_json(&g.extra), now_micros()],
            )
            .map_err(|e| conflict_on_unique(e, || format!("Conflict occurred attempting to store group - Duplicate entry found with name {} at domain ID {}.", g.name, g.domain_id)))?;
            Ok(())
        })
    }

    fn get_group(&self, id: &str) -> StoreResult<Group> {
        self.db().read(|c| {
            get_one(
                c,
                "SELECT * FROM groups WHERE id = ?",
                id,
                "group",
                group_row,
            )
        })
    }

    fn list_groups(&self, f: &ListFilter) -> StoreResult<Vec<Group>> {
        self.db().read(|c| {
            Select::new("SELECT * FROM groups")
                .eq("name", f.name.clone())
                .eq("domain_id", f.domain_id.clone())
                .is_in("id", f.ids.as_ref())
                .page(f)
                .run(c, group_row)
        })
    }

    fn update_group(&self, g: &Group) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx
                .execute(
                    "UPDATE groups SET name=?2, description=?3, extra=?4 WHERE id=?1",
                    params![g.id, g.name, g.description, to_json(&g.extra)],
                )
                .map_err(|e| conflict_on_unique(e, || format!("Conflict occurred attempting to store group - Duplicate entry found with name {} at domain ID {}.", g.name, g.domain_id)))?;
            changed(n, "group", &g.id)
        })
    }

    fn delete_group(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "DELETE FROM assignments WHERE actor_kind='group' AND actor_id=?1",
                [id],
            )?;
            let n = tx.execute("DELETE FROM groups WHERE id=?1", [id])?;
            changed(n, "group", id)
        })
    }

    fn add_user_to_group(&self, user_id: &str, group_id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO user_groups(user_id, group_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                [user_id, group_id],
            )?;
            Ok(())
        })
    }

    fn remove_user_from_group(&self, user_id: &str, group_id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute(
                "DELETE FROM user_groups WHERE user_id=?1 AND group_id=?2",
                [user_id, group_id],
            )?;
            changed(n, "group membership", &format!("{user_id} in {group_id}"))
        })
    }

    fn list_user_group_ids(&self, user_id: &str) -> StoreResult<Vec<String>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT group_id FROM user_groups WHERE user_id=?1 ORDER BY group_id",
            )?;
            let rows = stmt.query_map([user_id], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
    }

    fn list_group_user_ids(&self, group_id: &str) -> StoreResult<Vec<String>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT user_id FROM user_groups WHERE group_id=?1 ORDER BY user_id",
            )?;
            let rows = stmt.query_map([group_id], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
    }

    fn create_role(&self, r: &Role) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO roles(id, name, domain_id, description, extra, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![r.id, r.name, r.domain_id.clone().unwrap_or_default(), r.description, to_json(&r.extra), now_micros()],
            )
            .map_err(|e| conflict_on_unique(e, || format!("Conflict occurred attempting to store role - Duplicate entry found with name {}.", r.name)))?;
            Ok(())
        })
    }

    fn get_role(&self, id: &str) -> StoreResult<Role> {
        self.db()
            .read(|c| get_one(c, "SELECT * FROM roles WHERE id = ?", id, "role", role_row))
    }

    fn list_roles(&self, f: &ListFilter) -> StoreResult<Vec<Role>> {
        self.db().read(|c| {
            Select::new("SELECT * FROM roles")
                .eq("name", f.name.clone())
                .eq("domain_id", Some(f.domain_id.clone().unwrap_or_default()))
                .is_in("id", f.ids.as_ref())
                .page(f)
                .run(c, role_row)
        })
    }

    fn update_role(&self, r: &Role) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx
                .execute(
                    "UPDATE roles SET name=?2, description=?3, extra=?4 WHERE id=?1",
                    params![r.id, r.name, r.description, to_json(&r.extra)],
                )
                .map_err(|e| conflict_on_unique(e, || format!("Conflict occurred attempting to store role - Duplicate entry found with name {}.", r.name)))?;
            changed(n, "role", &r.id)
        })
    }

    fn delete_role(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute("DELETE FROM roles WHERE id=?1", [id])?;
            changed(n, "role", id)
        })
    }

    fn add_implied_role(&self, prior: &str, implied: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO implied_roles(prior_role_id, implied_role_id) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                [prior, implied],
            )?;
            Ok(())
        })
    }

    fn remove_implied_role(&self, prior: &str, implied: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute(
                "DELETE FROM implied_roles WHERE prior_role_id=?1 AND implied_role_id=?2",
                [prior, implied],
            )?;
            changed(n, "implied role", &format!("{prior} -> {implied}"))
        })
    }

    fn list_role_implications(&self) -> StoreResult<Vec<(String, String)>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT prior_role_id, implied_role_id FROM implied_roles ORDER BY prior_role_id, implied_role_id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn grant(&self, a: &Assignment) -> StoreResult<()> {
        let (ak, aid) = actor_parts(&a.actor);
        let (tk, tid) = target_parts(&a.target);
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO assignments(actor_kind, actor_id, target_kind, target_id, role_id, inherited)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                params![ak, aid, tk, tid, a.role_id, a.inherited],
            )?;
            Ok(())
        })
    }

    fn revoke(&self, a: &Assignment) -> StoreResult<()> {
        let (ak, aid) = actor_parts(&a.actor);
        let (tk, tid) = target_parts(&a.target);
        self.db().write(|tx| {
            let n = tx.execute(
                "DELETE FROM assignments WHERE actor_kind=?1 AND actor_id=?2 AND target_kind=?3 AND target_id=?4 AND role_id=?5 AND inherited=?6",
                params![ak, aid, tk, tid, a.role_id, a.inherited],
            )?;
            changed(n, "role assignment", &a.role_id)
        })
    }

    fn list_assignments(&self, f: &AssignmentFilter) -> StoreResult<Vec<Assignment>> {
        self.db().read(|c| {
            let mut q = Select::new("SELECT * FROM assignments");
            if let Some(t) = &f.target {
                let (tk, tid) = target_parts(t);
                q.eq("target_kind", Some(tk.to_string()))
                    .eq("target_id", Some(tid.to_string()));
            }
            q.eq("role_id", f.role_id.clone());
            if let Some(actors) = &f.actors {
                if actors.is_empty() {
                    return Ok(Vec::new());
                }
                let clauses: Vec<&str> = actors
                    .iter()
                    .map(|_| "(actor_kind = ? AND actor_id = ?)")
                    .collect();
                q.sql.push_str(&format!(" AND ({})", clauses.join(" OR ")));
                for a in actors {
                    let (k, id) = actor_parts(a);
                    q.params.push(SqlValue::Text(k.into()));
                    q.params.push(SqlValue::Text(id.into()));
                }
            }
            q.sql
                .push_str(" ORDER BY actor_kind, actor_id, target_kind, target_id, role_id");
            q.run(c, assignment_row)
        })
    }

    fn create_region(&self, r: &Region) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO regions(id, description, parent_region_id, extra) VALUES (?1, ?2, ?3, ?4)",
                params![r.id, r.description, r.parent_region_id, to_json(&r.extra)],
            )
            .map_err(|e| conflict_on_unique(e, || format!("Conflict occurred attempting to store region - Duplicate ID, {}.", r.id)))?;
            Ok(())
        })
    }

    fn get_region(&self, id: &str) -> StoreResult<Region> {
        self.db().read(|c| {
            get_one(
                c,
                "SELECT * FROM regions WHERE id = ?",
                id,
                "region",
                region_row,
            )
        })
    }

    fn list_regions(&self, f: &ListFilter) -> StoreResult<Vec<Region>> {
        self.db().read(|c| {
            Select::new("SELECT * FROM regions")
                .eq("parent_region_id", f.parent_id.clone())
                .page(f)
                .run(c, region_row)
        })
    }

    fn update_region(&self, r: &Region) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE regions SET description=?2, parent_region_id=?3, extra=?4 WHERE id=?1",
                params![r.id, r.description, r.parent_region_id, to_json(&r.extra)],
            )?;
            changed(n, "region", &r.id)
        })
    }

    fn delete_region(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let users: i64 = tx.query_row(
                "SELECT (SELECT count(*) FROM endpoints WHERE region_id=?1) + (SELECT count(*) FROM regions WHERE parent_region_id=?1)",
                [id],
                |r| r.get(0),
            )?;
            if users > 0 {
                return Err(StoreError::Invalid(format!(
                    "Region {id} still has endpoints or child regions."
                )));
            }
            let n = tx.execute("DELETE FROM regions WHERE id=?1", [id])?;
            changed(n, "region", id)
        })
    }

    fn create_service(&self, s: &Service) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO services(id, type, name, description, enabled, extra) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![s.id, s.service_type, s.name, s.description, s.enabled, to_json(&s.extra)],
            )?;
            Ok(())
        })
    }

    fn get_service(&self, id: &str) -> StoreResult<Service> {
        self.db().read(|c| {
            get_one(
                c,
                "SELECT * FROM services WHERE id = ?",
                id,
                "service",
                service_row,
            )
        })
    }

    fn list_services(&self, f: &ListFilter) -> StoreResult<Vec<Service>> {
        self.db().read(|c| {
            Select::new("SELECT * FROM services")
                .eq("name", f.name.clone())
                .page(f)
                .run(c, service_row)
        })
    }

    fn update_service(&self, s: &Service) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE services SET type=?2, name=?3, description=?4, enabled=?5, extra=?6 WHERE id=?1",
                params![s.id, s.service_type, s.name, s.description, s.enabled, to_json(&s.extra)],
            )?;
            changed(n, "service", &s.id)
        })
    }

    fn delete_service(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute("DELETE FROM services WHERE id=?1", [id])?;
            changed(n, "service", id)
        })
    }

    fn create_endpoint(&self, e: &Endpoint) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO endpoints(id, service_id, interface, region_id, url, enabled, extra) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![e.id, e.service_id, e.interface, e.region_id, e.url, e.enabled, to_json(&e.extra)],
            )?;
            Ok(())
        })
    }

    fn get_endpoint(&self, id: &str) -> StoreResult<Endpoint> {
        self.db().read(|c| {
            get_one(
                c,
                "SELECT * FROM endpoints WHERE id = ?",
                id,
                "endpoint",
                endpoint_row,
            )
        })
    }

    fn list_endpoints(&self) -> StoreResult<Vec<Endpoint>> {
        self.db().read(|c| {
            Select::new("SELECT * FROM endpoints")
                .page(&ListFilter::default())
                .run(c, endpoint_row)
        })
    }

    fn update_endpoint(&self, e: &Endpoint) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute(
                "UPDATE endpoints SET service_id=?2, interface=?3, region_id=?4, url=?5, enabled=?6, extra=?7 WHERE id=?1",
                params![e.id, e.service_id, e.interface, e.region_id, e.url, e.enabled, to_json(&e.extra)],
            )?;
            changed(n, "endpoint", &e.id)
        })
    }

    fn delete_endpoint(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute("DELETE FROM endpoints WHERE id=?1", [id])?;
            changed(n, "endpoint", id)
        })
    }

    fn create_app_credential(&self, c: &ApplicationCredential) -> StoreResult<()> {
        self.db().write(|tx| insert_app_credential(tx, c))
    }

    fn get_app_credential(&self, id: &str) -> StoreResult<ApplicationCredential> {
        self.db().read(|c| {
            get_one(
                c,
                "SELECT * FROM application_credentials WHERE id = ?",
                id,
                "application credential",
                app_cred_row,
            )
        })
    }

    fn list_app_credentials(&self, user_id: &str) -> StoreResult<Vec<ApplicationCredential>> {
        self.db().read(|c| {
            Select::new("SELECT * FROM application_credentials")
                .eq("user_id", Some(user_id.to_string()))
                .page(&ListFilter::default())
                .run(c, app_cred_row)
        })
    }

    fn delete_app_credential(&self, id: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            let n = tx.execute("DELETE FROM application_credentials WHERE id=?1", [id])?;
            changed(n, "application credential", id)
        })
    }

    fn add_revocation(&self, e: &RevocationEvent) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO revocation_events(audit_id, user_id, project_id, issued_before, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![e.audit_id, e.user_id, e.project_id, e.issued_before, now_micros()],
            )?;
            Ok(())
        })
    }

    fn list_revocations(&self) -> StoreResult<Vec<RevocationEvent>> {
        self.db().read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT audit_id, user_id, project_id, issued_before FROM revocation_events ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(RevocationEvent {
                    audit_id: r.get(0)?,
                    user_id: r.get(1)?,
                    project_id: r.get(2)?,
                    issued_before: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    fn prune_revocations(&self, before: i64) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "DELETE FROM revocation_events WHERE created_at < ?1",
                [before],
            )?;
            Ok(())
        })
    }

    fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        self.db().read(|c| {
            Ok(c.prepare_cached("SELECT value FROM settings WHERE key=?1")?
                .query_row([key], |r| r.get(0))
                .optional()?)
        })
    }

    fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO settings(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                [key, value],
            )?;
            Ok(())
        })
    }
}

/// Insert an application credential inside a write (shared with the
/// access-rule store, which adds the credential's rules in the same one).
pub(crate) fn insert_app_credential(tx: &Conn, c: &ApplicationCredential) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO application_credentials(id, name, user_id, project_id, secret_hash, description, expires_at, unrestricted, roles, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![c.id, c.name, c.user_id, c.project_id, c.secret_hash, c.description, c.expires_at, c.unrestricted, to_json(&c.role_ids), now_micros()],
    )
    .map_err(|e| conflict_on_unique(e, || format!("Conflict occurred attempting to store application_credential - Duplicate entry found with name {}.", c.name)))?;
    Ok(())
}
