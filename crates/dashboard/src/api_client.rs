//! The dashboard's way into the cloud: the public OpenStack APIs over HTTP,
//! with the user's own token.
//!
//! Calls go to the loopback addresses of the identity, compute, image,
//! network and block storage listeners. Responses are read as JSON values and picked apart by the
//! page that shows them (the pages need a few fields each, and a lenient
//! reader keeps working when the API adds some). Errors become an
//! [`ApiError`] whose message is the service's own words, pulled out of
//! whichever error shape the service uses, never raw JSON.
//!
//! Compute calls ask for microversion 2.37: servers can then be created
//! with `networks: "none"` (a launch without a network is allowed), and key
//! pair creation still generates the private key (removed in 2.92).
//!
//! Block storage calls ask for microversion 3.42 (an in-use volume may be
//! extended) and go to `/v3/{project_id}/...` ([`volume_path`]), the form
//! every Cinder serves (the form without the project is 3.67+ only).

use crate::session::{Auth, ProjectRef};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The compute microversion every call asks for.
pub const COMPUTE_MICROVERSION: &str = "2.37";

/// The block storage microversion every call asks for.
pub const VOLUME_MICROVERSION: &str = "3.42";

/// Which API a call goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// Keystone.
    Identity,
    /// Nova.
    Compute,
    /// Glance.
    Image,
    /// Neutron.
    Network,
    /// Cinder (paths from [`volume_path`]).
    Volume,
}

/// A failed API call, in words a person can read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status (0 when the service could not be reached).
    pub status: u16,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// The token is no longer valid: the user must log in again.
    pub fn is_unauthorized(&self) -> bool {
        self.status == 401
    }
}

/// The message inside an error response of any of the services.
///
/// Keystone: `{"error": {"message"}}`; Nova: `{"badRequest": {"message"}}`
/// and Neutron: `{"NeutronError": {"type", "message", "detail"}}` (any
/// single key); Glance: `{"message"}` (or its older
/// `{"code", "title", "message"}`); placement: `{"errors": [{"detail"}]}`.
/// A body that is none of these gives a sentence naming the status.
pub fn error_message(status: u16, body: &[u8]) -> String {
    let fallback = || match status {
        401 => "Your login is no longer valid. Log in again.".to_string(),
        403 => "You are not allowed to do this.".to_string(),
        404 => "It does not exist (any more).".to_string(),
        0 => "The service could not be reached.".to_string(),
        s => format!("The service answered with an error (HTTP {s})."),
    };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        // A short plain-text answer is a message; HTML or noise is not.
        if !text.is_empty() && text.len() < 300 && !text.starts_with('<') {
            return text.to_string();
        }
        return fallback();
    };
    let text = |v: &Value| v.as_str().map(str::to_string);
    let found = v
        .pointer("/error/message")
        .and_then(text)
        .or_else(|| v.get("message").and_then(text))
        .or_else(|| v.pointer("/errors/0/detail").and_then(text))
        .or_else(|| v.pointer("/errors/0/title").and_then(text))
        .or_else(|| match v.as_object() {
            Some(o) if o.len() == 1 => o.values().next()?.get("message").and_then(text),
            _ => None,
        });
    found
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(fallback)
}

/// The HTTP client with the services' base URLs.
pub struct ApiClient {
    http: reqwest::Client,
    identity: String,
    compute: String,
    image: String,
    network: String,
    volume: String,
}

/// The services' base URLs (each without its version segment).
#[derive(Clone, Debug, Default)]
pub struct BaseUrls {
    /// Keystone, without `/v3`.
    pub identity: String,
    /// Nova, without `/v2.1`.
    pub compute: String,
    /// Glance, without `/v2`.
    pub image: String,
    /// Neutron, without `/v2.0`.
    pub network: String,
    /// Cinder, without `/v3`.
    pub volume: String,
}

impl ApiClient {
    /// A client for the services at these base URLs.
    pub fn new(urls: &BaseUrls) -> Self {
        let trim = |u: &str| u.trim_end_matches('/').to_string();
        ApiClient {
            // Uploads stream for as long as they take; connecting is bounded.
            http: reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            identity: trim(&urls.identity),
            compute: trim(&urls.compute),
            image: trim(&urls.image),
            network: trim(&urls.network),
            volume: trim(&urls.volume),
        }
    }

