//! The steps of a deploy run on one host each: connect, install the
//! binary and check the host with it, converge a file, a service, wait
//! for a controller. [`super::phases`] runs them over the hosts in order.
//!
//! Every step compares what a host has with what the plan says and
//! changes only the difference, so a second run over a deployed cloud
//! changes nothing and says so, and a run that stopped half-way (a host
//! down, a FAIL fixed since) is finished by running it again. A service
//! is restarted only when one of its inputs (the binary, a file of its,
//! its unit) changed in this run, and started when it is not running.

use super::api::ControllerApi;
use super::plan::{url_host, FileSpec, HostPlan, ServiceSpec, ANSWER_COPY, BINARY_PATH};
use super::remote::{HostInfo, RemoteError, RemoteHost, ServiceState};
use crate::answer::{AnswerFile, HypervisorKind};
use crate::check::Status;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::time::{Duration, Instant};

/// What a deploy run needs besides the hosts.
pub struct DeployInput<'a> {
    /// The validated answer file.
    pub answers: &'a AnswerFile,
    /// The answer file's text with the admin password replaced (what
    /// every host's `ferrostack check` reads).
    pub redacted_answer_file: Vec<u8>,
    /// The ferrostack binary to install.
    pub binary: Vec<u8>,
    /// Checks whose FAIL findings do not stop the run (`--ignore-check`).
    pub ignore_checks: Vec<String>,
    /// How long to wait for the controller, then for the agents.
    pub ready_timeout: Duration,
}

/// A host with its plan and its connection.
pub struct Target<'a> {
    /// What it gets.
    pub plan: HostPlan,
    /// How to reach it.
    pub remote: &'a dyn RemoteHost,
}

/// A deploy run that stopped.
#[derive(Debug)]
pub struct DeployError {
    /// The host, as the answer file names it (None: not host-specific).
    pub host: Option<String>,
    /// The step.
    pub step: String,
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub fix: Option<String>,
    /// The relevant log lines, when a service is involved.
    pub log: Option<String>,
}

impl std::fmt::Display for DeployError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            Some(h) => write!(
                f,
                "Stopped on {h} at step \"{}\": {}",
                self.step, self.message
            )?,
            None => write!(f, "Stopped at step \"{}\": {}", self.step, self.message)?,
        }
        if let Some(fix) = &self.fix {
            write!(f, "\n  fix: {fix}")?;
        }
        if let Some(log) = &self.log {
            write!(f, "\n  last log lines:")?;
            for line in log.lines() {
                write!(f, "\n    {line}")?;
            }
        }
        write!(
            f,
            "\nFix the cause and run the same command again: what is already right is left alone."
        )
    }
}

impl std::error::Error for DeployError {}

/// What a finished run did.
#[derive(Debug, Default)]
pub struct DeploySummary {
    /// (host, what changed), in order.
    pub changes: Vec<(String, String)>,
    /// The controller's host name and the compute hosts that joined.
    pub compute_hosts: Vec<String>,
    /// The keystonerc_admin text the controller wrote.
    pub keystonerc: Option<Vec<u8>>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One run's progress: where it prints, and what it changed so far.
pub(super) struct Run<'a, 'w> {
    pub(super) input: &'a DeployInput<'a>,
    pub(super) out: &'w mut dyn Write,
    pub(super) summary: DeploySummary,
}

impl Run<'_, '_> {
    pub(super) fn say(&mut self, host: &str, step: &str, text: &str) {
        let _ = writeln!(self.out, "[{host}] {step:<16} {text}");
    }

    pub(super) fn changed(&mut self, host: &str, step: &str, text: String) {
        self.say(host, step, &format!("changed: {text}"));
        self.summary.changes.push((host.to_string(), text));
    }

    pub(super) fn fail(host: &str, step: &str, e: RemoteError) -> DeployError {
        DeployError {
            host: Some(host.to_string()),
            step: step.to_string(),
            message: e.message,
            fix: e.fix,
            log: None,
        }
    }

    /// Writes `file` unless it is already there with the same bytes and
    /// mode; true when it wrote.
    pub(super) fn converge_file(
        &mut self,
        host: &str,
        remote: &dyn RemoteHost,
        file: &FileSpec,
    ) -> Result<bool, DeployError> {
        let step = file.what;
        let want = sha256_hex(&file.content);
        let have = remote
            .file_state(&file.path)
            .map_err(|e| Self::fail(host, step, e))?;
        if have
            .as_ref()
            .is_some_and(|h| h.sha256 == want && h.mode == file.mode)
        {
            self.say(host, step, &format!("ok ({})", file.path));
            return Ok(false);
        }
        remote
            .put(&file.path, &file.content, file.mode)
            .map_err(|e| Self::fail(host, step, e))?;
        let how = if have.is_some() { "updated" } else { "created" };
        self.changed(
            host,
            step,
            format!("{how} {} (mode {:o})", file.path, file.mode),
        );
        Ok(true)
    }

