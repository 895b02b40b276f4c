//! Token format: an authenticated-encryption envelope around a small payload.
//!
//! ```text
//! token = base64url( key_number:u32 | nonce:24 | XChaCha20-Poly1305(payload, aad = key_number) )
//! payload = version:u8 | methods:u8 | user_id | scope_kind:u8 | scope_id
//!         | issued_at:i64 | expires_at:i64 | audit_id | parent_audit_id | app_cred_id
//!         | trust_id                                   (version 2 only)
//! strings = len:u16 | utf-8 bytes
//! ```
//!
//! Version 2 added the trust id of trust-scoped tokens. Version 1 tokens
//! (sealed before the upgrade) still open, as tokens without a trust, so a
//! restart onto a newer build logs nobody out.
//!
//! Like Keystone's Fernet tokens, nothing is stored per token: the payload
//! names the user and scope, and roles and the catalog are looked up again
//! on validation, so removing a role takes effect at once. Revocation is a
//! list of events (see [`crate::service`]). An AEAD (rather than Fernet's
//! AES-CBC + HMAC) gives the same guarantees with one primitive and a
//! random 192-bit nonce that never needs a counter.

use crate::keys::KeySet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

const VERSION: u8 = 2;
/// The format before trusts: no trailing trust id.
const VERSION_1: u8 = 1;

/// Authentication methods, as a bit set.
pub mod methods {
    /// `password`.
    pub const PASSWORD: u8 = 1;
    /// `token`.
    pub const TOKEN: u8 = 2;
    /// `application_credential`.
    pub const APP_CREDENTIAL: u8 = 4;
    /// `ec2credential`: issued by `POST /v3/ec2tokens`.
    pub const EC2_CREDENTIAL: u8 = 8;

    /// Method names for a bit set, in Keystone's order.
    pub fn names(bits: u8) -> Vec<String> {
        let mut out = Vec::new();
        if bits & PASSWORD != 0 {
            out.push("password".to_string());
        }
        if bits & TOKEN != 0 {
            out.push("token".to_string());
        }
        if bits & APP_CREDENTIAL != 0 {
            out.push("application_credential".to_string());
        }
        if bits & EC2_CREDENTIAL != 0 {
            out.push("ec2credential".to_string());
        }
        out
    }
}

/// What a token is scoped to, as carried in the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenScope {
    /// No scope.
    Unscoped,
    /// Project id.
    Project(String),
    /// Domain id.
    Domain(String),
    /// System.
    System,
}

/// The decrypted contents of a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPayload {
    /// Methods bit set.
    pub methods: u8,
    /// User id.
    pub user_id: String,
    /// Scope.
    pub scope: TokenScope,
    /// Issue time (µs).
    pub issued_at: i64,
    /// Expiry (µs).
    pub expires_at: i64,
    /// This token's audit id.
    pub audit_id: String,
    /// The audit id of the token it was re-scoped from, if any.
    pub parent_audit_id: Option<String>,
    /// Application credential used, if any.
    pub app_cred_id: Option<String>,
    /// The trust of a trust-scoped token (OS-TRUST).
    pub trust_id: Option<String>,
}

/// Why a token string could not be opened.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not base64, too short, or the payload is malformed.
    #[error("malformed token")]
    Malformed,
    /// Sealed with a key this repository does not hold.
    #[error("token key {0} is unknown")]
    UnknownKey(u32),
    /// Authentication failed: forged or corrupted.
    #[error("token failed authentication")]
    Forged,
    /// The key set is empty.
    #[error("no token keys are loaded")]
    NoKeys,
}

/// Seal a payload with the primary key.
pub fn seal(keys: &KeySet, payload: &TokenPayload) -> Result<String, TokenError> {
    let (number, key) = keys.primary().ok_or(TokenError::NoKeys)?;
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let aad = number.to_be_bytes();
    let plaintext = encode(payload);
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| TokenError::Forged)?;
    let mut out = Vec::with_capacity(4 + 24 + sealed.len());
    out.extend_from_slice(&aad);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(URL_SAFE_NO_PAD.encode(out))
}

/// The key number a token names, without opening it.
pub fn key_number(token: &str) -> Result<u32, TokenError> {
    let raw = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| TokenError::Malformed)?;
    if raw.len() < 4 + 24 + 16 {
        return Err(TokenError::Malformed);
    }
    Ok(u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]))
}

/// Open a token with the key it names.
pub fn open(keys: &KeySet, token: &str) -> Result<TokenPayload, TokenError> {
    if token.len() > 1024 {
        return Err(TokenError::Malformed);
    }
    let raw = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| TokenError::Malformed)?;
    if raw.len() < 4 + 24 + 16 {
        return Err(TokenError::Malformed);
    }
    let number = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let key = keys
        .keys
        .get(&number)
        .ok_or(TokenError::UnknownKey(number))?;
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let plaintext = cipher
        .decrypt(
            XNonce::from_slice(&raw[4..28]),
            Payload {
                msg: &raw[28..],
                aad: &raw[0..4],
            },
        )
        .map_err(|_| TokenError::Forged)?;
    decode(&plaintext).ok_or(TokenError::Malformed)
}

