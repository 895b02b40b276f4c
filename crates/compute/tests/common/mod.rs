//! The compute router served beside a bootstrapped identity service, and
//! the assertions every compute test uses.

#![allow(dead_code, clippy::unwrap_used)]

pub mod fixtures;

use ferrostack_testkit::{Reply, Stack};
use serde_json::Value;

/// A stack with the compute API served and a project named `myproject`.
pub struct Compute {
    /// The stack.
    pub s: Stack,
    /// `http://127.0.0.1:<port>/v2.1`.
    pub api: String,
    /// `http://127.0.0.1:<port>`.
    pub root: String,
    /// `myproject`'s id.
    pub project: String,
}

impl Compute {
    /// Start it.
    pub async fn start() -> Compute {
        let mut s = Stack::start().await;
        let (validator, quotas, projects) = (s.validator(), s.quotas.clone(), s.projects.clone());
        let compute = std::sync::Arc::new(s.store.clone());
        let root = s
            .serve(move |public_url| {
                ferrostack_compute::router(ferrostack_compute::ComputeConfig {
                    public_url,
                    validator,
                    quotas,
                    projects,
                    compute: compute.clone(),
                    servers: compute.clone(),
                    placement: compute.clone(),
                    images: compute,
                })
            })
            .await;
        let project = s.project("myproject");
        Compute {
            api: format!("{root}/v2.1"),
            root,
            s,
            project,
        }
    }

    /// `{api}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.api, path)
    }

    /// GET `path` as `token` at microversion `version` (none when empty).
    pub async fn get_at(&self, path: &str, token: &str, version: &str) -> Reply {
        let mut rb = self.s.req(reqwest::Method::GET, &self.url(path), token);
        if !version.is_empty() {
            rb = rb.header("OpenStack-API-Version", format!("compute {version}"));
        }
        self.s.call(rb).await
    }

    /// The project's `quota_set` as the admin sees it at 2.1.
    pub async fn quota_set(&self, admin: &str, project: &str) -> Value {
        let r = self
            .s
            .get(&self.url(&format!("/os-quota-sets/{project}")), admin)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["quota_set"].clone()
    }
}

/// Assert Nova's fault shape with `code` under `name`; return the message.
pub fn assert_fault(r: &Reply, code: u16, name: &str) -> String {
    assert_eq!(r.status, code, "body: {}", r.body);
    let fault = &r.body[name];
    assert_eq!(fault["code"], code, "body: {}", r.body);
    let message = fault["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "no message: {}", r.body);
    message.to_string()
}

/// The keys of a JSON object, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}
