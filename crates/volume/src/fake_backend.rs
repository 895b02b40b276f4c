//! An in-memory [`VolumeBackend`]: a second implementation of the trait,
//! for tests of the API without disks (the local backend is
//! `crate::local`). It keeps sizes per volume and snapshot, checks
//! sources as a real backend would, records every call, and can be told
//! to fail the next calls or to hold them until released.

use crate::backend::{BackendError, BackendFuture, Capacity, ImageFile, VolumeBackend};
use ferrostack_host_contract::block::Connection;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
struct Inner {
    volumes: BTreeMap<String, u64>,
    snapshots: BTreeMap<String, u64>,
    // Live snapshots begun and not finished.
    frozen: BTreeMap<String, u64>,
    calls: Vec<String>,
    fail: Option<String>,
}

/// The fake backend.
pub struct FakeBackend {
    name: String,
    host: String,
    total_gib: u64,
    inner: Mutex<Inner>,
    gate: tokio::sync::Semaphore,
}

impl FakeBackend {
    /// A backend called `name` on `host`, with `total_gib` of space;
    /// calls run at once.
    pub fn new(name: &str, host: &str, total_gib: u64) -> Self {
        FakeBackend {
            name: name.into(),
            host: host.into(),
            total_gib,
            inner: Mutex::default(),
            gate: tokio::sync::Semaphore::new(tokio::sync::Semaphore::MAX_PERMITS),
        }
    }

    /// Hold every call until [`FakeBackend::open`] (to see transient states).
    pub fn close(&self) {
        let _ = self
            .gate
            .forget_permits(tokio::sync::Semaphore::MAX_PERMITS);
    }

    /// Let held and future calls run.
    pub fn open(&self) {
        self.gate
            .add_permits(tokio::sync::Semaphore::MAX_PERMITS - self.gate.available_permits());
    }

    /// Fail every call from now on with `message` (`None` to stop).
    pub fn fail_with(&self, message: Option<&str>) {
        self.lock().fail = message.map(str::to_string);
    }

    /// Every call so far, as `method id...`.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// The volumes held and their sizes.
    pub fn volumes(&self) -> BTreeMap<String, u64> {
        self.lock().volumes.clone()
    }

    /// The snapshots held and their sizes.
    pub fn snapshots(&self) -> BTreeMap<String, u64> {
        self.lock().snapshots.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn run<T>(
        &self,
        call: String,
        f: impl FnOnce(&mut Inner) -> Result<T, BackendError>,
    ) -> Result<T, BackendError> {
        drop(self.gate.acquire().await);
        let mut inner = self.lock();
        inner.calls.push(call);
        if let Some(m) = &inner.fail {
            return Err(BackendError::Failed(m.clone()));
        }
        f(&mut inner)
    }
}

fn copy(
    inner: &mut Inner,
    volume_id: &str,
    source: Option<u64>,
    what: &str,
    size_gib: u64,
) -> Result<(), BackendError> {
    let from = source.ok_or_else(|| BackendError::Missing(what.to_string()))?;
    if size_gib < from {
        return Err(BackendError::Invalid(format!(
            "volume of {size_gib} GiB is smaller than its source of {from} GiB"
        )));
    }
    inner.volumes.insert(volume_id.to_string(), size_gib);
    Ok(())
}

impl VolumeBackend for FakeBackend {
    fn backend_name(&self) -> &str {
        &self.name
    }

    fn host(&self) -> &str {
        &self.host
    }

    fn create_blank<'a>(&'a self, volume_id: &'a str, size_gib: u64) -> BackendFuture<'a, ()> {
        Box::pin(
            self.run(format!("create_blank {volume_id} {size_gib}"), move |i| {
                i.volumes.insert(volume_id.to_string(), size_gib);
                Ok(())
            }),
        )
    }

