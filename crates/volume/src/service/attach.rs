//! Attaching volumes: Cinder's attachments API (3.27+), the older Nova
//! actions (`os-reserve`, `os-attach`, ...), and the same steps as methods
//! compute calls in process.
//!
//! ```text
//!   available --create--> reserved --update(connector)--> attaching
//!       ^                                                    |
//!       |                                                 complete
//!       +----- delete of the last attachment ------------ in-use
//! ```
//!
//! An attachment's `connection_info` is what the host opens:
//! `{"driver_volume_type": "local" | "rbd" | "nbd", "data": {"volume_id",
//! "access_mode": "rw" | "ro", "connection": <ferrostack_host_contract::
//! block::Connection as JSON, tagged by "driver">}}`: the Cinder envelope,
//! with ferrostack's own connection inside, so compute needs no
//! per-driver parsing. An export's key is left out (users read
//! `connection_info`); compute gets the whole connection from
//! [`VolumeState::connect_attachment`].
//!
//! A local-backend volume connected on a host other than its storage host
//! is reached through an export of the storage host (`exports.rs`).

use super::{bad_status, invalid, Caller};
use crate::error::{VolumeError, VolumeResult};
use crate::VolumeState;
use ferrostack_host_contract::block::{Connection, IoLimits};
use ferrostack_store::volume::{Attachment, Volume, VolumeGroup};
use serde_json::{json, Value};

/// What compute needs beside the connection to give a guest the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Size in GiB.
    pub size_gib: u64,
    /// Attach read-only.
    pub read_only: bool,
    /// I/O limits from the type's QoS specs (none until QoS specs exist).
    pub limits: IoLimits,
    /// Set when the connection is an export of another host: wait for it
    /// to be served, and fill the connection's address from the report.
    pub export: Option<super::ExportWait>,
}

fn driver_type(c: &Connection) -> &'static str {
    match c {
        Connection::File { .. } => "local",
        Connection::Rbd { .. } => "rbd",
        Connection::Export { .. } => "nbd",
    }
}

/// The `connection_info` of a volume reached through `c` (module doc).
pub fn connection_info(volume_id: &str, c: &Connection, mode: &str) -> Value {
    json!({
        "driver_volume_type": driver_type(c),
        "data": {"volume_id": volume_id, "access_mode": mode, "connection": c.public_json()},
    })
}

/// The volume status its attachments give it once one changed.
fn status_from(g: &VolumeGroup) -> &'static str {
    if g.attachments.is_empty() {
        "available"
    } else if g.attachments.iter().any(|a| a.attach_status == "attached") {
        "in-use"
    } else if g.attachments.iter().any(|a| a.attach_status == "attaching") {
        "attaching"
    } else {
        "reserved"
    }
}

fn may_attach(
    g: &VolumeGroup,
    instance_uuid: &str,
) -> Result<(), ferrostack_store::volume::Refusal> {
    let s = g.volume.status.as_str();
    let shared = g.volume.multiattach && ["in-use", "reserved", "attaching"].contains(&s);
    if s != "available" && !shared {
        return Err(invalid(format!(
            "Invalid volume: Volume {} status must be available or downloading to reserve, but the current status is {s}.",
            g.volume.id
        )));
    }
    if g.attachments
        .iter()
        .any(|a| a.instance_uuid == instance_uuid)
    {
        return Err(invalid(format!(
            "Invalid volume: Volume {} is already attached to instance {instance_uuid}.",
            g.volume.id
        )));
    }
    Ok(())
}

impl VolumeState {
    /// The attachment `id` if `caller` may see its volume.
    pub fn attachment(&self, caller: &Caller, id: &str) -> VolumeResult<Attachment> {
        match self.store.get_attachment(id)? {
            Some(a) if caller.sees(&a.project_id) => Ok(a),
            _ => Err(VolumeError::NotFound(format!(
                "VolumeAttachment {id} could not be found."
            ))),
        }
    }

    pub(super) fn connection_of(&self, v: &Volume) -> VolumeResult<Connection> {
        Ok(self.backend_of(v)?.connection(&v.id))
    }

    /// `POST /attachments`: reserve `volume_id` for `instance_uuid`, and
    /// connect it at once when a connector is given.
    pub fn create_attachment(
        &self,
        caller: &Caller,
        volume_id: &str,
        instance_uuid: &str,
        connector: Option<Value>,
        mode: &str,
    ) -> VolumeResult<Attachment> {
        let id = ferrostack_common::ids::new_uuid();
        self.create_attachment_as(caller, &id, volume_id, instance_uuid, connector, mode)
    }

