//! Disks as block-node chains: the image root disk and attached volumes,
//! on the command line at start and hot-plugged over QMP, with I/O limits
//! changed in place.
//!
//! Every disk but the config drive is the same chain, named from one key
//! (`root` for the image overlay, `vol-` + 24 characters of the volume id
//! for a volume, see `crate::volumes::key`):
//!
//! ```text
//!   -object tls-creds-psk id=tls-KEY endpoint=client  (an export only)
//!   -object throttle-group id=tg-KEY (limits)
//!   -blockdev file|rbd|nbd node KEY-p        (the protocol node)
//!   -blockdev qcow2|raw  node KEY-f          (the format node)
//!   -blockdev throttle   node KEY  group tg-KEY
//!   -device virtio-blk-pci id=disk-KEY drive=KEY serial=SERIAL [bootindex=0]
//! ```
//!
//! A volume exported by another host (`Connection::Export`) is an `nbd`
//! protocol node under a `raw` format node, with its TLS credentials
//! object first (`nbd.rs`).
//!
//! The same JSON objects are `-object`/`-blockdev`/`-device` arguments at
//! start and `object-add`/`blockdev-add`/`device_add` arguments in a
//! hotplug, so a disk is the same whichever way it got there, and an
//! unplug after an agent restart finds it by its derived ids.
//!
//! Every disk gets its throttle group, limits or not (all zero is no
//! limit): changing limits on a live guest is then one `qom-set` of the
//! group's `limits`. Rejected: a throttle node only where limits are
//! non-zero, which would make the first limit on a running guest a
//! change of the chain under the device (`blockdev-reopen` of the
//! format node onto a new filter), the one step here with no simple
//! repeat-after-crash story. An idle group costs nothing measurable.
//!
//! ```text
//!   attach (Running/Paused):  object-add group  ->  blockdev-add p, f,
//!                             throttle  ->  device_add  -> spec.json
//!   detach (Running/Paused):  device_del  ->  DEVICE_DELETED (bounded by
//!                             Deadlines::nic_unplug)  ->  blockdev-del
//!                             throttle, f, p  ->  object-del group
//!                             -> spec.json
//!   update (Running/Paused):  qom-set limits; block_resize of KEY (the
//!                             top node, which passes it down); a newer
//!                             top generation: the switch onto the new
//!                             top file (`switch.rs`) -> spec.json
//!   any of them, Shutoff:     spec.json (and `qemu-img resize` of a
//!                             growing file volume)
//! ```
//!
//! As for NICs (`hotplug.rs`), `spec.json` is written last, after QEMU
//! has done the change, and every step first looks at what QEMU has
//! (`qom-list /machine/peripheral`, `qom-list /objects`,
//! `query-named-block-nodes`): an attach cut short by a crash is redone
//! from a clean slate (nodes without their device are removed first), a
//! detach finishes what is left. The volume's file is closed only after
//! the guest let the device go: a volume reported detached is one the
//! volume service may hand to another host.

use super::hotplug::peripherals;
use super::*;
use crate::qmp::QmpError;
use crate::volumes::{self as rules, key};
use crate::{Connection, IoLimits, VolumeSpec};
use serde_json::json;

/// The QEMU ids of one disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiskIds {
    pub protocol: String,
    pub format: String,
    pub top: String,
    pub group: String,
    pub device: String,
    /// The TLS credentials of an export's disk.
    pub tls: String,
}

impl DiskIds {
    pub(super) fn new(key: &str) -> DiskIds {
        DiskIds {
            protocol: format!("{key}-p"),
            format: format!("{key}-f"),
            top: key.to_owned(),
            group: format!("tg-{key}"),
            device: format!("disk-{key}"),
            tls: format!("tls-{key}"),
        }
    }

    /// The image root disk's.
    pub(super) fn root() -> DiskIds {
        DiskIds::new("root")
    }

    pub(super) fn volume(volume_id: &str) -> DiskIds {
        DiskIds::new(&key(volume_id))
    }
}

