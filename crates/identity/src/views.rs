//! Rendering stored records as Keystone's JSON.
//!
//! Views are built as `serde_json::Value` because Keystone merges each
//! resource's free-form `extra` attributes into the top level of its JSON.
//! Secrets (password hashes, application credential secrets) have no field
//! here, so they cannot be rendered by mistake.

use ferrostack_common::time::keystone_time;
use ferrostack_policy::{AuthContext, Scope};
use ferrostack_store::access_rule::AccessRule;
use ferrostack_store::identity::{
    ApplicationCredential, Domain, Endpoint, Extra, Group, Project, Region, Role, Service, User,
};
use serde_json::{json, Map, Value};

fn with_extra(mut base: Map<String, Value>, extra: &Extra) -> Value {
    for (k, v) in extra {
        base.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Value::Object(base)
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A collection's `links` object.
pub fn collection_links(base: &str, path: &str) -> Value {
    json!({"self": format!("{base}{path}"), "previous": null, "next": null})
}

/// A project.
pub fn project(base: &str, p: &Project) -> Value {
    with_extra(
        obj(json!({
            "id": p.id,
            "name": p.name,
            "domain_id": p.domain_id,
            "parent_id": p.parent_id.clone().unwrap_or_else(|| p.domain_id.clone()),
            "description": p.description,
            "enabled": p.enabled,
            "is_domain": false,
            "tags": p.tags,
            "options": {},
            "links": {"self": format!("{base}/v3/projects/{}", p.id)},
        })),
        &p.extra,
    )
}

/// A domain seen through the projects API: Keystone keeps every domain
/// as a project with `is_domain` true, no domain and no parent.
pub fn domain_as_project(base: &str, d: &Domain) -> Value {
    with_extra(
        obj(json!({
            "id": d.id,
            "name": d.name,
            "domain_id": null,
            "parent_id": null,
            "description": d.description,
            "enabled": d.enabled,
            "is_domain": true,
            "tags": d.tags,
            "options": {},
            "links": {"self": format!("{base}/v3/projects/{}", d.id)},
        })),
        &d.extra,
    )
}

/// A domain.
pub fn domain(base: &str, d: &Domain) -> Value {
    with_extra(
        obj(json!({
            "id": d.id,
            "name": d.name,
            "description": d.description,
            "enabled": d.enabled,
            "tags": d.tags,
            "options": {},
            "links": {"self": format!("{base}/v3/domains/{}", d.id)},
        })),
        &d.extra,
    )
}

/// Keystone's `password_expires_at`: microseconds, no zone.
fn password_time(micros: i64) -> String {
    ferrostack_common::time::nova_time(micros)
}

/// A user. There is no password field to render.
pub fn user(base: &str, u: &User) -> Value {
    let mut m = obj(json!({
        "id": u.id,
        "name": u.name,
        "domain_id": u.domain_id,
        "enabled": u.enabled,
        "password_expires_at": u.security.password_expires_at.map(password_time),
        "options": u.security.options,
        "links": {"self": format!("{base}/v3/users/{}", u.id)},
    }));
    if let Some(p) = &u.default_project_id {
        m.insert("default_project_id".into(), json!(p));
    }
    if !u.description.is_empty() {
        m.insert("description".into(), json!(u.description));
    }
    if let Some(e) = &u.email {
        m.insert("email".into(), json!(e));
    }
    with_extra(m, &u.extra)
}

/// A group.
pub fn group(base: &str, g: &Group) -> Value {
    with_extra(
        obj(json!({
            "id": g.id,
            "name": g.name,
            "domain_id": g.domain_id,
            "description": g.description,
            "links": {"self": format!("{base}/v3/groups/{}", g.id)},
        })),
        &g.extra,
    )
}

/// A role.
pub fn role(base: &str, r: &Role) -> Value {
    with_extra(
        obj(json!({
            "id": r.id,
            "name": r.name,
            "domain_id": r.domain_id,
            "description": r.description,
            "options": {},
            "links": {"self": format!("{base}/v3/roles/{}", r.id)},
        })),
        &r.extra,
    )
}

/// A region.
pub fn region(base: &str, r: &Region) -> Value {
    with_extra(
        obj(json!({
            "id": r.id,
            "description": r.description,
            "parent_region_id": r.parent_region_id,
            "links": {"self": format!("{base}/v3/regions/{}", r.id)},
        })),
        &r.extra,
    )
}

/// A catalog service.
pub fn service(base: &str, s: &Service) -> Value {
    with_extra(
        obj(json!({
            "id": s.id,
            "type": s.service_type,
            "name": s.name,
            "description": s.description,
            "enabled": s.enabled,
            "links": {"self": format!("{base}/v3/services/{}", s.id)},
        })),
        &s.extra,
    )
}

/// A catalog endpoint.
pub fn endpoint(base: &str, e: &Endpoint) -> Value {
    with_extra(
        obj(json!({
            "id": e.id,
            "service_id": e.service_id,
            "interface": e.interface,
            "region_id": e.region_id,
            "region": e.region_id,
            "url": e.url,
            "enabled": e.enabled,
            "links": {"self": format!("{base}/v3/endpoints/{}", e.id)},
        })),
        &e.extra,
    )
}

/// An application credential (never its secret or hash).
///
/// `expires_at` is shown with microseconds and no zone, as Keystone shows
/// this one field (clients compare it with the naive ISO time they sent).
pub fn app_credential(
    base: &str,
    c: &ApplicationCredential,
    roles: &[Role],
    rules: &[AccessRule],
) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "user_id": c.user_id,
        "project_id": c.project_id,
        "description": c.description,
        "expires_at": c.expires_at.map(ferrostack_common::time::nova_time),
        "unrestricted": c.unrestricted,
        "roles": roles.iter().map(|r| json!({"id": r.id, "name": r.name, "domain_id": r.domain_id})).collect::<Vec<_>>(),
        "access_rules": rules.iter().map(access_rule).collect::<Vec<_>>(),
        "links": {"self": format!("{base}/v3/users/{}/application_credentials/{}", c.user_id, c.id)},
    })
}

