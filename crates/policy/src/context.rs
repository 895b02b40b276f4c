//! The authenticated caller, as every handler sees it.

/// A role held in the token's scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRef {
    /// Role id.
    pub id: String,
    /// Role name (`admin`, `member`, `reader`, ...).
    pub name: String,
}

/// What the token is scoped to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// No scope: the token proves identity only.
    Unscoped,
    /// A project.
    Project {
        /// Project id.
        id: String,
        /// Project name.
        name: String,
        /// The project's domain id.
        domain_id: String,
        /// The project's domain name.
        domain_name: String,
    },
    /// A domain.
    Domain {
        /// Domain id.
        id: String,
        /// Domain name.
        name: String,
    },
    /// The whole deployment.
    System,
}

/// The validated caller of a request.
#[derive(Clone, Debug)]
pub struct AuthContext {
    /// User id.
    pub user_id: String,
    /// User name.
    pub user_name: String,
    /// The user's domain id.
    pub user_domain_id: String,
    /// The user's domain name.
    pub user_domain_name: String,
    /// Token scope.
    pub scope: Scope,
    /// Effective roles in the scope, implied roles included.
    pub roles: Vec<RoleRef>,
    /// Authentication methods used (`password`, `token`, `application_credential`).
    pub methods: Vec<String>,
    /// Audit ids: this token's first, then its parent's when re-scoped.
    pub audit_ids: Vec<String>,
    /// Issue time, µs since the epoch.
    pub issued_at: i64,
    /// Expiry, µs since the epoch.
    pub expires_at: i64,
    /// Application credential used, if any.
    pub application_credential_id: Option<String>,
    /// The trust of a trust-scoped token (OS-TRUST), if any.
    pub trust_id: Option<String>,
    /// The access rules of the application credential the token came
    /// from: when any, the token is good only for requests one matches
    /// ([`crate::access_rules`]).
    pub access_rules: Vec<crate::AccessRuleRef>,
}

/// Why a target check failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The caller may not know the target exists: answer 404.
    NotFound,
    /// The caller sees the target but lacks the role: answer 403.
    Forbidden,
}

impl AuthContext {
    /// True when the caller holds `name` in the token's scope.
    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name == name)
    }

    /// Cloud administrator: the `admin` role in any scope, as OpenStack's
    /// default policies treat it.
    pub fn is_admin(&self) -> bool {
        self.has_role("admin")
    }

    /// The project the token is scoped to.
    pub fn project_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::Project { id, .. } => Some(id),
            _ => None,
        }
    }

    /// May the caller act on resources of `project_id`? Admins may act
    /// anywhere; others only in their token's project, reading with
    /// `reader` and writing with `member`. Another project is `NotFound`.
    pub fn check_project(&self, project_id: &str, write: bool) -> Result<(), Denial> {
        if self.is_admin() {
            return Ok(());
        }
        if self.project_id() != Some(project_id) {
            return Err(Denial::NotFound);
        }
        let needed = if write { "member" } else { "reader" };
        if self.has_role(needed) {
            Ok(())
        } else {
            Err(Denial::Forbidden)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(project: &str, roles: &[&str]) -> AuthContext {
        AuthContext {
            user_id: "u".into(),
            user_name: "u".into(),
            user_domain_id: "default".into(),
            user_domain_name: "Default".into(),
            scope: Scope::Project {
                id: project.into(),
                name: project.into(),
                domain_id: "default".into(),
                domain_name: "Default".into(),
            },
            roles: roles
                .iter()
                .map(|r| RoleRef {
                    id: (*r).into(),
                    name: (*r).into(),
                })
                .collect(),
            methods: vec!["password".into()],
            audit_ids: vec![],
            issued_at: 0,
            expires_at: 0,
            application_credential_id: None,
            trust_id: None,
            access_rules: Vec::new(),
        }
    }

    #[test]
    fn another_projects_resources_are_not_found() {
        let c = ctx("p1", &["member", "reader"]);
        assert_eq!(c.check_project("p2", false), Err(Denial::NotFound));
    }

    #[test]
    fn reader_reads_but_cannot_write() {
        let c = ctx("p1", &["reader"]);
        assert_eq!(c.check_project("p1", false), Ok(()));
        assert_eq!(c.check_project("p1", true), Err(Denial::Forbidden));
    }

    #[test]
    fn admin_acts_anywhere() {
        let c = ctx("p1", &["admin", "member", "reader"]);
        assert_eq!(c.check_project("p9", true), Ok(()));
    }
}
