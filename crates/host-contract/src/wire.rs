//! What both ends of the host API share: the path prefix, the request
//! bodies, the error body, host name rules and the join token check.
//!
//! The controller side (`ferrostack_compute::hostapi`) and the agent side
//! (`ferrostack_agent::remote`, its console server) both use these, so
//! the two cannot drift apart, and the token comparison exists once.

use crate::Capabilities;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Where the host API lives on the controller's host API listener.
pub const PREFIX: &str = "/internal/host/v1";

/// The longest long poll the controller holds a watch request.
pub const MAX_WATCH: std::time::Duration = std::time::Duration::from_secs(60);

/// The console bytes an agent returns when the caller names no length.
pub const DEFAULT_CONSOLE_BYTES: usize = 64 * 1024;

/// The most console bytes an agent returns at once.
pub const MAX_CONSOLE_BYTES: usize = 1024 * 1024;

/// An error and its sources on one line (a TLS failure's reason is
/// several sources deep in a reqwest error): the one `error_chain`.
pub use ferrostack_common::error::error_chain;

/// `POST /hosts/{host}/register`: an agent announces itself (and, sent
/// again every few seconds, its heartbeat).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// The availability zone (`nova` unless configured).
    pub zone: String,
    /// What the host's hypervisor offers.
    pub capabilities: Capabilities,
    /// The agent's own endpoint (its console server), e.g.
    /// `https://10.0.0.2:8780`; the controller calls it back with the
    /// join token.
    pub console_url: String,
    /// The fingerprint of the console server's certificate, which the
    /// controller pins when it calls back (`sha256:<hex>`).
    pub console_cert_sha256: super::tls::Fingerprint,
    /// The host's tunnel (VXLAN underlay) address, when it has one
    /// (`--tunnel-ip`): what the other hosts of a VXLAN network send to.
    /// Absent from older agents; the controller then uses the console
    /// URL's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel_ip: Option<String>,
}

/// The answer of `GET /hosts/{host}/watch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchReply {
    /// The host's current revision.
    pub revision: u64,
}

/// The error body of both ends: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// The HTTP status code.
    pub code: u16,
    /// What went wrong.
    pub message: String,
}

/// An error response with the JSON body both ends use.
pub fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: status.as_u16(),
            message: message.into(),
        },
    };
    (status, axum::Json(body)).into_response()
}

/// The 401 every unauthenticated request gets.
pub fn unauthorized() -> Response {
    let mut r = error_response(
        StatusCode::UNAUTHORIZED,
        "The request needs the cluster's join token as a Bearer token.",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    );
    r
}

/// Whether `headers` carry `Authorization: Bearer <token>`. Both sides
/// are hashed first and the digests compared in constant time, so neither
/// the token's bytes nor its length leak through timing.
pub fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let a = Sha256::digest(given.trim().as_bytes());
    let b = Sha256::digest(token.as_bytes());
    !token.is_empty() && bool::from(a.ct_eq(&b))
}

/// Whether `host` is usable as a compute host name and a URL path
/// segment: 1 to 255 ASCII letters, digits, `.`, `-` or `_`, not
/// starting with `.`.
pub fn valid_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && !host.starts_with('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The host part of an http(s) URL, without IPv6 brackets; `None`
/// when it has none.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn bearer_token_must_match_exactly() {
        assert!(bearer_matches(&headers("Bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(&headers("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(&headers("Bearer s3cret2"), "s3cret"));
        assert!(!bearer_matches(&headers("Basic s3cret"), "s3cret"));
        assert!(!bearer_matches(&HeaderMap::new(), "s3cret"));
        assert!(!bearer_matches(&headers("Bearer "), ""));
    }

    #[test]
    fn host_names() {
        assert!(valid_host_name("compute-1.example_b"));
        assert!(!valid_host_name(""));
        assert!(!valid_host_name(".."));
        assert!(!valid_host_name("a/b"));
        assert!(!valid_host_name("a b"));
        assert!(!valid_host_name(&"a".repeat(256)));
    }

    #[test]
    fn a_registration_without_a_tunnel_address_still_parses() {
        let old = serde_json::json!({
            "zone": "nova",
            "capabilities": serde_json::to_value(Capabilities {
                hypervisor_type: "QEMU".into(),
                accelerator: crate::Accelerator::Tcg,
                vcpus: 2,
                memory_mib: 2048,
                local_disk_gib: 10,
                cpu_arch: "x86_64".into(),
                booted_at: None,
                load: None,
            })
            .unwrap(),
            "console_url": "https://10.0.0.2:8780",
            "console_cert_sha256": crate::tls::Fingerprint::of(b"c").to_string(),
        });
        let r: RegisterRequest = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(r.tunnel_ip, None);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            old,
            "no null field for old controllers"
        );
        let new = RegisterRequest {
            tunnel_ip: Some("192.168.77.2".into()),
            ..r
        };
        let back: RegisterRequest =
            serde_json::from_value(serde_json::to_value(&new).unwrap()).unwrap();
        assert_eq!(back.tunnel_ip.as_deref(), Some("192.168.77.2"));
    }

    #[test]
    fn url_hosts() {
        assert_eq!(url_host("https://10.0.0.2:8780"), Some("10.0.0.2"));
        assert_eq!(url_host("https://[fd00::2]:8780/x"), Some("fd00::2"));
        assert_eq!(url_host("https://h.example/"), Some("h.example"));
        assert_eq!(url_host("https://:1"), None);
    }
}
