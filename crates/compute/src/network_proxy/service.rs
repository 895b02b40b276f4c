//! The network service's side of Nova's proxies, as compute calls it.
//! Every method answers 501 unless the service provides it, so a network
//! service without the proxies (tests' fakes) needs only an empty `impl`.

use super::{NewRule, ProxyFloatingIp, ProxyGroup, ProxyNetwork, ProxyRule};
use crate::error::ComputeError;
use ferrostack_policy::AuthContext;

/// What a network service without Nova's proxies answers.
fn proxy_unbuilt() -> ComputeError {
    ComputeError::NotImplemented("This cloud's network service has no Nova network proxy.".into())
}

/// Nova's network proxies, done by the network service in its own terms
/// (Neutron's refusals already in Nova's codes).
pub trait NetworkProxies {
    /// The security groups Nova's `os-security-groups` lists: the
    /// caller's project's (made with its default group if it has none),
    /// or every project's for an admin asking `all_projects`.
    fn proxy_groups(
        &self,
        caller: &AuthContext,
        all_projects: bool,
    ) -> Result<Vec<ProxyGroup>, ComputeError> {
        let _ = (caller, all_projects);
        Err(proxy_unbuilt())
    }

    /// Security group `id` if the caller may see it (404 otherwise).
    fn proxy_group(&self, caller: &AuthContext, id: &str) -> Result<ProxyGroup, ComputeError> {
        let _ = (caller, id);
        Err(proxy_unbuilt())
    }

    /// Create a group in the caller's project (a quota refusal is 403).
    fn proxy_create_group(
        &self,
        caller: &AuthContext,
        name: &str,
        description: &str,
    ) -> Result<ProxyGroup, ComputeError> {
        let _ = (caller, name, description);
        Err(proxy_unbuilt())
    }

    /// Rename and describe group `id` of the caller's.
    fn proxy_update_group(
        &self,
        caller: &AuthContext,
        id: &str,
        name: &str,
        description: &str,
    ) -> Result<ProxyGroup, ComputeError> {
        let _ = (caller, id, name, description);
        Err(proxy_unbuilt())
    }

    /// Delete group `id` of the caller's: one in use (or the default
    /// group) is 400, as Nova turns Neutron's 409.
    fn proxy_delete_group(&self, caller: &AuthContext, id: &str) -> Result<(), ComputeError> {
        let _ = (caller, id);
        Err(proxy_unbuilt())
    }

    /// Add an ingress rule to a group of the caller's.
    fn proxy_create_rule(
        &self,
        caller: &AuthContext,
        rule: &NewRule,
    ) -> Result<ProxyRule, ComputeError> {
        let _ = (caller, rule);
        Err(proxy_unbuilt())
    }

    /// Delete rule `id` of the caller's (another project's: 404).
    fn proxy_delete_rule(&self, caller: &AuthContext, id: &str) -> Result<(), ComputeError> {
        let _ = (caller, id);
        Err(proxy_unbuilt())
    }

    /// The networks the caller can see (`os-networks`, `os-tenant-networks`).
    fn proxy_networks(&self, caller: &AuthContext) -> Result<Vec<ProxyNetwork>, ComputeError> {
        let _ = caller;
        Err(proxy_unbuilt())
    }

    /// The caller's project's floating IPs.
    fn proxy_floating_ips(
        &self,
        caller: &AuthContext,
    ) -> Result<Vec<ProxyFloatingIp>, ComputeError> {
        let _ = caller;
        Err(proxy_unbuilt())
    }

    /// Allocate a floating IP from `pool` (an external network's name or
    /// id; none: the cloud's one external network): an unknown pool is
    /// 404, over quota 403.
    fn proxy_allocate_floating_ip(
        &self,
        caller: &AuthContext,
        pool: Option<&str>,
    ) -> Result<ProxyFloatingIp, ComputeError> {
        let _ = (caller, pool);
        Err(proxy_unbuilt())
    }

    /// Release floating IP `id` of the caller's (404 otherwise).
    fn proxy_release_floating_ip(
        &self,
        caller: &AuthContext,
        id: &str,
    ) -> Result<(), ComputeError> {
        let _ = (caller, id);
        Err(proxy_unbuilt())
    }

    /// The names of the external networks (Nova's floating IP pools).
    fn proxy_floating_ip_pools(&self, caller: &AuthContext) -> Result<Vec<String>, ComputeError> {
        let _ = caller;
        Err(proxy_unbuilt())
    }

    /// Point the caller's floating IP `address` at `fixed_address` of
    /// server `server_id` (moving it if it was elsewhere); an unknown
    /// address is 404.
    fn proxy_associate_floating_ip(
        &self,
        caller: &AuthContext,
        server_id: &str,
        address: &str,
        fixed_address: &str,
    ) -> Result<(), ComputeError> {
        let _ = (caller, server_id, address, fixed_address);
        Err(proxy_unbuilt())
    }

    /// Take the caller's floating IP `address` off server `server_id`: an
    /// unknown address is 404, one not on that server 409.
    fn proxy_disassociate_floating_ip(
        &self,
        caller: &AuthContext,
        server_id: &str,
        address: &str,
    ) -> Result<(), ComputeError> {
        let _ = (caller, server_id, address);
        Err(proxy_unbuilt())
    }
}
