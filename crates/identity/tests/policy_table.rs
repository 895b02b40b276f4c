//! The policy table, route by route: every entry of
//! [`ferrostack_identity::policy::RULES`] is called over HTTP as six
//! personas and the status class is checked against the rule.
//!
//! Personas: the cloud admin; a member and a reader of project A; a user
//! with no role at all (unscoped token); a member of project B; and an
//! anonymous caller. Path parameters are filled with fresh fixtures per
//! call (so an admin's DELETE never eats what the next call needs), bodies
//! are plausible, and tokens are minted per call so a revocation in one
//! call cannot leak into the next.
//!
//! Expectations:
//! - anonymous: 401 on every non-`Public` route;
//! - admin: a 2xx on every route (this also proves every rule names a
//!   served route: no "no policy rule" 403, no fallback 404, no 405);
//! - `Admin` routes: 403 or 404 for everyone else;
//! - `Authenticated` routes about a user ("self or admin"): allowed on
//!   oneself, 404 on another user (403 for creating another user's
//!   application credential, which only the user may do);
//! - the handler-narrowed `Authenticated` routes as listed in [`narrowed`].
//!
//! A second test checks the table against the router's source: every
//! registered (method, path) has a rule and every rule a route.

// Test helpers panic on purpose: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Server, USER_PASSWORD};
use ferrostack_common::ids::new_hex_id;
use ferrostack_identity::ec2_signature::{self, SignedRequest};
use ferrostack_identity::policy::RULES;
use ferrostack_identity::routes::credentials;
use ferrostack_identity::token::TokenScope;
use ferrostack_policy::{RoutePolicy, Rule};
use ferrostack_store::access_rule::AccessRule;
use ferrostack_store::credential::Credential;
use ferrostack_store::endpoint_filter::EndpointGroup;
use ferrostack_store::identity::{
    Actor, ApplicationCredential, Assignment, Domain, Endpoint, Region, Service, Target,
};
use ferrostack_store::oauth1::Consumer;
use ferrostack_store::policies::PolicyDoc;
use ferrostack_store::trust::Trust;
use ferrostack_store::unified_limit::{Limit, RegisteredLimit};
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Persona {
    Admin,
    Member,
    Reader,
    NoRole,
    OtherMember,
    Anonymous,
}

const PERSONAS: [Persona; 6] = [
    Persona::Admin,
    Persona::Member,
    Persona::Reader,
    Persona::NoRole,
    Persona::OtherMember,
    Persona::Anonymous,
];

/// What a call must answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// 2xx or 3xx.
    Success,
    /// Got past authorization: not 401/403/404/405 and not 5xx (a 400 for
    /// a request the persona cannot make valid, e.g. unscoped, is fine).
    Allowed,
    /// 403 or 404.
    Denied,
    /// Exactly this status.
    Status(u16),
}

impl Expect {
    fn holds(self, status: u16) -> bool {
        match self {
            Expect::Success => (200..400).contains(&status),
            Expect::Allowed => status < 500 && ![401, 403, 404, 405].contains(&status),
            Expect::Denied => status == 403 || status == 404,
            Expect::Status(s) => status == s,
        }
    }
}

struct World {
    s: Server,
    project_a: String,
    project_b: String,
    member: String,
    reader: String,
    norole: String,
    other: String,
}

impl World {
    async fn new() -> World {
        let s = Server::start().await;
        let project_a = s.project("project-a").id;
        let project_b = s.project("project-b").id;
        let member = s.user("member").id;
        let reader = s.user("reader").id;
        let norole = s.user("norole").id;
        let other = s.user("other").id;
        s.grant(&member, &project_a, "member");
        s.grant(&reader, &project_a, "reader");
        s.grant(&other, &project_b, "member");
        World {
            s,
            project_a,
            project_b,
            member,
            reader,
            norole,
            other,
        }
    }

    /// The persona's own user id (anonymous has none: a fresh fixture user).
    fn user_of(&self, p: Persona) -> String {
        match p {
            Persona::Admin => self.s.admin_id.clone(),
            Persona::Member => self.member.clone(),
            Persona::Reader => self.reader.clone(),
            Persona::NoRole => self.norole.clone(),
            Persona::OtherMember => self.other.clone(),
            Persona::Anonymous => self.s.user(&unique("anon")).id,
        }
    }

