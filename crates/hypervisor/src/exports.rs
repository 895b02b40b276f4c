//! Volume exports of a storage host: one long-lived `qemu-storage-daemon`
//! serving NBD over TLS with pre-shared keys, driven over QMP.
//!
//! A local-backend volume is a qcow2 file on its storage host's disk; a
//! guest on another host reaches it through an export of that host
//! (`Connection::Export` in the guest's disk, an `nbd` node in its QEMU).
//!
//! ```text
//!   DIR/qmp.sock      the daemon's QMP monitor (adoption, changes)
//!   DIR/daemon.pid    its pid (checked against /proc/PID/cmdline)
//!   DIR/tls/keys.psk  `name:hexkey` per export, 0600 (dir 0700)
//!
//!   ensure(export):   key line -> blockdev-add file, qcow2|raw ->
//!                     block-export-add nbd writable
//!   remove(export):   block-export-del (hard) -> wait until gone ->
//!                     blockdev-del format, file -> key line dropped
//! ```
//!
//! Why one daemon per host and not one per export or QEMU-in-the-VM
//! tricks: one NBD port for the firewall, one process to adopt, and an
//! export is two QMP commands. The daemon runs detached (`--daemonize`),
//! like a VM: a restarted agent finds it by its QMP socket and carries on,
//! so the guests on other hosts see no dropped I/O. Every step looks at
//! what the daemon has first (`query-block-exports`,
//! `query-named-block-nodes`), so a change cut short by a crash is redone
//! from where it stopped.
//!
//! TLS: the daemon's one `tls-creds-psk` (`endpoint=server`) reads
//! `keys.psk` at each handshake (GnuTLS looks the client's identity up in
//! the file every time), so adding or dropping a key is rewriting the
//! file, atomically, with no QMP. A client proves the key of the identity
//! it names; QEMU's NBD server checks TLS for the whole server, not per
//! export, so any valid identity may open any export of the daemon: the
//! keys keep out whatever is not a host of the cloud (hosts only receive
//! keys over the pinned-TLS host API), not one host from another's
//! volumes. Rejected for now: an nft rule per allowed host (the addresses
//! a client comes from are not in the desired document).
//!
//! Growing an export does not reach its clients (NBD has no resize
//! notice; QEMU's NBD client cannot grow), so the volume service refuses
//! to extend a volume attached through an export.

use crate::qmp::{QmpClient, QmpError};
use ferrostack_host_contract::block::{DesiredExport, PskKey};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The default NBD port (IANA's).
pub const DEFAULT_PORT: u16 = 10809;

/// Why an export operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A file of the daemon could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The daemon could not be started.
    #[error("cannot start {argv:?}: {reason}")]
    Start {
        /// Its command line (no secrets: keys are in a file).
        argv: Vec<String>,
        /// Its exit status and stderr, or why it could not run.
        reason: String,
    },
    /// QMP with the daemon failed.
    #[error("qemu-storage-daemon QMP: {0}")]
    Qmp(#[from] QmpError),
    /// The export cannot be served as asked.
    #[error("{0}")]
    Invalid(String),
}

/// Result of this module.
pub type Result<T, E = ExportError> = std::result::Result<T, E>;

/// Where and how the daemon runs.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// Its state directory (QMP socket, pidfile, key file).
    pub state_dir: PathBuf,
    /// The `qemu-storage-daemon` binary.
    pub binary: PathBuf,
    /// The address the NBD server listens on: the one other hosts reach
    /// this host by.
    pub listen: String,
    /// The NBD port.
    pub port: u16,
    /// Bound on each QMP exchange and on the daemon's start.
    pub timeout: Duration,
}

impl ExportConfig {
    /// The defaults for a daemon in `state_dir` listening on `listen`.
    pub fn new(state_dir: impl Into<PathBuf>, listen: impl Into<String>) -> ExportConfig {
        ExportConfig {
            state_dir: state_dir.into(),
            binary: "qemu-storage-daemon".into(),
            listen: listen.into(),
            port: DEFAULT_PORT,
            timeout: Duration::from_secs(10),
        }
    }
}

