//! Backups of local-backend volumes, with real `qemu-img`.

#![allow(clippy::unwrap_used)]

use ferrostack_volume::backend::{ImageFile, VolumeBackend};
use ferrostack_volume::backup::{BackupError, BackupStore, Content};
use ferrostack_volume::local::LocalBackend;
use std::path::Path;
use std::process::Command;

fn have_qemu() -> bool {
    let ok = ["qemu-img", "qemu-io"].iter().all(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    });
    if !ok {
        eprintln!("SKIP: qemu-img or qemu-io is not installed (Debian: qemu-utils)");
    }
    ok
}

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

struct Setup {
    dir: tempfile::TempDir,
    backend: LocalBackend,
    store: BackupStore,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let backend = LocalBackend::open("local", "host1", dir.path().join("volumes")).unwrap();
    let store = BackupStore::open(dir.path().join("backups")).unwrap();
    Setup {
        dir,
        backend,
        store,
    }
}

fn qemu_io(path: &Path, cmd: &str) -> bool {
    Command::new("qemu-io")
        .args(["-f", "qcow2", "-c", cmd])
        .arg(path)
        .output()
        .unwrap()
        .status
        .success()
}

fn write(path: &Path, pattern: u8, offset: &str, len: &str) {
    assert!(qemu_io(
        path,
        &format!("write -P {pattern:#x} {offset} {len}")
    ));
}

fn reads(path: &Path, pattern: u8, offset: &str, len: &str) -> bool {
    qemu_io(path, &format!("read -P {pattern:#x} {offset} {len}"))
}

/// `qemu-img compare` of two qcow2 files: true when identical.
fn same(a: &Path, b: &Path) -> bool {
    let out = Command::new("qemu-img")
        .args(["compare", "-q", "-f", "qcow2", "-F", "qcow2"])
        .arg(a)
        .arg(b)
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!("qemu-img compare: {}", String::from_utf8_lossy(&out.stderr)),
    }
}

fn chunk_files(s: &Setup) -> usize {
    std::fs::read_dir(s.dir.path().join("backups/chunks"))
        .unwrap()
        .count()
}

/// A 1 GiB volume from a raw image (first 6 MiB of 0x5a), with writes of
/// its own at 0 and at 300 MiB.
async fn volume_with_data(s: &Setup) -> String {
    let image = s.dir.path().join("image.raw");
    let mut data = vec![0x5au8; 6 << 20];
    data.resize(16 << 20, 0);
    std::fs::write(&image, data).unwrap();
    let image = ImageFile {
        image_id: id(),
        path: image,
        format: "raw".into(),
        virtual_size: 16 << 20,
        min_disk_gib: 0,
    };
    let v = id();
    s.backend.create_from_image(&v, &image, 1).await.unwrap();
    let p = s.backend.volume_path(&v);
    write(&p, 0xab, "0", "64k");
    write(&p, 0xac, "300M", "5M");
    v
}

#[tokio::test]
async fn a_full_backup_restores_to_a_new_volume_byte_for_byte() {
    if !have_qemu() {
        return;
    }
    let s = setup();
    let v = volume_with_data(&s).await;
    let b = id();
    let stats = s
        .store
        .backup_volume(&s.backend, &b, &v, None)
        .await
        .unwrap();
    assert_eq!(stats.chunks, 256);
    // Chunks 0-1 (image and write), 75-76 (5 MiB at 300 MiB); the rest zero.
    assert_eq!(stats.zero_chunks, 252);
    assert_eq!(stats.new_chunks, 4);
    assert_eq!(chunk_files(&s), 4);
    let m = s.store.manifest(&b).unwrap();
    assert_eq!(m.chunks.len(), 256);
    assert_eq!(m.chunks[10].sha256, Content::Zero);
    // The backup's snapshot is gone again.
    assert_eq!(
        std::fs::read_dir(s.backend.root().join("snapshots"))
            .unwrap()
            .count(),
        0
    );

    let r = id();
    s.store.restore_to_new(&s.backend, &b, &r, 1).await.unwrap();
    assert!(same(&s.backend.volume_path(&v), &s.backend.volume_path(&r)));
    assert!(reads(&s.backend.volume_path(&r), 0xac, "300M", "5M"));
}

