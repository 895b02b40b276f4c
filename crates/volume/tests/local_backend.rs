//! The local backend against real `qemu-img` in a temporary directory.

#![allow(clippy::unwrap_used)]

use ferrostack_host_contract::block::Connection;
use ferrostack_volume::backend::{BackendError, ImageFile, VolumeBackend};
use ferrostack_volume::local::LocalBackend;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
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

fn backend(dir: &Path) -> LocalBackend {
    LocalBackend::open("local", "host1", dir.join("volumes")).unwrap()
}

fn path_of(b: &LocalBackend, volume: &str) -> PathBuf {
    match b.connection(volume) {
        Connection::File { path, format } => {
            assert_eq!(format, "qcow2");
            PathBuf::from(path)
        }
        other => panic!("not a file: {other:?}"),
    }
}

/// Runs one qemu-io command on a qcow2 file; true when it succeeded
/// (a `read -P` whose pattern differs fails).
fn qemu_io(path: &Path, cmd: &str) -> bool {
    let out = Command::new("qemu-io")
        .args(["-f", "qcow2", "-c", cmd])
        .arg(path)
        .output()
        .unwrap();
    out.status.success()
}

fn write(path: &Path, pattern: u8, offset: &str, len: &str) {
    assert!(
        qemu_io(path, &format!("write -P {pattern:#x} {offset} {len}")),
        "write to {}",
        path.display()
    );
}

fn reads(path: &Path, pattern: u8, offset: &str, len: &str) -> bool {
    qemu_io(path, &format!("read -P {pattern:#x} {offset} {len}"))
}

fn virtual_size(path: &Path) -> u64 {
    let out = Command::new("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["virtual-size"].as_u64().unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A 64 MiB raw image whose first 1 MiB is 0x5a.
fn raw_image(dir: &Path) -> ImageFile {
    let path = dir.join("image.raw");
    let mut data = vec![0x5au8; 1 << 20];
    data.resize(64 << 20, 0);
    std::fs::write(&path, data).unwrap();
    ImageFile {
        image_id: id(),
        path,
        format: "raw".into(),
        virtual_size: 64 << 20,
        min_disk_gib: 0,
    }
}

#[tokio::test]
async fn a_blank_volume_is_a_sparse_qcow2_of_zeros() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let v = id();
    b.create_blank(&v, 10).await.unwrap();
    let path = path_of(&b, &v);
    assert!(path.is_absolute());
    assert_eq!(virtual_size(&path), 10 << 30);
    assert!(std::fs::metadata(&path).unwrap().blocks() * 512 < 1 << 20);
    assert!(reads(&path, 0, "0", "1M"));
    let mode = std::fs::metadata(b.root()).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

#[tokio::test]
async fn creating_again_with_the_same_size_succeeds_and_another_size_is_refused() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let v = id();
    b.create_blank(&v, 1).await.unwrap();
    write(&path_of(&b, &v), 0xab, "0", "64k");
    b.create_blank(&v, 1).await.unwrap();
    assert!(
        reads(&path_of(&b, &v), 0xab, "0", "64k"),
        "a retry kept the data"
    );
    assert!(matches!(
        b.create_blank(&v, 2).await,
        Err(BackendError::Invalid(_))
    ));
}

#[tokio::test]
async fn ids_that_are_not_uuids_are_refused() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    for bad in ["../x", "", "abc", "{9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d}"] {
        assert!(matches!(
            b.create_blank(bad, 1).await,
            Err(BackendError::Invalid(_))
        ));
        assert!(matches!(b.delete(bad).await, Err(BackendError::Invalid(_))));
    }
    assert!(entries(&b.root().join("volumes")).is_empty());
}

