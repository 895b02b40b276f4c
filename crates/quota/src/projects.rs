//! Which project a quota URL means.
//!
//! Quota URLs carry `{project_id}`, but users type names:
//! `nova quota-update --cores 30 myproject` sends `myproject` as the id
//! (novaclient does no lookup; openstackclient does). A real Nova would
//! ask Keystone, find no project with that id and answer 400; ferrostack
//! looks the string up as an id first, then as a name, so the command does
//! what its user meant.
//!
//! The services see projects only through [`ProjectDirectory`], three
//! read-only questions, rather than the whole identity store: a quota
//! handler has no business creating users, and the narrow trait is easy to
//! fake in tests. [`StoreProjects`] answers them from an
//! [`IdentityStore`].
//!
//! Who may name which project is decided here too, once for every
//! service: admins may name any project (by id or unique name); anyone
//! else only the project of their token, and any other string is "not
//! visible" without a lookup, so a token cannot probe which projects exist.

use ferrostack_policy::{AuthContext, Denial, Scope};
use ferrostack_store::identity::{IdentityStore, ListFilter};
use ferrostack_store::{StoreError, StoreResult};
use std::sync::Arc;

/// A project as quota APIs need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectRef {
    /// Project id.
    pub id: String,
    /// Project name (unique within its domain).
    pub name: String,
    /// Owning domain.
    pub domain_id: String,
}

/// Read-only project lookups.
pub trait ProjectDirectory: Send + Sync {
    /// The project with this id, if any.
    fn get(&self, id: &str) -> StoreResult<Option<ProjectRef>>;
    /// Every project with exactly this name, across domains.
    fn find_by_name(&self, name: &str) -> StoreResult<Vec<ProjectRef>>;
    /// Every project.
    fn list(&self) -> StoreResult<Vec<ProjectRef>>;
}

/// What an id-or-name resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Exactly one project.
    Found(ProjectRef),
    /// No project has this id or name.
    NotFound,
    /// No project has this id, and this many share the name (in different domains).
    Ambiguous(usize),
}

/// Resolve `id_or_name`: an exact id wins, else a unique name.
pub fn resolve(dir: &dyn ProjectDirectory, id_or_name: &str) -> StoreResult<Resolution> {
    if let Some(project) = dir.get(id_or_name)? {
        return Ok(Resolution::Found(project));
    }
    let mut named = dir.find_by_name(id_or_name)?;
    Ok(match named.len() {
        0 => Resolution::NotFound,
        1 => Resolution::Found(named.remove(0)),
        n => Resolution::Ambiguous(n),
    })
}

/// How a quota API treats an id-or-name that matches no project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfUnknown {
    /// Refuse it (Nova checks projects with Keystone on most calls).
    Refuse,
    /// Use the string as the project id (the services that do not check).
    UseAsGiven,
}

/// Why a quota URL's project cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Not the caller's project, and the caller is no admin.
    #[error("project {0} is not visible to the caller")]
    NotVisible(String),
    /// The caller's own project, but the token lacks the role.
    #[error("the caller lacks the role for project {0}")]
    Forbidden(String),
    /// No project has this id or name (and the API refuses unknown ones).
    #[error("no project {0}")]
    Unknown(String),
    /// No project has this id and several share the name.
    #[error("{count} projects are named {name}")]
    Ambiguous {
        /// The name given.
        name: String,
        /// How many projects have it.
        count: usize,
    },
    /// The directory failed.
    #[error("project lookup failed")]
    Store(#[from] StoreError),
}

/// The caller's own project id, when `raw` is its id or its name.
pub fn own_project(caller: &AuthContext, raw: &str) -> Option<String> {
    match &caller.scope {
        Scope::Project { id, name, .. } if raw == id || raw == name => Some(id.clone()),
        _ => None,
    }
}

/// The project an admin means by `raw`.
pub fn admin_target(
    dir: &dyn ProjectDirectory,
    raw: &str,
    unknown: IfUnknown,
) -> Result<String, TargetError> {
    match resolve(dir, raw)? {
        Resolution::Found(p) => Ok(p.id),
        Resolution::Ambiguous(count) => Err(TargetError::Ambiguous {
            name: raw.to_string(),
            count,
        }),
        Resolution::NotFound => match unknown {
            IfUnknown::Refuse => Err(TargetError::Unknown(raw.to_string())),
            IfUnknown::UseAsGiven => Ok(raw.to_string()),
        },
    }
}

/// The project whose quota the caller may read as `raw`: any project for
/// an admin, else only the token's own project with `reader` (or, for
/// `write`, `member`).
pub fn caller_target(
    dir: &dyn ProjectDirectory,
    caller: &AuthContext,
    raw: &str,
    unknown: IfUnknown,
    write: bool,
) -> Result<String, TargetError> {
    if caller.is_admin() {
        return admin_target(dir, raw, unknown);
    }
    let id = own_project(caller, raw).ok_or_else(|| TargetError::NotVisible(raw.to_string()))?;
    caller.check_project(&id, write).map_err(|d| match d {
        Denial::NotFound => TargetError::NotVisible(raw.to_string()),
        Denial::Forbidden => TargetError::Forbidden(raw.to_string()),
    })?;
    Ok(id)
}

