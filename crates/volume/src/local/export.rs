//! Reading snapshots raw for backups, and writing raw data back
//! ([`BackupSource`] and [`RestoreTarget`] for [`LocalBackend`]).
//!
//! A view is `qemu-img map --output=json` of the snapshot's frozen layer:
//! one process that reads only qcow2 metadata (L1/L2 tables) along the
//! chain, and says for each run of the disk whether it reads as zeros or
//! where its bytes sit (which file of the chain, at which offset). The
//! engine then reads those bytes straight from the files, so a backup
//! reads only allocated data and nothing is converted or copied first.
//! Rejected: `qemu-img convert -O raw` to a temporary sparse file and
//! reading it with SEEK_DATA, which writes every allocated byte once more
//! and needs that much scratch space. It remains the fallback when a run
//! has data but no offset (compressed or encrypted clusters, possible
//! in a user's qcow2 image): then the whole snapshot is converted and
//! mapped, and nothing in that view is stable.
//!
//! Every file in a snapshot's chain is immutable (frozen layers, image
//! references) and named by a UUID never reused, so extents carry a
//! stable name: what lets an incremental backup skip unchanged chunks
//! without reading them.
//!
//! Restoring is `qemu-img convert -n -f raw -O qcow2 <raw> volumes/<id>`:
//! the existing volume is written in place (zeros as zero clusters, which
//! also hide any backing data), so the volume keeps its id, size and path.

use super::{check_id, io_err, LocalBackend};
use crate::backend::{BackendError, BackendFuture};
use crate::backup::source::{BackupSource, Extent, ExtentData, RawView, RestoreTarget, TempFile};
use std::path::{Path, PathBuf};

#[derive(serde::Deserialize)]
struct MapEntry {
    start: u64,
    length: u64,
    depth: usize,
    zero: bool,
    data: bool,
    offset: Option<u64>,
}

impl LocalBackend {
    /// The files of the chain under `top`, top first (image references
    /// are leaves and never parsed).
    fn chain(&self, top: &Path) -> Result<Vec<PathBuf>, BackendError> {
        let mut chain = vec![top.to_path_buf()];
        let mut cur = top.to_path_buf();
        while !cur.starts_with(&self.layout.images) {
            let h = super::files::read_header(&cur).map_err(io_err(&cur))?;
            match h.backing {
                Some(b) => {
                    if chain.len() > 10_000 || !b.starts_with(&self.root) {
                        return Err(BackendError::Failed(format!(
                            "{}: unexpected backing chain",
                            top.display()
                        )));
                    }
                    chain.push(b.clone());
                    cur = b;
                }
                None => break,
            }
        }
        Ok(chain)
    }

    async fn map(&self, path: &Path, format: &str) -> Result<Vec<MapEntry>, BackendError> {
        let out = self
            .qemu_img(&[
                "map".as_ref(),
                "--output=json".as_ref(),
                "-f".as_ref(),
                format.as_ref(),
                path.as_os_str(),
            ])
            .await?;
        serde_json::from_slice(&out)
            .map_err(|e| BackendError::Failed(format!("qemu-img map {}: {e}", path.display())))
    }

    fn stable_name(&self, path: &Path) -> Option<String> {
        if path.starts_with(&self.layout.layers) || path.starts_with(&self.layout.images) {
            path.strip_prefix(&self.root)
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
        } else {
            None
        }
    }