/// One export as the daemon serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSpec {
    /// The export's name (the volume id; also the TLS-PSK identity).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// `qcow2` or `raw`.
    pub format: String,
    /// The key clients prove.
    pub key: PskKey,
}

impl ExportSpec {
    /// The export a [`DesiredExport`] asks for.
    pub fn from_desired(d: &DesiredExport) -> ExportSpec {
        ExportSpec {
            name: d.volume_id.clone(),
            path: d.path.clone().into(),
            format: d.format.clone(),
            key: d.key.clone(),
        }
    }

    fn validate(&self) -> Result<()> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !name_ok {
            return Err(ExportError::Invalid(format!(
                "export name {:?} is not letters, digits, '-', '_' or '.'",
                self.name
            )));
        }
        if !self.key.is_valid() {
            return Err(ExportError::Invalid(format!(
                "export {}: the key is not 64 hex digits",
                self.name
            )));
        }
        if !self.path.is_absolute() || !["qcow2", "raw"].contains(&self.format.as_str()) {
            return Err(ExportError::Invalid(format!(
                "export {}: {} ({}) is not an absolute path to a qcow2 or raw file",
                self.name,
                self.path.display(),
                self.format
            )));
        }
        Ok(())
    }
}

/// The daemon's ids for export `name`: QEMU ids start with a letter and
/// node names hold at most 31 bytes, so they derive from the volume key
/// (as a VM's disk ids do); the export id carries the whole name, which is
/// how [`StorageDaemon::list`] reads names back.
struct Ids {
    export: String,
    format: String,
    protocol: String,
}

fn ids(name: &str) -> Ids {
    let key = crate::volumes::key(name);
    Ids {
        export: format!("exp-{name}"),
        format: format!("{key}-f"),
        protocol: format!("{key}-p"),
    }
}

/// The host's `qemu-storage-daemon` (module doc).
#[derive(Debug)]
pub struct StorageDaemon {
    config: ExportConfig,
    /// One change at a time: the key file and the daemon are shared.
    lock: tokio::sync::Mutex<()>,
}

impl StorageDaemon {
    /// A driver for the daemon `config` describes; nothing starts until
    /// the first export.
    pub fn new(config: ExportConfig) -> StorageDaemon {
        StorageDaemon {
            config,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// `host:port` clients connect to.
    pub fn address(&self) -> String {
        if self.config.listen.contains(':') {
            format!("[{}]:{}", self.config.listen, self.config.port)
        } else {
            format!("{}:{}", self.config.listen, self.config.port)
        }
    }

    fn qmp_path(&self) -> PathBuf {
        self.config.state_dir.join("qmp.sock")
    }

    fn pid_path(&self) -> PathBuf {
        self.config.state_dir.join("daemon.pid")
    }

    fn tls_dir(&self) -> PathBuf {
        self.config.state_dir.join("tls")
    }

    /// The running daemon's pid, if the pidfile names a live process
    /// whose command line is this daemon's (its QMP socket path).
    pub fn pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.pid_path())
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let qmp = self.qmp_path();
        let needle = format!("path={}", qmp.display());
        raw.split(|b| *b == 0)
            .any(|a| String::from_utf8_lossy(a).contains(&needle))
            .then_some(pid)
    }

    /// A QMP connection to the running daemon, if one runs.
    async fn connect(&self) -> Option<QmpClient> {
        self.pid()?;
        QmpClient::connect(&self.qmp_path(), self.config.timeout)
            .await
            .ok()
    }

    /// A QMP connection, starting the daemon first if none runs.
    async fn running(&self) -> Result<QmpClient> {
        if let Some(c) = self.connect().await {
            return Ok(c);
        }
        // A daemon whose QMP does not answer is stuck: replace it.
        if let Some(pid) = self.pid() {
            tracing::warn!(
                pid,
                "qemu-storage-daemon does not answer QMP; restarting it"
            );
            kill(pid).await;
        }
        self.start().await?;
        Ok(QmpClient::connect(&self.qmp_path(), self.config.timeout).await?)
    }

