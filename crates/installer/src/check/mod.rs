//! `ferrostack check`: the pre-flight checks of one host.
//!
//! Each check turns [`HostFacts`] (and the answer file) into
//! [`Finding`]s: a status, the evidence it is based on, and the fix in
//! the operator's words. A [`Report`] allows deploy when it has no
//! [`Status::Fail`]; warnings are shown and do not block (the seed's
//! author would rather have been told than stopped).
//!
//! Checks depend on the roles this host plays in the answer file: a
//! compute host needs memory for guests and QEMU, a network host needs
//! the bridges. With no answer file the host is checked as an
//! all-in-one deployment.

mod checks;
mod facts;
mod fake;
mod kernel;
mod local;
pub mod programs;
mod render;

pub use facts::{DiskSpace, HostFacts, KvmFacts, KvmProbe, Memory, TimeService, TimeSync};
pub use fake::FakeHostFacts;
pub use local::LocalHostFacts;

use crate::answer::{AnswerFile, Host, Loaded, Role};
use serde::{Deserialize, Serialize};

/// How a finding bears on deploying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fine.
    Ok,
    /// Deploy may proceed, but something is off.
    Warn,
    /// Deploy would fail or leave a broken cloud.
    Fail,
}

impl Status {
    /// `OK`, `WARN`, `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One result of one check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// A stable identifier of the check (`time-sync`, `memory`, `port`...).
    pub check: &'static str,
    /// What exactly was looked at (a program, a port, a host name...).
    pub subject: String,
    /// The verdict.
    pub status: Status,
    /// What was seen.
    pub evidence: String,
    /// What to do about it; None when nothing is to be done.
    pub fix: Option<String>,
}

impl Finding {
    fn new(
        check: &'static str,
        subject: impl Into<String>,
        status: Status,
        evidence: impl Into<String>,
    ) -> Self {
        Finding {
            check,
            subject: subject.into(),
            status,
            evidence: evidence.into(),
            fix: None,
        }
    }

    fn ok(check: &'static str, subject: impl Into<String>, evidence: impl Into<String>) -> Self {
        Self::new(check, subject, Status::Ok, evidence)
    }

    fn warn(check: &'static str, subject: impl Into<String>, evidence: impl Into<String>) -> Self {
        Self::new(check, subject, Status::Warn, evidence)
    }

    fn fail(check: &'static str, subject: impl Into<String>, evidence: impl Into<String>) -> Self {
        Self::new(check, subject, Status::Fail, evidence)
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// All findings for one host.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The host's name.
    pub host: String,
    /// The answer file checked, if any.
    pub answer_file: Option<String>,
    /// The roles this host was checked for.
    pub roles: Vec<Role>,
    /// True when there is no FAIL.
    pub may_deploy: bool,
    /// The findings, in check order.
    pub findings: Vec<Finding>,
}

impl Report {
    /// How many findings have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }

    /// The findings of one check.
    pub fn of(&self, check: &str) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.check == check).collect()
    }

    /// The aligned, human-readable form.
    pub fn to_text(&self) -> String {
        render::text(self)
    }

    /// The JSON form (`--format json`).
    pub fn to_json(&self) -> String {
        render::json(self)
    }
}

/// The answer file given to `check`, if any.
#[derive(Debug, Clone, Copy)]
pub struct AnswerInput<'a> {
    /// Its path as the operator typed it (used in `file:line:col`).
    pub path: &'a str,
    /// What reading it gave.
    pub loaded: &'a Loaded,
}

/// Runs every check on the host `facts` describes.
pub fn run(facts: &dyn HostFacts, answer: Option<AnswerInput<'_>>) -> Report {
    let mut findings = Vec::new();
    let fallback;
    let answers: &AnswerFile = match answer {
        Some(a) => {
            findings.extend(checks::answer_file(a));
            &a.loaded.answers
        }
        None => {
            fallback = AnswerFile::all_in_one(Host::Name(facts.hostname()));
            findings.push(Finding::ok(
                "answer-file",
                "(none)",
                "no answer file given: this host is checked as an all-in-one deployment with the default settings",
            ));
            &fallback
        }
    };
    let (roles, role_finding) = checks::roles(facts, answers, answer.is_some());
    findings.push(role_finding);
    findings.push(checks::time_sync(facts, answers));
    findings.extend(checks::name_resolution(facts, answers));
    findings.extend(checks::reachability(facts, answers));
    findings.extend(checks::database(facts, answers, &roles));
    findings.push(checks::resolv_conf(facts));
    findings.push(checks::memory(facts, &roles));
    findings.push(checks::disk(facts, answers, &roles));
    findings.extend(checks::virtualization(facts, answers, &roles));
    findings.extend(checks::programs(facts, answers, &roles));
    findings.extend(checks::interfaces(facts, answers, &roles));
    findings.extend(kernel::dataplane(facts, answers, &roles));
    findings.extend(checks::ports(facts, answers, &roles));
    let may_deploy = !findings.iter().any(|f| f.status == Status::Fail);
    Report {
        host: facts.hostname(),
        answer_file: answer.map(|a| a.path.to_string()),
        roles,
        may_deploy,
        findings,
    }
}
