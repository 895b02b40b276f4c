//! An in-memory [`Hypervisor`]: the same state machine as the QEMU driver,
//! no processes.
//!
//! The control plane's tests and scale benchmarks run against it, so it is
//! a working stand-in rather than a mock: it enforces the transitions of
//! the crate's state machine, counts capacity, and writes a console log
//! with the test guest's marker lines (`ferrostack-guest: instance-id`,
//! `public-key`, `ready`) so tests that read the console behave the same as
//! against a real guest. Tests can inject failures ([`FakeHypervisor::fail_next`]),
//! delays ([`FakeHypervisor::set_delay`]; a delay beyond the operation's
//! deadline ends in [`HypervisorError::Timeout`] with the state unchanged,
//! as a real stuck operation would), and events a host produces on its own
//! ([`FakeHypervisor::guest_powered_off`], [`FakeHypervisor::guest_panicked`]).
//!
//! An operation without a delay never awaits and holds one short mutex, so
//! spawning thousands of instances per second is cheap.

use crate::{
    transition_allowed, Accelerator, BaseFormat, Capabilities, HvFuture, Hypervisor,
    HypervisorError, InstanceInfo, InstanceSpec, IoLimits, NicSpec, Operation, PowerOffOutcome,
    PowerState, Result, SnapshotInfo, VolumeSpec,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use uuid::Uuid;

/// How the fake host looks.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// What [`Hypervisor::capabilities`] reports; `vcpus`, `memory_mib`
    /// and `local_disk_gib` are also the capacity spawns are checked
    /// against.
    pub capabilities: Capabilities,
    /// Every operation's deadline: an injected delay longer than this ends
    /// in a timeout.
    pub deadline: Duration,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            capabilities: Capabilities {
                hypervisor_type: "QEMU".into(),
                accelerator: Accelerator::Tcg,
                vcpus: 64,
                memory_mib: 256 * 1024,
                local_disk_gib: 10 * 1024,
                cpu_arch: "x86_64".into(),
                booted_at: None,
                load: None,
            },
            deadline: Duration::from_secs(30),
        }
    }
}

#[derive(Debug)]
struct FakeInstance {
    spec: InstanceSpec,
    state: PowerState,
    pid: Option<u32>,
    console: String,
    /// The spec before the last resize, until it is confirmed or reverted.
    backup: Option<InstanceSpec>,
}

#[derive(Debug, Default)]
struct Inner {
    instances: HashMap<Uuid, FakeInstance>,
    failures: HashMap<Operation, u32>,
    delays: HashMap<Operation, Duration>,
    next_pid: u32,
    /// vCPUs, MiB and GiB held by all instances (stopped ones too, as in
    /// Nova), kept as running totals so a spawn is O(1).
    used: [u64; 3],
}

/// The in-memory hypervisor. Cheap to clone; clones share the host.
#[derive(Debug, Clone)]
pub struct FakeHypervisor {
    config: Arc<FakeConfig>,
    inner: Arc<Mutex<Inner>>,
}

impl Default for FakeHypervisor {
    fn default() -> Self {
        FakeHypervisor::new(FakeConfig::default())
    }
}

impl FakeHypervisor {
    /// A fake host with this configuration and no instances.
    pub fn new(config: FakeConfig) -> Self {
        FakeHypervisor {
            config: Arc::new(config),
            inner: Arc::new(Mutex::new(Inner {
                next_pid: 1000,
                ..Inner::default()
            })),
        }
    }

    /// Makes the next `count` calls of `op` fail with
    /// [`HypervisorError::Injected`] and change nothing.
    pub fn fail_next(&self, op: Operation, count: u32) {
        self.lock().failures.insert(op, count);
    }

    /// Makes every call of `op` take `delay` (zero removes it).
    pub fn set_delay(&self, op: Operation, delay: Duration) {
        let mut inner = self.lock();
        if delay.is_zero() {
            inner.delays.remove(&op);
        } else {
            inner.delays.insert(op, delay);
        }
    }

    /// The guest powers itself off (or its VM process dies): `Shutoff`.
    pub fn guest_powered_off(&self, id: Uuid) -> Result<()> {
        let mut inner = self.lock();
        let inst = inner
            .instances
            .get_mut(&id)
            .ok_or(HypervisorError::NotFound { id })?;
        inst.state = PowerState::Shutoff;
        inst.pid = None;
        Ok(())
    }

