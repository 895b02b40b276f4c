//! A throw-away `ferrostack allinone` for a benchmark that is given no
//! cloud: the release binary on free loopback ports, a temporary data
//! directory, the fake hypervisor (so its host's network drivers are the
//! in-memory fakes and nothing is programmed on this machine), request
//! logging off. Stopped (SIGTERM, then SIGKILL after a few seconds) and its
//! directory removed when dropped; the log is kept when it failed to start.
//!
//! A [`Spec`] starts one controller of a larger cloud instead (the
//! `controllers` benchmark): a PostgreSQL database, its own loopback
//! address with the ports the others use, no compute host, the first
//! controller's shared secrets copied in, pinned to a CPU.

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

/// How to start one controller: [`Spec::default`] is a lone allinone on
/// free loopback ports with the fake hypervisor and a SQLite file.
#[derive(Debug, Clone)]
pub struct Spec {
    /// `fake` or `qemu` (real guests, networks in memory).
    pub hypervisor: String,
    /// `--database` (none: the SQLite file in the data directory).
    pub database: Option<String>,
    /// The address every service binds.
    pub bind: String,
    /// The address the catalog names (the operator's load-balanced one).
    pub public_host: String,
    /// Fixed ports by service (`identity`, ...); free ones when empty.
    pub ports: Vec<(&'static str, u16)>,
    /// A controller without a compute host of its own.
    pub no_compute: bool,
    /// The data directory of the cloud's first controller: its shared
    /// secrets (master key, token keys, host API identity, join token)
    /// are copied here first, as deploy copies them to every controller.
    pub secrets_from: Option<PathBuf>,
    /// Pin the controller to this CPU (`taskset -c`).
    pub cpu: Option<usize>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            hypervisor: "fake".into(),
            database: None,
            bind: "127.0.0.1".into(),
            public_host: "127.0.0.1".into(),
            ports: Vec::new(),
            no_compute: false,
            secrets_from: None,
            cpu: None,
        }
    }
}

/// What every controller of one cloud shares, relative to the data
/// directory (those that exist are copied).
const SHARED: [&str; 4] = ["master.key", "token-keys", "host-api", "join-token"];

/// Free ports below 32768 (outside the ephemeral range) bindable on every
/// address of `on`, one per service.
pub fn common_ports(on: &[&str]) -> Result<Vec<(&'static str, u16)>, String> {
    let mut ports = Vec::new();
    let mut candidate = 20000 + (std::process::id() % 5000) as u16;
    for service in SERVICES {
        loop {
            candidate += 1;
            if candidate >= 32768 {
                return Err("no free ports below 32768".into());
            }
            if on
                .iter()
                .all(|a| TcpListener::bind((*a, candidate)).is_ok())
            {
                break;
            }
        }
        ports.push((service, candidate));
    }
    Ok(ports)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(from, to).map(|_| ())
    }
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
        let spec = Spec {
            hypervisor: hypervisor.into(),
            ..Spec::default()
        };
        Self::launch(bin, deadline, &spec)
    }

    /// Starts one controller as `spec` says and waits for it.
    pub fn launch(bin: &Path, deadline: Duration, spec: &Spec) -> Result<Allinone, String> {
        let dir = tempfile::Builder::new()
            .prefix("fsb-net-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?;
        let data = dir.path().join("data");
        if let Some(first) = &spec.secrets_from {
            std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
            for name in SHARED {
                if first.join(name).exists() {
                    copy_tree(&first.join(name), &data.join(name))
                        .map_err(|e| format!("copying {name}: {e}"))?;
                }
            }
        }
        let log_path = dir.path().join("allinone.log");
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let mut cmd = match spec.cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", &cpu.to_string()]).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.args(["--log", "warn", "allinone", "--bind", &spec.bind])
            .args(["--public-host", &spec.public_host])
            .args(["--hypervisor", &spec.hypervisor])
            .arg("--admin-password")
            .arg(PASSWORD)
            .arg("--data-dir")
            .arg(&data)
            .arg("--instances-dir")
            .arg(dir.path().join("i"));
        if spec.hypervisor != "fake" {
            cmd.arg("--fake-network");
        }
        if let Some(url) = &spec.database {
            cmd.arg("--database").arg(url);
        }
        if spec.no_compute {
            cmd.arg("--no-compute");
        }
        let mut auth_url = String::new();
        for service in SERVICES {
            let port = match spec.ports.iter().find(|(s, _)| *s == service) {
                Some((_, port)) => *port,
                None => free_port().map_err(|e| format!("free port: {e}"))?,
            };
            cmd.arg(format!("--{service}-port")).arg(port.to_string());
            if service == "identity" {
                auth_url = format!("http://{}:{port}/v3", spec.bind);
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

    /// The controller's process id (taskset execs it, so the same).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
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