    /// A fresh token for the persona.
    fn token(&self, p: Persona) -> Option<String> {
        let s = &self.s;
        match p {
            Persona::Admin => Some(s.mint_project(&s.admin_id, &s.admin_project_id)),
            Persona::Member => Some(s.mint_project(&self.member, &self.project_a)),
            Persona::Reader => Some(s.mint_project(&self.reader, &self.project_a)),
            Persona::NoRole => Some(s.mint(&self.norole, TokenScope::Unscoped)),
            Persona::OtherMember => Some(s.mint_project(&self.other, &self.project_b)),
            Persona::Anonymous => None,
        }
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &new_hex_id()[..12])
}

/// Routes where `Authenticated` means "the user in the path, or an admin".
fn self_or_admin(r: &RoutePolicy) -> bool {
    r.rule == Rule::Authenticated && r.path.contains("{user_id}")
}

/// `Authenticated` routes the handler narrows by something other than the
/// user in the path; `None` = the default (allowed).
fn narrowed(r: &RoutePolicy, p: Persona) -> Option<Expect> {
    match (r.method, r.path, p) {
        // Reading a project needs a role on it.
        ("GET", "/v3/projects/{project_id}", Persona::NoRole | Persona::OtherMember) => {
            Some(Expect::Status(404))
        }
        // Only the `security_compliance` group is for everyone; the
        // fixture reads `identity`.
        (
            "GET",
            "/v3/domains/{domain_id}/config/{group}"
            | "/v3/domains/{domain_id}/config/{group}/{option}",
            _,
        ) => Some(Expect::Status(403)),
        // A limit is read by its project's members (the fixture's is on
        // project A) and the admin.
        ("GET", "/v3/limits/{limit_id}", Persona::NoRole | Persona::OtherMember) => {
            Some(Expect::Status(404))
        }
        // An unscoped token has no catalog.
        ("GET", "/v3/auth/catalog", Persona::NoRole) => Some(Expect::Status(403)),
        // Only an admin lists every trust; only the trustor (here the admin,
        // see `body_for`) creates one.
        ("GET" | "POST", "/v3/OS-TRUST/trusts", _) | ("GET", "/v3/OS-TRUST/trusts/", _) => {
            Some(Expect::Status(403))
        }
        // Only an admin creates a credential for another user (the body
        // names the admin).
        ("POST", "/v3/credentials", _) => Some(Expect::Status(403)),
        _ => None,
    }
}

fn expected(r: &RoutePolicy, p: Persona) -> Expect {
    match (r.rule, p) {
        (Rule::Public, Persona::Admin) => Expect::Success,
        (Rule::Public, _) => Expect::Allowed,
        (_, Persona::Anonymous) => Expect::Status(401),
        (_, Persona::Admin) => Expect::Success,
        (Rule::Admin, _) => Expect::Denied,
        (Rule::Authenticated, _) => narrowed(r, p).unwrap_or(Expect::Allowed),
        (Rule::ProjectReader | Rule::ProjectMember, _) => Expect::Allowed,
    }
}

/// A request ready to send.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    subject: Option<String>,
}