    /// The guest kernel panics: `Crashed`.
    pub fn guest_panicked(&self, id: Uuid) -> Result<()> {
        let mut inner = self.lock();
        let inst = inner
            .instances
            .get_mut(&id)
            .ok_or(HypervisorError::NotFound { id })?;
        if inst.state == PowerState::Shutoff {
            return Err(HypervisorError::InvalidState {
                id,
                op: Operation::State,
                state: inst.state,
            });
        }
        inst.state = PowerState::Crashed;
        Ok(())
    }

    /// How many instances exist.
    pub fn len(&self) -> usize {
        self.lock().instances.len()
    }

    /// Whether no instance exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave Inner half-updated in
        // a way that matters to a test double; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies an injected delay and failure for `op`.
    async fn preamble(&self, op: Operation, id: Uuid) -> Result<()> {
        let delay = {
            let mut inner = self.lock();
            if let Some(n) = inner.failures.get_mut(&op) {
                if *n > 0 {
                    *n -= 1;
                    return Err(HypervisorError::Injected { op });
                }
            }
            inner.delays.get(&op).copied()
        };
        if let Some(delay) = delay {
            if delay > self.config.deadline {
                tokio::time::sleep(self.config.deadline).await;
                return Err(HypervisorError::Timeout {
                    id,
                    op,
                    after: self.config.deadline,
                });
            }
            tokio::time::sleep(delay).await;
        }
        Ok(())
    }

    /// Runs a state transition on an existing instance.
    async fn transition(
        &self,
        id: Uuid,
        op: Operation,
        hard: bool,
        apply: impl FnOnce(&mut FakeInstance, &mut u32) + Send,
    ) -> Result<InstanceInfo> {
        self.preamble(op, id).await?;
        let mut inner = self.lock();
        let Inner {
            instances,
            next_pid,
            ..
        } = &mut *inner;
        let inst = instances
            .get_mut(&id)
            .ok_or(HypervisorError::NotFound { id })?;
        if !transition_allowed(op, inst.state, hard) {
            return Err(HypervisorError::InvalidState {
                id,
                op,
                state: inst.state,
            });
        }
        apply(inst, next_pid);
        Ok(info(inst))
    }
}

impl FakeHypervisor {
    fn do_resize(&self, spec: &InstanceSpec) -> Result<InstanceInfo> {
        let id = spec.id;
        let op = Operation::Resize;
        if spec.vcpus == 0 || spec.memory_mib == 0 {
            return Err(HypervisorError::InvalidSpec(
                "vcpus and memory_mib must be positive".into(),
            ));
        }
        let mut inner = self.lock();
        let Inner {
            instances, used, ..
        } = &mut *inner;
        let inst = instances
            .get_mut(&id)
            .ok_or(HypervisorError::NotFound { id })?;
        if !transition_allowed(op, inst.state, false) || inst.backup.is_some() {
            return Err(HypervisorError::InvalidState {
                id,
                op,
                state: inst.state,
            });
        }
        let old = inst.spec.clone();
        let disk = match spec.root_disk_gib {
            0 => old.root_disk_gib,
            n if n < old.root_disk_gib => {
                return Err(HypervisorError::InvalidSpec(format!(
                    "root disk of {n} GiB is smaller than the current {} GiB; disks never shrink",
                    old.root_disk_gib
                )))
            }
            n => n,
        };
        let mut new = old.clone();
        new.vcpus = spec.vcpus;
        new.memory_mib = spec.memory_mib;
        new.root_disk_gib = disk;
        let freed = add(*used, &old, false);
        let caps = &self.config.capabilities;
        let [vcpus, mem, disk_used] = freed;
        for (resource, used, total, requested) in [
            ("vcpus", vcpus, u64::from(caps.vcpus), u64::from(new.vcpus)),
            ("memory_mib", mem, caps.memory_mib, new.memory_mib),
            (
                "disk_gib",
                disk_used,
                caps.local_disk_gib,
                new.root_disk_gib,
            ),
        ] {
            let available = total.saturating_sub(used);
            if requested > available {
                return Err(HypervisorError::InsufficientCapacity {
                    resource,
                    requested,
                    available,
                });
            }
        }
        *used = add(freed, &new, true);
        inst.spec = new;
        inst.backup = Some(old);
        Ok(info(inst))
    }

