//! HTTPS for the host API, with certificates pinned instead of trusted.
//!
//! Both ends of the host API serve TLS with a self-signed certificate
//! (the controller's host API listener, each agent's console server), and
//! each caller trusts exactly one certificate: the one whose SHA-256
//! fingerprint it was given out of band. Why pinning and not a CA:
//!
//! - **One file to copy.** Like kubeadm's discovery token CA hash, the
//!   join file (`ferrostack-join-v1 <token> sha256:<fingerprint>`, see
//!   [`super::join`]) carries both the credential and the controller's
//!   identity, so copying it to a new host is the whole trust setup: no
//!   CA to run, no certificates to distribute, no names to get right.
//! - **The agents' certificates ride on an authenticated channel.** An
//!   agent sends its console certificate's fingerprint in its
//!   registration, over the pinned, token-authenticated connection, so
//!   the controller learns it from a party it already trusts.
//! - **Names, CAs and validity dates are ignored.** A pin names one key
//!   pair; host names and addresses change (NAT, `--public-host`) without
//!   changing who holds the key. The TLS handshake signature is still
//!   verified with the crypto provider's algorithms, so only the holder
//!   of the private key passes. Rotating a certificate means deleting it,
//!   restarting, and (for the controller) handing out the new join file.
//!
//! Everything uses rustls with the `ring` provider (no C toolchain beyond
//! what `ring` needs).

mod cert;
mod listener;

pub use cert::TlsIdentity;
pub use listener::TlsListener;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// What a caller that finds the controller's certificate changed says.
pub const CONTROLLER_MISMATCH: &str = "the controller's certificate does not match the join file";

/// What a controller logs when a peer controller's certificate is not the
/// cloud's host API certificate (they all serve the same one).
pub const PEER_MISMATCH: &str =
    "a peer controller's certificate is not this cloud's host API certificate";

/// What the controller says when an agent's certificate changed.
pub const AGENT_MISMATCH: &str =
    "the agent's certificate does not match the fingerprint it registered";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// A PEM file holds no usable certificate or key.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The certificate could not be generated.
    #[error("cannot generate a certificate")]
    Generate(#[source] rcgen::Error),
    /// rustls refused the configuration.
    #[error("TLS configuration")]
    Rustls(#[source] rustls::Error),
    /// The HTTPS client could not be built.
    #[error("cannot build the HTTPS client")]
    Client(#[source] reqwest::Error),
}

/// The SHA-256 of a certificate's DER encoding: what a pin names.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

/// A fingerprint that is not `sha256:` and 64 hex digits.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a certificate fingerprint (sha256: and 64 hex digits)")]
pub struct BadFingerprint(String);

impl Fingerprint {
    /// The fingerprint of the DER-encoded certificate `der`.
    pub fn of(der: &[u8]) -> Self {
        Fingerprint(Sha256::digest(der).into())
    }

    /// Parses `sha256:<64 hex digits>`; the prefix is optional and the
    /// digits may be upper case or separated by `:` (as `openssl x509
    /// -fingerprint -sha256` prints them).
    pub fn parse(s: &str) -> Result<Self, BadFingerprint> {
        let t = s.trim();
        let t = t.strip_prefix("sha256:").unwrap_or(t);
        let hex_digits: String = t.chars().filter(|c| *c != ':').collect();
        let mut out = [0u8; 32];
        hex::decode_to_slice(&hex_digits, &mut out).map_err(|_| BadFingerprint(s.to_string()))?;
        Ok(Fingerprint(out))
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = BadFingerprint;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fingerprint::parse(s)
    }
}

impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Fingerprint::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The certificate a server presented is not the pinned one.
#[derive(thiserror::Error)]
#[error("{what} (it presented {presented}, the pin is {pinned})")]
pub struct PinMismatch {
    what: &'static str,
    presented: Fingerprint,
    pinned: Fingerprint,
}

/// As the message: rustls shows its certificate errors with `Debug`.
impl std::fmt::Debug for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The crypto provider of every TLS endpoint here.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A [`ServerCertVerifier`] that accepts exactly one certificate: the
/// end-entity certificate whose DER hashes to the pin. Names, issuers
/// and dates are not looked at; the handshake signature is verified with
/// the provider's algorithms, so the peer must hold the pinned key.
#[derive(Debug)]
pub struct PinnedCert {
    pin: Fingerprint,
    what: &'static str,
    provider: Arc<CryptoProvider>,
}

impl PinnedCert {
    /// A verifier for `pin`; a mismatch fails with `what` (e.g.
    /// [`CONTROLLER_MISMATCH`]) as its message.
    pub fn new(pin: Fingerprint, what: &'static str) -> Self {
        PinnedCert {
            pin,
            what,
            provider: provider(),
        }
    }
}

impl ServerCertVerifier for PinnedCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = Fingerprint::of(end_entity);
        if presented == self.pin {
            return Ok(ServerCertVerified::assertion());
        }
        tracing::warn!(%presented, pinned = %self.pin, "{}", self.what);
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(PinMismatch {
                what: self.what,
                presented,
                pinned: self.pin,
            })),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// An HTTPS-only client from `builder` (timeouts and such) that trusts
/// exactly the certificate `pin` names; a mismatch fails with `what`.
pub fn pinned_client(
    builder: reqwest::ClientBuilder,
    pin: Fingerprint,
    what: &'static str,
) -> Result<reqwest::Client, TlsError> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Rustls)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCert::new(pin, what)))
        .with_no_client_auth();
    builder
        .use_preconfigured_tls(config)
        .https_only(true)
        .build()
        .map_err(TlsError::Client)
}

#[cfg(test)]
mod tests;
