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

/// The guest image for a real-QEMU test, or `None` after saying loudly
/// why the test cannot run here (not root, a program in `programs` or
/// QEMU's own missing, no image).
pub fn guest_test_preflight(programs: &[&str]) -> Option<PathBuf> {
    if !is_root() {
        eprintln!("SKIP: not root (QEMU test guest needs the privileged tier)");
        return None;
    }
    let base = ["qemu-system-x86_64", "qemu-img", "mkfs.vfat", "mcopy"];
    for p in base.iter().chain(programs) {
        if !have(p) {
            eprintln!("SKIP: {p} not installed");
            return None;
        }
    }
    let image = guest_image();
    if image.is_none() {
        eprintln!("SKIP: no guest image: run guest-image/build.sh or set FERROSTACK_GUEST_IMAGE");
    }
    image
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

/// Tap devices a test made (`ip tuntap add ... mode tap`), deleted when
/// dropped: a NIC to hotplug needs a tap, and a guest needs no network
/// behind it to see the device.
pub struct TestTaps(Vec<String>);

impl TestTaps {
    /// Creates taps `names`; the error says why (not root, no `ip`, a name
    /// in use).
    pub fn create(names: &[String]) -> Result<TestTaps, String> {
        let mut taps = TestTaps(Vec::new());
        for name in names {
            let out = Command::new("ip")
                .args(["tuntap", "add", "dev", name, "mode", "tap"])
                .output()
                .map_err(|e| format!("cannot run ip: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "ip tuntap add dev {name} mode tap: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            taps.0.push(name.clone());
        }
        Ok(taps)
    }
}

impl Drop for TestTaps {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("ip")
                .args(["tuntap", "del", "dev", name, "mode", "tap"])
                .status();
        }
    }
}

/// A user_data script for the test guest that prints `hotplug-test: net
/// [ NAME=MAC ... ]` (from `/sys/class/net`) on the serial console at
/// boot and whenever the list changes, in the background.
pub const WATCH_NET_USER_DATA: &str = r#"#!/bin/sh
(
  last=""
  while :; do
    now=""
    for i in /sys/class/net/*; do now="$now ${i##*/}=$(cat $i/address)"; done
    if [ "$now" != "$last" ]; then echo "hotplug-test: net [$now ]"; last=$now; fi
    sleep 0.2
  done
) &
"#;

/// The last `hotplug-test: net [...]` line of a console log printed
/// during its `boot`-th boot (from 1), if any.
pub fn last_net_listing(console: &str, boot: usize) -> Option<String> {
    console
        .split("ferrostack-guest: booted")
        .nth(boot)?
        .lines()
        .rev()
        .find(|l| l.contains("hotplug-test: net ["))
        .map(str::to_owned)
}

/// Waits (up to 120 s) until the last interface listing of the guest's
/// `boot`-th boot satisfies `pred`, and returns it; panics with the
/// console otherwise. The guest runs [`WATCH_NET_USER_DATA`].
pub async fn wait_for_net(
    hv: &dyn crate::Hypervisor,
    id: Uuid,
    what: &str,
    boot: usize,
    pred: impl Fn(&str) -> bool,
) -> String {
    let start = std::time::Instant::now();
    let limit = std::time::Duration::from_secs(120);
    loop {
        let log = hv.console_log(id, 1 << 20).await.expect("console_log");
        if let Some(l) = last_net_listing(&log, boot).filter(|l| pred(l)) {
            return l;
        }
        if start.elapsed() > limit {
            panic!("the guest never showed {what} within {limit:?}; console:\n{log}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A user_data script for the test guest that prints `volume-test: disks
/// [ NAME=SERIAL:SECTORS ... ]` (virtio disks, from `/sys/block/vd*`) on
/// the serial console at boot and whenever the list changes, in the
/// background. When a disk with serial `mark` appears it writes
/// `ferrostack-volume-marker <serial>` at its offset 0, syncs and prints
/// `volume-test: wrote NAME`; when one with serial `timed` appears it
/// writes 100 blocks of 4 KiB with `oflag=direct` and prints
/// `volume-test: dd NAME <uptime before> <uptime after>`. Empty serials
/// match no disk.
pub fn watch_disks_user_data(mark: &str, timed: &str) -> String {
    format!(
        r#"#!/bin/sh
MARK="{mark}"
TIMED="{timed}"
(
  last=""; wrote=""; done_dd=""
  while :; do
    now=""
    for d in /sys/block/vd*; do
      [ -e "$d/size" ] || continue
      n=${{d##*/}}; s=$(cat $d/serial 2>/dev/null)
      now="$now $n=$s:$(cat $d/size)"
      if [ -n "$MARK" ] && [ "$s" = "$MARK" ] && [ -z "$wrote" ]; then
        printf 'ferrostack-volume-marker %s\n' "$s" | dd of=/dev/$n bs=512 count=1 conv=sync,fsync 2>/dev/null
        sync
        echo "volume-test: wrote $n"
        wrote=1
      fi
      if [ -n "$TIMED" ] && [ "$s" = "$TIMED" ] && [ -z "$done_dd" ]; then
        t0=$(cut -d ' ' -f 1 /proc/uptime)
        dd if=/dev/zero of=/dev/$n bs=4k count=100 oflag=direct 2>/dev/null
        t1=$(cut -d ' ' -f 1 /proc/uptime)
        echo "volume-test: dd $n $t0 $t1"
        done_dd=1
      fi
    done
    if [ "$now" != "$last" ]; then echo "volume-test: disks [$now ]"; last=$now; fi
    sleep 0.2
  done
) &
"#
    )
}

/// Waits (up to 120 s) until a line of the console log contains `needle`
/// and satisfies `pred`, and returns the last such line; panics with the
/// console otherwise.
pub async fn wait_for_line(
    hv: &dyn crate::Hypervisor,
    id: Uuid,
    what: &str,
    needle: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let start = std::time::Instant::now();
    let limit = std::time::Duration::from_secs(120);
    loop {
        let log = hv.console_log(id, 1 << 20).await.expect("console_log");
        let last = log.lines().rev().find(|l| l.contains(needle));
        if let Some(l) = last.filter(|l| pred(l)) {
            return l.to_owned();
        }
        if start.elapsed() > limit {
            panic!("the guest never showed {what} within {limit:?}; console:\n{log}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
