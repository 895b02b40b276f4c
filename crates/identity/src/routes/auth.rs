//! `/v3/auth/*`: issue, validate, check and revoke tokens; what the
//! caller can scope to; the catalog.

use super::Caller;
use crate::compliance;
use crate::error::{IdResult, IdentityError, Json};
use crate::password;
use crate::roles;
use crate::service::Identity;
use crate::token::{methods, TokenPayload, TokenScope};
use crate::views;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use ferrostack_identity_types::auth::{AuthRequest, NamedRef, ProjectScope, UserCredentials};
use ferrostack_policy::{AuthContext, ValidateError};
use ferrostack_store::identity::{Domain, ListFilter, RevocationEvent, User};
use ferrostack_store::StoreError;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const SUBJECT_TOKEN: &str = "x-subject-token";

/// `POST /v3/auth/tokens`.
pub async fn issue(
    State(id): State<Arc<Identity>>,
    Query(q): Query<HashMap<String, String>>,
    Json(req): Json<AuthRequest>,
) -> IdResult<Response> {
    // Password hashing is deliberately slow: keep it off the async workers.
    let worker = id.clone();
    let (token, ctx) = tokio::task::spawn_blocking(move || authenticate(&worker, &req))
        .await
        .map_err(|e| IdentityError::internal(&e))??;
    token_response(
        &id,
        &ctx,
        &token,
        StatusCode::CREATED,
        q.contains_key("nocatalog"),
    )
}

/// The answer to an issue or a validation: the token body (with the
/// catalog unless `nocatalog`) and the token in `X-Subject-Token`.
fn token_response(
    id: &Identity,
    ctx: &AuthContext,
    token: &str,
    status: StatusCode,
    nocatalog: bool,
) -> IdResult<Response> {
    let catalog = if nocatalog || ctx.scope == ferrostack_policy::Scope::Unscoped {
        None
    } else {
        Some(id.catalog_json_for(ctx.project_id())?)
    };
    let mut body = views::token(ctx, None, app_cred_name(id, ctx).as_deref());
    add_trust(id, ctx, &mut body);
    let mut resp = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        views::token_json(&body, catalog.as_deref()),
    )
        .into_response();
    resp.headers_mut().insert(
        SUBJECT_TOKEN,
        HeaderValue::from_str(token).map_err(|e| IdentityError::internal(&e))?,
    );
    Ok(resp)
}

fn app_cred_name(id: &Identity, ctx: &AuthContext) -> Option<String> {
    ctx.application_credential_id
        .as_ref()
        .and_then(|c| id.store.get_app_credential(c).ok())
        .map(|c| c.name)
}

/// A trust-scoped token's body names its trust, as Keystone's does.
pub(crate) fn add_trust(id: &Identity, ctx: &AuthContext, body: &mut Value) {
    let Some(t) = ctx
        .trust_id
        .as_ref()
        .and_then(|t| id.store.get_trust(t).ok())
    else {
        return;
    };
    body["token"]["OS-TRUST:trust"] = json!({
        "id": t.id,
        "impersonation": t.impersonation,
        "trustee_user": {"id": t.trustee_user_id},
        "trustor_user": {"id": t.trustor_user_id},
    });
}

fn unauthorized() -> IdentityError {
    IdentityError::auth_required()
}

fn find_domain(
    store: &dyn ferrostack_store::identity::IdentityStore,
    r: &NamedRef,
) -> IdResult<Domain> {
    let found = match (&r.id, &r.name) {
        (Some(id), _) => store.get_domain(id),
        (None, Some(name)) => store.get_domain_by_name(name),
        (None, None) => {
            return Err(IdentityError::BadRequest(
                "A domain must be given by id or name.".into(),
            ))
        }
    };
    found.map_err(|e| match e {
        StoreError::NotFound { .. } => unauthorized(),
        other => other.into(),
    })
}