#[tokio::test]
async fn a_volume_from_an_image_is_an_overlay_on_a_hard_link_of_it() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let image = raw_image(dir.path());
    let (v1, v2) = (id(), id());
    b.create_from_image(&v1, &image, 1).await.unwrap();
    b.create_from_image(&v2, &image, 2).await.unwrap();
    let p1 = path_of(&b, &v1);
    assert_eq!(virtual_size(&p1), 1 << 30);
    assert_eq!(virtual_size(&path_of(&b, &v2)), 2 << 30);
    assert!(reads(&p1, 0x5a, "0", "1M"));
    assert!(reads(&p1, 0, "1M", "1M"));
    assert!(reads(&p1, 0, "512M", "1M"), "grown past the image: zeros");
    // No copy: the reference is the image's inode, and the overlay small.
    let reference = b.root().join("images").join(&image.image_id);
    assert_eq!(
        std::fs::metadata(&reference).unwrap().ino(),
        std::fs::metadata(&image.path).unwrap().ino()
    );
    assert!(std::fs::metadata(&p1).unwrap().len() < 1 << 20);
    // The image service may delete its file: volumes keep their data.
    std::fs::remove_file(&image.path).unwrap();
    assert!(reads(&p1, 0x5a, "0", "1M"));
    // Writes go to the volume, not the image.
    write(&p1, 0xab, "0", "64k");
    assert!(reads(&path_of(&b, &v2), 0x5a, "0", "64k"));
    // The last volume gone, the reference goes.
    b.delete(&v1).await.unwrap();
    assert_eq!(
        entries(&b.root().join("images")),
        vec![image.image_id.clone()]
    );
    b.delete(&v2).await.unwrap();
    assert!(entries(&b.root().join("images")).is_empty());
}

#[tokio::test]
async fn an_image_too_big_or_of_another_format_is_invalid_and_a_missing_one_missing() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let mut image = raw_image(dir.path());
    image.virtual_size = 3 << 30;
    assert!(matches!(
        b.create_from_image(&id(), &image, 2).await,
        Err(BackendError::Invalid(_))
    ));
    image.virtual_size = 1 << 20;
    image.format = "vmdk".into();
    assert!(matches!(
        b.create_from_image(&id(), &image, 2).await,
        Err(BackendError::Invalid(_))
    ));
    image.format = "raw".into();
    image.path = dir.path().join("nope");
    assert!(matches!(
        b.create_from_image(&id(), &image, 2).await,
        Err(BackendError::Missing(_))
    ));
    assert!(entries(&b.root().join("images")).is_empty());
}

#[tokio::test]
async fn a_snapshot_keeps_the_data_of_its_time() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let (v, s, from_snap) = (id(), id(), id());
    b.create_blank(&v, 1).await.unwrap();
    write(&path_of(&b, &v), 0xab, "0", "64k");
    b.create_snapshot(&s, &v).await.unwrap();
    b.create_snapshot(&s, &v).await.unwrap(); // idempotent
    assert!(
        reads(&path_of(&b, &v), 0xab, "0", "64k"),
        "through the chain"
    );
    write(&path_of(&b, &v), 0xcd, "0", "64k");
    b.create_from_snapshot(&from_snap, &s, 2).await.unwrap();
    let p = path_of(&b, &from_snap);
    assert_eq!(virtual_size(&p), 2 << 30);
    assert!(reads(&p, 0xab, "0", "64k"), "the snapshot is isolated");
    assert!(reads(&path_of(&b, &v), 0xcd, "0", "64k"));
    // A write to the new volume changes neither.
    write(&p, 0xef, "0", "64k");
    assert!(reads(&b.snapshot_path(&s), 0xab, "0", "64k"));
    assert!(matches!(
        b.create_from_snapshot(&id(), &id(), 1).await,
        Err(BackendError::Missing(_))
    ));
}

#[tokio::test]
async fn a_volume_from_a_volume_has_its_data_and_then_lives_apart() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let (src, clone) = (id(), id());
    b.create_blank(&src, 1).await.unwrap();
    write(&path_of(&b, &src), 0xab, "1M", "64k");
    b.create_from_volume(&clone, &src, 1).await.unwrap();
    b.create_from_volume(&clone, &src, 1).await.unwrap(); // idempotent
    assert!(reads(&path_of(&b, &clone), 0xab, "1M", "64k"));
    write(&path_of(&b, &src), 0x11, "1M", "64k");
    write(&path_of(&b, &clone), 0x22, "2M", "64k");
    assert!(reads(&path_of(&b, &clone), 0xab, "1M", "64k"));
    assert!(reads(&path_of(&b, &src), 0, "2M", "64k"));
    // The source can go; the clone keeps the frozen data.
    b.delete(&src).await.unwrap();
    assert!(reads(&path_of(&b, &clone), 0xab, "1M", "64k"));
    b.delete(&clone).await.unwrap();
    assert!(entries(&b.root().join("layers")).is_empty());
    assert!(matches!(
        b.create_from_volume(&id(), &src, 1).await,
        Err(BackendError::Missing(_))
    ));
}

