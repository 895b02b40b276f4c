//! Identity records and the [`IdentityStore`] trait the identity service uses.
//!
//! Records are the stored form, not the wire form: the identity service maps
//! them to Keystone's JSON. Updates take the whole record (read, change,
//! write) because Keystone's PATCH semantics live in the service, not here.

use crate::StoreResult;
use serde_json::{Map, Value};

/// Free-form extra attributes Keystone keeps on most resources.
pub type Extra = Map<String, Value>;

/// A domain: the namespace of users, groups and projects.
#[derive(Clone, Debug, PartialEq)]
pub struct Domain {
    /// Id (`default` for the bootstrap domain, else 32 hex).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Disabled domains cannot be authenticated into.
    pub enabled: bool,
    /// Tags.
    pub tags: Vec<String>,
    /// Extra attributes.
    pub extra: Extra,
}

/// A project (tenant).
#[derive(Clone, Debug, PartialEq)]
pub struct Project {
    /// Id (32 hex).
    pub id: String,
    /// Name, unique within the domain.
    pub name: String,
    /// Owning domain.
    pub domain_id: String,
    /// Parent project; `None` for a top-level project (whose parent is its domain).
    pub parent_id: Option<String>,
    /// Free text.
    pub description: String,
    /// Disabled projects cannot be scoped to.
    pub enabled: bool,
    /// Tags.
    pub tags: Vec<String>,
    /// Extra attributes.
    pub extra: Extra,
}

/// A user.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// Id (32 hex).
    pub id: String,
    /// Name, unique within the domain.
    pub name: String,
    /// Owning domain.
    pub domain_id: String,
    /// Disabled users cannot authenticate and their tokens stop validating.
    pub enabled: bool,
    /// PHC-format password hash; `None` for a user without a password.
    pub password_hash: Option<String>,
    /// Project used when a token request names no scope.
    pub default_project_id: Option<String>,
    /// Free text.
    pub description: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Extra attributes.
    pub extra: Extra,
    /// When the password was last set (µs since epoch).
    pub password_changed_at: Option<i64>,
    /// Password policy state (Keystone's `[security_compliance]`).
    pub security: UserSecurity,
}

/// What Keystone's `[security_compliance]` keeps about a user besides the
/// password hash. Failed logins are not here: they are counted by
/// [`IdentityStore::record_login_failure`], outside the user record, so a
/// concurrent update of the user never loses a count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserSecurity {
    /// Keystone's user options (`ignore_lockout_failure_attempts`,
    /// `ignore_password_expiry`, `ignore_change_password_upon_first_use`,
    /// `lock_password`, `multi_factor_auth_*`).
    pub options: Extra,
    /// When the current password expires (µs since epoch); `None`: never.
    pub password_expires_at: Option<i64>,
    /// The current password was set by the user (self-service change),
    /// not by an administrator: only then does the minimum age apply.
    pub password_self_service: bool,
    /// Hashes of earlier passwords, oldest first (never the plaintext),
    /// kept only as far back as the history policy looks.
    pub password_history: Vec<String>,
}

/// Consecutive failed password logins of a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginFailures {
    /// How many since the last success.
    pub count: i64,
    /// When the last one happened (µs since epoch).
    pub last_at: i64,
}

/// A group of users.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Id (32 hex).
    pub id: String,
    /// Name, unique within the domain.
    pub name: String,
    /// Owning domain.
    pub domain_id: String,
    /// Free text.
    pub description: String,
    /// Extra attributes.
    pub extra: Extra,
}

/// A role.
#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    /// Id (32 hex).
    pub id: String,
    /// Name, unique among global roles (or within its domain).
    pub name: String,
    /// `None` for a global role, else the domain of a domain-specific role.
    pub domain_id: Option<String>,
    /// Free text.
    pub description: String,
    /// Extra attributes.
    pub extra: Extra,
}

/// Who holds an assignment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A user id.
    User(String),
    /// A group id.
    Group(String),
}

/// What an assignment is on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A project id.
    Project(String),
    /// A domain id.
    Domain(String),
    /// The whole deployment (system scope).
    System,
}