    fn argv(&self) -> Vec<String> {
        let c = &self.config;
        vec![
            c.binary.to_string_lossy().into_owned(),
            "--object".into(),
            format!(
                "tls-creds-psk,id=tls0,endpoint=server,dir={}",
                self.tls_dir().display()
            ),
            "--nbd-server".into(),
            format!(
                "addr.type=inet,addr.host={},addr.port={},tls-creds=tls0",
                c.listen, c.port
            ),
            "--chardev".into(),
            format!(
                "socket,id=qmp0,path={},server=on,wait=off",
                self.qmp_path().display()
            ),
            "--monitor".into(),
            "chardev=qmp0".into(),
            "--pidfile".into(),
            self.pid_path().to_string_lossy().into_owned(),
            "--daemonize".into(),
        ]
    }

    async fn start(&self) -> Result<()> {
        let dir = &self.config.state_dir;
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        // The server's credentials need their key file at start.
        let keys = read_keys(&self.tls_dir())?;
        write_keys(&self.tls_dir(), &keys)?;
        for p in [self.qmp_path(), self.pid_path()] {
            let _ = std::fs::remove_file(p);
        }
        let argv = self.argv();
        let start = |reason: String| ExportError::Start {
            argv: argv.clone(),
            reason,
        };
        let stderr_path = dir.join("daemon.stderr");
        let stderr = std::fs::File::create(&stderr_path).map_err(io(&stderr_path))?;
        let mut child = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| start(e.to_string()))?;
        // With --daemonize the launcher exits once the daemon is up.
        let status = tokio::time::timeout(self.config.timeout, child.wait())
            .await
            .map_err(|_| start(format!("not up within {:?}", self.config.timeout)))?
            .map_err(|e| start(e.to_string()))?;
        if !status.success() {
            let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            return Err(start(format!("{status}: {}", err.trim())));
        }
        tracing::info!(address = %self.address(), "qemu-storage-daemon started");
        Ok(())
    }

    /// The names of the exports the daemon serves (none when it does not
    /// run: listing never starts it).
    pub async fn list(&self) -> Result<Vec<String>> {
        let _g = self.lock.lock().await;
        let Some(mut c) = self.connect().await else {
            return Ok(Vec::new());
        };
        Ok(exports(&mut c)
            .await?
            .into_iter()
            .filter_map(|id| id.strip_prefix("exp-").map(str::to_owned))
            .collect())
    }

    /// Serves `spec` (idempotent: an export that is there is kept, with
    /// its key refreshed).
    pub async fn ensure(&self, spec: &ExportSpec) -> Result<()> {
        spec.validate()?;
        let _g = self.lock.lock().await;
        let tls = self.tls_dir();
        let mut keys = read_keys(&tls)?;
        if keys.get(&spec.name) != Some(&spec.key.expose().to_owned()) {
            keys.insert(spec.name.clone(), spec.key.expose().to_owned());
            write_keys(&tls, &keys)?;
        }
        let mut c = self.running().await?;
        let ids = ids(&spec.name);
        if exports(&mut c).await?.contains(&ids.export) {
            return Ok(());
        }
        // Nodes left by an attempt cut short go first.
        remove_nodes(&mut c, &ids).await?;
        let r = async {
            c.execute(
                "blockdev-add",
                Some(json!({
                    "driver": "file", "node-name": ids.protocol,
                    "filename": spec.path.to_string_lossy(),
                })),
            )
            .await?;
            c.execute(
                "blockdev-add",
                Some(
                    json!({ "driver": spec.format, "node-name": ids.format, "file": ids.protocol }),
                ),
            )
            .await?;
            c.execute(
                "block-export-add",
                Some(json!({
                    "type": "nbd", "id": ids.export, "node-name": ids.format,
                    "name": spec.name, "writable": true,
                })),
            )
            .await
        }
        .await;
        if let Err(e) = r {
            if let Err(undo) = remove_nodes(&mut c, &ids).await {
                tracing::warn!(export = %spec.name, error = %undo, "cannot remove the nodes of a failed export");
            }
            return Err(e.into());
        }
        tracing::info!(export = %spec.name, address = %self.address(), "volume exported");
        Ok(())
    }

    /// Stops serving export `name` (clients still connected are cut off)
    /// and closes its file; an export that is not there is not an error.
    pub async fn remove(&self, name: &str) -> Result<()> {
        let _g = self.lock.lock().await;
        let ids = ids(name);
        if let Some(mut c) = self.connect().await {
            if exports(&mut c).await?.contains(&ids.export) {
                c.execute(
                    "block-export-del",
                    Some(json!({ "id": ids.export, "mode": "hard" })),
                )
                .await?;
            }
            // Deleting is asynchronous: wait (bounded) until it is gone.
            let until = Instant::now() + self.config.timeout;
            while exports(&mut c).await?.contains(&ids.export) {
                if Instant::now() > until {
                    return Err(ExportError::Invalid(format!(
                        "export {name} still shutting down after {:?}",
                        self.config.timeout
                    )));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            remove_nodes(&mut c, &ids).await?;
        }
        let tls = self.tls_dir();
        let mut keys = read_keys(&tls)?;
        if keys.remove(name).is_some() {
            write_keys(&tls, &keys)?;
        }
        tracing::info!(export = %name, "volume export removed");
        Ok(())
    }

    /// Stops the daemon (tests and an operator's teardown; the agent
    /// never does: exports outlive it).
    pub async fn stop(&self) {
        let _g = self.lock.lock().await;
        if let Some(mut c) = self.connect().await {
            let _ = c.execute("quit", None).await;
        }
        let until = Instant::now() + self.config.timeout;
        while let Some(pid) = self.pid() {
            if Instant::now() > until {
                kill(pid).await;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The export ids the daemon has.
async fn exports(c: &mut QmpClient) -> Result<Vec<String>, QmpError> {
    let v = c.execute("query-block-exports", None).await?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect())
}

/// Removes an export's nodes (format first), whichever are there.
async fn remove_nodes(c: &mut QmpClient, ids: &Ids) -> Result<(), QmpError> {
    let v = c
        .execute("query-named-block-nodes", Some(json!({ "flat": true })))
        .await?;
    let nodes: Vec<&str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["node-name"].as_str())
        .collect();
    for n in [&ids.format, &ids.protocol] {
        if nodes.contains(&n.as_str()) {
            c.execute("blockdev-del", Some(json!({ "node-name": n })))
                .await?;
        }
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError {
    let path = path.to_path_buf();
    move |source| ExportError::Io { path, source }
}

/// The key file's lines, by identity (empty when there is no file).
fn read_keys(tls: &Path) -> Result<BTreeMap<String, String>> {
    let path = tls.join("keys.psk");
    let raw = match std::fs::read_to_string(&path) {
        Ok(raw) => raw,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(&path)(e)),
    };
    Ok(raw
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, k)| (n.to_owned(), k.to_owned()))
        .collect())
}

fn write_keys(tls: &Path, keys: &BTreeMap<String, String>) -> Result<()> {
    let text: String = keys.iter().map(|(n, k)| format!("{n}:{k}\n")).collect();
    crate::qemu::write_private_file(tls, "keys.psk", &text).map_err(|e| match e {
        crate::HypervisorError::Io { path, source } => ExportError::Io { path, source },
        other => ExportError::Invalid(other.to_string()),
    })
}

/// `kill -KILL pid` (the workspace forbids `unsafe`, so no `libc::kill`).
async fn kill(pid: u32) {
    let _ = tokio::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fit_qemu() {
        let i = ids("0123e4567-e89b-12d3-a456-426614174000");
        assert!(i.format.len() <= 31 && i.protocol.len() <= 31);
        assert!(i.export.starts_with("exp-"));
    }

    #[test]
    fn key_file_round_trips_and_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = dir.path().join("tls");
        let mut keys = BTreeMap::new();
        keys.insert("v1".to_owned(), "ab".repeat(32));
        write_keys(&tls, &keys).expect("write");
        assert_eq!(read_keys(&tls).expect("read"), keys);
        let mode = std::fs::metadata(tls.join("keys.psk"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn bad_specs_are_refused() {
        let good = ExportSpec {
            name: "v1".into(),
            path: "/v/v1".into(),
            format: "qcow2".into(),
            key: PskKey::random(),
        };
        assert!(good.validate().is_ok());
        let mut bad = good.clone();
        bad.name = "a:b".into();
        assert!(bad.validate().is_err());
        let mut bad = good;
        bad.path = "rel".into();
        assert!(bad.validate().is_err());
    }
}
