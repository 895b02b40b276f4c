//! The crate's error: what failed, with the command's argv, status and
//! stderr when it was an external command, the request and the kernel's
//! errno when it was netlink (the chain is printed once, by
//! [`error_chain`]).

use std::path::PathBuf;

/// A data-plane operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name or address from the document or the configuration that may
    /// not reach a command.
    #[error("invalid {what}: {value:?}")]
    Invalid {
        /// What it was meant to be.
        what: &'static str,
        /// The value (Debug-escaped when shown).
        value: String,
    },
    /// A command could not be started.
    #[error("cannot run {argv:?}")]
    Spawn {
        /// The command line.
        argv: Vec<String>,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A command exited non-zero.
    #[error("{argv:?} exited with {status}: {stderr}")]
    Command {
        /// The command line.
        argv: Vec<String>,
        /// Its exit status.
        status: String,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
    /// A command's output could not be read.
    #[error("unexpected output from {argv:?}")]
    Output {
        /// The command line.
        argv: Vec<String>,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A netlink request (or tap ioctl) the kernel refused or that could
    /// not be made.
    #[error("{op}")]
    Kernel {
        /// What was asked (`RTM_NEWLINK vxlan-7 (vxlan)`, ...).
        op: String,
        /// The kernel's errno, or the socket's failure.
        #[source]
        source: std::io::Error,
    },
    /// A state file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Something the document asks for that this host cannot do.
    #[error("{0}")]
    Unsupported(String),
    /// The document lacks an object this one needs.
    #[error("{0}")]
    Missing(String),
    /// Another object on this host already holds what this one needs.
    #[error("{0}")]
    Conflict(String),
}

impl Error {
    pub(crate) fn invalid(what: &'static str, value: &str) -> Self {
        Error::Invalid {
            what,
            value: value.to_owned(),
        }
    }

    pub(crate) fn kernel(op: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let op = op.into();
        move |source| Error::Kernel { op, source }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

/// The crate's result.
pub type Result<T> = std::result::Result<T, Error>;

/// The error and its sources, one line (what a driver hands the engine).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}
