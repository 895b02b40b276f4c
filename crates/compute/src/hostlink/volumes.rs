//! Volume attachments follow what the host reports, never what was asked:
//! an attachment is completed (the volume `in-use`) once the agent
//! reports the disk in the VM at the server's generation, and released
//! (the volume `available`) once it reports the guest has let go of a
//! detached one. An attach the host could not do (the generation reached,
//! the disk absent) is undone: its attachment released, the disk dropped
//! from the server's spec, so no volume stays `attaching`.
//!
//! Calls to the volume service happen outside the server row's write;
//! each is idempotent, so a crash between the call and the row's update
//! repeats it at the next report.

use super::HostLink;
use crate::servers::lifecycle::to_store;
use crate::servers::{desired, doc, set_desired, set_doc, ServerDoc};
use ferrostack_host_contract::ObservedInstance;
use ferrostack_store::StoreResult;
use std::collections::HashSet;

impl HostLink {
    /// Settle the attachments of server `uuid` against its report `o`.
    pub(super) fn settle_volumes(&self, uuid: &str, o: &ObservedInstance) -> StoreResult<()> {
        let Some(service) = &self.volumes else {
            return Ok(());
        };
        let Some(row) = self.servers.get_instance(uuid)? else {
            return Ok(());
        };
        if row.deleted_at.is_some() || (o.observed_generation as i64) < row.generation {
            return Ok(());
        }
        let d = doc(&row).map_err(to_store)?;
        let present: HashSet<&str> = o.volumes.iter().map(|v| v.volume_id.as_str()).collect();
        let waiting = d
            .volumes
            .iter()
            .filter(|v| !v.attached && v.connection.is_some());
        let (plugged, failed): (Vec<_>, Vec<_>) =
            waiting.partition(|v| present.contains(v.volume_id.as_str()));
        let unplugged = d
            .detaching_volumes
            .iter()
            .filter(|v| !present.contains(v.volume_id.as_str()));
        let mut completed = Vec::new();
        for v in plugged {
            match service.complete(&v.attachment_id) {
                Ok(()) => completed.push(v.attachment_id.clone()),
                Err(e) => {
                    tracing::warn!(server = uuid, volume = %v.volume_id, error = %e, "cannot complete a volume attachment; retried at the next report")
                }
            }
        }
        let mut released = Vec::new();
        for v in failed.into_iter().chain(unplugged) {
            match service.release(&v.attachment_id) {
                Ok(()) => released.push(v.attachment_id.clone()),
                Err(e) => {
                    tracing::warn!(server = uuid, volume = %v.volume_id, error = %e, "cannot release a volume attachment; retried at the next report")
                }
            }
        }
        if completed.is_empty() && released.is_empty() {
            return Ok(());
        }
        self.servers.modify_instance(uuid, &mut |i| {
            let mut d: ServerDoc = doc(i).map_err(to_store)?;
            for v in d.volumes.iter_mut() {
                if completed.contains(&v.attachment_id) {
                    v.attached = true;
                }
            }
            let before = d.volumes.len();
            d.volumes.retain(|v| !released.contains(&v.attachment_id));
            d.detaching_volumes
                .retain(|v| !released.contains(&v.attachment_id));
            if d.volumes.len() != before {
                tracing::warn!(server = %i.uuid, "the host could not attach a volume; its attachment is released");
                if let Some(mut want) = desired(i).map_err(to_store)? {
                    want.spec.volumes = d.volumes.iter().filter_map(|v| v.spec()).collect();
                    set_desired(i, want).map_err(to_store)?;
                }
            }
            set_doc(i, &d).map_err(to_store)
        })?;
        self.kick();
        Ok(())
    }

    /// Give back a deleted server's volumes: every attachment its document
    /// names is released (reserving, attached or detaching), and the
    /// volumes its boot made with `delete_on_termination` are deleted.
    pub(super) fn release_volumes(&self, uuid: &str, d: &ServerDoc) -> StoreResult<()> {
        let Some(service) = &self.volumes else {
            return Ok(());
        };
        for v in d.volumes.iter().chain(&d.detaching_volumes) {
            service.release(&v.attachment_id).map_err(to_store)?;
            if v.delete_on_termination {
                if let Err(e) = service.delete_volume(&v.volume_id) {
                    tracing::warn!(server = uuid, volume = %v.volume_id, error = %e, "cannot delete a volume with delete_on_termination; it is left available");
                }
            }
        }
        Ok(())
    }
}
