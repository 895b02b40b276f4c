//! Generated x509 key pairs (`type: x509` without `public_key`, 2.2 to
//! 2.91): a self-signed client certificate for the user, as Nova makes for
//! WinRM certificate logins.
//!
//! The certificate is what Nova's has: subject `CN=<user_id>`, valid ten
//! years from today, extended key usage `clientAuth`, and the Windows user
//! principal name `<user_id>@localhost` as a subject alternative name
//! (otherName 1.3.6.1.4.1.311.20.2.3). Its fingerprint is Nova's (SHA-1 of
//! the DER, [`super::keypairs::x509_fingerprint`]).
//!
//! Two deliberate differences: the key is ECDSA P-256 where Nova makes
//! RSA-2048 (generated in microseconds instead of a second of CPU, which
//! matters on a controller serving requests; WinRM accepts both), and
//! `private_key` is the key in PKCS#8 PEM rather than Nova's base64
//! PKCS#12 bundle with an empty password (which no library this program
//! already carries writes; `openssl pkcs12 -export` turns the PEM key and
//! the certificate into that bundle when a Windows host wants it).

use super::keypairs::x509_fingerprint;
use crate::error::{ComputeError, ComputeResult};
use chrono::Datelike;
use rcgen::{
    date_time_ymd, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    SanType,
};

/// The OID of Microsoft's user principal name (`szOID_NT_PRINCIPAL_NAME`).
const UPN_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 20, 2, 3];

/// How long a generated certificate is valid (Nova's `-days 3650`), in years.
const VALID_YEARS: i32 = 10;

fn failed(e: rcgen::Error) -> ComputeError {
    ComputeError::Internal(format!("x509 certificate generation failed: {e}"))
}

/// A fresh certificate for `user_id`: (private key PEM, certificate PEM, fingerprint).
pub fn generate(user_id: &str) -> ComputeResult<(String, String, String)> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
    let mut params = CertificateParams::default();
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, user_id);
    params.distinguished_name = subject;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.subject_alt_names = vec![SanType::OtherName((
        UPN_OID.to_vec(),
        format!("{user_id}@localhost").into(),
    ))];
    let today = chrono::Utc::now().date_naive();
    let (month, day) = (today.month() as u8, today.day().min(28) as u8);
    params.not_before = date_time_ymd(today.year(), month, day);
    params.not_after = date_time_ymd(today.year() + VALID_YEARS, month, day);
    let cert = params.self_signed(&key).map_err(failed)?;
    let pem = cert.pem();
    let fingerprint = x509_fingerprint(&pem)?;
    Ok((key.serialize_pem(), pem, fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn a_generated_certificate_is_the_users_and_its_fingerprint_is_novas() {
        let (private, cert, fp) = generate("u-123").unwrap();
        assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(x509_fingerprint(&cert).unwrap(), fp);
        // SHA-1: 20 bytes in colon hex.
        assert_eq!(fp.len(), 20 * 3 - 1);
        let b64: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let has = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
        assert!(has(b"u-123"), "the subject names the user");
        assert!(has(b"u-123@localhost"), "the UPN names the user");
        let (private2, _, fp2) = generate("u-123").unwrap();
        assert_ne!(fp, fp2, "each generation makes a new key");
        assert_ne!(private, private2);
    }
}
