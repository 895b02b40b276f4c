//! Neutron's core records (networks, subnets, ports) and the
//! [`NetworkStore`] trait the network service uses.
//!
//! What must never race lives in indexed columns with constraints, and
//! is decided inside the one write transaction of each API write:
//! - IP allocations: a table keyed by (subnet, address). A port create
//!   picks free addresses (or takes the requested ones) and inserts them
//!   in the same transaction as the port, so two concurrent creates can
//!   never hold one address, and a failure leaves nothing behind.
//! - Segments: unique on (type, physical network, segmentation id); a
//!   tenant network's id is the lowest free one of the configured ranges,
//!   chosen inside the transaction.
//! - MAC addresses: unique per network.
//!
//! The rest of a record (names, flags, tags, binding details) is a JSON
//! body beside those columns: the service filters and sorts lists in
//! memory over its views (see the network crate's `query`), so no SQL
//! ever selects on those attributes. Rejected: a column per Neutron
//! attribute, which would be written and read field by field for nothing.
//!
//! The rule breaks the service must tell apart (address taken, pool full,
//! network in use...) come back as [`StoreError::Refused`] carrying a
//! [`NetworkConflict`], typed, so the service maps each to Neutron's
//! exception without parsing messages.

use crate::{StoreError, StoreResult};
use serde::{Deserialize, Serialize};

/// A network as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Network {
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
    /// Visible to and usable by every project.
    pub shared: bool,
    /// `router:external`.
    pub external: bool,
    /// MTU computed at creation (or set by an admin).
    pub mtu: i64,
    /// Default of its ports' `port_security_enabled`.
    pub port_security_enabled: bool,
    /// `local`, `flat`, `vlan`, `vxlan` or `gre`.
    pub network_type: String,
    /// The physical network of a flat or VLAN network.
    pub physical_network: Option<String>,
    /// VLAN id, VNI or GRE key.
    pub segmentation_id: Option<i64>,
    /// Availability zone hints, as given.
    pub availability_zone_hints: Vec<String>,
    /// `ACTIVE`.
    pub status: String,
    /// Tags, without duplicates.
    pub tags: Vec<String>,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last update, µs since the epoch.
    pub updated_at: i64,
    /// When its ports or subnets last changed (created, deleted, new
    /// addresses, MAC or host), µs since the epoch: what moves its DHCP
    /// server's generation when a port goes away, and a VXLAN network's
    /// when a host joins or leaves it (its peers).
    #[serde(default)]
    pub contents_changed_at: i64,
    /// Moves on every change.
    pub revision_number: i64,
}

/// An allocation pool, inclusive at both ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// First address.
    pub start: String,
    /// Last address.
    pub end: String,
}

/// A host route handed to DHCP clients.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRoute {
    /// Destination CIDR.
    pub destination: String,
    /// Next hop address.
    pub nexthop: String,
}

/// A subnet as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    /// UUID.
    pub id: String,
    /// The network it belongs to.
    pub network_id: String,
    /// Owning project.
    pub project_id: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// 4 or 6.
    pub ip_version: u8,
    /// The subnet's CIDR, normalized.
    pub cidr: String,
    /// The gateway address, if any.
    pub gateway_ip: Option<String>,
    /// Where addresses are allocated from.
    pub allocation_pools: Vec<Pool>,
    /// DNS servers for DHCP clients.
    pub dns_nameservers: Vec<String>,
    /// Extra routes for DHCP clients.
    pub host_routes: Vec<HostRoute>,
    /// Served by DHCP.
    pub enable_dhcp: bool,
    /// IPv6 router advertisement mode.
    pub ipv6_ra_mode: Option<String>,
    /// IPv6 address mode (`slaac`, `dhcpv6-stateful`, ...).
    pub ipv6_address_mode: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last update, µs since the epoch.
    pub updated_at: i64,
    /// Moves on every change.
    pub revision_number: i64,
}

/// One allocated address of a port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedIp {
    /// The subnet.
    pub subnet_id: String,
    /// The address, canonical text.
    pub ip_address: String,
}

