//! The certificates and the join file of a multi-host cloud, on disk.
//!
//! The controller keeps its host API certificate in `DATA/host-api/` and
//! an agent its console certificate in `DATA/agent-api/`, both generated
//! on first start and reused after (a pinned certificate must not change
//! behind its callers' backs). The controller also keeps the join file,
//! `DATA/join-token`: `ferrostack-join-v1 <token> sha256:<fingerprint>`,
//! mode 0600, rewritten only when the certificate changed or the file
//! holds a bare token from before TLS; the token itself survives both.
//!
//! Several controllers of one cloud (one PostgreSQL database) must look
//! like one to the agents, which pin one fingerprint and hold one token.
//! The operator (or `ferrostack deploy`) copies `DATA/host-api/` and
//! `DATA/join-token` from the first controller to the others before
//! they start; finding both, a controller uses them as they are, so
//! every controller serves the same certificate and accepts the same
//! token. Rejected: a `--join-from` option (the same copy with one more
//! flag to learn) and keeping the key in the database (a database
//! reader would then hold the identity agents trust).

use crate::{compute_host, rcfile};
use anyhow::Context;
use ferrostack_compute::hostapi;
use ferrostack_host_contract::join::JoinFile;
use ferrostack_host_contract::tls::TlsIdentity;
use std::path::Path;

/// The names a certificate of this machine carries: `extra` (the public
/// host or advertised address), 127.0.0.1, localhost and the host name.
/// Callers pin the certificate, so these only help humans and tools
/// that look.
pub fn machine_names(extra: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    names.extend(["127.0.0.1".into(), "localhost".into()]);
    names.push(compute_host::default_host_name());
    names
}

/// The certificate kept in `dir`, generated there on first start.
pub fn identity(dir: &Path, common_name: &str, names: &[String]) -> anyhow::Result<TlsIdentity> {
    TlsIdentity::load_or_create(dir, common_name, names)
        .with_context(|| format!("cannot set up the TLS certificate in {}", dir.display()))
}

/// The cluster's join token, from the join file at `path`: generated
/// (32 random bytes, hex) when there is none, and the file (re)written
/// when it does not pin `identity`'s certificate.
pub fn load_or_create_join_file(path: &Path, identity: &TlsIdentity) -> anyhow::Result<String> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => {
            Some(JoinFile::parse(&text).with_context(|| format!("cannot use {}", path.display()))?)
        }
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let cert = identity.fingerprint();
    let token = match existing {
        Some(j) if j.controller_cert == Some(cert) => return Ok(j.token),
        Some(j) => {
            tracing::warn!(path = %path.display(), %cert, "the join file now pins the host API's current certificate; hosts need the new file");
            j.token
        }
        None => {
            tracing::info!(path = %path.display(), "generated the join token for compute hosts");
            hostapi::new_join_token()
        }
    };
    rcfile::write_private(path, &JoinFile::render(&token, cert))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_join_file_keeps_its_token_and_pins_the_current_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("join-token");
        let names = machine_names(&["ctl.example"]);
        let id = identity(&dir.path().join("host-api"), "t", &names).unwrap();
        let token = load_or_create_join_file(&path, &id).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("ferrostack-join-v1 {token} {}\n", id.fingerprint())
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A restart: the same certificate, the same file.
        let again = identity(&dir.path().join("host-api"), "t", &names).unwrap();
        assert_eq!(again.fingerprint(), id.fingerprint());
        assert_eq!(load_or_create_join_file(&path, &again).unwrap(), token);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        // A bare token from before TLS is kept and the pin added.
        std::fs::write(&path, "oldtoken\n").unwrap();
        assert_eq!(load_or_create_join_file(&path, &id).unwrap(), "oldtoken");
        let j = JoinFile::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(j.controller_cert, Some(id.fingerprint()));
        // A new certificate: same token, new pin.
        let other = identity(&dir.path().join("other"), "t", &names).unwrap();
        assert_eq!(load_or_create_join_file(&path, &other).unwrap(), "oldtoken");
        let j = JoinFile::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(j.controller_cert, Some(other.fingerprint()));
        std::fs::write(&path, "ferrostack-join-v1 broken").unwrap();
        assert!(load_or_create_join_file(&path, &id).is_err());
    }

    #[test]
    fn a_controller_given_the_first_ones_files_serves_the_same_identity() {
        let first = tempfile::tempdir().unwrap();
        let names = machine_names(&["lb.example"]);
        let id = identity(&first.path().join("host-api"), "t", &names).unwrap();
        let token = load_or_create_join_file(&first.path().join("join-token"), &id).unwrap();
        let join = std::fs::read_to_string(first.path().join("join-token")).unwrap();
        // What the operator copies to the second controller.
        let second = tempfile::tempdir().unwrap();
        std::fs::create_dir(second.path().join("host-api")).unwrap();
        for f in ["cert.pem", "key.pem"] {
            std::fs::copy(
                first.path().join("host-api").join(f),
                second.path().join("host-api").join(f),
            )
            .unwrap();
        }
        std::fs::write(second.path().join("join-token"), &join).unwrap();
        let other_names = machine_names(&["ctl2.example"]);
        let id2 = identity(&second.path().join("host-api"), "t", &other_names).unwrap();
        assert_eq!(id2.fingerprint(), id.fingerprint());
        let token2 = load_or_create_join_file(&second.path().join("join-token"), &id2).unwrap();
        assert_eq!(token2, token);
        assert_eq!(
            std::fs::read_to_string(second.path().join("join-token")).unwrap(),
            join
        );
    }
}
