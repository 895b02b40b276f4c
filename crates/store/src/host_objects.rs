//! What host agents last reported of their objects other than instances
//! (ports, networks, DHCP servers, later volume attachments), kept so a
//! restarted agent knows what it had finished (and does not redo it) and
//! so the APIs can show an object's state (a port `ACTIVE` once wired).
//!
//! The store keeps each report as the agent sent it, by host, kind and
//! id, as opaque JSON: the contract's types live in the host-contract
//! crate, which the store does not depend on. A report of an object
//! torn down (`Deleted`) removes its row.

use crate::StoreResult;

/// One reported object: its kind and id, and the report as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedObject {
    /// The kind (`port`, `network`, ...).
    pub kind: String,
    /// The id within its kind.
    pub id: String,
    /// The report.
    pub report: serde_json::Value,
}

/// Agents' reports of their objects.
pub trait HostObjectStore: Send + Sync {
    /// Record `reports` of `host` (an upsert by kind and id); `gone` are
    /// (kind, id) pairs whose rows go.
    fn record_objects(
        &self,
        host: &str,
        reports: &[ReportedObject],
        gone: &[(String, String)],
    ) -> StoreResult<()>;

    /// What `host` last reported.
    fn reported_objects(&self, host: &str) -> StoreResult<Vec<ReportedObject>>;
}
