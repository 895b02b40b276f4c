//! Creating volumes: blank, from an image, a snapshot or another volume.
//!
//! Everything that can refuse is checked before the quota is taken, the
//! quota is taken before the row is written, and the backend runs only
//! after the commit, in a spawned task (see the parent module). The
//! source's backend is the new volume's: a copy never crosses backends.

use super::{quota_error, resources, store_error, Caller};
use crate::backend::{ImageFile, VolumeBackend};
use crate::error::{VolumeError, VolumeResult};
use crate::hooks::ImageError;
use crate::VolumeState;
use ferrostack_quota::VOLUME;
use ferrostack_store::volume::Volume;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const GIB: u64 = 1 << 30;

/// What a create asks for (the HTTP body, checked, or compute's request).
#[derive(Clone, Debug, Default)]
pub struct NewVolume {
    /// The id to give it: compute's boot from volume draws it before its
    /// first step, so an undo after a crash knows it. `None` draws one.
    pub id: Option<String>,
    /// Size in GiB; `None` takes the source's.
    pub size_gib: Option<u64>,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// Type name or id; `None` is the default type.
    pub volume_type: Option<String>,
    /// Availability zone; `None` is the configured one.
    pub availability_zone: Option<String>,
    /// Copy of this snapshot.
    pub snapshot_id: Option<String>,
    /// Clone of this volume.
    pub source_volid: Option<String>,
    /// From this image.
    pub image_id: Option<String>,
    /// Allow several attachments.
    pub multiattach: bool,
    /// The status once the backend has made it: `available`, unless a
    /// restore follows (`restoring-backup`, so no one attaches a volume
    /// the restore is about to write).
    pub ready_status: Option<&'static str>,
}

enum Source {
    Blank,
    Image(ImageFile),
    Snapshot(String),
    Volume(String),
}

