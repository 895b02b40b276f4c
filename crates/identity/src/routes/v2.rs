//! Legacy Keystone v2.0: `GET /v2.0` and `POST /v2.0/tokens`.
//!
//! Old rc files (`OS_AUTH_URL=.../v2.0`, `OS_TENANT_NAME`) and a few tools
//! still ask for v2 tokens. Rather than a second authentication path, the
//! v2 request is translated into a v3 [`AuthRequest`] and handed to
//! [`super::auth::authenticate`], so v2 gets the same checks, the same
//! tokens (usable on every v3 route) and the same revocation. Only the
//! answer is shaped the v2 way. As in Keystone, v2 sees the Default domain
//! only: users and tenants elsewhere cannot authenticate here.

use super::auth::authenticate;
use crate::bootstrap::DEFAULT_DOMAIN_ID;
use crate::error::{IdResult, IdentityError, Json};
use crate::service::Identity;
use axum::extract::State;
use ferrostack_common::time::{iso_seconds, keystone_time};
use ferrostack_identity_types::auth::{
    Auth, AuthRequest, Identity as AuthIdentity, NamedRef, PasswordMethod, TokenMethod,
    UserCredentials,
};
use ferrostack_identity_types::v2::V2AuthRequest;
use ferrostack_policy::{AuthContext, Scope};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `GET /v2.0`: the version document.
pub async fn version(State(id): State<Arc<Identity>>) -> axum::Json<Value> {
    let base = &id.config.public_url;
    axum::Json(json!({
        "version": {
            "id": "v2.0",
            "status": "deprecated",
            "updated": "2014-04-17T00:00:00Z",
            "links": [{"rel": "self", "href": format!("{base}/v2.0/")}],
            "media-types": [{
                "base": "application/json",
                "type": "application/vnd.openstack.identity-v2.0+json",
            }],
        }
    }))
}

fn default_domain() -> NamedRef {
    NamedRef {
        id: Some(DEFAULT_DOMAIN_ID.to_string()),
        name: None,
    }
}

/// Translate a v2 request into the v3 one [`authenticate`] understands.
pub fn to_v3(req: V2AuthRequest) -> IdResult<AuthRequest> {
    let a = req.auth;
    let (methods, password, token) = match (a.password_credentials, a.token) {
        (Some(pc), None) => {
            if pc.username.is_none() && pc.user_id.is_none() {
                return Err(IdentityError::BadRequest(
                    "passwordCredentials needs a username or a userId.".into(),
                ));
            }
            let user = UserCredentials {
                id: pc.user_id,
                name: pc.username,
                domain: Some(default_domain()),
                password: Some(pc.password),
            };
            (
                vec!["password".to_string()],
                Some(PasswordMethod { user }),
                None,
            )
        }
        (None, Some(t)) => (
            vec!["token".to_string()],
            None,
            Some(TokenMethod { id: t.id }),
        ),
        _ => {
            return Err(IdentityError::BadRequest(
                "Give exactly one of passwordCredentials or token.".into(),
            ))
        }
    };
    let scope = match (a.tenant_id, a.tenant_name) {
        (Some(tid), _) => json!({"project": {"id": tid}}),
        (None, Some(name)) => {
            json!({"project": {"name": name, "domain": {"id": DEFAULT_DOMAIN_ID}}})
        }
        (None, None) => json!("unscoped"),
    };
    Ok(AuthRequest {
        auth: Auth {
            identity: AuthIdentity {
                methods,
                password,
                token,
                application_credential: None,
            },
            scope: Some(scope),
        },
    })
}