/// Build the request for `r`, creating the fixtures its path names.
/// `acting_user` fills `{user_id}` on self-or-admin routes.
fn build(w: &World, r: &RoutePolicy, persona: Persona, acting_user: &str) -> Call {
    let s = &w.s;
    let store = s.identity.store.as_ref();
    let method = Method::from_bytes(r.method.as_bytes()).unwrap();
    let reading_or_deleting = matches!(r.method, "GET" | "DELETE");
    let mut values: Map<String, Value> = Map::new();
    let mut path = String::new();
    for seg in r.path.split('/').skip(1) {
        path.push('/');
        let Some(name) = seg.strip_prefix('{').and_then(|x| x.strip_suffix('}')) else {
            path.push_str(seg);
            continue;
        };
        let value = match name {
            "project_id" if r.path == "/v3/projects/{project_id}" && r.method == "DELETE" => {
                s.project(&unique("doomed")).id
            }
            "project_id" => w.project_a.clone(),
            "domain_id" if r.path == "/v3/domains/{domain_id}" && r.method != "GET" => {
                let d = Domain {
                    id: new_hex_id(),
                    name: unique("dom"),
                    description: String::new(),
                    enabled: false,
                    tags: vec![],
                    extra: Map::new(),
                };
                store.create_domain(&d).unwrap();
                d.id
            }
            // A domain of its own with a configuration to read, change and delete.
            "domain_id" if r.path.starts_with("/v3/domains/{domain_id}/config") => {
                let d = Domain {
                    id: new_hex_id(),
                    name: unique("cfg"),
                    description: String::new(),
                    enabled: true,
                    tags: vec![],
                    extra: Map::new(),
                };
                store.create_domain(&d).unwrap();
                let doc = json!({"identity": {"driver": "sql", "list_limit": 5}, "ldap": {"url": "ldap://x"}});
                let doc = doc.as_object().unwrap().clone();
                store
                    .modify_domain_config(&d.id, &mut |_| Ok(Some(doc.clone())))
                    .unwrap();
                d.id
            }
            "domain_id" => "default".to_string(),
            "group" if r.path.starts_with("/v3/domains/config/") => "ldap".to_string(),
            "group" => "identity".to_string(),
            "option" if r.path.starts_with("/v3/domains/config/") => "url".to_string(),
            "option" => "driver".to_string(),
            // An unused rule of the user in the path.
            "access_rule_id" => {
                let owner = values["user_id"].as_str().unwrap().to_string();
                let c = ApplicationCredential {
                    id: new_hex_id(),
                    name: unique("ruled"),
                    user_id: owner.clone(),
                    project_id: w.project_a.clone(),
                    secret_hash: "not-a-hash".into(),
                    description: String::new(),
                    expires_at: None,
                    unrestricted: false,
                    role_ids: vec![s.role_id("reader")],
                };
                let rule = AccessRule {
                    id: new_hex_id(),
                    user_id: owner,
                    service: "compute".into(),
                    method: "GET".into(),
                    path: format!("/{}", unique("p")),
                };
                store
                    .create_app_credential_with_rules(&c, std::slice::from_ref(&rule))
                    .unwrap();
                store.delete_app_credential(&c.id).unwrap();
                rule.id
            }
            "user_id" if self_or_admin(r) => acting_user.to_string(),
            "user_id" => s.user(&unique("target")).id,
            "group_id" => s.group(&unique("grp")).id,
            "role_id" if r.path == "/v3/roles/{role_id}" => s.role(&unique("role")).id,
            "role_id" => s.role_id("reader"),
            "prior_role_id" | "implied_role_id" => s.role(&unique("ir")).id,
            "region_id" if r.method == "PUT" => unique("Region"),
            "region_id" => {
                let id = unique("Region");
                store
                    .create_region(&Region {
                        id: id.clone(),
                        description: String::new(),
                        parent_region_id: None,
                        extra: Map::new(),
                    })
                    .unwrap();
                id
            }
            "service_id" => fresh_service(w),
            "endpoint_id" => {
                let e = Endpoint {
                    id: new_hex_id(),
                    service_id: fresh_service(w),
                    interface: "public".into(),
                    region_id: Some("RegionOne".into()),
                    url: "http://127.0.0.1:1/".into(),
                    enabled: true,
                    extra: Map::new(),
                };
                store.create_endpoint(&e).unwrap();
                e.id
            }
            "application_credential_id" => {
                let owner = values["user_id"].as_str().unwrap().to_string();
                let c = ApplicationCredential {
                    id: new_hex_id(),
                    name: unique("cred"),
                    user_id: owner,
                    project_id: w.project_a.clone(),
                    secret_hash: "not-a-hash".into(),
                    description: String::new(),
                    expires_at: None,
                    unrestricted: false,
                    role_ids: vec![s.role_id("reader")],
                };
                store.create_app_credential(&c).unwrap();
                c.id
            }
            "tag" => "fixture-tag".to_string(),
            "credential_id" if r.path.contains("OS-EC2") => {
                let owner = values["user_id"].as_str().unwrap().to_string();
                ec2_fixture(w, &owner, &w.project_a).0
            }
            "credential_id" => {
                let c = Credential {
                    id: new_hex_id(),
                    user_id: acting_user.to_string(),
                    project_id: None,
                    kind: "cert".into(),
                    sealed_blob: String::new(),
                    created_at: 0,
                };
                credentials::store_new(&s.identity, c, "fixture")
                    .unwrap()
                    .id
            }
            "registered_limit_id" => registered_limit(w).id,
            "limit_id" => {
                let r = registered_limit(w);
                let l = Limit {
                    id: new_hex_id(),
                    service_id: r.service_id,
                    region_id: None,
                    resource_name: r.resource_name,
                    project_id: Some(w.project_a.clone()),
                    domain_id: None,
                    resource_limit: 1,
                    description: None,
                };
                store.create_limits(std::slice::from_ref(&l)).unwrap();
                l.id
            }
            "policy_id" => {
                let p = PolicyDoc {
                    id: new_hex_id(),
                    blob: "{}".into(),
                    kind: "application/json".into(),
                    extra: Map::new(),
                };
                store.create_policy(&p).unwrap();
                p.id
            }
            "endpoint_group_id" => {
                let mut filters = Map::new();
                filters.insert("interface".into(), json!("public"));
                let g = EndpointGroup {
                    id: new_hex_id(),
                    name: unique("epg"),
                    description: String::new(),
                    filters,
                };
                store.create_endpoint_group(&g).unwrap();
                g.id
            }
            // A trust the acting persona gave, so it may read and delete it.
            "trust_id" => {
                let t = Trust {
                    id: new_hex_id(),
                    trustor_user_id: acting_user.to_string(),
                    trustee_user_id: s.user(&unique("trustee")).id,
                    project_id: Some(w.project_a.clone()),
                    impersonation: false,
                    expires_at: None,
                    remaining_uses: None,
                    redelegated_trust_id: None,
                    redelegation_count: 0,
                    role_ids: vec![s.role_id("reader")],
                    extra: Map::new(),
                    created_at: 0,
                };
                store.create_trust(&t).unwrap();
                t.id
            }
            "consumer_id" => {
                let c = Consumer {
                    id: new_hex_id(),
                    description: Some("fixture".into()),
                    sealed_secret: s
                        .identity
                        .seal_credential_blob("fixture", "fixture-secret")
                        .unwrap(),
                    extra: Map::new(),
                };
                store.create_consumer(&c).unwrap();
                c.id
            }
            other => panic!("no fixture for {{{other}}} in {}", r.path),
        };
        path.push_str(&value);
        values.insert(name.to_string(), json!(value));
    }
    let v = |k: &str| values[k].as_str().unwrap().to_string();

    // Relations that GET (check) and DELETE need to exist first.
    if reading_or_deleting {
        if r.path.starts_with("/v3/groups/{group_id}/users/{user_id}") {
            store
                .add_user_to_group(&v("user_id"), &v("group_id"))
                .unwrap();
        }
        if r.path.ends_with("/roles/{role_id}")
            && r.path != "/v3/roles/{role_id}"
            && !r.path.starts_with("/v3/OS-TRUST/")
        {
            let actor = if r.path.contains("{group_id}") {
                Actor::Group(v("group_id"))
            } else {
                Actor::User(v("user_id"))
            };
            let target = if r.path.starts_with("/v3/projects") {
                Target::Project(v("project_id"))
            } else if r.path.starts_with("/v3/domains") {
                Target::Domain(v("domain_id"))
            } else {
                Target::System
            };
            store
                .grant(&Assignment {
                    actor,
                    target,
                    role_id: v("role_id"),
                    inherited: false,
                })
                .unwrap();
        }
        if r.path.starts_with("/v3/OS-INHERIT/") && r.path.contains("{role_id}") {
            let actor = if r.path.contains("{group_id}") {
                Actor::Group(v("group_id"))
            } else {
                Actor::User(v("user_id"))
            };
            let target = if r.path.starts_with("/v3/OS-INHERIT/projects") {
                Target::Project(v("project_id"))
            } else {
                Target::Domain(v("domain_id"))
            };
            store
                .grant(&Assignment {
                    actor,
                    target,
                    role_id: v("role_id"),
                    inherited: true,
                })
                .unwrap();
        }
        if r.path
            .ends_with("/endpoint_groups/{endpoint_group_id}/projects/{project_id}")
        {
            store
                .add_project_endpoint_group(&v("project_id"), &v("endpoint_group_id"))
                .unwrap();
        }
        if r.path
            .ends_with("/projects/{project_id}/endpoints/{endpoint_id}")
        {
            store
                .add_project_endpoint(&v("project_id"), &v("endpoint_id"))
                .unwrap();
        }
        if r.path.ends_with("/implies/{implied_role_id}") {
            store
                .add_implied_role(&v("prior_role_id"), &v("implied_role_id"))
                .unwrap();
        }
        if r.path.ends_with("/tags/{tag}") {
            let mut p = store.get_project(&w.project_a).unwrap();
            if !p.tags.contains(&"fixture-tag".to_string()) {
                p.tags.push("fixture-tag".into());
                store.update_project(&p).unwrap();
            }
        }
    }

    if r.path == "/v3/role_assignments" {
        path.push_str(&format!("?user.id={acting_user}"));
    }
    let subject = (r.path == "/v3/auth/tokens" && r.method != "POST").then(|| {
        let who = match persona {
            Persona::Anonymous => s.user(&unique("subj")).id,
            _ => w.user_of(persona),
        };
        s.mint(&who, TokenScope::Unscoped)
    });
    Call {
        method,
        body: body_for(w, r),
        path,
        subject,
    }
}

