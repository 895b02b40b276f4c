//! The defence-in-depth check: ask `qemu-img info` what it sees, under
//! resource limits, and compare with the Rust inspector's verdict.
//!
//! The Rust parser decides; this check exists so that a parser bug is not
//! the only thing between an upload and the host. It always passes `-f`
//! with the detected format (never lets qemu-img probe), gives qemu-img an
//! absolute path (a relative `json:{...}` or `nbd:` name would otherwise be
//! read as a protocol), and runs it under `prlimit` with a CPU-time and an
//! address-space cap plus a wall-clock timeout, as Nova does, because a
//! crafted image can make qemu-img spin or allocate without bound. The
//! workspace forbids `unsafe`, so limits cannot be set in a `pre_exec`
//! hook; util-linux `prlimit` sets them and then execs qemu-img.
//!
//! [`ImageProber`] is the narrow seam: [`QemuImg`] runs the real tool;
//! [`FakeQemuImg`] is a working stand-in that answers from this crate's own
//! parser (for callers' tests on machines without QEMU), and
//! [`FixedProber`] returns a canned answer (to provoke disagreements).

use crate::detect::{detect, ImageFormat, Issue};
use crate::policy::Inspection;
use serde::Deserialize;
use std::fs::File;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What `qemu-img info --output=json` reported.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QemuImgInfo {
    /// The block driver that opened the image.
    pub format: String,
    /// The guest-visible size in bytes.
    #[serde(rename = "virtual-size")]
    pub virtual_size: u64,
    /// The backing file, if any.
    #[serde(rename = "backing-filename", default)]
    pub backing_filename: Option<String>,
    /// Driver-specific details (qcow2 data file, vmdk extents, ...).
    #[serde(rename = "format-specific", default)]
    pub format_specific: Option<FormatSpecific>,
}

/// The `format-specific` object of `qemu-img info`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FormatSpecific {
    /// The driver name.
    #[serde(rename = "type")]
    pub kind: String,
    /// The driver's fields, kept as JSON.
    #[serde(default)]
    pub data: serde_json::Value,
}

impl QemuImgInfo {
    /// The qcow2 external data file, if qemu-img reports one.
    pub fn data_file(&self) -> Option<&str> {
        self.format_specific
            .as_ref()?
            .data
            .get("data-file")?
            .as_str()
    }