fn find_user(id: &Identity, creds: &UserCredentials) -> IdResult<User> {
    let store = id.store.as_ref();
    let found = match (&creds.id, &creds.name) {
        (Some(uid), _) => store.get_user(uid),
        (None, Some(name)) => {
            let domain = creds.domain.as_ref().ok_or_else(|| {
                IdentityError::BadRequest("A user given by name needs a domain.".into())
            })?;
            let domain = find_domain(store, domain)?;
            store.get_user_by_name(&domain.id, name)
        }
        (None, None) => {
            return Err(IdentityError::BadRequest(
                "A user must be given by id or name.".into(),
            ))
        }
    };
    found.map_err(|e| match e {
        StoreError::NotFound { .. } => unauthorized(),
        other => other.into(),
    })
}

/// Check the credentials and scope of an auth request; seal a token.
pub fn authenticate(id: &Identity, req: &AuthRequest) -> IdResult<(String, AuthContext)> {
    let identity = &req.auth.identity;
    if identity.methods.is_empty() {
        return Err(IdentityError::BadRequest(
            "Invalid input for field 'identity/methods': at least one method is required.".into(),
        ));
    }
    let mut bits = 0u8;
    let mut user_id: Option<String> = None;
    let mut parent: Option<TokenPayload> = None;
    let mut app_cred: Option<ferrostack_store::identity::ApplicationCredential> = None;
    let mut agree = |uid: String| -> IdResult<()> {
        match &user_id {
            Some(existing) if *existing != uid => Err(unauthorized()),
            _ => {
                user_id = Some(uid);
                Ok(())
            }
        }
    };
    for method in &identity.methods {
        match method.as_str() {
            "password" => {
                let pw = identity.password.as_ref().ok_or_else(|| {
                    IdentityError::BadRequest("Invalid input for field 'identity/password': required by the password method.".into())
                })?;
                let secret = pw.user.password.as_deref().ok_or_else(|| {
                    IdentityError::BadRequest(
                        "Invalid input for field 'identity/password/user/password': required."
                            .into(),
                    )
                })?;
                // Unknown users cost one hash verification like known
                // ones (see password::verify_nothing).
                let user = match find_user(id, &pw.user) {
                    Ok(user) => user,
                    Err(e @ IdentityError::Unauthorized(_)) => {
                        password::verify_nothing(secret);
                        return Err(e);
                    }
                    Err(e) => return Err(e),
                };
                compliance::check_password(id, &user, secret, true)?;
                bits |= methods::PASSWORD;
                agree(user.id)?;
            }
            "token" => {
                let t = identity.token.as_ref().ok_or_else(|| {
                    IdentityError::BadRequest(
                        "Invalid input for field 'identity/token': required by the token method."
                            .into(),
                    )
                })?;
                let payload = id.open(&t.id).map_err(|e| match e {
                    // Keystone's TokenNotFound for a token it issued that
                    // is no longer valid.
                    ValidateError::Invalid(m)
                        if m == crate::service::TOKEN_EXPIRED
                            || m == crate::service::TOKEN_REVOKED =>
                    {
                        IdentityError::NotFound("Failed to validate token".into())
                    }
                    ValidateError::Invalid(_) => unauthorized(),
                    ValidateError::Unavailable(m) => IdentityError::Internal(m),
                })?;
                if payload.trust_id.is_some() {
                    return Err(IdentityError::Forbidden(
                        "A trust-scoped token cannot be re-scoped.".into(),
                    ));
                }
                if payload.app_cred_id.is_some() {
                    return Err(IdentityError::Forbidden(
                        "A token from an application credential cannot be re-scoped.".into(),
                    ));
                }
                bits |= methods::TOKEN | payload.methods;
                agree(payload.user_id.clone())?;
                parent = Some(payload);
            }
            "application_credential" => {
                let c = identity.application_credential.as_ref().ok_or_else(|| {
                    IdentityError::BadRequest(
                        "Invalid input for field 'identity/application_credential': required."
                            .into(),
                    )
                })?;
                let cred = match (&c.id, &c.name, &c.user) {
                    (Some(cid), _, user) => {
                        let cred = id.store.get_app_credential(cid).ok();
                        // A user named next to the id must be the credential's owner.
                        match (cred, user) {
                            (Some(cred), Some(u)) => {
                                let owner = find_user(id, u)?;
                                (owner.id == cred.user_id).then_some(cred)
                            }
                            (cred, None) => cred,
                            (None, Some(_)) => None,
                        }
                    }
                    (None, Some(name), Some(u)) => {
                        let user = find_user(id, u)?;
                        id.store
                            .list_app_credentials(&user.id)?
                            .into_iter()
                            .find(|x| &x.name == name)
                    }
                    _ => return Err(IdentityError::BadRequest(
                        "An application credential must be given by id, or by name with its user."
                            .into(),
                    )),
                }
                .ok_or_else(|| {
                    password::verify_nothing(&c.secret);
                    unauthorized()
                })?;
                let expired = cred
                    .expires_at
                    .is_some_and(|t| t <= ferrostack_common::time::now_micros());
                if expired || !password::verify(&c.secret, &cred.secret_hash) {
                    return Err(unauthorized());
                }
                bits |= methods::APP_CREDENTIAL;
                agree(cred.user_id.clone())?;
                app_cred = Some(cred);
            }
            other => {
                tracing::debug!(method = other, "unsupported auth method");
                return Err(IdentityError::Unauthorized(
                    "Attempted to authenticate with an unsupported method.".into(),
                ));
            }
        }
    }
    let user_id = user_id.ok_or_else(unauthorized)?;
    let user = id.store.get_user(&user_id).map_err(|_| unauthorized())?;
    if !user.enabled {
        return Err(unauthorized());
    }

    if let Some(trust_id) = trust_in_scope(req.auth.scope.as_ref())? {
        if app_cred.is_some() {
            return Err(IdentityError::Unauthorized(
                "Application credentials cannot request a scope.".into(),
            ));
        }
        return issue_for_trust(id, &user, bits, parent.as_ref(), &trust_id);
    }
    let scope = match (&app_cred, &req.auth.scope) {
        (Some(_), Some(s)) if !s.is_null() => {
            return Err(IdentityError::Unauthorized(
                "Application credentials cannot request a scope.".into(),
            ))
        }
        (Some(cred), _) => TokenScope::Project(cred.project_id.clone()),
        (None, scope) => resolve_scope(id, &user, scope.as_ref())?,
    };

    let mut payload = id.new_payload(&user.id, bits, scope);
    if let Some(p) = parent {
        payload.expires_at = p.expires_at;
        payload.parent_audit_id = Some(p.parent_audit_id.unwrap_or(p.audit_id));
    }
    if let Some(cred) = &app_cred {
        payload.app_cred_id = Some(cred.id.clone());
        if let Some(exp) = cred.expires_at {
            payload.expires_at = payload.expires_at.min(exp);
        }
    }
    let ctx = id.context_for(&payload).map_err(|e| match e {
        IdentityError::Internal(_) => e,
        _ => unauthorized(),
    })?;
    let token = id.seal(&payload)?;
    tracing::info!(user_id = %ctx.user_id, "token issued");
    Ok((token, ctx))
}

