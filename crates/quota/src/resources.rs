//! Each service's quota resources and the defaults it ships with.
//!
//! The numbers are those of an unconfigured Nova, Cinder and Neutron, so a
//! client that compares `quota show` with `quota show --default` sees what
//! it would see on a stock OpenStack. The lists are data, not enums: the
//! wire names are the identity of a resource, and the API layers filter
//! them per microversion by name.

use crate::ResourceMap;

/// One quota resource of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resource {
    /// Wire name (`cores`, `gigabytes`, `floatingip`, ...).
    pub name: &'static str,
    /// Built-in default limit; `-1` is unlimited.
    pub default: i64,
}

/// A service's quota resources, stored under `name` in the quota store.
#[derive(Debug, PartialEq, Eq)]
pub struct Service {
    /// Key in the quota store (`compute`, `volume`, `network`).
    pub name: &'static str,
    /// Every resource, in the order APIs list them.
    pub resources: &'static [Resource],
    /// Resources that also exist per kind, as `<resource>_<kind>` with
    /// no limit unless one is set: Cinder's `volumes_<type>`,
    /// `gigabytes_<type>` and `snapshots_<type>`. Which kinds exist is the
    /// service's to say (its volume types); the engine only knows the form.
    pub per_kind: &'static [&'static str],
}

impl Service {
    /// The resource called `name`, if the service has one.
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.name == name)
    }

    /// True when `name` is one of this service's resources, or has the
    /// form of a per-kind one.
    pub fn has(&self, name: &str) -> bool {
        self.resource(name).is_some() || self.kind_of(name).is_some()
    }

    /// The resource and kind of a per-kind name (`gigabytes_gold` is
    /// `("gigabytes", "gold")`).
    pub fn kind_of<'a>(&self, name: &'a str) -> Option<(&'static str, &'a str)> {
        self.per_kind.iter().find_map(|r| {
            let kind = name.strip_prefix(r)?.strip_prefix('_')?;
            (!kind.is_empty()).then_some((*r, kind))
        })
    }

    /// The per-kind resource names of `kinds`, kind by kind.
    pub fn kind_names(&self, kinds: &[String]) -> Vec<String> {
        kinds
            .iter()
            .flat_map(|k| self.per_kind.iter().map(move |r| format!("{r}_{k}")))
            .collect()
    }

    /// The built-in defaults as a map.
    pub fn builtin_defaults(&self) -> ResourceMap {
        self.resources
            .iter()
            .map(|r| (r.name.to_string(), r.default))
            .collect()
    }
}

const fn r(name: &'static str, default: i64) -> Resource {
    Resource { name, default }
}

/// Nova's quotas. The four network-related ones exist only for requests
/// below microversion 2.36 (they were proxies for nova-network); Nova still
/// stores and reports them there, with these defaults. `networks` is left
/// out: it needed the long-removed `enable_network_quota` option.
pub static COMPUTE: Service = Service {
    name: "compute",
    resources: &[
        r("instances", 10),
        r("cores", 20),
        r("ram", 51200),
        r("key_pairs", 100),
        r("metadata_items", 128),
        r("server_groups", 10),
        r("server_group_members", 10),
        r("injected_files", 5),
        r("injected_file_content_bytes", 10240),
        r("injected_file_path_bytes", 255),
        r("fixed_ips", -1),
        r("floating_ips", 10),
        r("security_groups", 10),
        r("security_group_rules", 20),
    ],
    per_kind: &[],
};

/// Cinder's quotas, with the per-volume-type variants of volumes,
/// gigabytes and snapshots.
pub static VOLUME: Service = Service {
    name: "volume",
    resources: &[
        r("volumes", 10),
        r("snapshots", 10),
        r("gigabytes", 1000),
        r("backups", 10),
        r("backup_gigabytes", 1000),
        r("groups", 10),
        r("per_volume_gigabytes", -1),
    ],
    per_kind: &["volumes", "gigabytes", "snapshots"],
};

/// Neutron's quotas, as the ML2 core plugin with the usual service plugins
/// (router, security groups, RBAC, subnet pools) has them.
pub static NETWORK: Service = Service {
    name: "network",
    resources: &[
        r("network", 100),
        r("subnet", 100),
        r("port", 500),
        r("router", 10),
        r("floatingip", 50),
        r("security_group", 10),
        r("security_group_rule", 100),
        r("rbac_policy", 10),
        r("subnetpool", -1),
    ],
    per_kind: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nova_defaults_match_a_stock_nova() {
        let d = COMPUTE.builtin_defaults();
        assert_eq!(d["instances"], 10);
        assert_eq!(d["cores"], 20);
        assert_eq!(d["ram"], 51200);
        assert_eq!(d["fixed_ips"], -1);
        assert_eq!(d.len(), 14);
    }

    #[test]
    fn per_kind_names_are_cinders() {
        assert_eq!(
            VOLUME.kind_of("gigabytes_gold"),
            Some(("gigabytes", "gold"))
        );
        assert_eq!(VOLUME.kind_of("volumes_a_b"), Some(("volumes", "a_b")));
        assert_eq!(VOLUME.kind_of("backup_gigabytes"), None);
        assert_eq!(VOLUME.kind_of("gigabytes_"), None);
        assert!(VOLUME.has("snapshots_x") && !COMPUTE.has("cores_x"));
        assert_eq!(
            VOLUME.kind_names(&["t".into()]),
            ["volumes_t", "gigabytes_t", "snapshots_t"]
        );
    }

    #[test]
    fn resource_names_are_unique_per_service() {
        for service in [&COMPUTE, &VOLUME, &NETWORK] {
            assert_eq!(
                service.builtin_defaults().len(),
                service.resources.len(),
                "{}",
                service.name
            );
        }
    }
}