/// A role assignment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Assignment {
    /// Holder.
    pub actor: Actor,
    /// Target.
    pub target: Target,
    /// Role id.
    pub role_id: String,
    /// Inherited to the target's sub-projects (OS-INHERIT).
    pub inherited: bool,
}

/// Filter for listing assignments; `None` fields match anything.
#[derive(Clone, Debug, Default)]
pub struct AssignmentFilter {
    /// Only these actors (any of them).
    pub actors: Option<Vec<Actor>>,
    /// Only this target.
    pub target: Option<Target>,
    /// Only this role.
    pub role_id: Option<String>,
}

/// A region of the service catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct Region {
    /// Id (the region name, e.g. `RegionOne`).
    pub id: String,
    /// Free text.
    pub description: String,
    /// Parent region.
    pub parent_region_id: Option<String>,
    /// Extra attributes.
    pub extra: Extra,
}

/// A service of the catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// Id (32 hex).
    pub id: String,
    /// Type (`identity`, `compute`, ...).
    pub service_type: String,
    /// Name (`keystone`, `nova`, ...).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Disabled services are left out of token catalogs.
    pub enabled: bool,
    /// Extra attributes.
    pub extra: Extra,
}

/// An endpoint of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    /// Id (32 hex).
    pub id: String,
    /// Service it belongs to.
    pub service_id: String,
    /// `public`, `internal` or `admin`.
    pub interface: String,
    /// Region.
    pub region_id: Option<String>,
    /// Base URL.
    pub url: String,
    /// Disabled endpoints are left out of token catalogs.
    pub enabled: bool,
    /// Extra attributes.
    pub extra: Extra,
}

/// An application credential.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplicationCredential {
    /// Id (32 hex).
    pub id: String,
    /// Name, unique per user.
    pub name: String,
    /// Owner.
    pub user_id: String,
    /// Project the credential is scoped to.
    pub project_id: String,
    /// PHC-format hash of the secret.
    pub secret_hash: String,
    /// Free text.
    pub description: String,
    /// Expiry (µs since epoch), if any.
    pub expires_at: Option<i64>,
    /// May create further credentials and trusts.
    pub unrestricted: bool,
    /// Role ids delegated.
    pub role_ids: Vec<String>,
}

/// A token revocation event (see the `revocation_events` table).
#[derive(Clone, Debug, PartialEq)]
pub struct RevocationEvent {
    /// Revoke the one token chain with this audit id.
    pub audit_id: Option<String>,
    /// Revoke tokens of this user...
    pub user_id: Option<String>,
    /// ...or scoped to this project (both set: that user's tokens on that project).
    pub project_id: Option<String>,
    /// Tokens issued at or before this instant (µs) are revoked.
    pub issued_before: i64,
}

/// Common list filters; each list applies the fields that make sense for it.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Exact name.
    pub name: Option<String>,
    /// Owning domain.
    pub domain_id: Option<String>,
    /// Enabled state.
    pub enabled: Option<bool>,
    /// Parent project (projects) or parent region (regions).
    pub parent_id: Option<String>,
    /// Only ids in this set (after policy narrowed the view).
    pub ids: Option<Vec<String>>,
    /// Page size.
    pub limit: Option<u32>,
    /// Return items sorted after this id.
    pub marker: Option<String>,
}

