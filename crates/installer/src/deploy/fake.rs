//! In-memory hosts and controller for the engine's tests: files, running
//! services, a check report, and faults to inject. What the SSH host does
//! for real is tested against real sshd hosts (tests/deploy).

use super::api::{ComputeService, ControllerApi};
use super::plan::ServiceSpec;
use super::remote::{FileState, HostInfo, RemoteError, RemoteHost, ServiceState};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// One fake host.
#[derive(Debug, Default)]
pub struct FakeHost {
    /// What `probe` returns.
    pub info: RefCell<Option<HostInfo>>,
    /// path -> (content, mode).
    pub files: RefCell<BTreeMap<String, (Vec<u8>, u32)>>,
    /// Running services.
    pub running: RefCell<BTreeSet<String>>,
    /// Every start: (service, restart).
    pub starts: RefCell<Vec<(String, bool)>>,
    /// The check's findings as JSON; default: one OK finding.
    pub check_json: RefCell<Option<String>>,
    /// When set, `start` fails with this message.
    pub start_error: RefCell<Option<String>>,
    /// When set, `probe` fails with this error.
    pub probe_error: RefCell<Option<RemoteError>>,
    /// Every script run: (what, script, stdin).
    pub scripts: RefCell<Vec<(String, String, Vec<u8>)>>,
}

impl FakeHost {
    /// A reachable x86_64 host without systemd named `hostname`.
    pub fn new(hostname: &str) -> Rc<Self> {
        let host = FakeHost::default();
        *host.info.borrow_mut() = Some(HostInfo {
            hostname: hostname.into(),
            arch: std::env::consts::ARCH.into(),
            systemd: false,
        });
        Rc::new(host)
    }
}

impl RemoteHost for FakeHost {
    fn probe(&self) -> Result<HostInfo, RemoteError> {
        if let Some(e) = self.probe_error.borrow().clone() {
            return Err(e);
        }
        Ok(self.info.borrow().clone().unwrap_or(HostInfo {
            hostname: "fake".into(),
            arch: std::env::consts::ARCH.into(),
            systemd: false,
        }))
    }
    fn file_state(&self, path: &str) -> Result<Option<FileState>, RemoteError> {
        Ok(self.files.borrow().get(path).map(|(c, m)| FileState {
            sha256: hex::encode(Sha256::digest(c)),
            mode: *m,
        }))
    }
    fn put(&self, path: &str, content: &[u8], mode: u32) -> Result<(), RemoteError> {
        self.files
            .borrow_mut()
            .insert(path.into(), (content.to_vec(), mode));
        Ok(())
    }
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        Ok(self.files.borrow().get(path).map(|(c, _)| c.clone()))
    }
    fn check(&self, _args: &[String]) -> Result<String, RemoteError> {
        Ok(self.check_json.borrow().clone().unwrap_or_else(|| {
            r#"{"findings":[{"check":"memory","subject":"RAM","status":"ok","evidence":"plenty","fix":null}]}"#.into()
        }))
    }
    fn service_state(&self, s: &ServiceSpec, _systemd: bool) -> Result<ServiceState, RemoteError> {
        Ok(if self.running.borrow().contains(s.name) {
            ServiceState::Running
        } else {
            ServiceState::Stopped
        })
    }
    fn start(&self, s: &ServiceSpec, _systemd: bool, restart: bool) -> Result<(), RemoteError> {
        if let Some(e) = self.start_error.borrow().clone() {
            return Err(RemoteError::new(e));
        }
        self.starts.borrow_mut().push((s.name.into(), restart));
        self.running.borrow_mut().insert(s.name.into());
        Ok(())
    }
    fn run_script(&self, what: &str, script: &str, stdin: &[u8]) -> Result<String, RemoteError> {
        self.scripts
            .borrow_mut()
            .push((what.into(), script.into(), stdin.to_vec()));
        Ok("unchanged\n".into())
    }
    fn log_tail(&self, s: &ServiceSpec, _systemd: bool, _lines: usize) -> String {
        format!("{} log: address already in use", s.name)
    }
}

/// A controller whose compute services are the fake hosts running a
/// ferrostack service (the controller counts when it runs VMs itself).
pub struct FakeController {
    /// (host, runs VMs when its service runs).
    pub hosts: Vec<(Rc<FakeHost>, bool)>,
}

impl ControllerApi for FakeController {
    fn identity_ready(&self) -> Result<(), String> {
        let up = self
            .hosts
            .iter()
            .any(|(h, _)| h.running.borrow().contains("ferrostack-controller"));
        if up {
            Ok(())
        } else {
            Err("connection refused".into())
        }
    }
    fn compute_services(&self) -> Result<Vec<ComputeService>, String> {
        Ok(self
            .hosts
            .iter()
            .filter(|(h, computes)| *computes && !h.running.borrow().is_empty())
            .map(|(h, _)| ComputeService {
                host: h
                    .info
                    .borrow()
                    .as_ref()
                    .map(|i| i.hostname.clone())
                    .unwrap_or_default(),
                state: "up".into(),
            })
            .collect())
    }
}
