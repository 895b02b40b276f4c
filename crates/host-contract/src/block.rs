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
//! - A [`DesiredExport`] (the block-device section) is a volume a storage
//!   host serves to others (a local-backend volume on another host's
//!   disk): that is a host-level object (an export of the host's one
//!   `qemu-storage-daemon`), so it is an object kind. The client host's
//!   disk names it with [`Connection::Export`].
//! - Exports are NBD over TLS with a pre-shared key ([`PskKey`], drawn by
//!   the controller, 256 random bits): the key travels only inside the
//!   desired documents, which agents read over the pinned-TLS host API.
//!   Its `Debug` is redacted so a logged spec never shows it, and the
//!   volume API strips it from `connection_info`. Rejected: X.509
//!   certificates per host (a CA to run, names to get right) and plain
//!   NBD restricted by address (anyone on the underlay could read or
//!   write a disk).

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
    /// An export on another host (NBD over TLS with a pre-shared key).
    Export {
        /// `host:port` of the exporting host's NBD server.
        address: String,
        /// The export's name (also the TLS-PSK identity).
        name: String,
        /// The export's pre-shared key.
        key: PskKey,
    },
}

impl Connection {
    /// This connection as users may see it (Cinder's `connection_info`):
    /// without an export's key.
    pub fn public_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("key");
        }
        v
    }
}

/// A TLS pre-shared key: 32 random bytes as 64 lowercase hex digits (the
/// form QEMU's `tls-creds-psk` reads from its `keys.psk` file). `Debug`
/// never shows it; [`PskKey::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PskKey(String);

impl PskKey {
    /// A new random key (the operating system's generator).
    pub fn random() -> PskKey {
        use rand::RngCore;
        let mut b = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut b);
        PskKey(hex::encode(b))
    }

    /// A key from its hex digits; `None` unless it is 64 hex digits (so a
    /// key can never break the `name:key` line it is written into).
    pub fn from_hex(hex: &str) -> Option<PskKey> {
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| PskKey(hex.to_ascii_lowercase()))
    }

    /// The hex digits, for the key file only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the key is well formed (64 hex digits).
    pub fn is_valid(&self) -> bool {
        PskKey::from_hex(&self.0).is_some()
    }
}

impl std::fmt::Debug for PskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PskKey(<redacted>)")
    }
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

/// A volume this host serves to another host: an NBD export named after
/// the volume id, writable, behind TLS with `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredExport {
    /// The volume (also the export's name and TLS-PSK identity).
    pub volume_id: String,
    /// The local file.
    pub path: String,
    /// `qcow2` or `raw`.
    pub format: String,
    /// The hosts allowed to connect.
    pub allowed_hosts: Vec<String>,
    /// The pre-shared key clients prove.
    pub key: PskKey,
    /// Bumped by every write of this object.
    pub generation: u64,
    /// Being deleted.
    #[serde(default)]
    pub deleted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_redacted_and_stripped() {
        let key = PskKey::random();
        assert!(key.is_valid());
        let c = Connection::Export {
            address: "10.0.0.1:10809".into(),
            name: "v1".into(),
            key: key.clone(),
        };
        assert!(!format!("{c:?}").contains(key.expose()));
        assert!(!c.public_json().to_string().contains(key.expose()));
        assert_eq!(c.public_json()["name"], "v1");
        let back: Connection = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c, "the document carries the key");
        assert!(PskKey::from_hex("zz").is_none());
        assert!(PskKey::from_hex(&"a".repeat(64)).is_some());
    }
}