/// A disk's chain as QEMU objects, in creation order.
#[derive(Debug, Clone)]
pub(super) struct Chain {
    pub ids: DiskIds,
    /// `-object` / `object-add`.
    pub group: Value,
    /// An export's TLS credentials: `-object` / `object-add` before the
    /// nodes, and the key file they read.
    pub tls: Option<(Value, super::nbd::PskFile)>,
    /// `-blockdev` / `blockdev-add`, protocol node first.
    pub nodes: [Value; 3],
    /// `-device` / `device_add`.
    pub device: Value,
}

/// QEMU's `ThrottleLimits`: every field, so a `qom-set` also clears.
pub(super) fn limits_json(l: &IoLimits) -> Value {
    json!({
        "iops-total": l.total_iops_sec,
        "iops-read": l.read_iops_sec,
        "iops-write": l.write_iops_sec,
        "bps-total": l.total_bytes_sec,
        "bps-read": l.read_bytes_sec,
        "bps-write": l.write_bytes_sec,
    })
}

/// Reads `ThrottleLimits` back (`qom-get` of a group's `limits`).
pub(super) fn limits_from_json(v: &Value) -> IoLimits {
    let f = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    IoLimits {
        total_iops_sec: f("iops-total"),
        read_iops_sec: f("iops-read"),
        write_iops_sec: f("iops-write"),
        total_bytes_sec: f("bps-total"),
        read_bytes_sec: f("bps-read"),
        write_bytes_sec: f("bps-write"),
    }
}

fn chain(
    ids: DiskIds,
    protocol: Value,
    format: &str,
    read_only: bool,
    limits: &IoLimits,
    serial: Option<&str>,
    boot: bool,
) -> Chain {
    let mut protocol = protocol;
    protocol["node-name"] = json!(ids.protocol);
    protocol["read-only"] = json!(read_only);
    let format = json!({
        "driver": format, "node-name": ids.format, "file": ids.protocol, "read-only": read_only,
    });
    let throttle = json!({
        "driver": "throttle", "node-name": ids.top, "throttle-group": ids.group,
        "file": ids.format, "read-only": read_only,
    });
    let group =
        json!({ "qom-type": "throttle-group", "id": ids.group, "limits": limits_json(limits) });
    let mut device = json!({ "driver": "virtio-blk-pci", "id": ids.device, "drive": ids.top });
    if let Some(serial) = serial {
        device["serial"] = json!(serial);
    }
    if boot {
        device["bootindex"] = json!(0);
    }
    Chain {
        ids,
        group,
        tls: None,
        nodes: [protocol, format, throttle],
        device,
    }
}

/// The image root disk's chain: the overlay, bootindex 0.
pub(super) fn root_chain(disk: &Path, limits: &IoLimits) -> Chain {
    let file = json!({ "driver": "file", "filename": disk.to_string_lossy() });
    chain(DiskIds::root(), file, "qcow2", false, limits, None, true)
}

/// A volume's chain; a root volume gets bootindex 0. An export's key file
/// goes under `psk_root` (the instance's `psk` directory).
pub(super) fn volume_chain(v: &VolumeSpec, psk_root: &Path) -> Result<Chain> {
    let ids = DiskIds::volume(&v.volume_id);
    let mut tls = None;
    let (protocol, format) = match &v.connection {
        Connection::File { path, format } => (
            json!({ "driver": "file", "filename": path }),
            format.as_str(),
        ),
        Connection::Rbd {
            pool,
            image,
            monitors,
            user,
        } => {
            let servers: Vec<Value> = monitors
                .iter()
                .map(|m| match m.rsplit_once(':') {
                    Some((host, port)) if port.parse::<u16>().is_ok() => {
                        json!({ "host": host.trim_matches(['[', ']']), "port": port })
                    }
                    _ => json!({ "host": m, "port": "6789" }),
                })
                .collect();
            let mut rbd = json!({ "driver": "rbd", "pool": pool, "image": image, "user": user });
            if !servers.is_empty() {
                rbd["server"] = Value::Array(servers);
            }
            (rbd, "raw")
        }
        Connection::Export { address, name, key } => {
            let (protocol, object, psk) =
                super::nbd::export_disk(&v.volume_id, &ids, psk_root, address, name, key)?;
            tls = Some((object, psk));
            (protocol, "raw")
        }
    };
    let mut c = chain(
        ids,
        protocol,
        format,
        v.read_only,
        &v.limits,
        Some(&v.serial),
        v.boot_index.is_some(),
    );
    c.tls = tls;
    Ok(c)
}

