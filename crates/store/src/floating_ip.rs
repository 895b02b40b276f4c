//! Neutron's floating IPs: the record, its typed refusals and the
//! [`FloatingIpStore`] trait.
//!
//! A floating IP's address is an ordinary port on the external network
//! (`device_owner` `network:floatingip`, `device_id` the floating IP's
//! id, no project), as Neutron makes it: IPAM, the address's uniqueness
//! and the network's "in use" rule are the ports' own. The store inserts
//! that port and the floating IP row in one transaction, so a refused
//! create leaves neither, and deletes both together.
//!
//! What must not race is a constraint: one floating IP per (fixed port,
//! fixed address, external network), a unique index whose violation comes
//! back as [`FloatingIpConflict::PortAlreadyAssociated`]. Which router
//! carries an association is decided by the service (from the router
//! ports in the port table) and stored in the row.
//!
//! What a write changes on hosts: an association, a disassociation or the
//! deletion of an associated floating IP changes what the router's
//! gateway host runs (see [`crate::host_plan`]), and moves that router's
//! "floating IPs changed at" time ([`FloatingIpStore::floating_ips_changed_at`]),
//! which a router's generation follows so that a floating IP leaving a
//! router (disassociated or deleted, so absent from the list) still moves
//! it.

use crate::network::{IpRequest, Port, Refusal};
use crate::{StoreError, StoreResult};
use serde::{Deserialize, Serialize};

/// The `device_owner` of a floating IP's own port.
pub const FLOATINGIP_OWNER: &str = "network:floatingip";
/// The `device_owner` of a router's port on the external network.
pub const ROUTER_GATEWAY_OWNER: &str = "network:router_gateway";
/// The `device_owner`s of a router's ports on tenant subnets.
pub const ROUTER_INTERFACE_OWNERS: &[&str] = &[
    "network:router_interface",
    "network:router_interface_distributed",
    "network:ha_router_replicated_interface",
];

/// `status` of a floating IP with no port.
pub const STATUS_DOWN: &str = "DOWN";
/// `status` of an associated floating IP.
pub const STATUS_ACTIVE: &str = "ACTIVE";

/// A floating IP as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatingIpRecord {
    /// UUID.
    pub id: String,
    /// Owning project.
    pub project_id: String,
    /// The external network the address is on.
    pub floating_network_id: String,
    /// The address (from its port's allocation).
    pub floating_ip_address: String,
    /// Its own `network:floatingip` port.
    pub floating_port_id: String,
    /// The associated (fixed) port.
    pub port_id: Option<String>,
    /// The fixed address it forwards to.
    pub fixed_ip_address: Option<String>,
    /// The router that carries the association.
    pub router_id: Option<String>,
    /// Free text.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// `DOWN` or `ACTIVE`.
    pub status: String,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last update, µs since the epoch.
    pub updated_at: i64,
    /// Moves on every change.
    pub revision_number: i64,
}

impl FloatingIpRecord {
    /// Drop the association (port, fixed address, router); status `DOWN`.
    pub fn disassociate(&mut self) {
        self.port_id = None;
        self.fixed_ip_address = None;
        self.router_id = None;
        self.status = STATUS_DOWN.into();
    }

    /// What a router carries of it: (router, floating, fixed) when
    /// associated.
    pub fn carried(&self) -> Option<(&str, &str, &str)> {
        match (&self.router_id, &self.port_id, &self.fixed_ip_address) {
            (Some(r), Some(_), Some(f)) => Some((r, &self.floating_ip_address, f)),
            _ => None,
        }
    }
}

/// A rule of floating IPs a write would break; travels in
/// [`StoreError::Refused`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FloatingIpConflict {
    /// That fixed address already has a floating IP on that network.
    #[error("Cannot associate floating IP {floating_ip_address} ({fip_id}) with port {port_id} using fixed IP {fixed_ip}, as that fixed IP already has a floating IP on external network {net_id}.")]
    PortAlreadyAssociated {
        /// The address being associated.
        floating_ip_address: String,
        /// Its id.
        fip_id: String,
        /// The fixed port.
        port_id: String,
        /// The fixed address.
        fixed_ip: String,
        /// The external network.
        net_id: String,
    },
}

impl From<FloatingIpConflict> for StoreError {
    fn from(c: FloatingIpConflict) -> Self {
        StoreError::Refused(Box::new(c))
    }
}

impl StoreError {
    /// The [`FloatingIpConflict`] this error carries, if it is one.
    pub fn floating_ip_conflict(&self) -> Option<&FloatingIpConflict> {
        match self {
            StoreError::Refused(e) => e.downcast_ref::<FloatingIpConflict>(),
            _ => None,
        }
    }
}

/// Stored floating IPs. A supertrait of
/// [`crate::network::NetworkStore`]: they live and change with ports.
pub trait FloatingIpStore: Send + Sync {
    /// Insert `port` (the floating IP's own, with an address for `ip`) and
    /// `fip` in one transaction; the address taken becomes
    /// `floating_ip_address` of the returned record.
    fn create_floating_ip(
        &self,
        fip: &FloatingIpRecord,
        port: &Port,
        ip: &IpRequest,
    ) -> StoreResult<FloatingIpRecord>;
    /// The floating IP with `id`.
    fn get_floating_ip(&self, id: &str) -> StoreResult<Option<FloatingIpRecord>>;
    /// Every floating IP.
    fn list_floating_ips(&self) -> StoreResult<Vec<FloatingIpRecord>>;
    /// Change a floating IP through `f` inside the write transaction; the
    /// revision moves. `None` when absent.
    fn update_floating_ip(
        &self,
        id: &str,
        f: &mut dyn FnMut(&mut FloatingIpRecord) -> Result<(), Refusal>,
    ) -> StoreResult<Option<FloatingIpRecord>>;
    /// Delete a floating IP and its port (its address is free again).
    /// `false` when absent.
    fn delete_floating_ip(&self, id: &str) -> StoreResult<bool>;
    /// When the floating IPs carried by `router_id` last changed
    /// (associated, moved, disassociated, deleted), µs since the epoch;
    /// 0 when never.
    fn floating_ips_changed_at(&self, router_id: &str) -> StoreResult<i64>;
}
