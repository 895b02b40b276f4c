//! Switching a running guest's volume disk onto a new top file: the VM's
//! half of a live snapshot.
//!
//! The storage backend freezes an attached volume by giving the file QEMU
//! writes a second name (the frozen layer, `layers/S`) and renaming a new,
//! empty top backed by it over the volume's path. QEMU still has the old
//! inode open and keeps writing into the "frozen" layer until it is told
//! to move on, which is this module:
//!
//! ```text
//!   throttle KEY -> KEY-f (old inode)      blockdev-add KEY_1: qcow2 on the
//!                   `-> KEY-p              path (the new inode), backing null
//!                                          blockdev-snapshot node=KEY-f
//!   throttle KEY -> KEY_1 (new inode)  <-  overlay=KEY_1
//!                   `-> KEY-f (old inode, now only read)
//! ```
//!
//! `blockdev-snapshot` puts the overlay in the place of the old node in
//! every parent (the throttle filter under the device) with the old node
//! as its backing, so no guest I/O is lost and the device never changes.
//!
//! # Repeats, restarts and VMs started after the freeze
//!
//! Whether a switch is needed is read from the host, not from a recorded
//! generation: the switch is needed exactly when QEMU does not have the
//! inode now at the volume's path open (`/proc/<pid>/fd`). A VM started
//! after the freeze opened the new file already, a repeat after a crash
//! between the switch and the stored spec finds it open, and neither is
//! ever snapshotted onto itself. Rejected: comparing the backing name in
//! the file's header with the one QEMU reports for its top node, because
//! QEMU rewrites a node's reported backing name when a backing is attached
//! to it, and the answer would then depend on QEMU's version.
//!
//! Overlay nodes are named `KEY_<n>` (`n` in base 36, 1 to 2 digits, so the
//! name stays within QEMU's 31 bytes); the highest `n` QEMU has is the
//! disk's current top. An overlay added by a switch cut short before its
//! `blockdev-snapshot` has no backing: it is removed before anything else
//! (it also holds the new inode open, which would fool the check above).
//! The counter restarts with the QEMU process (a cold start opens the whole
//! chain from the files), so a guest takes 1295 live snapshots between two
//! starts.

use super::volumes::{node_size, DiskIds};
use super::*;
use crate::qmp::QmpError;
use serde_json::json;

/// The most overlays one QEMU process can stack on a disk (2 base-36
/// digits after `KEY_`).
const MAX_OVERLAYS: u64 = 36 * 36 - 1;

/// The overlay node `n` of a disk.
pub(super) fn overlay_name(ids: &DiskIds, n: u64) -> String {
    let mut digits = Vec::new();
    let mut x = n;
    loop {
        digits.push(char::from_digit((x % 36) as u32, 36).unwrap_or('0'));
        x /= 36;
        if x == 0 {
            break;
        }
    }
    digits.reverse();
    format!("{}_{}", ids.top, digits.into_iter().collect::<String>())
}

/// The number of overlay node `name` of this disk, if it is one.
pub(super) fn overlay_number(ids: &DiskIds, name: &str) -> Option<u64> {
    let rest = name.strip_prefix(&ids.top)?.strip_prefix('_')?;
    if rest.is_empty() || rest.len() > 2 {
        return None;
    }
    u64::from_str_radix(rest, 36).ok()
}

/// The overlays QEMU has of a disk: `(n, has a backing)`, by `n`.
async fn overlays(c: &mut QmpClient, ids: &DiskIds) -> Result<Vec<(u64, bool)>, QmpError> {
    // Not `flat`: only the full answer counts `backing_file_depth`.
    let v = c
        .execute("query-named-block-nodes", Some(json!({ "flat": false })))
        .await?;
    let mut found: Vec<(u64, bool)> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            let k = overlay_number(ids, n["node-name"].as_str()?)?;
            let backed = n["backing_file_depth"].as_u64().unwrap_or(0) > 0;
            Some((k, backed))
        })
        .collect();
    found.sort_unstable();
    Ok(found)
}

/// The overlay nodes of a disk, newest first (for removing a chain).
pub(super) async fn overlay_names(
    c: &mut QmpClient,
    ids: &DiskIds,
) -> Result<Vec<String>, QmpError> {
    Ok(overlays(c, ids)
        .await?
        .into_iter()
        .rev()
        .map(|(n, _)| overlay_name(ids, n))
        .collect())
}

