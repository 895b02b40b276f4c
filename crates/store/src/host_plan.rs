//! Which writes change what a host should run: the one place that says so.
//!
//! A host agent long-polls its host's revision and re-reads its desired
//! document ([`crate::server::ServerStore::assigned_to_host`] today) only
//! when the revision moved. So every write that changes any section of a
//! host's document must bump that host's revision *in the same
//! transaction*, or the agent misses it until its periodic resync; and a
//! write that changes nothing a host runs should not, or every agent wakes
//! for nothing. Each backend calls [`hosts_touched`] from the write paths
//! of the rows it names and bumps the hosts it returns; nothing else
//! bumps a revision.
//!
//! The writes, by section of the document:
//!
//! | row written | hosts bumped |
//! |---|---|
//! | instance inserted with a host and a desired state | its host |
//! | instance's `desired`, `generation` or `host` changed | the old host and the new one |
//! | instance purged | the host it had |
//! | anything else of an instance (`vm_state`, `task_state`, `doc`, `observed`, names) | none |
//!
//! The network and volume sections will add their rows here (a port bound
//! to a host or unbound from it, its fixed IPs, security groups or admin
//! state changed; a network's segment on a host that has its ports; a
//! volume attachment created, changed or removed), each with the same rule:
//! the hosts whose document the row appears in, before and after.

use crate::server::Instance;
use std::collections::BTreeSet;

/// A write of a row that may appear in some host's desired document.
#[derive(Debug, Clone, Copy)]
pub enum PlanWrite<'a> {
    /// An instance row: `before` is `None` for an insert, `after` is
    /// `None` for a purge.
    Instance {
        /// The row before the write.
        before: Option<&'a Instance>,
        /// The row after it.
        after: Option<&'a Instance>,
    },
}

/// The hosts whose desired document `write` changes (see the table in the
/// module doc).
pub fn hosts_touched(write: PlanWrite<'_>) -> BTreeSet<String> {
    let mut hosts = BTreeSet::new();
    match write {
        PlanWrite::Instance {
            before: None,
            after: Some(after),
        } => {
            if let (Some(host), Some(_)) = (&after.host, &after.desired) {
                hosts.insert(host.clone());
            }
        }
        PlanWrite::Instance {
            before: Some(before),
            after: Some(after),
        } => {
            let moved = before.desired != after.desired
                || before.generation != after.generation
                || before.host != after.host;
            if moved {
                hosts.extend(before.host.iter().cloned());
                hosts.extend(after.host.iter().cloned());
            }
        }
        PlanWrite::Instance {
            before: Some(before),
            after: None,
        } => hosts.extend(before.host.iter().cloned()),
        PlanWrite::Instance {
            before: None,
            after: None,
        } => {}
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(host: Option<&str>, desired: Option<serde_json::Value>, generation: i64) -> Instance {
        Instance {
            seq: 1,
            uuid: "u".into(),
            project_id: "p".into(),
            user_id: "u".into(),
            name: "vm".into(),
            host: host.map(str::to_owned),
            vm_state: "building".into(),
            task_state: None,
            power_state: 0,
            doc: json!({}),
            desired,
            generation,
            observed: None,
            created_at: 0,
            updated_at: 0,
            deleted_at: None,
        }
    }

    fn touched(before: Option<&Instance>, after: Option<&Instance>) -> Vec<String> {
        hosts_touched(PlanWrite::Instance { before, after })
            .into_iter()
            .collect()
    }

    #[test]
    fn instance_writes_bump_the_hosts_whose_plan_they_change() {
        let unplaced = row(None, None, 0);
        let placed = row(Some("h1"), Some(json!({"power": "running"})), 1);
        assert_eq!(touched(None, Some(&unplaced)), Vec::<String>::new());
        assert_eq!(touched(None, Some(&placed)), ["h1"]);
        assert_eq!(touched(Some(&unplaced), Some(&placed)), ["h1"]);

        let mut observed_only = placed.clone();
        observed_only.observed = Some(json!({"power_state": "running"}));
        observed_only.vm_state = "active".into();
        assert_eq!(
            touched(Some(&placed), Some(&observed_only)),
            Vec::<String>::new()
        );

        let mut bumped = placed.clone();
        bumped.generation = 2;
        assert_eq!(touched(Some(&placed), Some(&bumped)), ["h1"]);

        let mut moved = placed.clone();
        moved.host = Some("h2".into());
        assert_eq!(touched(Some(&placed), Some(&moved)), ["h1", "h2"]);

        assert_eq!(touched(Some(&placed), None), ["h1"]);
        assert_eq!(touched(Some(&unplaced), None), Vec::<String>::new());
    }
}