/// A new random audit id: 16 bytes, base64url, as Keystone renders them.
pub fn new_audit_id() -> String {
    let mut raw = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..len as usize]);
}

fn encode(p: &TokenPayload) -> Vec<u8> {
    let mut out = Vec::with_capacity(160);
    out.push(VERSION);
    out.push(p.methods);
    put_str(&mut out, &p.user_id);
    let (kind, id) = match &p.scope {
        TokenScope::Unscoped => (0u8, ""),
        TokenScope::Project(id) => (1, id.as_str()),
        TokenScope::Domain(id) => (2, id.as_str()),
        TokenScope::System => (3, ""),
    };
    out.push(kind);
    put_str(&mut out, id);
    out.extend_from_slice(&p.issued_at.to_be_bytes());
    out.extend_from_slice(&p.expires_at.to_be_bytes());
    put_str(&mut out, &p.audit_id);
    put_str(&mut out, p.parent_audit_id.as_deref().unwrap_or(""));
    put_str(&mut out, p.app_cred_id.as_deref().unwrap_or(""));
    put_str(&mut out, p.trust_id.as_deref().unwrap_or(""));
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8)
            .and_then(|b| b.try_into().ok())
            .map(i64::from_be_bytes)
    }
    fn string(&mut self) -> Option<String> {
        let len = self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))?;
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec()).ok()
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn decode(bytes: &[u8]) -> Option<TokenPayload> {
    let mut r = Reader(bytes);
    let version = r.u8()?;
    if version != VERSION && version != VERSION_1 {
        return None;
    }
    let methods = r.u8()?;
    let user_id = r.string()?;
    let kind = r.u8()?;
    let id = r.string()?;
    let scope = match kind {
        0 => TokenScope::Unscoped,
        1 => TokenScope::Project(id),
        2 => TokenScope::Domain(id),
        3 => TokenScope::System,
        _ => return None,
    };
    let issued_at = r.i64()?;
    let expires_at = r.i64()?;
    let audit_id = r.string()?;
    let parent_audit_id = non_empty(r.string()?);
    let app_cred_id = non_empty(r.string()?);
    let trust_id = if version == VERSION {
        non_empty(r.string()?)
    } else {
        None
    };
    if !r.0.is_empty() {
        return None;
    }
    Some(TokenPayload {
        methods,
        user_id,
        scope,
        issued_at,
        expires_at,
        audit_id,
        parent_audit_id,
        app_cred_id,
        trust_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyRepository;

    fn payload() -> TokenPayload {
        TokenPayload {
            methods: methods::PASSWORD,
            user_id: "0123456789abcdef0123456789abcdef".into(),
            scope: TokenScope::Project("fedcba9876543210fedcba9876543210".into()),
            issued_at: 1_700_000_000_000_000,
            expires_at: 1_700_003_600_000_000,
            audit_id: new_audit_id(),
            parent_audit_id: None,
            app_cred_id: None,
            trust_id: None,
        }
    }

    fn keyset(dir: &std::path::Path) -> (KeyRepository, KeySet) {
        let repo = KeyRepository::new(dir, 3);
        repo.ensure_initialized().unwrap();
        let set = repo.load().unwrap();
        (repo, set)
    }

    #[test]
    fn seal_then_open_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let (_, keys) = keyset(d.path());
        let token = seal(&keys, &payload()).unwrap();
        assert!(token.len() < 255, "token is {} chars", token.len());
        assert_eq!(
            open(&keys, &token).unwrap(),
            payload_with_audit(&token, &keys)
        );
    }

    fn payload_with_audit(token: &str, keys: &KeySet) -> TokenPayload {
        let mut p = payload();
        p.audit_id = open(keys, token).unwrap().audit_id;
        p
    }

    #[test]
    fn a_trust_id_round_trips_and_version_1_tokens_still_open() {
        let d = tempfile::tempdir().unwrap();
        let (_, keys) = keyset(d.path());
        let mut p = payload();
        p.trust_id = Some("0123456789abcdef0123456789abcdef".into());
        assert_eq!(open(&keys, &seal(&keys, &p).unwrap()).unwrap(), p);

        // A version 1 payload is the version 2 one without the trust id.
        let mut plain = payload();
        plain.trust_id = None;
        let mut v1 = encode(&plain);
        v1[0] = VERSION_1;
        v1.truncate(v1.len() - 2);
        assert_eq!(decode(&v1), Some(plain));
    }

    #[test]
    fn a_flipped_bit_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let (_, keys) = keyset(d.path());
        let token = seal(&keys, &payload()).unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(
            open(&keys, &URL_SAFE_NO_PAD.encode(raw)),
            Err(TokenError::Forged)
        );
        assert_eq!(open(&keys, "garbage!"), Err(TokenError::Malformed));
    }

    #[test]
    fn tokens_survive_one_rotation_and_die_when_their_key_retires() {
        let d = tempfile::tempdir().unwrap();
        let (repo, keys) = keyset(d.path());
        let token = seal(&keys, &payload()).unwrap();
        repo.rotate().unwrap();
        assert!(open(&repo.load().unwrap(), &token).is_ok());
        repo.rotate().unwrap();
        assert_eq!(
            open(&repo.load().unwrap(), &token),
            Err(TokenError::UnknownKey(1))
        );
    }
}