#[tokio::test]
async fn an_incremental_backup_stores_only_the_changed_chunk_and_each_restores_its_time() {
    if !have_qemu() {
        return;
    }
    let s = setup();
    let v = volume_with_data(&s).await;
    let full = id();
    s.store
        .backup_volume(&s.backend, &full, &v, None)
        .await
        .unwrap();
    let then = id();
    s.backend.create_snapshot(&then, &v).await.unwrap();
    let before = chunk_files(&s);

    write(&s.backend.volume_path(&v), 0xcd, "8M", "64k");
    let inc = id();
    let stats = s
        .store
        .backup_volume(&s.backend, &inc, &v, Some(&full))
        .await
        .unwrap();
    assert_eq!(stats.new_chunks, 1, "{stats:?}");
    assert_eq!(
        stats.read_chunks, 1,
        "only the changed chunk is read: {stats:?}"
    );
    // 0, 1, 75, 76 and 3 (image bytes that are zeros: read once, by the
    // full backup, and recorded as zero with their source).
    assert_eq!(stats.reused_chunks, 5, "{stats:?}");
    assert_eq!(chunk_files(&s), before + 1);
    assert_eq!(
        s.store.manifest(&inc).unwrap().parent_id.as_deref(),
        Some(full.as_str())
    );

    let r_inc = id();
    s.store
        .restore_to_new(&s.backend, &inc, &r_inc, 1)
        .await
        .unwrap();
    assert!(same(
        &s.backend.volume_path(&v),
        &s.backend.volume_path(&r_inc)
    ));
    let r_full = id();
    s.store
        .restore_to_new(&s.backend, &full, &r_full, 1)
        .await
        .unwrap();
    assert!(same(
        &s.backend.snapshot_path(&then),
        &s.backend.volume_path(&r_full)
    ));
    assert!(reads(&s.backend.volume_path(&r_full), 0, "8M", "64k"));
}

#[tokio::test]
async fn a_restore_into_an_existing_volume_replaces_all_of_its_data() {
    if !have_qemu() {
        return;
    }
    let s = setup();
    let v = volume_with_data(&s).await;
    let b = id();
    s.store
        .backup_volume(&s.backend, &b, &v, None)
        .await
        .unwrap();
    let p = s.backend.volume_path(&v);
    write(&p, 0xcd, "0", "64k");
    write(&p, 0xee, "100M", "1M");
    s.store.restore(&s.backend, &b, &v).await.unwrap();
    assert!(reads(&p, 0xab, "0", "64k"));
    assert!(reads(&p, 0x5a, "64k", "1M"));
    assert!(
        reads(&p, 0, "100M", "1M"),
        "zeros where the backup had zeros"
    );
}