    pub(super) fn connect(&mut self, target: &Target<'_>) -> Result<HostInfo, DeployError> {
        let host = target.plan.host.to_string();
        let info = target
            .remote
            .probe()
            .map_err(|e| Self::fail(&host, "connect", e))?;
        let local_arch = std::env::consts::ARCH;
        if info.arch != local_arch {
            return Err(DeployError {
                host: Some(host),
                step: "connect".into(),
                message: format!(
                    "the host is {}, this ferrostack binary is {local_arch}",
                    info.arch
                ),
                fix: Some(format!(
                    "run deploy with a ferrostack built for {} (--binary PATH)",
                    info.arch
                )),
                log: None,
            });
        }
        let init = if info.systemd {
            "systemd"
        } else {
            "no systemd: services run as processes with pid files"
        };
        let roles: Vec<&str> = target.plan.roles.iter().map(|r| r.as_str()).collect();
        self.say(
            &host,
            "connect",
            &format!(
                "{} ({}, {init}); roles: {}",
                info.hostname,
                info.arch,
                roles.join("+")
            ),
        );
        Ok(info)
    }

    /// Installs the binary and the answer copy, then runs the host's own
    /// `ferrostack check`. Returns whether an input of the host's service
    /// changed (the binary; on the controller also the answer copy, which
    /// it reads its network settings from), and the FAIL findings that
    /// block.
    pub(super) fn install_and_check(
        &mut self,
        target: &Target<'_>,
    ) -> Result<(bool, Vec<String>), DeployError> {
        let host = target.plan.host.to_string();
        let remote = target.remote;
        let binary = FileSpec {
            path: BINARY_PATH.into(),
            content: self.input.binary.clone(),
            mode: 0o755,
            what: "binary",
        };
        let binary_changed = self.converge_file(&host, remote, &binary)?;
        let answer = FileSpec {
            path: ANSWER_COPY.into(),
            content: self.input.redacted_answer_file.clone(),
            mode: 0o600,
            what: "answer file",
        };
        let answer_changed = self.converge_file(&host, remote, &answer)?;
        let inputs_changed = binary_changed || answer_changed && target.plan.is_controller();
        let mut args = vec!["--answer-file".to_string(), ANSWER_COPY.to_string()];
        if self.input.answers.hypervisor == HypervisorKind::Fake {
            args.push("--no-kvm-probe".into());
        }
        let json = remote
            .check(&args)
            .map_err(|e| Self::fail(&host, "check", e))?;
        let report: serde_json::Value = serde_json::from_str(&json).map_err(|e| DeployError {
            host: Some(host.clone()),
            step: "check".into(),
            message: format!("`ferrostack check` printed no report: {e}"),
            fix: None,
            log: Some(json.chars().take(2000).collect()),
        })?;
        let findings = report["findings"].as_array().cloned().unwrap_or_default();
        let (mut ok, mut warn, mut blocking) = (0, 0, Vec::new());
        for f in &findings {
            let check = f["check"].as_str().unwrap_or("");
            let line = format!(
                "{} {}: {}{}",
                check,
                f["subject"].as_str().unwrap_or(""),
                f["evidence"].as_str().unwrap_or(""),
                f["fix"]
                    .as_str()
                    .map(|x| format!(" (fix: {x})"))
                    .unwrap_or_default()
            );
            match serde_json::from_value::<Status>(f["status"].clone()) {
                Ok(Status::Ok) => ok += 1,
                Ok(Status::Warn) => {
                    warn += 1;
                    self.say(&host, "check", &format!("WARN {line}"));
                }
                _ if self.input.ignore_checks.iter().any(|c| c == check) => {
                    self.say(
                        &host,
                        "check",
                        &format!("FAIL (ignored: --ignore-check {check}) {line}"),
                    );
                }
                _ => {
                    self.say(&host, "check", &format!("FAIL {line}"));
                    blocking.push(format!("{check} {}", f["subject"].as_str().unwrap_or("")));
                }
            }
        }
        let fails = if blocking.is_empty() {
            "no FAIL".to_string()
        } else {
            format!("{} FAIL", blocking.len())
        };
        self.say(&host, "check", &format!("{ok} OK, {warn} WARN, {fails}"));
        Ok((inputs_changed, blocking))
    }

