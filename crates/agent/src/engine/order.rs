//! The ordering between kinds, stated once (see `Engine::gate`): what
//! an object requires must be ready before it is brought up, and what
//! requires it must be gone before it is taken down.

use super::*;

impl Engine {
    /// The ordering between kinds, stated once. An object (an instance or
    /// any other kind) is brought up only when everything it requires is
    /// ready: a port is wired before its VM starts, a boot volume is
    /// attached before its guest starts, a network exists before its
    /// ports. It is taken down only when nothing that requires it is still
    /// on the host: a VM is gone before its port is unwired. Changes in
    /// place are not ordered.
    ///
    /// A requirement that failed for good blocks what needs it for good
    /// too (the VM whose port cannot be wired ends in ERROR with the
    /// port's fault rather than waiting forever).
    pub(super) fn gate(&self, key: &ObjectKey, direction: Direction) -> Gate {
        match direction {
            Direction::Same => Gate::Go,
            Direction::Up => {
                let Some(required) = self.requires.get(key) else {
                    return Gate::Go;
                };
                if let Some((r, fault)) = required.iter().find_map(|r| {
                    self.objects
                        .get(r)
                        .filter(|t| t.phase == Some(ObjectPhase::Failed))
                        .map(|t| (r, t.fault.clone().unwrap_or_default()))
                }) {
                    return Gate::Blocked(format!("{r} could not be brought up: {fault}"));
                }
                if required.iter().all(|r| self.is_ready(r)) {
                    Gate::Go
                } else {
                    Gate::Wait
                }
            }
            Direction::Down => {
                let needed = self.requires.iter().any(|(dependent, required)| {
                    required.contains(key) && self.is_present(dependent)
                });
                if needed {
                    Gate::Wait
                } else {
                    Gate::Go
                }
            }
        }
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
