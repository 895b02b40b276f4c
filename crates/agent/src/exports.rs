//! The driver of [`Kind::VolumeExport`]: the volumes this (storage) host
//! serves to other hosts, over the host's one `qemu-storage-daemon`
//! ([`ferrostack_hypervisor::exports::StorageDaemon`], whose module doc
//! has the design).
//!
//! An export is an object that exists as specified or not, like a port:
//! `ensure` adds it to the daemon (starting the daemon if none runs),
//! `remove` takes it away, `list` asks the daemon, so a restarted agent
//! adopts what runs and an export lost behind its back (the daemon killed)
//! comes back at the next resync. The report's details carry the address
//! clients connect to (`address`: the daemon's `host:port`), which the
//! control plane hands to the client host; never the key.
//!
//! [`UnservedExports`] stands in on a host that cannot serve exports (no
//! address other hosts reach it by, or no `qemu-storage-daemon`): every
//! ensure fails with the reason, which the attach on the other host
//! reports. [`FakeExports`] is the in-memory stand-in for hosts on the
//! fake hypervisor.

use crate::drivers::{Details, DriverFuture, FakeObjects, ObjectDriver};
use ferrostack_host_contract::{HostDesired, Kind};
use ferrostack_hypervisor::exports::{ExportSpec, StorageDaemon};
use std::sync::Arc;

fn desired<'a>(
    d: &'a HostDesired,
    id: &str,
) -> Result<&'a ferrostack_host_contract::block::DesiredExport, String> {
    d.block_devices
        .exports
        .iter()
        .find(|e| e.volume_id == id)
        .ok_or_else(|| format!("volume export {id} is not in the desired state"))
}

fn address_details(address: String) -> Details {
    let mut details = Details::new();
    details.insert("address".into(), address.into());
    details
}

/// Exports served by the host's `qemu-storage-daemon`.
#[derive(Debug)]
pub struct ExportDriver {
    daemon: Arc<StorageDaemon>,
}

impl ExportDriver {
    /// Over `daemon`.
    pub fn new(daemon: Arc<StorageDaemon>) -> Self {
        ExportDriver { daemon }
    }
}

impl ObjectDriver for ExportDriver {
    fn kind(&self) -> Kind {
        Kind::VolumeExport
    }

    fn list(&self) -> DriverFuture<'_, Vec<String>> {
        Box::pin(async move { self.daemon.list().await.map_err(|e| e.to_string()) })
    }

    fn ensure<'a>(&'a self, d: &'a HostDesired, id: &'a str) -> DriverFuture<'a, Details> {
        Box::pin(async move {
            let spec = ExportSpec::from_desired(desired(d, id)?);
            self.daemon.ensure(&spec).await.map_err(|e| e.to_string())?;
            Ok(address_details(self.daemon.address()))
        })
    }

    fn remove<'a>(&'a self, id: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async move { self.daemon.remove(id).await.map_err(|e| e.to_string()) })
    }
}

/// A host that cannot serve exports: every ensure fails with `reason`.
#[derive(Debug, Clone)]
pub struct UnservedExports {
    reason: String,
}

impl UnservedExports {
    /// Refusing with `reason` (shown to whoever attaches).
    pub fn new(reason: impl Into<String>) -> Self {
        UnservedExports {
            reason: reason.into(),
        }
    }
}

impl ObjectDriver for UnservedExports {
    fn kind(&self) -> Kind {
        Kind::VolumeExport
    }

    fn list(&self) -> DriverFuture<'_, Vec<String>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn ensure<'a>(&'a self, _: &'a HostDesired, _: &'a str) -> DriverFuture<'a, Details> {
        Box::pin(async move { Err(self.reason.clone()) })
    }

    fn remove<'a>(&'a self, _: &'a str) -> DriverFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// In-memory exports (a [`FakeObjects`]) that report an address, for
/// hosts on the fake hypervisor (whose guests never connect).
#[derive(Debug, Clone)]
pub struct FakeExports {
    inner: FakeObjects,
    address: String,
}

impl FakeExports {
    /// Reporting `address` for every export.
    pub fn new(address: impl Into<String>) -> Self {
        FakeExports {
            inner: FakeObjects::new(Kind::VolumeExport),
            address: address.into(),
        }
    }

    /// The objects behind it (tests).
    pub fn objects(&self) -> &FakeObjects {
        &self.inner
    }
}

impl ObjectDriver for FakeExports {
    fn kind(&self) -> Kind {
        Kind::VolumeExport
    }

    fn list(&self) -> DriverFuture<'_, Vec<String>> {
        self.inner.list()
    }

    fn ensure<'a>(&'a self, d: &'a HostDesired, id: &'a str) -> DriverFuture<'a, Details> {
        Box::pin(async move {
            desired(d, id)?;
            self.inner.ensure(d, id).await?;
            Ok(address_details(self.address.clone()))
        })
    }

    fn remove<'a>(&'a self, id: &'a str) -> DriverFuture<'a, ()> {
        self.inner.remove(id)
    }
}