/// The trust id of a `{"OS-TRUST:trust": {"id": ...}}` scope, if that is the scope asked.
fn trust_in_scope(scope: Option<&Value>) -> IdResult<Option<String>> {
    let Some(t) = scope.and_then(|s| s.get("OS-TRUST:trust")) else {
        return Ok(None);
    };
    match t.get("id").and_then(Value::as_str) {
        Some(tid) if !tid.is_empty() => Ok(Some(tid.to_string())),
        _ => Err(IdentityError::BadRequest(
            "Invalid input for field 'scope/OS-TRUST:trust/id': required.".into(),
        )),
    }
}

/// A trust-scoped token for the trustee `user`: it names the trustor when
/// the trust impersonates, carries the trust's roles only, lives no longer
/// than the trust, and takes one of its remaining uses.
pub(crate) fn issue_for_trust(
    id: &Identity,
    user: &User,
    bits: u8,
    parent: Option<&TokenPayload>,
    trust_id: &str,
) -> IdResult<(String, AuthContext)> {
    let t = crate::trusts::usable(id.store.as_ref(), trust_id)?;
    if user.id != t.trustee_user_id {
        return Err(IdentityError::Forbidden("User is not a trustee.".into()));
    }
    let token_user = if t.impersonation {
        &t.trustor_user_id
    } else {
        &t.trustee_user_id
    };
    let scope = match &t.project_id {
        Some(p) => TokenScope::Project(p.clone()),
        None => TokenScope::Unscoped,
    };
    let mut payload = id.new_payload(token_user, bits, scope);
    payload.trust_id = Some(t.id.clone());
    if let Some(p) = parent {
        payload.expires_at = p.expires_at;
        payload.parent_audit_id = Some(p.parent_audit_id.clone().unwrap_or(p.audit_id.clone()));
    }
    if let Some(exp) = t.expires_at {
        payload.expires_at = payload.expires_at.min(exp);
    }
    let ctx = id.context_for(&payload).map_err(|e| match e {
        IdentityError::Internal(_) | IdentityError::Forbidden(_) => e,
        _ => unauthorized(),
    })?;
    // Taken last, in one write: a refused request spends no use, and two
    // requests racing for the last use cannot both win.
    id.store.consume_trust_use(&t.id).map_err(|e| match e {
        StoreError::NotFound { .. } => crate::trusts::not_found(&t.id),
        other => other.into(),
    })?;
    let token = id.seal(&payload)?;
    tracing::info!(user_id = %ctx.user_id, trust_id = %t.id, "trust-scoped token issued");
    Ok((token, ctx))
}