    /// The whole chain converted to a temporary raw file, then mapped.
    async fn converted_view(&self, layer: &Path, size: u64) -> Result<RawView, BackendError> {
        let tmp = TempFile(
            self.layout
                .tmp
                .join(format!(".export-{}.raw", uuid::Uuid::new_v4().simple())),
        );
        self.qemu_img(&[
            "convert".as_ref(),
            "-f".as_ref(),
            "qcow2".as_ref(),
            "-O".as_ref(),
            "raw".as_ref(),
            layer.as_os_str(),
            tmp.0.as_os_str(),
        ])
        .await?;
        let mut extents = Vec::new();
        for e in self.map(&tmp.0, "raw").await? {
            let data = match (e.zero, e.data, e.offset) {
                (false, true, Some(offset)) => ExtentData::File {
                    path: tmp.0.clone(),
                    offset,
                    stable: None,
                },
                _ => ExtentData::Zero,
            };
            extents.push(Extent {
                start: e.start,
                length: e.length,
                data,
            });
        }
        Ok(RawView {
            size,
            extents,
            temp: Some(tmp),
        })
    }
}

impl BackupSource for LocalBackend {
    fn snapshot_view<'a>(&'a self, snapshot_id: &'a str) -> BackendFuture<'a, RawView> {
        Box::pin(async move {
            check_id("snapshot", snapshot_id)?;
            // The lock only to find the snapshot and its chain: mapping
            // (and converting, the slow fallback) happens after, on files
            // the snapshot's name keeps, which the caller holds until it
            // has read the view.
            let (layer, size, chain) = {
                let _g = self.lock().await;
                if !self.layout.snapshots.join(snapshot_id).exists() {
                    return Err(BackendError::Missing(format!("snapshot {snapshot_id}")));
                }
                let layer = self.snapshot_path(snapshot_id);
                let size = super::files::read_header(&layer)
                    .map_err(io_err(&layer))?
                    .size;
                let chain = self.chain(&layer)?;
                (layer, size, chain)
            };
            let map = self.map(&layer, "qcow2").await?;
            let mut extents = Vec::with_capacity(map.len());
            for e in map {
                let data = if e.zero {
                    ExtentData::Zero
                } else if !e.data {
                    // Neither data nor zero: not described plainly.
                    return self.converted_view(&layer, size).await;
                } else {
                    match (e.offset, chain.get(e.depth)) {
                        (Some(offset), Some(file)) => ExtentData::File {
                            path: file.clone(),
                            offset,
                            stable: self.stable_name(file),
                        },
                        // Compressed or encrypted clusters.
                        _ => return self.converted_view(&layer, size).await,
                    }
                };
                extents.push(Extent {
                    start: e.start,
                    length: e.length,
                    data,
                });
            }
            Ok(RawView {
                size,
                extents,
                temp: None,
            })
        })
    }
}

impl RestoreTarget for LocalBackend {
    fn volume_size<'a>(&'a self, volume_id: &'a str) -> BackendFuture<'a, u64> {
        Box::pin(async move {
            check_id("volume", volume_id)?;
            let top = self.volume_path(volume_id);
            match super::files::read_header(&top) {
                Ok(h) => Ok(h.size),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(BackendError::Missing(format!("volume {volume_id}")))
                }
                Err(e) => Err(io_err(&top)(e)),
            }
        })
    }

    fn write_raw<'a>(&'a self, volume_id: &'a str, raw: &'a Path) -> BackendFuture<'a, ()> {
        Box::pin(async move {
            let size = self.volume_size(volume_id).await?;
            let len = std::fs::metadata(raw).map_err(io_err(raw))?.len();
            if len > size {
                return Err(BackendError::Invalid(format!(
                    "{len} bytes do not fit in volume {volume_id} ({size} bytes)"
                )));
            }
            // Not under the backend's lock: a restore takes seconds, and
            // touches only this volume's top, which the API keeps out of
            // every other call while it restores (garbage collection
            // never removes a top).
            let top = self.volume_path(volume_id);
            self.qemu_img(&[
                "convert".as_ref(),
                "-n".as_ref(),
                "-f".as_ref(),
                "raw".as_ref(),
                "-O".as_ref(),
                "qcow2".as_ref(),
                raw.as_os_str(),
                top.as_os_str(),
            ])
            .await?;
            super::files::sync_file(&top).map_err(io_err(&top))
        })
    }
}
