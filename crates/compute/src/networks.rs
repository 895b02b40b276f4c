//! The network service as compute sees it (the part of Nova that talks
//! to Neutron): resolve what a boot asked for, create or bind the
//! server's ports on the chosen host, and give them back.
//!
//! Compute does not link the network service: the `ferrostack` binary
//! hands an implementation of [`ServerNetworks`] to the compute state
//! (calls in-process, no HTTP hop), and a cloud without one keeps booting
//! servers with no network only. Errors come back already in Nova's
//! words ([`ComputeError`]), since it is Nova's API that answers.
//!
//! Crash safety follows the create's steps: the ids of the ports a boot
//! will create are drawn before the first step (like the server ids), so
//! an undo after a crash knows which ports to delete even if the
//! allocation was cut short; ports the user passed in are only unbound,
//! never deleted (Nova's `preserve_on_delete`).

use crate::error::ComputeError;
pub use crate::network_proxy::{
    NetworkProxies, NewRule, ProxyFloatingIp, ProxyGroup, ProxyNetwork, ProxyRule,
};
use ferrostack_policy::AuthContext;
use serde::{Deserialize, Serialize};

/// What a boot asked of `networks`, before resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkRequest {
    /// Nothing said (before 2.37): the project's one network if it has
    /// exactly one, else none (several: 409, as Nova).
    Unspecified,
    /// `"auto"`: the project's network (get-me-a-network).
    Auto,
    /// An explicit list (maybe empty).
    List(Vec<NicRequest>),
}

/// One requested NIC: a network (maybe with a fixed IP) or a port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NicRequest {
    /// The network to create a port on.
    #[serde(default)]
    pub network_id: Option<String>,
    /// An existing port to bind.
    #[serde(default)]
    pub port_id: Option<String>,
    /// The address wanted on the network.
    #[serde(default)]
    pub fixed_ip: Option<String>,
    /// The device tag (2.32).
    #[serde(default)]
    pub tag: Option<String>,
}

/// One address of a server's NIC, with what the guest needs to use it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NicAddress {
    /// The address.
    pub ip_address: String,
    /// 4 or 6.
    pub version: u8,
    /// Its subnet.
    pub subnet_id: String,
    /// The subnet's CIDR.
    pub cidr: String,
    /// The subnet's gateway.
    #[serde(default)]
    pub gateway_ip: Option<String>,
    /// DNS servers of the subnet.
    #[serde(default)]
    pub dns_nameservers: Vec<String>,
}

/// A port plugged into a server, as compute keeps it (Nova's network
/// info cache: what `addresses`, the config drive and the host use).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerNic {
    /// The port.
    pub port_id: String,
    /// Its network.
    pub network_id: String,
    /// The network's name (the key of `addresses`).
    pub network_name: String,
    /// The port's MAC.
    pub mac_address: String,
    /// The tap device the VM's NIC uses.
    pub tap: String,
    /// The network's MTU.
    pub mtu: u32,
    /// The port's addresses.
    pub fixed_ips: Vec<NicAddress>,
    /// The user passed this port in: unbind it on delete, never delete it.
    pub preserve_on_delete: bool,
    /// The device tag.
    #[serde(default)]
    pub tag: Option<String>,
}

/// A floating IP of a server's port, for `addresses`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FloatingAddress {
    /// The port.
    pub port_id: String,
    /// The fixed address it forwards to.
    pub fixed_ip_address: String,
    /// The floating address.
    pub floating_ip_address: String,
}

/// What one server's allocation needs.
#[derive(Clone, Debug)]
pub struct Allocation<'a> {
    /// The owning project.
    pub project_id: &'a str,
    /// The server (the ports' `device_id`).
    pub server_id: &'a str,
    /// The host the scheduler chose (`binding:host_id`).
    pub host: &'a str,
    /// The server's availability zone (`device_owner` is `compute:<zone>`).
    pub zone: &'a str,
    /// The resolved requests, in NIC order.
    pub requests: &'a [NicRequest],
    /// Ids for the ports to create, one per request without a `port_id`,
    /// in order.
    pub new_port_ids: &'a [String],
    /// The security groups of the ports created (ids); empty: the
    /// project's default group.
    pub security_groups: &'a [String],
}

/// The network service, as compute uses it (with Nova's proxies to it,
/// [`NetworkProxies`]).
pub trait ServerNetworks: NetworkProxies + Send + Sync {
    /// Check a boot's request and resolve it to NICs, before anything is
    /// created: networks exist and are usable by the caller, ports are
    /// the caller's and free, fixed IPs are in the network. `Unspecified`
    /// and `Auto` become the project's network (or none).
    fn resolve(
        &self,
        caller: &AuthContext,
        request: &NetworkRequest,
    ) -> Result<Vec<NicRequest>, ComputeError>;

    /// The ids of the security groups `names` (each a name or an id of
    /// the caller's project's groups), as Nova resolves a boot's
    /// `security_groups`: an unknown one is 400, an ambiguous name 409.
    fn security_groups(
        &self,
        caller: &AuthContext,
        names: &[String],
    ) -> Result<Vec<String>, ComputeError>;

    /// Check the NIC of an interface attach (`os-interface`), before
    /// anything is created, in Nova's words for an attach: an unknown
    /// network or port (or another project's) is 404, a port bound
    /// elsewhere 409, a network without a subnet 400. A request naming
    /// neither becomes the project's one network (none or several: 400).
    fn resolve_attach(
        &self,
        caller: &AuthContext,
        request: &NicRequest,
    ) -> Result<NicRequest, ComputeError>;

