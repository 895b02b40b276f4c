//! AWS request signatures as Keystone's `POST /v3/ec2tokens` checks them.
//!
//! An EC2-compatible front end (ec2-api, Swift's s3api, a Heat wait
//! condition) receives a request signed with an EC2 secret it does not
//! know, and forwards the signed parts to Keystone: the access key, the
//! signature, the host, verb, path, query parameters, and for signature
//! version 4 the headers and the body's hash. Keystone recomputes the
//! signature with the stored secret; a match buys a token.
//!
//! The algorithms are those of keystoneclient's `Ec2Signer` that Keystone
//! calls, bit for bit, including its quirks, because the front ends were
//! written against it: version 2 always signs with HMAC-SHA256 and sets
//! `SignatureMethod=HmacSHA256` in the parameters before signing; version 4
//! leaves the query string out of the canonical request of a POST; the
//! `host` header loses its port for the old boto clients that sign it
//! without. Versions 0 and 1 (HMAC-SHA1) are kept because the signer still
//! accepts them.
//!
//! Pure functions of their input, so the unit tests pin each version to
//! values computed with keystoneclient itself.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

type HmacSha1 = Hmac<Sha1>;
type HmacSha256 = Hmac<Sha256>;

/// The signed parts of a request, as the front end forwards them.
#[derive(Clone, Debug, Default)]
pub struct SignedRequest {
    /// `Host` as the client signed it (with or without the port).
    pub host: String,
    /// HTTP method.
    pub verb: String,
    /// Request path.
    pub path: String,
    /// Query (or form) parameters.
    pub params: BTreeMap<String, String>,
    /// Request headers (version 4), as sent.
    pub headers: BTreeMap<String, String>,
    /// Hex SHA-256 of the body (version 4).
    pub body_hash: String,
    /// Whether a `headers` object was sent at all (the version 4 detection
    /// looks at parameters only when it was not, as the signer does).
    pub headers_given: bool,
}

/// Why no signature could be computed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// `SignatureVersion` names a version the signer does not know.
    #[error("unknown signature version")]
    UnknownVersion,
    /// Neither a version nor a version 4 authorization was given.
    #[error("unexpected signature format")]
    UnknownFormat,
    /// A part the version needs is missing or malformed.
    #[error("malformed signed request")]
    Malformed,
    /// The version 4 date is not the credential scope's date.
    #[error("request date mismatch")]
    DateMismatch,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default()
}

impl SignedRequest {
    /// Read the parts from the `credentials` object of an ec2tokens body.
    pub fn from_json(c: &Map<String, Value>) -> SignedRequest {
        let s = |k: &str| c.get(k).map(text).unwrap_or_default();
        SignedRequest {
            host: s("host"),
            verb: s("verb"),
            path: s("path"),
            params: string_map(c.get("params")),
            headers: string_map(c.get("headers")),
            body_hash: s("body_hash"),
            headers_given: c.get("headers").is_some_and(Value::is_object),
        }
    }

    /// The timestamp the request was signed with, if it carries one.
    pub fn timestamp(&self) -> Option<&str> {
        self.params
            .get("Timestamp")
            .or_else(|| self.headers.get("X-Amz-Date"))
            .or_else(|| self.params.get("X-Amz-Date"))
            .map(String::as_str)
    }

    fn is_v4(&self) -> bool {
        if self.headers_given {
            if let Some(a) = self.headers.get("Authorization") {
                return a.starts_with("AWS4-HMAC-SHA256");
            }
        }
        self.params.get("X-Amz-Algorithm").map(String::as_str) == Some("AWS4-HMAC-SHA256")
    }
}

/// The signature `secret` gives the request (base64 for versions 0 to 2,
/// hex for version 4).
pub fn generate(secret: &str, req: &SignedRequest) -> Result<String, SignatureError> {
    match req.params.get("SignatureVersion").map(String::as_str) {
        Some("0") => v0(secret, &req.params),
        Some("1") => Ok(v1(secret, &req.params)),
        Some("2") => Ok(v2(secret, req)),
        _ if req.is_v4() => v4(secret, req),
        Some(_) => Err(SignatureError::UnknownVersion),
        None => Err(SignatureError::UnknownFormat),
    }
}

/// Does `given` match what `secret` gives the request? Tried a second time
/// with the host's port taken off, for clients that sign without it
/// (Keystone does the same). Compared in constant time.
pub fn verify(secret: &str, req: &SignedRequest, given: &str) -> Result<bool, SignatureError> {
    let matches = |sig: String| -> bool {
        use subtle::ConstantTimeEq;
        sig.len() == given.len() && bool::from(sig.as_bytes().ct_eq(given.as_bytes()))
    };
    if matches(generate(secret, req)?) {
        return Ok(true);
    }
    if req.host.contains(':') {
        let mut bare = req.clone();
        bare.host = host_without_port(&req.host);
        return Ok(matches(generate(secret, &bare)?));
    }
    Ok(false)
}

