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
//! | port created or deleted | its host; its network's DHCP hosts; the hosts with ports of its project (remote groups); the hosts carrying its network (VXLAN peers) |
//! | port's host, MAC, addresses, pairs, groups, security or admin state changed | old and new host; DHCP hosts when MAC or addresses changed; the project's hosts when addresses, pairs or groups changed; the network's hosts when the host changed |
//! | anything else of a port (name, description, tags, status) | none |
//! | network's segment, MTU or admin state changed, or network deleted | the hosts that carry it (a port of it bound there) |
//! | subnet created, changed or deleted | its network's DHCP hosts |
//! | security group or rule written | the hosts with ports of its project |
//! | router created or deleted | its host |
//! | router's gateway, SNAT, routes, admin state, host or ports (contents time) changed | its old and new host |
//! | anything else of a router (name, description, tags, zones) | none |
//!
//! | volume export created, changed or deleted | its storage host (before and after) |
//!
//! | floating IP associated, moved, disassociated, or deleted while associated | the host of the gateway port of its router, before and after |
//! | anything else of a floating IP (description, tags, an unassociated create or delete) | none |
//!
//! The backend finds the host sets a network-model write names (DHCP
//! hosts, carriers, the project's hosts) in the same transaction and
//! passes them in; which of them a write touches is decided here. The
//! project's hosts stand for "the hosts whose ports name this port's
//! groups as remote": groups are per project, so that is a superset, and
//! a cheap one. Attached volumes are in their instance's desired state
//! (its rows above); a volume export is in its storage host's block-device
//! section. A router's ports are ports (bound to the router's host), so
//! their own rows bump that host; the router row covers what only it
//! says (gateway mode, routes, admin state) and a port that went.

use crate::floating_ip::FloatingIpRecord;
use crate::network::{Network, Port};
use crate::router::Router;
use crate::server::Instance;
use std::collections::{BTreeMap, BTreeSet};

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
    /// A port: `before` is `None` for a create, `after` for a delete.
    Port {
        /// The port before the write.
        before: Option<&'a Port>,
        /// The port after it.
        after: Option<&'a Port>,
        /// The hosts serving DHCP for its network.
        dhcp_hosts: &'a BTreeSet<String>,
        /// The hosts with bound ports of its project.
        project_hosts: &'a BTreeSet<String>,
        /// The hosts with bound ports of its network: a VXLAN network
        /// lists the others as its peers, so a port arriving on or
        /// leaving a host changes their documents.
        network_hosts: &'a BTreeSet<String>,
    },
    /// A volume export written: its storage host before (`None` for a
    /// create) and after (`None` for a delete).
    Export {
        /// The storage host before the write.
        before: Option<&'a str>,
        /// The storage host after it.
        after: Option<&'a str>,
    },
    /// A network changed (`after`) or deleted (`None`).
    Network {
        /// The network before the write.
        before: &'a Network,
        /// The network after it.
        after: Option<&'a Network>,
        /// The hosts with a port of it bound there.
        carriers: &'a BTreeSet<String>,
    },
    /// A subnet created, changed or deleted.
    Subnet {
        /// The hosts serving DHCP for its network.
        dhcp_hosts: &'a BTreeSet<String>,
    },
    /// A router: `before` is `None` for a create, `after` for a delete.
    Router {
        /// The row before the write.
        before: Option<&'a Router>,
        /// The row after it.
        after: Option<&'a Router>,
    },
    /// A floating IP: `before` is `None` for a create, `after` for a
    /// delete.
    FloatingIp {
        /// The floating IP before the write.
        before: Option<&'a FloatingIpRecord>,
        /// The floating IP after it.
        after: Option<&'a FloatingIpRecord>,
        /// The host of each router's gateway port (router id -> host),
        /// for the routers `before` and `after` name.
        gateway_hosts: &'a BTreeMap<String, String>,
    },
    /// A security group or one of its rules written.
    SecurityGroup {
        /// The hosts with bound ports of its project.
        project_hosts: &'a BTreeSet<String>,
    },
}

/// What of a port a host carries (everything but its names, tags and
/// status).
fn port_plan(p: &Port) -> impl PartialEq + '_ {
    (
        &p.host_id,
        &p.mac_address,
        &p.fixed_ips,
        &p.allowed_address_pairs,
        &p.security_groups,
        p.port_security_enabled,
        p.admin_state_up,
        &p.device_id,
        &p.device_owner,
    )
}

fn port_hosts(
    before: Option<&Port>,
    after: Option<&Port>,
    dhcp_hosts: &BTreeSet<String>,
    project_hosts: &BTreeSet<String>,
    network_hosts: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut hosts = BTreeSet::new();
    let bound = |p: Option<&Port>| {
        p.map(|p| p.host_id.clone())
            .filter(|h| !h.is_empty())
            .into_iter()
    };
    match (before, after) {
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => {
            hosts.extend(bound(before).chain(bound(after)));
            hosts.extend(dhcp_hosts.iter().cloned());
            hosts.extend(project_hosts.iter().cloned());
            hosts.extend(network_hosts.iter().cloned());
        }
        (Some(b), Some(a)) => {
            if port_plan(b) != port_plan(a) {
                hosts.extend(bound(before).chain(bound(after)));
            }
            if b.host_id != a.host_id {
                hosts.extend(network_hosts.iter().cloned());
            }
            if b.mac_address != a.mac_address || b.fixed_ips != a.fixed_ips {
                hosts.extend(dhcp_hosts.iter().cloned());
            }
            if b.fixed_ips != a.fixed_ips
                || b.allowed_address_pairs != a.allowed_address_pairs
                || b.security_groups != a.security_groups
            {
                hosts.extend(project_hosts.iter().cloned());
            }
        }
    }
    hosts
}