/// [`ProjectDirectory`] over the identity store.
#[derive(Clone)]
pub struct StoreProjects(pub Arc<dyn IdentityStore>);

fn project_ref(p: ferrostack_store::identity::Project) -> ProjectRef {
    ProjectRef {
        id: p.id,
        name: p.name,
        domain_id: p.domain_id,
    }
}

impl ProjectDirectory for StoreProjects {
    fn get(&self, id: &str) -> StoreResult<Option<ProjectRef>> {
        match self.0.get_project(id) {
            Ok(p) => Ok(Some(project_ref(p))),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn find_by_name(&self, name: &str) -> StoreResult<Vec<ProjectRef>> {
        Ok(self
            .0
            .find_projects_by_name(name)?
            .into_iter()
            .map(project_ref)
            .collect())
    }

    fn list(&self) -> StoreResult<Vec<ProjectRef>> {
        Ok(self
            .0
            .list_projects(&ListFilter::default())?
            .into_iter()
            .map(project_ref)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrostack_store::identity::{Domain, Project};
    use ferrostack_store::SqliteStore;

    fn project(id: &str, name: &str, domain: &str) -> Project {
        Project {
            id: id.into(),
            name: name.into(),
            domain_id: domain.into(),
            parent_id: None,
            description: String::new(),
            enabled: true,
            tags: vec![],
            extra: Default::default(),
        }
    }

    fn directory() -> (tempfile::TempDir, StoreProjects) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("p.db")).unwrap();
        for (id, name) in [("default", "Default"), ("d2", "Other")] {
            store
                .create_domain(&Domain {
                    id: id.into(),
                    name: name.into(),
                    description: String::new(),
                    enabled: true,
                    tags: vec![],
                    extra: Default::default(),
                })
                .unwrap();
        }
        store
            .create_project(&project("aaa", "myproject", "default"))
            .unwrap();
        store
            .create_project(&project("bbb", "twin", "default"))
            .unwrap();
        store.create_project(&project("ccc", "twin", "d2")).unwrap();
        // A project named like another's id: the id must win.
        store.create_project(&project("ddd", "aaa", "d2")).unwrap();
        (dir, StoreProjects(Arc::new(store)))
    }

    #[test]
    fn an_id_resolves_to_its_project() {
        let (_d, dir) = directory();
        let Resolution::Found(p) = resolve(&dir, "aaa").unwrap() else {
            panic!("not found");
        };
        assert_eq!((p.id.as_str(), p.name.as_str()), ("aaa", "myproject"));
    }

    #[test]
    fn a_unique_name_resolves_to_its_project() {
        let (_d, dir) = directory();
        let Resolution::Found(p) = resolve(&dir, "myproject").unwrap() else {
            panic!("not found");
        };
        assert_eq!(p.id, "aaa");
    }

    fn caller(project: &str, name: &str, roles: &[&str]) -> AuthContext {
        AuthContext {
            user_id: "u".into(),
            user_name: "u".into(),
            user_domain_id: "default".into(),
            user_domain_name: "Default".into(),
            scope: Scope::Project {
                id: project.into(),
                name: name.into(),
                domain_id: "default".into(),
                domain_name: "Default".into(),
            },
            roles: roles
                .iter()
                .map(|r| ferrostack_policy::RoleRef {
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
    fn a_reader_may_name_only_their_own_project_by_id_or_name() {
        let (_d, dir) = directory();
        let reader = caller("aaa", "myproject", &["reader"]);
        for raw in ["aaa", "myproject"] {
            assert_eq!(
                caller_target(&dir, &reader, raw, IfUnknown::Refuse, false).unwrap(),
                "aaa"
            );
        }
        assert!(matches!(
            caller_target(&dir, &reader, "bbb", IfUnknown::UseAsGiven, false),
            Err(TargetError::NotVisible(_))
        ));
        assert!(matches!(
            caller_target(&dir, &reader, "aaa", IfUnknown::Refuse, true),
            Err(TargetError::Forbidden(_))
        ));
    }

    #[test]
    fn an_admin_may_name_any_project() {
        let (_d, dir) = directory();
        let admin = caller("zzz", "admin", &["admin", "member", "reader"]);
        assert_eq!(
            caller_target(&dir, &admin, "myproject", IfUnknown::Refuse, true).unwrap(),
            "aaa"
        );
        assert!(matches!(
            admin_target(&dir, "twin", IfUnknown::UseAsGiven),
            Err(TargetError::Ambiguous { count: 2, .. })
        ));
        assert!(matches!(
            admin_target(&dir, "ghost", IfUnknown::Refuse),
            Err(TargetError::Unknown(_))
        ));
        assert_eq!(
            admin_target(&dir, "ghost", IfUnknown::UseAsGiven).unwrap(),
            "ghost"
        );
    }

    #[test]
    fn a_shared_name_is_ambiguous_and_an_unknown_one_is_not_found() {
        let (_d, dir) = directory();
        assert_eq!(resolve(&dir, "twin").unwrap(), Resolution::Ambiguous(2));
        assert_eq!(resolve(&dir, "nope").unwrap(), Resolution::NotFound);
        assert_eq!(dir.list().unwrap().len(), 4);
    }
}