    fn url(&self, service: Service, path: &str) -> String {
        match service {
            Service::Identity => format!("{}/v3{path}", self.identity),
            Service::Compute => format!("{}/v2.1{path}", self.compute),
            Service::Image => format!("{}/v2{path}", self.image),
            Service::Network => format!("{}/v2.0{path}", self.network),
            Service::Volume => format!("{}/v3{path}", self.volume),
        }
    }

    /// A request to `service` with `token`.
    pub fn request(
        &self,
        method: http::Method,
        service: Service,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, self.url(service, path))
            .header("X-Auth-Token", token);
        if service == Service::Compute {
            req = req.header(
                "OpenStack-API-Version",
                format!("compute {COMPUTE_MICROVERSION}"),
            );
        }
        if service == Service::Volume {
            req = req.header(
                "OpenStack-API-Version",
                format!("volume {VOLUME_MICROVERSION}"),
            );
        }
        req
    }

    /// Send and read the JSON answer (`null` for an empty one).
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, ApiError> {
        self.send_full(req).await.map(|(v, _)| v)
    }

    async fn send_full(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(Value, http::HeaderMap), ApiError> {
        let resp = req.send().await.map_err(|e| {
            tracing::warn!(error = %e, "dashboard: API call failed");
            ApiError {
                status: 0,
                message: error_message(0, b""),
            }
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.unwrap_or_default();
        if status >= 400 {
            return Err(ApiError {
                status,
                message: error_message(status, &body),
            });
        }
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or(Value::Null)
        };
        Ok((value, headers))
    }

    /// GET a path.
    pub async fn get(&self, service: Service, path: &str, token: &str) -> Result<Value, ApiError> {
        self.send(self.request(http::Method::GET, service, path, token))
            .await
    }

    /// A method with a JSON body.
    pub async fn json(
        &self,
        method: http::Method,
        service: Service,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        self.send(self.request(method, service, path, token).json(body))
            .await
    }

    /// DELETE a path.
    pub async fn delete(&self, service: Service, path: &str, token: &str) -> Result<(), ApiError> {
        self.send(self.request(http::Method::DELETE, service, path, token))
            .await
            .map(|_| ())
    }

    async fn issue(&self, body: Value) -> Result<(String, Value), ApiError> {
        let req = self.http.post(self.url(Service::Identity, "/auth/tokens"));
        let (v, headers) = self.send_full(req.json(&body)).await?;
        let token = headers
            .get("X-Subject-Token")
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| ApiError {
                status: 502,
                message: "The identity service issued no token.".into(),
            })?;
        Ok((token.to_string(), v))
    }

    /// Log in: an unscoped token by password, then one scoped to the
    /// user's default project (or the first they have a role on).
    pub async fn login(&self, user: &str, password: &str, domain: &str) -> Result<Auth, ApiError> {
        let (unscoped, body) = self
            .issue(json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": user, "domain": {"name": domain}, "password": password}}},
                "scope": "unscoped"}}))
            .await
            .map_err(|e| match e.status {
                401 => ApiError {
                    status: 401,
                    message: "Wrong user name, password or domain.".into(),
                },
                _ => e,
            })?;
        let projects = self.auth_projects(&unscoped).await?;
        let default = body
            .pointer("/token/user/default_project_id")
            .and_then(Value::as_str);
        let project = default
            .and_then(|d| projects.iter().find(|p| p.id == d))
            .or_else(|| projects.first())
            .cloned()
            .ok_or_else(|| ApiError {
                status: 403,
                message: "You have no role on any project. Ask an administrator for one.".into(),
            })?;
        self.rescope(unscoped, projects, &project.id).await
    }

    /// Projects the token's user may scope to (`GET /v3/auth/projects`).
    pub async fn auth_projects(&self, token: &str) -> Result<Vec<ProjectRef>, ApiError> {
        let v = self.get(Service::Identity, "/auth/projects", token).await?;
        let mut projects: Vec<ProjectRef> = items(&v, "projects")
            .iter()
            .filter(|p| p["enabled"].as_bool() != Some(false))
            .map(|p| ProjectRef {
                id: s(p, "id"),
                name: s(p, "name"),
            })
            .collect();
        projects.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(projects)
    }

    /// A token scoped to `project_id`, from the unscoped one.
    pub async fn rescope(
        &self,
        unscoped: String,
        projects: Vec<ProjectRef>,
        project_id: &str,
    ) -> Result<Auth, ApiError> {
        let (token, body) = self
            .issue(json!({"auth": {
                "identity": {"methods": ["token"], "token": {"id": unscoped}},
                "scope": {"project": {"id": project_id}}}}))
            .await?;
        let t = &body["token"];
        let expires_at = t["expires_at"]
            .as_str()
            .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_else(|| Utc::now() + chrono::Duration::minutes(10));
        Ok(Auth {
            token,
            unscoped_token: unscoped,
            user_id: s(&t["user"], "id"),
            user_name: s(&t["user"], "name"),
            project: ProjectRef {
                id: s(&t["project"], "id"),
                name: s(&t["project"], "name"),
            },
            projects,
            roles: items(t, "roles").iter().map(|r| s(r, "name")).collect(),
            expires_at,
        })
    }

    /// Revoke a token (logout).
    pub async fn revoke(&self, token: &str) -> Result<(), ApiError> {
        let req = self
            .request(
                http::Method::DELETE,
                Service::Identity,
                "/auth/tokens",
                token,
            )
            .header("X-Subject-Token", token);
        self.send(req).await.map(|_| ())
    }
}

