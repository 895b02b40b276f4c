//! Volumes reached from another host: the export rows behind a storage
//! host's block-device section.
//!
//! A local-backend volume is a file on its storage host's disk. When
//! compute connects it on another host, the volume service makes sure the
//! storage host exports it (NBD over TLS, served by the storage host's
//! agent: `ferrostack_hypervisor::exports`) to that host, and answers an
//! export connection instead of the file:
//!
//! ```text
//!   connect_attachment(H != S)  -> attachment.attached_host = H
//!                               -> sync: export row of the volume on S,
//!                                  allowed_hosts = attachments' hosts but S,
//!                                  key drawn once (256 random bits)
//!                               -> Connection::Export { name, key } and an
//!                                  ExportWait { S, generation }: compute
//!                                  waits for S's agent to report it ready
//!   delete_attachment           -> sync: the host leaves allowed_hosts; the
//!                                  row goes with its last host (the host
//!                                  link then sends S a tombstone)
//! ```
//!
//! The allowed hosts are derived from the attachments each time (not
//! added and removed one by one), so a sync repeated after a crash or a
//! refused step converges on what the attachments say. Two syncs of one
//! multi-attached volume racing (an attach on one host while a detach on
//! another) can leave the later-read view one change behind until the
//! next attach or detach of the volume; a stale entry only keeps an
//! export up longer.
//!
//! The key lives in the export row and in the desired documents (the
//! storage host's export, the client's disk); it is never in
//! `connection_info`, which users can read (`Connection::public_json`).

use crate::error::{VolumeError, VolumeResult};
use crate::VolumeState;
use ferrostack_host_contract::block::{Connection, PskKey};
use ferrostack_store::volume::{Attachment, Volume, VolumeGroup};
use ferrostack_store::volume_exports::VolumeExport;

/// What a connection through an export waits for: the storage host's
/// agent reporting the export ready at `generation` or later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportWait {
    /// The storage host.
    pub storage_host: String,
    /// The volume (the export's id in the host's reports).
    pub volume_id: String,
    /// The export row's generation that includes the connecting host.
    pub generation: u64,
}

/// Whether a volume has an attachment on a host other than its storage
/// host (so a guest reads it over an export).
pub(crate) fn exported(g: &VolumeGroup, storage_host: Option<&str>) -> bool {
    let Some(storage) = storage_host else {
        return false;
    };
    g.attachments
        .iter()
        .any(|a| a.attached_host.as_deref().is_some_and(|h| h != storage))
}

/// The hosts an export must serve: the attachments' hosts but the storage
/// host itself, sorted, once each.
fn needing_hosts(attachments: &[Attachment], storage_host: &str) -> Vec<String> {
    let mut hosts: Vec<String> = attachments
        .iter()
        .filter_map(|a| a.attached_host.clone())
        .filter(|h| h != storage_host)
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

impl VolumeState {
    /// Brings volume `v`'s export in line with its attachments (module
    /// doc); `file` is its connection on the storage host. Returns the
    /// row after, if the volume is still exported.
    pub(super) fn sync_export(
        &self,
        v: &Volume,
        file: &Connection,
    ) -> VolumeResult<Option<VolumeExport>> {
        let Some(storage) = self.storage_host(v) else {
            return Ok(None);
        };
        let Connection::File { path, format } = file else {
            return Ok(None);
        };
        let hosts = needing_hosts(&self.store.volume_attachments(&v.id)?, &storage);
        let row = self.store.change_export(&v.id, &mut |before| {
            if hosts.is_empty() {
                return None;
            }
            let key = before
                .as_ref()
                .map(|b| b.key.clone())
                .unwrap_or_else(|| PskKey::random().expose().to_owned());
            Some(VolumeExport {
                volume_id: v.id.clone(),
                host: storage.clone(),
                path: path.clone(),
                format: format.clone(),
                allowed_hosts: hosts.clone(),
                key,
                generation: before.map_or(0, |b| b.generation),
            })
        })?;
        match &row {
            Some(r) => {
                tracing::info!(volume_id = %v.id, storage_host = %storage, hosts = ?r.allowed_hosts, generation = r.generation, "volume export set")
            }
            None => tracing::debug!(volume_id = %v.id, "volume not exported"),
        }
        Ok(row)
    }

    /// After an attachment of `volume_id` went: drop its host from the
    /// volume's export, if it has one.
    pub(super) fn release_export(&self, volume_id: &str) -> VolumeResult<()> {
        if self.store.get_export(volume_id)?.is_none() {
            return Ok(());
        }
        let Some(v) = self.store.get_volume(volume_id)? else {
            // The volume is gone: so must its export be.
            self.store.change_export(volume_id, &mut |_| None)?;
            return Ok(());
        };
        let file = self.connection_of(&v)?;
        self.sync_export(&v, &file).map(drop)
    }

    /// The connection a host other than the storage host opens, once the
    /// export is up: its address is the storage host's to say (compute
    /// fills it from the agent's report, see [`ExportWait`]).
    pub(super) fn export_connection(
        &self,
        v: &Volume,
        file: &Connection,
        host: &str,
    ) -> VolumeResult<(Connection, ExportWait)> {
        let row = self.sync_export(v, file)?.ok_or_else(|| {
            VolumeError::Internal(format!("volume {} was not exported to {host}", v.id))
        })?;
        if !row.allowed_hosts.iter().any(|h| h == host) {
            return Err(VolumeError::BadRequest(format!(
                "Invalid volume: volume {} is not connected on host {host}.",
                v.id
            )));
        }
        let key = PskKey::from_hex(&row.key)
            .ok_or_else(|| VolumeError::Internal(format!("volume {}: a bad export key", v.id)))?;
        Ok((
            Connection::Export {
                address: String::new(),
                name: v.id.clone(),
                key,
            },
            ExportWait {
                storage_host: row.host,
                volume_id: v.id.clone(),
                generation: row.generation,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attachment(host: Option<&str>) -> Attachment {
        Attachment {
            id: "a".into(),
            volume_id: "v".into(),
            project_id: "p".into(),
            instance_uuid: "i".into(),
            attach_status: "attaching".into(),
            attached_host: host.map(str::to_owned),
            mountpoint: None,
            mode: "rw".into(),
            connector: None,
            connection_info: None,
            attach_time: None,
            detach_time: None,
            created_at: 0,
        }
    }

    #[test]
    fn only_other_hosts_need_the_export() {
        let a = [
            attachment(Some("s")),
            attachment(Some("c2")),
            attachment(None),
            attachment(Some("c1")),
            attachment(Some("c2")),
        ];
        assert_eq!(needing_hosts(&a, "s"), vec!["c1", "c2"]);
        assert!(needing_hosts(&a[..1], "s").is_empty());
    }
}