/// An EC2 credential of `user` on `project`: (access key, secret).
fn ec2_fixture(w: &World, user: &str, project: &str) -> (String, String) {
    let access = unique("access");
    let secret = unique("secret");
    let c = Credential {
        id: credentials::ec2_id(&access),
        user_id: user.to_string(),
        project_id: Some(project.to_string()),
        kind: "ec2".into(),
        sealed_blob: String::new(),
        created_at: 0,
    };
    let blob = json!({"access": access, "secret": secret}).to_string();
    credentials::store_new(&w.s.identity, c, &blob).unwrap();
    (access, secret)
}

/// An ec2tokens body correctly signed (version 2) for the admin's credential.
fn signed_ec2tokens_body(w: &World) -> Value {
    let (access, secret) = ec2_fixture(w, &w.s.admin_id, &w.s.admin_project_id);
    let mut creds = json!({"access": access, "host": "ec2.test:8773", "verb": "GET",
        "path": "/", "params": {"SignatureVersion": "2", "Action": "DescribeRegions",
                                "AWSAccessKeyId": access}});
    let req = SignedRequest::from_json(creds.as_object().unwrap());
    creds["signature"] = json!(ec2_signature::generate(&secret, &req).unwrap());
    json!({ "credentials": creds })
}

fn fresh_service(w: &World) -> String {
    let svc = Service {
        id: new_hex_id(),
        service_type: unique("type"),
        name: unique("svc"),
        description: String::new(),
        enabled: true,
        extra: Map::new(),
    };
    w.s.identity.store.create_service(&svc).unwrap();
    svc.id
}