/// Whether process `pid` has the file now at `path` open (the same
/// inode, whatever name it was opened by).
fn holds_file(pid: u32, path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let want = std::fs::metadata(path)?;
    for e in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        // A descriptor closed while we look is simply not a match.
        if let Ok(m) = std::fs::metadata(e?.path()) {
            if m.dev() == want.dev() && m.ino() == want.ino() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Moves the disk `ids` of the VM `pid` onto the file now at `path` (a
/// qcow2 file whose backing is the file QEMU writes), unless QEMU has
/// that file open already. Returns whether it switched.
pub(super) async fn switch_top(
    id: Uuid,
    pid: u32,
    c: &mut QmpClient,
    ids: &DiskIds,
    path: &Path,
) -> Result<bool> {
    let qmp = |source| HypervisorError::Qmp { id, source };
    let mut have = overlays(c, ids).await.map_err(qmp)?;
    // A switch cut short between its two steps: the overlay is in no
    // chain (no backing), nothing writes it; it goes.
    for (n, _) in have.iter().filter(|(_, backed)| !backed) {
        let name = overlay_name(ids, *n);
        tracing::warn!(%id, node = %name, "removing the overlay of an interrupted disk switch");
        c.execute("blockdev-del", Some(json!({ "node-name": name })))
            .await
            .map_err(qmp)?;
    }
    have.retain(|(_, backed)| *backed);
    let holds = holds_file(pid, path).map_err(|e| {
        HypervisorError::InvalidSpec(format!(
            "instance {id}: cannot tell which file of {} QEMU has open: {e}",
            path.display()
        ))
    })?;
    if holds {
        return Ok(false);
    }
    let last = have.last().map(|(n, _)| *n);
    let next = last.map_or(1, |n| n + 1);
    if next > MAX_OVERLAYS {
        return Err(HypervisorError::InvalidSpec(format!(
            "instance {id}: disk {} has {MAX_OVERLAYS} live snapshots since the guest started; \
             stop and start the server before taking another",
            ids.device
        )));
    }
    let current = last.map_or_else(|| ids.format.clone(), |n| overlay_name(ids, n));
    let overlay = overlay_name(ids, next);
    c.execute(
        "blockdev-add",
        Some(json!({
            "driver": "qcow2",
            "node-name": overlay,
            "file": { "driver": "file", "filename": path.to_string_lossy() },
            "backing": null,
        })),
    )
    .await
    .map_err(qmp)?;
    let r = async {
        // The new top has the size the volume had at its freeze; a grow
        // that reached the guest since (an extend racing the snapshot)
        // must not shrink the disk under it.
        let size = node_size(c, &ids.top).await?;
        let new = node_size(c, &overlay).await?;
        if let (Some(size), Some(new)) = (size, new) {
            if new < size {
                c.execute(
                    "block_resize",
                    Some(json!({ "node-name": overlay, "size": size })),
                )
                .await?;
            }
        }
        c.execute(
            "blockdev-snapshot",
            Some(json!({ "node": current, "overlay": overlay })),
        )
        .await
    }
    .await;
    if let Err(e) = r {
        if let Err(undo) = c
            .execute("blockdev-del", Some(json!({ "node-name": overlay })))
            .await
        {
            tracing::warn!(%id, error = %undo, "cannot remove the overlay of a failed disk switch");
        }
        return Err(qmp(e));
    }
    tracing::info!(%id, device = %ids.device, node = %overlay, "volume disk switched onto its new top");
    Ok(true)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn overlay_names_fit_and_round_trip() {
        let ids = DiskIds::volume("6c1f8a1e-6c1e-4b4e-9f0a-3b1d2c3d4e5f");
        for n in [1, 15, 35, 36, MAX_OVERLAYS] {
            let name = overlay_name(&ids, n);
            assert!(name.len() <= 31, "{name}");
            assert_eq!(overlay_number(&ids, &name), Some(n));
        }
        assert_eq!(overlay_number(&ids, &ids.format), None);
        assert_eq!(overlay_number(&ids, &ids.top), None);
        assert_eq!(overlay_number(&ids, &format!("{}_", ids.top)), None);
    }
}
