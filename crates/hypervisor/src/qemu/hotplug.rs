//! NIC hotplug: `attach_nic` and `detach_nic` on a live VM through QMP,
//! and on a stopped one through the stored spec alone.
//!
//! ```text
//!   attach (Running/Paused):  netdev_add tap  ->  device_add virtio-net-pci
//!                             -> spec.json gains the NIC
//!   detach (Running/Paused):  device_del  ->  DEVICE_DELETED (the guest
//!                             ejects it; bounded by Deadlines::nic_unplug)
//!                             -> netdev_del  ->  spec.json loses the NIC
//!   either, Shutoff:          spec.json only (the next start has the set)
//! ```
//!
//! The ids are derived from the tap (`net-TAP`, `nic-TAP`, as at start),
//! so they are the same whichever way a NIC got there and an unplug
//! after an agent restart finds its device. `spec.json` is written last,
//! after QEMU has done the change: it never claims a NIC the guest lacks
//! (a stop/start would bring back a detached NIC, a port could be unwired
//! under a live one). A crash in between leaves QEMU ahead of the spec;
//! doing the operation again finishes it, because each step first looks
//! at what QEMU has (`qom-list /machine/peripheral`) and a missing netdev
//! or device is not an error.
//!
//! A paused guest cannot answer the ACPI eject, so a detach continues its
//! vCPUs for the unplug and stops them again, also on failure (as a
//! snapshot pauses a running guest and continues it). Rejected: refusing
//! detach while paused (Nova allows interface detach on a PAUSED server)
//! and `device_del` without waiting (the NIC would still be in the guest
//! when the port is unwired).

use super::*;
use crate::nics::{device_id, netdev_id};
use crate::qmp::QmpError;
use crate::NicSpec;
use serde_json::json;

impl QemuHypervisor {
    pub(super) async fn do_attach_nic(&self, id: Uuid, nic: NicSpec) -> Result<InstanceInfo> {
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let o = self
            .observe_checked(id, Operation::AttachNic, false)
            .await?;
        if !crate::nics::needs_attach(&o.spec, &nic)? {
            return Ok(o.info());
        }
        let paths = self.paths(id);
        if o.pid.is_some() {
            let mut c = self.qmp(id, &paths).await?;
            self.plug(id, &mut c, &nic)
                .await
                .map_err(|source| HypervisorError::Qmp { id, source })?;
        }
        let mut spec = o.spec;
        spec.nics.push(nic);
        self.store_spec(&spec, &paths)?;
        Ok(self.observe(id).await?.info())
    }

    pub(super) async fn do_detach_nic(&self, id: Uuid, key: &str) -> Result<InstanceInfo> {
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let o = self
            .observe_checked(id, Operation::DetachNic, false)
            .await?;
        let Some(index) = crate::nics::find(&o.spec, key) else {
            return Ok(o.info());
        };
        let paths = self.paths(id);
        if o.pid.is_some() {
            let tap = o.spec.nics[index].tap.clone();
            let mut c = self.qmp(id, &paths).await?;
            let paused = o.state == PowerState::Paused;
            if paused {
                c.execute("cont", None)
                    .await
                    .map_err(|source| HypervisorError::Qmp { id, source })?;
            }
            let r = self.unplug(id, &mut c, &tap, o.pid).await;
            if paused {
                if let Err(e) = c.execute("stop", None).await {
                    tracing::error!(%id, error = %e, "cannot pause the guest again after a NIC unplug");
                }
            }
            r?;
        }
        let mut spec = o.spec;
        spec.nics.remove(index);
        self.store_spec(&spec, &paths)?;
        Ok(self.observe(id).await?.info())
    }

    /// `netdev_add` + `device_add`, finishing an earlier attempt: a
    /// device that is there already is done; a netdev left without its
    /// device is replaced.
    async fn plug(&self, id: Uuid, c: &mut QmpClient, nic: &NicSpec) -> Result<(), QmpError> {
        let (netdev, device) = (netdev_id(&nic.tap), device_id(&nic.tap));
        if peripherals(c).await?.contains(&device) {
            return Ok(());
        }
        ignore_missing(c.execute("netdev_del", Some(json!({ "id": netdev }))).await)?;
        let tap = json!({
            "type": "tap", "id": netdev, "ifname": nic.tap,
            "script": "no", "downscript": "no",
        });
        c.execute("netdev_add", Some(tap)).await?;
        let dev = json!({
            "driver": "virtio-net-pci", "id": device, "netdev": netdev, "mac": nic.mac,
        });
        if let Err(e) = c.execute("device_add", Some(dev)).await {
            if let Err(undo) = c.execute("netdev_del", Some(json!({ "id": netdev }))).await {
                tracing::warn!(%id, error = %undo, "cannot remove the netdev of a failed NIC plug");
            }
            return Err(e);
        }
        tracing::info!(%id, tap = %nic.tap, mac = %nic.mac, "NIC plugged");
        Ok(())
    }

