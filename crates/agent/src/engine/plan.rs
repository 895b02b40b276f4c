//! Planning: the next operation for one idle instance, from its desired
//! and observed state (the decision list in the module doc of
//! [`super`]).

use super::*;

/// Decides the next operation for an idle instance, or marks its
/// generation finished when there is nothing left to do.
pub(super) fn plan(t: &mut Tracked, cfg: &AgentConfig) -> Option<Action> {
    let failed = matches!(t.task, Some(TaskOutcome::Failed { .. }));
    let Some(d) = t.desired.as_ref() else {
        // An orphan. A reap that failed for good is not tried again.
        return (t.power.is_some() && cfg.reap_orphans && !failed).then_some(Action::Destroy);
    };
    let failed_this_generation = failed && t.finished_generation >= d.generation;
    if d.deleted {
        if failed_this_generation {
            // The destroy failed for good: reported, not retried in a loop.
            return None;
        }
        if t.power.is_some() {
            return Some(Action::Destroy);
        }
        t.task = Some(TaskOutcome::Deleted);
        t.finished_generation = d.generation;
        return None;
    }
    if let (Some(r), Some(state)) = (&d.reboot, t.power) {
        if Some(&r.request_id) != t.last_reboot.as_ref() {
            if d.power != DesiredPower::Running {
                // A reboot only means something for a running server; the
                // control plane should not ask otherwise. Consumed.
                t.last_reboot = Some(r.request_id.clone());
            } else if !failed_this_generation {
                return Some(match state {
                    PowerState::Shutoff => Action::PowerOn,
                    PowerState::Running => Action::Reboot { hard: r.hard },
                    _ => Action::Reboot { hard: true },
                });
            }
        }
    }
    if let Some(r) = &d.snapshot {
        if Some(&r.request_id) != t.last_snapshot.as_ref() {
            if t.power.is_some() {
                return Some(Action::Snapshot {
                    request_id: r.request_id.clone(),
                    image_id: r.image_id.clone(),
                });
            }
            if d.generation <= t.finished_generation {
                // Not on the host and not going to be: consumed.
                t.last_snapshot = Some(r.request_id.clone());
                t.snapshot_error = Some("the instance is not on this host".into());
            }
        }
    }
    if d.generation <= t.finished_generation {
        return None;
    }
    if let Some(r) = &d.rebuild {
        if Some(&r.request_id) != t.last_rebuild.as_ref() {
            if t.power.is_some() {
                // Rebuild, step 1: the old VM and its disk go.
                return Some(Action::Destroy);
            }
            // Step 2 is the spawn below; the request counts as started.
            t.last_rebuild = Some(r.request_id.clone());
            t.resize_backup = false;
            t.size = None;
        }
    }
    let Some(state) = t.power else {
        return Some(Action::Spawn(Box::new(d.spec.clone())));
    };
    if let Some(step) = resize_step(d, t, state) {
        return Some(step);
    }
    if let Some(step) = nic_step(d, t, state) {
        return Some(step);
    }
    if let Some(step) = volume_step(d, t, state) {
        return Some(step);
    }
    use DesiredPower as D;
    use PowerState as S;
    let action = match (d.power, state) {
        (D::Running, S::Running)
        | (D::Stopped, S::Shutoff)
        | (D::Paused, S::Paused)
        | (D::Suspended, S::Suspended)
        // A panicked guest is reported; a hard reboot (a new request) or a
        // stop brings it back.
        | (D::Running | D::Paused | D::Suspended, S::Crashed) => None,
        (D::Running | D::Paused | D::Suspended, S::Shutoff) => Some(Action::PowerOn),
        (D::Running | D::Suspended, S::Paused) => Some(Action::Unpause),
        (D::Running | D::Paused, S::Suspended) => Some(Action::Resume),
        (D::Stopped, _) => Some(Action::PowerOff),
        (D::Paused, S::Running) => Some(Action::Pause),
        (D::Suspended, S::Running) => Some(Action::Suspend),
    };
    if action.is_none() {
        t.finished_generation = d.generation;
        t.failures = 0;
        t.steps = 0;
        t.retry_at = None;
        t.task = Some(TaskOutcome::Idle);
        if d.power.satisfied_by(state) {
            t.fault = None;
        }
    }
    action
}

