//! Trusts (OS-TRUST): a trustor delegates some of their roles on one
//! project to a trustee, who then gets trust-scoped tokens carrying those
//! roles only.
//!
//! Nothing about a trust is copied into its tokens but its id: like every
//! other token, a trust-scoped one is checked again on each validation
//! (the trust still exists, has not expired, and the original trustor
//! still holds every delegated role on the project). So deleting a trust,
//! or taking a role away from its trustor, ends its tokens on the next
//! request, through the same identity generation that role changes move.
//! Keystone does the same check at validation ("Trustee has no delegated
//! roles") rather than revoking tokens when assignments change.
//!
//! ```text
//!   trustor ──trust(roles ⊆ trustor's, depth d)──▶ trustee
//!                                                    │ trust-scoped token
//!                                                    ▼ (allow_redelegation, d > 0)
//!                         trustee ──trust(roles ⊆ parent's, depth d-1)──▶ next trustee
//! ```
//!
//! `remaining_uses` counts tokens issued, not requests made with them: a
//! trust with one use gives one token, which then works until it expires.
//! Expired and used-up trusts answer 404 everywhere, as in Keystone.

use crate::error::{IdResult, IdentityError};
use crate::roles;
use crate::routes::app_credentials::parse_iso8601;
use ferrostack_common::ids::new_hex_id;
use ferrostack_common::time::now_micros;
use ferrostack_identity_types::resources::{RoleRefBody, TrustFields};
use ferrostack_policy::AuthContext;
use ferrostack_store::identity::{IdentityStore, ListFilter, Project, Role};
use ferrostack_store::trust::Trust;
use ferrostack_store::StoreError;
use std::collections::BTreeSet;

/// How deep a trust may be redelegated (Keystone's `[trust]
/// max_redelegation_count` default).
pub const MAX_REDELEGATION_COUNT: i64 = 3;

/// 404 for a trust that is missing, expired or used up.
pub fn not_found(trust_id: &str) -> IdentityError {
    IdentityError::not_found("trust", trust_id)
}

/// Expired, or no uses left: the trust is gone for every purpose.
pub fn is_spent(t: &Trust, now: i64) -> bool {
    t.expires_at.is_some_and(|e| e <= now) || t.remaining_uses.is_some_and(|n| n <= 0)
}

/// The trust, if it can still be used.
pub fn usable(store: &dyn IdentityStore, trust_id: &str) -> IdResult<Trust> {
    match store.get_trust(trust_id) {
        Ok(t) if !is_spent(&t, now_micros()) => Ok(t),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(not_found(trust_id)),
        Err(e) => Err(e.into()),
    }
}

/// The trust at the root of a redelegation chain: its trustor is the one
/// whose roles every trust of the chain lends.
fn root(store: &dyn IdentityStore, t: &Trust) -> IdResult<Trust> {
    let mut cur = t.clone();
    for _ in 0..=MAX_REDELEGATION_COUNT + 1 {
        match &cur.redelegated_trust_id {
            None => return Ok(cur),
            Some(parent) => cur = usable(store, parent)?,
        }
    }
    Err(not_found(&t.id))
}

fn no_delegated_roles() -> IdentityError {
    IdentityError::Forbidden("Trustee has no delegated roles.".into())
}

