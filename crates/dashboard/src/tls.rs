//! TLS for the dashboard listener: a certificate chain and key from PEM
//! files the operator provides (`--dashboard-cert`/`--dashboard-key`).
//! The TLS listener itself is the one the host API uses; this module only
//! builds its rustls configuration.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Why the dashboard's TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file is missing or unreadable.
    #[error("cannot read {path}")]
    Pem {
        /// The file.
        path: String,
        /// What the parser said.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// rustls refused the pair (e.g. the key does not match).
    #[error("the dashboard certificate and key are not usable")]
    Rustls(#[source] rustls::Error),
}

/// A rustls server configuration for the PEM certificate chain and key.
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let pem = |path: &Path| {
        let path = path.display().to_string();
        move |source| TlsError::Pem { path, source }
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(pem(cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem(cert))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem(key))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Rustls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Rustls)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pem_pair() -> (String, String) {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        (c.cert.pem(), c.key_pair.serialize_pem())
    }

    #[test]
    fn a_pem_certificate_and_its_key_load() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pem_pair();
        let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, key).unwrap();
        let config = load_tls(&c, &k).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ((cert, _), (_, other_key)) = (pem_pair(), pem_pair());
        let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, other_key).unwrap();
        assert!(matches!(load_tls(&c, &k), Err(TlsError::Rustls(_))));
        assert!(matches!(
            load_tls(&dir.path().join("missing.pem"), &k),
            Err(TlsError::Pem { .. })
        ));
    }
}
