//! Keystone's `[security_compliance]`: the password policy an operator can
//! turn on (every rule is off by default, as in Keystone).
//!
//! - lockout: after `lockout_failure_attempts` consecutive failed password
//!   logins the user cannot log in, even with the right password, for
//!   `lockout_duration` (for ever when unset, until an administrator
//!   enables the user again); a success resets the count. Failures are
//!   counted in the store by one upsert each, so concurrent failures on
//!   several controllers all count.
//! - `password_regex` (+ its description): new passwords must match it
//!   (Python's `re.match`: anchored at the start only); create, update and
//!   self-service change.
//! - `unique_last_password_count`: a self-service change may not reuse the
//!   current or one of the last N-1 passwords (hashes kept, never text).
//! - `minimum_password_age`: days a self-chosen password must be kept.
//! - `password_expires_days`: the password's `password_expires_at`; an
//!   expired password cannot log in but can still change itself.
//! - `change_password_upon_first_use`: a password set by an administrator
//!   (create, reset) is expired at once, so the user must change it first.
//!
//! Users are exempted by Keystone's user options
//! (`ignore_lockout_failure_attempts`, `ignore_password_expiry`,
//! `ignore_change_password_upon_first_use`, `lock_password`), stored with
//! the user ([`UserSecurity::options`]).

use crate::error::{IdResult, IdentityError};
use crate::password;
use ferrostack_store::identity::{IdentityStore, User, UserSecurity};
use serde_json::{Map, Value};

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// The user options Keystone knows, and whether each takes a boolean.
const USER_OPTIONS: &[(&str, bool)] = &[
    ("ignore_change_password_upon_first_use", true),
    ("ignore_password_expiry", true),
    ("ignore_lockout_failure_attempts", true),
    ("lock_password", true),
    ("multi_factor_auth_enabled", true),
    ("multi_factor_auth_rules", false),
];

/// The operator's password policy (Keystone's `[security_compliance]`).
#[derive(Clone, Debug, Default)]
pub struct SecurityCompliance {
    /// Consecutive failed logins that lock a user (`None`: never).
    pub lockout_failure_attempts: Option<u32>,
    /// Seconds a lockout lasts (`None`: until an administrator enables the user).
    pub lockout_duration: Option<u64>,
    /// What a new password must match.
    pub password_regex: Option<fancy_regex::Regex>,
    /// What the regex requires, in words (the 400's text).
    pub password_regex_description: Option<String>,
    /// How many passwords, the new one included, must differ (0: no history).
    pub unique_last_password_count: u32,
    /// Days a self-chosen password must be kept before the next change.
    pub minimum_password_age: u32,
    /// Days a password lives (`None`: for ever).
    pub password_expires_days: Option<u32>,
    /// A password set by an administrator must be changed before use.
    pub change_password_upon_first_use: bool,
}

impl SecurityCompliance {
    /// Compile `pattern` as Keystone applies it (`re.match`: anchored at
    /// the start). Lookahead is supported, as in Python.
    pub fn compile_regex(pattern: &str) -> Result<fancy_regex::Regex, String> {
        fancy_regex::Regex::new(&format!(r"\A(?:{pattern})")).map_err(|e| e.to_string())
    }

    /// The regex as the operator wrote it (what Keystone's domain
    /// configuration API shows).
    pub fn password_regex_pattern(&self) -> Option<&str> {
        self.password_regex.as_ref().map(|re| {
            let s = re.as_str();
            s.strip_prefix(r"\A(?:")
                .and_then(|s| s.strip_suffix(')'))
                .unwrap_or(s)
        })
    }

    /// Refuse a new password that does not match the regex (400, Keystone's
    /// `PasswordRequirementsValidationError`).
    pub fn validate_new_password(&self, pw: &str) -> IdResult<()> {
        let Some(re) = &self.password_regex else {
            return Ok(());
        };
        if re.is_match(pw).unwrap_or(false) {
            return Ok(());
        }
        let detail = self
            .password_regex_description
            .as_deref()
            .unwrap_or("the password does not match the password policy");
        Err(IdentityError::BadRequest(format!(
            "The password does not meet the requirements: {detail}."
        )))
    }