/// An address a port create or update asks for: a given address, or the
/// next free one of the subnet's pools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpRequest {
    /// The subnet.
    pub subnet_id: String,
    /// A specific address (canonical text), or `None` for any free one.
    pub ip_address: Option<String>,
}

/// An allowed address pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPair {
    /// An address or CIDR.
    pub ip_address: String,
    /// A MAC address.
    pub mac_address: String,
}

/// A port as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Port {
    /// UUID.
    pub id: String,
    /// The network.
    pub network_id: String,
    /// Owning project.
    pub project_id: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Administrative state.
    pub admin_state_up: bool,
    /// MAC address, lower case, unique in the network.
    pub mac_address: String,
    /// Allocated addresses (kept by the store from the allocations).
    pub fixed_ips: Vec<FixedIp>,
    /// `compute:nova`, `network:dhcp`, ...
    pub device_owner: String,
    /// The server (or other device) using it.
    pub device_id: String,
    /// `binding:host_id`: the host the port is bound to, empty when unbound.
    pub host_id: String,
    /// `binding:vnic_type` (`normal`).
    pub vnic_type: String,
    /// `binding:vif_details`.
    pub vif_details: serde_json::Map<String, serde_json::Value>,
    /// `binding:profile`.
    pub profile: serde_json::Map<String, serde_json::Value>,
    /// Allowed address pairs.
    pub allowed_address_pairs: Vec<AddressPair>,
    /// Anti-spoofing and security groups apply.
    pub port_security_enabled: bool,
    /// Security group ids.
    pub security_groups: Vec<String>,
    /// `DOWN`, `ACTIVE`.
    pub status: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Creation time, µs since the epoch.
    pub created_at: i64,
    /// Last update, µs since the epoch.
    pub updated_at: i64,
    /// Moves on every change.
    pub revision_number: i64,
}

/// Where a network's segment comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentRequest {
    /// No segment (`local`): any number of these may exist.
    None,
    /// Exactly this segment (an admin's `provider:*`); taken -> refused.
    Given {
        /// Network type.
        network_type: String,
        /// Physical network, empty for tunnels.
        physical_network: String,
        /// VLAN id, VNI or key; 0 for flat.
        segmentation_id: i64,
    },
    /// The lowest free id of `ranges` (inclusive, per physical network).
    FromRanges {
        /// Network type.
        network_type: String,
        /// (physical network, first, last); physical network empty for tunnels.
        ranges: Vec<(String, i64, i64)>,
    },
}

/// A rule of the network model a write would break; travels in
/// [`StoreError::Refused`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkConflict {
    /// The requested address is held by another port.
    #[error("IP address {ip_address} already allocated in subnet {subnet_id}")]
    IpAddressAlreadyAllocated {
        /// Address.
        ip_address: String,
        /// Subnet.
        subnet_id: String,
    },
    /// No free address is left in the subnet's pools.
    #[error("No more IP addresses available on network {network_id}.")]
    IpAddressGenerationFailure {
        /// Network.
        network_id: String,
    },
    /// The MAC is used by another port of the network.
    #[error(
        "Unable to complete operation for network {network_id}. The mac address {mac} is in use."
    )]
    MacAddressInUse {
        /// Network.
        network_id: String,
        /// MAC.
        mac: String,
    },
    /// The given segment is taken.
    #[error("segment {network_type}:{physical_network}:{segmentation_id} is in use")]
    SegmentInUse {
        /// Type.
        network_type: String,
        /// Physical network.
        physical_network: String,
        /// Id.
        segmentation_id: i64,
    },
    /// Every id of the configured ranges is taken.
    #[error("Unable to create the network. No tenant network is available for allocation.")]
    NoNetworkAvailable,
    /// The network has ports other than DHCP ports.
    #[error("Unable to complete operation on network {network_id}. There are one or more ports still in use on the network.")]
    NetworkInUse {
        /// Network.
        network_id: String,
    },
    /// Ports other than DHCP ports hold addresses of the subnet.
    #[error("Unable to complete operation on subnet {subnet_id}: One or more ports have an IP allocation from this subnet.")]
    SubnetInUse {
        /// Subnet.
        subnet_id: String,
    },
}

