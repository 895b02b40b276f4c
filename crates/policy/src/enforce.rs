//! The route table and the middleware that enforces it.

use crate::AuthContext;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ferrostack_common::error::ErrorShape;
use http::{Method, StatusCode};
use std::sync::Arc;

/// What a route requires of its caller before the handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Anyone; a token, if sent and valid, is still made available.
    Public,
    /// Any valid token. The handler may narrow further (the user's own record).
    Authenticated,
    /// Admin, or a project-scoped token with `reader`; the handler checks
    /// the target belongs to that project.
    ProjectReader,
    /// Admin, or a project-scoped token with `member`; the handler checks
    /// the target belongs to that project.
    ProjectMember,
    /// The `admin` role.
    Admin,
}

/// One row of a service's policy table.
#[derive(Clone, Copy, Debug)]
pub struct RoutePolicy {
    /// HTTP method (`GET` also covers `HEAD` unless `HEAD` has its own row).
    pub method: &'static str,
    /// The route template exactly as registered with the router.
    pub path: &'static str,
    /// The rule.
    pub rule: Rule,
}

/// Why a token was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValidateError {
    /// Unknown, malformed, expired or revoked: the caller must authenticate again.
    Invalid(String),
    /// The validator could not decide (database failure).
    Unavailable(String),
}

/// Validates `X-Auth-Token` values into an [`AuthContext`].
///
/// Synchronous on purpose: validation is a decryption and a few indexed
/// reads, cheaper than the machinery of an async call.
pub trait TokenValidator: Send + Sync {
    /// Validate a token.
    fn validate(&self, token: &str) -> Result<AuthContext, ValidateError>;
}

/// Renders an error in the calling service's own body shape.
///
/// Every [`ErrorShape`] is one, so the policy layer's 401s and 403s come
/// out in the same body as the service's handler errors.
pub trait ErrorRenderer: Send + Sync {
    /// An error response with `status` and a message safe to show the client.
    fn render(&self, status: StatusCode, message: &str) -> Response;
    /// The service's name ([`ErrorShape::SERVICE`]), which access rules name.
    fn service(&self) -> &'static str;
}

impl<S: ErrorShape> ErrorRenderer for S {
    fn render(&self, status: StatusCode, message: &str) -> Response {
        S::render(status, message)
    }
    fn service(&self) -> &'static str {
        S::SERVICE
    }
}

/// What [`enforce`] needs: the table, a validator and the service's error shape.
#[derive(Clone)]
pub struct PolicyState {
    /// The service's route table.
    pub table: &'static [RoutePolicy],
    /// Token validator.
    pub validator: Arc<dyn TokenValidator>,
    /// Error renderer.
    pub errors: Arc<dyn ErrorRenderer>,
}

impl PolicyState {
    fn rule_for(&self, method: &Method, path: &str) -> Option<Rule> {
        let find = |m: &str| {
            self.table
                .iter()
                .find(|r| r.method == m && r.path == path)
                .map(|r| r.rule)
        };
        find(method.as_str()).or_else(|| {
            if method == Method::HEAD {
                find("GET")
            } else {
                None
            }
        })
    }
}