    fn do_revert_resize(&self, id: Uuid) -> Result<InstanceInfo> {
        let op = Operation::RevertResize;
        let mut inner = self.lock();
        let Inner {
            instances, used, ..
        } = &mut *inner;
        let inst = instances
            .get_mut(&id)
            .ok_or(HypervisorError::NotFound { id })?;
        if !transition_allowed(op, inst.state, false) || inst.backup.is_none() {
            return Err(HypervisorError::InvalidState {
                id,
                op,
                state: inst.state,
            });
        }
        if let Some(mut old) = inst.backup.take() {
            *used = add(add(*used, &inst.spec, false), &old, true);
            // The volumes stay as they are now (see the QEMU driver).
            old.volumes = std::mem::take(&mut inst.spec.volumes);
            inst.spec = old;
        }
        Ok(info(inst))
    }

    /// Changes the NIC or volume set of an instance in a state that
    /// allows `op`. The fake's guest always cooperates: an unplug is
    /// immediate.
    async fn change_spec(
        &self,
        id: Uuid,
        op: Operation,
        change: impl FnOnce(&mut InstanceSpec) -> Result<()> + Send,
    ) -> Result<InstanceInfo> {
        self.preamble(op, id).await?;
        let mut inner = self.lock();
        let inst = inner
            .instances
            .get_mut(&id)
            .ok_or(HypervisorError::NotFound { id })?;
        if !transition_allowed(op, inst.state, false) {
            return Err(HypervisorError::InvalidState {
                id,
                op,
                state: inst.state,
            });
        }
        change(&mut inst.spec)?;
        Ok(info(inst))
    }

    fn do_snapshot(&self, id: Uuid, dest: &Path) -> Result<SnapshotInfo> {
        let (content, virtual_size) = {
            let inner = self.lock();
            let inst = inner
                .instances
                .get(&id)
                .ok_or(HypervisorError::NotFound { id })?;
            if crate::volumes::boot_volume(&inst.spec).is_some() {
                return Err(no_overlay_snapshot(id));
            }
            let virtual_size = inst.spec.root_disk_gib.saturating_mul(1 << 30);
            let marker = format!("ferrostack fake snapshot of instance {id}\n");
            (
                crate::fake_qcow2::empty_qcow2(virtual_size, &marker),
                virtual_size,
            )
        };
        let tmp = crate::temp_name(dest);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| HypervisorError::Io { path, source }
        };
        if let Err(e) = std::fs::write(&tmp, &content) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&tmp)(e));
        }
        if let Err(e) = std::fs::rename(&tmp, dest) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(dest)(e));
        }
        Ok(SnapshotInfo {
            format: BaseFormat::Qcow2,
            size: content.len() as u64,
            virtual_size,
        })
    }
}

fn info(inst: &FakeInstance) -> InstanceInfo {
    InstanceInfo {
        id: inst.spec.id,
        name: inst.spec.name.clone(),
        state: inst.state,
        pid: inst.pid,
        vcpus: inst.spec.vcpus,
        memory_mib: inst.spec.memory_mib,
        root_disk_gib: inst.spec.root_disk_gib,
        resize_backup: inst.backup.is_some(),
        nics: inst.spec.nics.clone(),
        volumes: inst.spec.volumes.clone(),
        root_limits: inst.spec.root_limits,
    }
}

/// Why a boot-from-volume instance has no image snapshot.
pub(crate) fn no_overlay_snapshot(id: Uuid) -> HypervisorError {
    HypervisorError::InvalidSpec(format!(
        "instance {id} boots from a volume: snapshot the volume, not the instance"
    ))
}

/// Starts the fake VM: a new pid and the guest's boot markers.
fn boot(inst: &mut FakeInstance, next_pid: &mut u32) {
    *next_pid = next_pid.wrapping_add(1).max(1000);
    inst.pid = Some(*next_pid);
    inst.state = PowerState::Running;
    let id = inst.spec.id;
    inst.console.push_str("ferrostack-guest: booted\n");
    match &inst.spec.config_drive {
        None => inst.console.push_str("ferrostack-guest: no config-drive\n"),
        Some(cd) => {
            inst.console
                .push_str("ferrostack-guest: config-drive /dev/vdb\n");
            inst.console
                .push_str(&format!("ferrostack-guest: instance-id {id}\n"));
            let meta: serde_json::Value =
                serde_json::from_str(&cd.meta_data_json).unwrap_or_default();
            if let Some(h) = meta.get("hostname").and_then(|h| h.as_str()) {
                inst.console
                    .push_str(&format!("ferrostack-guest: hostname {h}\n"));
            }
            if let Some(keys) = meta.get("public_keys").and_then(|k| k.as_object()) {
                for key in keys.values().filter_map(|k| k.as_str()) {
                    inst.console.push_str(&format!(
                        "ferrostack-guest: public-key {}\n",
                        key.trim_end_matches('\n')
                    ));
                }
            }
        }
    }
    inst.console.push_str("ferrostack-guest: ready\n");
}