impl From<NetworkConflict> for StoreError {
    fn from(c: NetworkConflict) -> Self {
        StoreError::Refused(Box::new(c))
    }
}

impl StoreError {
    /// The [`NetworkConflict`] this error carries, if it is one.
    pub fn network_conflict(&self) -> Option<&NetworkConflict> {
        match self {
            StoreError::Refused(e) => e.downcast_ref::<NetworkConflict>(),
            _ => None,
        }
    }
}

/// A change a caller's closure refuses: its own typed error, carried back
/// through [`StoreError::Refused`].
pub type Refusal = Box<dyn std::error::Error + Send + Sync>;

/// A port change made inside [`NetworkStore::update_port`]'s transaction:
/// new address requests when the port's addresses change.
pub type PortChange<'a> = dyn FnMut(&mut Port) -> Result<Option<Vec<IpRequest>>, Refusal> + 'a;

/// The `device_owner` of DHCP ports: they do not keep a network or subnet
/// in use, and go with it.
pub const DHCP_OWNER: &str = "network:dhcp";

/// Stored networks, subnets and ports.
pub trait NetworkStore: crate::floating_ip::FloatingIpStore + Send + Sync {
    /// Insert a network and take its segment, in one transaction.
    /// The segment chosen is written into the returned record.
    fn create_network(&self, network: &Network, segment: &SegmentRequest) -> StoreResult<Network>;
    /// The network with `id`.
    fn get_network(&self, id: &str) -> StoreResult<Option<Network>>;
    /// Every network.
    fn list_networks(&self) -> StoreResult<Vec<Network>>;
    /// Change a network through `f` (inside the write transaction); the
    /// revision moves. `None` when absent.
    fn update_network(
        &self,
        id: &str,
        f: &mut dyn FnMut(&mut Network) -> Result<(), Refusal>,
    ) -> StoreResult<Option<Network>>;
    /// Delete a network, its subnets, its DHCP ports and its segment;
    /// [`NetworkConflict::NetworkInUse`] when other ports remain. `false`
    /// when absent.
    fn delete_network(&self, id: &str) -> StoreResult<bool>;

    /// Insert a subnet. With `dhcp`, the network's DHCP port gains an
    /// address on it, or (none yet) `dhcp` is inserted as that port with
    /// one; all in one transaction.
    fn create_subnet(&self, subnet: &Subnet, dhcp: Option<&Port>) -> StoreResult<()>;
    /// The subnet with `id`.
    fn get_subnet(&self, id: &str) -> StoreResult<Option<Subnet>>;
    /// Every subnet.
    fn list_subnets(&self) -> StoreResult<Vec<Subnet>>;
    /// Change a subnet through `f`; the revision moves. When `f` turns
    /// `enable_dhcp` on, the network's DHCP port gains an address on the
    /// subnet (`dhcp` is the port to insert if there is none); turned
    /// off, DHCP ports lose theirs. All in one transaction.
    fn update_subnet(
        &self,
        id: &str,
        f: &mut dyn FnMut(&mut Subnet) -> Result<(), Refusal>,
        dhcp: Option<&Port>,
    ) -> StoreResult<Option<Subnet>>;
    /// Delete a subnet and DHCP ports' addresses on it;
    /// [`NetworkConflict::SubnetInUse`] when other ports hold addresses.
    fn delete_subnet(&self, id: &str) -> StoreResult<bool>;

    /// Insert a port with addresses for `ips`, in one transaction (see
    /// the module doc). The allocated addresses are in the returned port.
    fn create_port(&self, port: &Port, ips: &[IpRequest]) -> StoreResult<Port>;
    /// The port with `id`.
    fn get_port(&self, id: &str) -> StoreResult<Option<Port>>;
    /// Every port.
    fn list_ports(&self) -> StoreResult<Vec<Port>>;
    /// Change a port through `f`; when `f` returns address requests, the
    /// port's addresses are replaced by them in the same transaction
    /// (addresses it keeps stay its own). The revision moves.
    fn update_port(&self, id: &str, f: &mut PortChange<'_>) -> StoreResult<Option<Port>>;
    /// Delete a port and free its addresses. `false` when absent.
    fn delete_port(&self, id: &str) -> StoreResult<bool>;
}
