//! The [`Hypervisor`] trait over the driver's operations: each one bounded
//! by a deadline that leaves room for the operation's own undo.

use super::*;

impl Hypervisor for QemuHypervisor {
    fn capabilities(&self) -> HvFuture<'_, Capabilities> {
        Box::pin(self.do_capabilities())
    }

    fn spawn(&self, spec: InstanceSpec) -> HvFuture<'_, InstanceInfo> {
        // do_spawn bounds its own steps and then undoes; the outer bound
        // adds room for the undo.
        let d = self.config.deadlines;
        let id = spec.id;
        Box::pin(Self::bounded(
            id,
            Operation::Spawn,
            d.spawn + d.hard_stop * 2,
            self.do_spawn(spec),
        ))
    }

    fn destroy(&self, id: Uuid) -> HvFuture<'_, ()> {
        let d = self.config.deadlines;
        Box::pin(Self::bounded(
            id,
            Operation::Destroy,
            d.hard_stop * 2 + d.qmp,
            self.do_destroy(id),
        ))
    }

    fn power_off(&self, id: Uuid, graceful_timeout: Duration) -> HvFuture<'_, PowerOffOutcome> {
        let d = self.config.deadlines;
        Box::pin(Self::bounded(
            id,
            Operation::PowerOff,
            graceful_timeout + d.hard_stop * 2 + d.qmp * 2,
            self.do_power_off(id, graceful_timeout),
        ))
    }

    fn power_on(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        let d = self.config.deadlines;
        Box::pin(Self::bounded(
            id,
            Operation::PowerOn,
            d.start + d.hard_stop * 2 + d.qmp * 2 + self.config.kvm_probe_timeout,
            self.do_power_on(id),
        ))
    }

    fn reboot(&self, id: Uuid, hard: bool) -> HvFuture<'_, InstanceInfo> {
        let d = self.config.deadlines;
        Box::pin(Self::bounded(
            id,
            Operation::Reboot,
            d.soft_reboot + d.start + d.hard_stop * 2 + d.qmp * 4,
            self.do_reboot(id, hard),
        ))
    }

    fn pause(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        let d = self.config.deadlines.qmp * 4;
        Box::pin(Self::bounded(
            id,
            Operation::Pause,
            d,
            self.do_vcpus(id, Operation::Pause, "stop", None),
        ))
    }

    fn unpause(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        let d = self.config.deadlines.qmp * 4;
        Box::pin(Self::bounded(
            id,
            Operation::Unpause,
            d,
            self.do_vcpus(id, Operation::Unpause, "cont", None),
        ))
    }

    fn suspend(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        let d = self.config.deadlines.qmp * 4;
        Box::pin(Self::bounded(
            id,
            Operation::Suspend,
            d,
            self.do_vcpus(id, Operation::Suspend, "stop", Some(true)),
        ))
    }

    fn resume(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        let d = self.config.deadlines.qmp * 4;
        Box::pin(Self::bounded(
            id,
            Operation::Resume,
            d,
            self.do_vcpus(id, Operation::Resume, "cont", Some(false)),
        ))
    }

    fn state(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        let d = self.config.deadlines.qmp * 2;
        Box::pin(Self::bounded(id, Operation::State, d, async move {
            Ok(self.observe(id).await?.info())
        }))
    }

    fn list(&self) -> HvFuture<'_, Vec<InstanceInfo>> {
        // Each instance is bounded by its QMP timeout; the whole list by
        // the spawn deadline, generous for a few hundred VMs.
        let d = self.config.deadlines.spawn;
        Box::pin(Self::bounded(
            Uuid::nil(),
            Operation::List,
            d,
            self.do_list(),
        ))
    }

    fn console_log(&self, id: Uuid, max_bytes: usize) -> HvFuture<'_, String> {
        let d = self.config.deadlines.qmp;
        Box::pin(Self::bounded(
            id,
            Operation::ConsoleLog,
            d,
            self.do_console_log(id, max_bytes),
        ))
    }

    fn resize(&self, spec: InstanceSpec) -> HvFuture<'_, InstanceInfo> {
        let d = self.config.deadlines;
        Box::pin(Self::bounded(
            spec.id,
            Operation::Resize,
            d.disk_copy * 2 + d.qmp * 10,
            self.do_resize(spec),
        ))
    }

    fn confirm_resize(&self, id: Uuid) -> HvFuture<'_, ()> {
        let d = self.config.deadlines.qmp * 2;
        Box::pin(Self::bounded(
            id,
            Operation::ConfirmResize,
            d,
            self.do_confirm_resize(id),
        ))
    }

    fn revert_resize(&self, id: Uuid) -> HvFuture<'_, InstanceInfo> {
        let d = self.config.deadlines.qmp * 4;
        Box::pin(Self::bounded(
            id,
            Operation::RevertResize,
            d,
            self.do_revert_resize(id),
        ))
    }

    fn snapshot<'a>(&'a self, id: Uuid, dest: &'a Path) -> HvFuture<'a, SnapshotInfo> {
        let d = self.config.deadlines;
        Box::pin(Self::bounded(
            id,
            Operation::Snapshot,
            d.disk_copy + d.qmp * 10,
            self.do_snapshot(id, dest),
        ))
    }

    fn attach_nic(&self, id: Uuid, nic: crate::NicSpec) -> HvFuture<'_, InstanceInfo> {
        let d = self.config.deadlines;
        Box::pin(Self::bounded(
            id,
            Operation::AttachNic,
            d.qmp * 10,
            self.do_attach_nic(id, nic),
        ))
    }

    fn detach_nic<'a>(&'a self, id: Uuid, nic: &'a str) -> HvFuture<'a, InstanceInfo> {
        let d = self.config.deadlines;
        Box::pin(Self::bounded(
            id,
            Operation::DetachNic,
            d.nic_unplug + d.qmp * 12,
            self.do_detach_nic(id, nic),
        ))
    }

    fn attach_volume(&self, id: Uuid, volume: crate::VolumeSpec) -> HvFuture<'_, InstanceInfo> {
        let d = self.config.deadlines;
        Box::pin(Self::bounded(
            id,
            Operation::AttachVolume,
            d.qmp * 16,
            self.do_attach_volume(id, volume),
        ))
    }

    fn detach_volume<'a>(&'a self, id: Uuid, volume_id: &'a str) -> HvFuture<'a, InstanceInfo> {
        let d = self.config.deadlines;
        Box::pin(Self::bounded(
            id,
            Operation::DetachVolume,
            d.nic_unplug + d.qmp * 16,
            self.do_detach_volume(id, volume_id),
        ))
    }

    fn update_volume(&self, id: Uuid, volume: crate::VolumeSpec) -> HvFuture<'_, InstanceInfo> {
        let d = self.config.deadlines;
        Box::pin(Self::bounded(
            id,
            Operation::UpdateVolume,
            d.disk_copy + d.qmp * 10,
            self.do_update_volume(id, volume),
        ))
    }

    fn set_root_limits(&self, id: Uuid, limits: crate::IoLimits) -> HvFuture<'_, InstanceInfo> {
        let d = self.config.deadlines;
        Box::pin(Self::bounded(
            id,
            Operation::SetRootLimits,
            d.qmp * 8,
            self.do_set_root_limits(id, limits),
        ))
    }
}
