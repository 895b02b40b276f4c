//! Application credential access rules, enforced where tokens are checked.
//!
//! In Keystone a credential's access rules (service type, HTTP method,
//! path pattern) are enforced by keystonemiddleware in each service on
//! every request bearing a token issued from the credential: a request no
//! rule matches is refused with 401. Here every service shares one
//! process and one policy layer ([`crate::enforce`]), so the check is made
//! there, for every service ferrostack serves, identity included (Keystone
//! does not check its own API against the rules; ferrostack does, which
//! only ever refuses more).
//!
//! Patterns follow keystonemiddleware: `*` or `{name}` match one path
//! segment (one or more characters other than `/`), `**` matches anything
//! (slashes included), every other character matches itself; the whole
//! path must match.

/// One rule of the credential a token was issued from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRuleRef {
    /// Service type, as in the catalog (`compute`, `image`, ...).
    pub service: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Path pattern.
    pub path: String,
}

/// The catalog types a service answers to, from its error shape's name.
fn service_types(service: &str) -> &[&str] {
    match service {
        "block storage" => &["block-storage", "volumev3", "volume"],
        "identity" => &["identity"],
        "compute" => &["compute"],
        "image" => &["image"],
        "network" => &["network"],
        "placement" => &["placement"],
        _ => &[],
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// One segment: `[^/]+`.
    Segment,
    /// Anything: `.*`.
    Anything,
}

fn tokens(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                out.push(Token::Anything);
                i += 2;
            }
            '*' => {
                out.push(Token::Segment);
                i += 1;
            }
            '{' => match chars[i..].iter().position(|c| *c == '}') {
                Some(len) => {
                    out.push(Token::Segment);
                    i += len + 1;
                }
                None => {
                    out.push(Token::Literal('{'));
                    i += 1;
                }
            },
            c => {
                out.push(Token::Literal(c));
                i += 1;
            }
        }
    }
    out
}

fn matches_from(pattern: &[Token], path: &[char]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((Token::Literal(c), rest)) => {
            path.first() == Some(c) && matches_from(rest, &path[1..])
        }
        Some((Token::Segment, rest)) => {
            let run = path.iter().take_while(|c| **c != '/').count();
            (1..=run).any(|n| matches_from(rest, &path[n..]))
        }
        Some((Token::Anything, rest)) => (0..=path.len()).any(|n| matches_from(rest, &path[n..])),
    }
}

/// Does `path` match the rule's `pattern`?
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let path: Vec<char> = path.chars().collect();
    matches_from(&tokens(pattern), &path)
}

