//! An isolated identity server per test: a temporary data directory, a
//! SQLite store bootstrapped as `ferrostack allinone` does it, and the real
//! router served on 127.0.0.1 port 0. Tests talk to it over HTTP with
//! reqwest, and reach into the [`Identity`] only to set up fixtures
//! quickly (records straight into the store, tokens minted without a
//! password hash round) — never to check an outcome.

#![allow(dead_code)]

use ferrostack_identity::bootstrap::{BootstrapSpec, CatalogEntry, DEFAULT_DOMAIN_ID};
use ferrostack_identity::key_store::{KeySource, SharedKeys};
use ferrostack_identity::password;
use ferrostack_identity::token::{methods, TokenScope};
use ferrostack_identity::{Identity, IdentityConfig};
use ferrostack_store::identity::{
    Actor, Assignment, Group, ListFilter, Project, Role, Target, User,
};
use ferrostack_store::SqliteStore;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Map, Value};
use std::sync::{Arc, OnceLock};
use tempfile::TempDir;

/// The password bootstrap gives the admin.
pub const ADMIN_PASSWORD: &str = "admin-secret-Ferro1";
/// The password of users made with [`Server::user`].
pub const USER_PASSWORD: &str = "user-secret-Ferro2";

/// One hash of [`USER_PASSWORD`], shared: Argon2 is slow on purpose.
fn user_password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| password::hash(USER_PASSWORD).expect("hash"))
        .clone()
}

/// A running identity server.
pub struct Server {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The service, for fixtures.
    pub identity: Arc<Identity>,
    /// The token keys in the database (rotate them here).
    pub keys: SharedKeys,
    /// HTTP client.
    pub http: reqwest::Client,
    /// Bootstrapped admin user id.
    pub admin_id: String,
    /// Bootstrapped admin project id.
    pub admin_project_id: String,
    task: tokio::task::JoinHandle<()>,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// The server's data directory (database, master key).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Start a bootstrapped server.
    pub async fn start() -> Server {
        Self::start_with(Default::default()).await
    }

    /// Start a bootstrapped server with a password policy.
    pub async fn start_with(
        security: ferrostack_identity::compliance::SecurityCompliance,
    ) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let store = SqliteStore::open(&dir.path().join("ferrostack.db")).expect("store");
        let identity = Arc::new(
            Identity::new(
                Arc::new(store),
                KeySource::in_data_dir(dir.path()).expect("keys"),
                IdentityConfig {
                    token_ttl_secs: 3600,
                    public_url: base.clone(),
                    security,
                },
            )
            .expect("identity"),
        );
        let spec = BootstrapSpec {
            admin_password: Some(ADMIN_PASSWORD.into()),
            catalog: vec![
                CatalogEntry {
                    service_type: "identity".into(),
                    name: "keystone".into(),
                    url: format!("{base}/v3"),
                },
                CatalogEntry {
                    service_type: "compute".into(),
                    name: "nova".into(),
                    url: "http://127.0.0.1:8774/v2.1".into(),
                },
            ],
        };
        let boot = identity.clone();
        tokio::task::spawn_blocking(move || boot.bootstrap(&spec).expect("bootstrap"))
            .await
            .expect("bootstrap task");
        let store = identity.store.clone();
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
        let app = ferrostack_identity::router(identity.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Server {
            base,
            keys: identity.shared_keys().clone(),
            identity,
            http: reqwest::Client::new(),
            admin_id,
            admin_project_id,
            task,
            _dir: dir,
        }
    }

    // ---- HTTP

