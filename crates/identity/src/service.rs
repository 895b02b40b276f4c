//! The identity service's state and its two hot paths: issuing a token
//! and validating one.
//!
//! Validation is what every API call of every service pays, so it is
//! cached: a validated token's [`AuthContext`] is remembered together with
//! the generations of what it was derived from, the identity records
//! ([`Dataset::Identity`]: users, projects, domains, groups, roles,
//! assignments, application credentials) and the revocation events
//! ([`Dataset::Revocations`]). A write to any of them (a role revoked, a
//! user disabled, a token revoked) moves a generation and so invalidates
//! every cached context at once; a hit costs a hash lookup and an expiry
//! check. Misses decrypt the token, check revocation events, and rebuild
//! the context from the store.
//!
//! Only those two generations: with one generation for the whole store,
//! every server write, agent report and quota change emptied this cache, so
//! compute traffic slowed token validation for every service (see
//! docs/benchmarks.md). The revocation list and the catalog are cached the
//! same way, each on its own generation.
//!
//! The token keys live in the database ([`crate::key_store`]) under their
//! own generation ([`Dataset::TokenKeys`]), which a rotation on any
//! controller moves (PostgreSQL: by notification). Every seal and open
//! compares it with the generation the keys in memory were loaded at (one
//! atomic load) and reloads them when it moved; a validated context also
//! carries it, so a rotation sends every token through the keys again. A
//! timer re-reads the keys as a backstop (a rotation by another process on
//! the same SQLite file moves no counter of this one).

