//! The ordering between kinds, stated once (see `Engine::gate`): what
//! an object requires must be ready before it is brought up, and what
//! requires it must be gone before it is taken down. A NIC hotplug is the
//! one finer case: it waits for its own port, and a port is in use while
//! any VM on the host has a NIC on it, whatever the specs say.

use super::*;

impl Engine {
    /// The ordering between kinds, stated once. An object (an instance or
    /// any other kind) is brought up only when everything it requires is
    /// ready: a port is wired before its VM starts, a network exists
    /// before its ports. It is taken down only when nothing that requires
    /// it is still on the host: a VM is gone before its port is unwired,
    /// and so is any NIC a VM has on the port (see `nic_in_use`). Changes
    /// in place are not ordered; a NIC plugged into a VM is gated on its
    /// own port (`gate_nic`). Volumes are disks of the VM's spec (a boot
    /// volume is there at its spawn) that QEMU opens itself: no host
    /// object stands for them, so nothing orders them.
    ///
    /// A requirement that failed for good blocks what needs it for good
    /// too (the VM whose port cannot be wired ends in ERROR with the
    /// port's fault rather than waiting forever).
    pub(super) fn gate(&self, key: &ObjectKey, direction: Direction) -> Gate {
        match direction {
            Direction::Same => Gate::Go,
            Direction::Up => match self.requires.get(key) {
                Some(required) => self.gate_up(required.iter()),
                None => Gate::Go,
            },
            Direction::Down => {
                let needed = self.requires.iter().any(|(dependent, required)| {
                    required.contains(key) && self.is_present(dependent)
                }) || self.nic_in_use(key);
                if needed {
                    Gate::Wait
                } else {
                    Gate::Go
                }
            }
        }
    }

    /// Up, for a NIC plugged into a VM that exists: only the NIC's own
    /// port must be ready (the VM's other requirements are not re-checked,
    /// and the VM is not stopped or re-gated while it waits).
    pub(super) fn gate_nic(&self, nic: &NicSpec) -> Gate {
        match &nic.port_id {
            Some(port) => self.gate_up(std::iter::once(&ObjectKey::new(Kind::Port, port.clone()))),
            None => Gate::Go,
        }
    }

    /// Up: go when every required object is ready; blocked for good when
    /// one of them failed for good.
    fn gate_up<'a>(&self, required: impl Iterator<Item = &'a ObjectKey> + Clone) -> Gate {
        if let Some((r, fault)) = required.clone().find_map(|r| {
            self.objects
                .get(r)
                .filter(|t| t.phase == Some(ObjectPhase::Failed))
                .map(|t| (r, t.fault.clone().unwrap_or_default()))
        }) {
            return Gate::Blocked(format!("{r} could not be brought up: {fault}"));
        }
        if required.into_iter().all(|r| self.is_ready(r)) {
            Gate::Go
        } else {
            Gate::Wait
        }
    }

    /// Whether a VM on the host still has a NIC on port `key` (or is
    /// plugging one in). The spec's edges alone are not enough: they go
    /// as soon as the spec stops naming the port, while the NIC stays in
    /// the guest until its unplug is done.
    fn nic_in_use(&self, key: &ObjectKey) -> bool {
        key.kind == Kind::Port
            && self.tracked.values().any(|t| {
                (t.power.is_some() || t.busy.is_some())
                    && (t.plugging.as_deref() == Some(key.id.as_str())
                        || t.nics
                            .iter()
                            .any(|n| n.port_id.as_deref() == Some(key.id.as_str())))
            })
    }

    /// Whether `key` is on the host as desired. A kind with no driver
    /// here is never ready.
    pub(super) fn is_ready(&self, key: &ObjectKey) -> bool {
        match key.kind {
            Kind::Instance => instance_id(key)
                .and_then(|id| self.tracked.get(&id))
                .is_some_and(|t| {
                    t.busy.is_none()
                        && t.power.is_some()
                        && t.desired
                            .as_ref()
                            .is_some_and(|d| !d.deleted && d.generation <= t.finished_generation)
                }),
            _ => self.objects.get(key).is_some_and(TrackedObject::is_ready),
        }
    }

    /// Whether anything of `key` may be on the host.
    pub(super) fn is_present(&self, key: &ObjectKey) -> bool {
        match key.kind {
            Kind::Instance => instance_id(key)
                .and_then(|id| self.tracked.get(&id))
                .is_some_and(|t| t.power.is_some() || t.busy.is_some()),
            _ => self.objects.get(key).is_some_and(|t| t.present || t.busy),
        }
    }
}
