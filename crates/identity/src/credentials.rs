//! Credential blobs sealed at rest.
//!
//! Keystone encrypts every credential blob with a key from its own
//! repository (`credential-keys`, beside the Fernet token keys), so a copy
//! of the database does not give away EC2 secrets or TOTP seeds. ferrostack
//! does the same with a second key repository next to the token keys (the
//! `credential` repository of [`crate::key_store`], in the database sealed
//! with the master key, so every controller opens what another sealed) and
//! the AEAD the tokens use:
//!
//! ```text
//! sealed = "1:" key_number ":" base64url( nonce:24 | XChaCha20-Poly1305(blob) )
//! associated data = key_number ":" credential_id
//! ```
//!
//! The credential id in the associated data binds a blob to its row: a
//! blob copied onto another credential does not open. The key number names
//! the key, as a token does, so a future rotation keeps old blobs readable.
//! Rejected: reusing the token keys (their rotation retires keys within a
//! token lifetime, which would lose every credential sealed before it).

use crate::error::{IdResult, IdentityError};
use crate::keys::KeySet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

fn aad(key_number: u32, credential_id: &str) -> Vec<u8> {
    format!("{key_number}:{credential_id}").into_bytes()
}

/// Seal `blob` for the credential `credential_id` with the primary key.
pub fn seal(keys: &KeySet, credential_id: &str, blob: &str) -> IdResult<String> {
    let (n, key) = keys
        .primary()
        .ok_or_else(|| IdentityError::Internal("no credential key".into()))?;
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ad = aad(n, credential_id);
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: blob.as_bytes(),
                aad: &ad,
            },
        )
        .map_err(|_| IdentityError::Internal("credential sealing failed".into()))?;
    let mut raw = nonce.to_vec();
    raw.extend_from_slice(&ct);
    Ok(format!("1:{n}:{}", URL_SAFE_NO_PAD.encode(raw)))
}

/// Open a sealed blob of the credential `credential_id`.
pub fn open(keys: &KeySet, credential_id: &str, sealed: &str) -> IdResult<String> {
    let broken = || IdentityError::Internal(format!("credential {credential_id} does not open"));
    let mut parts = sealed.splitn(3, ':');
    let (Some("1"), Some(n), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(broken());
    };
    let n: u32 = n.parse().map_err(|_| broken())?;
    let key = keys.keys.get(&n).ok_or_else(broken)?;
    let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| broken())?;
    if raw.len() < 24 {
        return Err(broken());
    }
    let (nonce, ct) = raw.split_at(24);
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let clear = cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: &aad(n, credential_id),
            },
        )
        .map_err(|_| broken())?;
    String::from_utf8(clear).map_err(|_| broken())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Key;

    fn keys() -> KeySet {
        let mut k = Key::default();
        rand::rngs::OsRng.fill_bytes(k.as_mut());
        KeySet {
            keys: [(1, k)].into_iter().collect(),
        }
    }

    #[test]
    fn a_blob_round_trips_and_is_not_stored_in_the_clear() {
        let k = keys();
        let sealed = seal(&k, "c1", r#"{"secret": "s3cr3t"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(!sealed.contains("s3cr3t"));
        assert_eq!(
            open(&k, "c1", &sealed).unwrap_or_else(|e| panic!("{e}")),
            r#"{"secret": "s3cr3t"}"#
        );
    }

    #[test]
    fn a_blob_moved_to_another_credential_does_not_open() {
        let k = keys();
        let sealed = seal(&k, "c1", "blob").unwrap_or_else(|e| panic!("{e}"));
        assert!(open(&k, "c2", &sealed).is_err());
    }
}
