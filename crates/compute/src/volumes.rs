//! The block storage service as compute sees it (the part of Nova that
//! talks to Cinder): reserve a volume for a server, connect it on the
//! server's host, complete the attachment once the guest has the disk,
//! and give it back once the guest has let go.
//!
//! As with networks ([`crate::networks`]), compute does not link the
//! volume service: the binary hands an implementation of
//! [`ServerVolumes`] to the host link (calls in process), and errors come
//! back in Nova's words. A cloud without one answers volume attaches with
//! 409.
//!
//! The attachment id is drawn by compute before the reservation and
//! recorded in the server's document first (a [`ServerVolume`] without a
//! connection), so a crash between the reservation and the record is
//! found by the server's delete, which releases every attachment the
//! document names; releasing is idempotent.

use crate::error::{ComputeError, ComputeResult};
pub use ferrostack_compute_types::server::BootVolumeSource;
pub use ferrostack_compute_types::volume_proxy::{SnapshotCreate, VolumeCreate};
use ferrostack_host_contract::block::{Connection, IoLimits, VolumeSpec};
use ferrostack_policy::AuthContext;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a host reaches a reserved volume, and what the disk must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeConnection {
    /// What QEMU opens.
    pub connection: Connection,
    /// The volume's size, GiB.
    pub size_gib: u64,
    /// The volume is read-only (or the attachment mode is `ro`).
    pub read_only: bool,
    /// I/O limits from the volume type's QoS specs.
    pub limits: IoLimits,
}

/// Cinder, in process.
pub trait ServerVolumes: Send + Sync {
    /// Reserve `volume_id` for server `server_id` under `attachment_id`
    /// (Cinder's attachment create without a connector). 404 when the
    /// caller cannot see the volume, 400 when it is not available.
    fn reserve(
        &self,
        caller: &AuthContext,
        volume_id: &str,
        server_id: &str,
        attachment_id: &str,
    ) -> ComputeResult<()>;

    /// Connect a reserved attachment on `host` (the attachment update with
    /// a connector): the volume becomes `attaching`.
    fn connect(&self, attachment_id: &str, host: &str) -> ComputeResult<VolumeConnection>;

    /// The guest has the disk: the volume is `in-use`.
    fn complete(&self, attachment_id: &str) -> ComputeResult<()>;

    /// A detach has started: the volume is `detaching`.
    fn begin_detaching(&self, attachment_id: &str) -> ComputeResult<()>;

    /// The guest has let go, or the attach is undone: the attachment is
    /// deleted (the volume `available` when it was its last). Unknown
    /// attachments are not an error.
    fn release(&self, attachment_id: &str) -> ComputeResult<()>;

    /// Create volume `volume_id` for `project_id` from `source` (an
    /// image's data, a volume snapshot's, or empty; never an existing
    /// volume) and return once it is available; a failure leaves no
    /// volume. `size_gib` 0 takes the source's size. Booting from a
    /// volume waits for it, as Nova's compute does.
    fn create_volume(
        &self,
        project_id: &str,
        volume_id: &str,
        source: &BootVolumeSource,
        size_gib: u64,
        volume_type: Option<&str>,
    ) -> ComputeResult<()>;

    /// The image an existing volume holds (its `volume_image_metadata`),
    /// to boot from it: 404 when the caller cannot see the volume, 400
    /// when it holds no image.
    fn boot_image(&self, caller: &AuthContext, volume_id: &str) -> ComputeResult<String>;

    /// Delete a volume the server's boot created with
    /// `delete_on_termination` (its attachment already released).
    fn delete_volume(&self, volume_id: &str) -> ComputeResult<()>;

    // The proxies (`os-volumes`, `os-snapshots`), as the caller: Nova
    // calls Cinder with the user's token, so the volume service's own
    // rules apply. A service without them answers 501.

    /// The caller's project's volumes.
    fn list_volumes(&self, caller: &AuthContext) -> ComputeResult<Vec<ProxyVolume>> {
        let _ = caller;
        Err(no_proxy())
    }

    /// One volume the caller may see (404 otherwise).
    fn show_volume(&self, caller: &AuthContext, volume_id: &str) -> ComputeResult<ProxyVolume> {
        let _ = (caller, volume_id);
        Err(no_proxy())
    }

    /// Create a volume in the caller's project (`creating` on return).
    fn create_proxy_volume(
        &self,
        caller: &AuthContext,
        req: &VolumeCreate,
    ) -> ComputeResult<ProxyVolume> {
        let _ = (caller, req);
        Err(no_proxy())
    }

