//! Export disks: a volume another host serves (`Connection::Export`) as
//! QEMU opens it.
//!
//! The protocol node is `nbd` (the storage host's `qemu-storage-daemon`
//! serves the qcow2 as its guest-visible data, so the format node above it
//! is `raw`), with TLS from a `tls-creds-psk` client object. QEMU reads the
//! pre-shared key from a file (`<instance dir>/psk/KEY/keys.psk`, mode
//! 0600, written before QEMU starts or the hotplug adds the object), so the
//! key is never on QEMU's command line, in `ps` or in a logged argv.
//! `reconnect-delay` holds the guest's I/O while a storage daemon that died
//! is started again (its agent's next resync), instead of failing it.

use super::volumes::DiskIds;
use crate::{HypervisorError, Result};
use ferrostack_host_contract::block::PskKey;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// How long (seconds) an export disk waits for its server to come back
/// before failing I/O.
const NBD_RECONNECT_DELAY_S: u64 = 30;

/// A `keys.psk` file for a client's `tls-creds-psk` (one `name:key` line).
#[derive(Clone)]
pub(crate) struct PskFile {
    pub dir: PathBuf,
    line: String,
}

impl std::fmt::Debug for PskFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PskFile")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl PskFile {
    /// Writes the file (directory 0700, file 0600, written under a
    /// temporary name and renamed, so QEMU never reads half a key).
    pub(crate) fn write(&self) -> Result<()> {
        write_private_file(&self.dir, "keys.psk", &self.line)
    }
}

/// Writes `dir/name` readable by its owner only (the directory too),
/// replacing it atomically.
pub(crate) fn write_private_file(dir: &Path, name: &str, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let e = |p: &Path| {
        let p = p.to_path_buf();
        move |source| HypervisorError::Io { path: p, source }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(e(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(e(dir))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(e(&tmp))?;
    f.write_all(contents.as_bytes()).map_err(e(&tmp))?;
    f.sync_all().map_err(e(&tmp))?;
    let dest = dir.join(name);
    std::fs::rename(&tmp, &dest).map_err(e(&dest))
}

/// `host:port` as QEMU's `InetSocketAddress` (an IPv6 host unbracketed).
fn inet(address: &str) -> Option<Value> {
    let (host, port) = address.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    Some(json!({ "type": "inet", "host": host.trim_matches(['[', ']']), "port": port }))
}

/// The protocol node of volume `volume_id`'s export disk, its TLS object
/// and the key file that object reads (under `psk_root`).
pub(super) fn export_disk(
    volume_id: &str,
    ids: &DiskIds,
    psk_root: &Path,
    address: &str,
    name: &str,
    key: &PskKey,
) -> Result<(Value, Value, PskFile)> {
    let (Some(server), true) = (inet(address), key.is_valid()) else {
        return Err(HypervisorError::InvalidSpec(format!(
            "volume {volume_id}: an export needs host:port and a 64-hex-digit key"
        )));
    };
    let psk = PskFile {
        dir: psk_root.join(&ids.top),
        line: format!("{name}:{}\n", key.expose()),
    };
    let object = json!({
        "qom-type": "tls-creds-psk", "id": ids.tls, "endpoint": "client",
        "dir": psk.dir.to_string_lossy(), "username": name,
    });
    let protocol = json!({
        "driver": "nbd", "server": server, "export": name, "tls-creds": ids.tls,
        "reconnect-delay": NBD_RECONNECT_DELAY_S,
    });
    Ok((protocol, object, psk))
}
