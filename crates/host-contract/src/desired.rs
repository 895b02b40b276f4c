//! The per-host desired document, the kinds of object in it, and the
//! kind-neutral report of an object.
//!
//! One [`HostDesired`] is everything one host should run at one revision,
//! in typed sections: instances, the network ([`crate::network`]) and block
//! devices ([`crate::block`]: the volumes a storage host exports). Every
//! object in every section has an id unique within its [`Kind`], a
//! `generation` bumped by every write of it, and a `deleted` flag (a
//! delete is desired state too: the host tears the object down and the
//! control plane purges it once the report says so).
//!
//! Why one document and not a channel per kind: the agent needs all of
//! them at once to order its work (a port is wired before the VM that
//! uses it starts, see [`HostDesired::requirements`]), and one revision
//! per host means one long poll and one snapshot read, whatever the
//! number of kinds. A section the controller does not fill yet is empty,
//! and an agent that does not know a section ignores it (`serde(default)`
//! both ways), so controllers and agents of different versions still talk.

use crate::block::BlockDeviceSection;
use crate::network::NetworkSection;
use crate::{DesiredInstance, Operation};
use serde::{Deserialize, Serialize};

/// What one host should run, read at one revision.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HostDesired {
    /// The source's revision this snapshot was read at; pass it to
    /// [`crate::DesiredStateSource::watch`].
    pub revision: u64,
    /// Every instance assigned to the host, deleted ones included until the
    /// control plane purges them.
    pub instances: Vec<DesiredInstance>,
    /// Networks, ports and what they need on this host (drafted; empty
    /// until the networking API writes it).
    #[serde(default)]
    pub network: NetworkSection,
    /// Volume exports on this host (a storage host serving its volumes to
    /// others). Attached volumes are disks of their instance's spec
    /// ([`crate::InstanceSpec::volumes`]).
    #[serde(default)]
    pub block_devices: BlockDeviceSection,
}

/// The kinds of object a host converges. Each has one driver in the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A virtual machine (the `Hypervisor` driver).
    Instance,
    /// A network's data path on this host: bridge, VXLAN or VLAN device.
    Network,
    /// A port: tap, anti-spoofing and security-group rules.
    Port,
    /// A DHCP server for one network.
    Dhcp,
    /// A router namespace on a network host.
    Router,
    /// A volume this (storage) host serves to others.
    VolumeExport,
}

impl Kind {
    /// The name used in logs and paths.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Instance => "instance",
            Kind::Network => "network",
            Kind::Port => "port",
            Kind::Dhcp => "dhcp",
            Kind::Router => "router",
            Kind::VolumeExport => "volume_export",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object of one kind on one host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// Its kind.
    pub kind: Kind,
    /// Its id, unique within the kind (a port id, a volume id, ...).
    pub id: String,
}

impl ObjectKey {
    /// The key of object `id` of `kind`.
    pub fn new(kind: Kind, id: impl Into<String>) -> Self {
        ObjectKey {
            kind,
            id: id.into(),
        }
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.id)
    }
}

/// Where the convergence of one object (not an instance) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectPhase {
    /// On the host as desired at `observed_generation`.
    Ready,
    /// Being brought up or changed.
    Working,
    /// Waiting for what it requires (see [`HostDesired::requirements`]),
    /// or for what requires it to be gone before it is torn down.
    Waiting,
    /// The last attempt failed; it is tried again after a backoff.
    Retrying,
    /// The agent gave up on `observed_generation`; a new generation is
    /// needed to try again.
    Failed,
    /// Torn down: nothing of it is left on the host.
    Deleted,
}

/// What the agent reports of one object of a kind other than instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedObject {
    /// Which object.
    pub key: ObjectKey,
    /// Where convergence stands.
    pub phase: ObjectPhase,
    /// The desired generation the agent has finished acting on (converged
    /// or given up); 0 before the first.
    pub observed_generation: u64,
    /// Whether the object exists on the host.
    pub present: bool,
    /// Why the last attempt failed, safe to show to the owner.
    pub fault: Option<String>,
    /// Driver-specific facts the control plane may show (a tap's name, a
    /// device path), as a JSON object.
    #[serde(default)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// One object of a kind other than instances, as the engine tracks it:
/// its id, generation and whether it is being deleted. The driver of its
/// kind reads the rest from the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectDesire {
    /// The object's id within its kind.
    pub id: String,
    /// Its generation.
    pub generation: u64,
    /// Being deleted: tear it down.
    pub deleted: bool,
}