/// The hosts whose desired document `write` changes (see the table in the
/// module doc).
pub fn hosts_touched(write: PlanWrite<'_>) -> BTreeSet<String> {
    let mut hosts = BTreeSet::new();
    match write {
        PlanWrite::Port {
            before,
            after,
            dhcp_hosts,
            project_hosts,
            network_hosts,
        } => hosts = port_hosts(before, after, dhcp_hosts, project_hosts, network_hosts),
        PlanWrite::Network {
            before,
            after,
            carriers,
        } => {
            let carried = |n: &Network| {
                (
                    n.network_type.clone(),
                    n.physical_network.clone(),
                    n.segmentation_id,
                    n.mtu,
                    n.admin_state_up,
                )
            };
            if after.is_none_or(|a| carried(a) != carried(before)) {
                hosts.extend(carriers.iter().cloned());
            }
        }
        PlanWrite::Subnet { dhcp_hosts } => hosts.extend(dhcp_hosts.iter().cloned()),
        PlanWrite::Export { before, after } => {
            hosts.extend(before.into_iter().chain(after).map(str::to_owned))
        }
        PlanWrite::SecurityGroup { project_hosts } => hosts.extend(project_hosts.iter().cloned()),
        PlanWrite::Router { before, after } => {
            let plan = |r: &Router| {
                (
                    r.gateway.clone(),
                    r.routes.clone(),
                    r.admin_state_up,
                    r.host.clone(),
                    r.contents_changed_at,
                )
            };
            let moved = match (before, after) {
                (Some(b), Some(a)) => plan(b) != plan(a),
                _ => true,
            };
            if moved {
                for r in before.into_iter().chain(after) {
                    if !r.host.is_empty() {
                        hosts.insert(r.host.clone());
                    }
                }
            }
        }
        PlanWrite::FloatingIp {
            before,
            after,
            gateway_hosts,
        } => {
            let b = before.and_then(FloatingIpRecord::carried);
            let a = after.and_then(FloatingIpRecord::carried);
            if b != a {
                for (router, _, _) in b.into_iter().chain(a) {
                    hosts.extend(gateway_hosts.get(router).cloned());
                }
            }
        }
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

    fn fip(router: Option<&str>) -> FloatingIpRecord {
        FloatingIpRecord {
            id: "f".into(),
            project_id: "p".into(),
            floating_network_id: "ext".into(),
            floating_ip_address: "203.0.113.5".into(),
            floating_port_id: "fp".into(),
            port_id: router.map(|_| "port".into()),
            fixed_ip_address: router.map(|_| "10.0.0.5".into()),
            router_id: router.map(str::to_owned),
            description: String::new(),
            tags: vec![],
            status: "DOWN".into(),
            created_at: 0,
            updated_at: 0,
            revision_number: 1,
        }
    }

    #[test]
    fn floating_ip_writes_bump_the_gateway_hosts_of_the_routers_they_change() {
        let gw: BTreeMap<String, String> = [("r1", "net1"), ("r2", "net2")]
            .into_iter()
            .map(|(r, h)| (r.to_string(), h.to_string()))
            .collect();
        let touched = |b: Option<&FloatingIpRecord>, a: Option<&FloatingIpRecord>| {
            hosts_touched(PlanWrite::FloatingIp {
                before: b,
                after: a,
                gateway_hosts: &gw,
            })
            .into_iter()
            .collect::<Vec<_>>()
        };
        let (free, on_r1, on_r2) = (fip(None), fip(Some("r1")), fip(Some("r2")));
        let none: Vec<String> = vec![];
        assert_eq!(touched(None, Some(&free)), none, "unassociated create");
        assert_eq!(touched(Some(&free), None), none, "unassociated delete");
        assert_eq!(touched(Some(&free), Some(&on_r1)), ["net1"], "associate");
        assert_eq!(touched(Some(&on_r1), Some(&free)), ["net1"], "disassociate");
        assert_eq!(touched(Some(&on_r1), None), ["net1"], "delete associated");
        assert_eq!(touched(Some(&on_r1), Some(&on_r2)), ["net1", "net2"]);
        let mut described = on_r1.clone();
        described.description = "web".into();
        described.tags = vec!["t".into()];
        assert_eq!(touched(Some(&on_r1), Some(&described)), none);
        let mut unbound = fip(Some("r3"));
        unbound.id = "g".into();
        assert_eq!(touched(None, Some(&unbound)), none, "gateway not bound");
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

    #[test]
    fn router_writes_bump_its_host_when_what_it_runs_changes() {
        let router = Router {
            id: "r".into(),
            project_id: "p".into(),
            name: "r".into(),
            description: String::new(),
            admin_state_up: true,
            status: "ACTIVE".into(),
            gateway: None,
            routes: vec![],
            availability_zone_hints: vec![],
            tags: vec![],
            host: "net".into(),
            created_at: 1,
            updated_at: 1,
            contents_changed_at: 1,
            revision_number: 1,
        };
        let touched = |before: Option<&Router>, after: Option<&Router>| -> Vec<String> {
            hosts_touched(PlanWrite::Router { before, after })
                .into_iter()
                .collect()
        };
        assert_eq!(touched(None, Some(&router)), ["net"]);
        assert_eq!(touched(Some(&router), None), ["net"]);
        let mut renamed = router.clone();
        renamed.name = "other".into();
        renamed.tags = vec!["t".into()];
        assert_eq!(touched(Some(&router), Some(&renamed)), Vec::<String>::new());
        let mut down = router.clone();
        down.admin_state_up = false;
        assert_eq!(touched(Some(&router), Some(&down)), ["net"]);
        let mut emptied = router.clone();
        emptied.contents_changed_at = 2;
        assert_eq!(touched(Some(&router), Some(&emptied)), ["net"]);
    }
}
