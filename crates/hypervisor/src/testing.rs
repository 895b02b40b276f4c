//! Helpers for the privileged tests that drive real QEMU guests (this
//! crate's and the agent's): whether the test can run at all, where the
//! test guest is, and a guard that ends the test's VM if the test fails
//! half way. Behind the `test-support` feature: never in a build a user
//! runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use uuid::Uuid;

/// Whether this process runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|u| u.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false)
}

/// Whether `program` is on `PATH`.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `FERROSTACK_GUEST_IMAGE`, else `target/guest-image/ferrostack-guest.qcow2`
/// if `guest-image/build.sh` made it.
pub fn guest_image() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FERROSTACK_GUEST_IMAGE") {
        return Some(PathBuf::from(p));
    }
    let image = workspace_root().join("target/guest-image/ferrostack-guest.qcow2");
    image
        .exists()
        .then(|| std::path::absolute(&image).ok())
        .flatten()
}

/// Kills the test's VM when dropped (a test that fails half way), only if
/// the pidfile's process carries the instance id in its command line: a
/// process the test started.
pub struct VmCleanup {
    /// The instance's pidfile.
    pub pidfile: PathBuf,
    /// The instance id.
    pub id: Uuid,
}

impl Drop for VmCleanup {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(&self.pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            if crate::qemu::is_our_vm(pid, self.id) {
                eprintln!("cleanup: killing VM pid {pid}");
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}
