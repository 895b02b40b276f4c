//! `ferrostack deploy`: install and start ferrostack on every host of an
//! answer file, over SSH, and converge on a re-run.
//!
//! The order is the seed's, with the waiting done by the tool: reach
//! every host first (so a missing SSH key is found before anything
//! changes), put this very binary on each and let it check its own host
//! (`ferrostack check`, the same findings an operator gets by hand), then
//! start the controller, hand its join file to the compute hosts, start
//! their agents, and wait until the cloud's own `os-services` lists every
//! compute host as up.
//!
//! [`plan`] computes the bytes each host should have; [`engine`] compares
//! and changes only what differs on one host, [`phases`] runs it over the
//! hosts in order; [`RemoteHost`] is how a host is reached
//! ([`ssh::SshHost`] for real, [`fake::FakeHost`] in tests) and
//! [`ControllerApi`] how the cloud is asked.

pub mod api;
mod database;
mod engine;
pub mod fake;
mod phases;
pub mod plan;
pub mod remote;
pub mod ssh;
#[cfg(test)]
mod tests;

pub use api::{ComputeService, ControllerApi, HttpControllerApi};
pub use engine::{check_hosts, DeployError, DeployInput, DeploySummary, Target};
pub use phases::deploy;
pub use plan::{plan, HostPlan};
pub use remote::{RemoteError, RemoteHost};

/// What replaces passwords in the answer file copies deploy puts on the
/// hosts: only the controller needs the admin password, in a file of its
/// own.
pub const REDACTED: &str = "redacted-by-ferrostack-deploy";

/// The answer file's text with every password value (`CONFIG_*_PW`)
/// replaced by [`REDACTED`], line and column positions of everything
/// else kept.
pub fn redact_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let key_end = trimmed.find('=');
        match key_end {
            Some(eq) if !trimmed.starts_with('#') && trimmed[..eq].trim_end().ends_with("_PW") => {
                let indent = &line[..line.len() - trimmed.len()];
                let newline = if line.ends_with('\n') { "\n" } else { "" };
                out.push_str(indent);
                out.push_str(&trimmed[..=eq]);
                out.push_str(REDACTED);
                out.push_str(newline);
            }
            _ => out.push_str(line),
        }
    }
    out
}