#[tokio::test]
async fn layers_stay_while_something_depends_on_them() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let image = raw_image(dir.path());
    let (v, s, w) = (id(), id(), id());
    b.create_from_image(&v, &image, 1).await.unwrap();
    write(&path_of(&b, &v), 0xab, "2M", "64k");
    b.create_snapshot(&s, &v).await.unwrap();
    b.create_from_snapshot(&w, &s, 1).await.unwrap();
    let layers = b.root().join("layers");
    let images = b.root().join("images");

    b.delete(&v).await.unwrap();
    assert_eq!(entries(&layers), vec![s.clone()], "the snapshot keeps it");
    b.delete_snapshot(&s).await.unwrap();
    assert_eq!(entries(&layers), vec![s.clone()], "volume w still uses it");
    assert!(entries(&b.root().join("snapshots")).is_empty());
    let pw = path_of(&b, &w);
    assert!(reads(&pw, 0xab, "2M", "64k"));
    assert!(reads(&pw, 0x5a, "0", "1M"));
    // A deleted snapshot cannot be a source any more.
    assert!(matches!(
        b.create_from_snapshot(&id(), &s, 1).await,
        Err(BackendError::Missing(_))
    ));
    b.delete(&w).await.unwrap();
    assert!(entries(&layers).is_empty());
    assert!(entries(&images).is_empty());
    assert!(entries(&b.root().join("volumes")).is_empty());
}

#[tokio::test]
async fn a_deleted_volume_s_data_never_reaches_a_new_volume() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let v = id();
    b.create_blank(&v, 1).await.unwrap();
    write(&path_of(&b, &v), 0xab, "0", "8M");
    b.delete(&v).await.unwrap();
    // The same id, and another one: both read zeros where the data was.
    let w = id();
    b.create_blank(&v, 1).await.unwrap();
    b.create_blank(&w, 1).await.unwrap();
    assert!(reads(&path_of(&b, &v), 0, "0", "8M"));
    assert!(reads(&path_of(&b, &w), 0, "0", "8M"));
    // Also when the data was frozen in a snapshot deleted since.
    let (x, s) = (id(), id());
    b.create_blank(&x, 1).await.unwrap();
    write(&path_of(&b, &x), 0xcd, "0", "8M");
    b.create_snapshot(&s, &x).await.unwrap();
    b.delete(&x).await.unwrap();
    b.delete_snapshot(&s).await.unwrap();
    b.create_blank(&x, 1).await.unwrap();
    assert!(reads(&path_of(&b, &x), 0, "0", "8M"));
    assert!(entries(&b.root().join("layers")).is_empty());
}

#[tokio::test]
async fn extend_grows_in_place_and_never_shrinks() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let v = id();
    b.create_blank(&v, 1).await.unwrap();
    write(&path_of(&b, &v), 0xab, "0", "64k");
    b.extend(&v, 3).await.unwrap();
    b.extend(&v, 3).await.unwrap(); // idempotent
    assert_eq!(virtual_size(&path_of(&b, &v)), 3 << 30);
    assert!(reads(&path_of(&b, &v), 0xab, "0", "64k"));
    assert!(matches!(
        b.extend(&v, 2).await,
        Err(BackendError::Invalid(_))
    ));
    assert!(matches!(
        b.extend(&id(), 2).await,
        Err(BackendError::Missing(_))
    ));
}

#[tokio::test]
async fn deleting_what_is_gone_succeeds() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let (v, s) = (id(), id());
    b.create_blank(&v, 1).await.unwrap();
    b.create_snapshot(&s, &v).await.unwrap();
    b.delete_snapshot(&s).await.unwrap();
    b.delete_snapshot(&s).await.unwrap();
    b.delete(&v).await.unwrap();
    b.delete(&v).await.unwrap();
    assert!(entries(&b.root().join("layers")).is_empty());
}