    /// [`VolumeState::create_attachment`] under the id `id` (compute draws
    /// it first, see [`VolumeState::reserve_attachment`]).
    fn create_attachment_as(
        &self,
        caller: &Caller,
        id: &str,
        volume_id: &str,
        instance_uuid: &str,
        connector: Option<Value>,
        mode: &str,
    ) -> VolumeResult<Attachment> {
        let v = self.volume(caller, volume_id)?;
        let connection = match &connector {
            Some(_) => Some(self.connection_of(&v)?),
            None => None,
        };
        let now = ferrostack_common::time::now_micros();
        let id = id.to_string();
        let group = self.change(caller, volume_id, |g| {
            may_attach(g, instance_uuid)?;
            let mode = if g.volume.read_only { "ro" } else { mode };
            let mut a = Attachment {
                id: id.clone(),
                volume_id: volume_id.to_string(),
                project_id: g.volume.project_id.clone(),
                instance_uuid: instance_uuid.to_string(),
                attach_status: "reserved".into(),
                attached_host: None,
                mountpoint: None,
                mode: mode.to_string(),
                connector: None,
                connection_info: None,
                attach_time: None,
                detach_time: None,
                created_at: now,
            };
            if let (Some(c), Some(conn)) = (&connector, &connection) {
                connect(&mut a, c, conn);
            }
            g.attachments.push(a);
            g.volume.status = status_from(g).into();
            Ok(())
        })?;
        tracing::info!(volume_id, attachment_id = %id, instance_uuid, "volume attachment created");
        take(group, &id)
    }

    /// `PUT /attachments/{id}`: connect with the host's `connector`.
    pub fn update_attachment(
        &self,
        caller: &Caller,
        id: &str,
        connector: Value,
    ) -> VolumeResult<Attachment> {
        let a = self.attachment(caller, id)?;
        let v = self.volume(caller, &a.volume_id)?;
        let connection = self.connection_of(&v)?;
        let group = self.change(caller, &a.volume_id, |g| {
            let a = found(g, id)?;
            if a.attach_status == "detaching" {
                return Err(invalid(format!(
                    "Invalid volume: attachment {id} is being detached."
                )));
            }
            connect(a, &connector, &connection);
            g.volume.status = status_from(g).into();
            Ok(())
        })?;
        take(group, id)
    }

    /// `os-complete`: the host attached it; the volume is `in-use`.
    pub fn complete_attachment(&self, caller: &Caller, id: &str) -> VolumeResult<()> {
        let a = self.attachment(caller, id)?;
        self.change(caller, &a.volume_id, |g| {
            let a = found(g, id)?;
            a.attach_status = "attached".into();
            a.attach_time = Some(ferrostack_common::time::now_micros());
            g.volume.status = status_from(g).into();
            Ok(())
        })?;
        Ok(())
    }

    /// `DELETE /attachments/{id}`: the volume is `available` again when no
    /// attachment remains.
    pub fn delete_attachment(&self, caller: &Caller, id: &str) -> VolumeResult<()> {
        let a = self.attachment(caller, id)?;
        self.change(caller, &a.volume_id, |g| {
            found(g, id)?;
            g.attachments.retain(|a| a.id != id);
            g.volume.status = status_from(g).into();
            Ok(())
        })?;
        tracing::info!(attachment_id = id, volume_id = %a.volume_id, "volume attachment deleted");
        self.release_export(&a.volume_id)
    }

    /// For compute: reserve `volume_id` for `instance_uuid` under the
    /// attachment id compute drew (recorded on its side first, so a crash
    /// between the two leaves a record that releases this one). A repeat
    /// with the same id finds the attachment made.
    pub fn reserve_attachment(
        &self,
        caller: &Caller,
        volume_id: &str,
        instance_uuid: &str,
        attachment_id: &str,
    ) -> VolumeResult<()> {
        if let Some(a) = self.store.get_attachment(attachment_id)? {
            if a.volume_id == volume_id && a.instance_uuid == instance_uuid {
                return Ok(());
            }
        }
        self.create_attachment_as(caller, attachment_id, volume_id, instance_uuid, None, "rw")
            .map(drop)
    }

    /// For compute: connect the attachment on `host`; how the host reaches
    /// the volume and what the guest's disk needs.
    pub fn connect_attachment(
        &self,
        caller: &Caller,
        attachment_id: &str,
        host: &str,
    ) -> VolumeResult<(Connection, VolumeInfo)> {
        let a = self.attachment(caller, attachment_id)?;
        let v = self.volume(caller, &a.volume_id)?;
        let file = self.connection_of(&v)?;
        let a = self.update_attachment(caller, attachment_id, json!({"host": host}))?;
        // A local-backend volume is a file on its storage host's disk:
        // another host reaches it through an export of the storage host.
        let storage_host = self.storage_host(&v);
        let (connection, export) = match (&file, &storage_host) {
            (Connection::File { .. }, Some(storage)) if storage != host => {
                let (c, wait) = self.export_connection(&v, &file, host)?;
                (c, Some(wait))
            }
            _ => {
                // A reconnect here may end an export to another host.
                self.release_export(&v.id)?;
                (file, None)
            }
        };
        Ok((
            connection,
            VolumeInfo {
                size_gib: v.size_gib,
                read_only: a.mode == "ro",
                limits: self.disk_limits(&v)?,
                export,
            },
        ))
    }