/// Is a request to `service` (its error shape's name) with `method` on
/// `path` allowed by `rules`? No rules means no restriction.
pub fn permits(rules: &[AccessRuleRef], service: &str, method: &str, path: &str) -> bool {
    if rules.is_empty() {
        return true;
    }
    let types = service_types(service);
    rules.iter().any(|r| {
        types.contains(&r.service.as_str()) && r.method == method && path_matches(&r.path, path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(service: &str, method: &str, path: &str) -> AccessRuleRef {
        AccessRuleRef {
            service: service.into(),
            method: method.into(),
            path: path.into(),
        }
    }

    #[test]
    fn patterns_match_as_keystonemiddleware_does() {
        assert!(path_matches("/v2.1/servers/*/ips", "/v2.1/servers/abc/ips"));
        assert!(!path_matches(
            "/v2.1/servers/*/ips",
            "/v2.1/servers/a/b/ips"
        ));
        assert!(!path_matches("/v2.1/servers/*/ips", "/v2.1/servers//ips"));
        assert!(!path_matches(
            "/v2.1/servers/*/ips",
            "/v2.1/servers/abc/ips/x"
        ));
        assert!(path_matches(
            "/v2.1/servers/{server_id}",
            "/v2.1/servers/abc"
        ));
        assert!(path_matches("/v2/images/**", "/v2/images/a/file"));
        assert!(path_matches("/v2/images**", "/v2/images"));
        assert!(path_matches("/v2.1/serv*", "/v2.1/servers"));
        assert!(!path_matches("/v2.1/servers", "/v2.1/servers/detail"));
    }

    #[test]
    fn a_request_needs_a_rule_of_its_service_and_method() {
        let rules = [rule("compute", "GET", "/v2.1/servers/*/ips")];
        assert!(permits(&rules, "compute", "GET", "/v2.1/servers/s1/ips"));
        assert!(!permits(&rules, "compute", "POST", "/v2.1/servers/s1/ips"));
        assert!(!permits(&rules, "image", "GET", "/v2.1/servers/s1/ips"));
        assert!(!permits(&rules, "compute", "GET", "/v2.1/servers"));
        assert!(permits(&[], "compute", "DELETE", "/anything"));
        let volume = [rule("volumev3", "GET", "/v3/**")];
        assert!(permits(&volume, "block storage", "GET", "/v3/p/volumes"));
    }
}

/// The rules as the policy layer applies them, on a compute route: the
/// layer, not each handler, refuses what the credential does not allow.
#[cfg(test)]
mod enforcement {
    use super::AccessRuleRef;
    use crate::ValidateError;
    use crate::{enforce, AuthContext, PolicyState, RoutePolicy, Rule, Scope, TokenValidator};
    use axum::body::Body;
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use axum::Router;
    use ferrostack_common::error::ErrorShape;
    use http::{Request, StatusCode};
    use std::sync::Arc;
    use tower::ServiceExt;

    struct Compute;
    impl ErrorShape for Compute {
        const SERVICE: &'static str = "compute";
        const INTERNAL_MESSAGE: &'static str = "internal";
        fn render(status: StatusCode, message: &str) -> Response {
            (status, message.to_string()).into_response()
        }
    }

    struct Fixed(AuthContext);
    impl TokenValidator for Fixed {
        fn validate(&self, _: &str) -> Result<AuthContext, ValidateError> {
            Ok(self.0.clone())
        }
    }

    const TABLE: &[RoutePolicy] = &[
        RoutePolicy {
            method: "GET",
            path: "/v2.1/servers/{id}/ips",
            rule: Rule::Authenticated,
        },
        RoutePolicy {
            method: "GET",
            path: "/v2.1/servers",
            rule: Rule::Authenticated,
        },
    ];

    fn caller(rules: Vec<AccessRuleRef>) -> AuthContext {
        AuthContext {
            user_id: "u".into(),
            user_name: "u".into(),
            user_domain_id: "default".into(),
            user_domain_name: "Default".into(),
            scope: Scope::Unscoped,
            roles: vec![],
            methods: vec!["application_credential".into()],
            audit_ids: vec![],
            issued_at: 0,
            expires_at: 0,
            application_credential_id: Some("c".into()),
            trust_id: None,
            access_rules: rules,
        }
    }

    async fn status(rules: Vec<AccessRuleRef>, path: &str) -> StatusCode {
        let policy = PolicyState {
            table: TABLE,
            validator: Arc::new(Fixed(caller(rules))),
            errors: Arc::new(Compute),
        };
        let app = Router::new()
            .route("/v2.1/servers/{id}/ips", get(|| async { "ips" }))
            .route("/v2.1/servers", get(|| async { "servers" }))
            .route_layer(axum::middleware::from_fn_with_state(policy, enforce));
        let req = Request::get(path)
            .header("x-auth-token", "t")
            .body(Body::empty())
            .unwrap_or_default();
        match app.oneshot(req).await {
            Ok(resp) => resp.status(),
            Err(never) => match never {},
        }
    }

    #[tokio::test]
    async fn only_requests_a_rule_matches_get_through() {
        let rules = vec![AccessRuleRef {
            service: "compute".into(),
            method: "GET".into(),
            path: "/v2.1/servers/*/ips".into(),
        }];
        assert_eq!(
            status(rules.clone(), "/v2.1/servers/s1/ips").await,
            StatusCode::OK
        );
        assert_eq!(
            status(rules, "/v2.1/servers").await,
            StatusCode::UNAUTHORIZED
        );
        let image_only = vec![AccessRuleRef {
            service: "image".into(),
            method: "GET".into(),
            path: "/v2.1/servers".into(),
        }];
        assert_eq!(
            status(image_only, "/v2.1/servers").await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(status(vec![], "/v2.1/servers").await, StatusCode::OK);
    }
}