    /// A request to `path` (relative to the server).
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{}", self.base, path))
    }

    /// A request carrying `token` as `X-Auth-Token`.
    pub fn authed(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.req(method, path).header("X-Auth-Token", token)
    }

    /// Send and return (status, JSON body or Null).
    pub async fn call(&self, rb: RequestBuilder) -> (u16, Value) {
        let resp = rb.send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// GET as `token`, returning (status, body).
    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(self.authed(Method::GET, path, token)).await
    }

    /// Send a JSON body as `token`.
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> (u16, Value) {
        self.call(self.authed(method, path, token).json(&body))
            .await
    }

    /// A password auth request body, project-scoped when `project_id` is given.
    pub fn password_auth(user_id: &str, password: &str, project_id: Option<&str>) -> Value {
        let mut body = json!({"auth": {"identity": {
            "methods": ["password"],
            "password": {"user": {"id": user_id, "password": password}},
        }}});
        if let Some(p) = project_id {
            body["auth"]["scope"] = json!({"project": {"id": p}});
        }
        body
    }

    /// `POST /v3/auth/tokens` with a password; the raw response.
    pub async fn password_login(
        &self,
        user_id: &str,
        password: &str,
        project_id: Option<&str>,
    ) -> Response {
        self.req(Method::POST, "/v3/auth/tokens")
            .json(&Self::password_auth(user_id, password, project_id))
            .send()
            .await
            .expect("send")
    }

    /// A token got over HTTP with a password, or a panic.
    pub async fn login(&self, user_id: &str, password: &str, project_id: Option<&str>) -> String {
        let resp = self.password_login(user_id, password, project_id).await;
        assert_eq!(resp.status().as_u16(), 201, "login failed");
        subject_token(&resp)
    }

    /// The admin's project-scoped token, over HTTP.
    pub async fn admin_token(&self) -> String {
        self.login(&self.admin_id, ADMIN_PASSWORD, Some(&self.admin_project_id))
            .await
    }

    /// Is `token` accepted right now? (validated through a real route)
    pub async fn token_works(&self, token: &str) -> bool {
        let (status, _) = self.get("/v3/auth/projects", token).await;
        assert!(status == 200 || status == 401, "unexpected {status}");
        status == 200
    }

    // ---- fixtures, straight into the store

    /// Mint a token without a password round trip.
    pub fn mint(&self, user_id: &str, scope: TokenScope) -> String {
        let payload = self.identity.new_payload(user_id, methods::PASSWORD, scope);
        self.identity.seal(&payload).expect("seal")
    }

    /// Mint a token scoped to `project_id`.
    pub fn mint_project(&self, user_id: &str, project_id: &str) -> String {
        self.mint(user_id, TokenScope::Project(project_id.into()))
    }

    /// A user in the Default domain with [`USER_PASSWORD`].
    pub fn user(&self, name: &str) -> User {
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
        user
    }

    /// A top-level project in the Default domain.
    pub fn project(&self, name: &str) -> Project {
        let project = Project {
            id: ferrostack_common::ids::new_hex_id(),
            name: name.into(),
            domain_id: DEFAULT_DOMAIN_ID.into(),
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
        project
    }

    /// A group in the Default domain.
    pub fn group(&self, name: &str) -> Group {
        let group = Group {
            id: ferrostack_common::ids::new_hex_id(),
            name: name.into(),
            domain_id: DEFAULT_DOMAIN_ID.into(),
            description: String::new(),
            extra: Map::new(),
        };
        self.identity.store.create_group(&group).expect("group");
        group
    }

    /// A global role.
    pub fn role(&self, name: &str) -> Role {
        let role = Role {
            id: ferrostack_common::ids::new_hex_id(),
            name: name.into(),
            domain_id: None,
            description: String::new(),
            extra: Map::new(),
        };
        self.identity.store.create_role(&role).expect("role");
        role
    }

    /// The id of a role by name.
    pub fn role_id(&self, name: &str) -> String {
        self.identity
            .store
            .list_roles(&ListFilter {
                name: Some(name.into()),
                ..Default::default()
            })
            .expect("roles")
            .first()
            .unwrap_or_else(|| panic!("no role {name}"))
            .id
            .clone()
    }

    /// Grant `role` (by name) to a user on a project.
    pub fn grant(&self, user_id: &str, project_id: &str, role: &str) {
        self.identity
            .store
            .grant(&Assignment {
                actor: Actor::User(user_id.into()),
                target: Target::Project(project_id.into()),
                role_id: self.role_id(role),
                inherited: false,
            })
            .expect("grant");
    }
}

/// The `X-Subject-Token` of a response.
pub fn subject_token(resp: &Response) -> String {
    resp.headers()
        .get("x-subject-token")
        .expect("X-Subject-Token")
        .to_str()
        .expect("ascii")
        .to_string()
}

/// Assert Keystone's error shape with `code` and return the message.
pub fn assert_keystone_error(body: &Value, code: u16) -> String {
    let err = &body["error"];
    assert_eq!(err["code"], json!(code), "error body: {body}");
    assert!(
        err["title"].as_str().is_some_and(|t| !t.is_empty()),
        "no title: {body}"
    );
    err["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {body}"))
        .to_string()
}
