//! The ML2 settings the API needs: which network types exist, where
//! tenant networks' segments come from, and the underlay MTU.
//!
//! Mirrors the answer file's CONFIG_NEUTRON_ML2_* keys (the installer
//! parses them; [`Ml2Config::default`] is its defaults, which `allinone`
//! uses) rather than Neutron's ml2_conf.ini sections, so one set of names
//! runs from the answer file to the API. The data plane reads the same
//! values for bridges and VXLAN devices.

use std::collections::BTreeMap;

/// A network type Neutron's ML2 knows.
pub const TYPES: &[&str] = &["local", "flat", "vlan", "vxlan", "gre"];

/// The largest VXLAN VNI (24 bits).
pub const MAX_VNI: i64 = (1 << 24) - 1;
/// The largest GRE key ferrostack accepts (Neutron: 32 bits).
pub const MAX_GRE: i64 = u32::MAX as i64;
/// The largest VLAN id.
pub const MAX_VLAN: i64 = 4094;

/// ML2 type-driver settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ml2Config {
    /// Types that may be created (`CONFIG_NEUTRON_ML2_TYPE_DRIVERS`).
    pub type_drivers: Vec<String>,
    /// Types of project networks, in order of preference
    /// (`CONFIG_NEUTRON_ML2_TENANT_NETWORK_TYPES`).
    pub tenant_network_types: Vec<String>,
    /// Physical networks flat networks may use; `*` means any
    /// (`CONFIG_NEUTRON_ML2_FLAT_NETWORKS`).
    pub flat_networks: Vec<String>,
    /// Per physical network, the VLAN ids project networks may take
    /// (empty: the physical network is for admins' provider networks
    /// only) (`CONFIG_NEUTRON_ML2_VLAN_RANGES`).
    pub vlan_ranges: BTreeMap<String, Vec<(i64, i64)>>,
    /// VNIs project VXLAN networks take (`CONFIG_NEUTRON_ML2_VNI_RANGES`).
    pub vni_ranges: Vec<(i64, i64)>,
    /// GRE keys project GRE networks take.
    pub gre_ranges: Vec<(i64, i64)>,
    /// VXLAN multicast group, `None` for unicast.
    pub vxlan_group: Option<String>,
    /// MTU of the underlay (Neutron's `global_physnet_mtu`).
    pub underlay_mtu: i64,
    /// The host whose data plane serves DHCP: DHCP ports are bound to it.
    pub dhcp_host: String,
}

impl Default for Ml2Config {
    /// The answer file's defaults: flat and VXLAN, project networks on
    /// VXLAN with VNIs 10 to 100, any physical network for flat.
    fn default() -> Self {
        Ml2Config {
            type_drivers: vec!["flat".into(), "vxlan".into()],
            tenant_network_types: vec!["vxlan".into()],
            flat_networks: vec!["*".into()],
            vlan_ranges: BTreeMap::new(),
            vni_ranges: vec![(10, 100)],
            gre_ranges: Vec::new(),
            vxlan_group: None,
            underlay_mtu: 1500,
            dhcp_host: "localhost".into(),
        }
    }
}

impl Ml2Config {
    /// Bytes of encapsulation a network type costs (Neutron's numbers for
    /// an IPv4 underlay: VXLAN 30 + 20, GRE 22 + 20).
    pub fn overhead(network_type: &str) -> i64 {
        match network_type {
            "vxlan" => 50,
            "gre" => 42,
            _ => 0,
        }
    }

    /// The MTU of a network of `network_type`.
    pub fn mtu(&self, network_type: &str) -> i64 {
        self.underlay_mtu - Self::overhead(network_type)
    }

    /// Is `network_type` enabled?
    pub fn has_type(&self, network_type: &str) -> bool {
        self.type_drivers.iter().any(|t| t == network_type)
    }

    /// May flat networks use `physnet`?
    pub fn flat_allowed(&self, physnet: &str) -> bool {
        self.flat_networks.iter().any(|p| p == "*" || p == physnet)
    }

    /// The largest segmentation id of a type, with its ranges' lower end 1.
    pub fn max_segment(network_type: &str) -> Option<i64> {
        match network_type {
            "vlan" => Some(MAX_VLAN),
            "vxlan" => Some(MAX_VNI),
            "gre" => Some(MAX_GRE),
            _ => None,
        }
    }

    /// The ranges project networks of `network_type` take ids from, as
    /// (physical network, first, last).
    pub fn tenant_ranges(&self, network_type: &str) -> Vec<(String, i64, i64)> {
        match network_type {
            "vxlan" => self
                .vni_ranges
                .iter()
                .map(|(a, b)| (String::new(), *a, *b))
                .collect(),
            "gre" => self
                .gre_ranges
                .iter()
                .map(|(a, b)| (String::new(), *a, *b))
                .collect(),
            "vlan" => self
                .vlan_ranges
                .iter()
                .flat_map(|(p, rs)| rs.iter().map(move |(a, b)| (p.clone(), *a, *b)))
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtu_is_the_underlay_minus_encapsulation() {
        let c = Ml2Config::default();
        assert_eq!(c.mtu("vxlan"), 1450);
        assert_eq!(c.mtu("gre"), 1458);
        assert_eq!(c.mtu("flat"), 1500);
    }
}
