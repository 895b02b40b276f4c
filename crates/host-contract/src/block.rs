//! The block-device section of a host's desired document (drafted).
//!
//! Nothing writes this section yet; its shape is fixed here so the volume
//! API (Cinder v3) and the agent's block-device driver are built against
//! one contract:
//!
//! - a [`DesiredAttachment`] is a volume attached to an instance on this
//!   host: hot-plugged as a virtio disk into a running VM, or (with a
//!   `boot_index`) present before a boot-from-volume guest starts, with
//!   its I/O limits from the volume type's QoS specs;
//! - a [`DesiredExport`] is a volume a storage host serves to others (a
//!   local-backend volume on another host's disk).
//!
//! Order (stated once in the agent's engine): an attachment with a
//! `boot_index` is ready before its instance spawns; detaching waits for
//! the guest to release the disk, or for the VM to be gone.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Everything of block storage a host should have.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BlockDeviceSection {
    /// Volumes attached to instances on this host.
    #[serde(default)]
    pub attachments: Vec<DesiredAttachment>,
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

/// I/O limits from a volume type's QoS specs (0 means no limit).
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

/// One volume attached to one instance on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredAttachment {
    /// The attachment id (Cinder's attachment id).
    pub id: String,
    /// The volume.
    pub volume_id: String,
    /// The instance it is attached to.
    pub instance_id: Uuid,
    /// Where its data is.
    pub connection: Connection,
    /// The disk serial the guest sees (the volume id, as Nova sets it).
    pub serial: String,
    /// Read-only attachment.
    pub read_only: bool,
    /// `Some(0)` for the root disk of a boot-from-volume instance.
    pub boot_index: Option<u32>,
    /// I/O limits.
    #[serde(default)]
    pub limits: IoLimits,
    /// Bumped by every write of this object.
    pub generation: u64,
    /// Being detached.
    #[serde(default)]
    pub deleted: bool,
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
