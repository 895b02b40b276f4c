//! Running one planned operation: the hypervisor call under the agent's
//! deadline, the cleanup of a failed spawn, and the observation of the
//! state the host is really in afterwards (and, for a NIC or volume
//! change, whether the instance changed as asked).

use super::*;

/// Runs one operation under its deadline and observes the result.
pub(super) async fn execute(
    hv: Arc<dyn Hypervisor>,
    cfg: Arc<AgentConfig>,
    id: Uuid,
    action: Action,
    reboot_id: Option<String>,
) -> Done {
    let operation = action.operation();
    let snapshot_id = match &action {
        Action::Snapshot { request_id, .. } => Some(request_id.clone()),
        _ => None,
    };
    let change = match &action {
        Action::AttachNic(nic) => Some(InPlace::AttachNic(nic.clone())),
        Action::DetachNic(tap) => Some(InPlace::DetachNic(tap.clone())),
        Action::AttachVolume(v) => Some(InPlace::AttachVolume(v.volume_id.clone())),
        Action::DetachVolume(v) => Some(InPlace::DetachVolume(v.clone())),
        Action::UpdateVolume(v) => Some(InPlace::UpdateVolume(v.clone())),
        Action::SetRootLimits(l) => Some(InPlace::SetRootLimits(*l)),
        _ => None,
    };
    let limit = match &action {
        // Copying a whole disk takes as long as a spawn may.
        Action::Spawn(_) | Action::Resize(_) | Action::Snapshot { .. } => cfg.spawn_deadline,
        Action::PowerOff => cfg.op_deadline + cfg.graceful_shutdown,
        _ => cfg.op_deadline,
    };
    let call = async {
        match action {
            Action::Spawn(mut spec) => {
                if let (Some(images), false) = (&cfg.images, spec.image_id.is_empty()) {
                    spec.base_image = images
                        .ensure(&spec.image_id, spec.base_format)
                        .await
                        .map_err(|e| format!("base image {}: {e}", spec.image_id))?;
                }
                match hv.spawn(*spec).await {
                    Err(HypervisorError::AlreadyExists { .. }) => Ok(None),
                    r => r.map(Some).map_err(|e| chain(&e)),
                }
            }
            Action::Destroy => hv.destroy(id).await.map(|()| None).map_err(|e| chain(&e)),
            Action::PowerOff => hv
                .power_off(id, cfg.graceful_shutdown)
                .await
                .map(|_| None)
                .map_err(|e| chain(&e)),
            Action::PowerOn => hv.power_on(id).await.map(Some).map_err(|e| chain(&e)),
            Action::Pause => hv.pause(id).await.map(Some).map_err(|e| chain(&e)),
            Action::Unpause => hv.unpause(id).await.map(Some).map_err(|e| chain(&e)),
            Action::Suspend => hv.suspend(id).await.map(Some).map_err(|e| chain(&e)),
            Action::Resume => hv.resume(id).await.map(Some).map_err(|e| chain(&e)),
            Action::Reboot { hard } => hv.reboot(id, hard).await.map(Some).map_err(|e| chain(&e)),
            Action::Resize(spec) => hv.resize(*spec).await.map(Some).map_err(|e| chain(&e)),
            Action::ConfirmResize => hv
                .confirm_resize(id)
                .await
                .map(|()| None)
                .map_err(|e| chain(&e)),
            Action::RevertResize => hv.revert_resize(id).await.map(Some).map_err(|e| chain(&e)),
            Action::AttachNic(nic) => hv
                .attach_nic(id, nic)
                .await
                .map(Some)
                .map_err(|e| chain(&e)),
            Action::DetachNic(tap) => hv
                .detach_nic(id, &tap)
                .await
                .map(Some)
                .map_err(|e| chain(&e)),
            Action::AttachVolume(v) => hv
                .attach_volume(id, *v)
                .await
                .map(Some)
                .map_err(|e| chain(&e)),
            Action::DetachVolume(v) => hv
                .detach_volume(id, &v)
                .await
                .map(Some)
                .map_err(|e| chain(&e)),
            Action::UpdateVolume(v) => hv
                .update_volume(id, *v)
                .await
                .map(Some)
                .map_err(|e| chain(&e)),
            Action::SetRootLimits(l) => hv
                .set_root_limits(id, l)
                .await
                .map(Some)
                .map_err(|e| chain(&e)),
            Action::Snapshot { ref image_id, .. } => {
                let dir = cfg
                    .snapshot_dir
                    .as_ref()
                    .ok_or_else(|| "this host has no snapshot directory".to_owned())?;
                if !is_plain_uuid(image_id) {
                    return Err(format!("image id {image_id:?} is not a UUID"));
                }
                let dest = dir.join(format!("{image_id}.qcow2"));
                hv.snapshot(id, &dest)
                    .await
                    .map(|_| None)
                    .map_err(|e| chain(&e))
            }
        }
    };
    let result = match timeout(limit, call).await {
        Ok(Ok(info)) => Ok(info),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!("{operation:?} did not finish within {limit:?}")),
    };
    let error = result.as_ref().err().cloned();
    let in_place_progress = match (&change, &result) {
        (Some(c), Ok(Some(i))) => c.happened(i),
        _ => false,
    };
    if error.is_some() && operation == Operation::Spawn {
        // A failed spawn leaves nothing behind.
        if let Err(Some(e)) = observe_call(cfg.op_deadline, hv.destroy(id)).await {
            warn!(instance = %id, error = %e, "cleaning up a failed spawn failed");
        }
    }
    let seen = match result {
        Ok(Some(info)) => Seen::Present(info),
        Ok(None) if operation == Operation::Destroy => Seen::Absent,
        _ => match observe_call(cfg.op_deadline, hv.state(id)).await {
            Ok(info) => Seen::Present(info),
            Err(None) => Seen::Absent,
            Err(Some(_)) => Seen::Unknown,
        },
    };
    Done {
        id,
        operation,
        reboot_id,
        snapshot_id,
        in_place_progress,
        error,
        seen,
    }
}

/// The change in place an operation asked for, to tell whether it
/// happened.
enum InPlace {
    AttachNic(NicSpec),
    DetachNic(String),
    AttachVolume(String),
    DetachVolume(String),
    UpdateVolume(Box<ferrostack_hypervisor::VolumeSpec>),
    SetRootLimits(ferrostack_hypervisor::IoLimits),
}

impl InPlace {
    fn happened(&self, i: &InstanceInfo) -> bool {
        match self {
            InPlace::AttachNic(nic) => i.nics.contains(nic),
            InPlace::DetachNic(tap) => i.nics.iter().all(|n| &n.tap != tap),
            InPlace::AttachVolume(id) => i.volumes.iter().any(|v| &v.volume_id == id),
            InPlace::DetachVolume(id) => i.volumes.iter().all(|v| &v.volume_id != id),
            InPlace::UpdateVolume(v) => i.volumes.contains(v),
            InPlace::SetRootLimits(l) => &i.root_limits == l,
        }
    }
}

/// A hypervisor call under a deadline; `Err(None)` is "no such instance".
async fn observe_call<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, HypervisorError>>,
) -> Result<T, Option<String>> {
    match timeout(limit, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(HypervisorError::NotFound { .. })) => Err(None),
        Ok(Err(e)) => Err(Some(chain(&e))),
        Err(_) => Err(Some(format!("no answer within {limit:?}"))),
    }
}