#[tokio::test]
async fn a_snapshot_interrupted_after_its_first_step_resumes_or_is_cleaned_up() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let (v, s) = (id(), id());
    b.create_blank(&v, 1).await.unwrap();
    write(&path_of(&b, &v), 0xab, "0", "64k");
    // Step 1 done (the top linked as the layer), then a crash.
    let layer = b.snapshot_path(&s);
    std::fs::hard_link(path_of(&b, &v), &layer).unwrap();
    std::fs::write(b.root().join("volumes").join(format!(".{v}.tmp")), b"junk").unwrap();
    drop(b);
    // A restart removes temporaries; the retry resumes.
    let b = backend(dir.path());
    assert_eq!(entries(&b.root().join("volumes")), vec![v.clone()]);
    b.create_snapshot(&s, &v).await.unwrap();
    write(&path_of(&b, &v), 0xcd, "0", "64k");
    assert!(reads(&layer, 0xab, "0", "64k"));

    // Or the operation is undone instead: the orphan layer goes, the
    // volume keeps its data.
    let s2 = id();
    std::fs::hard_link(path_of(&b, &v), b.snapshot_path(&s2)).unwrap();
    b.delete_snapshot(&s2).await.unwrap();
    assert!(!b.snapshot_path(&s2).exists());
    assert!(reads(&path_of(&b, &v), 0xcd, "0", "64k"));
}

#[tokio::test]
async fn a_second_backend_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _b = backend(dir.path());
    assert!(LocalBackend::open("local", "host1", dir.path().join("volumes")).is_err());
}

#[tokio::test]
async fn capacity_counts_virtual_sizes() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    b.create_blank(&id(), 10).await.unwrap();
    b.create_blank(&id(), 5).await.unwrap();
    let c = b.capacity().await.unwrap();
    assert_eq!(c.provisioned_gib, 15);
    assert!(c.total_gib > 0 && c.free_gib <= c.total_gib);
}