    /// Delete a volume the caller may see.
    fn delete_proxy_volume(&self, caller: &AuthContext, volume_id: &str) -> ComputeResult<()> {
        let _ = (caller, volume_id);
        Err(no_proxy())
    }

    /// The caller's project's volume snapshots.
    fn list_snapshots(&self, caller: &AuthContext) -> ComputeResult<Vec<ProxySnapshot>> {
        let _ = caller;
        Err(no_proxy())
    }

    /// One snapshot the caller may see (404 otherwise).
    fn show_snapshot(&self, caller: &AuthContext, id: &str) -> ComputeResult<ProxySnapshot> {
        let _ = (caller, id);
        Err(no_proxy())
    }

    /// Snapshot a volume the caller may see (`creating` on return).
    fn create_snapshot(
        &self,
        caller: &AuthContext,
        req: &SnapshotCreate,
    ) -> ComputeResult<ProxySnapshot> {
        let _ = (caller, req);
        Err(no_proxy())
    }

    /// Delete a snapshot the caller may see.
    fn delete_snapshot(&self, caller: &AuthContext, id: &str) -> ComputeResult<()> {
        let _ = (caller, id);
        Err(no_proxy())
    }
}

fn no_proxy() -> ComputeError {
    ComputeError::NotImplemented(
        "This cloud's block storage service does not serve Nova's volume proxies.".into(),
    )
}

/// A volume as Nova's `os-volumes` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyVolume {
    /// The volume.
    pub id: String,
    /// Cinder's status.
    pub status: String,
    /// GiB.
    pub size_gib: u64,
    /// Availability zone.
    pub availability_zone: String,
    /// µs since the epoch.
    pub created_at: i64,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// The type's name.
    pub volume_type: Option<String>,
    /// The snapshot it was made from.
    pub snapshot_id: Option<String>,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// The server it is attached to and the device, when attached.
    pub attachment: Option<(String, Option<String>)>,
}

/// A volume snapshot as Nova's `os-snapshots` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxySnapshot {
    /// The snapshot.
    pub id: String,
    /// Its volume.
    pub volume_id: String,
    /// Cinder's status.
    pub status: String,
    /// The volume's size, GiB.
    pub size_gib: u64,
    /// µs since the epoch.
    pub created_at: i64,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// A volume attached to a server (Nova's block device mapping), kept in
/// the server's document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerVolume {
    /// The volume.
    pub volume_id: String,
    /// Cinder's attachment id (drawn by compute).
    pub attachment_id: String,
    /// The device name shown to users (`/dev/vdb`); a hint, as in Nova:
    /// the guest names its disks itself.
    pub device: String,
    /// Where the data is; `None` while the attach is reserving (the disk
    /// is not in the VM's spec yet).
    #[serde(default)]
    pub connection: Option<Connection>,
    /// The volume's size, GiB (grows with an extend).
    #[serde(default)]
    pub size_gib: u64,
    /// Attached read-only.
    #[serde(default)]
    pub read_only: bool,
    /// The disk's I/O limits.
    #[serde(default)]
    pub limits: IoLimits,
    /// `Some(0)` for the root disk of a server booted from volume.
    #[serde(default)]
    pub boot_index: Option<u32>,
    /// Deleted with the server (2.79 shows it).
    #[serde(default)]
    pub delete_on_termination: bool,
    /// The device tag (2.49).
    #[serde(default)]
    pub tag: Option<String>,
    /// The host reported the disk in the VM and the attachment is
    /// complete (the volume is `in-use`).
    #[serde(default)]
    pub attached: bool,
    /// The generation of the volume's top file the VM should have open:
    /// bumped when a live snapshot froze the top under it (see
    /// `VolumeSpec::top_generation`).
    #[serde(default)]
    pub top_generation: u64,
}

impl ServerVolume {
    /// The disk of the VM's spec, once connected.
    pub fn spec(&self) -> Option<VolumeSpec> {
        Some(VolumeSpec {
            volume_id: self.volume_id.clone(),
            attachment_id: self.attachment_id.clone(),
            connection: self.connection.clone()?,
            serial: VolumeSpec::serial_for(&self.volume_id),
            read_only: self.read_only,
            boot_index: self.boot_index,
            limits: self.limits,
            size_gib: self.size_gib,
            top_generation: self.top_generation,
        })
    }
}

/// The next free device name after the root disk (`vda`) and `taken`;
/// `None` when all of `vdb`..`vdz` are taken.
pub fn next_device(taken: &[ServerVolume]) -> Option<String> {
    let used: Vec<&str> = taken.iter().map(|v| v.device.as_str()).collect();
    (b'b'..=b'z')
        .map(|c| format!("/dev/vd{}", c as char))
        .find(|d| !used.contains(&d.as_str()))
}
