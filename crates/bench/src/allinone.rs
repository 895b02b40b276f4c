//! A throw-away `ferrostack allinone` for a benchmark that is given no
//! cloud: the release binary on free loopback ports, a temporary data
//! directory, the fake hypervisor (so its host's network drivers are the
//! in-memory fakes and nothing is programmed on this machine), request
//! logging off. Stopped (SIGTERM, then SIGKILL after a few seconds) and its
//! directory removed when dropped; the log is kept when it failed to start.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running allinone this process started.
#[derive(Debug)]
pub struct Allinone {
    child: Child,
    dir: tempfile::TempDir,
    /// The identity v3 URL.
    pub auth_url: String,
    /// The admin password.
    pub password: String,
}

const PASSWORD: &str = "bench-admin-secret";
const SERVICES: [&str; 8] = [
    "identity",
    "compute",
    "image",
    "volume",
    "network",
    "placement",
    "host-api",
    "dashboard",
];

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Allinone {
    /// Starts `bin` with the fake hypervisor and waits (up to `deadline`)
    /// for `ferrostack ready`.
    pub fn start(bin: &Path, deadline: Duration) -> Result<Allinone, String> {
        Self::start_with(bin, deadline, "fake")
    }

    /// Starts `bin` with `hypervisor` (`fake` or `qemu`: real guests, whose
    /// networks then stay in memory, `--fake-network`, so nothing is
    /// programmed on this machine).
    pub fn start_with(
        bin: &Path,
        deadline: Duration,
        hypervisor: &str,
    ) -> Result<Allinone, String> {
        let dir = tempfile::Builder::new()
            .prefix("fsb-net-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let log_path = dir.path().join("allinone.log");
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let mut cmd = Command::new(bin);
        cmd.args(["--log", "warn", "allinone", "--bind", "127.0.0.1"])
            .args(["--public-host", "127.0.0.1", "--hypervisor", hypervisor])
            .arg("--admin-password")
            .arg(PASSWORD)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--instances-dir")
            .arg(dir.path().join("i"));
        if hypervisor != "fake" {
            cmd.arg("--fake-network");
        }
        let mut auth_url = String::new();
        for service in SERVICES {
            let port = free_port().map_err(|e| format!("free port: {e}"))?;
            cmd.arg(format!("--{service}-port")).arg(port.to_string());
            if service == "identity" {
                auth_url = format!("http://127.0.0.1:{port}/v3");
            }
        }
        let stderr = log.try_clone().map_err(|e| e.to_string())?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let mut me = Allinone {
            child,
            dir,
            auth_url,
            password: PASSWORD.to_owned(),
        };
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if text.lines().any(|l| l.starts_with("ferrostack ready")) {
                return Ok(me);
            }
            let failed = match me.child.try_wait() {
                Ok(Some(status)) => Some(format!("exited ({status})")),
                _ if started.elapsed() > deadline => Some(format!("not ready after {deadline:?}")),
                _ => None,
            };
            if let Some(why) = failed {
                let kept = me.keep_log();
                let tail: Vec<&str> = text.lines().rev().take(20).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                return Err(format!(
                    "allinone {why}; log {}:\n{}",
                    kept.display(),
                    tail.join("\n")
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keep_log(&self) -> PathBuf {
        let kept = std::env::temp_dir().join(format!("fsb-net-allinone-{}.log", self.child.id()));
        let _ = std::fs::copy(self.dir.path().join("allinone.log"), &kept);
        kept
    }
}

impl Drop for Allinone {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