/// Middleware enforcing the table. Install with `Router::route_layer` so
/// the matched route template is known.
pub async fn enforce(State(policy): State<PolicyState>, mut req: Request, next: Next) -> Response {
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(req).await;
    };
    let Some(rule) = policy.rule_for(req.method(), &path) else {
        tracing::error!(method = %req.method(), path, "route has no policy rule; refusing");
        return policy.errors.render(
            StatusCode::FORBIDDEN,
            "This action is not permitted by policy.",
        );
    };
    let token = req
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let context = match token {
        Some(token) => match policy.validator.validate(&token) {
            Ok(ctx) => Some(ctx),
            Err(ValidateError::Invalid(reason)) => {
                if rule == Rule::Public {
                    None
                } else {
                    tracing::debug!(reason, "token refused");
                    return policy.errors.render(
                        StatusCode::UNAUTHORIZED,
                        "The request you have made requires authentication.",
                    );
                }
            }
            Err(ValidateError::Unavailable(reason)) => {
                tracing::error!(reason, "token validation unavailable");
                return policy.errors.render(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Token validation is unavailable; try again.",
                );
            }
        },
        None => None,
    };
    if let Some(ctx) = &context {
        let allowed = crate::access_rules::permits(
            &ctx.access_rules,
            policy.errors.service(),
            req.method().as_str(),
            req.uri().path(),
        );
        if !allowed {
            tracing::debug!(method = %req.method(), "no access rule of the application credential matches");
            return policy.errors.render(
                StatusCode::UNAUTHORIZED,
                "The request you have made requires authentication.",
            );
        }
    }
    if let Err(status) = check(rule, context.as_ref()) {
        let message = if status == StatusCode::UNAUTHORIZED {
            "The request you have made requires authentication."
        } else {
            "You are not authorized to perform the requested action."
        };
        return policy.errors.render(status, message);
    }
    if let Some(ctx) = context {
        req.extensions_mut().insert(ctx);
    }
    next.run(req).await
}

/// The rule's verdict on a caller: Ok, 401 or 403.
fn check(rule: Rule, ctx: Option<&AuthContext>) -> Result<(), StatusCode> {
    if rule == Rule::Public {
        return Ok(());
    }
    let ctx = ctx.ok_or(StatusCode::UNAUTHORIZED)?;
    let allowed = match rule {
        Rule::Public | Rule::Authenticated => true,
        Rule::Admin => ctx.is_admin(),
        Rule::ProjectReader => {
            ctx.is_admin() || (ctx.project_id().is_some() && ctx.has_role("reader"))
        }
        Rule::ProjectMember => {
            ctx.is_admin() || (ctx.project_id().is_some() && ctx.has_role("member"))
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(StatusCode::FORBIDDEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RoleRef, Scope};

    fn ctx(roles: &[&str], scope: Scope) -> AuthContext {
        AuthContext {
            user_id: "u".into(),
            user_name: "u".into(),
            user_domain_id: "default".into(),
            user_domain_name: "Default".into(),
            scope,
            roles: roles
                .iter()
                .map(|r| RoleRef {
                    id: (*r).into(),
                    name: (*r).into(),
                })
                .collect(),
            methods: vec![],
            audit_ids: vec![],
            issued_at: 0,
            expires_at: 0,
            application_credential_id: None,
            trust_id: None,
            access_rules: Vec::new(),
        }
    }

    fn project() -> Scope {
        Scope::Project {
            id: "p".into(),
            name: "p".into(),
            domain_id: "default".into(),
            domain_name: "Default".into(),
        }
    }

    #[test]
    fn anonymous_gets_401_except_on_public_routes() {
        assert_eq!(check(Rule::Public, None), Ok(()));
        for rule in [
            Rule::Authenticated,
            Rule::Admin,
            Rule::ProjectReader,
            Rule::ProjectMember,
        ] {
            assert_eq!(check(rule, None), Err(StatusCode::UNAUTHORIZED));
        }
    }

    #[test]
    fn the_role_ladder_decides_project_rules() {
        let reader = ctx(&["reader"], project());
        let member = ctx(&["member", "reader"], project());
        let none = ctx(&[], project());
        assert_eq!(check(Rule::ProjectReader, Some(&reader)), Ok(()));
        assert_eq!(
            check(Rule::ProjectMember, Some(&reader)),
            Err(StatusCode::FORBIDDEN)
        );
        assert_eq!(check(Rule::ProjectMember, Some(&member)), Ok(()));
        assert_eq!(
            check(Rule::ProjectReader, Some(&none)),
            Err(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            check(Rule::Admin, Some(&member)),
            Err(StatusCode::FORBIDDEN)
        );
    }

    #[test]
    fn project_rules_need_a_project_scope() {
        let unscoped = ctx(&["reader"], Scope::Unscoped);
        assert_eq!(
            check(Rule::ProjectReader, Some(&unscoped)),
            Err(StatusCode::FORBIDDEN)
        );
    }
}