/// The roles a token of trust `t` on `project` carries: the trust's roles
/// and the roles they imply, each still held by the original trustor.
/// Refused when the trustor lost any of them, as Keystone treats such a
/// trust as broken rather than quietly carrying fewer roles.
pub fn token_roles(store: &dyn IdentityStore, t: &Trust, project: &Project) -> IdResult<Vec<Role>> {
    let origin = root(store, t)?;
    let held: BTreeSet<String> =
        roles::effective_roles_on_project(store, &origin.trustor_user_id, project)?
            .into_iter()
            .map(|r| r.id)
            .collect();
    let mut out = Vec::new();
    for role_id in roles::expand_role_ids(store, &t.role_ids)? {
        let role = match store.get_role(&role_id) {
            Ok(r) => r,
            Err(StoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        // Domain-specific roles never reach tokens; they only imply.
        if role.domain_id.is_some() {
            continue;
        }
        if !held.contains(&role.id) {
            return Err(no_delegated_roles());
        }
        out.push(role);
    }
    if out.is_empty() {
        return Err(no_delegated_roles());
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn bad(field: &str, why: &str) -> IdentityError {
    IdentityError::BadRequest(format!("Invalid input for field '{field}': {why}"))
}

fn forbidden(why: &str) -> IdentityError {
    IdentityError::Forbidden(format!(
        "You are not authorized to perform the requested action: {why}"
    ))
}

/// Check a create request from `caller` and build the trust; nothing is
/// stored. Keystone's order and answers: malformed fields 400; a project
/// without roles, a trustor other than the caller, or a redelegation the
/// parent does not allow 403; an unknown trustee or a role the trustor
/// does not hold on the project 404.
pub fn build(store: &dyn IdentityStore, caller: &AuthContext, f: TrustFields) -> IdResult<Trust> {
    let trustor = f
        .trustor_user_id
        .ok_or_else(|| bad("trustor_user_id", "required."))?;
    let trustee = f
        .trustee_user_id
        .ok_or_else(|| bad("trustee_user_id", "required."))?;
    let impersonation = f
        .impersonation
        .ok_or_else(|| bad("impersonation", "required."))?;
    if f.remaining_uses.is_some_and(|n| n < 1) {
        return Err(bad("remaining_uses", "must be a positive integer or null."));
    }
    let project_id = f.project_id.filter(|p| !p.is_empty());
    let requested = f.roles.unwrap_or_default();
    if project_id.is_some() && requested.is_empty() {
        return Err(forbidden("At least one role should be specified"));
    }
    if caller.user_id != trustor {
        return Err(forbidden("The authenticated user should match the trustor"));
    }
    store.get_user(&trustee)?;
    let expires_at = future_time(f.expires_at.as_deref())?;
    let role_ids = role_ids_of(store, &requested)?;
    // Each role must be one the (original) trustor holds on the project.
    let parent = match &caller.trust_id {
        Some(tid) => Some(usable(store, tid)?),
        None => None,
    };
    let lender = match &parent {
        Some(p) => root(store, p)?.trustor_user_id,
        None => trustor.clone(),
    };
    let held: BTreeSet<String> = match &project_id {
        Some(pid) => {
            let project = store.get_project(pid)?;
            roles::effective_roles_on_project(store, &lender, &project)?
                .into_iter()
                .map(|r| r.id)
                .collect()
        }
        None => BTreeSet::new(),
    };
    if let Some(missing) = role_ids.iter().find(|r| !held.contains(*r)) {
        return Err(IdentityError::not_found("role", missing));
    }

    let mut draft = Trust {
        id: new_hex_id(),
        trustor_user_id: trustor,
        trustee_user_id: trustee,
        project_id,
        impersonation,
        expires_at,
        remaining_uses: f.remaining_uses,
        redelegated_trust_id: None,
        redelegation_count: 0,
        role_ids,
        extra: f.extra,
        created_at: now_micros(),
    };
    match parent {
        Some(p) => redelegate_from(&p, &mut draft)?,
        None if f.allow_redelegation == Some(true) => {
            draft.redelegation_count = first_depth(f.redelegation_count, &draft)?;
        }
        None => {}
    }
    Ok(draft)
}

/// An optional ISO 8601 expiry, which must lie in the future.
fn future_time(s: Option<&str>) -> IdResult<Option<i64>> {
    let Some(s) = s else {
        return Ok(None);
    };
    let t = parse_iso8601(s).ok_or_else(|| bad("expires_at", "expected an ISO 8601 time."))?;
    if t <= now_micros() {
        return Err(bad("expires_at", "the time is in the past."));
    }
    Ok(Some(t))
}

/// Role ids of roles given by id or by (global) name; 404 for an unknown one.
fn role_ids_of(store: &dyn IdentityStore, requested: &[RoleRefBody]) -> IdResult<Vec<String>> {
    let mut role_ids: Vec<String> = Vec::new();
    for r in requested {
        let role = match (&r.id, &r.name) {
            (Some(rid), _) => store.get_role(rid)?,
            (None, Some(name)) => store
                .list_roles(&ListFilter {
                    name: Some(name.clone()),
                    ..Default::default()
                })?
                .into_iter()
                .find(|x| x.domain_id.is_none())
                .ok_or_else(|| IdentityError::not_found("role", name))?,
            (None, None) => return Err(bad("roles", "each role needs an id or a name.")),
        };
        if !role_ids.contains(&role.id) {
            role_ids.push(role.id);
        }
    }
    Ok(role_ids)
}

/// The redelegation depth of a new (not redelegated) trust that allows
/// redelegation: as asked, at most [`MAX_REDELEGATION_COUNT`], which is
/// also the default; such a trust cannot limit its uses.
fn first_depth(requested: Option<i64>, draft: &Trust) -> IdResult<i64> {
    let count = requested.unwrap_or(MAX_REDELEGATION_COUNT);
    if count > MAX_REDELEGATION_COUNT {
        return Err(forbidden(&format!(
            "Requested redelegation depth of {count} is greater than allowed {MAX_REDELEGATION_COUNT}"
        )));
    }
    if count < 0 {
        return Err(bad("redelegation_count", "must not be negative."));
    }
    if draft.remaining_uses.is_some() {
        return Err(bad(
            "remaining_uses",
            "must not be set if redelegation is allowed.",
        ));
    }
    Ok(count)
}

/// Make `draft` a redelegation of `p`: allowed only while `p` has depth
/// left, on the same project, with a subset of its roles, impersonating
/// only if `p` does, expiring no later than `p` (and by default with it).
fn redelegate_from(p: &Trust, draft: &mut Trust) -> IdResult<()> {
    if p.redelegation_count <= 0 {
        return Err(forbidden("The trust does not allow redelegation"));
    }
    if draft.remaining_uses.is_some() {
        return Err(forbidden(
            "Field \"remaining_uses\" must not be set in order to redelegate a trust",
        ));
    }
    if p.project_id != draft.project_id {
        return Err(forbidden("A redelegated trust must be on the same project"));
    }
    if draft.role_ids.iter().any(|r| !p.role_ids.contains(r)) {
        return Err(forbidden(
            "Some of requested roles are not in redelegated trust",
        ));
    }
    if draft.impersonation && !p.impersonation {
        return Err(forbidden(
            "Impersonation is not allowed because redelegated trust does not specify impersonation",
        ));
    }
    match (draft.expires_at, p.expires_at) {
        (Some(mine), Some(theirs)) if mine > theirs => {
            return Err(forbidden(
                "Requested expiration time is more than redelegated trust can provide",
            ))
        }
        (None, theirs) => draft.expires_at = theirs,
        _ => {}
    }
    draft.redelegated_trust_id = Some(p.id.clone());
    draft.redelegation_count = p.redelegation_count - 1;
    Ok(())
}