/// `qemu-img check` and `info` of a file the backend wrote itself.
fn check(path: &Path) -> serde_json::Value {
    let out = Command::new("qemu-img")
        .args(["check", "-q", "-f", "qcow2"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "qemu-img check {}: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("qemu-img")
        .args(["info", "--output=json", "-f", "qcow2"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn the_qcow2_files_written_without_qemu_img_pass_its_check() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let image = raw_image(dir.path());
    let (blank, big, from_image, s) = (id(), id(), id(), id());
    b.create_blank(&blank, 1).await.unwrap();
    b.create_blank(&big, 5000).await.unwrap(); // a 5 TiB L1 table: 2 clusters
    b.create_from_image(&from_image, &image, 3).await.unwrap();
    b.create_snapshot(&s, &from_image).await.unwrap();
    let i = check(&path_of(&b, &blank));
    assert_eq!(i["virtual-size"], 1u64 << 30);
    assert_eq!(i["cluster-size"], 65536);
    assert!(i.get("backing-filename").is_none());
    assert_eq!(check(&path_of(&b, &big))["virtual-size"], 5000u64 << 30);
    let i = check(&path_of(&b, &from_image));
    assert_eq!(i["virtual-size"], 3u64 << 30);
    assert_eq!(
        i["backing-filename"],
        b.snapshot_path(&s).to_string_lossy().as_ref()
    );
    assert_eq!(i["backing-filename-format"], "qcow2");
    let i = check(&b.snapshot_path(&s));
    assert_eq!(i["backing-filename-format"], "raw");
    assert_eq!(
        i["backing-filename"],
        b.root()
            .join("images")
            .join(&image.image_id)
            .to_string_lossy()
            .as_ref()
    );
    // Written through and checked again: refcounts stay consistent.
    for v in [&blank, &big, &from_image] {
        write(&path_of(&b, v), 0x42, "700M", "3M");
        check(&path_of(&b, v));
        assert!(reads(&path_of(&b, v), 0x42, "700M", "3M"));
    }
}

#[tokio::test]
async fn an_image_on_another_file_system_is_copied_once() {
    if !have_qemu() {
        return;
    }
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("SKIP: no /dev/shm to put an image on another file system");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir_in(shm).unwrap();
    let b = backend(dir.path());
    let image = raw_image(other.path());
    let (v, w) = (id(), id());
    b.create_from_image(&v, &image, 1).await.unwrap();
    b.create_from_image(&w, &image, 1).await.unwrap();
    let reference = b.root().join("images").join(&image.image_id);
    assert_ne!(
        std::fs::metadata(&reference).unwrap().dev(),
        std::fs::metadata(&image.path).unwrap().dev()
    );
    std::fs::remove_file(&image.path).unwrap();
    assert!(reads(&path_of(&b, &v), 0x5a, "0", "1M"));
    assert!(reads(&path_of(&b, &w), 0x5a, "0", "1M"));
    assert!(entries(&b.root().join("images")) == vec![image.image_id.clone()]);
}

#[tokio::test]
async fn a_clone_interrupted_after_the_source_froze_resumes() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let (src, clone) = (id(), id());
    b.create_blank(&src, 1).await.unwrap();
    write(&path_of(&b, &src), 0xab, "0", "64k");
    // Steps 1 to 3 of the freeze done by hand, as a crash would leave
    // them: the source's old top is layers/<clone>, the source an empty
    // overlay on it, and no clone yet.
    let layer = b.root().join("layers").join(&clone);
    std::fs::rename(path_of(&b, &src), &layer).unwrap();
    let out = Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
        .arg(&layer)
        .arg(path_of(&b, &src))
        .output()
        .unwrap();
    assert!(out.status.success());
    b.create_from_volume(&clone, &src, 1).await.unwrap();
    assert!(reads(&path_of(&b, &clone), 0xab, "0", "64k"));
    assert_eq!(entries(&b.root().join("layers")), vec![clone.clone()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_volumes_from_one_new_image_share_one_reference() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let image = raw_image(dir.path());
    let ids: Vec<String> = (0..8).map(|_| id()).collect();
    let results =
        futures::future::join_all(ids.iter().map(|v| b.create_from_image(v, &image, 1))).await;
    for r in results {
        r.unwrap();
    }
    assert_eq!(
        entries(&b.root().join("images")),
        vec![image.image_id.clone()]
    );
    for v in &ids {
        assert!(reads(&path_of(&b, v), 0x5a, "0", "1M"));
    }
}

#[tokio::test]
async fn a_live_snapshot_exists_only_once_finished_and_its_writer_keeps_the_old_inode() {
    if !have_qemu() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let (v, s) = (id(), id());
    b.create_blank(&v, 1).await.unwrap();
    // QEMU's descriptor of the top, open across the freeze.
    let held = std::fs::File::open(path_of(&b, &v)).unwrap();
    b.begin_live_snapshot(&s, &v).await.unwrap();
    b.begin_live_snapshot(&s, &v).await.unwrap(); // idempotent
    let layer = b.snapshot_path(&s);
    assert_eq!(
        held.metadata().unwrap().ino(),
        std::fs::metadata(&layer).unwrap().ino(),
        "the writer's file is now the layer"
    );
    assert_ne!(
        std::fs::metadata(path_of(&b, &v)).unwrap().ino(),
        std::fs::metadata(&layer).unwrap().ino(),
        "the volume's path is a new top"
    );
    // Not a snapshot before the guest switched.
    assert!(matches!(
        b.create_from_snapshot(&id(), &s, 1).await,
        Err(BackendError::Missing(_))
    ));
    b.finish_live_snapshot(&s).await.unwrap();
    b.finish_live_snapshot(&s).await.unwrap(); // idempotent
    b.create_from_snapshot(&id(), &s, 1).await.unwrap();
    assert!(matches!(
        b.finish_live_snapshot(&id()).await,
        Err(BackendError::Missing(_))
    ));
    // A live snapshot that never finished (its switch timed out) is
    // deleted as an error snapshot is: the volume's chain keeps its layer.
    let t = id();
    b.begin_live_snapshot(&t, &v).await.unwrap();
    b.delete_snapshot(&t).await.unwrap();
    assert!(entries(&b.root().join("layers")).contains(&t));
}