    /// `device_del`, the wait for the guest to release it, `netdev_del`.
    async fn unplug(&self, id: Uuid, c: &mut QmpClient, tap: &str, pid: Option<u32>) -> Result<()> {
        let qmp = |source| HypervisorError::Qmp { id, source };
        let (netdev, device) = (netdev_id(tap), device_id(tap));
        let present = peripherals(c).await.map_err(qmp)?.contains(&device);
        if !present && pid.is_some_and(|pid| started_without_ids(pid, tap)) {
            return Err(HypervisorError::InvalidSpec(format!(
                "the NIC on tap {tap} was started by an older version without a device id and \
                 cannot be unplugged live; stop the instance to detach it"
            )));
        }
        if present {
            // Asked again after an earlier attempt timed out, QEMU may say
            // the unplug is pending: the wait below is what counts.
            if let Err(e) = c.execute("device_del", Some(json!({ "id": device }))).await {
                tracing::debug!(%id, error = %e, "device_del refused; waiting for the unplug anyway");
            }
            let limit = self.config.deadlines.nic_unplug;
            let gone = |d: &Value| d["device"] == device.as_str();
            match c.wait_event("DEVICE_DELETED", gone, limit).await {
                Ok(_) => {}
                // Released between the check and the wait, or an event
                // that went to an earlier connection.
                Err(QmpError::Timeout(_))
                    if !peripherals(c).await.map_err(qmp)?.contains(&device) => {}
                Err(QmpError::Timeout(_)) => {
                    return Err(HypervisorError::Timeout {
                        id,
                        op: Operation::DetachNic,
                        after: limit,
                    })
                }
                Err(e) => return Err(qmp(e)),
            }
        }
        ignore_missing(c.execute("netdev_del", Some(json!({ "id": netdev }))).await)
            .map_err(qmp)?;
        tracing::info!(%id, %tap, "NIC unplugged");
        Ok(())
    }

    /// Writes the instance's spec (atomically, mode 0600).
    pub(super) fn store_spec(&self, spec: &InstanceSpec, paths: &Paths) -> Result<()> {
        let raw = serde_json::to_vec_pretty(spec).map_err(|e| HypervisorError::Io {
            path: paths.spec.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        disk::write_private(&paths.spec, &raw)
    }
}

/// The ids of the devices created with an id (`-device id=...` and
/// `device_add`).
pub(super) async fn peripherals(c: &mut QmpClient) -> Result<Vec<String>, QmpError> {
    let v = c
        .execute("qom-list", Some(json!({ "path": "/machine/peripheral" })))
        .await?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect())
}

/// Whether VM `pid` was started with a NIC on `tap` under the ids of
/// versions before hotplug (`-netdev tap,id=netN,...` and an anonymous
/// device), which `device_del` cannot name: claiming such a NIC gone
/// would let its port be unwired under the guest.
fn started_without_ids(pid: u32, tap: &str) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    legacy_netdev(&args, tap)
}

/// Whether `args` start a tap netdev on `tap` under another id than ours.
fn legacy_netdev(args: &[String], tap: &str) -> bool {
    let ifname = format!("ifname={tap}");
    let ours = format!("id={}", netdev_id(tap));
    args.iter()
        .filter(|a| a.starts_with("tap,"))
        .any(|a| a.split(',').any(|o| o == ifname) && !a.split(',').any(|o| o == ours))
}

/// A `netdev_del` of a netdev that is not there is not a failure.
pub(super) fn ignore_missing(r: Result<Value, QmpError>) -> Result<(), QmpError> {
    match r {
        Ok(_) => Ok(()),
        Err(QmpError::Command { class, desc, .. })
            if class == "DeviceNotFound" || desc.contains("not found") =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::legacy_netdev;

    #[test]
    fn tells_old_anonymous_nics_from_ours() {
        let args = |netdev: &str| vec!["-netdev".to_owned(), netdev.to_owned()];
        let old = args("tap,id=net0,ifname=tapa,script=no,downscript=no");
        let new = args("tap,id=net-tapa,ifname=tapa,script=no,downscript=no");
        assert!(legacy_netdev(&old, "tapa"));
        assert!(!legacy_netdev(&new, "tapa"));
        assert!(!legacy_netdev(&old, "tap"), "another tap's prefix");
        assert!(!legacy_netdev(&[], "tapa"));
    }
}