#[tokio::test]
async fn a_backup_with_increments_is_deleted_after_them_and_takes_its_chunks_along() {
    if !have_qemu() {
        return;
    }
    let s = setup();
    let v = volume_with_data(&s).await;
    let (full, inc) = (id(), id());
    s.store
        .backup_volume(&s.backend, &full, &v, None)
        .await
        .unwrap();
    write(&s.backend.volume_path(&v), 0xcd, "8M", "64k");
    s.store
        .backup_volume(&s.backend, &inc, &v, Some(&full))
        .await
        .unwrap();
    match s.store.delete(&full).await {
        Err(BackupError::HasDependents { id, children }) => {
            assert_eq!(id, full);
            assert_eq!(children, vec![inc.clone()]);
        }
        other => panic!("{other:?}"),
    }
    s.store.delete(&inc).await.unwrap();
    assert_eq!(chunk_files(&s), 4, "the increment's own chunk went");
    s.store.delete(&full).await.unwrap();
    s.store.delete(&full).await.unwrap(); // gone already
    assert_eq!(chunk_files(&s), 0);
    assert!(matches!(
        s.store.manifest(&full),
        Err(BackupError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_corrupt_chunk_fails_the_restore_before_anything_is_written() {
    if !have_qemu() {
        return;
    }
    let s = setup();
    let v = volume_with_data(&s).await;
    let b = id();
    s.store
        .backup_volume(&s.backend, &b, &v, None)
        .await
        .unwrap();
    let m = s.store.manifest(&b).unwrap();
    let Content::Sha256(h) = &m.chunks[75].sha256 else {
        panic!("chunk 75 holds data");
    };
    let chunk = s.store.chunk_path(h);
    let mut data = std::fs::read(&chunk).unwrap();
    data[1000] ^= 0xff;
    std::fs::write(&chunk, data).unwrap();

    let r = id();
    match s.store.restore_to_new(&s.backend, &b, &r, 1).await {
        Err(e @ BackupError::Corrupt { index: 75, .. }) => {
            assert!(e.to_string().contains("corrupt"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!s.backend.volume_path(&r).exists(), "no volume was made");

    let p = s.backend.volume_path(&v);
    write(&p, 0xcd, "0", "64k");
    assert!(matches!(
        s.store.restore(&s.backend, &b, &v).await,
        Err(BackupError::Corrupt { .. })
    ));
    assert!(
        reads(&p, 0xcd, "0", "64k"),
        "the existing volume is untouched"
    );
}

#[tokio::test]
async fn backing_up_again_under_the_same_id_does_nothing() {
    if !have_qemu() {
        return;
    }
    let s = setup();
    let v = volume_with_data(&s).await;
    let b = id();
    s.store
        .backup_volume(&s.backend, &b, &v, None)
        .await
        .unwrap();
    let again = s
        .store
        .backup_volume(&s.backend, &b, &v, None)
        .await
        .unwrap();
    assert_eq!(again.chunks, 0);
    let other = id();
    s.backend.create_blank(&other, 1).await.unwrap();
    assert!(matches!(
        s.store
            .backup_volume(&s.backend, &id(), &other, Some(&b))
            .await,
        Err(BackupError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_volume_on_a_compressed_image_is_backed_up_through_a_converted_view() {
    if !have_qemu() {
        return;
    }
    let s = setup();
    let raw = s.dir.path().join("image.raw");
    let mut data = vec![0x5au8; 3 << 20];
    data.resize(8 << 20, 0);
    std::fs::write(&raw, data).unwrap();
    let qcow = s.dir.path().join("image.qcow2");
    let out = Command::new("qemu-img")
        .args(["convert", "-c", "-f", "raw", "-O", "qcow2"])
        .arg(&raw)
        .arg(&qcow)
        .output()
        .unwrap();
    assert!(out.status.success());
    let image = ImageFile {
        image_id: id(),
        path: qcow,
        format: "qcow2".into(),
        virtual_size: 8 << 20,
        min_disk_gib: 0,
    };
    let v = id();
    s.backend.create_from_image(&v, &image, 1).await.unwrap();
    write(&s.backend.volume_path(&v), 0xab, "4M", "64k");
    let b = id();
    let stats = s
        .store
        .backup_volume(&s.backend, &b, &v, None)
        .await
        .unwrap();
    assert_eq!(stats.new_chunks, 2, "{stats:?}");
    let m = s.store.manifest(&b).unwrap();
    assert!(
        m.chunks[0].source.is_none(),
        "a converted view is not stable"
    );
    let r = id();
    s.store.restore_to_new(&s.backend, &b, &r, 1).await.unwrap();
    assert!(same(&s.backend.volume_path(&v), &s.backend.volume_path(&r)));
    // The converted view's temporary file is gone.
    assert_eq!(
        std::fs::read_dir(s.backend.root().join("tmp"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn a_snapshot_is_backed_up_as_it_was_taken() {
    if !have_qemu() {
        return;
    }
    let s = setup();
    let v = volume_with_data(&s).await;
    let snap = id();
    s.backend.create_snapshot(&snap, &v).await.unwrap();
    write(&s.backend.volume_path(&v), 0xcd, "0", "64k");
    let b = id();
    s.store
        .backup_snapshot(&s.backend, &b, &v, &snap, None)
        .await
        .unwrap();
    let r = id();
    s.store.restore_to_new(&s.backend, &b, &r, 1).await.unwrap();
    assert!(same(
        &s.backend.snapshot_path(&snap),
        &s.backend.volume_path(&r)
    ));
    assert!(reads(&s.backend.volume_path(&r), 0xab, "0", "64k"));
}
