//! The image router served beside a bootstrapped identity service, and
//! the helpers every image test uses.

#![allow(dead_code, clippy::unwrap_used)]

use ferrostack_testkit::{Reply, Stack};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;

/// A stack with the image API served and a project named `myproject`.
pub struct Images {
    /// The stack.
    pub s: Stack,
    /// `http://127.0.0.1:<port>`.
    pub root: String,
    /// `myproject`'s id.
    pub project: String,
    /// Where image data is kept.
    pub data_dir: tempfile::TempDir,
}

impl Images {
    /// Start it with the default size limit.
    pub async fn start() -> Images {
        Images::start_with_max(ferrostack_image::DEFAULT_MAX_IMAGE_SIZE).await
    }

    /// Start it, accepting images up to `max_image_size` bytes.
    pub async fn start_with_max(max_image_size: u64) -> Images {
        Images::start_with(max_image_size, Default::default()).await
    }

    /// Start it with a size cap and per-project quotas.
    pub async fn start_with(max_image_size: u64, quotas: ferrostack_image::ImageQuotas) -> Images {
        Images::start_full(max_image_size, quotas, None).await
    }

    /// Start it with everything configurable.
    pub async fn start_full(
        max_image_size: u64,
        quotas: ferrostack_image::ImageQuotas,
        prober: Option<ferrostack_image::Prober>,
    ) -> Images {
        let mut s = Stack::start().await;
        let data_dir = tempfile::tempdir().unwrap();
        let data = Arc::new(
            ferrostack_image::LocalDataStore::open(data_dir.path().join("images")).unwrap(),
        );
        let validator = s.validator();
        let images = Arc::new(s.store.clone());
        let metadefs = Arc::new(s.store.clone());
        let quota_store = Arc::new(s.store.clone());
        let operations = Arc::new(s.store.clone());
        let root = s
            .serve(move |public_url| {
                ferrostack_image::router(ferrostack_image::ImageConfig {
                    public_url,
                    validator,
                    images,
                    metadefs,
                    data,
                    max_image_size,
                    quotas,
                    quota_store,
                    operations,
                    prober,
                })
            })
            .await;
        let project = s.project("myproject");
        Images {
            s,
            root,
            project,
            data_dir,
        }
    }

    /// `{root}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.root, path)
    }

    /// A member of a new project named `name`, with its token and project id.
    pub async fn other_project(&self, name: &str) -> (String, String) {
        let project = self.s.project(name);
        let token = self
            .s
            .user_token(&format!("{name}-member"), &project, "member")
            .await;
        (token, project)
    }

    /// POST an image; asserts 201 and returns it.
    pub async fn create(&self, token: &str, body: Value) -> Value {
        let r = self.post_image(token, body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    }

    /// POST an image.
    pub async fn post_image(&self, token: &str, body: Value) -> Reply {
        self.s
            .send(Method::POST, &self.url("/v2/images"), token, body)
            .await
    }

    /// GET an image.
    pub async fn show(&self, token: &str, id: &str) -> Reply {
        self.s
            .get(&self.url(&format!("/v2/images/{id}")), token)
            .await
    }

    /// PATCH with the JSON-patch media type.
    pub async fn patch(&self, token: &str, id: &str, ops: Value) -> Reply {
        let rb = self
            .s
            .req(Method::PATCH, &self.url(&format!("/v2/images/{id}")), token)
            .header(
                "Content-Type",
                "application/openstack-images-v2.1-json-patch",
            )
            .body(ops.to_string());
        self.s.call(rb).await
    }

    /// PUT image data.
    pub async fn upload(&self, token: &str, id: &str, data: Vec<u8>) -> Reply {
        let rb = self
            .s
            .req(
                Method::PUT,
                &self.url(&format!("/v2/images/{id}/file")),
                token,
            )
            .header("Content-Type", "application/octet-stream")
            .body(data);
        self.s.call(rb).await
    }

    /// PUT staged data (`/stage`).
    pub async fn stage(&self, token: &str, id: &str, data: Vec<u8>) -> Reply {
        let rb = self
            .s
            .req(
                Method::PUT,
                &self.url(&format!("/v2/images/{id}/stage")),
                token,
            )
            .header("Content-Type", "application/octet-stream")
            .body(data);
        self.s.call(rb).await
    }

    /// POST an import request.
    pub async fn import(&self, token: &str, id: &str, body: Value) -> Reply {
        self.s
            .send(
                Method::POST,
                &self.url(&format!("/v2/images/{id}/import")),
                token,
                body,
            )
            .await
    }

    /// GET image data: (status, headers, bytes).
    pub async fn download(
        &self,
        token: &str,
        id: &str,
    ) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let resp = self
            .s
            .req(
                Method::GET,
                &self.url(&format!("/v2/images/{id}/file")),
                token,
            )
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.bytes().await.unwrap().to_vec())
    }

    /// Names of the images `token` lists with `query`.
    pub async fn names(&self, token: &str, query: &str) -> Vec<String> {
        let r = self
            .s
            .get(&self.url(&format!("/v2/images{query}")), token)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// A qcow2/raw-agnostic image body: `{"name", "disk_format", "container_format"}`.
pub fn image_body(name: &str, disk_format: &str) -> Value {
    json!({"name": name, "disk_format": disk_format, "container_format": "bare"})
}

/// Assert Glance's error shape with `code`; return the message.
pub fn assert_glance_error(r: &Reply, code: u16) -> String {
    assert_eq!(r.status, code, "body: {}", r.body);
    assert_eq!(r.body["code"], code, "body: {}", r.body);
    assert!(r.body["title"].is_string(), "body: {}", r.body);
    let message = r.body["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "no message: {}", r.body);
    message.to_string()
}

/// Run `qemu-img` with `args` in `dir`; panics with its stderr on failure.
pub fn qemu_img(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("qemu-img")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("qemu-img must be installed for the image tests");
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