/// A plausible body for writes.
/// A registered limit of a fresh service.
fn registered_limit(w: &World) -> RegisteredLimit {
    let r = RegisteredLimit {
        id: new_hex_id(),
        service_id: fresh_service(w),
        region_id: None,
        resource_name: unique("res"),
        default_limit: 10,
        description: None,
    };
    w.s.identity
        .store
        .create_registered_limits(std::slice::from_ref(&r))
        .unwrap();
    r
}

fn body_for(w: &World, r: &RoutePolicy) -> Option<Value> {
    let s = &w.s;
    let body = match (r.method, r.path) {
        ("POST", "/v3/auth/tokens") => {
            let u = s.user(&unique("login"));
            Server::password_auth(&u.id, USER_PASSWORD, None)
        }
        ("POST", "/v2.0/tokens") => {
            let u = s.user(&unique("v2login"));
            json!({"auth": {"passwordCredentials": {"username": u.name, "password": USER_PASSWORD}}})
        }
        ("POST", "/v3/domains") => json!({"domain": {"name": unique("dom")}}),
        ("PATCH", "/v3/domains/{domain_id}") => json!({"domain": {"description": "d"}}),
        ("PUT" | "PATCH", "/v3/domains/{domain_id}/config") => {
            json!({"config": {"ldap": {"url": "ldap://y"}}})
        }
        ("PATCH", "/v3/domains/{domain_id}/config/{group}") => {
            json!({"config": {"identity": {"driver": "ldap"}}})
        }
        ("PATCH", "/v3/domains/{domain_id}/config/{group}/{option}") => {
            json!({"config": {"driver": "ldap"}})
        }
        ("POST", "/v3/projects") => json!({"project": {"name": unique("proj")}}),
        ("PATCH", "/v3/projects/{project_id}") => json!({"project": {"description": "d"}}),
        ("PUT", "/v3/projects/{project_id}/tags") => json!({"tags": ["one", "two"]}),
        ("POST", "/v3/users") => json!({"user": {"name": unique("user")}}),
        ("PATCH", "/v3/users/{user_id}") => json!({"user": {"description": "d"}}),
        ("POST", "/v3/users/{user_id}/password") => {
            json!({"user": {"original_password": USER_PASSWORD, "password": USER_PASSWORD}})
        }
        ("POST", "/v3/users/{user_id}/application_credentials") => {
            json!({"application_credential": {"name": unique("cred")}})
        }
        ("POST", "/v3/OS-TRUST/trusts") => json!({"trust": {
            "trustor_user_id": s.admin_id, "trustee_user_id": s.user(&unique("trustee")).id,
            "project_id": s.admin_project_id, "impersonation": false,
            "roles": [{"name": "reader"}],
        }}),
        ("POST", "/v3/groups") => json!({"group": {"name": unique("grp")}}),
        ("PATCH", "/v3/groups/{group_id}") => json!({"group": {"description": "d"}}),
        ("POST", "/v3/roles") => json!({"role": {"name": unique("role")}}),
        ("PATCH", "/v3/roles/{role_id}") => json!({"role": {"description": "d"}}),
        ("POST", "/v3/regions") => json!({"region": {"id": unique("Region")}}),
        ("PUT", "/v3/regions/{region_id}") | ("PATCH", "/v3/regions/{region_id}") => {
            json!({"region": {"description": "d"}})
        }
        ("POST", "/v3/services") => json!({"service": {"type": unique("type")}}),
        ("PATCH", "/v3/services/{service_id}") => json!({"service": {"description": "d"}}),
        ("POST", "/v3/endpoints") => json!({"endpoint": {
            "service_id": fresh_service(w), "interface": "public",
            "region_id": "RegionOne", "url": "http://127.0.0.1:2/",
        }}),
        ("PATCH", "/v3/endpoints/{endpoint_id}") => {
            json!({"endpoint": {"url": "http://127.0.0.1:3/"}})
        }
        ("POST", "/v3/credentials") => json!({"credential": {
            "user_id": s.admin_id, "type": "cert", "blob": "b",
        }}),
        ("PATCH", "/v3/credentials/{credential_id}") => json!({"credential": {"blob": "b2"}}),
        ("POST", "/v3/users/{user_id}/credentials/OS-EC2") => {
            json!({"tenant_id": w.project_a})
        }
        ("POST", "/v3/ec2tokens") => signed_ec2tokens_body(w),
        ("POST", "/v3/registered_limits") => json!({"registered_limits": [{
            "service_id": fresh_service(w), "resource_name": unique("res"), "default_limit": 1,
        }]}),
        ("PATCH", "/v3/registered_limits/{registered_limit_id}") => {
            json!({"registered_limit": {"default_limit": 2}})
        }
        ("POST", "/v3/limits") => {
            let reg = registered_limit(w);
            json!({"limits": [{
                "service_id": reg.service_id, "resource_name": reg.resource_name,
                "project_id": w.project_a, "resource_limit": 3,
            }]})
        }
        ("PATCH", "/v3/limits/{limit_id}") => json!({"limit": {"resource_limit": 4}}),
        ("POST", "/v3/policies") => json!({"policy": {"blob": "{}", "type": "application/json"}}),
        ("PATCH", "/v3/policies/{policy_id}") => json!({"policy": {"blob": "{\"a\": 1}"}}),
        ("POST", "/v3/OS-OAUTH1/consumers") => json!({"consumer": {"description": "app"}}),
        ("PATCH", "/v3/OS-OAUTH1/consumers/{consumer_id}") => {
            json!({"consumer": {"description": "renamed"}})
        }
        ("POST", "/v3/OS-EP-FILTER/endpoint_groups") => json!({"endpoint_group": {
            "name": unique("epg"), "filters": {"interface": "internal"},
        }}),
        ("PATCH", "/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}") => {
            json!({"endpoint_group": {"description": "d"}})
        }
        _ => return None,
    };
    Some(body)
}