fn resolve_scope(id: &Identity, user: &User, scope: Option<&Value>) -> IdResult<TokenScope> {
    let store = id.store.as_ref();
    let Some(scope) = scope.filter(|s| !s.is_null()) else {
        // No scope asked: the default project when the user may use it.
        if let Some(pid) = &user.default_project_id {
            if let Ok(project) = store.get_project(pid) {
                if project.enabled
                    && !roles::effective_roles_on_project(store, &user.id, &project)?.is_empty()
                {
                    return Ok(TokenScope::Project(project.id));
                }
            }
        }
        return Ok(TokenScope::Unscoped);
    };
    if scope.as_str() == Some("unscoped") {
        return Ok(TokenScope::Unscoped);
    }
    let bad = |m: &str| IdentityError::BadRequest(format!("Invalid input for field 'scope': {m}"));
    let obj = scope.as_object().ok_or_else(|| bad("expected an object"))?;
    if obj.len() != 1 {
        return Err(bad("name exactly one of project, domain or system"));
    }
    if let Some(p) = obj.get("project") {
        let p: ProjectScope =
            serde_json::from_value(p.clone()).map_err(|_| bad("malformed project"))?;
        let project = match (&p.id, &p.name) {
            (Some(pid), _) => store.get_project(pid).map_err(|_| unauthorized())?,
            (None, Some(name)) => {
                let d = p
                    .domain
                    .as_ref()
                    .ok_or_else(|| bad("a project given by name needs a domain"))?;
                let domain = find_domain(store, d)?;
                store
                    .list_projects(&ListFilter {
                        name: Some(name.clone()),
                        domain_id: Some(domain.id),
                        ..Default::default()
                    })?
                    .into_iter()
                    .next()
                    .ok_or_else(unauthorized)?
            }
            (None, None) => return Err(bad("a project needs an id or a name")),
        };
        return Ok(TokenScope::Project(project.id));
    }
    if let Some(d) = obj.get("domain") {
        let d: NamedRef = serde_json::from_value(d.clone()).map_err(|_| bad("malformed domain"))?;
        return Ok(TokenScope::Domain(find_domain(store, &d)?.id));
    }
    if let Some(s) = obj.get("system") {
        if s.get("all").and_then(Value::as_bool) == Some(true) {
            return Ok(TokenScope::System);
        }
        return Err(bad("system scope must be {\"all\": true}"));
    }
    Err(bad("unknown scope"))
}

fn subject(headers: &HeaderMap) -> IdResult<String> {
    headers
        .get(SUBJECT_TOKEN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| IdentityError::BadRequest("The X-Subject-Token header is required.".into()))
}