impl Chain {
    /// The command-line arguments of this disk.
    pub(super) fn argv(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some((tls, _)) = &self.tls {
            a.extend(["-object".to_owned(), tls.to_string()]);
        }
        a.extend(["-object".to_owned(), self.group.to_string()]);
        for n in &self.nodes {
            a.extend(["-blockdev".to_owned(), n.to_string()]);
        }
        a.extend(["-device".to_owned(), self.device.to_string()]);
        a
    }
}

/// The node names QEMU has.
async fn node_names(c: &mut QmpClient) -> Result<Vec<String>, QmpError> {
    let v = c
        .execute("query-named-block-nodes", Some(json!({ "flat": true })))
        .await?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["node-name"].as_str().map(str::to_owned))
        .collect())
}

/// The virtual size of node `name`, if QEMU has it.
pub(super) async fn node_size(c: &mut QmpClient, name: &str) -> Result<Option<u64>, QmpError> {
    let v = c
        .execute("query-named-block-nodes", Some(json!({ "flat": true })))
        .await?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .find(|n| n["node-name"] == name)
        .and_then(|n| n["image"]["virtual-size"].as_u64()))
}

/// The user-created objects QEMU has (`-object`, `object-add`).
async fn objects(c: &mut QmpClient) -> Result<Vec<String>, QmpError> {
    let v = c
        .execute("qom-list", Some(json!({ "path": "/objects" })))
        .await?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect())
}

/// Removes a disk's nodes (top first, then the overlays of live
/// snapshots newest first, then the first file) and group, whichever are
/// there.
async fn remove_chain(c: &mut QmpClient, ids: &DiskIds) -> Result<(), QmpError> {
    let nodes = node_names(c).await?;
    let overlays = super::switch::overlay_names(c, ids).await?;
    let order = std::iter::once(&ids.top)
        .chain(&overlays)
        .chain([&ids.format, &ids.protocol]);
    for n in order {
        if nodes.contains(n) {
            c.execute("blockdev-del", Some(json!({ "node-name": n })))
                .await?;
        }
    }
    let objects = objects(c).await?;
    for o in [&ids.group, &ids.tls] {
        if objects.contains(o) {
            c.execute("object-del", Some(json!({ "id": o }))).await?;
        }
    }
    Ok(())
}

/// Reads the limits in force of group `group` (for tests and checks).
pub async fn group_limits(
    qmp: &Path,
    group: &str,
    timeout: Duration,
) -> Result<IoLimits, QmpError> {
    let mut c = QmpClient::connect(qmp, timeout).await?;
    let v = c
        .execute(
            "qom-get",
            Some(json!({ "path": format!("/objects/{group}"), "property": "limits" })),
        )
        .await?;
    Ok(limits_from_json(&v))
}

/// The throttle group of volume `volume_id`'s disk (`tg-` + its key).
pub fn volume_group(volume_id: &str) -> String {
    DiskIds::volume(volume_id).group
}

/// The throttle group of the image root disk.
pub const ROOT_GROUP: &str = "tg-root";

impl QemuHypervisor {
    pub(super) async fn do_attach_volume(&self, id: Uuid, v: VolumeSpec) -> Result<InstanceInfo> {
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let o = self
            .observe_checked(id, Operation::AttachVolume, false)
            .await?;
        if !rules::needs_attach(&o.spec, &v)? {
            return Ok(o.info());
        }
        let paths = self.paths(id);
        let chain = volume_chain(&v, &paths.psk)?;
        if let Some((_, psk)) = &chain.tls {
            psk.write()?;
        }
        if o.pid.is_some() {
            let mut c = self.qmp(id, &paths).await?;
            plug(id, &mut c, &chain)
                .await
                .map_err(|source| HypervisorError::Qmp { id, source })?;
        }
        let mut spec = o.spec;
        spec.volumes.push(v);
        self.store_spec(&spec, &paths)?;
        Ok(self.observe(id).await?.info())
    }

