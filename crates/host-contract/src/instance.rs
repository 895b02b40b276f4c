//! Instances: what the control plane wants of one instance on one host
//! ([`DesiredInstance`]), what the agent reports of it
//! ([`ObservedInstance`]), and the spec both sides speak (an
//! [`InstanceSpec`] is what a hypervisor driver spawns).
//!
//! These types were the agent's and the hypervisor's; they live here so
//! the compute API can write desired state and read reports without
//! linking either. The semantics of each field (a generation is acted on
//! once, a reboot or snapshot is a request with an id) are the contract
//! described in the crate doc.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use uuid::Uuid;

/// The accelerator QEMU runs guests with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accelerator {
    /// Hardware virtualization; used only when a probe guest really ran.
    Kvm,
    /// Software emulation.
    Tcg,
}

impl Accelerator {
    /// The name QEMU's `-accel` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Accelerator::Kvm => "kvm",
            Accelerator::Tcg => "tcg",
        }
    }
}

/// What a host offers, as the hypervisor details API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// `"QEMU"` (Nova's `hypervisor_type`).
    pub hypervisor_type: String,
    /// The accelerator instances get.
    pub accelerator: Accelerator,
    /// Logical CPUs on the host.
    pub vcpus: u32,
    /// Host memory in MiB.
    pub memory_mib: u64,
    /// Space for instance disks in GiB.
    pub local_disk_gib: u64,
    /// The CPU architecture (`x86_64`).
    pub cpu_arch: String,
    /// When the host booted (µs since the epoch, by the host's clock:
    /// now less `/proc/uptime`), from which the controller tells the
    /// hypervisor's uptime. Absent from older agents and hosts that cannot
    /// tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booted_at: Option<i64>,
    /// The rest of what `uptime` prints (logged-in users, load
    /// averages), as of the agent's last report: read again at each
    /// heartbeat. Absent from older agents and fake hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<HostLoad>,
}

/// Logged-in users and load averages, as `uptime` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLoad {
    /// User sessions (`USER_PROCESS` records in utmp).
    pub users: u32,
    /// The 1, 5 and 15 minute load averages as `/proc/loadavg` writes
    /// them (`0.33 0.36 0.34`).
    pub load_average: String,
}

/// The on-disk format of a base image, as the image service verified it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaseFormat {
    /// A qcow2 image (without a backing file or data file of its own).
    Qcow2,
    /// A raw image.
    Raw,
}

impl BaseFormat {
    /// The name `qemu-img -F` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            BaseFormat::Qcow2 => "qcow2",
            BaseFormat::Raw => "raw",
        }
    }
}

/// The files of a config drive, in cloud-init's OpenStack layout
/// (`openstack/latest/...`). The documents are written as given: the
/// caller owns their shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigDrive {
    /// `openstack/latest/meta_data.json`.
    pub meta_data_json: String,
    /// `openstack/latest/user_data`, if any.
    pub user_data: Option<Vec<u8>>,
    /// `openstack/latest/network_data.json`, if any.
    pub network_data_json: Option<String>,
}

/// A NIC wired to a tap device the network agent created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NicSpec {
    /// The tap device name (at most 15 bytes).
    pub tap: String,
    /// The MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// The port this NIC plugs into (its object in the network section):
    /// the agent wires the port before the VM starts and unwires it only
    /// after the VM is gone. `None` for a tap managed outside ferrostack.
    #[serde(default)]
    pub port_id: Option<String>,
}

