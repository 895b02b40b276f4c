//! Neutron's routers (the L3 extension) and the [`RouterStore`] trait.
//!
//! A router is a row (a JSON body beside its id, project and host, as
//! networks are, see [`crate::network`]) plus ports in the port table:
//! its gateway port on an external network (`device_owner`
//! [`ROUTER_GATEWAY_OWNER`], no project) and its interface ports on
//! tenant subnets ([`ROUTER_INTERFACE_OWNER`], the router's project),
//! each with `device_id` = the router's id, as Neutron keeps them, so
//! that anything that reasons from ports alone (a floating IP looking
//! for the router between its fixed port's subnet and its external
//! network) finds them. Rejected: a separate router-ports table, which
//! Neutron has but which would be a second truth beside `device_id`.
//!
//! Every write that touches a router's ports runs in one transaction
//! with the router row, so nothing is half-made: a gateway that cannot
//! get an address leaves no router, a refused interface leaves no port.
//! The service's rules that depend on the router's whole set of ports
//! (one port per subnet, no overlapping CIDRs, routes whose next hops
//! are connected) are checked by a closure the service passes in, called
//! inside the transaction with the router and its ports as they would be
//! after the write: two concurrent interface adds cannot both pass.

use crate::network::{HostRoute, IpRequest, Port, Refusal};
use crate::{StoreError, StoreResult};
use serde::{Deserialize, Serialize};

/// `device_owner` of a router's interface ports.
pub const ROUTER_INTERFACE_OWNER: &str = "network:router_interface";
/// `device_owner` of a router's gateway port.
pub const ROUTER_GATEWAY_OWNER: &str = "network:router_gateway";

/// Is `owner` one of a router's port owners?
pub fn is_router_owner(owner: &str) -> bool {
    owner == ROUTER_INTERFACE_OWNER || owner == ROUTER_GATEWAY_OWNER
}

/// A router's external gateway, as asked (its port holds the addresses).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterGateway {
    /// The external network.
    pub network_id: String,
    /// SNAT for traffic leaving through the gateway.
    pub enable_snat: bool,
}

/// A router as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Router {
    /// UUID.
    pub id: String,
    /// Owning project.
    pub project_id: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Administrative state.
    pub admin_state_up: bool,
    /// `ACTIVE`.
    pub status: String,
    /// The external gateway, if any.
    pub gateway: Option<RouterGateway>,
    /// Static routes (`extraroute`).
    pub routes: Vec<HostRoute>,
    /// Availability zone hints, as given.
    pub availability_zone_hints: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// The network host the router runs on (its ports are bound there).
    pub host: String,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last update, µs since the epoch.
    pub updated_at: i64,
    /// When its ports last came or went (µs): a removed interface moves
    /// the router's generation on its host although no port row is left.
    pub contents_changed_at: i64,
    /// Moves on every change.
    pub revision_number: i64,
}

/// What a router write does to its gateway port.
#[derive(Clone, Copy, Debug)]
pub enum GatewayPort<'a> {
    /// Leave it as it is.
    Keep,
    /// Delete it (the gateway was cleared).
    Remove,
    /// Replace any current gateway port with `port`, taking `ips`.
    Create {
        /// The new gateway port (addresses empty).
        port: &'a Port,
        /// Its addresses.
        ips: &'a [IpRequest],
    },
    /// Give the current gateway port these addresses instead.
    Readdress(&'a [IpRequest]),
}

/// How an interface is added.
#[derive(Clone, Copy)]
pub enum InterfaceAdd<'a> {
    /// A new port (on a subnet, with its gateway address).
    NewPort {
        /// The port (addresses empty).
        port: &'a Port,
        /// Its addresses.
        ips: &'a [IpRequest],
    },
    /// More addresses on one of the router's interface ports (a second
    /// IPv6 subnet of a network joins the router's IPv6 port there):
    /// `ips` is the port's whole new list.
    AddAddress {
        /// The router's interface port.
        port_id: &'a str,
        /// Its addresses after the write.
        ips: &'a [IpRequest],
    },
    /// An existing port of no device: it becomes the router's (owner,
    /// device and host set by the store), and `attach` sets the rest of
    /// a bound port (binding details, status, update time).
    Existing {
        /// The port.
        port_id: &'a str,
        /// The service's part of binding it.
        attach: &'a dyn Fn(&mut Port),
    },
}