/// A path segment made safe to put in an API path (percent-encoded), so
/// a name or id from the browser can never reach another API path.
pub fn seg(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A block storage path under the project: `/{project_id}{rest}`.
pub fn volume_path(project_id: &str, rest: &str) -> String {
    format!("/{}{rest}", seg(project_id))
}

/// The array under `key` (empty when absent).
pub fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A field as text (numbers too; empty when absent or null).
pub fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_extracted_from_every_shape() {
        let nova = br#"{"badRequest": {"code": 400, "message": "Invalid flavorRef."}}"#;
        assert_eq!(error_message(400, nova), "Invalid flavorRef.");
        let keystone =
            br#"{"error": {"code": 409, "title": "Conflict", "message": "Duplicate name."}}"#;
        assert_eq!(error_message(409, keystone), "Duplicate name.");
        let glance =
            br#"{"code": 413, "title": "Request Entity Too Large", "message": "Too big."}"#;
        assert_eq!(error_message(413, glance), "Too big.");
        let placement =
            br#"{"errors": [{"status": 404, "title": "Not Found", "detail": "No such."}]}"#;
        assert_eq!(error_message(404, placement), "No such.");
        let neutron =
            br#"{"NeutronError": {"type": "NetworkInUse", "message": "In use.", "detail": ""}}"#;
        assert_eq!(error_message(409, neutron), "In use.");
    }

    #[test]
    fn unknown_bodies_become_sentences_not_json() {
        assert_eq!(
            error_message(500, br#"{"weird": 1, "x": 2}"#),
            "The service answered with an error (HTTP 500)."
        );
        assert_eq!(
            error_message(404, b"<html>nope</html>"),
            "It does not exist (any more)."
        );
        assert_eq!(error_message(400, b"plain words"), "plain words");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("abc-1.2_x"), "abc-1.2_x");
        assert_eq!(seg("../x y"), "..%2Fx%20y");
        assert_eq!(volume_path("p/1", "/volumes"), "/p%2F1/volumes");
    }

    #[test]
    fn cinder_errors_give_their_message() {
        let over = br#"{"overLimit": {"code": 413, "message": "Requested volume or snapshot exceeds allowed gigabytes quota."}}"#;
        assert_eq!(
            error_message(413, over),
            "Requested volume or snapshot exceeds allowed gigabytes quota."
        );
    }

    #[test]
    fn text_fields_read_leniently() {
        let v = json!({"a": "x", "n": 3, "z": null});
        assert_eq!(s(&v, "a"), "x");
        assert_eq!(s(&v, "n"), "3");
        assert_eq!(s(&v, "z"), "");
        assert!(items(&v, "none").is_empty());
    }
}