use crate::error::{IdResult, IdentityError};
use crate::key_store::{KeySource, KeyStoreError, SharedKeys};
use crate::keys::KeySet;
use crate::roles;
use crate::token::{self, methods, TokenPayload, TokenScope};
use ferrostack_common::time::now_micros;
use ferrostack_policy::{AuthContext, RoleRef, Scope, TokenValidator, ValidateError};
use ferrostack_store::identity::{IdentityStore, RevocationEvent};
use ferrostack_store::trust::Trust;
use ferrostack_store::{Dataset, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How often a running server re-reads its token keys (see
/// [`Identity::reload_keys_every`]).
pub const KEY_RELOAD_PERIOD: Duration = Duration::from_secs(5);

/// Least time between two key re-reads forced by tokens naming a key not
/// loaded.
pub const FORCED_RELOAD_GAP: Duration = Duration::from_secs(1);

/// Validated contexts kept at most; the cache is cleared when it fills.
const VALIDATION_CACHE_LIMIT: usize = 100_000;

/// The generations a validated context derives from: identity records,
/// revocation events and token keys.
type ContextStamp = (u64, u64, u64);

/// Why [`Identity::open`] refused a token that was sealed by us but has
/// expired, and one that was revoked: Keystone answers these 404 when they
/// are presented to the `token` auth method (a token it cannot find),
/// unlike a malformed one.
pub const TOKEN_EXPIRED: &str = "token expired";
/// See [`TOKEN_EXPIRED`].
pub const TOKEN_REVOKED: &str = "token revoked";

/// Settings of the identity service.
#[derive(Clone, Debug)]
pub struct IdentityConfig {
    /// Token lifetime in seconds (Keystone's default is one hour).
    pub token_ttl_secs: i64,
    /// Public base URL of the identity listener, e.g. `http://10.0.0.1:5000`.
    pub public_url: String,
    /// The password policy (Keystone's `[security_compliance]`; all off by default).
    pub security: crate::compliance::SecurityCompliance,
}

/// The identity service: store, keys, revocation list and caches.
pub struct Identity {
    /// The store.
    pub store: Arc<dyn IdentityStore>,
    /// Settings.
    pub config: IdentityConfig,
    shared_keys: SharedKeys,
    /// How many times the keys have been read from the database (tests and
    /// metrics: validation reads them only after their generation moved).
    key_loads: AtomicU64,
    /// When a token naming an unknown key last made us re-read the keys.
    forced_reload: Mutex<Option<Instant>>,
    /// The token keys and the [`Dataset::TokenKeys`] generation they were
    /// read at.
    keys: RwLock<(u64, Arc<KeySet>)>,
    /// Held while the keys are re-read, so one request reloads them.
    reloading: Mutex<()>,
    revocations: RwLock<(u64, Arc<Vec<RevocationEvent>>)>,
    validated: Mutex<HashMap<String, (ContextStamp, AuthContext)>>,
    /// The catalog under its generation, as a tree and serialized.
    #[allow(clippy::type_complexity)]
    pub(crate) catalog_cache: RwLock<
        Option<(
            u64,
            Arc<serde_json::Value>,
            Arc<serde_json::value::RawValue>,
        )>,
    >,
    pub(crate) endpoint_filter_cache: RwLock<Option<(u64, Arc<crate::catalog::EndpointFilters>)>>,
    project_deleted_hooks: RwLock<Vec<ProjectDeletedHook>>,
    /// Keys sealing credential blobs ([`crate::credentials`]).
    credential_keys: KeySet,
}

/// Called after a project is deleted, so other services drop what they keep
/// per project (quota overrides, ...). Identity does not depend on them;
/// they register here.
pub type ProjectDeletedHook = Box<dyn Fn(&str) + Send + Sync>;

impl Identity {
    /// Build the service over `store`, with the keys in the database:
    /// created (or imported from `keys.legacy_dir`) when there are none,
    /// refused when the master key does not open them.
    pub fn new(
        store: Arc<dyn IdentityStore>,
        keys: KeySource,
        config: IdentityConfig,
    ) -> Result<Self, KeyStoreError> {
        let shared_keys = SharedKeys::new(store.clone(), keys.master);
        shared_keys.ensure(keys.legacy_dir.as_deref())?;
        let generation = store.generation(Dataset::TokenKeys);
        let (token_keys, credential_keys) = shared_keys.load()?;
        Ok(Identity {
            store,
            config,
            key_loads: AtomicU64::new(1),
            forced_reload: Mutex::new(None),
            shared_keys,
            keys: RwLock::new((generation, Arc::new(token_keys))),
            reloading: Mutex::new(()),
            revocations: RwLock::new((0, Arc::new(Vec::new()))),
            validated: Mutex::new(HashMap::new()),
            catalog_cache: RwLock::new(None),
            endpoint_filter_cache: RwLock::new(None),
            project_deleted_hooks: RwLock::new(Vec::new()),
            credential_keys,
        })
    }

    /// The token and credential keys in the database.
    pub fn shared_keys(&self) -> &SharedKeys {
        &self.shared_keys
    }

    /// Re-read the keys every `period`, for as long as the returned future
    /// runs: the backstop for rotations whose generation this process does
    /// not see move (`ferrostack admin rotate-token-keys` on a SQLite
    /// cloud; a lost notification). Requests read the keys only when their
    /// generation moved; a token naming a key not loaded yet triggers one
    /// early re-read ([`Identity::open`]), at most once per
    /// [`FORCED_RELOAD_GAP`].
    pub async fn reload_keys_every(self: Arc<Self>, period: Duration) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let id = self.clone();
            match tokio::task::spawn_blocking(move || id.reload_keys()).await {
                Ok(Err(e)) => tracing::warn!(error = %e, "could not reload token keys"),
                Err(e) => tracing::warn!(error = %e, "token key reload task failed"),
                Ok(Ok(())) => {}
            }
        }
    }

    /// How many times the keys have been read since start.
    pub fn key_loads(&self) -> u64 {
        self.key_loads.load(Ordering::Relaxed)
    }

    /// Re-read the token keys from the database.
    pub fn reload_keys(&self) -> Result<(), KeyStoreError> {
        let _one = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        self.load_keys_now()
    }

    /// [`Identity::reload_keys`] with `reloading` held.
    fn load_keys_now(&self) -> Result<(), KeyStoreError> {
        self.key_loads.fetch_add(1, Ordering::Relaxed);
        // Read before the keys: a rotation landing meanwhile leaves them
        // under the older generation, and the next call reloads again.
        let generation = self.store.generation(Dataset::TokenKeys);
        let keys = match self.shared_keys.load() {
            Ok((keys, _)) => Arc::new(keys),
            Err(e) => {
                // Keep serving with the keys in memory; the timer retries,
                // requests do not.
                self.keys.write().unwrap_or_else(|p| p.into_inner()).0 = generation;
                return Err(e);
            }
        };
        let (_, old) = std::mem::replace(
            &mut *self.keys.write().unwrap_or_else(|p| p.into_inner()),
            (generation, keys.clone()),
        );
        // A retired (or replaced) key must take its tokens with it, but
        // cached contexts are keyed on store generations, which a rotation
        // does not move: drop them so every token is opened again.
        if old
            .keys
            .iter()
            .any(|(n, k)| keys.keys.get(n).is_none_or(|new| new[..] != k[..]))
        {
            self.validated
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        Ok(())
    }

    /// The token keys, re-read first when their generation moved.
    fn keys(&self) -> Arc<KeySet> {
        let generation = self.store.generation(Dataset::TokenKeys);
        let current = |loaded: &(u64, Arc<KeySet>)| loaded.0 >= generation;
        {
            let guard = self.keys.read().unwrap_or_else(|p| p.into_inner());
            if current(&guard) {
                return guard.1.clone();
            }
        }
        let _one = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        // Another request may have reloaded while this one waited.
        if !current(&self.keys.read().unwrap_or_else(|p| p.into_inner())) {
            if let Err(e) = self.load_keys_now() {
                tracing::warn!(error = %e, "could not reload token keys");
            }
        }
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    /// Seal a credential's blob ([`crate::credentials`]) for storing.
    pub fn seal_credential_blob(&self, credential_id: &str, blob: &str) -> IdResult<String> {
        crate::credentials::seal(&self.credential_keys, credential_id, blob)
    }

    /// Open a credential's stored blob.
    pub fn open_credential_blob(&self, credential_id: &str, sealed: &str) -> IdResult<String> {
        crate::credentials::open(&self.credential_keys, credential_id, sealed)
    }

    /// Seal a new token for `payload`.
    pub fn seal(&self, payload: &TokenPayload) -> IdResult<String> {
        token::seal(&self.keys(), payload).map_err(|e| IdentityError::internal(&e))
    }

    /// A fresh payload for `user_id` in `scope`, expiring after the configured lifetime.
    pub fn new_payload(&self, user_id: &str, method_bits: u8, scope: TokenScope) -> TokenPayload {
        let now = now_micros();
        TokenPayload {
            methods: method_bits,
            user_id: user_id.to_string(),
            scope,
            issued_at: now,
            expires_at: now + self.config.token_ttl_secs * 1_000_000,
            audit_id: token::new_audit_id(),
            parent_audit_id: None,
            app_cred_id: None,
            trust_id: None,
        }
    }

    /// Open and check a token: signature, expiry, revocation, and that its
    /// user, scope and roles still stand. Returns the caller's context.
    pub fn validate_token(&self, token_str: &str) -> Result<AuthContext, ValidateError> {
        // Read before the records: a write landing while the context is
        // built leaves it under the older stamp, which the next call misses.
        let stamp = (
            self.store.generation(Dataset::Identity),
            self.store.generation(Dataset::Revocations),
            self.store.generation(Dataset::TokenKeys),
        );
        if let Some(ctx) = self.cached(token_str, stamp) {
            return Ok(ctx);
        }
        let payload = self.open(token_str)?;
        let ctx = self.context_for(&payload).map_err(|e| match e {
            IdentityError::Internal(err) => ValidateError::Unavailable(err),
            other => ValidateError::Invalid(other.to_string()),
        })?;
        let mut cache = self.validated.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= VALIDATION_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(token_str.to_string(), (stamp, ctx.clone()));
        Ok(ctx)
    }

    fn cached(&self, token_str: &str, stamp: ContextStamp) -> Option<AuthContext> {
        let cache = self.validated.lock().unwrap_or_else(|p| p.into_inner());
        match cache.get(token_str) {
            Some((s, ctx)) if *s == stamp && ctx.expires_at > now_micros() => Some(ctx.clone()),
            _ => None,
        }
    }

    /// Decrypt, check expiry and revocation; no store lookups of the user.
    pub fn open(&self, token_str: &str) -> Result<TokenPayload, ValidateError> {
        let payload = match token::open(&self.keys(), token_str) {
            Err(token::TokenError::UnknownKey(_)) if self.may_force_reload() => {
                // Another controller may have rotated since our last
                // periodic load and sealed this token with its new key.
                if let Err(e) = self.reload_keys() {
                    tracing::warn!(error = %e, "could not reload token keys");
                }
                token::open(&self.keys(), token_str)
            }
            other => other,
        }
        .map_err(|e| ValidateError::Invalid(format!("token rejected: {e}")))?;
        if payload.expires_at <= now_micros() {
            return Err(ValidateError::Invalid(TOKEN_EXPIRED.into()));
        }
        let events = self
            .revocation_events()
            .map_err(|e| ValidateError::Unavailable(e.to_string()))?;
        if events.iter().any(|e| revokes(e, &payload)) {
            return Err(ValidateError::Invalid(TOKEN_REVOKED.into()));
        }
        Ok(payload)
    }

    /// May a token naming an unknown key make us re-read the keys now? Not
    /// more than once per [`FORCED_RELOAD_GAP`]: anyone can send tokens
    /// naming keys that do not exist, and they must not make every request
    /// read the database.
    fn may_force_reload(&self) -> bool {
        let mut last = self.forced_reload.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < FORCED_RELOAD_GAP) {
            return false;
        }
        *last = Some(now);
        true
    }

    fn revocation_events(&self) -> Result<Arc<Vec<RevocationEvent>>, StoreError> {
        let generation = self.store.generation(Dataset::Revocations);
        {
            let guard = self.revocations.read().unwrap_or_else(|p| p.into_inner());
            if guard.0 == generation {
                return Ok(guard.1.clone());
            }
        }
        let events = Arc::new(self.store.list_revocations()?);
        *self.revocations.write().unwrap_or_else(|p| p.into_inner()) = (generation, events.clone());
        Ok(events)
    }

    /// Build the caller's context from a checked payload.
    pub fn context_for(&self, p: &TokenPayload) -> IdResult<AuthContext> {
        let user = self
            .store
            .get_user(&p.user_id)
            .map_err(|_| IdentityError::auth_required())?;
        if !user.enabled {
            return Err(IdentityError::auth_required());
        }
        let user_domain = self.store.get_domain(&user.domain_id)?;
        if !user_domain.enabled {
            return Err(IdentityError::auth_required());
        }
        let trust = match &p.trust_id {
            Some(tid) => Some(self.live_trust(tid, &user.id)?),
            None => None,
        };
        let (scope, mut role_list) = match &p.scope {
            TokenScope::Unscoped => (Scope::Unscoped, Vec::new()),
            TokenScope::Project(pid) => {
                let project = self
                    .store
                    .get_project(pid)
                    .map_err(|_| IdentityError::auth_required())?;
                let domain = self.store.get_domain(&project.domain_id)?;
                if !project.enabled || !domain.enabled {
                    return Err(IdentityError::auth_required());
                }
                let r = match &trust {
                    Some(t) => crate::trusts::token_roles(self.store.as_ref(), t, &project)?,
                    None => {
                        roles::effective_roles_on_project(self.store.as_ref(), &user.id, &project)?
                    }
                };
                (
                    Scope::Project {
                        id: project.id,
                        name: project.name,
                        domain_id: domain.id,
                        domain_name: domain.name,
                    },
                    r,
                )
            }
            TokenScope::Domain(did) => {
                let domain = self
                    .store
                    .get_domain(did)
                    .map_err(|_| IdentityError::auth_required())?;
                if !domain.enabled {
                    return Err(IdentityError::auth_required());
                }
                let r =
                    roles::effective_roles_on_domain(self.store.as_ref(), &user.id, &domain.id)?;
                (
                    Scope::Domain {
                        id: domain.id,
                        name: domain.name,
                    },
                    r,
                )
            }
            TokenScope::System => (
                Scope::System,
                roles::effective_roles_on_system(self.store.as_ref(), &user.id)?,
            ),
        };
        let mut access_rules = Vec::new();
        if let Some(cred_id) = &p.app_cred_id {
            let cred = self
                .store
                .get_app_credential(cred_id)
                .map_err(|_| IdentityError::auth_required())?;
            if cred.expires_at.is_some_and(|t| t <= now_micros()) {
                return Err(IdentityError::auth_required());
            }
            let delegated = roles::expand_role_ids(self.store.as_ref(), &cred.role_ids)?;
            role_list.retain(|r| delegated.contains(&r.id));
            access_rules = self
                .store
                .app_credential_access_rules(cred_id)?
                .into_iter()
                .map(|r| ferrostack_policy::AccessRuleRef {
                    service: r.service,
                    method: r.method,
                    path: r.path,
                })
                .collect();
        }
        if scope != Scope::Unscoped && role_list.is_empty() {
            return Err(IdentityError::Unauthorized(
                "The user has no role in the requested scope.".into(),
            ));
        }
        let mut audit_ids = vec![p.audit_id.clone()];
        audit_ids.extend(p.parent_audit_id.clone());
        Ok(AuthContext {
            user_id: user.id,
            user_name: user.name,
            user_domain_id: user_domain.id,
            user_domain_name: user_domain.name,
            scope,
            roles: role_list
                .into_iter()
                .map(|r| RoleRef {
                    id: r.id,
                    name: r.name,
                })
                .collect(),
            methods: methods::names(p.methods),
            audit_ids,
            issued_at: p.issued_at,
            expires_at: p.expires_at,
            application_credential_id: p.app_cred_id.clone(),
            trust_id: p.trust_id.clone(),
            access_rules,
        })
    }

    /// The trust of a trust-scoped token for `user_id`, if it still stands:
    /// not deleted or expired, `user_id` one of its two users, and both of
    /// them enabled. Remaining uses are not asked: they count tokens issued,
    /// and this token was.
    fn live_trust(&self, trust_id: &str, user_id: &str) -> IdResult<Trust> {
        let t = match self.store.get_trust(trust_id) {
            Ok(t) => t,
            Err(StoreError::NotFound { .. }) => return Err(IdentityError::auth_required()),
            Err(e) => return Err(e.into()),
        };
        if t.expires_at.is_some_and(|e| e <= now_micros())
            || (user_id != t.trustor_user_id && user_id != t.trustee_user_id)
        {
            return Err(IdentityError::auth_required());
        }
        for party in [&t.trustor_user_id, &t.trustee_user_id] {
            match self.store.get_user(party) {
                Ok(u) if u.enabled => {}
                Ok(_) | Err(StoreError::NotFound { .. }) => {
                    return Err(IdentityError::auth_required())
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(t)
    }

    /// Register a hook run after every project deletion.
    pub fn on_project_deleted(&self, hook: ProjectDeletedHook) {
        self.project_deleted_hooks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(hook);
    }

    /// Run the project-deleted hooks for `project_id`.
    pub fn project_deleted(&self, project_id: &str) {
        for hook in self
            .project_deleted_hooks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            hook(project_id);
        }
    }

    /// Record a revocation event; it takes effect for the next validation.
    pub fn revoke(&self, event: RevocationEvent) -> IdResult<()> {
        self.store.add_revocation(&event)?;
        Ok(())
    }

    /// Revoke every token of `user_id` issued until now.
    pub fn revoke_user_tokens(&self, user_id: &str) -> IdResult<()> {
        self.revoke(RevocationEvent {
            audit_id: None,
            user_id: Some(user_id.to_string()),
            project_id: None,
            issued_before: now_micros(),
        })
    }

    /// Revoke every token scoped to `project_id` issued until now.
    pub fn revoke_project_tokens(&self, project_id: &str) -> IdResult<()> {
        self.revoke(RevocationEvent {
            audit_id: None,
            user_id: None,
            project_id: Some(project_id.to_string()),
            issued_before: now_micros(),
        })
    }

    /// Revoke `user_id`'s tokens on `project_id` issued until now.
    pub fn revoke_user_project_tokens(&self, user_id: &str, project_id: &str) -> IdResult<()> {
        self.revoke(RevocationEvent {
            audit_id: None,
            user_id: Some(user_id.to_string()),
            project_id: Some(project_id.to_string()),
            issued_before: now_micros(),
        })
    }

    /// Forget revocation events older than any live token.
    pub fn prune_revocations(&self) -> IdResult<()> {
        let horizon = now_micros() - (self.config.token_ttl_secs + 60) * 1_000_000;
        self.store.prune_revocations(horizon)?;
        Ok(())
    }
}

/// Does `event` revoke the token `p`?
fn revokes(event: &RevocationEvent, p: &TokenPayload) -> bool {
    if let Some(audit) = &event.audit_id {
        return *audit == p.audit_id || p.parent_audit_id.as_deref() == Some(audit.as_str());
    }
    if p.issued_at > event.issued_before {
        return false;
    }
    let token_project = match &p.scope {
        TokenScope::Project(id) => Some(id.as_str()),
        _ => None,
    };
    match (&event.user_id, &event.project_id) {
        (Some(u), Some(pr)) => *u == p.user_id && token_project == Some(pr.as_str()),
        (Some(u), None) => *u == p.user_id,
        (None, Some(pr)) => token_project == Some(pr.as_str()),
        (None, None) => false,
    }
}

impl TokenValidator for Identity {
    fn validate(&self, token: &str) -> Result<AuthContext, ValidateError> {
        self.validate_token(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(issued_at: i64) -> TokenPayload {
        TokenPayload {
            methods: methods::PASSWORD,
            user_id: "u1".into(),
            scope: TokenScope::Project("p1".into()),
            issued_at,
            expires_at: issued_at + 1,
            audit_id: "a1".into(),
            parent_audit_id: Some("a0".into()),
            app_cred_id: None,
            trust_id: None,
        }
    }

    fn event(
        audit: Option<&str>,
        user: Option<&str>,
        project: Option<&str>,
        before: i64,
    ) -> RevocationEvent {
        RevocationEvent {
            audit_id: audit.map(Into::into),
            user_id: user.map(Into::into),
            project_id: project.map(Into::into),
            issued_before: before,
        }
    }

    #[test]
    fn audit_events_revoke_the_token_and_its_rescoped_children() {
        assert!(revokes(&event(Some("a1"), None, None, 0), &payload(10)));
        assert!(revokes(&event(Some("a0"), None, None, 0), &payload(10)));
        assert!(!revokes(&event(Some("zz"), None, None, 0), &payload(10)));
    }

    #[test]
    fn user_and_project_events_revoke_only_earlier_tokens() {
        assert!(revokes(&event(None, Some("u1"), None, 10), &payload(10)));
        assert!(!revokes(&event(None, Some("u1"), None, 9), &payload(10)));
        assert!(revokes(&event(None, None, Some("p1"), 20), &payload(10)));
        assert!(!revokes(
            &event(None, Some("u1"), Some("p2"), 20),
            &payload(10)
        ));
        assert!(!revokes(&event(None, Some("u2"), None, 20), &payload(10)));
    }
}
