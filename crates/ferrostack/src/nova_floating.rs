//! Nova's floating IP proxies (`os-floating-ips`, `os-floating-ip-pools`,
//! the `addFloatingIp`/`removeFloatingIp` actions) over the network
//! service's floating IPs, with Neutron's refusals in Nova's codes: an
//! unknown pool or address is 404, over quota 403, an association the
//! network service refuses (no router to the pool, ...) 400, and removing
//! an address from a server it is not on 409.

use crate::server_networks::NeutronForNova;
use ferrostack_compute::error::ComputeError;
use ferrostack_compute::network_proxy::ProxyFloatingIp;
use ferrostack_network::error::NetworkError;
use ferrostack_network::floating_ips::FloatingIpSpec;
use ferrostack_network::floating_ips_api::with_asker;
use ferrostack_policy::AuthContext;
use ferrostack_store::floating_ip::FloatingIpRecord;
use ferrostack_store::network::Network;

fn store(e: ferrostack_store::StoreError) -> ComputeError {
    ComputeError::internal(&e)
}

fn message(e: &NetworkError) -> String {
    match &e.error {
        ferrostack_common::error::ServiceError::Shown { message, .. } => message.clone(),
        ferrostack_common::error::ServiceError::Internal { cause } => cause.clone(),
    }
}

fn address_not_found() -> ComputeError {
    ComputeError::NotFound("floating IP not found".into())
}

impl NeutronForNova {
    fn externals(&self) -> Result<Vec<Network>, ComputeError> {
        let mut out: Vec<Network> = (self.state.store.list_networks().map_err(store)?)
            .into_iter()
            .filter(|n| n.external)
            .collect();
        out.sort_by_key(|n| n.created_at);
        Ok(out)
    }

    /// The caller's project's floating IPs, as records.
    fn own_fips(&self, caller: &AuthContext) -> Result<Vec<FloatingIpRecord>, ComputeError> {
        let project = caller.project_id().unwrap_or_default();
        Ok((self.state.store.list_floating_ips().map_err(store)?)
            .into_iter()
            .filter(|f| f.project_id == project)
            .collect())
    }

    fn nova_fip(&self, f: FloatingIpRecord) -> Result<ProxyFloatingIp, ComputeError> {
        let pool = match self.state.store.get_network(&f.floating_network_id) {
            Ok(Some(n)) if !n.name.is_empty() => n.name,
            Ok(_) => f.floating_network_id.clone(),
            Err(e) => return Err(store(e)),
        };
        let instance_id = match &f.port_id {
            Some(p) => (self.state.store.get_port(p).map_err(store)?)
                .map(|p| p.device_id)
                .filter(|d| !d.is_empty()),
            None => None,
        };
        Ok(ProxyFloatingIp {
            id: f.id,
            ip: f.floating_ip_address,
            pool,
            fixed_ip: f.fixed_ip_address,
            instance_id,
        })
    }

    fn fip_by_address(
        &self,
        caller: &AuthContext,
        address: &str,
    ) -> Result<FloatingIpRecord, ComputeError> {
        (self.own_fips(caller)?.into_iter())
            .find(|f| f.floating_ip_address == address)
            .ok_or_else(address_not_found)
    }

    pub(crate) fn floating_ips_for(
        &self,
        caller: &AuthContext,
    ) -> Result<Vec<ProxyFloatingIp>, ComputeError> {
        let mut fips = self.own_fips(caller)?;
        fips.sort_by_key(|f| f.created_at);
        fips.into_iter().map(|f| self.nova_fip(f)).collect()
    }

