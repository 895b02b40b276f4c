//! Guest metadata (169.254.169.254) across the host-controller hop.
//!
//! A guest asks its host for metadata; the host's agent finds the
//! instance from the network and source address the request came from
//! (never from anything the guest says) and asks the controller for that
//! instance's document, naming it in [`INSTANCE_ID_HEADER`] and signing
//! the name in [`SIGNATURE_HEADER`]: an HMAC-SHA256 of the instance id,
//! as Neutron's metadata agent signs for Nova with its shared secret. The
//! controller compares in constant time and also checks that the instance
//! is assigned to the asking host, so one host's agent cannot read the
//! metadata of another host's guests.
//!
//! The key is derived from the join token both sides already hold
//! ([`signing_key`]), rather than being the token itself: the token is a
//! bearer secret sent on every call, the key never leaves either side.

use crate::StateFuture;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The header naming the instance.
pub const INSTANCE_ID_HEADER: &str = "x-instance-id";
/// The header carrying [`sign`] of the instance id.
pub const SIGNATURE_HEADER: &str = "x-instance-id-signature";
/// Longest metadata path accepted.
pub const MAX_PATH: usize = 256;

/// One metadata document as the controller answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataAnswer {
    /// Its content type.
    pub content_type: String,
    /// Its bytes.
    pub body: Vec<u8>,
}

/// Where a host's agent gets its guests' metadata: the controller, in
/// process (`allinone`) or over the host API with the signed instance id.
pub trait MetadataSource: Send + Sync {
    /// The document at `path` of `instance`, asked for by `host`; `None`
    /// when the instance is not `host`'s or the path is not in the tree.
    fn metadata<'a>(
        &'a self,
        host: &'a str,
        instance: &'a str,
        path: &'a str,
    ) -> StateFuture<'a, Option<MetadataAnswer>>;
}

/// The HMAC key of the metadata hop, derived from the join token.
pub fn signing_key(join_token: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"ferrostack metadata signing key\0");
    h.update(join_token.as_bytes());
    h.finalize().to_vec()
}

/// The hex HMAC-SHA256 of `instance_id` under `key`.
pub fn sign(key: &[u8], instance_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(instance_id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `signature` is [`sign`] of `instance_id`, compared in
/// constant time.
pub fn verify(key: &[u8], instance_id: &str, signature: &str) -> bool {
    let Ok(given) = hex::decode(signature) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(instance_id.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// A metadata path a guest may ask for: printable, no `..`, bounded.
pub fn valid_path(path: &str) -> bool {
    path.len() <= MAX_PATH
        && !path.split('/').any(|seg| seg == "..")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_instance_and_key() {
        let key = signing_key("token-a");
        let sig = sign(&key, "11111111-2222-3333-4444-555555555555");
        assert!(verify(&key, "11111111-2222-3333-4444-555555555555", &sig));
        assert!(!verify(&key, "11111111-2222-3333-4444-555555555556", &sig));
        assert!(!verify(
            &signing_key("token-b"),
            "11111111-2222-3333-4444-555555555555",
            &sig
        ));
        assert!(!verify(&key, "11111111-2222-3333-4444-555555555555", "zz"));
        assert_ne!(key, b"token-a".to_vec());
    }

    #[test]
    fn paths_stay_inside_the_tree() {
        assert!(valid_path("openstack/latest/meta_data.json"));
        assert!(valid_path("latest/meta-data/public-keys/0/openssh-key"));
        assert!(!valid_path("openstack/../../etc/passwd"));
        assert!(!valid_path("latest/meta-data/%2e%2e"));
        assert!(!valid_path(&"a".repeat(MAX_PATH + 1)));
    }
}