/// The next NIC change, if the instance's NICs differ from its spec's:
/// first unplug what the spec no longer names (so a NIC replaced on the
/// same tap or MAC can be plugged again), then plug what it adds, one NIC
/// per operation. Only where the driver can (running, paused, or stopped,
/// where it changes what the next start gets); a suspended or crashed
/// guest gets its power step first, and keeps its NICs if it stays so.
fn nic_step(d: &DesiredInstance, t: &Tracked, state: PowerState) -> Option<Action> {
    if !matches!(
        state,
        PowerState::Running | PowerState::Paused | PowerState::Shutoff
    ) {
        return None;
    }
    if let Some(gone) = t.nics.iter().find(|n| !d.spec.nics.contains(n)) {
        return Some(Action::DetachNic(gone.tap.clone()));
    }
    d.spec
        .nics
        .iter()
        .find(|n| !t.nics.contains(n))
        .map(|n| Action::AttachNic(n.clone()))
}

/// Whether two specs of a volume are the same disk to QEMU (what it
/// opened and how the guest sees it); the rest changes in place.
fn same_disk(a: &VolumeSpec, b: &VolumeSpec) -> bool {
    a.volume_id == b.volume_id
        && a.connection == b.connection
        && a.serial == b.serial
        && a.read_only == b.read_only
        && a.boot_index == b.boot_index
}

/// The next volume change, if the instance's disks differ from its
/// spec's: first unplug what the spec no longer names or names as another
/// disk, then plug what it adds, then apply changed limits or sizes, then
/// the root disk's limits; one change per operation, in the same states
/// as NICs.
fn volume_step(d: &DesiredInstance, t: &Tracked, state: PowerState) -> Option<Action> {
    if !matches!(
        state,
        PowerState::Running | PowerState::Paused | PowerState::Shutoff
    ) {
        return None;
    }
    let want = &d.spec.volumes;
    if let Some(gone) = t
        .volumes
        .iter()
        .find(|v| !want.iter().any(|w| same_disk(v, w)))
    {
        return Some(Action::DetachVolume(gone.volume_id.clone()));
    }
    if let Some(new) = want
        .iter()
        .find(|w| !t.volumes.iter().any(|v| v.volume_id == w.volume_id))
    {
        return Some(Action::AttachVolume(Box::new(new.clone())));
    }
    if let Some(changed) = want.iter().find(|w| !t.volumes.contains(w)) {
        return Some(Action::UpdateVolume(Box::new(changed.clone())));
    }
    (t.root_limits != d.spec.root_limits).then_some(Action::SetRootLimits(d.spec.root_limits))
}

/// The next resize step, if the resize desire is not met yet.
fn resize_step(d: &DesiredInstance, t: &Tracked, state: PowerState) -> Option<Action> {
    let off_first = |action| {
        Some(if state == PowerState::Shutoff {
            action
        } else {
            Action::PowerOff
        })
    };
    match d.resize {
        ResizeDesire::None => t.resize_backup.then_some(Action::ConfirmResize),
        ResizeDesire::Revert => {
            if t.resize_backup {
                off_first(Action::RevertResize)
            } else {
                None
            }
        }
        ResizeDesire::Keep => {
            let differs = t.size.is_some_and(|size| {
                size.vcpus != d.spec.vcpus
                    || size.memory_mib != d.spec.memory_mib
                    || (d.spec.root_disk_gib != 0 && size.root_disk_gib != d.spec.root_disk_gib)
            });
            if differs {
                off_first(Action::Resize(Box::new(d.spec.clone())))
            } else {
                None
            }
        }
    }
}