    /// Whether `user` is locked out now; clears an expired lockout.
    pub fn is_locked(&self, store: &dyn IdentityStore, user: &User, now: i64) -> IdResult<bool> {
        let Some(max) = self.lockout_failure_attempts.filter(|n| *n > 0) else {
            return Ok(false);
        };
        if option(&user.security, "ignore_lockout_failure_attempts") {
            return Ok(false);
        }
        let Some(f) = store.login_failures(&user.id)? else {
            return Ok(false);
        };
        if f.count < i64::from(max) {
            return Ok(false);
        }
        match self.lockout_duration {
            Some(secs) if f.last_at + (secs as i64).saturating_mul(1_000_000) <= now => {
                store.clear_login_failures(&user.id)?;
                Ok(false)
            }
            _ => Ok(true),
        }
    }

    /// Count a failed password login (only when lockout is on).
    pub fn record_failure(&self, store: &dyn IdentityStore, user: &User, now: i64) -> IdResult<()> {
        if self.lockout_failure_attempts.is_some_and(|n| n > 0) {
            store.record_login_failure(&user.id, now)?;
        }
        Ok(())
    }

    /// A success resets the count (only when lockout is on).
    pub fn record_success(&self, store: &dyn IdentityStore, user: &User) -> IdResult<()> {
        if self.lockout_failure_attempts.is_some_and(|n| n > 0) {
            store.clear_login_failures(&user.id)?;
        }
        Ok(())
    }

    /// Refuse a self-service change of a self-chosen password younger than
    /// the minimum age (400, Keystone's `PasswordAgeValidationError`).
    pub fn check_minimum_age(&self, user: &User, now: i64) -> IdResult<()> {
        let min_days = i64::from(self.minimum_password_age);
        if min_days == 0 || !user.security.password_self_service {
            return Ok(());
        }
        let Some(set_at) = user.password_changed_at else {
            return Ok(());
        };
        let allowed_at = set_at + min_days * MICROS_PER_DAY;
        if now >= allowed_at {
            return Ok(());
        }
        let days_left = (allowed_at - now) / MICROS_PER_DAY;
        Err(IdentityError::BadRequest(format!(
            "You cannot change your password at this time due to the minimum password age. \
             Once you change your password, it must be used for {min_days} day(s) before it \
             can be changed. Please try again in {days_left} day(s) or contact your \
             administrator to reset your password."
        )))
    }

    /// Refuse reusing the current or a remembered password (400, Keystone's
    /// `PasswordHistoryValidationError`). Slow (one hash per password
    /// compared): call it off the async workers.
    pub fn check_history(&self, user: &User, new_password: &str) -> IdResult<()> {
        let n = self.unique_last_password_count as usize;
        if n == 0 {
            return Ok(());
        }
        let history = &user.security.password_history;
        let earlier = &history[history.len().saturating_sub(n - 1)..];
        let reused = user
            .password_hash
            .iter()
            .chain(earlier.iter())
            .any(|h| password::verify(new_password, h));
        if reused {
            return Err(IdentityError::BadRequest(format!(
                "The new password cannot be identical to a previous password. The total \
                 number which includes the new password must be unique is {n}."
            )));
        }
        Ok(())
    }

    /// Set `new_hash` as `user`'s password at `now`: the old hash goes to
    /// the history (as far back as the policy looks), and the expiry
    /// follows the policy and the user's options.
    pub fn set_password(&self, user: &mut User, new_hash: String, self_service: bool, now: i64) {
        let keep = (self.unique_last_password_count as usize).saturating_sub(1);
        let s = &mut user.security;
        if let Some(old) = user.password_hash.take() {
            s.password_history.push(old);
        }
        let excess = s.password_history.len().saturating_sub(keep);
        s.password_history.drain(..excess);
        s.password_self_service = self_service;
        let first_use = self.change_password_upon_first_use
            && !self_service
            && !option(s, "ignore_change_password_upon_first_use");
        s.password_expires_at = if first_use {
            Some(now)
        } else {
            match self.password_expires_days {
                Some(d) if !option(s, "ignore_password_expiry") => {
                    Some(now + i64::from(d) * MICROS_PER_DAY)
                }
                _ => None,
            }
        };
        user.password_hash = Some(new_hash);
        user.password_changed_at = Some(now);
    }

