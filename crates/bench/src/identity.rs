//! The identity operations under load and how to send each one.
//!
//! Only the Keystone v3 wire API is used, so the same code measures
//! ferrostack and the reference Python Keystone. Request bodies are built
//! once and cloned per request, so the client spends its time on I/O.

use std::fmt;

use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::json;

/// Header carrying the caller's token.
const AUTH_TOKEN: &str = "X-Auth-Token";
/// Header naming the token being validated, and carrying a newly issued one.
const SUBJECT_TOKEN: &str = "X-Subject-Token";

/// Who the benchmark authenticates as (a project-scoped password login).
#[derive(Debug, Clone)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// The user's password.
    pub password: String,
    /// Name of the project to scope tokens to.
    pub project: String,
    /// Domain name of the user.
    pub user_domain: String,
    /// Domain name of the project.
    pub project_domain: String,
}

/// One API call the benchmark repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET /v3/auth/tokens` with `X-Auth-Token` and `X-Subject-Token`.
    Validate,
    /// `POST /v3/auth/tokens`, password method, project scope.
    Issue,
    /// `GET /v3/projects`.
    ListProjects,
    /// The reference for [`Op::Validate`]: the same request to a bare axum
    /// handler in the benchmark's process that serializes the body
    /// validation answered (no authentication, no lookups), so the ceiling
    /// of this machine and client is printed in the same run.
    BareAxum,
}

impl Op {
    /// All operations, in the order the report lists them.
    pub const ALL: [Op; 4] = [Op::Validate, Op::BareAxum, Op::Issue, Op::ListProjects];

    /// Short stable name, used in tables and JSON results.
    pub fn name(self) -> &'static str {
        match self {
            Op::Validate => "token-validate",
            Op::Issue => "token-issue",
            Op::ListProjects => "project-list",
            Op::BareAxum => "bare-axum",
        }
    }

    /// Parses a name produced by [`Op::name`].
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Outcome of one request that did not succeed.
#[derive(Debug)]
pub enum CallError {
    /// No HTTP answer (connection refused, reset, timed out, ...).
    Transport(reqwest::Error),
    /// An answer with a status other than the operation's success status.
    Status(StatusCode, String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Transport(err) => write!(f, "transport error: {err}"),
            CallError::Status(status, body) => write!(f, "HTTP {status}: {body}"),
        }
    }
}

impl std::error::Error for CallError {}

/// A ready-to-load identity endpoint: client, URLs, tokens and bodies.
#[derive(Debug)]
pub struct Target {
    client: Client,
    base: String,
    issue_body: String,
    admin_token: String,
    subject_token: String,
    /// Base URL of the bare reference handler, once started.
    bare_base: Option<String>,
}

impl Target {
    /// Logs in twice (one token to call with, one to validate) and returns
    /// the target, or the first error, so a misconfigured run stops early.
    pub async fn connect(
        client: Client,
        base_url: &str,
        creds: &Credentials,
    ) -> Result<Target, CallError> {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": creds.username,
                "password": creds.password,
                "domain": {"name": creds.user_domain},
            }}},
            "scope": {"project": {
                "name": creds.project,
                "domain": {"name": creds.project_domain},
            }},
        }});
        let mut target = Target {
            client,
            base: base_url.trim_end_matches('/').to_owned(),
            issue_body: body.to_string(),
            admin_token: String::new(),
            subject_token: String::new(),
            bare_base: None,
        };
        target.admin_token = target.issue_token().await?;
        target.subject_token = target.issue_token().await?;
        Ok(target)
    }

    /// The admin token this target calls with.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The same tokens sent to another controller of the same cloud at
    /// `base_url` (tokens issued by one controller validated by another).
    pub fn elsewhere(&self, base_url: &str) -> Target {
        Target {
            client: self.client.clone(),
            base: base_url.trim_end_matches('/').to_owned(),
            issue_body: self.issue_body.clone(),
            admin_token: self.admin_token.clone(),
            subject_token: self.subject_token.clone(),
            bare_base: self.bare_base.clone(),
        }
    }

    async fn issue_token(&self) -> Result<String, CallError> {
        let resp = self
            .request(Op::Issue)
            .send()
            .await
            .map_err(CallError::Transport)?;
        let token = resp
            .headers()
            .get(SUBJECT_TOKEN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match (resp.status(), token) {
            (StatusCode::CREATED, Some(token)) => Ok(token),
            (status, _) => Err(CallError::Status(status, body_text(resp).await)),
        }
    }

    /// The body a validation answers, for the bare reference to serve.
    pub async fn validation_body(&self) -> Result<serde_json::Value, CallError> {
        let resp = self
            .request(Op::Validate)
            .send()
            .await
            .map_err(CallError::Transport)?;
        if resp.status() != StatusCode::OK {
            return Err(CallError::Status(resp.status(), body_text(resp).await));
        }
        resp.json().await.map_err(CallError::Transport)
    }

    /// Send [`Op::BareAxum`] to the reference handler at `base`.
    pub fn set_bare_reference(&mut self, base: String) {
        self.bare_base = Some(base);
    }

    fn request(&self, op: Op) -> RequestBuilder {
        let url = match op {
            Op::Validate | Op::Issue => format!("{}/auth/tokens", self.base),
            Op::ListProjects => format!("{}/projects", self.base),
            Op::BareAxum => format!(
                "{}/auth/tokens",
                self.bare_base.as_deref().unwrap_or("http://127.0.0.1:9/v3")
            ),
        };
        match op {
            Op::Validate | Op::BareAxum => self
                .client
                .get(url)
                .header(AUTH_TOKEN, &self.admin_token)
                .header(SUBJECT_TOKEN, &self.subject_token),
            Op::Issue => self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(self.issue_body.clone()),
            Op::ListProjects => self.client.get(url).header(AUTH_TOKEN, &self.admin_token),
        }
    }

    /// Sends one request of `op` and reads the whole answer.
    pub async fn call(&self, op: Op) -> Result<(), CallError> {
        let resp = self
            .request(op)
            .send()
            .await
            .map_err(CallError::Transport)?;
        let expected = match op {
            Op::Issue => StatusCode::CREATED,
            Op::Validate | Op::ListProjects | Op::BareAxum => StatusCode::OK,
        };
        let status = resp.status();
        if status != expected {
            return Err(CallError::Status(status, body_text(resp).await));
        }
        // The body is part of the work being measured (and draining it lets
        // the connection be reused).
        resp.bytes().await.map_err(CallError::Transport)?;
        Ok(())
    }
}

async fn body_text(resp: reqwest::Response) -> String {
    let mut text = resp.text().await.unwrap_or_default();
    text.truncate(300);
    text
}