/// Everything needed to create an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSpec {
    /// The server id; also the QEMU `-uuid`.
    pub id: Uuid,
    /// The display name (QEMU `-name`).
    pub name: String,
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Root disk size in GiB; 0 keeps the base image's virtual size.
    pub root_disk_gib: u64,
    /// The image service's id of the image the base came from; empty when
    /// unknown. The agent uses it to fetch `base_image` before a spawn.
    #[serde(default)]
    pub image_id: String,
    /// The cached, verified base image the overlay is backed by.
    pub base_image: PathBuf,
    /// The base image's verified format (never probed).
    pub base_format: BaseFormat,
    /// The config drive, if the server has one.
    pub config_drive: Option<ConfigDrive>,
    /// NICs; empty means no network device at all. On an instance that
    /// exists, a change here is converged in place: NICs no longer named
    /// are unplugged, new ones plugged in (hotplug while the guest runs),
    /// never a respawn.
    pub nics: Vec<NicSpec>,
    /// Attached volumes, converged in place like `nics` (hot-plugged,
    /// unplugged, limits changed over QMP). One with `boot_index: Some(0)`
    /// is the root disk, and the instance then has no image overlay.
    #[serde(default)]
    pub volumes: Vec<crate::block::VolumeSpec>,
    /// I/O limits of the root disk (a flavor's `quota:disk_*` extra
    /// specs); changed in place on a running guest.
    #[serde(default)]
    pub root_limits: crate::block::IoLimits,
}

/// The observed power state of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerState {
    /// The guest runs.
    Running,
    /// vCPUs halted by `pause`.
    Paused,
    /// Suspended by `suspend`.
    Suspended,
    /// No VM process; the disk is kept.
    Shutoff,
    /// The guest panicked; the VM process is still there.
    Crashed,
}

/// The operations, for errors, deadlines and failure injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `Hypervisor::capabilities`.
    Capabilities,
    /// `Hypervisor::spawn`.
    Spawn,
    /// `Hypervisor::destroy`.
    Destroy,
    /// `Hypervisor::power_off`.
    PowerOff,
    /// `Hypervisor::power_on`.
    PowerOn,
    /// `Hypervisor::reboot`.
    Reboot,
    /// `Hypervisor::pause`.
    Pause,
    /// `Hypervisor::unpause`.
    Unpause,
    /// `Hypervisor::suspend`.
    Suspend,
    /// `Hypervisor::resume`.
    Resume,
    /// `Hypervisor::state`.
    State,
    /// `Hypervisor::list`.
    List,
    /// `Hypervisor::console_log`.
    ConsoleLog,
    /// `Hypervisor::resize`.
    Resize,
    /// `Hypervisor::confirm_resize`.
    ConfirmResize,
    /// `Hypervisor::revert_resize`.
    RevertResize,
    /// `Hypervisor::snapshot`.
    Snapshot,
    /// `Hypervisor::attach_nic`.
    AttachNic,
    /// `Hypervisor::detach_nic`.
    DetachNic,
    /// `Hypervisor::attach_volume`.
    AttachVolume,
    /// `Hypervisor::detach_volume`.
    DetachVolume,
    /// `Hypervisor::update_volume` (limits, size).
    UpdateVolume,
    /// `Hypervisor::set_root_limits`.
    SetRootLimits,
}

/// The power state the control plane wants an instance in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredPower {
    /// The guest runs (Nova ACTIVE).
    Running,
    /// No VM process; the disk is kept (Nova SHUTOFF).
    Stopped,
    /// vCPUs halted (Nova PAUSED).
    Paused,
    /// Suspended (Nova SUSPENDED).
    Suspended,
}

impl DesiredPower {
    /// Whether an observed power state satisfies this desire.
    pub fn satisfied_by(self, state: PowerState) -> bool {
        matches!(
            (self, state),
            (DesiredPower::Running, PowerState::Running)
                | (DesiredPower::Stopped, PowerState::Shutoff)
                | (DesiredPower::Paused, PowerState::Paused)
                | (DesiredPower::Suspended, PowerState::Suspended)
        )
    }
}

/// A request to reboot an instance, acted on once per `request_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebootRequest {
    /// Hard (reset) or soft (ACPI power off, start again).
    pub hard: bool,
    /// The request's id (e.g. the API request id); a new id is a new reboot.
    pub request_id: String,
}

/// A request to snapshot an instance's disk into an image, acted on once
/// per `request_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRequest {
    /// The request's id; a new id is a new snapshot.
    pub request_id: String,
    /// The image the snapshot becomes: written to
    /// `AgentConfig::snapshot_dir/<image_id>.qcow2`.
    pub image_id: String,
}

/// A request to rebuild an instance from its (new) spec, acted on once
/// per `request_id`: the VM and its disk are destroyed and spawned again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildRequest {
    /// The request's id; a new id is a new rebuild.
    pub request_id: String,
}

