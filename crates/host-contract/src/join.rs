//! The join file: the one thing a new compute host needs.
//!
//! `ferrostack-join-v1 <token> sha256:<fingerprint>` on one line. The
//! token authenticates the host to the controller (and the controller to
//! the host's console server); the fingerprint pins the controller's
//! host API certificate (see [`super::tls`]), so the same copy that
//! hands out the credential tells the host which server may receive it.
//! A bare token (the format before TLS) still parses, without a pin: the
//! agent then needs the fingerprint from `--controller-cert-sha256`.

use super::tls::{BadFingerprint, Fingerprint};

/// The first word of a join file.
pub const JOIN_FILE_MAGIC: &str = "ferrostack-join-v1";

/// A parsed join file.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinFile {
    /// The cluster's join token.
    pub token: String,
    /// The controller's host API certificate; `None` for a bare token.
    pub controller_cert: Option<Fingerprint>,
}

impl std::fmt::Debug for JoinFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("JoinFile")
            .field("controller_cert", &self.controller_cert)
            .finish_non_exhaustive()
    }
}

/// Why a join file does not parse.
#[derive(Debug, thiserror::Error)]
pub enum JoinFileError {
    /// Empty.
    #[error("the join file is empty")]
    Empty,
    /// Not `ferrostack-join-v1 <token> sha256:<hex>`, nor a bare token.
    #[error("not a ferrostack join file: expected one line `{JOIN_FILE_MAGIC} <token> sha256:<fingerprint>`")]
    Malformed,
    /// The fingerprint is malformed.
    #[error(transparent)]
    Fingerprint(#[from] BadFingerprint),
}

impl JoinFile {
    /// Parses a join file's text (or a bare token).
    pub fn parse(text: &str) -> Result<Self, JoinFileError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            [] => Err(JoinFileError::Empty),
            [magic, token, cert] if *magic == JOIN_FILE_MAGIC => Ok(JoinFile {
                token: (*token).to_string(),
                controller_cert: Some(Fingerprint::parse(cert)?),
            }),
            [token] if !token.starts_with("ferrostack-join") => Ok(JoinFile {
                token: (*token).to_string(),
                controller_cert: None,
            }),
            _ => Err(JoinFileError::Malformed),
        }
    }

    /// The file's text, for a controller with `token` and a certificate
    /// with fingerprint `cert`.
    pub fn render(token: &str, cert: Fingerprint) -> String {
        format!("{JOIN_FILE_MAGIC} {token} {cert}\n")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_join_file_round_trips_and_a_bare_token_has_no_pin() {
        let fp = Fingerprint::of(b"cert");
        let j = JoinFile::parse(&JoinFile::render("abc123", fp)).unwrap();
        assert_eq!(j.token, "abc123");
        assert_eq!(j.controller_cert, Some(fp));
        let bare = JoinFile::parse(" abc123\n").unwrap();
        assert_eq!(bare.token, "abc123");
        assert_eq!(bare.controller_cert, None);
        assert!(!format!("{j:?}").contains("abc123"), "{j:?}");
    }

    #[test]
    fn malformed_join_files_are_refused() {
        assert!(matches!(JoinFile::parse(" \n"), Err(JoinFileError::Empty)));
        for bad in [
            "ferrostack-join-v1 abc",
            "ferrostack-join-v2 abc sha256:00",
            "abc def",
            "ferrostack-join-v1 abc sha256:00 extra",
        ] {
            assert!(JoinFile::parse(bad).is_err(), "{bad}");
        }
        let e = JoinFile::parse("ferrostack-join-v1 abc sha256:xyz").unwrap_err();
        assert!(matches!(e, JoinFileError::Fingerprint(_)), "{e}");
    }
}
