//! Operations on an instance's disk rather than its process: resize (with
//! a backup to revert to), confirm, revert, snapshot.
//!
//! A resize backup is two files in the instance directory: the overlay as
//! it was (`disk.resize-backup.qcow2`) and the spec as it was
//! (`spec.resize-backup.json`). The spec backup is the marker: it is
//! written after the disk backup and removed before it, so "a backup
//! exists" is one `exists()` and an interrupted resize or confirm never
//! reports a backup it cannot restore. Every file is replaced by a rename,
//! so an agent that dies half way leaves either the old or the new file,
//! never half of one; the one gap (revert interrupted between restoring
//! the disk and the spec) is finished by the next revert.
//!
//! Rejected: a backing-chain trick for the backup (a new overlay on top of
//! the old one) — it avoids a copy but makes every later operation walk a
//! longer chain and makes confirm a block commit. Overlays are small; a
//! copy is simpler.
//!
//! A snapshot is `qemu-img convert -f qcow2 -O qcow2` of the overlay: the
//! backing chain is read through, so the result has no backing file and
//! can be uploaded as an image on its own. A running guest is stopped
//! (QMP `stop`, which drains and flushes its disks) for the copy, so the
//! image is crash-consistent, and continued afterwards whatever happened;
//! QEMU keeps its image lock meanwhile, so the copy then needs `-U`.
//! A caller that gives up (drops the future, e.g. its deadline) must not
//! leave the guest paused or a half-written file: guards send `cont` and
//! remove the temporary file when dropped armed.

use super::*;
use crate::{BaseFormat, SnapshotInfo};

/// Writes `raw` to `dest` (mode 0600: a spec holds user data) through a
/// temporary file in the same directory and a rename.
pub(super) fn write_private(dest: &Path, raw: &[u8]) -> Result<()> {
    let tmp = crate::temp_name(dest);
    let r = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(raw).and_then(|()| f.sync_all()))
        .map_err(io_err(&tmp))
        .and_then(|()| std::fs::rename(&tmp, dest).map_err(io_err(dest)));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

fn spec_json(spec: &InstanceSpec, path: &Path) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(spec).map_err(|e| HypervisorError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Removes a temporary file when dropped, unless disarmed (the file was
/// renamed into place).
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Continues a guest stopped for a snapshot if the snapshot's future is
/// dropped before it did so itself: a detached task sends `cont`.
struct ContinueOnDrop {
    id: Uuid,
    qmp: PathBuf,
    deadline: Duration,
    armed: bool,
}

impl Drop for ContinueOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (id, qmp, deadline) = (self.id, self.qmp.clone(), self.deadline);
        tracing::warn!(%id, "snapshot abandoned while the guest was stopped; continuing it");
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let r = match QmpClient::connect(&qmp, deadline).await {
                    Ok(mut c) => c.execute("cont", None).await.map(|_| ()),
                    Err(e) => Err(e),
                };
                if let Err(e) = r {
                    tracing::error!(%id, error = %e, "cannot continue the guest after an abandoned snapshot");
                }
            });
        }
    }
}

/// What `qemu-img info` says about a qcow2 file.
struct DiskInfo {
    virtual_size: u64,
    backing: Option<String>,
}