    pub(super) async fn do_detach_volume(&self, id: Uuid, volume_id: &str) -> Result<InstanceInfo> {
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let o = self
            .observe_checked(id, Operation::DetachVolume, false)
            .await?;
        let Some(index) = rules::find_detachable(&o.spec, volume_id)? else {
            return Ok(o.info());
        };
        let paths = self.paths(id);
        if o.pid.is_some() {
            let ids = DiskIds::volume(volume_id);
            let mut c = self.qmp(id, &paths).await?;
            // A paused guest cannot answer the eject (see hotplug.rs).
            let paused = o.state == PowerState::Paused;
            if paused {
                c.execute("cont", None)
                    .await
                    .map_err(|source| HypervisorError::Qmp { id, source })?;
            }
            let r = self.unplug_disk(id, &mut c, &ids).await;
            if paused {
                if let Err(e) = c.execute("stop", None).await {
                    tracing::error!(%id, error = %e, "cannot pause the guest again after a volume unplug");
                }
            }
            r?;
        }
        let mut spec = o.spec;
        spec.volumes.remove(index);
        self.store_spec(&spec, &paths)?;
        Ok(self.observe(id).await?.info())
    }

    pub(super) async fn do_update_volume(&self, id: Uuid, v: VolumeSpec) -> Result<InstanceInfo> {
        let op = Operation::UpdateVolume;
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let o = self.observe_checked(id, op, false).await?;
        let rules::UpdatePlan {
            index,
            limits,
            grow,
            switch,
        } = rules::update_plan(&o.spec, &v)?;
        let paths = self.paths(id);
        let ids = DiskIds::volume(&v.volume_id);
        let want = v.size_gib.saturating_mul(1 << 30);
        if let Some(pid) = o.pid {
            let mut c = self.qmp(id, &paths).await?;
            // A read-only disk is never written: its frozen layer stays
            // as it is without a switch. A stopped guest needs none
            // either: its next start opens the new top.
            if let (true, false, Connection::File { path, format }) =
                (switch, v.read_only, &v.connection)
            {
                if format == "qcow2" {
                    super::switch::switch_top(id, pid, &mut c, &ids, Path::new(path)).await?;
                }
            }
            if limits {
                self.set_group_limits(id, &mut c, &ids, &v.limits).await?;
            }
            if grow {
                let qmp = |source| HypervisorError::Qmp { id, source };
                // The top node: the throttle filter passes the resize
                // down, and only its size is what the device sees (a
                // resize of the format node under it stays invisible).
                let size = node_size(&mut c, &ids.top).await.map_err(qmp)?;
                // Grown already (a repeat), or never below: only up.
                if size.is_some_and(|s| s < want) {
                    c.execute(
                        "block_resize",
                        Some(json!({ "node-name": ids.top, "size": want })),
                    )
                    .await
                    .map_err(qmp)?;
                    tracing::info!(%id, volume = %v.volume_id, size_gib = v.size_gib, "volume grown live");
                }
            }
        } else if let (true, Connection::File { path, format }) = (grow, &v.connection) {
            self.grow_file(id, Path::new(path), format, want).await?;
        }
        let mut spec = o.spec;
        spec.volumes[index] = v;
        self.store_spec(&spec, &paths)?;
        Ok(self.observe(id).await?.info())
    }