    /// Whether the user's password has expired (Keystone's
    /// `password_is_expired`).
    pub fn password_expired(user: &User, now: i64) -> bool {
        !option(&user.security, "ignore_password_expiry")
            && user
                .security
                .password_expires_at
                .is_some_and(|at| now >= at)
    }
}

/// Check `user`'s password as a login does, with the password policy
/// ([`crate::compliance`]): a locked user is refused whatever the password
/// (after the same hashing time), a wrong password counts towards the
/// lockout, a right one resets it. An expired password is refused only
/// when `refuse_expired` (a self-service change may replace it).
pub fn check_password(
    id: &crate::service::Identity,
    user: &User,
    secret: &str,
    refuse_expired: bool,
) -> IdResult<()> {
    let policy = &id.config.security;
    let now = ferrostack_common::time::now_micros();
    if policy.is_locked(id.store.as_ref(), user, now)? {
        password::verify_nothing(secret);
        tracing::info!(user_id = %user.id, "password authentication refused: account locked");
        return Err(account_locked(&user.id));
    }
    let ok = match user.password_hash.as_deref() {
        Some(h) => password::verify(secret, h),
        None => {
            password::verify_nothing(secret);
            false
        }
    };
    if !ok {
        policy.record_failure(id.store.as_ref(), user, now)?;
    }
    if !ok || !user.enabled {
        tracing::info!(user_id = %user.id, "password authentication refused");
        return Err(IdentityError::auth_required());
    }
    if refuse_expired && SecurityCompliance::password_expired(user, now) {
        tracing::info!(user_id = %user.id, "password authentication refused: password expired");
        return Err(password_expired(&user.id));
    }
    policy.record_success(id.store.as_ref(), user)
}

/// A boolean user option, false when unset.
pub fn option(s: &UserSecurity, name: &str) -> bool {
    s.options
        .get(name)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Keystone's 401 for a locked user.
pub fn account_locked(user_id: &str) -> IdentityError {
    IdentityError::Unauthorized(format!("The account is locked for user: {user_id}."))
}

/// Keystone's 401 for an expired password (or one to change on first use).
pub fn password_expired(user_id: &str) -> IdentityError {
    IdentityError::Unauthorized(format!(
        "The password is expired and needs to be changed for user: {user_id}."
    ))
}

/// Keystone's 400 when `lock_password` forbids self-service changes.
pub fn self_service_disabled() -> IdentityError {
    IdentityError::BadRequest(
        "You cannot change your password at this time due to password policy disallowing \
         password changes. Please contact your administrator to reset your password."
            .into(),
    )
}

/// Merge a request's `options` into the user's: known names only, a
/// boolean where Keystone wants one, `null` removes the option.
pub fn merge_options(into: &mut Map<String, Value>, given: Map<String, Value>) -> IdResult<()> {
    for (name, value) in &given {
        let Some((_, boolean)) = USER_OPTIONS.iter().find(|(n, _)| n == name) else {
            return Err(IdentityError::BadRequest(format!(
                "Invalid input for field 'options': unknown user option {name}."
            )));
        };
        let ok = value.is_null()
            || if *boolean {
                value.is_boolean()
            } else {
                value.is_array()
            };
        if !ok {
            return Err(IdentityError::BadRequest(format!(
                "Invalid input for field 'options/{name}': {value} is not of the expected type."
            )));
        }
    }
    for (name, value) in given {
        if value.is_null() {
            into.remove(&name);
        } else {
            into.insert(name, value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