impl HostDesired {
    /// The objects of `kind` in the document (none for
    /// [`Kind::Instance`]: instances have their own section and state
    /// machine). The one place that maps kinds to sections.
    pub fn objects(&self, kind: Kind) -> Vec<ObjectDesire> {
        fn desire(id: &str, generation: u64, deleted: bool) -> ObjectDesire {
            ObjectDesire {
                id: id.to_owned(),
                generation,
                deleted,
            }
        }
        let n = &self.network;
        let b = &self.block_devices;
        match kind {
            Kind::Instance => Vec::new(),
            Kind::Network => n
                .networks
                .iter()
                .map(|o| desire(&o.id, o.generation, o.deleted))
                .collect(),
            Kind::Port => n
                .ports
                .iter()
                .map(|o| desire(&o.id, o.generation, o.deleted))
                .collect(),
            Kind::Dhcp => n
                .dhcp
                .iter()
                .map(|o| desire(&o.network_id, o.generation, o.deleted))
                .collect(),
            Kind::Router => n
                .routers
                .iter()
                .map(|o| desire(&o.id, o.generation, o.deleted))
                .collect(),
            Kind::VolumeExport => b
                .exports
                .iter()
                .map(|o| desire(&o.volume_id, o.generation, o.deleted))
                .collect(),
        }
    }

    /// What each object needs on this host before it may be brought up,
    /// derived from the document: an instance needs its ports and the
    /// volume it boots from (the latter inside its own spec); a port, and a router's gateway and interfaces,
    /// need their networks. The agent's
    /// engine applies the ordering rules to these edges; the document only
    /// says which edges exist.
    pub fn requirements(&self) -> Vec<(ObjectKey, ObjectKey)> {
        let mut edges = Vec::new();
        for i in &self.instances {
            let me = ObjectKey::new(Kind::Instance, i.spec.id.to_string());
            for nic in &i.spec.nics {
                if let Some(port) = &nic.port_id {
                    edges.push((me.clone(), ObjectKey::new(Kind::Port, port.clone())));
                }
            }
        }
        for p in &self.network.ports {
            edges.push((
                ObjectKey::new(Kind::Port, p.id.clone()),
                ObjectKey::new(Kind::Network, p.network_id.clone()),
            ));
        }
        for d in &self.network.dhcp {
            edges.push((
                ObjectKey::new(Kind::Dhcp, d.network_id.clone()),
                ObjectKey::new(Kind::Network, d.network_id.clone()),
            ));
        }
        for r in &self.network.routers {
            let me = ObjectKey::new(Kind::Router, r.id.clone());
            for p in r.gateway.iter().chain(&r.interfaces) {
                edges.push((
                    me.clone(),
                    ObjectKey::new(Kind::Network, p.network_id.clone()),
                ));
            }
        }
        edges
    }
}

/// Whether an operation brings an object up (needs what it requires to be
/// ready) or takes it down (needs what requires it to be gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Create, start, attach, wire.
    Up,
    /// Change in place (no ordering).
    Same,
    /// Destroy, stop, detach, unwire.
    Down,
}

impl Operation {
    /// Which way this instance operation moves its instance, for the
    /// engine's ordering rules.
    pub fn direction(self) -> Direction {
        match self {
            Operation::Spawn | Operation::PowerOn | Operation::Resume | Operation::Unpause => {
                Direction::Up
            }
            Operation::Destroy => Direction::Down,
            // A NIC hotplug is ordered against the one port it plugs, not
            // against everything the instance requires (the agent gates it
            // on that port alone).
            _ => Direction::Same,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{DesiredNetwork, DesiredPort, Segment};

    fn port(id: &str, network: &str) -> DesiredPort {
        DesiredPort {
            id: id.into(),
            network_id: network.into(),
            tap: format!("tap{id}"),
            mac_address: "fa:16:3e:00:00:01".into(),
            fixed_ips: vec![],
            allowed_address_pairs: vec![],
            port_security_enabled: true,
            security_groups: vec![],
            admin_state_up: true,
            device_id: None,
            generation: 3,
            deleted: false,
        }
    }

    #[test]
    fn a_document_names_its_objects_by_kind_and_what_requires_what() {
        let mut doc = HostDesired::default();
        doc.network.networks.push(DesiredNetwork {
            id: "n1".into(),
            segment: Segment::Local,
            mtu: 1500,
            admin_state_up: true,
            generation: 1,
            deleted: true,
        });
        doc.network.ports.push(port("p1", "n1"));
        assert_eq!(
            doc.objects(Kind::Network),
            [ObjectDesire {
                id: "n1".into(),
                generation: 1,
                deleted: true
            }]
        );
        assert_eq!(doc.objects(Kind::Port)[0].generation, 3);
        assert!(doc.objects(Kind::Instance).is_empty());
        assert_eq!(
            doc.requirements(),
            [(
                ObjectKey::new(Kind::Port, "p1"),
                ObjectKey::new(Kind::Network, "n1")
            )]
        );
    }

    #[test]
    fn an_old_peer_without_the_new_sections_still_parses() {
        let doc: HostDesired =
            serde_json::from_str(r#"{"revision": 7, "instances": []}"#).expect("parses");
        assert_eq!(doc.revision, 7);
        assert_eq!(doc.network, Default::default());
        assert_eq!(doc.block_devices, Default::default());
    }
}
