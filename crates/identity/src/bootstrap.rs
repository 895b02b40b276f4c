//! First-start bootstrap, idempotent on every start.
//!
//! What `keystone-manage bootstrap` does, done by the server itself: the
//! Default domain, Keystone's default roles (admin, manager, member,
//! reader, service) with admin ⇒ manager ⇒ member ⇒ reader, the `admin`
//! and `service` projects, the admin user with the
//! admin role on the admin project and on the system, RegionOne, and a
//! catalog entry with public/internal/admin endpoints for every built-in
//! service. Run again on each start it only fills what is missing and
//! moves the built-in endpoints to the URLs the listeners now have, so a
//! changed `--public-host` or port reaches the catalog without manual
//! edits. Endpoints an operator added are left alone.
//!
//! Several controllers on one PostgreSQL database each run it when they
//! start, possibly at the same moment. Every record it makes is unique
//! by a constraint (the domain and region by their fixed ids, roles,
//! projects and the admin user by name) or by an id derived from what
//! it is (a built-in service from its type, an endpoint from its
//! service, interface and region), so two controllers racing to make
//! the same thing cannot both succeed: the loser's write is refused as
//! a duplicate, and bootstrap starts over, now finding the winner's
//! record. A controller that joins a bootstrapped cloud changes
//! nothing: the admin password is set only when it is given and
//! differs (every controller is given the same one, or none), and the
//! catalog already carries the `--public-host` every controller shares.

use crate::password;
use crate::service::Identity;
use ferrostack_common::ids::new_hex_id;
use ferrostack_store::identity::*;
use ferrostack_store::{StoreError, StoreResult};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::Map;

/// The Default domain's id, as Keystone names it.
pub const DEFAULT_DOMAIN_ID: &str = "default";
/// The region bootstrap creates.
pub const REGION: &str = "RegionOne";

/// A built-in service and the URL of its endpoints.
#[derive(Clone, Debug)]
pub struct CatalogEntry {
    /// Service type (`identity`, `compute`, ...).
    pub service_type: String,
    /// Service name (`keystone`, `nova`, ...).
    pub name: String,
    /// Endpoint URL for every interface.
    pub url: String,
}

/// What bootstrap needs to know.
#[derive(Clone, Debug)]
pub struct BootstrapSpec {
    /// Set (or reset) the admin password to this. `None`: keep it, or
    /// generate one when the admin user does not exist yet.
    pub admin_password: Option<String>,
    /// The built-in services.
    pub catalog: Vec<CatalogEntry>,
}

/// What bootstrap did that the operator must hear about.
#[derive(Debug, Default)]
pub struct BootstrapOutcome {
    /// The admin password, when it was generated now.
    pub generated_admin_password: Option<String>,
    /// True on the very first start of this data directory.
    pub first_start: bool,
}

fn ensure<T>(found: StoreResult<T>, create: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
    match found {
        Ok(v) => Ok(v),
        Err(StoreError::NotFound { .. }) => create(),
        Err(e) => Err(e),
    }
}

fn ensure_role(store: &dyn IdentityStore, name: &str) -> StoreResult<Role> {
    let found = store.list_roles(&ListFilter {
        name: Some(name.into()),
        ..Default::default()
    })?;
    if let Some(r) = found.into_iter().next() {
        return Ok(r);
    }
    let role = Role {
        id: new_hex_id(),
        name: name.into(),
        domain_id: None,
        description: String::new(),
        extra: Map::new(),
    };
    store.create_role(&role)?;
    Ok(role)
}

fn ensure_project(
    store: &dyn IdentityStore,
    name: &str,
    description: &str,
) -> StoreResult<Project> {
    let found = store.list_projects(&ListFilter {
        name: Some(name.into()),
        domain_id: Some(DEFAULT_DOMAIN_ID.into()),
        ..Default::default()
    })?;
    if let Some(p) = found.into_iter().next() {
        return Ok(p);
    }
    let project = Project {
        id: new_hex_id(),
        name: name.into(),
        domain_id: DEFAULT_DOMAIN_ID.into(),
        parent_id: None,
        description: description.into(),
        enabled: true,
        tags: vec![],
        extra: Map::new(),
    };
    store.create_project(&project)?;
    Ok(project)
}

/// A random 24-character alphanumeric password.
pub fn generate_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// How often bootstrap starts over after losing a race to another
/// controller (each round finds more of the winner's records).
const RACE_RETRIES: usize = 5;