impl VolumeState {
    /// Create a volume (Cinder's `volume_api.create`): the row is
    /// `creating` when this returns, and becomes `available` or `error`
    /// once the backend is done.
    pub async fn create_volume(&self, caller: &Caller, req: NewVolume) -> VolumeResult<Volume> {
        let req_ready = req.ready_status;
        let zone = req
            .availability_zone
            .clone()
            .unwrap_or_else(|| self.availability_zone.clone());
        if zone != self.availability_zone {
            return Err(VolumeError::BadRequest(format!(
                "Invalid input received: Availability zone '{zone}' is invalid."
            )));
        }
        let mut vtype = match &req.volume_type {
            Some(t) => Some(self.volume_type(caller, t)?),
            None => None,
        };
        let (source, source_size, source_backend) = self.source(caller, &req).await?;
        if vtype.is_none() {
            vtype = Some(match &source_backend {
                Some((_, type_id)) => self
                    .store
                    .get_type(type_id)?
                    .ok_or_else(|| VolumeError::Internal("source type gone".into()))?,
                None => self.volume_type(caller, ferrostack_store::volume::DEFAULT_TYPE)?,
            });
        }
        let vtype = vtype.ok_or_else(|| VolumeError::Internal("no type".into()))?;
        let size = req.size_gib.unwrap_or(source_size);
        if size == 0 {
            return Err(VolumeError::BadRequest(format!(
                "Invalid input received: Volume size '{size}' must be an integer and greater than 0"
            )));
        }
        if let Source::Image(file) = &source {
            if size < file.min_disk_gib {
                return Err(VolumeError::BadRequest(format!(
                    "Invalid input received: Volume size {size}GB cannot be smaller than the image minDisk size {}GB.",
                    file.min_disk_gib
                )));
            }
        }
        if size < source_size {
            return Err(VolumeError::BadRequest(match &source {
                Source::Image(_) => format!(
                    "Invalid input received: Size of specified image {source_size}GB is larger than volume size {size}GB."
                ),
                _ => format!(
                    "Invalid input received: Volume size '{size}'GB cannot be smaller than the source size {source_size}GB. They must be >= original size."
                ),
            }));
        }
        let backend: Arc<dyn VolumeBackend> = match &source_backend {
            // The source's host, wherever it is (another controller's
            // backend through its peer endpoint).
            Some((parent, _)) => self.backend_of(parent)?,
            None => self.backend_for(&vtype)?,
        };
        let limits = self.quotas.limits(&VOLUME, &caller.project_id)?;
        let per_volume = limits.get("per_volume_gigabytes").copied().unwrap_or(-1);
        if per_volume >= 0 && size as i64 > per_volume {
            return Err(VolumeError::Status(
                http::StatusCode::PAYLOAD_TOO_LARGE,
                format!("Requested volume size {size}G is larger than maximum allowed limit {per_volume}G."),
            ));
        }
        let now = ferrostack_common::time::now_micros();
        let mut volume = Volume {
            id: req
                .id
                .clone()
                .unwrap_or_else(ferrostack_common::ids::new_uuid),
            project_id: caller.project_id.clone(),
            user_id: caller.user_id.clone(),
            name: req.name,
            description: req.description,
            size_gib: size,
            status: "creating".into(),
            availability_zone: zone,
            volume_type_id: vtype.id.clone(),
            backend_name: backend.backend_name().to_string(),
            host: Some(VolumeState::host_of(backend.as_ref())),
            bootable: false,
            read_only: false,
            multiattach: req.multiattach,
            metadata: req.metadata,
            image_metadata: BTreeMap::new(),
            snapshot_id: req.snapshot_id,
            source_volid: req.source_volid,
            image_id: None,
            error: None,
            created_at: now,
            updated_at: now,
        };
        if let Source::Image(file) = &source {
            volume.image_id = Some(file.image_id.clone());
            volume.bootable = true;
            volume.image_metadata = BTreeMap::from([
                ("image_id".to_string(), file.image_id.clone()),
                ("disk_format".to_string(), file.format.clone()),
                ("size".to_string(), file.virtual_size.to_string()),
            ]);
        }
        if let Source::Snapshot(_) | Source::Volume(_) = &source {
            if let Some(v) = self.source_volume_of(&volume)? {
                volume.bootable = v.bootable;
                volume.image_metadata = v.image_metadata;
            }
        }
        let held = resources(&[
            ("volumes", 1),
            ("gigabytes", size as i64),
            (&format!("volumes_{}", vtype.name), 1),
            (&format!("gigabytes_{}", vtype.name), size as i64),
        ]);
        self.quotas
            .reserve(&VOLUME, &caller.project_id, &volume.id, &held)
            .map_err(quota_error)?;
        if let Err(e) = self.store.create_volume(&volume) {
            let _ = self.quotas.release(&VOLUME, &volume.id);
            return Err(store_error(e));
        }
        tracing::info!(volume_id = %volume.id, size, backend = backend.backend_name(), "volume created");
        let state = self.me();
        let id = volume.id.clone();
        let ready = req_ready.unwrap_or("available");
        tokio::spawn(async move {
            let r = match &source {
                Source::Blank => backend.create_blank(&id, size).await,
                Source::Image(f) => backend.create_from_image(&id, f, size).await,
                Source::Snapshot(s) => backend.create_from_snapshot(&id, s, size).await,
                Source::Volume(v) => backend.create_from_volume(&id, v, size).await,
            };
            if let Some(state) = state.upgrade() {
                state.settle(&id, |g| {
                    if g.volume.status != "creating" {
                        return;
                    }
                    match &r {
                        Ok(()) => g.volume.status = ready.into(),
                        Err(e) => {
                            tracing::error!(volume_id = %id, error = %e, "volume creation failed on the backend");
                            g.volume.status = "error".into();
                            g.volume.error = Some(e.to_string());
                        }
                    }
                });
            }
        });
        Ok(volume)
    }