/// What the control plane wants of an instance's resize backup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeDesire {
    /// No backup wanted: one on the host is dropped (resize confirmed).
    #[default]
    None,
    /// The instance should have `spec`'s size: if it differs, power off,
    /// resize keeping a backup, then converge the power.
    Keep,
    /// Go back to the size before the resize: if a backup exists, power
    /// off, revert to it, then converge the power.
    Revert,
}

/// The size an instance has on its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSize {
    /// Virtual CPUs.
    pub vcpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Root disk in GiB (0: the image's size).
    pub root_disk_gib: u64,
}

/// What the control plane wants of one instance on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DesiredInstance {
    /// What to spawn if the instance is not on the host.
    pub spec: InstanceSpec,
    /// The power state to converge to.
    pub power: DesiredPower,
    /// A reboot to perform, if its id was not performed yet.
    pub reboot: Option<RebootRequest>,
    /// A snapshot to take, if its id was not performed yet.
    #[serde(default)]
    pub snapshot: Option<SnapshotRequest>,
    /// What to do about a resize (see [`ResizeDesire`]).
    #[serde(default)]
    pub resize: ResizeDesire,
    /// A rebuild to perform (destroy, then spawn `spec` afresh, keeping the
    /// id), if its id was not performed yet.
    #[serde(default)]
    pub rebuild: Option<RebuildRequest>,
    /// The instance is being deleted: destroy it.
    pub deleted: bool,
    /// Bumped by every write; an older generation never overrides a newer one.
    pub generation: u64,
}

/// Where an instance's convergence stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "task")]
pub enum TaskOutcome {
    /// The host matched `observed_generation` when the agent last acted, or
    /// the instance is an orphan the agent leaves alone.
    Idle,
    /// An operation is running.
    Working {
        /// Which.
        operation: Operation,
    },
    /// The last operation failed; it is tried again after a backoff.
    Retrying {
        /// The failed operation.
        operation: Operation,
        /// How many times it has failed for this generation.
        attempt: u32,
    },
    /// The agent gave up on `observed_generation` (Nova ERROR); a new
    /// generation is needed to try again.
    Failed {
        /// The operation that failed last.
        operation: Operation,
    },
    /// The instance was deleted and nothing of it is left on the host.
    Deleted,
}

/// Why the last operation on an instance failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The error chain, safe to show to the instance's owner.
    pub message: String,
    /// The operation that failed.
    pub operation: Operation,
}

/// What the agent sees of one instance on its host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedInstance {
    /// The server id.
    pub id: Uuid,
    /// The power state on the host; `None` when the instance is not there.
    pub power_state: Option<PowerState>,
    /// Where convergence stands.
    pub task: TaskOutcome,
    /// The last failure, until the instance converges again.
    pub fault: Option<Fault>,
    /// The desired generation the agent has finished acting on (converged
    /// or given up); 0 before the first.
    pub observed_generation: u64,
    /// The VM process while there is one.
    pub pid: Option<u32>,
    /// The id of the last reboot request performed.
    pub last_reboot: Option<String>,
    /// On the host but not assigned to it.
    pub orphan: bool,
    /// The id of the last snapshot request performed (successfully or not).
    #[serde(default)]
    pub last_snapshot: Option<String>,
    /// Why the last snapshot failed; `None` when it succeeded.
    #[serde(default)]
    pub snapshot_error: Option<String>,
    /// The id of the last rebuild request started (its spawn may still be
    /// running or retrying; the generation says when it is done).
    #[serde(default)]
    pub last_rebuild: Option<String>,
    /// A resize backup exists on the host (revert is possible).
    #[serde(default)]
    pub resize_backup: bool,
    /// The size the instance has on the host; `None` when not there.
    #[serde(default)]
    pub size: Option<InstanceSize>,
    /// The NICs the instance has on the host (hot-plugged ones included,
    /// detached ones gone); empty when not there.
    #[serde(default)]
    pub nics: Vec<NicSpec>,
    /// The volumes the instance has on the host (hot-plugged ones
    /// included, detached ones gone), with the limits in force; empty when
    /// not there.
    #[serde(default)]
    pub volumes: Vec<crate::block::VolumeSpec>,
}
