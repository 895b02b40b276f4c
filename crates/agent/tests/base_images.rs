//! `LocalBaseImages`: cached by hard link, inspected before use, refusals
//! leave nothing in the cache, concurrent calls are safe, prune.

use ferrostack_agent::{BaseImages, LocalBaseImages};
use ferrostack_hypervisor::BaseFormat;
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use uuid::Uuid;

fn setup() -> (tempfile::TempDir, LocalBaseImages) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("images")).expect("mkdir");
    let images = LocalBaseImages::new(dir.path().join("images"), dir.path().join("cache"));
    (dir, images)
}

fn cache_names(images: &LocalBaseImages) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&images.cache_dir)
        .map(|d| {
            d.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn qemu_img(args: &[&str]) -> bool {
    Command::new("qemu-img")
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn links_verifies_caches_and_prunes() {
    let (_dir, images) = setup();
    let id = Uuid::new_v4().to_string();
    let source = images.source_dir.join(&id);
    std::fs::write(&source, vec![0u8; 1 << 20]).expect("write");

    let path = images.ensure(&id, BaseFormat::Raw).await.expect("ensure");
    assert!(path.is_absolute());
    assert_eq!(
        path,
        std::path::absolute(images.cache_dir.join(&id)).expect("abs")
    );
    let (a, b) = (
        std::fs::metadata(&source).expect("meta"),
        std::fs::metadata(&path).expect("meta"),
    );
    assert_eq!(
        (a.dev(), a.ino()),
        (b.dev(), b.ino()),
        "a hard link, not a copy"
    );

    // A cache hit needs no source.
    std::fs::remove_file(&source).expect("rm");
    assert_eq!(
        images.ensure(&id, BaseFormat::Raw).await.expect("hit"),
        path
    );
    assert_eq!(cache_names(&images), vec![id.clone()]);

    // A cached file that no longer passes (declared qcow2 now) is dropped
    // and fetched again, which fails without a source.
    let err = images
        .ensure(&id, BaseFormat::Qcow2)
        .await
        .expect_err("mismatch");
    assert!(err.contains("not found"), "{err}");
    assert!(cache_names(&images).is_empty());

    // Prune keeps what is in use.
    let keep = Uuid::new_v4().to_string();
    let drop = Uuid::new_v4().to_string();
    for i in [&keep, &drop] {
        std::fs::write(images.source_dir.join(i), vec![0u8; 4096]).expect("write");
        images.ensure(i, BaseFormat::Raw).await.expect("ensure");
    }
    let in_use = BTreeSet::from([keep.clone()]);
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(
        images.prune(&in_use, hour).expect("prune"),
        0,
        "entries linked just now are young and kept"
    );
    assert_eq!(
        images
            .prune(&in_use, std::time::Duration::ZERO)
            .expect("prune"),
        1
    );
    assert_eq!(cache_names(&images), vec![keep]);
}

#[tokio::test]
async fn refuses_mismatches_backing_files_and_bad_ids() {
    let (dir, images) = setup();
    let id = Uuid::new_v4().to_string();
    std::fs::write(images.source_dir.join(&id), vec![0u8; 1 << 20]).expect("write");
    let err = images
        .ensure(&id, BaseFormat::Qcow2)
        .await
        .expect_err("raw declared qcow2");
    assert!(err.contains("declared qcow2 but the data is raw"), "{err}");
    assert!(cache_names(&images).is_empty(), "no temp file left");

    for bad in ["../etc/passwd", "", "not-a-uuid", &format!("{{{id}}}")] {
        let err = images
            .ensure(bad, BaseFormat::Raw)
            .await
            .expect_err("bad id");
        assert!(err.contains("not a UUID"), "{bad:?}: {err}");
    }

    if !qemu_img(&["--version"]) {
        eprintln!("SKIP (backing file case): qemu-img not installed");
        return;
    }
    let base = dir.path().join("base.raw");
    std::fs::write(&base, vec![0u8; 1 << 20]).expect("write");
    let id = Uuid::new_v4().to_string();
    let overlay = images.source_dir.join(&id);
    assert!(qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        &base.to_string_lossy(),
        "-F",
        "raw",
        &overlay.to_string_lossy(),
    ]));
    let err = images
        .ensure(&id, BaseFormat::Qcow2)
        .await
        .expect_err("backing file");
    assert!(err.contains("backing"), "{err}");
    assert!(cache_names(&images).is_empty());

    // A plain qcow2 passes.
    let id = Uuid::new_v4().to_string();
    let plain = images.source_dir.join(&id);
    assert!(qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        &plain.to_string_lossy(),
        "1M"
    ]));
    let path = images.ensure(&id, BaseFormat::Qcow2).await.expect("qcow2");
    assert!(Path::new(&path).is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ensures_of_one_image_agree() {
    let (_dir, images) = setup();
    let id = Uuid::new_v4().to_string();
    std::fs::write(images.source_dir.join(&id), vec![0u8; 1 << 20]).expect("write");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let images = images.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            images.ensure(&id, BaseFormat::Raw).await
        }));
    }
    let mut paths = BTreeSet::new();
    for t in tasks {
        paths.insert(t.await.expect("task").expect("ensure"));
    }
    assert_eq!(paths.len(), 1);
    assert_eq!(cache_names(&images), vec![id], "no temp files left");
}
