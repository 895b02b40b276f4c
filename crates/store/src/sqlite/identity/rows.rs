//! Mapping identity rows to records, and the small query builder the
//! list methods share (filters, id markers, page size).

use crate::identity::*;
use crate::sql::Value as SqlValue;
use crate::sql::{Conn, OptionalExtension, Row};
use crate::{StoreError, StoreResult};

/// A SELECT under construction: WHERE clauses with their parameters, then paging.
pub(super) struct Select {
    pub(super) sql: String,
    pub(super) params: Vec<SqlValue>,
}

impl Select {
    pub(super) fn new(base: &str) -> Self {
        Select {
            sql: format!("{base} WHERE 1=1"),
            params: Vec::new(),
        }
    }

    pub(super) fn eq(&mut self, column: &str, value: Option<impl Into<SqlValue>>) -> &mut Self {
        if let Some(v) = value {
            self.sql.push_str(&format!(" AND {column} = ?"));
            self.params.push(v.into());
        }
        self
    }

    pub(super) fn is_in(&mut self, column: &str, values: Option<&Vec<String>>) -> &mut Self {
        if let Some(values) = values {
            if values.is_empty() {
                self.sql.push_str(" AND 0");
            } else {
                let marks = vec!["?"; values.len()].join(",");
                self.sql.push_str(&format!(" AND {column} IN ({marks})"));
                self.params
                    .extend(values.iter().map(|v| SqlValue::Text(v.clone())));
            }
        }
        self
    }

    pub(super) fn page(&mut self, f: &ListFilter) -> &mut Self {
        if let Some(marker) = &f.marker {
            self.sql.push_str(" AND id > ?");
            self.params.push(SqlValue::Text(marker.clone()));
        }
        self.sql.push_str(" ORDER BY id");
        if let Some(limit) = f.limit {
            self.sql.push_str(&format!(" LIMIT {limit}"));
        }
        self
    }