/// The v3 catalog regrouped as v2's: one entry per service and region with
/// the three interface URLs side by side.
pub fn v2_catalog(v3: &Value) -> Value {
    let services = v3.as_array().cloned().unwrap_or_default();
    let out: Vec<Value> = services
        .iter()
        .map(|s| {
            let mut by_region: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
            for e in s["endpoints"].as_array().into_iter().flatten() {
                let region = e["region_id"].as_str().unwrap_or("").to_string();
                let entry = by_region.entry(region.clone()).or_insert_with(|| {
                    let mut m = serde_json::Map::new();
                    m.insert("region".into(), json!(region));
                    m
                });
                let key = match e["interface"].as_str() {
                    Some("public") => "publicURL",
                    Some("internal") => "internalURL",
                    Some("admin") => "adminURL",
                    _ => continue,
                };
                entry.insert(key.into(), e["url"].clone());
                if key == "publicURL" || !entry.contains_key("id") {
                    entry.insert("id".into(), e["id"].clone());
                }
            }
            json!({
                "type": s["type"],
                "name": s["name"],
                "endpoints": by_region.into_values().map(Value::Object).collect::<Vec<_>>(),
                "endpoints_links": [],
            })
        })
        .collect();
    Value::Array(out)
}

fn access(id: &Identity, token: &str, ctx: &AuthContext) -> IdResult<Value> {
    let mut t = json!({
        "id": token,
        "issued_at": keystone_time(ctx.issued_at),
        "expires": iso_seconds(ctx.expires_at),
        "audit_ids": ctx.audit_ids,
    });
    let catalog = match &ctx.scope {
        Scope::Project { id: pid, .. } => {
            let p = id.store.get_project(pid)?;
            t["tenant"] = json!({
                "id": p.id,
                "name": p.name,
                "enabled": p.enabled,
                "description": p.description,
            });
            v2_catalog(&*id.catalog_for(Some(pid))?)
        }
        _ => json!([]),
    };
    Ok(json!({
        "access": {
            "token": t,
            "serviceCatalog": catalog,
            "user": {
                "id": ctx.user_id,
                "name": ctx.user_name,
                "username": ctx.user_name,
                "roles": ctx.roles.iter().map(|r| json!({"name": r.name})).collect::<Vec<_>>(),
                "roles_links": [],
            },
            "metadata": {
                "is_admin": 0,
                "roles": ctx.roles.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
            },
        }
    }))
}

/// `POST /v2.0/tokens`.
pub async fn issue(
    State(id): State<Arc<Identity>>,
    Json(req): Json<V2AuthRequest>,
) -> IdResult<axum::Json<Value>> {
    let v3 = to_v3(req)?;
    let worker = id.clone();
    let (token, ctx) = tokio::task::spawn_blocking(move || authenticate(&worker, &v3))
        .await
        .map_err(|e| IdentityError::internal(&e))??;
    let outside_default = ctx.user_domain_id != DEFAULT_DOMAIN_ID
        || matches!(&ctx.scope, Scope::Project { domain_id, .. } if domain_id != DEFAULT_DOMAIN_ID)
        || matches!(&ctx.scope, Scope::Domain { .. } | Scope::System);
    if outside_default {
        return Err(IdentityError::auth_required());
    }
    Ok(axum::Json(access(&id, &token, &ctx)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_grouped_by_region_with_interface_urls() {
        let v3 = json!([{
            "id": "s1", "type": "compute", "name": "nova",
            "endpoints": [
                {"id": "e1", "interface": "admin", "region_id": "R1", "url": "http://a"},
                {"id": "e2", "interface": "public", "region_id": "R1", "url": "http://p"},
                {"id": "e3", "interface": "internal", "region_id": "R1", "url": "http://i"},
                {"id": "e4", "interface": "public", "region_id": "R2", "url": "http://p2"},
            ],
        }]);
        let v2 = v2_catalog(&v3);
        let eps = v2[0]["endpoints"].as_array().unwrap();
        assert_eq!(v2[0]["type"], "compute");
        assert_eq!(eps.len(), 2);
        assert_eq!(eps[0]["region"], "R1");
        assert_eq!(eps[0]["publicURL"], "http://p");
        assert_eq!(eps[0]["internalURL"], "http://i");
        assert_eq!(eps[0]["adminURL"], "http://a");
        assert_eq!(eps[0]["id"], "e2");
        assert_eq!(eps[1]["publicURL"], "http://p2");
        assert_eq!(v2[0]["endpoints_links"], json!([]));
    }
}