    /// Reaches every host before changing any, then installs the binary
    /// everywhere and runs each host's own check. Returns each host's
    /// facts and whether its binary changed.
    pub(super) fn preflight(
        &mut self,
        targets: &[Target<'_>],
    ) -> Result<(Vec<HostInfo>, Vec<bool>), DeployError> {
        let mut infos = Vec::new();
        for t in targets {
            infos.push(self.connect(t)?);
        }
        // Every host is checked before stopping, so one run shows every
        // host's faults.
        let mut binary_changed = Vec::new();
        let mut failed = Vec::new();
        for t in targets {
            let (changed, blocking) = self.install_and_check(t)?;
            binary_changed.push(changed);
            if !blocking.is_empty() {
                failed.push((t.plan.host.to_string(), blocking));
            }
        }
        if failed.is_empty() {
            return Ok((infos, binary_changed));
        }
        let only = (failed.len() == 1).then(|| failed[0].0.clone());
        let message = failed
            .iter()
            .map(|(host, fails)| format!("{host}: {}", fails.join(", ")))
            .collect::<Vec<_>>()
            .join(" | ");
        Err(DeployError {
            host: only,
            step: "check".into(),
            message: format!("FAIL findings: {message}"),
            fix: Some("fix each FAIL as its line above says, or pass --ignore-check CHECK for one you accept".into()),
            log: None,
        })
    }

    pub(super) fn converge_service(
        &mut self,
        target: &Target<'_>,
        info: &HostInfo,
        service: &ServiceSpec,
        inputs_changed: bool,
    ) -> Result<(), DeployError> {
        let host = target.plan.host.to_string();
        let remote = target.remote;
        let unit = FileSpec {
            path: service.unit_path(),
            content: service.unit().into_bytes(),
            mode: 0o644,
            what: "unit",
        };
        let unit_changed = self.converge_file(&host, remote, &unit)?;
        let state = remote
            .service_state(service, info.systemd)
            .map_err(|e| Self::fail(&host, "service", e))?;
        let restart = inputs_changed || unit_changed;
        let action = match (state, restart) {
            (ServiceState::Running, false) => {
                self.say(&host, "service", &format!("ok ({} running)", service.name));
                return Ok(());
            }
            (ServiceState::Running, true) => "restarted (its configuration changed)",
            (ServiceState::Stopped, _) => "started",
        };
        remote
            .start(service, info.systemd, restart)
            .map_err(|e| DeployError {
                log: Some(remote.log_tail(service, info.systemd, 20)),
                ..Self::fail(&host, "service", e)
            })?;
        self.changed(&host, "service", format!("{} {action}", service.name));
        Ok(())
    }

    pub(super) fn wait_controller(
        &mut self,
        target: &Target<'_>,
        info: &HostInfo,
        api: &dyn ControllerApi,
        first: bool,
    ) -> Result<(), DeployError> {
        let host = target.plan.host.to_string();
        let started = Instant::now();
        loop {
            let ready = if first {
                api.identity_ready()
            } else {
                api.identity_ready_on(&url_host(&target.plan.host))
            };
            match ready {
                Ok(()) => {
                    self.say(
                        &host,
                        "ready",
                        &format!(
                            "identity API answers ({:.1} s)",
                            started.elapsed().as_secs_f64()
                        ),
                    );
                    return Ok(());
                }
                Err(e) if started.elapsed() > self.input.ready_timeout => {
                    let service = target.plan.service.as_ref();
                    return Err(DeployError {
                        host: Some(host),
                        step: "ready".into(),
                        message: format!("the identity API did not answer within {} s: {e}", self.input.ready_timeout.as_secs()),
                        fix: Some("see the log lines below; a firewall on the controller must let TCP of the API ports through".into()),
                        log: service.map(|s| target.remote.log_tail(s, info.systemd, 20)),
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(300)),
            }
        }
    }
}

/// `ferrostack check --all-hosts`: the first half of a deployment (reach
/// every host, put the binary and the answer file copy there, run each
/// host's own check), with nothing started. Ok when no host has a FAIL
/// that is not ignored.
pub fn check_hosts(
    input: &DeployInput<'_>,
    targets: &[Target<'_>],
    out: &mut dyn Write,
) -> Result<(), DeployError> {
    let mut run = Run {
        input,
        out,
        summary: DeploySummary::default(),
    };
    run.preflight(targets).map(drop)
}