/// How an interface is removed.
#[derive(Clone, Copy, Debug)]
pub enum InterfaceRemove<'a> {
    /// The router's interface port with this id.
    Port(&'a str),
    /// The router's interface address on this subnet (the port goes
    /// when it has no other address).
    Subnet(&'a str),
}

/// What [`RouterStore::remove_interface`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct RemovedInterface {
    /// The port as it was.
    pub port: Port,
    /// The port was deleted (not only an address taken from it).
    pub deleted: bool,
}

/// A check of the service's rules over a router and all its ports as
/// they would be after the write, made inside the write transaction.
pub type RouterCheck<'a> = dyn FnMut(&Router, &[Port]) -> Result<(), Refusal> + 'a;

/// A rule of the router model a write would break, found by the store;
/// travels in [`StoreError::Refused`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterConflict {
    /// The router still has interfaces.
    #[error("Router {router_id} has ports still attached: {ports}")]
    RouterInUse {
        /// Router.
        router_id: String,
        /// Its interface ports, comma-separated.
        ports: String,
    },
    /// The port to attach belongs to a device already.
    #[error("Unable to complete operation on port {port_id} for network {network_id}. Port already has an attached device {device_id}.")]
    PortInUse {
        /// Port.
        port_id: String,
        /// Its network.
        network_id: String,
        /// Its device.
        device_id: String,
    },
    /// The port is not an interface of the router.
    #[error("Router {router_id} does not have an interface with id {port_id}")]
    InterfaceNotFound {
        /// Router.
        router_id: String,
        /// Port.
        port_id: String,
    },
    /// No interface of the router has an address on the subnet.
    #[error("Router {router_id} has no interface on subnet {subnet_id}")]
    InterfaceNotFoundForSubnet {
        /// Router.
        router_id: String,
        /// Subnet.
        subnet_id: String,
    },
}

impl From<RouterConflict> for StoreError {
    fn from(c: RouterConflict) -> Self {
        StoreError::Refused(Box::new(c))
    }
}

/// Stored routers; their ports are in the port table.
pub trait RouterStore: Send + Sync {
    /// Insert a router and (with `gateway`) its gateway port with its
    /// addresses; `check` sees the result. One transaction.
    fn create_router(
        &self,
        router: &Router,
        gateway: Option<(&Port, &[IpRequest])>,
        check: &mut RouterCheck<'_>,
    ) -> StoreResult<Router>;
    /// The router with `id`.
    fn get_router(&self, id: &str) -> StoreResult<Option<Router>>;
    /// Every router.
    fn list_routers(&self) -> StoreResult<Vec<Router>>;
    /// The router's ports (gateway and interfaces), by id.
    fn router_ports(&self, id: &str) -> StoreResult<Vec<Port>>;
    /// Change a router through `f` and its gateway port as `gateway`
    /// says; `check` sees the result; the revision moves. `None` when
    /// absent.
    fn update_router(
        &self,
        id: &str,
        f: &mut dyn FnMut(&mut Router) -> Result<(), Refusal>,
        gateway: GatewayPort<'_>,
        check: &mut RouterCheck<'_>,
    ) -> StoreResult<Option<Router>>;
    /// Delete a router and its gateway port;
    /// [`RouterConflict::RouterInUse`] while it has interfaces. The
    /// router as it was, `None` when absent.
    fn delete_router(&self, id: &str) -> StoreResult<Option<Router>>;
    /// Add an interface port; `check` sees the result. The port as
    /// attached; [`RouterConflict::PortInUse`] for a port of a device.
    fn add_interface(
        &self,
        id: &str,
        add: InterfaceAdd<'_>,
        check: &mut RouterCheck<'_>,
    ) -> StoreResult<Port>;
    /// Remove an interface; `check` sees what remains.
    /// [`RouterConflict::InterfaceNotFound`] or
    /// [`RouterConflict::InterfaceNotFoundForSubnet`] when there is none.
    fn remove_interface(
        &self,
        id: &str,
        which: InterfaceRemove<'_>,
        check: &mut RouterCheck<'_>,
    ) -> StoreResult<RemovedInterface>;
}

impl StoreError {
    /// The [`RouterConflict`] this error carries, if it is one.
    pub fn router_conflict(&self) -> Option<&RouterConflict> {
        match self {
            StoreError::Refused(e) => e.downcast_ref::<RouterConflict>(),
            _ => None,
        }
    }
}
