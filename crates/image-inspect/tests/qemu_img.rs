//! Real images made by `qemu-img create`, inspected by the Rust parser and
//! cross-checked by `qemu-img info`. Each test skips, saying why, when
//! qemu-img (or prlimit) is not installed.

use ferrostack_image_inspect::{
    cross_check, detect, inspect_file, DiskFormat, ImageFormat, InspectError, Issue, QemuImg,
    QemuImgError,
};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

fn qemu_img_available(test: &str) -> bool {
    let ok = QemuImg::default().is_available();
    if !ok {
        eprintln!("skipping {test}: qemu-img or prlimit is not installed");
    }
    ok
}

/// Runs `qemu-img create <args>` in `dir` and returns the image path.
fn create(dir: &TempDir, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.path().join(name);
    // Creating a LUKS image benchmarks PBKDF2 against the CPU clock, and on a
    // loaded machine qemu-img sometimes gives up ("Unable to get accurate CPU
    // usage"). That says nothing about the image: try again.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let out = Command::new("qemu-img")
            .arg("create")
            .args(args)
            .arg(&path)
            .arg("1M")
            .current_dir(dir.path())
            .output()
            .expect("run qemu-img");
        if out.status.success() {
            return path;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if attempts < 10 && stderr.contains("Unable to get accurate CPU usage") {
            continue;
        }
        panic!("qemu-img create {args:?} failed after {attempts} attempt(s): {stderr}");
    }
}