    pub(crate) fn allocate_for(
        &self,
        caller: &AuthContext,
        pool: Option<&str>,
    ) -> Result<ProxyFloatingIp, ComputeError> {
        let externals = self.externals()?;
        // No pool: the cloud's one external network (Nova's configured
        // default pool).
        let network = match (pool, externals.as_slice()) {
            (None, [one]) => Some(one),
            (None, _) => None,
            (Some(p), all) => {
                (all.iter().find(|n| n.name == p)).or_else(|| all.iter().find(|n| n.id == p))
            }
        };
        let pool_name = pool.unwrap_or("nova");
        let Some(network) = network else {
            return Err(ComputeError::NotFound("Floating IP pool not found.".into()));
        };
        let spec = FloatingIpSpec {
            project_id: caller.project_id().unwrap_or_default().to_string(),
            floating_network_id: network.id.clone(),
            ..FloatingIpSpec::default()
        };
        let created = with_asker(&self.state, caller, |a| {
            self.state.create_floating_ip(a, spec)
        })
        .map_err(|e| match (e.kind, e.status().as_u16()) {
            ("OverQuota", _) => {
                ComputeError::Forbidden(format!("IP allocation over quota in pool {pool_name}."))
            }
            ("IpAddressGenerationFailure", _) => {
                ComputeError::NotFound(format!("No more floating IPs in pool {pool_name}."))
            }
            (_, 500..) => ComputeError::Internal(format!("network service: {}", message(&e))),
            _ => ComputeError::BadRequest(message(&e)),
        })?;
        self.nova_fip(created)
    }

    pub(crate) fn release_for(&self, caller: &AuthContext, id: &str) -> Result<(), ComputeError> {
        let not_found = || ComputeError::NotFound(format!("Floating IP not found for ID {id}"));
        let f = (self.state.store.get_floating_ip(id).map_err(store)?)
            .filter(|f| caller.is_admin() || Some(f.project_id.as_str()) == caller.project_id())
            .ok_or_else(not_found)?;
        self.state
            .delete_floating_ip(&f.id)
            .map_err(|e| match e.status().as_u16() {
                404 => not_found(),
                _ => ComputeError::Internal(format!("network service: {}", message(&e))),
            })
    }

    pub(crate) fn pools_for(&self) -> Result<Vec<String>, ComputeError> {
        Ok((self.externals()?.into_iter())
            .map(|n| if n.name.is_empty() { n.id } else { n.name })
            .collect())
    }

    pub(crate) fn associate_for(
        &self,
        caller: &AuthContext,
        server_id: &str,
        address: &str,
        fixed: &str,
    ) -> Result<(), ComputeError> {
        let f = self.fip_by_address(caller, address)?;
        let ports = (self.state.device_ports(server_id))
            .map_err(|e| ComputeError::Internal(format!("network service: {}", message(&e))))?;
        let unable = |why: String| {
            ComputeError::BadRequest(format!(
                "Unable to associate floating IP {address} to fixed IP {fixed} for instance {server_id}. Error: {why}"
            ))
        };
        let port = (ports.iter())
            .find(|p| p.fixed_ips.iter().any(|ip| ip.ip_address == fixed))
            .ok_or_else(|| unable("the fixed IP is on none of the instance's ports".into()))?;
        with_asker(&self.state, caller, |a| {
            (self.state).update_floating_ip(
                a,
                &f,
                Some(Some(port.id.clone())),
                Some(fixed.into()),
                None,
            )
        })
        .map(|_| ())
        .map_err(|e| unable(message(&e)))
    }

    pub(crate) fn disassociate_for(
        &self,
        caller: &AuthContext,
        server_id: &str,
        address: &str,
    ) -> Result<(), ComputeError> {
        let f = self.fip_by_address(caller, address)?;
        let on_server = match &f.port_id {
            Some(p) => (self.state.store.get_port(p).map_err(store)?)
                .is_some_and(|p| p.device_id == server_id),
            None => false,
        };
        if !on_server {
            return Err(ComputeError::Conflict(format!(
                "Floating IP {address} is not associated with instance {server_id}."
            )));
        }
        with_asker(&self.state, caller, |a| {
            self.state.update_floating_ip(a, &f, Some(None), None, None)
        })
        .map(|_| ())
        .map_err(|e| ComputeError::Internal(format!("network service: {}", message(&e))))
    }
}
