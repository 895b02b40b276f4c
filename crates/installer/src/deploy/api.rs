//! The deployed controller, asked through its public APIs: is identity
//! answering, and which compute hosts has the compute service seen?
//!
//! Deploy asks the same questions an operator would (`GET /v3`, then
//! `os-services` with an admin token), so "the agents joined" means the
//! cloud says so, not that a process is running. Plain HTTP over
//! `std::net` is enough here (the API listeners are HTTP, the requests
//! are two), which keeps an HTTP client stack out of the installer.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A compute service as `os-services` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeService {
    /// The host name it registered.
    pub host: String,
    /// `up` or `down`.
    pub state: String,
}

/// The controller's APIs, as deploy needs them.
pub trait ControllerApi {
    /// Ok once the identity API answers `GET /v3`.
    fn identity_ready(&self) -> Result<(), String>;
    /// Ok once the identity API of the controller on `host` (one of
    /// several) answers `GET /v3` there: it has reached the database.
    fn identity_ready_on(&self, host: &str) -> Result<(), String> {
        let _ = host;
        self.identity_ready()
    }
    /// The compute services (`os-services?binary=nova-compute`), as admin.
    fn compute_services(&self) -> Result<Vec<ComputeService>, String>;
}

/// [`ControllerApi`] over HTTP.
pub struct HttpControllerApi {
    /// `host:port` of the identity API.
    pub identity: String,
    /// `host:port` of the compute API.
    pub compute: String,
    /// The admin password.
    pub admin_password: String,
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, String> {
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let mut stream = TcpStream::connect_timeout(&sock, Duration::from_secs(5))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("read from {addr}: {e}"))?;
    parse_response(&raw).ok_or_else(|| format!("{addr} sent a malformed HTTP response"))
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Response {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

impl HttpControllerApi {
    fn admin_token(&self) -> Result<String, String> {
        let body = serde_json::json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": self.admin_password}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}
        }})
        .to_string();
        let r = request(
            &self.identity,
            "POST",
            "/v3/auth/tokens",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )?;
        if r.status != 201 {
            return Err(format!(
                "the admin password of the answer file was refused (HTTP {}): was the cloud first deployed with another CONFIG_KEYSTONE_ADMIN_PW?",
                r.status
            ));
        }
        r.headers
            .into_iter()
            .find(|(k, _)| k == "x-subject-token")
            .map(|(_, v)| v)
            .ok_or_else(|| "no token in the identity API's answer".to_string())
    }
}

impl ControllerApi for HttpControllerApi {
    fn identity_ready(&self) -> Result<(), String> {
        let r = request(&self.identity, "GET", "/v3", &[], b"")?;
        if r.status == 200 {
            Ok(())
        } else {
            Err(format!("GET /v3 answered HTTP {}", r.status))
        }
    }

    fn identity_ready_on(&self, host: &str) -> Result<(), String> {
        let port = self.identity.rsplit_once(':').map_or("5000", |(_, p)| p);
        let addr = format!("{host}:{port}");
        let r = request(&addr, "GET", "/v3", &[], b"")?;
        if r.status == 200 {
            Ok(())
        } else {
            Err(format!("GET /v3 on {host} answered HTTP {}", r.status))
        }
    }

    fn compute_services(&self) -> Result<Vec<ComputeService>, String> {
        let token = self.admin_token()?;
        let r = request(
            &self.compute,
            "GET",
            "/v2.1/os-services?binary=nova-compute",
            &[("X-Auth-Token", &token)],
            b"",
        )?;
        if r.status != 200 {
            return Err(format!("GET os-services answered HTTP {}", r.status));
        }
        let doc: Value = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
        Ok(doc["services"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|s| ComputeService {
                        host: s["host"].as_str().unwrap_or("").to_string(),
                        state: s["state"].as_str().unwrap_or("").to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_parse_status_headers_and_body() {
        let r = parse_response(
            b"HTTP/1.1 201 Created\r\nX-Subject-Token: abc\r\ncontent-length: 2\r\n\r\n{}",
        )
        .expect("parses");
        assert_eq!(r.status, 201);
        assert!(r
            .headers
            .contains(&("x-subject-token".into(), "abc".into())));
        assert_eq!(r.body, b"{}");
        assert!(parse_response(b"garbage").is_none());
    }
}