    pub(super) fn run<T>(
        &self,
        conn: &Conn,
        map: fn(&Row) -> crate::sql::Result<T>,
    ) -> StoreResult<Vec<T>> {
        let mut stmt = conn.prepare_cached(&self.sql)?;
        let rows = stmt.query_map(crate::sql::params_from_iter(self.params.iter()), map)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

pub(super) fn json_col<T: serde::de::DeserializeOwned + Default>(
    row: &Row,
    idx: &str,
) -> crate::sql::Result<T> {
    let text: String = row.get(idx)?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

pub(super) fn changed(n: usize, kind: &'static str, id: &str) -> StoreResult<()> {
    if n == 0 {
        Err(StoreError::not_found(kind, id))
    } else {
        Ok(())
    }
}

pub(super) fn domain_row(r: &Row) -> crate::sql::Result<Domain> {
    Ok(Domain {
        id: r.get("id")?,
        name: r.get("name")?,
        description: r.get("description")?,
        enabled: r.get("enabled")?,
        tags: json_col(r, "tags")?,
        extra: json_col(r, "extra")?,
    })
}

pub(super) fn project_row(r: &Row) -> crate::sql::Result<Project> {
    Ok(Project {
        id: r.get("id")?,
        name: r.get("name")?,
        domain_id: r.get("domain_id")?,
        parent_id: r.get("parent_id")?,
        description: r.get("description")?,
        enabled: r.get("enabled")?,
        tags: json_col(r, "tags")?,
        extra: json_col(r, "extra")?,
    })
}

pub(super) fn user_row(r: &Row) -> crate::sql::Result<User> {
    Ok(User {
        id: r.get("id")?,
        name: r.get("name")?,
        domain_id: r.get("domain_id")?,
        enabled: r.get("enabled")?,
        password_hash: r.get("password_hash")?,
        default_project_id: r.get("default_project_id")?,
        description: r.get("description")?,
        email: r.get("email")?,
        extra: json_col(r, "extra")?,
        password_changed_at: r.get("password_changed_at")?,
        security: UserSecurity {
            options: json_col(r, "options")?,
            password_expires_at: r.get("password_expires_at")?,
            password_self_service: r.get("password_self_service")?,
            password_history: json_col(r, "password_history")?,
        },
    })
}

pub(super) fn group_row(r: &Row) -> crate::sql::Result<Group> {
    Ok(Group {
        id: r.get("id")?,
        name: r.get("name")?,
        domain_id: r.get("domain_id")?,
        description: r.get("description")?,
        extra: json_col(r, "extra")?,
    })
}

pub(super) fn role_row(r: &Row) -> crate::sql::Result<Role> {
    let domain_id: String = r.get("domain_id")?;
    Ok(Role {
        id: r.get("id")?,
        name: r.get("name")?,
        domain_id: (!domain_id.is_empty()).then_some(domain_id),
        description: r.get("description")?,
        extra: json_col(r, "extra")?,
    })
}

pub(super) fn region_row(r: &Row) -> crate::sql::Result<Region> {
    Ok(Region {
        id: r.get("id")?,
        description: r.get("description")?,
        parent_region_id: r.get("parent_region_id")?,
        extra: json_col(r, "extra")?,
    })
}

pub(super) fn service_row(r: &Row) -> crate::sql::Result<Service> {
    Ok(Service {
        id: r.get("id")?,
        service_type: r.get("type")?,
        name: r.get("name")?,
        description: r.get("description")?,
        enabled: r.get("enabled")?,
        extra: json_col(r, "extra")?,
    })
}

pub(super) fn endpoint_row(r: &Row) -> crate::sql::Result<Endpoint> {
    Ok(Endpoint {
        id: r.get("id")?,
        service_id: r.get("service_id")?,
        interface: r.get("interface")?,
        region_id: r.get("region_id")?,
        url: r.get("url")?,
        enabled: r.get("enabled")?,
        extra: json_col(r, "extra")?,
    })
}

pub(super) fn app_cred_row(r: &Row) -> crate::sql::Result<ApplicationCredential> {
    Ok(ApplicationCredential {
        id: r.get("id")?,
        name: r.get("name")?,
        user_id: r.get("user_id")?,
        project_id: r.get("project_id")?,
        secret_hash: r.get("secret_hash")?,
        description: r.get("description")?,
        expires_at: r.get("expires_at")?,
        unrestricted: r.get("unrestricted")?,
        role_ids: json_col(r, "roles")?,
    })
}

pub(super) fn actor_parts(a: &Actor) -> (&'static str, &str) {
    match a {
        Actor::User(id) => ("user", id),
        Actor::Group(id) => ("group", id),
    }
}

pub(super) fn target_parts(t: &Target) -> (&'static str, &str) {
    match t {
        Target::Project(id) => ("project", id),
        Target::Domain(id) => ("domain", id),
        Target::System => ("system", "all"),
    }
}

pub(super) fn assignment_row(r: &Row) -> crate::sql::Result<Assignment> {
    let actor_kind: String = r.get("actor_kind")?;
    let actor_id: String = r.get("actor_id")?;
    let target_kind: String = r.get("target_kind")?;
    let target_id: String = r.get("target_id")?;
    Ok(Assignment {
        actor: if actor_kind == "group" {
            Actor::Group(actor_id)
        } else {
            Actor::User(actor_id)
        },
        target: match target_kind.as_str() {
            "domain" => Target::Domain(target_id),
            "system" => Target::System,
            _ => Target::Project(target_id),
        },
        role_id: r.get("role_id")?,
        inherited: r.get("inherited")?,
    })
}

pub(super) fn get_one<T>(
    conn: &Conn,
    sql: &str,
    key: &str,
    kind: &'static str,
    map: fn(&Row) -> crate::sql::Result<T>,
) -> StoreResult<T> {
    conn.prepare_cached(sql)?
        .query_row([key], map)
        .optional()?
        .ok_or_else(|| StoreError::not_found(kind, key))
}