    /// `os-initialize_connection`: the connection info for `connector`
    /// (no state changes, as in Cinder).
    pub fn initialize_connection(&self, caller: &Caller, volume_id: &str) -> VolumeResult<Value> {
        let v = self.volume(caller, volume_id)?;
        let c = self.connection_of(&v)?;
        Ok(connection_info(
            &v.id,
            &c,
            if v.read_only { "ro" } else { "rw" },
        ))
    }

    /// The older flow's status-only steps: `os-reserve` (to `attaching`),
    /// `os-unreserve`, `os-begin_detaching` (to `detaching`) and
    /// `os-roll_detaching`.
    pub fn legacy_step(&self, caller: &Caller, id: &str, action: &str) -> VolumeResult<()> {
        self.change(caller, id, |g| {
            let s = g.volume.status.clone();
            match action {
                "os-reserve" => {
                    let shared = g.volume.multiattach && s == "in-use";
                    if s != "available" && !shared {
                        return Err(bad_status(id, "available", &s));
                    }
                    g.volume.status = "attaching".into();
                }
                "os-unreserve" => {
                    if s == "attaching" {
                        g.volume.status = status_from(g).into();
                    }
                }
                "os-begin_detaching" => {
                    if s != "in-use" {
                        return Err(bad_status(id, "in-use", &s));
                    }
                    g.volume.status = "detaching".into();
                }
                _ => {
                    if s == "detaching" {
                        g.volume.status = status_from(g).into();
                    }
                }
            }
            Ok(())
        })?;
        Ok(())
    }

    /// `os-attach`: record an attachment made by the older flow.
    pub fn legacy_attach(
        &self,
        caller: &Caller,
        id: &str,
        instance_uuid: &str,
        host: Option<String>,
        mountpoint: Option<String>,
        mode: &str,
    ) -> VolumeResult<()> {
        let now = ferrostack_common::time::now_micros();
        self.change(caller, id, |g| {
            let s = g.volume.status.as_str();
            if s != "attaching" && s != "available" && !(g.volume.multiattach && s == "in-use") {
                return Err(bad_status(id, "attaching", s));
            }
            g.attachments.push(Attachment {
                id: ferrostack_common::ids::new_uuid(),
                volume_id: id.to_string(),
                project_id: g.volume.project_id.clone(),
                instance_uuid: instance_uuid.to_string(),
                attach_status: "attached".into(),
                attached_host: host.clone(),
                mountpoint: mountpoint.clone(),
                mode: mode.to_string(),
                connector: None,
                connection_info: None,
                attach_time: Some(now),
                detach_time: None,
                created_at: now,
            });
            g.volume.status = "in-use".into();
            Ok(())
        })?;
        Ok(())
    }

    /// `os-detach`: drop `attachment_id` (or the only attachment).
    pub fn legacy_detach(
        &self,
        caller: &Caller,
        id: &str,
        attachment_id: Option<&str>,
    ) -> VolumeResult<()> {
        self.change(caller, id, |g| {
            let target =
                match attachment_id {
                    Some(a) => a.to_string(),
                    None if g.attachments.len() == 1 => g.attachments[0].id.clone(),
                    None => return Err(invalid(
                        "Invalid volume: Volume has more than one attachment; give attachment_id.",
                    )),
                };
            found(g, &target)?;
            g.attachments.retain(|a| a.id != target);
            g.volume.status = status_from(g).into();
            Ok(())
        })?;
        self.release_export(id)
    }
}

fn connect(a: &mut Attachment, connector: &Value, c: &Connection) {
    a.attach_status = "attaching".into();
    a.attached_host = connector
        .get("host")
        .and_then(Value::as_str)
        .map(str::to_string);
    a.mountpoint = connector
        .get("mountpoint")
        .and_then(Value::as_str)
        .map(str::to_string);
    a.connector = Some(connector.clone());
    a.connection_info = Some(connection_info(&a.volume_id, c, &a.mode));
}

fn found<'a>(
    g: &'a mut VolumeGroup,
    id: &str,
) -> Result<&'a mut Attachment, ferrostack_store::volume::Refusal> {
    g.attachments
        .iter_mut()
        .find(|a| a.id == id)
        .ok_or_else(|| invalid(format!("VolumeAttachment {id} could not be found.")))
}

fn take(group: VolumeGroup, id: &str) -> VolumeResult<Attachment> {
    group
        .attachments
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| VolumeError::Internal("attachment vanished".into()))
}