    /// The extent file names of a VMDK.
    pub fn extent_files(&self) -> Vec<&str> {
        self.format_specific
            .as_ref()
            .and_then(|s| s.data.get("extents"))
            .and_then(|e| e.as_array())
            .map(|extents| {
                extents
                    .iter()
                    .filter_map(|e| e.get("filename").and_then(|f| f.as_str()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One way qemu-img's view differs from the inspector's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Disagreement {
    /// qemu-img opened the image with another driver.
    #[error("qemu-img reports format {reported}, expected {expected}")]
    Format {
        /// The driver the inspector's format maps to.
        expected: String,
        /// The driver qemu-img reported.
        reported: String,
    },
    /// qemu-img sees a backing file.
    #[error("qemu-img reports a backing file {path:?}")]
    BackingFile {
        /// The backing file.
        path: String,
    },
    /// qemu-img sees an external data file.
    #[error("qemu-img reports an external data file {path:?}")]
    DataFile {
        /// The data file.
        path: String,
    },
    /// qemu-img reads a VMDK extent from another file.
    #[error("qemu-img reports the extent file {file:?} outside the image")]
    ExternalExtent {
        /// The extent file.
        file: String,
    },
    /// The virtual sizes differ.
    #[error("qemu-img reports virtual size {qemu_img}, the inspector {inspector}")]
    VirtualSize {
        /// The inspector's size.
        inspector: u64,
        /// qemu-img's size.
        qemu_img: u64,
    },
}

/// Why the qemu-img check failed.
#[derive(Debug, thiserror::Error)]
pub enum QemuImgError {
    /// A program the check needs is not installed.
    #[error("{program} not found in PATH; install it or run without the qemu-img check")]
    NotInstalled {
        /// `qemu-img` or `prlimit`.
        program: String,
    },
    /// The image path could not be made absolute.
    #[error("cannot resolve image path {}", path.display())]
    Path {
        /// The path given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The command could not be started.
    #[error("cannot run {argv:?}")]
    Spawn {
        /// The full command line.
        argv: Vec<String>,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The command exited unsuccessfully (including being killed by a
    /// resource limit).
    #[error("{argv:?} failed ({status}): {}", stderr.trim())]
    Failed {
        /// The full command line.
        argv: Vec<String>,
        /// How it exited.
        status: ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },
    /// The command ran past the wall-clock timeout and was killed.
    #[error("{argv:?} did not finish within {timeout:?}")]
    TimedOut {
        /// The full command line.
        argv: Vec<String>,
        /// The timeout.
        timeout: Duration,
    },
    /// The output was not the JSON expected.
    #[error("{argv:?} printed unexpected output")]
    BadOutput {
        /// The full command line.
        argv: Vec<String>,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// qemu-img sees the image differently from the inspector.
    #[error("qemu-img disagrees with the inspector: {}", list(.disagreements))]
    Disagrees {
        /// Every difference found.
        disagreements: Vec<Disagreement>,
    },
}

fn list(d: &[Disagreement]) -> String {
    d.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Something that reports what QEMU sees in an image file.
pub trait ImageProber {
    /// Opens `path` with QEMU block driver `driver` and describes it.
    fn info(&self, path: &Path, driver: &str) -> Result<QemuImgInfo, QemuImgError>;
}

/// The real prober: `prlimit ... qemu-img info --output=json -f <driver>`.
#[derive(Debug, Clone)]
pub struct QemuImg {
    /// The qemu-img program (a name looked up in `PATH`, or a path).
    pub qemu_img: String,
    /// The util-linux prlimit program.
    pub prlimit: String,
    /// CPU-time limit in seconds (`prlimit --cpu`).
    pub cpu_seconds: u64,
    /// Address-space limit in bytes (`prlimit --as`).
    pub address_space_bytes: u64,
    /// Wall-clock limit, after which the process is killed.
    pub timeout: Duration,
}

impl Default for QemuImg {
    /// Nova's limits for the same call: 30 s of CPU, 1 GiB of address
    /// space; and a minute of wall-clock time.
    fn default() -> Self {
        QemuImg {
            qemu_img: "qemu-img".into(),
            prlimit: "prlimit".into(),
            cpu_seconds: 30,
            address_space_bytes: 1 << 30,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Resolves `program` the way the shell would, without running it.
fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

impl QemuImg {
    /// Whether both qemu-img and prlimit are installed.
    pub fn is_available(&self) -> bool {
        find_program(&self.qemu_img).is_some() && find_program(&self.prlimit).is_some()
    }

    fn argv(&self, path: &Path, driver: &str) -> Result<Vec<String>, QemuImgError> {
        let qemu_img = find_program(&self.qemu_img).ok_or_else(|| QemuImgError::NotInstalled {
            program: self.qemu_img.clone(),
        })?;
        let prlimit = find_program(&self.prlimit).ok_or_else(|| QemuImgError::NotInstalled {
            program: self.prlimit.clone(),
        })?;
        let path = std::path::absolute(path).map_err(|source| QemuImgError::Path {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(vec![
            prlimit.display().to_string(),
            format!("--as={}", self.address_space_bytes),
            format!("--cpu={}", self.cpu_seconds),
            "--".into(),
            qemu_img.display().to_string(),
            "info".into(),
            "--output=json".into(),
            "-f".into(),
            driver.into(),
            path.display().to_string(),
        ])
    }
}

impl ImageProber for QemuImg {
    fn info(&self, path: &Path, driver: &str) -> Result<QemuImgInfo, QemuImgError> {
        let argv = self.argv(path, driver)?;
        tracing::debug!(?argv, "running qemu-img");
        let output = run(&argv, self.timeout)?;
        if !output.status.success() {
            return Err(QemuImgError::Failed {
                argv,
                status: output.status,
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        serde_json::from_slice(&output.stdout)
            .map_err(|source| QemuImgError::BadOutput { argv, source })
    }
}

struct Output {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `argv` to completion or until `timeout`, collecting its output.
fn run(argv: &[String], timeout: Duration) -> Result<Output, QemuImgError> {
    let spawn_err = |source| QemuImgError::Spawn {
        argv: argv.to_vec(),
        source,
    };
    let (program, args) = argv.split_first().ok_or_else(|| {
        spawn_err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty command",
        ))
    })?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    // Drain both pipes on threads so a chatty child cannot block on a
    // full pipe while we wait for it.
    let readers = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .map(|pipe| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                // A read error just truncates what we report.
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().map_err(spawn_err)? {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                // Already-exited races are fine: kill then reap.
                let _ = child.kill();
                let _ = child.wait();
                return Err(QemuImgError::TimedOut {
                    argv: argv.to_vec(),
                    timeout,
                });
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let [stdout, stderr] = readers.map(|h| h.join().unwrap_or_default());
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// A prober that answers with fixed information, for tests of code that
/// takes an [`ImageProber`].
#[derive(Debug, Clone)]
pub struct FixedProber {
    /// What every call returns.
    pub info: QemuImgInfo,
}

impl ImageProber for FixedProber {
    fn info(&self, _path: &Path, _driver: &str) -> Result<QemuImgInfo, QemuImgError> {
        Ok(self.info.clone())
    }
}

/// A working stand-in for qemu-img that reads the real file with this
/// crate's parser and reports what qemu-img would for it: `-f raw` opens
/// anything as raw bytes, another driver fails unless the data is in that
/// format, and backing files, data files and external extents found by
/// the parser appear in the report as qemu-img shows them.
#[derive(Debug, Clone, Copy, Default)]
pub struct FakeQemuImg;

impl ImageProber for FakeQemuImg {
    fn info(&self, path: &Path, driver: &str) -> Result<QemuImgInfo, QemuImgError> {
        let argv: Vec<String> = ["fake-qemu-img", "info", "--output=json", "-f", driver]
            .map(String::from)
            .into_iter()
            .chain([path.display().to_string()])
            .collect();
        let fail = |stderr: String| QemuImgError::Failed {
            argv: argv.clone(),
            status: ExitStatus::from_raw(1 << 8),
            stderr,
        };
        let image = File::open(path)
            .and_then(|mut file| detect(&mut file))
            .map_err(|e| fail(format!("Could not open '{}': {e}\n", path.display())))?;
        if driver == "raw" {
            return Ok(QemuImgInfo {
                format: "raw".into(),
                virtual_size: image.file_size(),
                backing_filename: None,
                format_specific: None,
            });
        }
        if image.format().qemu_driver() != driver {
            return Err(fail(format!("Image is not in {driver} format\n")));
        }
        let mut data = serde_json::Map::new();
        let mut extents = Vec::new();
        let mut backing_filename = None;
        for issue in image.safety_check() {
            match issue {
                Issue::BackingFile { path } => backing_filename = Some(path.clone()),
                Issue::DataFile { path: Some(file) } => {
                    data.insert("data-file".into(), file.clone().into());
                }
                Issue::ExternalExtent { file } => {
                    extents.push(serde_json::json!({ "filename": file }));
                }
                _ => {}
            }
        }
        if !extents.is_empty() {
            data.insert("extents".into(), extents.into());
        }
        Ok(QemuImgInfo {
            format: driver.into(),
            virtual_size: image.virtual_size().unwrap_or(0),
            backing_filename,
            format_specific: (!data.is_empty()).then(|| FormatSpecific {
                kind: driver.into(),
                data: data.into(),
            }),
        })
    }
}

/// Runs `prober` on the inspected file with the detected format and
/// checks that it agrees: same driver, no backing file, no data file, no
/// extent outside the file, same virtual size.
pub fn cross_check(
    prober: &dyn ImageProber,
    path: &Path,
    inspection: &Inspection,
) -> Result<QemuImgInfo, QemuImgError> {
    let driver = inspection.format.qemu_driver();
    let info = prober.info(path, driver)?;
    let disagreements = compare(path, inspection.format, inspection.virtual_size, &info);
    if disagreements.is_empty() {
        Ok(info)
    } else {
        Err(QemuImgError::Disagrees { disagreements })
    }
}

fn compare(path: &Path, format: ImageFormat, size: u64, info: &QemuImgInfo) -> Vec<Disagreement> {
    let mut out = Vec::new();
    let expected = format.qemu_driver();
    if info.format != expected {
        out.push(Disagreement::Format {
            expected: expected.into(),
            reported: info.format.clone(),
        });
    }
    if let Some(path) = &info.backing_filename {
        out.push(Disagreement::BackingFile { path: path.clone() });
    }
    if let Some(path) = info.data_file() {
        out.push(Disagreement::DataFile { path: path.into() });
    }
    let own = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    for file in info.extent_files() {
        if Path::new(file) != own && Path::new(file) != path {
            out.push(Disagreement::ExternalExtent { file: file.into() });
        }
    }
    // qemu-img reports raw (and ISO) data in whole 512-byte sectors; the
    // inspector gives the exact byte count. That rounding alone is no disagreement.
    let sector_rounded = matches!(format, ImageFormat::Raw | ImageFormat::Iso)
        && info.virtual_size == size.div_ceil(512) * 512;
    if info.virtual_size != size && !sector_rounded {
        out.push(Disagreement::VirtualSize {
            inspector: size,
            qemu_img: info.virtual_size,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::DiskFormat;

    fn inspection() -> Inspection {
        Inspection {
            disk_format: DiskFormat::Qcow2,
            format: ImageFormat::Qcow2,
            virtual_size: 1 << 30,
            file_size: 1 << 18,
        }
    }

    fn info(json: &str) -> QemuImgInfo {
        serde_json::from_str(json).expect("valid info")
    }

    #[test]
    fn agreeing_report_passes() {
        let prober = FixedProber {
            info: info(r#"{"format":"qcow2","virtual-size":1073741824,"filename":"/x"}"#),
        };
        assert!(cross_check(&prober, Path::new("/x"), &inspection()).is_ok());
    }

    #[test]
    fn every_disagreement_is_listed() {
        let prober = FixedProber {
            info: info(
                r#"{"format":"raw","virtual-size":5,"backing-filename":"/etc/passwd",
                "format-specific":{"type":"qcow2","data":{"data-file":"/dev/sda"}}}"#,
            ),
        };
        let err = cross_check(&prober, Path::new("/x"), &inspection()).expect_err("refused");
        let QemuImgError::Disagrees { disagreements } = &err else {
            panic!("unexpected error {err}");
        };
        assert_eq!(disagreements.len(), 4, "{disagreements:?}");
        assert!(err.to_string().contains("/etc/passwd"));
    }

    #[test]
    fn raw_sizes_rounded_to_a_sector_agree_but_other_sizes_do_not() {
        let i = info(r#"{"format":"raw","virtual-size":1024,"filename":"/x"}"#);
        assert!(compare(Path::new("/x"), ImageFormat::Raw, 1000, &i).is_empty());
        assert_eq!(
            compare(Path::new("/x"), ImageFormat::Raw, 500, &i),
            vec![Disagreement::VirtualSize {
                inspector: 500,
                qemu_img: 1024
            }]
        );
        let q = info(r#"{"format":"qcow2","virtual-size":1024,"filename":"/x"}"#);
        assert_eq!(
            compare(Path::new("/x"), ImageFormat::Qcow2, 1000, &q).len(),
            1
        );
    }

    #[test]
    fn vmdk_extent_elsewhere_is_a_disagreement() {
        let i = info(
            r#"{"format":"vmdk","virtual-size":1024,"format-specific":{"type":"vmdk",
            "data":{"extents":[{"filename":"/x"},{"filename":"/etc/passwd"}]}}}"#,
        );
        let d = compare(Path::new("/x"), ImageFormat::Vmdk, 1024, &i);
        assert_eq!(
            d,
            vec![Disagreement::ExternalExtent {
                file: "/etc/passwd".into()
            }]
        );
    }

    #[test]
    fn missing_program_is_a_clear_error() {
        let q = QemuImg {
            qemu_img: "definitely-not-qemu-img".into(),
            ..QemuImg::default()
        };
        let err = q.info(Path::new("/x"), "raw").expect_err("missing");
        assert!(matches!(err, QemuImgError::NotInstalled { .. }));
        assert!(err.to_string().contains("definitely-not-qemu-img"));
    }

    fn temp_image(bytes: &[u8]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), bytes).expect("write");
        file
    }

    #[test]
    fn fake_qemu_img_agrees_with_a_good_image() {
        let file = temp_image(&crate::qcow2::tests::header(3));
        let inspection = crate::inspect_file(file.path(), "qcow2").expect("accepted");
        let info = cross_check(&FakeQemuImg, file.path(), &inspection).expect("agrees");
        assert_eq!(info.format, "qcow2");
    }

    #[test]
    fn fake_qemu_img_shows_the_backing_file() {
        let mut data = crate::qcow2::tests::header(3);
        data[8..16].copy_from_slice(&0x200u64.to_be_bytes());
        data[16..20].copy_from_slice(&4u32.to_be_bytes());
        data[0x200..0x204].copy_from_slice(b"base");
        let file = temp_image(&data);
        let info = FakeQemuImg.info(file.path(), "qcow2").expect("info");
        assert_eq!(info.backing_filename.as_deref(), Some("base"));
    }

    #[test]
    fn fake_qemu_img_refuses_the_wrong_driver_but_opens_anything_as_raw() {
        let file = temp_image(&[0u8; 4096]);
        let err = FakeQemuImg
            .info(file.path(), "qcow2")
            .expect_err("not qcow2");
        assert!(err.to_string().contains("not in qcow2 format"), "{err}");
        let info = FakeQemuImg.info(file.path(), "raw").expect("raw");
        assert_eq!(info.virtual_size, 4096);
    }
}