/// Adds (or takes away) what `spec` holds to the running totals.
fn add(used: [u64; 3], spec: &InstanceSpec, take: bool) -> [u64; 3] {
    let amounts = [u64::from(spec.vcpus), spec.memory_mib, spec.root_disk_gib];
    let mut out = used;
    for (o, a) in out.iter_mut().zip(amounts) {
        *o = if take {
            o.saturating_add(a)
        } else {
            o.saturating_sub(a)
        };
    }
    out
}

fn stop(inst: &mut FakeInstance) {
    inst.state = PowerState::Shutoff;
    inst.pid = None;
}

impl Hypervisor for FakeHypervisor {
    fn capabilities(&self) -> HvFuture<'_, Capabilities> {
        Box::pin(async move {
            self.preamble(Operation::Capabilities, Uuid::nil()).await?;
            Ok(self.config.capabilities.clone())
        })
    }

    fn spawn(&self, spec: InstanceSpec) -> HvFuture<'_, InstanceInfo> {
        Box::pin(async move {
            let id = spec.id;
            self.preamble(Operation::Spawn, id).await?;
            if spec.vcpus == 0 || spec.memory_mib == 0 {
                return Err(HypervisorError::InvalidSpec(
                    "vcpus and memory_mib must be positive".into(),
                ));
            }
            crate::volumes::validate_set(&spec)?;
            let mut inner = self.lock();
            if inner.instances.contains_key(&id) {
                return Err(HypervisorError::AlreadyExists { id });
            }
            let caps = &self.config.capabilities;
            let [vcpus, mem, disk] = inner.used;
            for (resource, used, total, requested) in [
                ("vcpus", vcpus, u64::from(caps.vcpus), u64::from(spec.vcpus)),
                ("memory_mib", mem, caps.memory_mib, spec.memory_mib),
                ("disk_gib", disk, caps.local_disk_gib, spec.root_disk_gib),
            ] {
                let available = total.saturating_sub(used);
                if requested > available {
                    return Err(HypervisorError::InsufficientCapacity {
                        resource,
                        requested,
                        available,
                    });
                }
            }
            inner.used = add(inner.used, &spec, true);
            let mut inst = FakeInstance {
                spec,
                state: PowerState::Shutoff,
                pid: None,
                console: String::new(),
                backup: None,
            };
            boot(&mut inst, &mut inner.next_pid);
            let out = info(&inst);
            inner.instances.insert(id, inst);
            Ok(out)
        })
    }

    fn destroy(&self, id: Uuid) -> HvFuture<'_, ()> {
        Box::pin(async move {
            self.preamble(Operation::Destroy, id).await?;
            let mut inner = self.lock();
            if let Some(inst) = inner.instances.remove(&id) {
                inner.used = add(inner.used, &inst.spec, false);
            }
            Ok(())
        })
    }

    fn power_off(&self, id: Uuid, graceful_timeout: Duration) -> HvFuture<'_, PowerOffOutcome> {
        Box::pin(async move {
            let mut outcome = PowerOffOutcome::Forced;
            self.transition(id, Operation::PowerOff, false, |inst, _| {
                // The fake guest honours the button when running and the
                // caller gave it any time at all.
                if inst.state == PowerState::Running && !graceful_timeout.is_zero() {
                    inst.console
                        .push_str("ferrostack-guest: power-button, powering off\n");
                    outcome = PowerOffOutcome::Graceful;
                }
                stop(inst);
            })
            .await?;
            Ok(outcome)
        })
    }

    fn power_on(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        Box::pin(self.transition(id, Operation::PowerOn, false, boot))
    }

    fn reboot(&self, id: Uuid, hard: bool) -> HvFuture<'_, InstanceInfo> {
        Box::pin(
            self.transition(id, Operation::Reboot, hard, move |inst, next_pid| {
                if !hard {
                    inst.console
                        .push_str("ferrostack-guest: power-button, powering off\n");
                }
                stop(inst);
                boot(inst, next_pid);
            }),
        )
    }

    fn pause(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        Box::pin(self.transition(id, Operation::Pause, false, |i, _| {
            i.state = PowerState::Paused
        }))
    }

    fn unpause(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        Box::pin(self.transition(id, Operation::Unpause, false, |i, _| {
            i.state = PowerState::Running
        }))
    }

    fn suspend(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        Box::pin(self.transition(id, Operation::Suspend, false, |i, _| {
            i.state = PowerState::Suspended
        }))
    }

    fn resume(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        Box::pin(self.transition(id, Operation::Resume, false, |i, _| {
            i.state = PowerState::Running
        }))
    }

    fn state(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        Box::pin(self.transition(id, Operation::State, false, |_, _| {}))
    }

    fn list(&self) -> HvFuture<'_, Vec<InstanceInfo>> {
        Box::pin(async move {
            self.preamble(Operation::List, Uuid::nil()).await?;
            let inner = self.lock();
            let mut all: Vec<_> = inner.instances.values().map(info).collect();
            all.sort_by_key(|i| i.id);
            Ok(all)
        })
    }

    fn console_log(&self, id: Uuid, max_bytes: usize) -> HvFuture<'_, String> {
        Box::pin(async move {
            self.preamble(Operation::ConsoleLog, id).await?;
            let inner = self.lock();
            let inst = inner
                .instances
                .get(&id)
                .ok_or(HypervisorError::NotFound { id })?;
            Ok(crate::qemu::tail_lossy(inst.console.as_bytes(), max_bytes))
        })
    }

    fn resize(&self, spec: InstanceSpec) -> HvFuture<'_, InstanceInfo> {
        Box::pin(async move {
            self.preamble(Operation::Resize, spec.id).await?;
            self.do_resize(&spec)
        })
    }

    fn confirm_resize(&self, id: Uuid) -> HvFuture<'_, ()> {
        Box::pin(async move {
            self.preamble(Operation::ConfirmResize, id).await?;
            let mut inner = self.lock();
            let inst = inner
                .instances
                .get_mut(&id)
                .ok_or(HypervisorError::NotFound { id })?;
            inst.backup = None;
            Ok(())
        })
    }

    fn revert_resize(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        Box::pin(async move {
            self.preamble(Operation::RevertResize, id).await?;
            self.do_revert_resize(id)
        })
    }

    fn snapshot<'a>(&'a self, id: Uuid, dest: &'a Path) -> HvFuture<'a, SnapshotInfo> {
        Box::pin(async move {
            self.preamble(Operation::Snapshot, id).await?;
            self.do_snapshot(id, dest)
        })
    }

    fn attach_nic(&self, id: Uuid, nic: NicSpec) -> HvFuture<'_, InstanceInfo> {
        Box::pin(self.change_spec(id, Operation::AttachNic, move |spec| {
            if crate::nics::needs_attach(spec, &nic)? {
                spec.nics.push(nic);
            }
            Ok(())
        }))
    }

    fn detach_nic<'a>(&'a self, id: Uuid, nic: &'a str) -> HvFuture<'a, InstanceInfo> {
        Box::pin(self.change_spec(id, Operation::DetachNic, move |spec| {
            if let Some(i) = crate::nics::find(spec, nic) {
                spec.nics.remove(i);
            }
            Ok(())
        }))
    }

    fn attach_volume(&self, id: Uuid, volume: VolumeSpec) -> HvFuture<'_, InstanceInfo> {
        Box::pin(self.change_spec(id, Operation::AttachVolume, move |spec| {
            if crate::volumes::needs_attach(spec, &volume)? {
                spec.volumes.push(volume);
            }
            Ok(())
        }))
    }

    fn detach_volume<'a>(&'a self, id: Uuid, volume_id: &'a str) -> HvFuture<'a, InstanceInfo> {
        Box::pin(self.change_spec(id, Operation::DetachVolume, move |spec| {
            if let Some(i) = crate::volumes::find_detachable(spec, volume_id)? {
                spec.volumes.remove(i);
            }
            Ok(())
        }))
    }

    fn update_volume(&self, id: Uuid, volume: VolumeSpec) -> HvFuture<'_, InstanceInfo> {
        Box::pin(self.change_spec(id, Operation::UpdateVolume, move |spec| {
            // A moved-on top generation is applied at once: the fake has
            // no file open, so the switch is only the recorded generation
            // (what a host reports back).
            let plan = crate::volumes::update_plan(spec, &volume)?;
            spec.volumes[plan.index] = volume;
            Ok(())
        }))
    }

    fn set_root_limits(&self, id: Uuid, limits: IoLimits) -> HvFuture<'_, InstanceInfo> {
        Box::pin(self.change_spec(id, Operation::SetRootLimits, move |spec| {
            crate::volumes::validate_limits(&limits)?;
            spec.root_limits = limits;
            Ok(())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BaseFormat, ConfigDrive};
    use std::time::Instant;

    fn spec(vcpus: u32, mem: u64) -> InstanceSpec {
        InstanceSpec {
            id: Uuid::new_v4(),
            name: "vm".into(),
            vcpus,
            memory_mib: mem,
            root_disk_gib: 1,
            image_id: String::new(),
            base_image: "/images/base.qcow2".into(),
            base_format: BaseFormat::Qcow2,
            config_drive: Some(ConfigDrive {
                meta_data_json: r#"{"public_keys":{"k":"ssh-ed25519 AAAA me\n"},"uuid":"x"}"#
                    .into(),
                ..ConfigDrive::default()
            }),
            nics: vec![],
            volumes: Vec::new(),
            root_limits: Default::default(),
        }
    }

    fn invalid(r: Result<InstanceInfo>) -> (Operation, PowerState) {
        match r {
            Err(HypervisorError::InvalidState { op, state, .. }) => (op, state),
            other => panic!("expected InvalidState, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn walks_the_state_machine() {
        let hv = FakeHypervisor::default();
        let s = spec(1, 128);
        let id = s.id;
        let i = hv.spawn(s).await.expect("spawn");
        assert_eq!(i.state, PowerState::Running);
        let log = hv.console_log(id, 4096).await.expect("log");
        assert!(log.contains("ferrostack-guest: public-key ssh-ed25519 AAAA me\n"));
        assert!(log.ends_with("ferrostack-guest: ready\n"));

        assert_eq!(
            invalid(hv.unpause(id).await),
            (Operation::Unpause, PowerState::Running)
        );
        assert_eq!(
            invalid(hv.power_on(id).await),
            (Operation::PowerOn, PowerState::Running)
        );
        assert_eq!(hv.pause(id).await.expect("pause").state, PowerState::Paused);
        assert_eq!(
            invalid(hv.suspend(id).await),
            (Operation::Suspend, PowerState::Paused)
        );
        assert_eq!(
            invalid(hv.reboot(id, false).await),
            (Operation::Reboot, PowerState::Paused)
        );
        assert_eq!(
            hv.unpause(id).await.expect("unpause").state,
            PowerState::Running
        );
        assert_eq!(
            hv.suspend(id).await.expect("suspend").state,
            PowerState::Suspended
        );
        assert_eq!(
            invalid(hv.unpause(id).await),
            (Operation::Unpause, PowerState::Suspended)
        );
        assert_eq!(
            hv.resume(id).await.expect("resume").state,
            PowerState::Running
        );

        let out = hv.power_off(id, Duration::from_secs(5)).await.expect("off");
        assert_eq!(out, PowerOffOutcome::Graceful);
        let st = hv.state(id).await.expect("state");
        assert_eq!((st.state, st.pid), (PowerState::Shutoff, None));
        assert!(matches!(
            hv.power_off(id, Duration::ZERO).await,
            Err(HypervisorError::InvalidState { .. })
        ));
        assert_eq!(
            invalid(hv.reboot(id, false).await),
            (Operation::Reboot, PowerState::Shutoff)
        );
        assert_eq!(
            hv.reboot(id, true).await.expect("hard").state,
            PowerState::Running
        );

        hv.guest_panicked(id).expect("panic");
        assert_eq!(
            hv.state(id).await.expect("state").state,
            PowerState::Crashed
        );
        assert_eq!(
            hv.power_off(id, Duration::from_secs(1)).await.expect("off"),
            PowerOffOutcome::Forced
        );
        assert_eq!(
            hv.power_on(id).await.expect("on").state,
            PowerState::Running
        );
        hv.guest_powered_off(id).expect("off");
        assert_eq!(hv.list().await.expect("list")[0].state, PowerState::Shutoff);

        hv.destroy(id).await.expect("destroy");
        hv.destroy(id).await.expect("destroy is idempotent");
        assert!(matches!(
            hv.state(id).await,
            Err(HypervisorError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn capacity_duplicates_and_bad_specs() {
        let hv = FakeHypervisor::new(FakeConfig {
            capabilities: Capabilities {
                vcpus: 4,
                memory_mib: 1024,
                ..FakeConfig::default().capabilities
            },
            ..FakeConfig::default()
        });
        let a = spec(2, 512);
        hv.spawn(a.clone()).await.expect("a");
        assert!(matches!(
            hv.spawn(a.clone()).await,
            Err(HypervisorError::AlreadyExists { .. })
        ));
        match hv.spawn(spec(1, 1024)).await {
            Err(HypervisorError::InsufficientCapacity {
                resource,
                requested,
                available,
            }) => assert_eq!((resource, requested, available), ("memory_mib", 1024, 512)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            hv.spawn(spec(3, 1)).await,
            Err(HypervisorError::InsufficientCapacity {
                resource: "vcpus",
                ..
            })
        ));
        assert!(matches!(
            hv.spawn(spec(0, 1)).await,
            Err(HypervisorError::InvalidSpec(_))
        ));
        hv.destroy(a.id).await.expect("destroy frees capacity");
        hv.spawn(spec(4, 1024)).await.expect("fits again");
    }

    #[tokio::test]
    async fn injected_failures_and_delays() {
        let hv = FakeHypervisor::new(FakeConfig {
            deadline: Duration::from_millis(50),
            ..FakeConfig::default()
        });
        hv.fail_next(Operation::Spawn, 1);
        let s = spec(1, 64);
        assert!(matches!(
            hv.spawn(s.clone()).await,
            Err(HypervisorError::Injected {
                op: Operation::Spawn
            })
        ));
        assert!(hv.is_empty(), "a failed spawn leaves nothing");
        hv.spawn(s.clone()).await.expect("second try");

        hv.set_delay(Operation::Pause, Duration::from_millis(5));
        let t = Instant::now();
        hv.pause(s.id).await.expect("pause");
        assert!(t.elapsed() >= Duration::from_millis(5));

        hv.set_delay(Operation::Unpause, Duration::from_secs(3600));
        assert!(matches!(
            hv.unpause(s.id).await,
            Err(HypervisorError::Timeout {
                op: Operation::Unpause,
                ..
            })
        ));
        assert_eq!(
            hv.state(s.id).await.expect("state").state,
            PowerState::Paused
        );
        hv.set_delay(Operation::Unpause, Duration::ZERO);
        hv.unpause(s.id).await.expect("unpause");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shared_as_a_trait_object_across_tasks() {
        let hv: Arc<dyn Hypervisor> = Arc::new(FakeHypervisor::default());
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let hv = hv.clone();
            tasks.push(tokio::spawn(async move {
                let s = spec(1, 64);
                hv.spawn(s.clone()).await.expect("spawn");
                hv.pause(s.id).await.expect("pause");
                hv.power_off(s.id, Duration::ZERO).await.expect("off");
                s.id
            }));
        }
        for t in tasks {
            let id = t.await.expect("task");
            assert_eq!(
                hv.state(id).await.expect("state").state,
                PowerState::Shutoff
            );
        }
        assert_eq!(hv.list().await.expect("list").len(), 32);
    }

    #[tokio::test]
    async fn thousands_of_spawns_per_second() {
        let hv = FakeHypervisor::new(FakeConfig {
            capabilities: Capabilities {
                vcpus: u32::MAX,
                memory_mib: u64::MAX,
                local_disk_gib: u64::MAX,
                ..FakeConfig::default().capabilities
            },
            ..FakeConfig::default()
        });
        let dyn_hv: &dyn Hypervisor = &hv;
        let n = 5_000;
        let t = Instant::now();
        for _ in 0..n {
            dyn_hv.spawn(spec(1, 64)).await.expect("spawn");
        }
        let elapsed = t.elapsed();
        assert_eq!(hv.len(), n);
        eprintln!(
            "{n} fake spawns in {elapsed:?} ({:.0}/s)",
            n as f64 / elapsed.as_secs_f64()
        );
        // Thousands per second even in a debug build.
        assert!(
            elapsed < Duration::from_secs(5),
            "{n} spawns took {elapsed:?}"
        );
    }
}