    pub(super) async fn do_set_root_limits(
        &self,
        id: Uuid,
        limits: IoLimits,
    ) -> Result<InstanceInfo> {
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let o = self
            .observe_checked(id, Operation::SetRootLimits, false)
            .await?;
        rules::validate_limits(&limits)?;
        if o.spec.root_limits == limits {
            return Ok(o.info());
        }
        let paths = self.paths(id);
        // A boot-from-volume guest has no image root disk: its root's
        // limits are its volume's; the spec keeps these for the record.
        if o.pid.is_some() && rules::boot_volume(&o.spec).is_none() {
            let mut c = self.qmp(id, &paths).await?;
            let qmp = |source| HypervisorError::Qmp { id, source };
            if objects(&mut c)
                .await
                .map_err(qmp)?
                .iter()
                .any(|o| o == ROOT_GROUP)
            {
                self.set_group_limits(id, &mut c, &DiskIds::root(), &limits)
                    .await?;
            } else {
                // Started by a version before volumes (the root disk an
                // anonymous -drive): the limits apply from its next
                // start. Not an error: failing would turn every running
                // guest of an upgraded host to ERROR the first time its
                // flavor's limits are written into its spec.
                tracing::warn!(%id, "the root disk has no throttle group (started by an older version); its limits apply from the next start");
            }
        }
        let mut spec = o.spec;
        spec.root_limits = limits;
        self.store_spec(&spec, &paths)?;
        Ok(self.observe(id).await?.info())
    }

    /// `qom-set` of a disk's group limits. A disk without its group (which
    /// every volume has from its plug on) is refused rather than claimed.
    async fn set_group_limits(
        &self,
        id: Uuid,
        c: &mut QmpClient,
        ids: &DiskIds,
        limits: &IoLimits,
    ) -> Result<()> {
        let qmp = |source| HypervisorError::Qmp { id, source };
        if !objects(c).await.map_err(qmp)?.contains(&ids.group) {
            return Err(HypervisorError::InvalidSpec(format!(
                "disk {} of instance {id} was started without a throttle group (by an older \
                 version); its limits apply from its next start",
                ids.device
            )));
        }
        c.execute(
            "qom-set",
            Some(json!({
                "path": format!("/objects/{}", ids.group),
                "property": "limits",
                "value": limits_json(limits),
            })),
        )
        .await
        .map_err(qmp)?;
        tracing::info!(%id, group = %ids.group, ?limits, "disk limits changed live");
        Ok(())
    }

    /// `device_del`, the wait for the guest to release the disk, then the
    /// nodes and the group.
    async fn unplug_disk(&self, id: Uuid, c: &mut QmpClient, ids: &DiskIds) -> Result<()> {
        let qmp = |source| HypervisorError::Qmp { id, source };
        if peripherals(c).await.map_err(qmp)?.contains(&ids.device) {
            if let Err(e) = c
                .execute("device_del", Some(json!({ "id": ids.device })))
                .await
            {
                tracing::debug!(%id, error = %e, "device_del refused; waiting for the unplug anyway");
            }
            let limit = self.config.deadlines.nic_unplug;
            let device = ids.device.as_str();
            let gone = |d: &Value| d["device"] == device;
            match c.wait_event("DEVICE_DELETED", gone, limit).await {
                Ok(_) => {}
                Err(QmpError::Timeout(_))
                    if !peripherals(c).await.map_err(qmp)?.contains(&ids.device) => {}
                Err(QmpError::Timeout(_)) => {
                    return Err(HypervisorError::Timeout {
                        id,
                        op: Operation::DetachVolume,
                        after: limit,
                    })
                }
                Err(e) => return Err(qmp(e)),
            }
        }
        remove_chain(c, ids).await.map_err(qmp)?;
        tracing::info!(%id, device = %ids.device, "volume unplugged");
        Ok(())
    }

    /// Grows a stopped instance's file volume with `qemu-img resize`
    /// (nothing holds it open); never shrinks.
    async fn grow_file(&self, id: Uuid, path: &Path, format: &str, want: u64) -> Result<()> {
        let op = Operation::UpdateVolume;
        let d = self.config.deadlines.disk_copy;
        let info = run(
            vec![
                s(&self.config.qemu_img),
                "info".into(),
                "-f".into(),
                format.into(),
                "--output=json".into(),
                s(path),
            ],
            id,
            op,
            d,
            &[],
        )
        .await?;
        let info: Value = serde_json::from_slice(&info.stdout).unwrap_or_default();
        if info["virtual-size"].as_u64().is_some_and(|s| s >= want) {
            return Ok(());
        }
        run(
            vec![
                s(&self.config.qemu_img),
                "resize".into(),
                "-q".into(),
                "-f".into(),
                format.into(),
                s(path),
                want.to_string(),
            ],
            id,
            op,
            d,
            &[],
        )
        .await?;
        Ok(())
    }
}

