//! The self-signed certificate an endpoint serves, kept in a directory.
//!
//! Generated once (ECDSA P-256) and reused on every start, because its
//! fingerprint is what callers pin: a new certificate means a new join
//! file (controller) or a new registration (agent). The key is written
//! with mode 0600 through a temporary file, so a crash never leaves a
//! half-written or readable key.

use super::{Fingerprint, TlsError, TlsListener};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

/// A certificate and its private key.
pub struct TlsIdentity {
    pub(super) cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("TlsIdentity")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn pem_error(path: &Path) -> impl FnOnce(rustls::pki_types::pem::Error) -> TlsError + '_ {
    move |e| TlsError::Pem {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Writes `data` to `path` with `mode`, through a temporary file.
fn write_file(path: &Path, data: &str, mode: u32) -> Result<(), TlsError> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_error(&tmp))?;
    f.write_all(data.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io_error(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_error(path))
}

impl TlsIdentity {
    /// A new self-signed certificate for `names` (host names and IP
    /// addresses; ones a certificate cannot carry are skipped) with
    /// `common_name` as its subject.
    pub fn generate(
        common_name: &str,
        names: &[String],
    ) -> Result<(Self, String, String), TlsError> {
        let mut sans: Vec<String> = Vec::new();
        for n in names {
            let n = n.trim().trim_start_matches('[').trim_end_matches(']');
            let usable = !n.is_empty() && n.is_ascii() && !n.contains(char::is_whitespace);
            if usable && !sans.iter().any(|s| s == n) {
                sans.push(n.to_string());
            }
        }
        let mut params = rcgen::CertificateParams::new(sans).map_err(TlsError::Generate)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let key = rcgen::KeyPair::generate().map_err(TlsError::Generate)?;
        let cert = params.self_signed(&key).map_err(TlsError::Generate)?;
        let identity = TlsIdentity {
            cert: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        };
        Ok((identity, cert.pem(), key.serialize_pem()))
    }

    /// The identity kept in `dir` (`cert.pem`, `key.pem`), generated
    /// there with [`generate`](Self::generate) when neither file exists.
    /// One without the other is an error rather than a silent new
    /// identity.
    pub fn load_or_create(
        dir: &Path,
        common_name: &str,
        names: &[String],
    ) -> Result<Self, TlsError> {
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => {
                let cert =
                    CertificateDer::from_pem_file(&cert_path).map_err(pem_error(&cert_path))?;
                let key = PrivateKeyDer::from_pem_file(&key_path).map_err(pem_error(&key_path))?;
                Ok(TlsIdentity { cert, key })
            }
            (false, false) => {
                std::fs::create_dir_all(dir).map_err(io_error(dir))?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(io_error(dir))?;
                let (identity, cert_pem, key_pem) = Self::generate(common_name, names)?;
                write_file(&key_path, &key_pem, 0o600)?;
                write_file(&cert_path, &cert_pem, 0o644)?;
                tracing::info!(path = %cert_path.display(), fingerprint = %identity.fingerprint(), "generated a TLS certificate");
                Ok(identity)
            }
            (has_cert, _) => {
                let (found, missing) = if has_cert {
                    (&cert_path, &key_path)
                } else {
                    (&key_path, &cert_path)
                };
                Err(TlsError::Pem {
                    path: found.display().to_string(),
                    message: format!(
                        "found without {}; remove it to generate a new certificate (callers must then be given its new fingerprint)",
                        missing.display()
                    ),
                })
            }
        }
    }

    /// The certificate's fingerprint, what callers pin.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.cert)
    }

    /// A rustls server configuration serving this certificate (HTTP/1.1).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(super::provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rustls)?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], self.key.clone_key())
            .map_err(TlsError::Rustls)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Serves TLS with this certificate on `listener`.
    pub fn listener(&self, listener: tokio::net::TcpListener) -> Result<TlsListener, TlsError> {
        let local = listener.local_addr().map_err(|source| TlsError::Io {
            path: "listener".into(),
            source,
        })?;
        Ok(TlsListener::new(listener, local, self.server_config()?))
    }
}