async fn send(w: &World, call: Call, token: Option<&str>) -> (u16, String) {
    let mut rb = w.s.req(call.method, &call.path);
    if let Some(t) = token {
        rb = rb.header("X-Auth-Token", t);
    }
    if let Some(t) = &call.subject {
        rb = rb.header("X-Subject-Token", t);
    }
    if let Some(b) = &call.body {
        rb = rb.json(b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let has_id = resp
        .headers()
        .get("x-openstack-request-id")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("req-"));
    let text = resp.text().await.unwrap();
    // Folded into the body so the caller's failure list reports it.
    if has_id {
        (status, text)
    } else {
        (status, format!("NO X-OpenStack-Request-Id; {text}"))
    }
}

#[tokio::test]
async fn every_route_answers_every_persona_as_its_rule_says() {
    let w = World::new().await;
    let mut failures: Vec<String> = Vec::new();
    let mut calls = 0;
    for r in RULES {
        for persona in PERSONAS {
            let me = w.user_of(persona);
            let want = expected(r, persona);
            let call = build(&w, r, persona, &me);
            let shown = format!("{} {}", r.method, call.path);
            let (status, body) = send(&w, call, w.token(persona).as_deref()).await;
            calls += 1;
            if !want.holds(status) {
                failures.push(format!(
                    "{:?} {} {} ({:?}): got {status}, want {want:?}: {body}",
                    persona, r.method, r.path, r.rule
                ));
            }
            if body.starts_with("NO X-OpenStack-Request-Id") {
                failures.push(format!("{persona:?} {shown}: {body}"));
            }
            if status >= 400 && !body.contains("\"error\"") {
                failures.push(format!(
                    "{persona:?} {shown}: {status} not in Keystone's shape: {body}"
                ));
            }
            // HEAD is served wherever GET is, under the same rule.
            if persona == Persona::Admin && r.method == "GET" {
                let mut head = build(&w, r, persona, &me);
                head.method = Method::HEAD;
                let (status, _) = send(&w, head, w.token(persona).as_deref()).await;
                if !(200..400).contains(&status) {
                    failures.push(format!("Admin HEAD {}: got {status}", r.path));
                }
            }
            // Self-or-admin routes, aimed at somebody else.
            if self_or_admin(r) && !matches!(persona, Persona::Admin | Persona::Anonymous) {
                let stranger = w.s.user(&unique("stranger")).id;
                let call = build(&w, r, persona, &stranger);
                let (status, body) = send(&w, call, w.token(persona).as_deref()).await;
                calls += 1;
                let want = if r.method == "POST" && r.path.ends_with("/application_credentials") {
                    403
                } else {
                    404
                };
                if status != want {
                    failures.push(format!(
                        "{persona:?} {} {} on another user: got {status}, want {want}: {body}",
                        r.method, r.path
                    ));
                }
            }
        }
    }
    assert!(calls > RULES.len() * PERSONAS.len(), "{calls} calls");
    assert!(
        failures.is_empty(),
        "{} of {calls} calls broke the policy table:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every `.route("path", get(..).post(..))` in the router's source, as
/// (METHOD, path) pairs.
fn registered_routes() -> BTreeSet<(String, String)> {
    let src = include_str!("../src/lib.rs");
    let mut out = BTreeSet::new();
    let mut rest = src;
    while let Some(i) = rest.find(".route(") {
        let after = &rest[i + ".route(".len()..];
        let mut depth = 1;
        let mut end = after.len();
        for (j, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = j;
                        break;
                    }
                }
                _ => {}
            }
        }
        let call = &after[..end];
        let q1 = call.find('"').expect("a path literal");
        let q2 = q1 + 1 + call[q1 + 1..].find('"').expect("a closing quote");
        let path = &call[q1 + 1..q2];
        let handlers = &call[q2 + 1..];
        for m in ["get", "post", "put", "patch", "delete", "head"] {
            let pat = format!("{m}(");
            let mut from = 0;
            while let Some(k) = handlers[from..].find(&pat) {
                let at = from + k;
                let before = handlers[..at].chars().next_back();
                if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':')) {
                    out.insert((m.to_uppercase(), path.to_string()));
                }
                from = at + pat.len();
            }
        }
        rest = &after[end..];
    }
    out
}