/// Plugs a disk's chain into a live VM, from a clean slate: a device that
/// is there is done; nodes or a group left by an earlier attempt are
/// removed first. A failed step removes what this attempt added.
async fn plug(id: Uuid, c: &mut QmpClient, chain: &Chain) -> Result<(), QmpError> {
    if peripherals(c).await?.contains(&chain.ids.device) {
        return Ok(());
    }
    remove_chain(c, &chain.ids).await?;
    let r = async {
        if let Some((tls, _)) = &chain.tls {
            c.execute("object-add", Some(tls.clone())).await?;
        }
        c.execute("object-add", Some(chain.group.clone())).await?;
        for n in &chain.nodes {
            c.execute("blockdev-add", Some(n.clone())).await?;
        }
        c.execute("device_add", Some(chain.device.clone())).await
    }
    .await;
    if let Err(e) = r {
        if let Err(undo) = remove_chain(c, &chain.ids).await {
            tracing::warn!(%id, error = %undo, "cannot remove the nodes of a failed volume plug");
        }
        return Err(e);
    }
    tracing::info!(%id, device = %chain.ids.device, "volume plugged");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_round_trip() {
        let l = IoLimits {
            write_iops_sec: 20,
            read_bytes_sec: 1 << 20,
            ..IoLimits::default()
        };
        let v = limits_json(&l);
        assert_eq!(v["iops-write"], 20);
        assert_eq!(v["iops-total"], 0, "every field, so a change also clears");
        assert_eq!(limits_from_json(&v), l);
    }

    #[test]
    fn rbd_monitors_become_servers() {
        let v = VolumeSpec {
            volume_id: "rbd1".into(),
            attachment_id: String::new(),
            connection: Connection::Rbd {
                pool: "volumes".into(),
                image: "volume-rbd1".into(),
                monitors: vec!["10.0.0.1:6789".into(), "mon2".into()],
                user: "cinder".into(),
            },
            serial: "rbd1".into(),
            read_only: true,
            boot_index: None,
            limits: IoLimits::default(),
            size_gib: 1,
            top_generation: 0,
        };
        let c = volume_chain(&v, Path::new("/psk")).expect("chain");
        assert_eq!(c.nodes[0]["driver"], "rbd");
        assert_eq!(
            c.nodes[0]["server"][1],
            json!({"host": "mon2", "port": "6789"})
        );
        assert_eq!(c.nodes[1]["driver"], "raw");
        assert!(c.nodes.iter().all(|n| n["read-only"] == true));
        let mut e = v.clone();
        e.connection = Connection::Export {
            address: "h:1".into(),
            name: "x".into(),
            key: ferrostack_host_contract::block::PskKey::from_hex(&"a".repeat(64)).unwrap(),
        };
        let c = volume_chain(&e, Path::new("/psk")).expect("export chain");
        assert_eq!(c.nodes[0]["driver"], "nbd");
        assert_eq!(c.nodes[0]["server"]["port"], "1");
        assert_eq!(c.nodes[0]["tls-creds"], c.ids.tls);
        assert_eq!(c.nodes[0]["reconnect-delay"], 30);
        assert_eq!(c.nodes[1]["driver"], "raw");
        let argv = c.argv().join(" ");
        assert!(argv.contains("tls-creds-psk") && argv.contains("/psk/vol-rbd1"));
        assert!(
            !argv.contains(&"a".repeat(64)),
            "the key is in a file, not the argv"
        );
        assert!(!format!("{c:?}").contains(&"a".repeat(64)));
    }
}