fn may_inspect(caller: &AuthContext, subject: &AuthContext) -> bool {
    caller.is_admin() || caller.has_role("service") || caller.user_id == subject.user_id
}

fn token_not_found() -> IdentityError {
    IdentityError::NotFound("The token is not valid or has expired.".into())
}

fn validated_subject(
    id: &Identity,
    caller: &AuthContext,
    headers: &HeaderMap,
) -> IdResult<AuthContext> {
    let token = subject(headers)?;
    let ctx = id.validate_token(&token).map_err(|e| match e {
        ValidateError::Invalid(_) => token_not_found(),
        ValidateError::Unavailable(m) => IdentityError::Internal(m),
    })?;
    if !may_inspect(caller, &ctx) {
        return Err(token_not_found());
    }
    Ok(ctx)
}

/// `GET /v3/auth/tokens` (and HEAD): validate the X-Subject-Token.
pub async fn validate(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> IdResult<Response> {
    let token = subject(&headers)?;
    let ctx = validated_subject(&id, &caller, &headers)?;
    token_response(
        &id,
        &ctx,
        &token,
        StatusCode::OK,
        q.contains_key("nocatalog"),
    )
}

/// `DELETE /v3/auth/tokens`: revoke the X-Subject-Token (and tokens re-scoped from it).
pub async fn revoke(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
    headers: HeaderMap,
) -> IdResult<StatusCode> {
    let ctx = validated_subject(&id, &caller, &headers)?;
    id.revoke(RevocationEvent {
        audit_id: ctx.audit_ids.first().cloned(),
        user_id: None,
        project_id: None,
        issued_before: ctx.issued_at,
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v3/auth/projects`: projects the caller can scope to.
pub async fn projects(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
) -> IdResult<axum::Json<Value>> {
    let base = &id.config.public_url;
    let ids = roles::project_ids_for_user(id.store.as_ref(), &caller.user_id)?;
    let projects = id.store.list_projects(&ListFilter {
        ids: Some(ids),
        enabled: Some(true),
        ..Default::default()
    })?;
    Ok(axum::Json(json!({
        "projects": projects.iter().map(|p| views::project(base, p)).collect::<Vec<_>>(),
        "links": views::collection_links(base, "/v3/auth/projects"),
    })))
}

/// `GET /v3/auth/domains`: domains the caller can scope to.
pub async fn domains(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
) -> IdResult<axum::Json<Value>> {
    let base = &id.config.public_url;
    let ids = roles::domain_ids_for_user(id.store.as_ref(), &caller.user_id)?;
    let domains = id.store.list_domains(&ListFilter {
        ids: Some(ids),
        enabled: Some(true),
        ..Default::default()
    })?;
    Ok(axum::Json(json!({
        "domains": domains.iter().map(|d| views::domain(base, d)).collect::<Vec<_>>(),
        "links": views::collection_links(base, "/v3/auth/domains"),
    })))
}

/// `GET /v3/auth/system`: whether the caller can scope to the system.
pub async fn system(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
) -> IdResult<axum::Json<Value>> {
    let has = !roles::effective_roles_on_system(id.store.as_ref(), &caller.user_id)?.is_empty();
    let system: Vec<Value> = if has {
        vec![json!({"all": true})]
    } else {
        vec![]
    };
    Ok(axum::Json(json!({
        "system": system,
        "links": views::collection_links(&id.config.public_url, "/v3/auth/system"),
    })))
}

/// `GET /v3/auth/catalog`: the catalog for a scoped token.
pub async fn catalog(
    State(id): State<Arc<Identity>>,
    Caller(caller): Caller,
) -> IdResult<axum::Json<Value>> {
    if caller.scope == ferrostack_policy::Scope::Unscoped {
        return Err(IdentityError::Forbidden(
            "An unscoped token has no catalog; request a scoped token.".into(),
        ));
    }
    let catalog = id.catalog_for(caller.project_id())?;
    Ok(axum::Json(json!({
        "catalog": *catalog,
        "links": views::collection_links(&id.config.public_url, "/v3/auth/catalog"),
    })))
}
