//! The QEMU driver: one daemonized `qemu-system-x86_64` per instance.
//!
//! Everything about an instance lives in `STATE_DIR/<uuid>/`:
//!
//! | File | What |
//! |---|---|
//! | `spec.json` | the [`InstanceSpec`] it was spawned from, with the size of the last resize and the NICs and volumes plugged, unplugged or changed since (`hotplug.rs`, `volumes.rs`; mode 0600: it holds user data) |
//! | `disk.qcow2` | a qcow2 overlay backed by the base image (`-b BASE -F FMT`), never a copy; absent when the instance boots from a volume (the volume's file is the volume service's, never in here) |
//! | `config.vfat` | the config drive: vfat labelled `config-2`, `openstack/latest/...` |
//! | `qemu.pid` | QEMU's `-pidfile` |
//! | `qmp.sock` | the QMP socket (`server=on,wait=off`) |
//! | `console.log` | the serial console (a file chardev with `append=on`, so it survives restarts) |
//! | `qemu.stderr` | what QEMU printed while starting |
//! | `suspended` | marker: the VM is stopped by `suspend`, not `pause` |
//! | `spec.resize-backup.json`, `disk.resize-backup.qcow2` | the spec and overlay before the last resize, until it is confirmed or reverted (see `disk.rs`) |
//!
//! The driver keeps no state of its own beyond per-instance locks and the
//! cached KVM probe: every call reads the truth from the pidfile,
//! `/proc/<pid>/cmdline` and QMP. That is what makes re-adoption free: a
//! new [`QemuHypervisor`] over the same directory (the agent restarted)
//! sees running VMs as they are, and a VM whose process died behind its
//! back as `Shutoff`. QEMU runs with `-daemonize`, so it is reparented
//! away from the agent into its own session and survives the agent.
//!
//! A pid is only ever signalled after `/proc/<pid>/cmdline` shows it is
//! QEMU with this instance's `-uuid`: a stale pidfile whose pid was reused
//! by another process is never acted on. Hard stops ask QMP `quit` first
//! and fall back to `kill -KILL` (the workspace forbids `unsafe`, so no
//! `libc::kill`).
//!
//! KVM is used only when a probe VM really runs under it: a pc machine
//! with no disk is started with `-accel kvm -cpu host` (the CPU model real
//! instances get), and the probe passes only if QMP reports it `running`
//! with KVM enabled *and* SeaBIOS, printing to the debug console (port
//! 0x402), reaches `No bootable device` within the limit (3 s by default).
//! That takes well under a second on working KVM and 0.15-0.3 s even
//! under TCG. On hosts where `/dev/kvm` opens but guests hang or crawl
//! (nested virtualization on some CI machines) the probe fails: on the
//! development machine `-cpu host` aborts on an MSR QEMU cannot set, and
//! with the default CPU SeaBIOS needs 7.7 s to get there. The driver then
//! uses TCG. The result is cached for the driver's life and shown in
//! [`Hypervisor::capabilities`].

use crate::qmp::{QmpClient, RunState};
use crate::{
    transition_allowed, Accelerator, Capabilities, ConfigDrive, Deadlines, HvFuture, Hypervisor,
    HypervisorError, InstanceInfo, InstanceSpec, Operation, PowerOffOutcome, PowerState, Result,
    SnapshotInfo,
};
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::process::Command;
use tokio::sync::OnceCell;
use uuid::Uuid;

mod disk;
mod hotplug;
mod hv;
mod nbd;
mod prepare;
mod probe;
mod switch;
#[cfg(test)]
mod tests;
mod volumes;
pub(crate) use nbd::write_private_file;

pub use volumes::{group_limits, volume_group, ROOT_GROUP};

use probe::{booted_at, probe_kvm};

/// The longest unix socket path (`sun_path` is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Where the driver keeps instances and which programs it runs.
#[derive(Debug, Clone)]
pub struct QemuConfig {
    /// One subdirectory per instance lives here.
    pub state_dir: PathBuf,
    /// `qemu-system-x86_64`.
    pub qemu: PathBuf,
    /// `qemu-img`.
    pub qemu_img: PathBuf,
    /// `mkfs.vfat` (dosfstools).
    pub mkfs_vfat: PathBuf,
    /// `mcopy` (mtools).
    pub mcopy: PathBuf,
    /// The machine type.
    pub machine: String,
    /// Forces an accelerator; `None` probes KVM and falls back to TCG.
    pub accelerator: Option<Accelerator>,
    /// How long the KVM probe may take.
    pub kvm_probe_timeout: Duration,
    /// Per-operation deadlines.
    pub deadlines: Deadlines,
}