/// Everything the identity service stores.
pub trait IdentityStore:
    Send
    + Sync
    + crate::trust::TrustStore
    + crate::credential::CredentialStore
    + crate::policies::PolicyStore
    + crate::oauth1::OAuth1Store
    + crate::domain_config::DomainConfigStore
    + crate::access_rule::AccessRuleStore
    + crate::endpoint_filter::EndpointFilterStore
    + crate::token_key::TokenKeyStore
    + crate::unified_limit::UnifiedLimitStore
{
    /// The generation of a kind of derived data: grows after every committed
    /// write that can change it, and only then (see [`crate::generations`]).
    /// A cache keyed on it is stale once it moved. Backends must move it
    /// for every write to the dataset's source tables, however the write got
    /// there; a multi-controller backend must also count the other
    /// controllers' writes.
    fn generation(&self, of: crate::Dataset) -> u64;

    // --- domains
    /// Insert a domain; `Conflict` on a duplicate name.
    fn create_domain(&self, d: &Domain) -> StoreResult<()>;
    /// Domain by id.
    fn get_domain(&self, id: &str) -> StoreResult<Domain>;
    /// Domain by name.
    fn get_domain_by_name(&self, name: &str) -> StoreResult<Domain>;
    /// Domains matching the filter (name, enabled, paging).
    fn list_domains(&self, f: &ListFilter) -> StoreResult<Vec<Domain>>;
    /// Replace a domain's fields.
    fn update_domain(&self, d: &Domain) -> StoreResult<()>;
    /// Delete a domain with its projects, users, groups, domain-specific
    /// roles and every grant on or to them, in one transaction.
    fn delete_domain(&self, id: &str) -> StoreResult<()>;

    // --- projects
    /// Insert a project; `Conflict` on a duplicate name in the domain.
    fn create_project(&self, p: &Project) -> StoreResult<()>;
    /// Project by id.
    fn get_project(&self, id: &str) -> StoreResult<Project>;
    /// Projects with this exact name, in any domain.
    fn find_projects_by_name(&self, name: &str) -> StoreResult<Vec<Project>>;
    /// Projects matching the filter (name, domain, enabled, parent, ids, paging).
    fn list_projects(&self, f: &ListFilter) -> StoreResult<Vec<Project>>;
    /// Replace a project's fields.
    fn update_project(&self, p: &Project) -> StoreResult<()>;
    /// Delete a project and its assignments; `Invalid` while it has children.
    fn delete_project(&self, id: &str) -> StoreResult<()>;

    // --- users
    /// Insert a user; `Conflict` on a duplicate name in the domain.
    fn create_user(&self, u: &User) -> StoreResult<()>;
    /// User by id.
    fn get_user(&self, id: &str) -> StoreResult<User>;
    /// User by name within a domain.
    fn get_user_by_name(&self, domain_id: &str, name: &str) -> StoreResult<User>;
    /// Users matching the filter (name, domain, enabled, ids, paging).
    fn list_users(&self, f: &ListFilter) -> StoreResult<Vec<User>>;
    /// Replace a user's fields (including the password hash).
    fn update_user(&self, u: &User) -> StoreResult<()>;
    /// Delete a user, its memberships, assignments and application credentials.
    fn delete_user(&self, id: &str) -> StoreResult<()>;
    /// Count one more failed password login of `user_id` at `at`, in one
    /// statement (concurrent failures on several controllers all count).
    fn record_login_failure(&self, user_id: &str, at: i64) -> StoreResult<()>;
    /// The consecutive failed logins of `user_id` (`None`: none).
    fn login_failures(&self, user_id: &str) -> StoreResult<Option<LoginFailures>>;
    /// Forget `user_id`'s failed logins (a success, an expired lockout, an
    /// administrator enabling the user). Writes nothing when there are none.
    fn clear_login_failures(&self, user_id: &str) -> StoreResult<()>;

    // --- groups
    /// Insert a group; `Conflict` on a duplicate name in the domain.
    fn create_group(&self, g: &Group) -> StoreResult<()>;
    /// Group by id.
    fn get_group(&self, id: &str) -> StoreResult<Group>;
    /// Groups matching the filter (name, domain, ids, paging).
    fn list_groups(&self, f: &ListFilter) -> StoreResult<Vec<Group>>;
    /// Replace a group's fields.
    fn update_group(&self, g: &Group) -> StoreResult<()>;
    /// Delete a group, its memberships and assignments.
    fn delete_group(&self, id: &str) -> StoreResult<()>;
    /// Add a user to a group (idempotent).
    fn add_user_to_group(&self, user_id: &str, group_id: &str) -> StoreResult<()>;
    /// Remove a user from a group; `NotFound` if not a member.
    fn remove_user_from_group(&self, user_id: &str, group_id: &str) -> StoreResult<()>;
    /// Ids of the groups a user belongs to.
    fn list_user_group_ids(&self, user_id: &str) -> StoreResult<Vec<String>>;
    /// Ids of a group's members.
    fn list_group_user_ids(&self, group_id: &str) -> StoreResult<Vec<String>>;

    // --- roles
    /// Insert a role; `Conflict` on a duplicate name.
    fn create_role(&self, r: &Role) -> StoreResult<()>;
    /// Role by id.
    fn get_role(&self, id: &str) -> StoreResult<Role>;
    /// Roles matching the filter (name, domain_id; `domain_id: None` = global roles).
    fn list_roles(&self, f: &ListFilter) -> StoreResult<Vec<Role>>;
    /// Replace a role's fields.
    fn update_role(&self, r: &Role) -> StoreResult<()>;
    /// Delete a role, its implications and assignments.
    fn delete_role(&self, id: &str) -> StoreResult<()>;
    /// Record that `prior` implies `implied` (idempotent).
    fn add_implied_role(&self, prior: &str, implied: &str) -> StoreResult<()>;
    /// Remove an implication; `NotFound` if absent.
    fn remove_implied_role(&self, prior: &str, implied: &str) -> StoreResult<()>;
    /// Every (prior, implied) pair.
    fn list_role_implications(&self) -> StoreResult<Vec<(String, String)>>;

    // --- assignments
    /// Grant (idempotent).
    fn grant(&self, a: &Assignment) -> StoreResult<()>;
    /// Revoke; `NotFound` if there was no such assignment.
    fn revoke(&self, a: &Assignment) -> StoreResult<()>;
    /// Direct assignments matching the filter (no group expansion, no implied roles).
    fn list_assignments(&self, f: &AssignmentFilter) -> StoreResult<Vec<Assignment>>;

    // --- catalog
    /// Insert a region; `Conflict` if the id exists.
    fn create_region(&self, r: &Region) -> StoreResult<()>;
    /// Region by id.
    fn get_region(&self, id: &str) -> StoreResult<Region>;
    /// Regions (parent filter applies).
    fn list_regions(&self, f: &ListFilter) -> StoreResult<Vec<Region>>;
    /// Replace a region's fields.
    fn update_region(&self, r: &Region) -> StoreResult<()>;
    /// Delete a region; `Invalid` while endpoints or child regions use it.
    fn delete_region(&self, id: &str) -> StoreResult<()>;
    /// Insert a service.
    fn create_service(&self, s: &Service) -> StoreResult<()>;
    /// Service by id.
    fn get_service(&self, id: &str) -> StoreResult<Service>;
    /// All services (name filter applies; type filter via `ServiceFilter` is in the service layer).
    fn list_services(&self, f: &ListFilter) -> StoreResult<Vec<Service>>;
    /// Replace a service's fields.
    fn update_service(&self, s: &Service) -> StoreResult<()>;
    /// Delete a service and its endpoints.
    fn delete_service(&self, id: &str) -> StoreResult<()>;
    /// Insert an endpoint.
    fn create_endpoint(&self, e: &Endpoint) -> StoreResult<()>;
    /// Endpoint by id.
    fn get_endpoint(&self, id: &str) -> StoreResult<Endpoint>;
    /// All endpoints.
    fn list_endpoints(&self) -> StoreResult<Vec<Endpoint>>;
    /// Replace an endpoint's fields.
    fn update_endpoint(&self, e: &Endpoint) -> StoreResult<()>;
    /// Delete an endpoint.
    fn delete_endpoint(&self, id: &str) -> StoreResult<()>;

    // --- application credentials
    /// Insert; `Conflict` on a duplicate name for the user.
    fn create_app_credential(&self, c: &ApplicationCredential) -> StoreResult<()>;
    /// By id.
    fn get_app_credential(&self, id: &str) -> StoreResult<ApplicationCredential>;
    /// A user's credentials.
    fn list_app_credentials(&self, user_id: &str) -> StoreResult<Vec<ApplicationCredential>>;
    /// Delete.
    fn delete_app_credential(&self, id: &str) -> StoreResult<()>;

    // --- revocation
    /// Record a revocation event.
    fn add_revocation(&self, e: &RevocationEvent) -> StoreResult<()>;
    /// All revocation events (the service prunes ones older than the token lifetime).
    fn list_revocations(&self) -> StoreResult<Vec<RevocationEvent>>;
    /// Forget events older than `before` (µs): no live token can match them.
    fn prune_revocations(&self, before: i64) -> StoreResult<()>;

    // --- settings
    /// A setting's value.
    fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Set a setting.
    fn set_setting(&self, key: &str, value: &str) -> StoreResult<()>;
}
