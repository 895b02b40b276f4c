//! A test stack: what `ferrostack allinone` builds before it serves, minus
//! the listeners a test does not need.
//!
//! [`Stack::start`] opens a SQLite store in a temporary directory,
//! bootstraps the real identity service on it (admin user and project,
//! roles with admin ⇒ manager ⇒ member ⇒ reader) and serves the identity router on
//! 127.0.0.1 port 0; [`Stack::serve`] serves any other service's router
//! the same way. Personas get real tokens from the identity service's own
//! password authentication, and every service validates them through the
//! real [`Identity`]: nothing about authentication is faked.
//!
//! [`Served`] is the setup a service's tests start from: a fresh stack,
//! the service's router built from the stack's collaborators and served
//! beside it, and a project to work on.
//!
//! Fixtures (projects, users, grants) go straight into the store, which is
//! quick and is not what the tests are about; outcomes are only ever
//! checked over HTTP.
//!
//! A separate crate, rather than a `tests/common` per service, because the
//! compute, volume and network tests need the same stack.

// A harness panics on purpose: a failed setup step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use ferrostack_identity::bootstrap::{BootstrapSpec, CatalogEntry, DEFAULT_DOMAIN_ID};
use ferrostack_identity::key_store::KeySource;
use ferrostack_identity::{Identity, IdentityConfig};
use ferrostack_identity_types::auth::AuthRequest;
use ferrostack_policy::TokenValidator;
use ferrostack_quota::{ProjectDirectory, QuotaEngine, StoreProjects};
use ferrostack_store::identity::{
    Actor, Assignment, IdentityStore, ListFilter, Project, Target, User,
};
use ferrostack_store::SqliteStore;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Map, Value};
use std::sync::{Arc, OnceLock};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The admin's password.
pub const ADMIN_PASSWORD: &str = "admin-secret-Testkit1";
/// The password of every user made with [`Stack::user`].
pub const USER_PASSWORD: &str = "user-secret-Testkit2";

fn user_password_hash() -> String {
    // Argon2 is slow on purpose; hash once per test binary.
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| ferrostack_identity::password::hash(USER_PASSWORD).expect("hash"))
        .clone()
}

/// Tokens of the usual callers of a project's API.
#[derive(Clone, Debug)]
pub struct Personas {
    /// The bootstrap admin, scoped to the admin project.
    pub admin: String,
    /// A user with `member` (so also `reader`) on the project.
    pub member: String,
    /// A user with only `reader` on the project.
    pub reader: String,
    /// A `member` of another project.
    pub outsider: String,
    /// A user with no role at all on the project (a token scoped elsewhere).
    pub nobody: String,
}

/// A bootstrapped identity service and the services a test serves beside it.
pub struct Stack {
    /// The store every service shares.
    pub store: SqliteStore,
    /// The identity service.
    pub identity: Arc<Identity>,
    /// The quota engine over the store.
    pub quotas: QuotaEngine,
    /// Project lookups over the store.
    pub projects: Arc<dyn ProjectDirectory>,
    /// `http://127.0.0.1:<port>` of the identity router.
    pub identity_url: String,
    /// The admin project's id.
    pub admin_project_id: String,
    /// The admin user's id.
    pub admin_id: String,
    /// HTTP client.
    pub http: reqwest::Client,
    tasks: Vec<JoinHandle<()>>,
    _dir: TempDir,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, url)
}

fn spawn(listener: TcpListener, router: Router) -> JoinHandle<()> {
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    })
}