    /// The Neutron `status` of port `port_id` (`ACTIVE`, `DOWN`, ...),
    /// or `None` when it no longer exists.
    fn port_status(&self, port_id: &str) -> Result<Option<String>, ComputeError>;

    /// Add security group `name` (a name or an id of the caller's
    /// project's groups) to every port of server `server_id`, or remove
    /// it (`add` false), as Nova's `addSecurityGroup` and
    /// `removeSecurityGroup` do: an unknown group or a server with no
    /// port is 404, an ambiguous name 409, a port without port security
    /// 400, removing a group no port has 400.
    fn change_security_group(
        &self,
        caller: &AuthContext,
        server_id: &str,
        name: &str,
        add: bool,
    ) -> Result<(), ComputeError>;

    /// The names of the security groups on each server's ports, each
    /// name once, for the servers of `server_ids` that have any.
    fn security_groups_of(
        &self,
        server_ids: &[&str],
    ) -> Result<std::collections::BTreeMap<String, Vec<String>>, ComputeError>;

    /// The ids of the security groups on server `server_id`'s ports, each
    /// once, in the order first met (a port attached later gets them, as
    /// Nova gives it the instance's groups).
    fn server_security_group_ids(&self, server_id: &str) -> Result<Vec<String>, ComputeError>;

    /// The floating IPs associated with the ports `port_ids`, read live
    /// (Nova shows them in `addresses` from Neutron's current answer, not
    /// from the boot's cache). A service without floating IPs has none.
    fn floating_ips(&self, port_ids: &[String]) -> Result<Vec<FloatingAddress>, ComputeError> {
        let _ = port_ids;
        Ok(Vec::new())
    }

    /// Create the new ports and bind every port to the server on its
    /// host, all or nothing for this server (a failure takes back what
    /// this call did). Idempotent for one server: a port that already
    /// exists with its id and device is taken as it is.
    fn allocate(&self, allocation: &Allocation<'_>) -> Result<Vec<ServerNic>, ComputeError>;

    /// Give a server's ports back: delete `delete` (absent is fine) and
    /// unbind `unbind` if they are still bound to `server_id`.
    fn release(
        &self,
        server_id: &str,
        delete: &[String],
        unbind: &[String],
    ) -> Result<(), ComputeError>;
}

/// A NIC's tap device: `tap` and the port id's first 11 characters (15
/// bytes, Linux's limit), as Nova names them.
pub fn tap_name(port_id: &str) -> String {
    let short: String = port_id.chars().take(11).collect();
    format!("tap{short}")
}

/// Parse the entries of `networks` as Nova's schema does.
pub fn parse_requests(entries: &[serde_json::Value]) -> Result<Vec<NicRequest>, ComputeError> {
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let obj = entry.as_object().ok_or_else(|| {
            ComputeError::BadRequest(format!(
                "Invalid input for field/attribute networks. Value: {entry}. {entry} is not of type 'object'"
            ))
        })?;
        if let Some(k) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "uuid" | "port" | "fixed_ip" | "tag"))
        {
            return Err(ComputeError::BadRequest(format!(
                "Invalid input for field/attribute networks. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        let text = |key: &str| -> Result<Option<String>, ComputeError> {
            match obj.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(ComputeError::BadRequest(format!(
                    "Invalid input for field/attribute {key}. Value: {other}. {other} is not of type 'string'"
                ))),
            }
        };
        let req = NicRequest {
            network_id: text("uuid")?,
            port_id: text("port")?,
            fixed_ip: text("fixed_ip")?,
            tag: text("tag")?,
        };
        for (field, id) in [("uuid", &req.network_id), ("port", &req.port_id)] {
            if let Some(id) = id {
                if uuid::Uuid::parse_str(id).is_err() {
                    return Err(ComputeError::BadRequest(format!(
                        "Invalid input for field/attribute {field}. Value: {id}. '{id}' is not a 'uuid'"
                    )));
                }
            }
        }
        if let Some(ip) = &req.fixed_ip {
            if ip.parse::<std::net::IpAddr>().is_err() {
                return Err(ComputeError::BadRequest(format!(
                    "Invalid input for field/attribute fixed_ip. Value: {ip}. '{ip}' is not a 'ip-address'"
                )));
            }
        }
        if req.port_id.is_some() && req.fixed_ip.is_some() {
            return Err(ComputeError::BadRequest(
                "Specified Fixed IP and port together is not supported.".into(),
            ));
        }
        if req.port_id.is_none() && req.network_id.is_none() {
            return Err(ComputeError::BadRequest(
                "Bad networks format: network uuid is not in proper format ()".into(),
            ));
        }
        out.push(req);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn taps_are_named_as_nova_names_them() {
        assert_eq!(
            tap_name("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            "tap0f1e2d3c-4b"
        );
        assert!(tap_name("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0").len() <= 15);
    }

    #[test]
    fn requests_parse_as_novas_schema() {
        let net = "6f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        let ok = parse_requests(&[json!({"uuid": net, "fixed_ip": "10.0.0.5"})]).unwrap();
        assert_eq!(ok[0].network_id.as_deref(), Some(net));
        assert_eq!(ok[0].fixed_ip.as_deref(), Some("10.0.0.5"));
        let bad = |v| match parse_requests(&[v]) {
            Err(ComputeError::BadRequest(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(bad(json!({"uuid": "nope"})).contains("is not a 'uuid'"));
        assert!(bad(json!({"uuid": net, "fixed_ip": "10.0.0.300"})).contains("ip-address"));
        assert!(bad(json!({"port": net, "fixed_ip": "10.0.0.5"})).contains("together"));
        assert!(bad(json!({"uuid": net, "color": "red"})).contains("'color' was unexpected"));
    }
}