fn refused(path: &Path, declared: &str) -> Vec<Issue> {
    match inspect_file(path, declared) {
        Err(InspectError::Refused { reasons }) => reasons,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn plain_qcow2_is_accepted_and_qemu_img_agrees() {
    if !qemu_img_available("plain_qcow2_is_accepted_and_qemu_img_agrees") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(&dir, "plain.qcow2", &["-f", "qcow2"]);
    let inspection = inspect_file(&path, "qcow2").expect("accepted");
    assert_eq!(inspection.virtual_size, 1 << 20);
    let info = cross_check(&QemuImg::default(), &path, &inspection).expect("qemu-img agrees");
    assert_eq!(info.format, "qcow2");
}

#[test]
fn qcow2_v2_is_accepted() {
    if !qemu_img_available("qcow2_v2_is_accepted") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(&dir, "old.qcow2", &["-f", "qcow2", "-o", "compat=0.10"]);
    let inspection = inspect_file(&path, "qcow2").expect("accepted");
    cross_check(&QemuImg::default(), &path, &inspection).expect("qemu-img agrees");
}

#[test]
fn backing_file_is_refused_naming_it() {
    if !qemu_img_available("backing_file_is_refused_naming_it") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let out = Command::new("qemu-img")
        .args(["create", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw"])
        .arg(dir.path().join("evil.qcow2"))
        .output()
        .expect("run qemu-img");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = inspect_file(&dir.path().join("evil.qcow2"), "qcow2").expect_err("refused");
    assert!(err.to_string().contains("/etc/passwd"), "{err}");
    assert!(err.reasons().contains(&Issue::BackingFile {
        path: "/etc/passwd".into()
    }));
}

#[test]
fn external_data_file_is_refused() {
    if !qemu_img_available("external_data_file_is_refused") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let data = dir.path().join("x.raw");
    let option = format!("data_file={}", data.display());
    let path = create(&dir, "data.qcow2", &["-f", "qcow2", "-o", &option]);
    let reasons = refused(&path, "qcow2");
    assert_eq!(
        reasons,
        vec![Issue::DataFile {
            path: Some(data.display().to_string())
        }]
    );
}

#[test]
fn monolithic_flat_vmdk_is_refused_for_its_extent() {
    if !qemu_img_available("monolithic_flat_vmdk_is_refused_for_its_extent") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(
        &dir,
        "flat.vmdk",
        &["-f", "vmdk", "-o", "subformat=monolithicFlat"],
    );
    let reasons = refused(&path, "vmdk");
    assert_eq!(
        reasons,
        vec![Issue::ExternalExtent {
            file: "flat-flat.vmdk".into()
        }]
    );
}

#[test]
fn monolithic_sparse_vmdk_is_accepted() {
    if !qemu_img_available("monolithic_sparse_vmdk_is_accepted") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(
        &dir,
        "sparse.vmdk",
        &["-f", "vmdk", "-o", "subformat=monolithicSparse"],
    );
    let inspection = inspect_file(&path, "vmdk").expect("accepted");
    assert_eq!(inspection.format, ImageFormat::Vmdk);
    assert_eq!(inspection.virtual_size, 1 << 20);
    cross_check(&QemuImg::default(), &path, &inspection).expect("qemu-img agrees");
}

#[test]
fn stream_optimized_vmdk_is_accepted() {
    if !qemu_img_available("stream_optimized_vmdk_is_accepted") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(
        &dir,
        "stream.vmdk",
        &["-f", "vmdk", "-o", "subformat=streamOptimized"],
    );
    let inspection = inspect_file(&path, "vmdk").expect("accepted");
    cross_check(&QemuImg::default(), &path, &inspection).expect("qemu-img agrees");
}

#[test]
fn raw_declared_qcow2_is_a_mismatch() {
    if !qemu_img_available("raw_declared_qcow2_is_a_mismatch") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(&dir, "disk.raw", &["-f", "raw"]);
    let err = inspect_file(&path, "qcow2").expect_err("refused");
    assert_eq!(
        err.to_string(),
        "image refused: declared qcow2 but the data is raw"
    );
    let inspection = inspect_file(&path, "raw").expect("raw is raw");
    assert_eq!(inspection.virtual_size, 1 << 20);
    cross_check(&QemuImg::default(), &path, &inspection).expect("qemu-img agrees");
}

#[test]
fn qcow2_declared_raw_is_a_mismatch() {
    if !qemu_img_available("qcow2_declared_raw_is_a_mismatch") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(&dir, "sneaky.img", &["-f", "qcow2"]);
    assert_eq!(
        refused(&path, "raw"),
        vec![Issue::FormatMismatch {
            declared: DiskFormat::Raw,
            detected: ImageFormat::Qcow2
        }]
    );
}

#[test]
fn vhd_vhdx_and_vdi_are_detected_with_qemu_img_sizes() {
    if !qemu_img_available("vhd_vhdx_and_vdi_are_detected_with_qemu_img_sizes") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let cases = [
        ("vpc", &[][..], "vhd", ImageFormat::Vhd),
        (
            "vpc",
            &["-o", "subformat=fixed"][..],
            "vhd",
            ImageFormat::Vhd,
        ),
        ("vhdx", &[][..], "vhdx", ImageFormat::Vhdx),
        ("vdi", &[][..], "vdi", ImageFormat::Vdi),
    ];
    for (i, (driver, extra, declared, format)) in cases.into_iter().enumerate() {
        let mut args = vec!["-f", driver];
        args.extend_from_slice(extra);
        let path = create(&dir, &format!("disk{i}.{declared}"), &args);
        let detected = detect(&mut File::open(&path).expect("open")).expect("detect");
        assert_eq!(detected.format(), format, "{driver} {extra:?}");
        let inspection = inspect_file(&path, declared)
            .unwrap_or_else(|e| panic!("{driver} {extra:?} refused: {e}"));
        cross_check(&QemuImg::default(), &path, &inspection)
            .unwrap_or_else(|e| panic!("{driver} {extra:?}: {e}"));
    }
}

#[test]
fn truncated_qcow2_is_refused() {
    if !qemu_img_available("truncated_qcow2_is_refused") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(&dir, "cut.qcow2", &["-f", "qcow2"]);
    // Longest first: set_len only cuts further.
    for len in [4096, 100, 60] {
        File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(len))
            .expect("truncate");
        let reasons = refused(&path, "qcow2");
        assert!(
            matches!(reasons[..], [Issue::Truncated { .. }]),
            "{len}: {reasons:?}"
        );
    }
}

#[test]
fn missing_qemu_img_is_a_clear_error() {
    let qemu = QemuImg {
        qemu_img: "/nonexistent/qemu-img".into(),
        ..QemuImg::default()
    };
    let inspection = ferrostack_image_inspect::Inspection {
        disk_format: DiskFormat::Raw,
        format: ImageFormat::Raw,
        virtual_size: 0,
        file_size: 0,
    };
    let err = cross_check(&qemu, Path::new("/x"), &inspection).expect_err("missing");
    assert!(matches!(err, QemuImgError::NotInstalled { .. }), "{err}");
}

/// A stand-in qemu-img script, to exercise failures and timeouts.
fn fake_qemu_img(dir: &TempDir, body: &str) -> String {
    let path = dir.path().join("fake-qemu-img");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    let status = Command::new("chmod")
        .arg("+x")
        .arg(&path)
        .status()
        .expect("chmod");
    assert!(status.success());
    path.display().to_string()
}

#[test]
fn failed_qemu_img_carries_argv_status_and_stderr() {
    if !qemu_img_available("failed_qemu_img_carries_argv_status_and_stderr") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(&dir, "disk.qcow2", &["-f", "qcow2"]);
    let inspection = inspect_file(&path, "qcow2").expect("accepted");
    let qemu = QemuImg {
        qemu_img: fake_qemu_img(&dir, "echo 'could not open' >&2; exit 3"),
        ..QemuImg::default()
    };
    match cross_check(&qemu, &path, &inspection) {
        Err(QemuImgError::Failed {
            argv,
            status,
            stderr,
        }) => {
            assert_eq!(status.code(), Some(3));
            assert_eq!(stderr, "could not open\n");
            assert!(argv.iter().any(|a| a == "-f"), "{argv:?}");
            assert!(argv.iter().any(|a| a.starts_with("--as=")), "{argv:?}");
            assert_eq!(argv.last(), Some(&path.display().to_string()));
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[test]
fn hanging_qemu_img_is_killed_at_the_timeout() {
    if !qemu_img_available("hanging_qemu_img_is_killed_at_the_timeout") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(&dir, "disk.qcow2", &["-f", "qcow2"]);
    let inspection = inspect_file(&path, "qcow2").expect("accepted");
    let qemu = QemuImg {
        qemu_img: fake_qemu_img(&dir, "exec sleep 30"),
        timeout: Duration::from_millis(300),
        ..QemuImg::default()
    };
    let err = cross_check(&qemu, &path, &inspection).expect_err("timed out");
    assert!(matches!(err, QemuImgError::TimedOut { .. }), "{err}");
}

#[test]
fn cpu_limit_is_enforced() {
    if !qemu_img_available("cpu_limit_is_enforced") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(&dir, "disk.qcow2", &["-f", "qcow2"]);
    let inspection = inspect_file(&path, "qcow2").expect("accepted");
    let qemu = QemuImg {
        qemu_img: fake_qemu_img(&dir, "exec sh -c 'while :; do :; done'"),
        cpu_seconds: 1,
        ..QemuImg::default()
    };
    let err = cross_check(&qemu, &path, &inspection).expect_err("killed by the limit");
    assert!(matches!(err, QemuImgError::Failed { .. }), "{err}");
}

#[test]
fn ploop_is_detected_with_qemu_img_size() {
    if !qemu_img_available("ploop_is_detected_with_qemu_img_size") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(&dir, "disk.hds", &["-f", "parallels"]);
    let inspection = inspect_file(&path, "ploop").expect("accepted");
    assert_eq!(inspection.format, ImageFormat::Ploop);
    cross_check(&QemuImg::default(), &path, &inspection).expect("qemu-img agrees");
}

#[test]
fn qed_is_refused_whatever_it_is_declared_as() {
    if !qemu_img_available("qed_is_refused_whatever_it_is_declared_as") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(&dir, "disk.qed", &["-f", "qed"]);
    let reasons = refused(&path, "raw");
    assert!(
        reasons.contains(&Issue::FormatMismatch {
            declared: DiskFormat::Raw,
            detected: ImageFormat::Qed
        }),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| matches!(r, Issue::Unsupported { .. })),
        "{reasons:?}"
    );
}

#[test]
fn luks_is_refused_as_encrypted() {
    if !qemu_img_available("luks_is_refused_as_encrypted") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let path = create(
        &dir,
        "disk.luks",
        &[
            "-f",
            "luks",
            "--object",
            "secret,id=s0,data=not-a-real-key",
            "-o",
            "key-secret=s0,iter-time=50",
        ],
    );
    let reasons = refused(&path, "raw");
    assert!(
        reasons.contains(&Issue::Encrypted {
            method: "LUKS".into()
        }),
        "{reasons:?}"
    );
}

#[test]
fn iso_is_iso_not_raw() {
    if !qemu_img_available("iso_is_iso_not_raw") {
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let content = dir.path().join("content");
    std::fs::create_dir(&content).expect("mkdir");
    std::fs::write(content.join("hello.txt"), "hello").expect("write");
    let path = dir.path().join("cd.iso");
    let made = Command::new("genisoimage")
        .args(["-quiet", "-o"])
        .arg(&path)
        .arg(&content)
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipping iso_is_iso_not_raw: genisoimage is not installed");
        return;
    }
    let inspection = inspect_file(&path, "iso").expect("accepted");
    assert_eq!(inspection.format, ImageFormat::Iso);
    cross_check(&QemuImg::default(), &path, &inspection).expect("qemu-img agrees");
    assert_eq!(
        refused(&path, "raw"),
        vec![Issue::FormatMismatch {
            declared: DiskFormat::Raw,
            detected: ImageFormat::Iso
        }]
    );
}