impl Stack {
    /// A fresh stack in its own temporary directory.
    pub async fn start() -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("ferrostack.db")).expect("store");
        let (listener, identity_url) = listen().await;
        let identity = Arc::new(
            Identity::new(
                Arc::new(store.clone()),
                KeySource::in_data_dir(dir.path()).expect("keys"),
                IdentityConfig {
                    token_ttl_secs: 3600,
                    public_url: identity_url.clone(),
                    security: Default::default(),
                },
            )
            .expect("identity"),
        );
        let spec = BootstrapSpec {
            admin_password: Some(ADMIN_PASSWORD.into()),
            catalog: vec![CatalogEntry {
                service_type: "identity".into(),
                name: "keystone".into(),
                url: format!("{identity_url}/v3"),
            }],
        };
        let boot = identity.clone();
        tokio::task::spawn_blocking(move || boot.bootstrap(&spec).expect("bootstrap"))
            .await
            .expect("bootstrap task");
        let admin_id = store
            .get_user_by_name(DEFAULT_DOMAIN_ID, "admin")
            .expect("admin")
            .id;
        let admin_project_id = store
            .list_projects(&ListFilter {
                name: Some("admin".into()),
                ..Default::default()
            })
            .expect("projects")[0]
            .id
            .clone();
        let task = spawn(listener, ferrostack_identity::router(identity.clone()));
        Stack {
            quotas: QuotaEngine::new(Arc::new(store.clone())),
            projects: Arc::new(StoreProjects(Arc::new(store.clone()))),
            store,
            identity,
            identity_url,
            admin_project_id,
            admin_id,
            http: reqwest::Client::new(),
            tasks: vec![task],
            _dir: dir,
        }
    }

    /// The token validator every service gets.
    pub fn validator(&self) -> Arc<dyn TokenValidator> {
        self.identity.clone()
    }

    /// Serve the router `make` builds for a public URL; returns that URL.
    pub async fn serve(&mut self, make: impl FnOnce(String) -> Router) -> String {
        let (listener, url) = listen().await;
        self.tasks.push(spawn(listener, make(url.clone())));
        url
    }

    // ---- fixtures

    /// A project in the Default domain; returns its id.
    pub fn project(&self, name: &str) -> String {
        self.project_in(name, DEFAULT_DOMAIN_ID)
    }

    /// A project in `domain_id`; returns its id.
    pub fn project_in(&self, name: &str, domain_id: &str) -> String {
        let project = Project {
            id: ferrostack_common::ids::new_hex_id(),
            name: name.into(),
            domain_id: domain_id.into(),
            parent_id: None,
            description: String::new(),
            enabled: true,
            tags: vec![],
            extra: Map::new(),
        };
        self.identity
            .store
            .create_project(&project)
            .expect("project");
        project.id
    }

    /// A user in the Default domain with [`USER_PASSWORD`]; returns its id.
    pub fn user(&self, name: &str) -> String {
        let user = User {
            id: ferrostack_common::ids::new_hex_id(),
            name: name.into(),
            domain_id: DEFAULT_DOMAIN_ID.into(),
            enabled: true,
            password_hash: Some(user_password_hash()),
            default_project_id: None,
            description: String::new(),
            email: None,
            extra: Map::new(),
            password_changed_at: None,
            security: Default::default(),
        };
        self.identity.store.create_user(&user).expect("user");
        user.id
    }

    /// Grant the role named `role` to a user on a project.
    pub fn grant(&self, user_id: &str, project_id: &str, role: &str) {
        let role_id = self
            .identity
            .store
            .list_roles(&ListFilter {
                name: Some(role.into()),
                ..Default::default()
            })
            .expect("roles")
            .first()
            .unwrap_or_else(|| panic!("no role {role}"))
            .id
            .clone();
        self.identity
            .store
            .grant(&Assignment {
                actor: Actor::User(user_id.into()),
                target: Target::Project(project_id.into()),
                role_id,
                inherited: false,
            })
            .expect("grant");
    }

    // ---- tokens, from the identity service's own password authentication

    /// A project-scoped token for `user_id` with `password`.
    pub async fn login(&self, user_id: &str, password: &str, project_id: &str) -> String {
        let request: AuthRequest = serde_json::from_value(json!({"auth": {
            "identity": {"methods": ["password"],
                "password": {"user": {"id": user_id, "password": password}}},
            "scope": {"project": {"id": project_id}},
        }}))
        .expect("auth request");
        let identity = self.identity.clone();
        tokio::task::spawn_blocking(move || {
            ferrostack_identity::routes::auth::authenticate(&identity, &request)
                .map(|(token, _)| token)
        })
        .await
        .expect("auth task")
        .unwrap_or_else(|e| panic!("login failed: {e:?}"))
    }

    /// The admin's token scoped to the admin project, over HTTP as a client gets it.
    pub async fn admin_token(&self) -> String {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": DEFAULT_DOMAIN_ID}, "password": ADMIN_PASSWORD}}},
            "scope": {"project": {"id": self.admin_project_id}},
        }});
        let resp = self
            .http
            .post(format!("{}/v3/auth/tokens", self.identity_url))
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 201, "admin login failed");
        resp.headers()
            .get("x-subject-token")
            .expect("X-Subject-Token")
            .to_str()
            .expect("ascii")
            .to_string()
    }

    /// A new user holding `role` on `project_id`, and their token there.
    pub async fn user_token(&self, name: &str, project_id: &str, role: &str) -> String {
        let user = self.user(name);
        self.grant(&user, project_id, role);
        self.login(&user, USER_PASSWORD, project_id).await
    }

    /// Admin, member, reader, another project's member, and a user with no
    /// role on `project_id`, each with a token.
    pub async fn personas(&self, project_id: &str) -> Personas {
        let elsewhere = self.project(&format!("elsewhere-{}", &project_id[..8]));
        let nobody_project = self.project(&format!("nobody-{}", &project_id[..8]));
        // "nobody" has a role only on a project of their own.
        Personas {
            admin: self.admin_token().await,
            member: self.user_token("member", project_id, "member").await,
            reader: self.user_token("reader", project_id, "reader").await,
            outsider: self.user_token("outsider", &elsewhere, "member").await,
            nobody: self.user_token("nobody", &nobody_project, "reader").await,
        }
    }

    // ---- HTTP

    /// A request to `url` carrying `token` (none when empty).
    pub fn req(&self, method: Method, url: &str, token: &str) -> RequestBuilder {
        let rb = self.http.request(method, url);
        if token.is_empty() {
            rb
        } else {
            rb.header("X-Auth-Token", token)
        }
    }

    /// Send and return (status, JSON body or `Null`, response headers).
    pub async fn call(&self, rb: RequestBuilder) -> Reply {
        let resp = rb.send().await.expect("send");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        }
    }

    /// GET `url` as `token`.
    pub async fn get(&self, url: &str, token: &str) -> Reply {
        self.call(self.req(Method::GET, url, token)).await
    }

    /// Send `body` as JSON with `method` to `url` as `token`.
    pub async fn send(&self, method: Method, url: &str, token: &str, body: Value) -> Reply {
        self.call(self.req(method, url, token).json(&body)).await
    }
}

