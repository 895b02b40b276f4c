//! The block-device section of a host's document: the volumes the host
//! exports to others, from the volume service's export rows
//! (`ferrostack_store::volume_exports`), plus a tombstone for every export
//! the host's agent reported that no row names any more, so the agent
//! tears it down (it removes only what its document marks deleted) and
//! its `Deleted` report ends the tombstone.
//!
//! And the driver a host serves its exports with ([`driver`]): the real
//! `qemu-storage-daemon` on a QEMU host whose address other hosts reach
//! (its `--tunnel-ip`, the underlay address the controller already lists
//! to VXLAN peers), a refusal with the reason otherwise, and the in-memory
//! stand-in on a fake host.

use crate::compute_host::Driver;
use ferrostack_agent::drivers::ObjectDriver;
use ferrostack_agent::exports::{ExportDriver, FakeExports, UnservedExports};
use ferrostack_host_contract::block::{BlockDeviceSection, DesiredExport, PskKey};
use ferrostack_host_contract::{Kind, ObservedObject};
use ferrostack_hypervisor::exports::{ExportConfig, StorageDaemon, DEFAULT_PORT};
use ferrostack_store::host_objects::HostObjectStore;
use ferrostack_store::volume_exports::ExportRecords;
use ferrostack_store::StoreResult;
use std::path::Path;
use std::sync::Arc;

/// The export driver of host `host` (module doc); `tunnel_ip` is the
/// address it registered for other hosts to reach it by. The daemon's
/// state goes in `instances_dir/_exports` (beside the VMs' own, whose
/// paths are kept short for QMP sockets, as this one's must be).
pub fn driver(
    kind: Driver,
    instances_dir: &Path,
    host: &str,
    tunnel_ip: Option<&str>,
    port: Option<u16>,
) -> Arc<dyn ObjectDriver> {
    let port = port.unwrap_or(DEFAULT_PORT);
    let Some(ip) = tunnel_ip else {
        return match kind {
            Driver::Fake => Arc::new(FakeExports::new(format!("127.0.0.1:{port}"))),
            Driver::Qemu => Arc::new(UnservedExports::new(format!(
                "host {host} has no --tunnel-ip, the address other hosts would reach its \
                 volume exports by"
            ))),
        };
    };
    if kind == Driver::Fake {
        return Arc::new(FakeExports::new(format!("{ip}:{port}")));
    }
    let have_daemon = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| d.join("qemu-storage-daemon").is_file())
    });
    if !have_daemon {
        return Arc::new(UnservedExports::new(format!(
            "host {host} has no qemu-storage-daemon to export volumes with"
        )));
    }
    let mut config = ExportConfig::new(instances_dir.join("_exports"), ip);
    config.port = port;
    let daemon = StorageDaemon::new(config);
    tracing::info!(address = %daemon.address(), "volume exports: qemu-storage-daemon");
    Arc::new(ExportDriver::new(Arc::new(daemon)))
}

/// `host`'s exports, live ones and tombstones.
pub fn block_section(
    exports: &dyn ExportRecords,
    reports: &dyn HostObjectStore,
    host: &str,
) -> StoreResult<BlockDeviceSection> {
    let mut section = BlockDeviceSection::default();
    for e in exports.host_exports(host)? {
        let Some(key) = PskKey::from_hex(&e.key) else {
            tracing::error!(volume_id = %e.volume_id, "export row with a malformed key; skipped");
            continue;
        };
        section.exports.push(DesiredExport {
            volume_id: e.volume_id,
            path: e.path,
            format: e.format,
            allowed_hosts: e.allowed_hosts,
            key,
            generation: e.generation,
            deleted: false,
        });
    }
    for r in reports.reported_objects(host)? {
        if r.kind != Kind::VolumeExport.as_str()
            || section.exports.iter().any(|e| e.volume_id == r.id)
        {
            continue;
        }
        let Ok(o) = serde_json::from_value::<ObservedObject>(r.report) else {
            continue;
        };
        // Only the id matters to a removal; the rest is well formed.
        section.exports.push(DesiredExport {
            volume_id: r.id,
            path: "/".into(),
            format: "raw".into(),
            allowed_hosts: Vec::new(),
            key: PskKey::random(),
            generation: o.observed_generation + 1,
            deleted: true,
        });
    }
    Ok(section)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrostack_host_contract::{ObjectKey, ObjectPhase};
    use ferrostack_store::host_objects::ReportedObject;
    use ferrostack_store::volume_exports::VolumeExport;
    use ferrostack_store::SqliteStore;

    fn report(id: &str, generation: u64) -> ReportedObject {
        let o = ObservedObject {
            key: ObjectKey::new(Kind::VolumeExport, id),
            phase: ObjectPhase::Ready,
            observed_generation: generation,
            present: true,
            fault: None,
            details: Default::default(),
        };
        ReportedObject {
            kind: Kind::VolumeExport.as_str().into(),
            id: id.into(),
            report: serde_json::to_value(o).unwrap(),
        }
    }

    #[test]
    fn rows_become_exports_and_reported_leftovers_tombstones() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("db")).unwrap();
        let key = PskKey::random();
        s.change_export("v1", &mut |_| {
            Some(VolumeExport {
                volume_id: String::new(),
                host: "s1".into(),
                path: "/v/v1".into(),
                format: "qcow2".into(),
                allowed_hosts: vec!["c1".into()],
                key: key.expose().into(),
                generation: 0,
            })
        })
        .unwrap();
        s.record_objects("s1", &[report("v1", 1), report("gone", 4)], &[])
            .unwrap();
        let section = block_section(&s, &s, "s1").unwrap();
        let [live, dead] = &section.exports[..] else {
            panic!("{section:?}")
        };
        assert_eq!((live.volume_id.as_str(), live.deleted), ("v1", false));
        assert_eq!((&live.key, live.generation), (&key, 1));
        assert_eq!(
            (dead.volume_id.as_str(), dead.deleted, dead.generation),
            ("gone", true, 5)
        );
        assert!(block_section(&s, &s, "c1").unwrap().exports.is_empty());
    }
}
