//! What the checks know about a host, behind one trait.
//!
//! The checks never read `/proc` or run a program themselves: they ask a
//! [`HostFacts`]. That is what lets every check be tested against
//! [`FakeHostFacts`](super::FakeHostFacts) with no root and no QEMU, and
//! what will let deploy run the same checks on a remote host by
//! implementing the trait over SSH. Facts are raw observations plus the
//! text they came from (the evidence); judging them is the checks' job.

use serde::Serialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Which time service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeService {
    /// chronyd, asked with `chronyc`.
    Chrony,
    /// systemd-timesyncd, asked with `timedatectl`.
    Timesyncd,
}

/// The state of the clock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeSync {
    /// The service that answered; None when none did.
    pub service: Option<TimeService>,
    /// True when the service says the clock is synchronized.
    pub synchronized: bool,
    /// The selected source (chrony's `^*` line), if known.
    pub source: Option<String>,
    /// Local clock minus reference time, in seconds, if known.
    pub offset_seconds: Option<f64>,
    /// What the service printed (or why it could not be asked), shortened.
    pub evidence: String,
}

/// Memory, from `/proc/meminfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// MemTotal, bytes.
    pub total: u64,
    /// MemAvailable, bytes.
    pub available: u64,
}

/// Free space where a directory is (or would be created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskSpace {
    /// The existing directory measured (the path itself or its nearest
    /// existing ancestor).
    pub measured: PathBuf,
    /// Bytes available to unprivileged users... or to root when run as root.
    pub available: u64,
}

/// What is known about KVM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KvmFacts {
    /// `/dev/kvm` exists.
    pub device: bool,
    /// Whether a probe guest really ran under KVM.
    pub probe: KvmProbe,
}

/// The outcome of running a probe guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "reason", rename_all = "snake_case")]
pub enum KvmProbe {
    /// A guest ran under KVM.
    RanGuest,
    /// A guest was started with KVM and did not run (QEMU will use TCG).
    NoGuest,
    /// No probe was run, and why.
    NotRun(String),
}

/// Observations about one host.
pub trait HostFacts {
    /// The host's name.
    fn hostname(&self) -> String;
    /// Its IP addresses (loopback included).
    fn addresses(&self) -> Vec<IpAddr>;
    /// Clock synchronization.
    fn time_sync(&self) -> TimeSync;
    /// Resolves a host name the way the host's resolver does.
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String>;
    /// The text of `/etc/resolv.conf`.
    fn resolv_conf(&self) -> Result<String, String>;
    /// Memory, if `/proc/meminfo` could be read.
    fn memory(&self) -> Option<Memory>;
    /// Free space for `path`.
    fn disk_space(&self, path: &Path) -> Result<DiskSpace, String>;
    /// The CPU flags of `/proc/cpuinfo`.
    fn cpu_flags(&self) -> Vec<String>;
    /// KVM's state; may start a probe guest (a second or so).
    fn kvm(&self) -> KvmFacts;
    /// Where a program is on `PATH` (and the sbin directories).
    fn program(&self, name: &str) -> Option<PathBuf>;
    /// Network interfaces and bridges (`/sys/class/net`).
    fn interfaces(&self) -> Vec<String>;
    /// Ok when nothing listens on TCP `port` (a bind to it succeeds).
    fn port_free(&self, port: u16) -> Result<(), String>;
    /// The program (its `comm`) and pid listening on TCP `port`, when it
    /// can be told: a re-run of deploy finds ferrostack's own ports taken
    /// by ferrostack, which is fine.
    fn port_holder(&self, _port: u16) -> Option<(String, u32)> {
        None
    }
    /// The text of the kernel's build configuration, or why it cannot be
    /// read.
    fn kernel_config(&self) -> Result<String, String>;
    /// Whether kernel module `name` is loaded (`/sys/module/<name>`).
    fn module_loaded(&self, name: &str) -> bool;
    /// Whether this host can load modules (it has a module tree for the
    /// running kernel).
    fn modules_loadable(&self) -> bool;
    /// Whether `addr` answers a TCP connection to `port` within a couple
    /// of seconds: Ok when it accepts, or refuses (a refusal is an answer:
    /// the host is up); Err with what happened when it does not answer.
    fn answers(&self, addr: IpAddr, port: u16) -> Result<(), String>;
}