/// A stack with one service's router served and a project named `myproject`.
pub struct Served {
    /// The stack.
    pub s: Stack,
    /// `http://127.0.0.1:<port>`, where the service is served.
    pub root: String,
    /// The root followed by the API's version prefix, e.g. `.../v3`.
    pub api: String,
    /// `myproject`'s id.
    pub project: String,
}

impl Served {
    /// A fresh stack with the router `make` builds, from the stack and the
    /// public URL, served under `version` (the path prefix [`Served::url`]
    /// puts before its argument).
    pub async fn start(version: &str, make: impl FnOnce(&Stack, String) -> Router) -> Served {
        let mut s = Stack::start().await;
        let (listener, root) = listen().await;
        let router = make(&s, root.clone());
        s.tasks.push(spawn(listener, router));
        let project = s.project("myproject");
        Served {
            api: format!("{root}{version}"),
            root,
            s,
            project,
        }
    }

    /// The URL of `path` under the API's version prefix.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.api, path)
    }
}

/// An HTTP reply.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// JSON body, or `Null` when there was none or it was not JSON.
    pub body: Value,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// Assert a 401 in Keystone's shape, which every service answers with
    /// (keystonemiddleware's reply in front of a real one).
    pub fn assert_unauthorized(&self) {
        assert_eq!(self.status, 401, "body: {}", self.body);
        assert_eq!(self.body["error"]["code"], 401, "body: {}", self.body);
        assert_eq!(
            self.body["error"]["title"], "Unauthorized",
            "body: {}",
            self.body
        );
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