    fn source_volume_of(&self, v: &Volume) -> VolumeResult<Option<Volume>> {
        let id = match (&v.source_volid, &v.snapshot_id) {
            (Some(id), _) => id.clone(),
            (None, Some(s)) => match self.store.get_snapshot(s)? {
                Some(s) => s.volume_id,
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        Ok(self.store.get_volume(&id)?)
    }

    /// The source, its size in GiB, and (for snapshots and volumes) the
    /// backend and type of the volume it comes from.
    async fn source(
        &self,
        caller: &Caller,
        req: &NewVolume,
    ) -> VolumeResult<(Source, u64, Option<(Volume, String)>)> {
        let given = [&req.snapshot_id, &req.source_volid, &req.image_id]
            .iter()
            .filter(|s| s.is_some())
            .count();
        if given > 1 {
            return Err(VolumeError::BadRequest(
                "Invalid input received: only one of snapshot_id, source_volid and imageRef may be given.".into(),
            ));
        }
        if let Some(sid) = &req.snapshot_id {
            let s = match self.store.get_snapshot(sid)? {
                Some(s) if caller.sees(&s.project_id) => s,
                _ => {
                    return Err(VolumeError::NotFound(format!(
                        "Snapshot {sid} could not be found."
                    )))
                }
            };
            if s.status != "available" {
                return Err(VolumeError::BadRequest(
                    "Invalid snapshot: Originating snapshot status must be one of 'available' values".into(),
                ));
            }
            let parent = self.store.get_volume(&s.volume_id)?;
            let parent = parent.map(|v| {
                let t = v.volume_type_id.clone();
                (v, t)
            });
            return Ok((Source::Snapshot(sid.clone()), s.size_gib, parent));
        }
        if let Some(vid) = &req.source_volid {
            let v = self.volume(caller, vid)?;
            if v.status != "available" && v.status != "in-use" {
                return Err(VolumeError::BadRequest(format!(
                    "Invalid volume: Volume {vid} status must be available or in-use, but current status is: {}.",
                    v.status
                )));
            }
            if v.status == "in-use" {
                return Err(VolumeError::BadRequest(
                    "Invalid volume: cloning an attached volume is not supported by the local backend yet.".into(),
                ));
            }
            return Ok((
                Source::Volume(vid.clone()),
                v.size_gib,
                Some((v.clone(), v.volume_type_id)),
            ));
        }
        if let Some(image_id) = &req.image_id {
            let file = self
                .images
                .image_file(&caller.project_id, caller.is_admin, image_id)
                .await
                .map_err(|e| match e {
                    ImageError::NotFound(_) => VolumeError::NotFound(e.to_string()),
                    ImageError::Unusable(m) => {
                        VolumeError::BadRequest(format!("Invalid image: {m}"))
                    }
                })?;
            let size = file.virtual_size.div_ceil(GIB).max(1);
            return Ok((Source::Image(file), size, None));
        }
        Ok((Source::Blank, 0, None))
    }

    /// Boot from volume: a volume of `size_gib` from `image_id`, for
    /// compute (same rules and quota as `openstack volume create --image`).
    pub async fn create_volume_from_image(
        &self,
        caller: &Caller,
        image_id: &str,
        size_gib: u64,
        volume_type: Option<&str>,
    ) -> VolumeResult<Volume> {
        self.create_volume(
            caller,
            NewVolume {
                size_gib: Some(size_gib),
                image_id: Some(image_id.to_string()),
                volume_type: volume_type.map(str::to_string),
                ..NewVolume::default()
            },
        )
        .await
    }

    /// Wait until volume `id` leaves `creating` (polling the store every
    /// 100 ms, for at most `timeout`): the volume when `available`, a 400
    /// naming the state otherwise.
    pub async fn wait_available(
        &self,
        caller: &Caller,
        id: &str,
        timeout: Duration,
    ) -> VolumeResult<Volume> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let v = self.volume(caller, id)?;
            match v.status.as_str() {
                "available" => return Ok(v),
                "creating" | "downloading" if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => {
                    return Err(VolumeError::BadRequest(format!(
                        "Invalid volume: Volume {id} is {other}, not available."
                    )))
                }
            }
        }
    }
}
