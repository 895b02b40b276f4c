//! What deploy needs from a host, as a trait: the SSH implementation
//! ([`super::ssh`]) turns each operation into one small shell script;
//! the in-memory one ([`super::fake`]) lets the engine's idempotency and
//! failure handling be tested without hosts.
//!
//! The operations are coarse on purpose ("digest of this file", "start
//! this service") rather than "run this command": the engine decides
//! what changes, the implementations only know how.

use super::plan::ServiceSpec;

/// A failure talking to a host or of a command on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    /// What went wrong, in the operator's words.
    pub message: String,
    /// What to do about it, when known.
    pub fix: Option<String>,
}

impl RemoteError {
    /// An error without a known fix.
    pub fn new(message: impl Into<String>) -> Self {
        RemoteError {
            message: message.into(),
            fix: None,
        }
    }

    /// Adds the fix.
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// What `probe` learns about a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// Its host name (the name its compute service registers under).
    pub hostname: String,
    /// `uname -m`.
    pub arch: String,
    /// True when systemd runs the host (`/run/systemd/system` exists);
    /// otherwise services are started directly, with a pid file.
    pub systemd: bool,
}

/// A file's state on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// Permission bits.
    pub mode: u32,
}

/// Whether a service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    /// It runs.
    Running,
    /// It does not.
    Stopped,
}

/// One host, as deploy sees it.
pub trait RemoteHost {
    /// Host name, architecture, init system. Also the first contact, so
    /// its error says whether the host is unreachable or refuses the key.
    fn probe(&self) -> Result<HostInfo, RemoteError>;
    /// The state of `path`, None when it does not exist.
    fn file_state(&self, path: &str) -> Result<Option<FileState>, RemoteError>;
    /// Writes `content` to `path` atomically (a temporary file renamed),
    /// creating the directory.
    fn put(&self, path: &str, content: &[u8], mode: u32) -> Result<(), RemoteError>;
    /// Reads `path`, None when it does not exist.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RemoteError>;
    /// Runs `ferrostack check --format json` with `args` there and
    /// returns its JSON (a FAIL exit status is not an error).
    fn check(&self, args: &[String]) -> Result<String, RemoteError>;
    /// Whether `service` runs.
    fn service_state(
        &self,
        service: &ServiceSpec,
        systemd: bool,
    ) -> Result<ServiceState, RemoteError>;
    /// Starts `service`; stops it first when `restart` and it runs.
    fn start(&self, service: &ServiceSpec, systemd: bool, restart: bool)
        -> Result<(), RemoteError>;
    /// The last `lines` lines of the service's log, for error reports.
    fn log_tail(&self, service: &ServiceSpec, systemd: bool, lines: usize) -> String;
    /// Runs `script` (`sh`, as root) with `stdin` (secrets go there, never
    /// into the script); its standard output, an error unless it exits 0.
    fn run_script(&self, what: &str, script: &str, stdin: &[u8]) -> Result<String, RemoteError>;
}