/// The host name of `host[:port]` (lower case, IPv6 brackets removed), as
/// Python's `urlsplit('//' + host).hostname`.
fn host_without_port(host: &str) -> String {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.split(':').next().unwrap_or(host),
    };
    name.to_ascii_lowercase()
}

fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length: new_from_slice cannot fail.
    let mut m = HmacSha1::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn v0(secret: &str, params: &BTreeMap<String, String>) -> Result<String, SignatureError> {
    let action = params.get("Action").ok_or(SignatureError::Malformed)?;
    let ts = params.get("Timestamp").ok_or(SignatureError::Malformed)?;
    Ok(STANDARD.encode(hmac_sha1(
        secret.as_bytes(),
        &[action.as_bytes(), ts.as_bytes()],
    )))
}

fn v1(secret: &str, params: &BTreeMap<String, String>) -> String {
    // Keys in case-insensitive order (a stable sort over the sorted map,
    // as Python's `sorted(params, key=str.lower)` over insertion order is
    // only stable for keys that differ in more than case).
    let mut keys: Vec<&String> = params.keys().collect();
    keys.sort_by_key(|k| k.to_lowercase());
    let mut parts: Vec<&[u8]> = Vec::new();
    for k in keys {
        parts.push(k.as_bytes());
        parts.push(params[k].as_bytes());
    }
    STANDARD.encode(hmac_sha1(secret.as_bytes(), &parts))
}

/// Percent-encode all but RFC 3986's unreserved characters, upper-case hex.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parameters sorted by key, both sides encoded, joined with `&`.
fn canonical_qs(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn v2(secret: &str, req: &SignedRequest) -> String {
    let mut params = req.params.clone();
    params.insert("SignatureMethod".into(), "HmacSHA256".into());
    let to_sign = format!(
        "{}\n{}\n{}\n{}",
        req.verb,
        req.host,
        req.path,
        canonical_qs(&params)
    );
    STANDARD.encode(hmac_sha256(secret.as_bytes(), to_sign.as_bytes()))
}

fn v4(secret: &str, req: &SignedRequest) -> Result<String, SignatureError> {
    let auth = req
        .headers
        .get("Authorization")
        .filter(|_| req.headers_given);
    let auth_param = |name: &str| -> Option<String> {
        match auth {
            Some(a) => Some(
                a.split_once(&format!("{name}="))
                    .map(|(_, rest)| rest.split(',').next().unwrap_or("").to_string())
                    .unwrap_or_default(),
            ),
            None => req.params.get(&format!("X-Amz-{name}")).cloned(),
        }
    };
    let signed_headers = auth_param("SignedHeaders").ok_or(SignatureError::Malformed)?;
    let lower: BTreeMap<String, String> = req
        .headers
        .iter()
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    // Boto before 2.9.3 signed `host` without its port.
    let old_boto = lower.get("user-agent").is_some_and(|ua| {
        let b = ua.as_bytes();
        ua.starts_with("Boto/2.")
            && b.len() >= 10
            && b[7].is_ascii_digit()
            && b[8] == b'.'
            && (b'0'..=b'2').contains(&b[9])
    });
    let mut header_lines = Vec::new();
    for h in signed_headers.split(';') {
        let Some(v) = lower.get(h) else { continue };
        if h == "host" && old_boto {
            header_lines.push(format!("{h}:{}", v.split(':').next().unwrap_or(v)));
        } else {
            header_lines.push(format!("{h}:{v}"));
        }
    }
    let canonical_headers = header_lines.join("\n") + "\n";
    let query = if req.verb.eq_ignore_ascii_case("POST") {
        String::new()
    } else {
        canonical_qs(&req.params)
    };
    let canonical_request = [
        req.verb.to_uppercase(),
        req.path.clone(),
        query,
        canonical_headers,
        signed_headers,
        req.body_hash.clone(),
    ]
    .join("\n");

    let credential = auth_param("Credential").ok_or(SignatureError::Malformed)?;
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() < 4 {
        return Err(SignatureError::Malformed);
    }
    let scope = parts[1..].join("/");
    let date = req
        .headers
        .get("X-Amz-Date")
        .filter(|_| req.headers_given)
        .or_else(|| req.params.get("X-Amz-Date"))
        .ok_or(SignatureError::Malformed)?;
    if !date.starts_with(parts[1]) {
        return Err(SignatureError::DateMismatch);
    }
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac_sha256(format!("AWS4{secret}").as_bytes(), parts[1].as_bytes());
    for step in [parts[2], parts[3], "aws4_request"] {
        key = hmac_sha256(&key, step.as_bytes());
    }
    Ok(hex::encode(hmac_sha256(&key, to_sign.as_bytes())))
}

#[cfg(test)]
mod tests;