    fn create_from_image<'a>(
        &'a self,
        volume_id: &'a str,
        image: &'a ImageFile,
        size_gib: u64,
    ) -> BackendFuture<'a, ()> {
        let call = format!(
            "create_from_image {volume_id} {} {size_gib}",
            image.image_id
        );
        Box::pin(self.run(call, move |i| {
            let need = image.virtual_size.div_ceil(1 << 30);
            copy(i, volume_id, Some(need), &image.image_id, size_gib)
        }))
    }

    fn create_from_snapshot<'a>(
        &'a self,
        volume_id: &'a str,
        snapshot_id: &'a str,
        size_gib: u64,
    ) -> BackendFuture<'a, ()> {
        let call = format!("create_from_snapshot {volume_id} {snapshot_id} {size_gib}");
        Box::pin(self.run(call, move |i| {
            let from = i.snapshots.get(snapshot_id).copied();
            copy(i, volume_id, from, snapshot_id, size_gib)
        }))
    }

    fn create_from_volume<'a>(
        &'a self,
        volume_id: &'a str,
        source_volume_id: &'a str,
        size_gib: u64,
    ) -> BackendFuture<'a, ()> {
        let call = format!("create_from_volume {volume_id} {source_volume_id} {size_gib}");
        Box::pin(self.run(call, move |i| {
            let from = i.volumes.get(source_volume_id).copied();
            copy(i, volume_id, from, source_volume_id, size_gib)
        }))
    }

    fn extend<'a>(&'a self, volume_id: &'a str, new_size_gib: u64) -> BackendFuture<'a, ()> {
        Box::pin(
            self.run(format!("extend {volume_id} {new_size_gib}"), move |i| {
                let size = i
                    .volumes
                    .get_mut(volume_id)
                    .ok_or_else(|| BackendError::Missing(volume_id.to_string()))?;
                *size = (*size).max(new_size_gib);
                Ok(())
            }),
        )
    }

    fn delete<'a>(&'a self, volume_id: &'a str) -> BackendFuture<'a, ()> {
        Box::pin(self.run(format!("delete {volume_id}"), move |i| {
            i.volumes.remove(volume_id);
            Ok(())
        }))
    }

    fn create_snapshot<'a>(
        &'a self,
        snapshot_id: &'a str,
        volume_id: &'a str,
    ) -> BackendFuture<'a, ()> {
        let call = format!("create_snapshot {snapshot_id} {volume_id}");
        Box::pin(self.run(call, move |i| {
            let size = i
                .volumes
                .get(volume_id)
                .copied()
                .ok_or_else(|| BackendError::Missing(volume_id.to_string()))?;
            i.snapshots.insert(snapshot_id.to_string(), size);
            Ok(())
        }))
    }

    fn begin_live_snapshot<'a>(
        &'a self,
        snapshot_id: &'a str,
        volume_id: &'a str,
    ) -> BackendFuture<'a, ()> {
        let call = format!("begin_live_snapshot {snapshot_id} {volume_id}");
        Box::pin(self.run(call, move |i| {
            let size = i
                .volumes
                .get(volume_id)
                .copied()
                .ok_or_else(|| BackendError::Missing(volume_id.to_string()))?;
            i.frozen.insert(snapshot_id.to_string(), size);
            Ok(())
        }))
    }

    fn finish_live_snapshot<'a>(&'a self, snapshot_id: &'a str) -> BackendFuture<'a, ()> {
        let call = format!("finish_live_snapshot {snapshot_id}");
        Box::pin(self.run(call, move |i| {
            if i.snapshots.contains_key(snapshot_id) {
                return Ok(());
            }
            let size = i
                .frozen
                .remove(snapshot_id)
                .ok_or_else(|| BackendError::Missing(format!("layer of {snapshot_id}")))?;
            i.snapshots.insert(snapshot_id.to_string(), size);
            Ok(())
        }))
    }

    fn delete_snapshot<'a>(&'a self, snapshot_id: &'a str) -> BackendFuture<'a, ()> {
        Box::pin(
            self.run(format!("delete_snapshot {snapshot_id}"), move |i| {
                i.snapshots.remove(snapshot_id);
                Ok(())
            }),
        )
    }

    fn connection(&self, volume_id: &str) -> Connection {
        Connection::File {
            path: format!("/fake/{}/{volume_id}", self.name),
            format: "qcow2".into(),
        }
    }

    fn capacity(&self) -> BackendFuture<'_, Capacity> {
        Box::pin(self.run("capacity".into(), |i| {
            let provisioned: u64 = i.volumes.values().sum();
            Ok(Capacity {
                total_gib: self.total_gib,
                free_gib: self.total_gib.saturating_sub(provisioned),
                provisioned_gib: provisioned,
            })
        }))
    }
}
