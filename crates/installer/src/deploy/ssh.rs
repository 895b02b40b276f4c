//! [`RemoteHost`] over OpenSSH: the system `ssh` client with key
//! authentication only (`BatchMode=yes`), so a missing key is an error
//! that names the fix instead of a password prompt in the middle of a
//! run, which is how the seed's author lost his afternoons.
//!
//! Each operation is one short POSIX shell script passed as the remote
//! command; data (files, the binary) goes through ssh's stdin. A control
//! master per run keeps one TCP connection per host, so the dozen
//! operations of a re-run cost milliseconds each.

use super::plan::{shell_quote, ServiceSpec, BINARY_PATH, LOG_DIR, RUN_DIR};
use super::remote::{FileState, HostInfo, RemoteError, RemoteHost, ServiceState};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// How to reach hosts.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// Remote user (root: deploy installs system services).
    pub user: String,
    /// Private key (`-i`); None: ssh's defaults and config.
    pub identity: Option<PathBuf>,
    /// An ssh_config file (`-F`); None: the user's.
    pub config: Option<PathBuf>,
    /// Directory for the control master sockets of this run.
    pub control_dir: PathBuf,
}

/// One host reached over SSH.
pub struct SshHost {
    target: String,
    options: SshOptions,
}

/// What a remote script printed.
struct Output {
    status: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

impl SshHost {
    /// `host` as the answer file names it.
    pub fn new(host: &str, options: SshOptions) -> Self {
        SshHost {
            target: format!("{}@{}", options.user, host),
            options,
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("ssh");
        if let Some(config) = &self.options.config {
            cmd.arg("-F").arg(config);
        }
        if let Some(identity) = &self.options.identity {
            cmd.arg("-i")
                .arg(identity)
                .args(["-o", "IdentitiesOnly=yes"]);
        }
        cmd.args([
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            // First contact trusts and records the host key; a key that
            // changed later is still refused.
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "ServerAliveInterval=10",
            "-o",
            "ControlMaster=auto",
            "-o",
            "ControlPersist=30",
        ])
        .arg("-o")
        .arg(format!(
            "ControlPath={}/%C",
            self.options.control_dir.display()
        ))
        .arg(&self.target);
        cmd
    }

    /// Runs `script` with `sh -c` there, feeding `stdin`.
    fn exec(&self, script: &str, stdin: Option<&[u8]>) -> Result<Output, RemoteError> {
        let mut cmd = self.command();
        cmd.arg("--")
            .arg(format!("sh -c {}", shell_quote(script)))
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            RemoteError::new(format!("cannot run ssh: {e}")).fix("apt-get install openssh-client")
        })?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A failure here shows up as the command's own error below.
            let _ = pipe.write_all(data);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| RemoteError::new(format!("ssh failed: {e}")))?;
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if out.status.code() == Some(255) {
            return Err(classify_ssh_failure(&self.target, &stderr));
        }
        Ok(Output {
            status: out.status.code(),
            stdout: out.stdout,
            stderr,
        })
    }

    /// Runs `script`; an error unless it exits 0.
    fn exec_ok(
        &self,
        script: &str,
        stdin: Option<&[u8]>,
        what: &str,
    ) -> Result<Vec<u8>, RemoteError> {
        let out = self.exec(script, stdin)?;
        if out.status == Some(0) {
            Ok(out.stdout)
        } else {
            Err(RemoteError::new(format!(
                "{what} failed on {} (exit {}): {}",
                self.target,
                out.status
                    .map_or("by signal".to_string(), |c| c.to_string()),
                last_lines(&out.stderr, 5)
            )))
        }
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

/// ssh's own failures (exit 255), named with the fix.
pub(crate) fn classify_ssh_failure(target: &str, stderr: &str) -> RemoteError {
    let detail = last_lines(stderr, 3);
    if stderr.contains("Permission denied") {
        RemoteError::new(format!("{target} refused our SSH key: {detail}")).fix(
            "run `ferrostack deploy --setup-ssh-keys --answer-file FILE` once (it asks for each host's password one time and installs the key), or append your public key to ~/.ssh/authorized_keys there",
        )
    } else if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || stderr.contains("Host key verification failed")
    {
        RemoteError::new(format!("{target}'s host key is not the one we know: {detail}")).fix(
            "if the host was reinstalled, remove its old key with `ssh-keygen -R HOST`; otherwise find out why its key changed before going on",
        )
    } else if stderr.contains("Connection refused") {
        RemoteError::new(format!("{target} does not accept SSH: {detail}"))
            .fix("install and start the SSH server there: apt-get install openssh-server")
    } else if stderr.contains("timed out")
        || stderr.contains("No route to host")
        || stderr.contains("Network is unreachable")
    {
        RemoteError::new(format!("{target} cannot be reached: {detail}")).fix(
            "check the address in the answer file, that the host is up, and that no firewall drops TCP 22",
        )
    } else if stderr.contains("Could not resolve hostname") {
        RemoteError::new(format!("{target} does not resolve: {detail}"))
            .fix("use the host's IP address in the answer file, or add it to DNS or /etc/hosts")
    } else {
        RemoteError::new(format!("ssh to {target} failed: {detail}"))
    }
}

impl RemoteHost for SshHost {
    fn probe(&self) -> Result<HostInfo, RemoteError> {
        let out = self.exec_ok(
            "hostname; uname -m; if [ -d /run/systemd/system ]; then echo systemd; else echo direct; fi",
            None,
            "probing the host",
        )?;
        let text = String::from_utf8_lossy(&out);
        let mut lines = text.lines();
        let hostname = lines.next().unwrap_or("").trim().to_string();
        let arch = lines.next().unwrap_or("").trim().to_string();
        let systemd = lines.next().map(str::trim) == Some("systemd");
        Ok(HostInfo {
            hostname,
            arch,
            systemd,
        })
    }

    fn file_state(&self, path: &str) -> Result<Option<FileState>, RemoteError> {
        let p = shell_quote(path);
        let out = self.exec_ok(
            &format!("if [ -f {p} ]; then sha256sum {p} | cut -d' ' -f1; stat -c %a {p}; fi"),
            None,
            "reading a file's digest",
        )?;
        let text = String::from_utf8_lossy(&out);
        let mut lines = text.lines();
        match (lines.next(), lines.next()) {
            (Some(sha), Some(mode)) => Ok(Some(FileState {
                sha256: sha.trim().to_string(),
                mode: u32::from_str_radix(mode.trim(), 8).unwrap_or(0),
            })),
            _ => Ok(None),
        }
    }

    fn put(&self, path: &str, content: &[u8], mode: u32) -> Result<(), RemoteError> {
        let p = shell_quote(path);
        let tmp = shell_quote(&format!("{path}.deploy-tmp"));
        let dir = shell_quote(
            std::path::Path::new(path)
                .parent()
                .map_or("/".into(), |d| d.display().to_string())
                .as_str(),
        );
        self.exec_ok(
            &format!(
                "set -e; mkdir -p {dir}; umask 077; cat > {tmp}; chmod {mode:o} {tmp}; mv -f {tmp} {p}"
            ),
            Some(content),
            &format!("writing {path}"),
        )
        .map(drop)
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        let p = shell_quote(path);
        let out = self.exec(&format!("cat {p}"), None)?;
        Ok((out.status == Some(0)).then_some(out.stdout))
    }

    fn check(&self, args: &[String]) -> Result<String, RemoteError> {
        let mut script = format!("{BINARY_PATH} check --format json");
        for a in args {
            script.push(' ');
            script.push_str(&shell_quote(a));
        }
        let out = self.exec(&script, None)?;
        match out.status {
            Some(0) | Some(1) => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            other => Err(RemoteError::new(format!(
                "`ferrostack check` failed on {} (exit {}): {}",
                self.target,
                other.map_or("by signal".into(), |c| c.to_string()),
                last_lines(&out.stderr, 5)
            ))),
        }
    }

    fn service_state(
        &self,
        service: &ServiceSpec,
        systemd: bool,
    ) -> Result<ServiceState, RemoteError> {
        let script = if systemd {
            format!("systemctl is-active --quiet {}", service.name)
        } else {
            direct_running_test(service)
        };
        let out = self.exec(&script, None)?;
        Ok(if out.status == Some(0) {
            ServiceState::Running
        } else {
            ServiceState::Stopped
        })
    }

    fn start(
        &self,
        service: &ServiceSpec,
        systemd: bool,
        restart: bool,
    ) -> Result<(), RemoteError> {
        let name = service.name;
        let script = if systemd {
            let verb = if restart { "restart" } else { "start" };
            format!("set -e; systemctl daemon-reload; systemctl enable --quiet {name}; systemctl {verb} {name}")
        } else {
            direct_start_script(service, restart)
        };
        self.exec_ok(&script, None, &format!("starting {name}"))
            .map(drop)
    }

    fn run_script(&self, what: &str, script: &str, stdin: &[u8]) -> Result<String, RemoteError> {
        let out = self.exec_ok(script, Some(stdin), what)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn log_tail(&self, service: &ServiceSpec, systemd: bool, lines: usize) -> String {
        let script = if systemd {
            format!("journalctl -u {} -n {lines} --no-pager", service.name)
        } else {
            format!("tail -n {lines} {LOG_DIR}/{}.log", service.name)
        };
        match self.exec(&script, None) {
            Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
            Err(e) => format!("(could not read the log: {e})"),
        }
    }
}

/// A shell test that succeeds when the service's pid file names a live
/// ferrostack process (a stale pid reused by another program does not
/// count).
fn direct_running_test(service: &ServiceSpec) -> String {
    format!(
        "pid=$(cat {RUN_DIR}/{name}.pid 2>/dev/null) && [ -n \"$pid\" ] && \
         tr '\\0' ' ' < /proc/$pid/cmdline 2>/dev/null | grep -q '^{BINARY_PATH} '",
        name = service.name
    )
}

/// Without systemd: stop the old process (SIGTERM, up to 40 s, like the
/// unit's TimeoutStopSec), start the unit's command line in its own
/// session with the log appended, record the pid, and make sure it is
/// still alive a moment later.
fn direct_start_script(service: &ServiceSpec, restart: bool) -> String {
    let name = service.name;
    let running = direct_running_test(service);
    let stop = if restart {
        format!(
            "if {running}; then kill -TERM \"$pid\"; i=0; while kill -0 \"$pid\" 2>/dev/null && [ $i -lt 400 ]; do sleep 0.1; i=$((i+1)); done; fi; "
        )
    } else {
        String::new()
    };
    format!(
        "set -e; mkdir -p {RUN_DIR} {LOG_DIR}; {stop}\
         if {running}; then exit 0; fi; \
         cd /; echo \"--- started by ferrostack deploy at $(date -u +%FT%TZ)\" >> {LOG_DIR}/{name}.log; \
         setsid {cmd} >> {LOG_DIR}/{name}.log 2>&1 < /dev/null & \
         echo $! > {RUN_DIR}/{name}.pid; sleep 1; \
         if ! kill -0 $! 2>/dev/null; then echo '{name} exited at once; its log:' >&2; tail -n 15 {LOG_DIR}/{name}.log >&2; exit 1; fi",
        cmd = service.shell_command()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_failures_name_the_fix() {
        let e = classify_ssh_failure(
            "root@10.0.0.2",
            "root@10.0.0.2: Permission denied (publickey,password).",
        );
        assert!(e.message.contains("refused our SSH key"), "{e:?}");
        assert!(e
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("--setup-ssh-keys")));
        let e = classify_ssh_failure(
            "root@10.0.0.9",
            "ssh: connect to host 10.0.0.9 port 22: Connection timed out",
        );
        assert!(e.message.contains("cannot be reached"), "{e:?}");
        let e = classify_ssh_failure(
            "root@h",
            "ssh: connect to host h port 22: Connection refused",
        );
        assert!(e
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("openssh-server")));
    }
}
