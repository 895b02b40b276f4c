//! Glance's stock namespaces (its `etc/metadefs/*.json`, shipped in
//! `crates/image/metadefs/` with their NOTICE), loaded into the catalog at
//! the first start of a cloud, as `glance-manage db load_metadefs` does
//! once for a Glance deployment.
//!
//! Loaded once, not at every start: the store records that it has done so
//! ([`ferrostack_store::metadefs::MetadefStore::load_stock_namespaces`]),
//! so a stock namespace an operator changed or deleted stays as the
//! operator left it. Owner `admin` as Glance's loader sets it when a file
//! names none.

use super::namespaces::from_body;
use ferrostack_store::metadefs::{MetadefStore, Namespace};
use ferrostack_store::StoreResult;

/// The marker the store keeps once the stock namespaces are loaded.
pub const MARKER: &str = "image.metadefs.stock_loaded";

/// The files, by name.
pub const FILES: &[(&str, &str)] = &[
    (
        "cim-processor-allocation-setting-data.json",
        include_str!("../../metadefs/cim-processor-allocation-setting-data.json"),
    ),
    (
        "cim-resource-allocation-setting-data.json",
        include_str!("../../metadefs/cim-resource-allocation-setting-data.json"),
    ),
    (
        "cim-storage-allocation-setting-data.json",
        include_str!("../../metadefs/cim-storage-allocation-setting-data.json"),
    ),
    (
        "cim-virtual-system-setting-data.json",
        include_str!("../../metadefs/cim-virtual-system-setting-data.json"),
    ),
    (
        "compute-aggr-disk-filter.json",
        include_str!("../../metadefs/compute-aggr-disk-filter.json"),
    ),
    (
        "compute-aggr-iops-filter.json",
        include_str!("../../metadefs/compute-aggr-iops-filter.json"),
    ),
    (
        "compute-aggr-num-instances.json",
        include_str!("../../metadefs/compute-aggr-num-instances.json"),
    ),
    (
        "compute-cpu-mode.json",
        include_str!("../../metadefs/compute-cpu-mode.json"),
    ),
    (
        "compute-cpu-pinning.json",
        include_str!("../../metadefs/compute-cpu-pinning.json"),
    ),
    (
        "compute-guest-memory-backing.json",
        include_str!("../../metadefs/compute-guest-memory-backing.json"),
    ),
    (
        "compute-guest-shutdown.json",
        include_str!("../../metadefs/compute-guest-shutdown.json"),
    ),
    (
        "compute-host-capabilities.json",
        include_str!("../../metadefs/compute-host-capabilities.json"),
    ),
    (
        "compute-hypervisor.json",
        include_str!("../../metadefs/compute-hypervisor.json"),
    ),
    (
        "compute-instance-data.json",
        include_str!("../../metadefs/compute-instance-data.json"),
    ),
    (
        "compute-libvirt-image.json",
        include_str!("../../metadefs/compute-libvirt-image.json"),
    ),
    (
        "compute-libvirt.json",
        include_str!("../../metadefs/compute-libvirt.json"),
    ),
    (
        "compute-quota.json",
        include_str!("../../metadefs/compute-quota.json"),
    ),
    (
        "compute-randomgen.json",
        include_str!("../../metadefs/compute-randomgen.json"),
    ),
    (
        "compute-vcputopology.json",
        include_str!("../../metadefs/compute-vcputopology.json"),
    ),
    (
        "compute-vmware-flavor.json",
        include_str!("../../metadefs/compute-vmware-flavor.json"),
    ),
    (
        "compute-vmware-quota-flavor.json",
        include_str!("../../metadefs/compute-vmware-quota-flavor.json"),
    ),
    (
        "compute-vmware.json",
        include_str!("../../metadefs/compute-vmware.json"),
    ),
    (
        "compute-vtpm-hw.json",
        include_str!("../../metadefs/compute-vtpm-hw.json"),
    ),
    (
        "compute-vtpm.json",
        include_str!("../../metadefs/compute-vtpm.json"),
    ),
    (
        "compute-watchdog.json",
        include_str!("../../metadefs/compute-watchdog.json"),
    ),
    (
        "compute-xenapi.json",
        include_str!("../../metadefs/compute-xenapi.json"),
    ),
    (
        "glance-common-image-props.json",
        include_str!("../../metadefs/glance-common-image-props.json"),
    ),
    (
        "image-signature-verification.json",
        include_str!("../../metadefs/image-signature-verification.json"),
    ),
    (
        "operating-system.json",
        include_str!("../../metadefs/operating-system.json"),
    ),
    (
        "software-databases.json",
        include_str!("../../metadefs/software-databases.json"),
    ),
    (
        "software-runtimes.json",
        include_str!("../../metadefs/software-runtimes.json"),
    ),
    (
        "software-webservers.json",
        include_str!("../../metadefs/software-webservers.json"),
    ),
    (
        "storage-volume-type.json",
        include_str!("../../metadefs/storage-volume-type.json"),
    ),
];

/// The stock namespaces, parsed; a file that does not parse is left out
/// with a warning (a test checks that none is).
pub fn namespaces(now: i64) -> Vec<Namespace> {
    FILES
        .iter()
        .filter_map(|(file, text)| match parse(text, now) {
            Ok(ns) => Some(ns),
            Err(e) => {
                tracing::warn!(file, error = %e, "stock metadata definition namespace not loaded");
                None
            }
        })
        .collect()
}

/// One stock file as a namespace.
pub fn parse(text: &str, now: i64) -> Result<Namespace, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let map = value.as_object().ok_or("not a JSON object")?;
    from_body(map, Some("admin".into()), now).map_err(|e| format!("{e:?}"))
}

/// Load the stock namespaces unless done before; returns how many were
/// created.
pub fn load(store: &dyn MetadefStore) -> StoreResult<usize> {
    let now = ferrostack_common::time::now_micros();
    store.load_stock_namespaces(MARKER, &namespaces(now))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_stock_file_parses() {
        for (file, text) in super::FILES {
            let ns = super::parse(text, 1).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(
                ns.namespace.starts_with("OS::") || ns.namespace.starts_with("CIM::"),
                "{file}"
            );
        }
    }
}
