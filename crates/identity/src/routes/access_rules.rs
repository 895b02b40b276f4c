//! Application credential access rules: `access_rules` on
//! `POST /v3/users/{user_id}/application_credentials`, and
//! `GET /v3/users/{user_id}/access_rules[/{access_rule_id}]`, `DELETE` of one.
//!
//! A rule names a service type, an HTTP method and a path pattern (`*` one
//! segment, `**` any number). In Keystone the rules are enforced by
//! keystonemiddleware in each *other* service, on tokens issued from the
//! credential; the rules are stored and shown here as Keystone does, and
//! a rule in use by a credential cannot be deleted (403). Enforcement in
//! ferrostack's own services (whose policy layer shares this process) is
//! not built yet: a token from a credential with rules is, for now, as
//! strong as one from a credential without them. docs/compatibility.md
//! says so.

use super::Caller;
use crate::error::{IdResult, IdentityError};
use crate::service::Identity;
use crate::views;
use axum::extract::{Path, State};
use ferrostack_common::ids::new_hex_id;
use ferrostack_policy::AuthContext;
use ferrostack_store::access_rule::AccessRule;
use ferrostack_store::StoreError;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
const MAX_PATH: usize = 225;
const MAX_SERVICE: usize = 255;

fn bad(reason: &str) -> IdentityError {
    IdentityError::BadRequest(format!("Invalid input for field 'access_rules': {reason}."))
}

/// The rules a create request asks for, checked as Keystone's schema does:
/// each is either `{"id"}` naming one of the user's rules, or a new
/// `{"service", "method", "path"}` (an identical existing rule is reused).
pub fn requested(
    id: &Identity,
    user_id: &str,
    given: Option<&[Value]>,
) -> IdResult<Vec<AccessRule>> {
    let Some(given) = given.filter(|g| !g.is_empty()) else {
        return Ok(Vec::new());
    };
    let existing = id.store.list_access_rules(user_id)?;
    let mut out: Vec<AccessRule> = Vec::new();
    for rule in given {
        let Some(obj) = rule.as_object() else {
            return Err(bad("each rule is an object"));
        };
        if let Some(unknown) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "id" | "service" | "method" | "path"))
        {
            return Err(bad(&format!("unknown field {unknown}")));
        }
        let field = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
        let rule = match (
            field("id"),
            field("service"),
            field("method"),
            field("path"),
        ) {
            (Some(rule_id), None, None, None) => existing
                .iter()
                .find(|r| r.id == rule_id)
                .cloned()
                .ok_or_else(|| IdentityError::not_found("access rule", &rule_id))?,
            (_, Some(service), Some(method), Some(path)) => {
                if service.is_empty() || service.len() > MAX_SERVICE {
                    return Err(bad("service is 1 to 255 characters"));
                }
                if !METHODS.contains(&method.as_str()) {
                    return Err(bad("method is one of GET, HEAD, POST, PUT, PATCH, DELETE"));
                }
                if !path.starts_with('/') || path.len() > MAX_PATH {
                    return Err(bad("path starts with / and is at most 225 characters"));
                }
                existing
                    .iter()
                    .find(|r| r.service == service && r.method == method && r.path == path)
                    .cloned()
                    .unwrap_or(AccessRule {
                        id: new_hex_id(),
                        user_id: user_id.to_string(),
                        service,
                        method,
                        path,
                    })
            }
            _ => return Err(bad("each rule has an id, or a service, method and path")),
        };
        if !out.contains(&rule) {
            out.push(rule);
        }
    }
    Ok(out)
}

/// Owner or admin; everyone else is told the user does not exist.
fn may_see(caller: &AuthContext, user_id: &str) -> IdResult<()> {
    if caller.is_admin() || caller.user_id == user_id {
        Ok(())
    } else {
        Err(IdentityError::not_found("user", user_id))
    }
}

fn view(base: &str, r: &AccessRule) -> Value {
    let mut v = views::access_rule(r);
    v["links"] = json!({"self": format!("{base}/v3/users/{}/access_rules/{}", r.user_id, r.id)});
    v
}

/// `GET /v3/users/{user_id}/access_rules`.
pub async fn list(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path(user_id): Path<String>,
) -> IdResult<axum::Json<Value>> {
    may_see(&caller, &user_id)?;
    id.store.get_user(&user_id)?;
    let base = &id.config.public_url;
    let rules = id.store.list_access_rules(&user_id)?;
    Ok(axum::Json(json!({
        "access_rules": rules.iter().map(|r| view(base, r)).collect::<Vec<_>>(),
        "links": views::collection_links(base, &format!("/v3/users/{user_id}/access_rules")),
    })))
}

/// `GET /v3/users/{user_id}/access_rules/{access_rule_id}`.
pub async fn show(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path((user_id, rule_id)): Path<(String, String)>,
) -> IdResult<axum::Json<Value>> {
    may_see(&caller, &user_id)?;
    let rule = id
        .store
        .list_access_rules(&user_id)?
        .into_iter()
        .find(|r| r.id == rule_id)
        .ok_or_else(|| IdentityError::not_found("access rule", &rule_id))?;
    Ok(axum::Json(
        json!({ "access_rule": view(&id.config.public_url, &rule) }),
    ))
}

/// `DELETE /v3/users/{user_id}/access_rules/{access_rule_id}`: 403 while a
/// credential uses the rule, as in Keystone.
pub async fn delete(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Path((user_id, rule_id)): Path<(String, String)>,
) -> IdResult<StatusCode> {
    may_see(&caller, &user_id)?;
    match id.store.delete_access_rule(&user_id, &rule_id) {
        Ok(()) => {
            tracing::info!(user_id, access_rule_id = %rule_id, "access rule deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        Err(StoreError::Conflict(m)) => Err(IdentityError::Forbidden(m)),
        Err(e) => Err(e.into()),
    }
}