/// An access rule, as shown inside a credential.
pub fn access_rule(r: &AccessRule) -> Value {
    json!({"id": r.id, "service": r.service, "method": r.method, "path": r.path})
}

/// The `token` object of an auth response or validation.
pub fn token(ctx: &AuthContext, catalog: Option<&Value>, app_cred_name: Option<&str>) -> Value {
    let mut t = obj(json!({
        "methods": ctx.methods,
        "user": {
            "id": ctx.user_id,
            "name": ctx.user_name,
            "domain": {"id": ctx.user_domain_id, "name": ctx.user_domain_name},
            "password_expires_at": null,
        },
        "audit_ids": ctx.audit_ids,
        "expires_at": keystone_time(ctx.expires_at),
        "issued_at": keystone_time(ctx.issued_at),
    }));
    match &ctx.scope {
        Scope::Unscoped => {}
        Scope::Project {
            id,
            name,
            domain_id,
            domain_name,
        } => {
            t.insert(
                "project".into(),
                json!({"id": id, "name": name, "domain": {"id": domain_id, "name": domain_name}}),
            );
            t.insert("is_domain".into(), json!(false));
        }
        Scope::Domain { id, name } => {
            t.insert("domain".into(), json!({"id": id, "name": name}));
        }
        Scope::System => {
            t.insert("system".into(), json!({"all": true}));
        }
    }
    if ctx.scope != Scope::Unscoped {
        t.insert(
            "roles".into(),
            Value::Array(
                ctx.roles
                    .iter()
                    .map(|r| json!({"id": r.id, "name": r.name}))
                    .collect(),
            ),
        );
        if let Some(c) = catalog {
            t.insert("catalog".into(), c.clone());
        }
    }
    if let Some(id) = &ctx.application_credential_id {
        t.insert(
            "application_credential".into(),
            json!({"id": id, "name": app_cred_name, "restricted": true}),
        );
    }
    json!({ "token": Value::Object(t) })
}

/// A trust (OS-TRUST). `roles` are the delegated roles still defined, shown
/// by `GET`/`POST` and left out of lists, as Keystone does.
pub fn trust(base: &str, t: &ferrostack_store::trust::Trust, roles: Option<&[Role]>) -> Value {
    let mut m = obj(json!({
        "id": t.id,
        "trustor_user_id": t.trustor_user_id,
        "trustee_user_id": t.trustee_user_id,
        "project_id": t.project_id,
        "impersonation": t.impersonation,
        "expires_at": t.expires_at.map(keystone_time),
        "remaining_uses": t.remaining_uses,
        "allow_redelegation": t.redelegation_count > 0,
        "redelegation_count": t.redelegation_count,
        "redelegated_trust_id": t.redelegated_trust_id,
        "links": {"self": format!("{base}/v3/OS-TRUST/trusts/{}", t.id)},
    }));
    if let Some(roles) = roles {
        m.insert(
            "roles".into(),
            Value::Array(roles.iter().map(|r| role(base, r)).collect()),
        );
        m.insert(
            "roles_links".into(),
            json!({"self": format!("{base}/v3/OS-TRUST/trusts/{}/roles", t.id), "next": null, "previous": null}),
        );
    }
    with_extra(m, &t.extra)
}

/// `body` (`{"token": {...}}` from [`token`], built without a catalog)
/// serialized with `catalog`, already serialized, added to the token:
/// the catalog is the bulk of the body and the same for every token, so
/// it is serialized once per catalog change rather than per response.
pub fn token_json(body: &Value, catalog: Option<&serde_json::value::RawValue>) -> Vec<u8> {
    use serde::ser::{SerializeMap, Serializer};
    struct Token<'a>(
        &'a serde_json::Map<String, Value>,
        Option<&'a serde_json::value::RawValue>,
    );
    impl serde::Serialize for Token<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(None)?;
            for (k, v) in self.0 {
                m.serialize_entry(k, v)?;
            }
            if let Some(c) = self.1 {
                m.serialize_entry("catalog", c)?;
            }
            m.end()
        }
    }
    let empty = serde_json::Map::new();
    let token = body["token"].as_object().unwrap_or(&empty);
    let mut out = Vec::with_capacity(1024 + catalog.map_or(0, |c| c.get().len()));
    let mut ser = serde_json::Serializer::new(&mut out);
    let written = (|| {
        let mut m = ser.serialize_map(Some(1))?;
        m.serialize_entry("token", &Token(token, catalog))?;
        m.end()
    })();
    // Serializing strings and numbers of a Value into memory cannot fail.
    debug_assert!(written.is_ok());
    out
}
