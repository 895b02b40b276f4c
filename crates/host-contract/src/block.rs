//! Block storage in a host's desired document.
//!
//! - A [`VolumeSpec`] is a volume attached to an instance: a disk of the
//!   instance's spec, next to its NICs, because attaching is something done
//!   to the VM (QEMU opens the file, the RBD image or the NBD export
//!   itself; nothing on the host is set up first). It is hot-plugged as a
//!   virtio-blk disk into a running VM, or present before a
//!   boot-from-volume guest starts, with its I/O limits from the volume
//!   type's QoS specs. Rejected: an attachment object of its own kind,
//!   ordered before the VM, which would have needed a second source of
//!   truth for which disks a VM has.
//! - A [`DesiredExport`] (the block-device section, drafted; nothing writes
//!   it yet) is a volume a storage host serves to others (a local-backend
//!   volume on another host's disk): that is a host-level object (an NBD
//!   server), so it is an object kind.

use serde::{Deserialize, Serialize};

/// Everything of block storage a host should have.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BlockDeviceSection {
    /// Volumes this host serves to others.
    #[serde(default)]
    pub exports: Vec<DesiredExport>,
}

/// How a host reaches a volume's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "driver", rename_all = "snake_case")]
pub enum Connection {
    /// A file on this host (the local backend).
    File {
        /// The file.
        path: String,
        /// `qcow2` or `raw`.
        format: String,
    },
    /// An RBD image (the Ceph backend).
    Rbd {
        /// The pool.
        pool: String,
        /// The image name.
        image: String,
        /// Monitor addresses.
        monitors: Vec<String>,
        /// The cephx user.
        user: String,
    },
    /// An export on another host (NBD over TLS).
    Export {
        /// `host:port` of the exporting host.
        address: String,
        /// The export's name.
        name: String,
    },
}

/// I/O limits (QEMU throttle-group values; 0 means no limit): from a volume
/// type's QoS specs, or a flavor's `quota:disk_*` extra specs for the root
/// disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IoLimits {
    /// Total IOPS.
    pub total_iops_sec: u64,
    /// Read IOPS.
    pub read_iops_sec: u64,
    /// Write IOPS.
    pub write_iops_sec: u64,
    /// Total bytes per second.
    pub total_bytes_sec: u64,
    /// Read bytes per second.
    pub read_bytes_sec: u64,
    /// Write bytes per second.
    pub write_bytes_sec: u64,
}

/// One volume attached to one instance: a disk of the instance's spec
/// ([`crate::InstanceSpec::volumes`]), converged like its NICs (plugged
/// into a running VM over QMP, unplugged when no longer named, present at
/// spawn when listed before it), never a respawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSpec {
    /// The volume.
    pub volume_id: String,
    /// The attachment (Cinder's attachment id).
    pub attachment_id: String,
    /// Where its data is.
    pub connection: Connection,
    /// The disk serial the guest sees: the first 20 characters of the
    /// volume id, as Nova sets it (`/dev/disk/by-id/virtio-<serial>`).
    pub serial: String,
    /// Attached read-only.
    #[serde(default)]
    pub read_only: bool,
    /// `Some(0)` for the root disk of a boot-from-volume instance (then
    /// the instance has no image overlay); `None` for a data disk.
    #[serde(default)]
    pub boot_index: Option<u32>,
    /// I/O limits from the volume type's QoS specs; a change on a running
    /// guest is applied in place (the disk's throttle group).
    #[serde(default)]
    pub limits: IoLimits,
    /// The volume's size in GiB: a larger one on a running guest is a
    /// QMP `block_resize` (extending an attached volume); 0 when unknown.
    #[serde(default)]
    pub size_gib: u64,
    /// Bumped by compute once the storage backend has frozen the volume's
    /// top under a live snapshot (the file QEMU writes is then only the
    /// frozen layer's name, and the volume's path a new top on it): a
    /// higher one on a running guest switches the disk onto the new top
    /// (QMP `blockdev-snapshot`). What the host reports is the generation
    /// applied; 0 is the file as opened.
    #[serde(default)]
    pub top_generation: u64,
}

impl VolumeSpec {
    /// The serial Nova gives a volume's disk: the volume id cut to the 20
    /// characters a virtio-blk serial holds.
    pub fn serial_for(volume_id: &str) -> String {
        volume_id.chars().take(20).collect()
    }
}

/// A volume this host serves to another host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredExport {
    /// The volume.
    pub volume_id: String,
    /// The local file.
    pub path: String,
    /// `qcow2` or `raw`.
    pub format: String,
    /// The hosts allowed to connect.
    pub allowed_hosts: Vec<String>,
    /// Bumped by every write of this object.
    pub generation: u64,
    /// Being deleted.
    #[serde(default)]
    pub deleted: bool,
}