/// Whether `e` says another writer made the same record first.
fn lost_race(e: &(dyn std::error::Error + 'static)) -> bool {
    match e.downcast_ref::<StoreError>() {
        Some(StoreError::Conflict(_)) => true,
        Some(StoreError::Database(db)) => db.is_unique_violation(),
        _ => false,
    }
}

/// A stable id for a built-in catalog record, from what it is: every
/// controller bootstrapping the same cloud derives the same one.
fn builtin_id(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"ferrostack-builtin");
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Identity {
    /// Bring the identity data to the bootstrapped state. Safe on every
    /// start, and on several controllers starting at once.
    pub fn bootstrap(
        &self,
        spec: &BootstrapSpec,
    ) -> Result<BootstrapOutcome, Box<dyn std::error::Error + Send + Sync>> {
        // Kept across attempts: a password generated (and stored) by an
        // attempt that then lost a race must still reach the rc file.
        let mut outcome = BootstrapOutcome::default();
        let mut attempt = 0;
        loop {
            match self.bootstrap_once(spec, &mut outcome) {
                Ok(()) => return Ok(outcome),
                Err(e) if attempt < RACE_RETRIES && lost_race(e.as_ref()) => {
                    attempt += 1;
                    tracing::info!(error = %e, "another controller bootstrapped the same record first; starting over");
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn bootstrap_once(
        &self,
        spec: &BootstrapSpec,
        outcome: &mut BootstrapOutcome,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let store = self.store.as_ref();
        ensure(store.get_domain(DEFAULT_DOMAIN_ID), || {
            outcome.first_start = true;
            let d = Domain {
                id: DEFAULT_DOMAIN_ID.into(),
                name: "Default".into(),
                description: "The default domain".into(),
                enabled: true,
                tags: vec![],
                extra: Map::new(),
            };
            store.create_domain(&d)?;
            Ok(d)
        })?;
        let admin_role = ensure_role(store, "admin")?;
        let manager_role = ensure_role(store, "manager")?;
        let member_role = ensure_role(store, "member")?;
        let reader_role = ensure_role(store, "reader")?;
        ensure_role(store, "service")?;
        store.add_implied_role(&admin_role.id, &manager_role.id)?;
        store.add_implied_role(&manager_role.id, &member_role.id)?;
        store.add_implied_role(&member_role.id, &reader_role.id)?;
        // Data from before the manager role had admin ⇒ member directly;
        // it now follows through manager (Keystone's bootstrap removes it
        // the same way). Effective roles do not change.
        match store.remove_implied_role(&admin_role.id, &member_role.id) {
            Ok(()) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let admin_project = ensure_project(
            store,
            "admin",
            "Bootstrap project for initializing the cloud.",
        )?;
        ensure_project(
            store,
            "service",
            "Project for the cloud's own service users.",
        )?;

        let admin = match store.get_user_by_name(DEFAULT_DOMAIN_ID, "admin") {
            Ok(mut user) => {
                if let Some(pw) = &spec.admin_password {
                    let current = user.password_hash.as_deref().unwrap_or("");
                    if !password::verify(pw, current) {
                        user.password_hash = Some(password::hash(pw)?);
                        user.password_changed_at = Some(ferrostack_common::time::now_micros());
                        store.update_user(&user)?;
                        self.revoke_user_tokens(&user.id)
                            .map_err(|e| e.to_string())?;
                    }
                }
                user
            }
            Err(StoreError::NotFound { .. }) => {
                let generated = spec.admin_password.is_none().then(generate_password);
                let pw = spec
                    .admin_password
                    .clone()
                    .or_else(|| generated.clone())
                    .unwrap_or_default();
                let user = User {
                    id: new_hex_id(),
                    name: "admin".into(),
                    domain_id: DEFAULT_DOMAIN_ID.into(),
                    enabled: true,
                    password_hash: Some(password::hash(&pw)?),
                    default_project_id: Some(admin_project.id.clone()),
                    description: String::new(),
                    email: None,
                    extra: Map::new(),
                    password_changed_at: Some(ferrostack_common::time::now_micros()),
                    security: Default::default(),
                };
                store.create_user(&user)?;
                // Only once stored: a controller that lost the race to
                // make the admin did not make this password.
                if generated.is_some() {
                    outcome.generated_admin_password = generated;
                }
                user
            }
            Err(e) => return Err(e.into()),
        };
        for target in [Target::Project(admin_project.id.clone()), Target::System] {
            store.grant(&Assignment {
                actor: Actor::User(admin.id.clone()),
                target,
                role_id: admin_role.id.clone(),
                inherited: false,
            })?;
        }
        ensure(store.get_region(REGION), || {
            let r = Region {
                id: REGION.into(),
                description: String::new(),
                parent_region_id: None,
                extra: Map::new(),
            };
            store.create_region(&r)?;
            Ok(r)
        })?;
        self.reconcile_catalog(&spec.catalog)?;
        Ok(())
    }

    fn reconcile_catalog(&self, entries: &[CatalogEntry]) -> StoreResult<()> {
        let store = self.store.as_ref();
        let services = store.list_services(&ListFilter::default())?;
        let endpoints = store.list_endpoints()?;
        for entry in entries {
            let service = match services
                .iter()
                .find(|s| s.service_type == entry.service_type)
            {
                Some(s) => s.clone(),
                None => {
                    let s = Service {
                        id: builtin_id(&["service", &entry.service_type]),
                        service_type: entry.service_type.clone(),
                        name: entry.name.clone(),
                        description: String::new(),
                        enabled: true,
                        extra: Map::new(),
                    };
                    store.create_service(&s)?;
                    s
                }
            };
            for interface in ["public", "internal", "admin"] {
                let existing = endpoints.iter().find(|e| {
                    e.service_id == service.id
                        && e.interface == interface
                        && e.region_id.as_deref() == Some(REGION)
                });
                match existing {
                    Some(e) if e.url == entry.url => {}
                    Some(e) => {
                        let mut e = e.clone();
                        e.url = entry.url.clone();
                        store.update_endpoint(&e)?;
                    }
                    None => store.create_endpoint(&Endpoint {
                        id: builtin_id(&["endpoint", &service.id, interface, REGION]),
                        service_id: service.id.clone(),
                        interface: interface.into(),
                        region_id: Some(REGION.into()),
                        url: entry.url.clone(),
                        enabled: true,
                        extra: Map::new(),
                    })?,
                }
            }
        }
        Ok(())
    }
}