#[test]
fn the_router_and_the_policy_table_name_the_same_routes() {
    let routes = registered_routes();
    assert!(routes.len() > 90, "parsed only {} routes", routes.len());
    let rules: BTreeSet<(String, String)> = RULES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(rules.len(), RULES.len(), "a rule appears twice");
    let has_rule = |(m, p): &(String, String)| {
        rules.contains(&(m.clone(), p.clone()))
            || (m == "HEAD" && rules.contains(&("GET".to_string(), p.clone())))
    };
    let unruled: Vec<_> = routes.iter().filter(|x| !has_rule(x)).collect();
    assert!(unruled.is_empty(), "routes without a rule: {unruled:?}");
    let unrouted: Vec<_> = rules.iter().filter(|x| !routes.contains(*x)).collect();
    assert!(unrouted.is_empty(), "rules without a route: {unrouted:?}");
}

#[test]
fn no_route_is_left_unimplemented() {
    let src = include_str!("../src/lib.rs");
    assert!(
        !src.contains("(ni)") && !src.contains("not_implemented"),
        "a route still answers 501"
    );
}

/// Loosening a rule must be a visible decision: the routes open to
/// anyone, and the writes open to non-admins, are pinned here.
#[test]
fn only_the_expected_routes_are_open() {
    let public: BTreeSet<(&str, &str)> = RULES
        .iter()
        .filter(|r| r.rule == Rule::Public)
        .map(|r| (r.method, r.path))
        .collect();
    let want_public: BTreeSet<(&str, &str)> = [
        ("GET", "/"),
        ("GET", "/v3"),
        ("GET", "/v3/"),
        ("POST", "/v3/auth/tokens"),
        ("POST", "/v3/users/{user_id}/password"),
        ("GET", "/v2.0"),
        ("POST", "/v2.0/tokens"),
        // A signed EC2 request is its own credential.
        ("POST", "/v3/ec2tokens"),
    ]
    .into_iter()
    .collect();
    assert_eq!(public, want_public);
    let open_writes: BTreeSet<(&str, &str)> = RULES
        .iter()
        .filter(|r| r.method != "GET" && r.rule != Rule::Admin && r.rule != Rule::Public)
        .map(|r| (r.method, r.path))
        .collect();
    let want_open_writes: BTreeSet<(&str, &str)> = [
        ("DELETE", "/v3/auth/tokens"),
        ("POST", "/v3/users/{user_id}/application_credentials"),
        (
            "DELETE",
            "/v3/users/{user_id}/application_credentials/{application_credential_id}",
        ),
        (
            "DELETE",
            "/v3/users/{user_id}/access_rules/{access_rule_id}",
        ),
        // The trustor creates and deletes their trusts (the handler checks).
        ("POST", "/v3/OS-TRUST/trusts"),
        ("DELETE", "/v3/OS-TRUST/trusts/{trust_id}"),
        // Users manage their own credentials (the handlers check the owner).
        ("POST", "/v3/credentials"),
        ("PATCH", "/v3/credentials/{credential_id}"),
        ("DELETE", "/v3/credentials/{credential_id}"),
        ("POST", "/v3/users/{user_id}/credentials/OS-EC2"),
        (
            "DELETE",
            "/v3/users/{user_id}/credentials/OS-EC2/{credential_id}",
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(open_writes, want_open_writes);
}