impl QemuHypervisor {
    /// `qemu-img info -f qcow2` of one file; `force_share` (`-U`) when a
    /// running QEMU holds its lock.
    async fn disk_info(
        &self,
        id: Uuid,
        op: Operation,
        path: &Path,
        force_share: bool,
    ) -> Result<DiskInfo> {
        let mut argv = vec![
            s(&self.config.qemu_img),
            "info".into(),
            "-f".into(),
            "qcow2".into(),
            "--output=json".into(),
        ];
        if force_share {
            argv.push("-U".into());
        }
        argv.push(s(path));
        let out = run(argv, id, op, self.config.deadlines.qmp * 6, &[]).await?;
        let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| HypervisorError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        let virtual_size = v
            .get("virtual-size")
            .and_then(Value::as_u64)
            .ok_or_else(|| HypervisorError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "qemu-img info shows no virtual-size",
                ),
            })?;
        let backing = v
            .get("backing-filename")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(DiskInfo {
            virtual_size,
            backing,
        })
    }

    /// Copies a file through a temporary name and a rename (`cp`, so a
    /// large overlay is copied by the kernel, under a deadline).
    async fn copy_file(&self, id: Uuid, op: Operation, from: &Path, to: &Path) -> Result<()> {
        let tmp = crate::temp_name(to);
        let mut guard = RemoveOnDrop(Some(tmp.clone()));
        let r = async {
            run(
                vec![
                    "cp".into(),
                    "--sparse=always".into(),
                    "--".into(),
                    s(from),
                    s(&tmp),
                ],
                id,
                op,
                self.config.deadlines.disk_copy,
                &[],
            )
            .await?;
            std::fs::rename(&tmp, to).map_err(io_err(to))
        }
        .await;
        if r.is_ok() {
            guard.disarm();
        }
        r
    }

    /// An observed, `Shutoff` instance for `op`, or why not.
    async fn observe_shutoff(&self, id: Uuid, op: Operation) -> Result<Observed> {
        self.observe_checked(id, op, false).await
    }

    pub(super) async fn do_resize(&self, spec: InstanceSpec) -> Result<InstanceInfo> {
        let id = spec.id;
        let op = Operation::Resize;
        if spec.vcpus == 0 || spec.memory_mib == 0 {
            return Err(HypervisorError::InvalidSpec(
                "vcpus and memory_mib must be positive".into(),
            ));
        }
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let o = self.observe_shutoff(id, op).await?;
        if o.resize_backup {
            return Err(HypervisorError::InvalidState {
                id,
                op,
                state: o.state,
            });
        }
        let paths = self.paths(id);
        // A boot-from-volume instance has no overlay: its size is vCPUs
        // and memory (the volume grows through update_volume).
        let overlay = crate::volumes::boot_volume(&o.spec).is_none();
        let current = if overlay {
            self.disk_info(id, op, &paths.disk, false).await?
        } else {
            DiskInfo {
                virtual_size: 0,
                backing: None,
            }
        };
        let want = spec.root_disk_gib.saturating_mul(1 << 30);
        if spec.root_disk_gib > 0 && want < current.virtual_size {
            return Err(HypervisorError::InvalidSpec(format!(
                "root disk of {} GiB is smaller than the disk's {} bytes; disks never shrink",
                spec.root_disk_gib, current.virtual_size
            )));
        }
        let mut new = o.spec.clone();
        new.vcpus = spec.vcpus;
        new.memory_mib = spec.memory_mib;
        if spec.root_disk_gib > 0 && overlay {
            new.root_disk_gib = spec.root_disk_gib;
        }
        let old_raw = spec_json(&o.spec, &paths.spec_backup)?;
        let new_raw = spec_json(&new, &paths.spec)?;

        // A disk backup without the marker is left over from an
        // interrupted resize: replaced.
        remove_if_exists(&paths.disk_backup)?;
        if overlay {
            self.copy_file(id, op, &paths.disk, &paths.disk_backup)
                .await?;
        }
        if let Err(e) = write_private(&paths.spec_backup, &old_raw) {
            let _ = std::fs::remove_file(&paths.disk_backup);
            return Err(e);
        }
        let applied = async {
            if overlay && want > current.virtual_size {
                run(
                    vec![
                        s(&self.config.qemu_img),
                        "resize".into(),
                        "-q".into(),
                        "-f".into(),
                        "qcow2".into(),
                        s(&paths.disk),
                        want.to_string(),
                    ],
                    id,
                    op,
                    self.config.deadlines.disk_copy,
                    &[],
                )
                .await?;
            }
            write_private(&paths.spec, &new_raw)
        }
        .await;
        if let Err(e) = applied {
            // Undo: the old disk back (the spec was not replaced), then
            // drop the marker.
            let restored = if overlay {
                std::fs::rename(&paths.disk_backup, &paths.disk).map_err(io_err(&paths.disk))
            } else {
                Ok(())
            };
            if let Err(undo) = restored.and_then(|()| remove_if_exists(&paths.spec_backup)) {
                tracing::error!(%id, error = %undo, "cannot undo a failed resize");
            }
            return Err(e);
        }
        tracing::info!(%id, vcpus = new.vcpus, memory_mib = new.memory_mib, root_disk_gib = new.root_disk_gib, "resized; backup kept");
        Ok(self.observe(id).await?.info())
    }

    pub(super) async fn do_confirm_resize(&self, id: Uuid) -> Result<()> {
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let paths = self.paths(id);
        if !paths.spec.exists() {
            return Err(HypervisorError::NotFound { id });
        }
        // The marker first: a half-done confirm shows no backup.
        remove_if_exists(&paths.spec_backup)?;
        remove_if_exists(&paths.disk_backup)
    }

    pub(super) async fn do_revert_resize(&self, id: Uuid) -> Result<InstanceInfo> {
        let op = Operation::RevertResize;
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let o = self.observe_shutoff(id, op).await?;
        if !o.resize_backup {
            return Err(HypervisorError::InvalidState {
                id,
                op,
                state: o.state,
            });
        }
        let paths = self.paths(id);
        // Check the backup spec parses before touching anything.
        let raw = std::fs::read(&paths.spec_backup).map_err(io_err(&paths.spec_backup))?;
        let old: InstanceSpec = serde_json::from_slice(&raw).map_err(|e| HypervisorError::Io {
            path: paths.spec_backup.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        if paths.disk_backup.exists() {
            std::fs::rename(&paths.disk_backup, &paths.disk).map_err(io_err(&paths.disk))?;
        } else if crate::volumes::boot_volume(&old).is_none() {
            // A revert interrupted after restoring the disk: finish it.
            tracing::warn!(%id, "resize backup without its disk; finishing an interrupted revert");
        }
        // The size goes back, the volumes stay as they are now: they are
        // not part of the size, and one detached since the resize may be
        // another host's by now. The marker goes last, so an interrupted
        // revert is finished by the next.
        let mut old = old;
        old.volumes = o.spec.volumes;
        write_private(&paths.spec, &spec_json(&old, &paths.spec)?)?;
        remove_if_exists(&paths.spec_backup)?;
        tracing::info!(%id, "resize reverted");
        Ok(self.observe(id).await?.info())
    }

    pub(super) async fn do_snapshot(&self, id: Uuid, dest: &Path) -> Result<SnapshotInfo> {
        let op = Operation::Snapshot;
        let lock = self.lock(id);
        let _guard = lock.lock().await;
        let o = self.observe_checked(id, op, false).await?;
        if crate::volumes::boot_volume(&o.spec).is_some() {
            return Err(crate::fake::no_overlay_snapshot(id));
        }
        let paths = self.paths(id);
        let stopped = o.state == PowerState::Running;
        let mut guard = ContinueOnDrop {
            id,
            qmp: paths.qmp.clone(),
            deadline: self.config.deadlines.qmp,
            armed: false,
        };
        if stopped {
            // Armed before the command: a stop that went through but
            // whose answer was lost still gets its cont.
            guard.armed = true;
            if let Err(e) = self.qmp_exec(id, &paths, "stop").await {
                guard.armed = false;
                let _ = self.qmp_exec(id, &paths, "cont").await;
                return Err(e);
            }
        }
        let r = self.convert(id, &paths, dest, o.pid.is_some()).await;
        if stopped {
            guard.armed = false;
            if let Err(e) = self.qmp_exec(id, &paths, "cont").await {
                tracing::error!(%id, error = %e, "cannot continue the guest after a snapshot");
                if r.is_ok() {
                    // The guest is left paused: the caller must know, and
                    // a failed snapshot leaves nothing at dest.
                    let _ = std::fs::remove_file(dest);
                    return Err(e);
                }
            }
        }
        r
    }

    /// `qemu-img convert` of the overlay (through its backing chain) to a
    /// temporary file next to `dest`, checked, then renamed into place.
    async fn convert(
        &self,
        id: Uuid,
        paths: &Paths,
        dest: &Path,
        force_share: bool,
    ) -> Result<SnapshotInfo> {
        let op = Operation::Snapshot;
        let tmp = crate::temp_name(dest);
        let mut guard = RemoveOnDrop(Some(tmp.clone()));
        let r = async {
            let mut argv = vec![
                s(&self.config.qemu_img),
                "convert".into(),
                "-f".into(),
                "qcow2".into(),
                "-O".into(),
                "qcow2".into(),
            ];
            if force_share {
                argv.push("-U".into());
            }
            argv.extend([s(&paths.disk), s(&tmp)]);
            run(argv, id, op, self.config.deadlines.disk_copy, &[]).await?;
            let info = self.disk_info(id, op, &tmp, false).await?;
            if let Some(b) = info.backing {
                return Err(HypervisorError::Io {
                    path: tmp.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("the snapshot still has a backing file {b:?}"),
                    ),
                });
            }
            let size = std::fs::metadata(&tmp).map_err(io_err(&tmp))?.len();
            std::fs::rename(&tmp, dest).map_err(io_err(dest))?;
            Ok(SnapshotInfo {
                format: BaseFormat::Qcow2,
                size,
                virtual_size: info.virtual_size,
            })
        }
        .await;
        if r.is_ok() {
            guard.disarm();
        }
        r
    }
}