impl QemuConfig {
    /// The defaults for a state directory: programs from `PATH`, machine
    /// `pc`, KVM probed with a 3 s limit.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        QemuConfig {
            state_dir: state_dir.into(),
            qemu: "qemu-system-x86_64".into(),
            qemu_img: "qemu-img".into(),
            mkfs_vfat: "mkfs.vfat".into(),
            mcopy: "mcopy".into(),
            machine: "pc".into(),
            accelerator: None,
            kvm_probe_timeout: Duration::from_secs(3),
            deadlines: Deadlines::default(),
        }
    }
}

/// The QEMU [`Hypervisor`].
#[derive(Debug)]
pub struct QemuHypervisor {
    config: QemuConfig,
    accel: OnceCell<Accelerator>,
    locks: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

/// An instance's files.
#[derive(Debug, Clone)]
struct Paths {
    dir: PathBuf,
    spec: PathBuf,
    disk: PathBuf,
    config_drive: PathBuf,
    pid: PathBuf,
    qmp: PathBuf,
    console: PathBuf,
    stderr: PathBuf,
    suspended: PathBuf,
    /// Key files of export disks (`volumes.rs`).
    psk: PathBuf,
    /// The spec before the last resize (the backup's marker: it is written
    /// last and removed first).
    spec_backup: PathBuf,
    /// The overlay before the last resize.
    disk_backup: PathBuf,
}

impl Paths {
    fn new(state_dir: &Path, id: Uuid) -> Paths {
        let dir = state_dir.join(id.to_string());
        Paths {
            spec: dir.join("spec.json"),
            disk: dir.join("disk.qcow2"),
            config_drive: dir.join("config.vfat"),
            pid: dir.join("qemu.pid"),
            qmp: dir.join("qmp.sock"),
            console: dir.join("console.log"),
            stderr: dir.join("qemu.stderr"),
            suspended: dir.join("suspended"),
            psk: dir.join("psk"),
            spec_backup: dir.join("spec.resize-backup.json"),
            disk_backup: dir.join("disk.resize-backup.qcow2"),
            dir,
        }
    }
}

/// What the OS says about an instance.
#[derive(Debug, Clone)]
struct Observed {
    spec: InstanceSpec,
    state: PowerState,
    /// The live VM process (ours, checked by cmdline).
    pid: Option<u32>,
    /// A resize backup exists.
    resize_backup: bool,
}

impl Observed {
    fn info(&self) -> InstanceInfo {
        InstanceInfo {
            id: self.spec.id,
            name: self.spec.name.clone(),
            state: self.state,
            pid: self.pid,
            vcpus: self.spec.vcpus,
            memory_mib: self.spec.memory_mib,
            root_disk_gib: self.spec.root_disk_gib,
            resize_backup: self.resize_backup,
            nics: self.spec.nics.clone(),
            volumes: self.spec.volumes.clone(),
            root_limits: self.spec.root_limits,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> HypervisorError + '_ {
    move |source| HypervisorError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Escapes a value for a QEMU `-opt key=value,...` list.
fn opt_escape(s: &str) -> String {
    s.replace(',', ",,")
}

fn path_str(p: &Path) -> String {
    opt_escape(&p.to_string_lossy())
}

/// Whether `pid` is QEMU running instance `id`: its command line carries
/// `-uuid <id>`. A zombie or a reused pid has another (or empty) cmdline.
pub fn is_our_vm(pid: u32, id: Uuid) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let uuid = id.to_string();
    let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
    args.windows(2)
        .any(|w| w[0] == b"-uuid" && w[1] == uuid.as_bytes())
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The last `max_bytes` of `bytes` as lossy UTF-8, starting at a character
/// boundary when the cut falls inside one.
pub fn tail_lossy(bytes: &[u8], max_bytes: usize) -> String {
    let mut start = bytes.len().saturating_sub(max_bytes);
    // Skip UTF-8 continuation bytes so the cut does not make a U+FFFD.
    while start < bytes.len() && start > 0 && (bytes[start] & 0xC0) == 0x80 {
        start += 1;
    }
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Runs a command to completion within `deadline`, killing it (our child,
/// by its handle) if it overruns.
async fn run(
    argv: Vec<String>,
    id: Uuid,
    op: Operation,
    deadline: Duration,
    env: &[(&str, &str)],
) -> Result<std::process::Output> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    tracing::debug!(?argv, "running");
    let child = cmd
        .spawn()
        .map_err(|source| HypervisorError::CommandSpawn {
            argv: argv.clone(),
            source,
        })?;
    let out = match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Err(_) => {
            return Err(HypervisorError::Timeout {
                id,
                op,
                after: deadline,
            })
        }
        Ok(r) => r.map_err(|source| HypervisorError::CommandSpawn {
            argv: argv.clone(),
            source,
        })?,
    };
    if !out.status.success() {
        return Err(HypervisorError::Command {
            argv,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(out)
}

fn s(p: impl AsRef<std::ffi::OsStr>) -> String {
    p.as_ref().to_string_lossy().into_owned()
}

impl QemuHypervisor {
    /// A driver over `config.state_dir` (created if missing). Instances
    /// already there are adopted as they are: nothing is started or
    /// stopped.
    pub fn new(config: QemuConfig) -> Result<Self> {
        std::fs::create_dir_all(&config.state_dir).map_err(io_err(&config.state_dir))?;
        let state_dir =
            std::path::absolute(&config.state_dir).map_err(io_err(&config.state_dir))?;
        let longest = Paths::new(&state_dir, Uuid::nil()).qmp;
        if longest.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(HypervisorError::InvalidSpec(format!(
                "state directory {} is too long for a unix socket path",
                state_dir.display()
            )));
        }
        let accel = match config.accelerator {
            Some(a) => OnceCell::new_with(Some(a)),
            None => OnceCell::new(),
        };
        Ok(QemuHypervisor {
            config: QemuConfig {
                state_dir,
                ..config
            },
            accel,
            locks: Mutex::new(HashMap::new()),
        })
    }

    /// The accelerator instances get: probed once, then cached.
    pub async fn accelerator(&self) -> Accelerator {
        *self.accel.get_or_init(|| probe_kvm(&self.config)).await
    }

    fn paths(&self, id: Uuid) -> Paths {
        Paths::new(&self.config.state_dir, id)
    }

    fn lock(&self, id: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(id).or_default().clone()
    }

    async fn qmp(&self, id: Uuid, paths: &Paths) -> Result<QmpClient> {
        QmpClient::connect(&paths.qmp, self.config.deadlines.qmp)
            .await
            .map_err(|source| HypervisorError::Qmp { id, source })
    }

    async fn qmp_exec(&self, id: Uuid, paths: &Paths, command: &str) -> Result<Value> {
        let mut c = self.qmp(id, paths).await?;
        c.execute(command, None)
            .await
            .map_err(|source| HypervisorError::Qmp { id, source })
    }

    /// Reads the instance's state from the OS.
    async fn observe(&self, id: Uuid) -> Result<Observed> {
        let paths = self.paths(id);
        let raw = match std::fs::read(&paths.spec) {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(HypervisorError::NotFound { id })
            }
            Err(e) => return Err(io_err(&paths.spec)(e)),
        };
        let spec: InstanceSpec = serde_json::from_slice(&raw).map_err(|e| HypervisorError::Io {
            path: paths.spec.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        let resize_backup = paths.spec_backup.exists();
        let shutoff = |spec| Observed {
            spec,
            state: PowerState::Shutoff,
            pid: None,
            resize_backup,
        };
        let Some(pid) = read_pid(&paths.pid).filter(|p| is_our_vm(*p, id)) else {
            return Ok(shutoff(spec));
        };
        let status = match self.qmp(id, &paths).await {
            Ok(mut c) => c.query_status().await,
            Err(HypervisorError::Qmp { source, .. }) => Err(source),
            Err(e) => return Err(e),
        };
        let status = match status {
            Ok(s) => s,
            // QEMU exiting between the cmdline check and QMP.
            Err(_) if !is_our_vm(pid, id) => return Ok(shutoff(spec)),
            Err(source) => return Err(HypervisorError::Qmp { id, source }),
        };
        let suspended = paths.suspended.exists();
        let state = match status.state {
            RunState::Running => PowerState::Running,
            RunState::Paused if suspended => PowerState::Suspended,
            RunState::Paused | RunState::Prelaunch => PowerState::Paused,
            RunState::GuestPanicked | RunState::Error(_) => PowerState::Crashed,
            // The guest powered off; QEMU is on its way out.
            RunState::Shutdown => PowerState::Shutoff,
            RunState::Suspended => PowerState::Suspended,
            RunState::Other(_) if status.running => PowerState::Running,
            RunState::Other(_) => PowerState::Paused,
        };
        Ok(Observed {
            spec,
            state,
            pid: Some(pid),
            resize_backup,
        })
    }

    async fn observe_checked(&self, id: Uuid, op: Operation, hard: bool) -> Result<Observed> {
        let o = self.observe(id).await?;
        if !transition_allowed(op, o.state, hard) {
            return Err(HypervisorError::InvalidState {
                id,
                op,
                state: o.state,
            });
        }
        Ok(o)
    }

    /// Waits until `pid` is no longer instance `id`'s VM.
    async fn wait_gone(pid: u32, id: Uuid, timeout: Duration) -> bool {
        let start = Instant::now();
        loop {
            if !is_our_vm(pid, id) {
                return true;
            }
            if start.elapsed() >= timeout {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the VM now: QMP `quit`, then SIGKILL. Checks the pid is ours
    /// before signalling it.
    async fn hard_stop(&self, id: Uuid, paths: &Paths, pid: u32, op: Operation) -> Result<()> {
        let deadline = self.config.deadlines.hard_stop;
        if is_our_vm(pid, id) {
            if let Err(e) = self.qmp_exec(id, paths, "quit").await {
                tracing::debug!(%id, error = %e, "QMP quit failed; will kill");
            }
            if !Self::wait_gone(pid, id, deadline / 2).await {
                if !is_our_vm(pid, id) {
                    // Gone between the check and here.
                } else {
                    tracing::warn!(%id, pid, "VM ignored quit; sending SIGKILL");
                    run(
                        vec!["kill".into(), "-KILL".into(), pid.to_string()],
                        id,
                        op,
                        deadline,
                        &[],
                    )
                    .await?;
                    if !Self::wait_gone(pid, id, deadline / 2).await {
                        return Err(HypervisorError::Timeout {
                            id,
                            op,
                            after: deadline,
                        });
                    }
                }
            }
        }
        self.forget_process(paths);
        Ok(())
    }

    /// Removes what a VM process leaves behind once it is gone.
    fn forget_process(&self, paths: &Paths) {
        for p in [&paths.pid, &paths.qmp, &paths.suspended] {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Starts QEMU for an existing instance directory and waits for it to
    /// be up (QMP answers). QEMU daemonizes: it is not our child.
    async fn start(
        &self,
        spec: &InstanceSpec,
        op: Operation,
        deadline: Duration,
    ) -> Result<Observed> {
        let id = spec.id;
        let paths = self.paths(id);
        self.forget_process(&paths);
        let accel = self.accelerator().await;
        self.write_volume_keys(spec, &paths)?;
        let argv = self.qemu_argv(spec, &paths, accel);
        let stderr = std::fs::File::create(&paths.stderr).map_err(io_err(&paths.stderr))?;
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true);
        tracing::info!(%id, ?argv, "starting QEMU");
        let mut child = cmd
            .spawn()
            .map_err(|source| HypervisorError::CommandSpawn {
                argv: argv.clone(),
                source,
            })?;
        let status = match tokio::time::timeout(deadline, child.wait()).await {
            Err(_) => {
                // The launcher (our child) is killed on drop; a daemon that
                // got as far as its pidfile is stopped by the caller's undo.
                return Err(HypervisorError::Timeout {
                    id,
                    op,
                    after: deadline,
                });
            }
            Ok(r) => r.map_err(|source| HypervisorError::CommandSpawn {
                argv: argv.clone(),
                source,
            })?,
        };
        if !status.success() {
            return Err(HypervisorError::Command {
                argv,
                status,
                stderr: std::fs::read_to_string(&paths.stderr).unwrap_or_default(),
            });
        }
        let o = self.observe(id).await?;
        if o.pid.is_none() {
            return Err(HypervisorError::Command {
                argv,
                status,
                stderr: format!(
                    "QEMU daemonized but no VM process is there; {}",
                    std::fs::read_to_string(&paths.stderr).unwrap_or_default()
                ),
            });
        }
        Ok(o)
    }

    async fn spawn_steps(&self, spec: &InstanceSpec, paths: &Paths) -> Result<Observed> {
        let raw = serde_json::to_vec_pretty(spec).map_err(|e| HypervisorError::Io {
            path: paths.spec.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        if crate::volumes::boot_volume(spec).is_none() {
            self.create_overlay(spec, paths).await?;
        }
        if let Some(cd) = &spec.config_drive {
            self.create_config_drive(spec.id, cd, paths).await?;
        }
        // spec.json last but one: a directory without it is an unfinished
        // spawn (the agent died), which list() ignores and spawn() redoes.
        disk::write_private(&paths.spec, &raw)?;
        self.start(spec, Operation::Spawn, self.config.deadlines.start)
            .await
    }

    /// Stops the VM if there is one, and removes the directory.
    async fn teardown(&self, id: Uuid, paths: &Paths, op: Operation) -> Result<()> {
        if let Some(pid) = read_pid(&paths.pid) {
            self.hard_stop(id, paths, pid, op).await?;
        }
        match std::fs::remove_dir_all(&paths.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&paths.dir)(e)),
        }
    }

    async fn do_spawn(&self, spec: InstanceSpec) -> Result<InstanceInfo> {
        let id = spec.id;
        self.validate(&spec)?;
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let paths = self.paths(id);
        if paths.spec.exists() {
            return Err(HypervisorError::AlreadyExists { id });
        }
        // A directory without spec.json is an unfinished spawn: start over.
        self.teardown(id, &paths, Operation::Spawn).await?;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&paths.dir)
            .map_err(io_err(&paths.dir))?;
        let deadline = self.config.deadlines.spawn;
        let result = match tokio::time::timeout(deadline, self.spawn_steps(&spec, &paths)).await {
            Ok(r) => r,
            Err(_) => Err(HypervisorError::Timeout {
                id,
                op: Operation::Spawn,
                after: deadline,
            }),
        };
        match result {
            Ok(o) => Ok(o.info()),
            Err(e) => {
                if let Err(undo) = self.teardown(id, &paths, Operation::Spawn).await {
                    tracing::error!(%id, error = %undo, "cannot undo a failed spawn");
                }
                Err(e)
            }
        }
    }

    async fn do_power_off(&self, id: Uuid, graceful: Duration) -> Result<PowerOffOutcome> {
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let o = self.observe_checked(id, Operation::PowerOff, false).await?;
        let paths = self.paths(id);
        let Some(pid) = o.pid else {
            // Shutdown in progress: QEMU is exiting by itself.
            self.forget_process(&paths);
            return Ok(PowerOffOutcome::Graceful);
        };
        if o.state == PowerState::Running && !graceful.is_zero() {
            match self.qmp_exec(id, &paths, "system_powerdown").await {
                Ok(_) => {
                    if Self::wait_gone(pid, id, graceful).await {
                        self.forget_process(&paths);
                        return Ok(PowerOffOutcome::Graceful);
                    }
                    tracing::info!(%id, ?graceful, "guest ignored the power button; stopping hard");
                }
                Err(e) => tracing::warn!(%id, error = %e, "system_powerdown failed; stopping hard"),
            }
        }
        self.hard_stop(id, &paths, pid, Operation::PowerOff).await?;
        Ok(PowerOffOutcome::Forced)
    }

    async fn do_power_on(&self, id: Uuid) -> Result<InstanceInfo> {
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let o = self.observe_checked(id, Operation::PowerOn, false).await?;
        let deadline = self.config.deadlines.start;
        let r = self.start(&o.spec, Operation::PowerOn, deadline).await;
        self.settle(id, r).await
    }

    /// After a failed start, makes sure no half-started VM is left: the
    /// instance ends `Shutoff`.
    async fn settle(&self, id: Uuid, r: Result<Observed>) -> Result<InstanceInfo> {
        match r {
            Ok(o) => Ok(o.info()),
            Err(e) => {
                let paths = self.paths(id);
                if let Some(pid) = read_pid(&paths.pid) {
                    let _ = self.hard_stop(id, &paths, pid, Operation::PowerOn).await;
                }
                Err(e)
            }
        }
    }

    async fn do_reboot(&self, id: Uuid, hard: bool) -> Result<InstanceInfo> {
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let o = self.observe_checked(id, Operation::Reboot, hard).await?;
        let paths = self.paths(id);
        let d = self.config.deadlines;
        match (hard, o.pid) {
            (true, Some(_)) if o.state != PowerState::Shutoff => {
                self.qmp_exec(id, &paths, "system_reset").await?;
                if o.state != PowerState::Running {
                    self.qmp_exec(id, &paths, "cont").await?;
                }
                let _ = std::fs::remove_file(&paths.suspended);
                Ok(self.observe(id).await?.info())
            }
            (true, pid) => {
                if let Some(pid) = pid {
                    self.hard_stop(id, &paths, pid, Operation::Reboot).await?;
                }
                let r = self.start(&o.spec, Operation::Reboot, d.start).await;
                self.settle(id, r).await
            }
            (false, pid) => {
                if let Some(pid) = pid {
                    let mut gone = false;
                    if self.qmp_exec(id, &paths, "system_powerdown").await.is_ok() {
                        gone = Self::wait_gone(pid, id, d.soft_reboot).await;
                    }
                    if !gone {
                        self.hard_stop(id, &paths, pid, Operation::Reboot).await?;
                    }
                }
                self.forget_process(&paths);
                let r = self.start(&o.spec, Operation::Reboot, d.start).await;
                self.settle(id, r).await
            }
        }
    }

    /// `stop`/`cont` transitions; `marker` sets (`Some(true)`) or clears
    /// the suspend marker.
    async fn do_vcpus(
        &self,
        id: Uuid,
        op: Operation,
        command: &str,
        marker: Option<bool>,
    ) -> Result<InstanceInfo> {
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        self.observe_checked(id, op, false).await?;
        let paths = self.paths(id);
        if marker == Some(true) {
            std::fs::write(&paths.suspended, b"").map_err(io_err(&paths.suspended))?;
        }
        let r = self.qmp_exec(id, &paths, command).await;
        if marker == Some(false) || (marker == Some(true) && r.is_err()) {
            let _ = std::fs::remove_file(&paths.suspended);
        }
        r?;
        Ok(self.observe(id).await?.info())
    }

    async fn do_destroy(&self, id: Uuid) -> Result<()> {
        let lock = self.lock(id);
        let guard = lock.lock().await;
        let paths = self.paths(id);
        self.teardown(id, &paths, Operation::Destroy).await?;
        drop(guard);
        self.locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        Ok(())
    }

    async fn do_list(&self) -> Result<Vec<InstanceInfo>> {
        let dir = &self.config.state_dir;
        let entries = std::fs::read_dir(dir).map_err(io_err(dir))?;
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(io_err(dir))?;
            let Some(id) = e.file_name().to_str().and_then(|n| Uuid::parse_str(n).ok()) else {
                continue;
            };
            match self.observe(id).await {
                Ok(o) => out.push(o.info()),
                // An unfinished spawn, or destroyed meanwhile.
                Err(HypervisorError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|i| i.id);
        Ok(out)
    }

    async fn do_console_log(&self, id: Uuid, max_bytes: usize) -> Result<String> {
        let paths = self.paths(id);
        if !paths.spec.exists() {
            return Err(HypervisorError::NotFound { id });
        }
        use std::io::{Read, Seek, SeekFrom};
        let mut f = match std::fs::File::open(&paths.console) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
            Err(e) => return Err(io_err(&paths.console)(e)),
        };
        let len = f.metadata().map_err(io_err(&paths.console))?.len();
        // Read a few bytes more so the cut can move to a character boundary.
        let want = (max_bytes as u64).saturating_add(3).min(len);
        f.seek(SeekFrom::Start(len - want))
            .map_err(io_err(&paths.console))?;
        let mut buf = Vec::with_capacity(want as usize);
        f.take(want)
            .read_to_end(&mut buf)
            .map_err(io_err(&paths.console))?;
        Ok(tail_lossy(&buf, max_bytes))
    }

    async fn do_capabilities(&self) -> Result<Capabilities> {
        let accelerator = self.accelerator().await;
        let vcpus = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1);
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_mib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            / 1024;
        let df = run(
            vec!["df".into(), "-Pk".into(), s(&self.config.state_dir)],
            Uuid::nil(),
            Operation::Capabilities,
            self.config.deadlines.qmp,
            &[],
        )
        .await?;
        let local_disk_gib = String::from_utf8_lossy(&df.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|k| k.parse::<u64>().ok())
            .unwrap_or(0)
            / (1024 * 1024);
        Ok(Capabilities {
            hypervisor_type: "QEMU".into(),
            accelerator,
            vcpus,
            memory_mib,
            local_disk_gib,
            cpu_arch: std::env::consts::ARCH.into(),
            booted_at: booted_at(),
            load: crate::host_facts::host_load(),
        })
    }

    /// Runs `fut` under `deadline`, mapping overrun to a typed timeout.
    async fn bounded<T>(
        id: Uuid,
        op: Operation,
        deadline: Duration,
        fut: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        tokio::time::timeout(deadline, fut)
            .await
            .unwrap_or(Err(HypervisorError::Timeout {
                id,
                op,
                after: deadline,
            }))
    }
}
