//! The upload policy: the bytes must be the declared `disk_format` and
//! pass every safety check.
//!
//! The classic attack this stops is a qcow2 image uploaded as `raw`: a
//! consumer that trusts `raw` hands the file to the guest byte for byte
//! (harmless), but one that probes the format opens it as qcow2 and follows
//! its backing file into the host. So `raw` means "no known format at all",
//! and every mismatch is refused, in both directions.

use crate::detect::{detect, ImageFormat, Issue};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A Glance `disk_format` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiskFormat {
    /// `raw`
    Raw,
    /// `qcow2`
    Qcow2,
    /// `vmdk`
    Vmdk,
    /// `vhd`
    Vhd,
    /// `vhdx`
    Vhdx,
    /// `vdi`
    Vdi,
    /// `iso`
    Iso,
    /// `ploop`
    Ploop,
    /// `aki`: an Amazon kernel image, raw bytes.
    Aki,
    /// `ari`: an Amazon ramdisk image, raw bytes.
    Ari,
    /// `ami`: an Amazon machine image, raw bytes.
    Ami,
}

impl DiskFormat {
    /// Every `disk_format` Glance accepts, in its order.
    pub const ALL: [DiskFormat; 11] = [
        DiskFormat::Ami,
        DiskFormat::Ari,
        DiskFormat::Aki,
        DiskFormat::Vhd,
        DiskFormat::Vhdx,
        DiskFormat::Vmdk,
        DiskFormat::Raw,
        DiskFormat::Qcow2,
        DiskFormat::Vdi,
        DiskFormat::Iso,
        DiskFormat::Ploop,
    ];

    /// The Glance name.
    pub fn name(self) -> &'static str {
        match self {
            DiskFormat::Raw => "raw",
            DiskFormat::Qcow2 => "qcow2",
            DiskFormat::Vmdk => "vmdk",
            DiskFormat::Vhd => "vhd",
            DiskFormat::Vhdx => "vhdx",
            DiskFormat::Vdi => "vdi",
            DiskFormat::Iso => "iso",
            DiskFormat::Ploop => "ploop",
            DiskFormat::Aki => "aki",
            DiskFormat::Ari => "ari",
            DiskFormat::Ami => "ami",
        }
    }

    /// The format the bytes must have. Kernel, ramdisk and machine images
    /// (`aki`, `ari`, `ami`) are plain bytes, so they must detect as raw.
    pub fn expected_format(self) -> ImageFormat {
        match self {
            DiskFormat::Raw | DiskFormat::Aki | DiskFormat::Ari | DiskFormat::Ami => {
                ImageFormat::Raw
            }
            DiskFormat::Qcow2 => ImageFormat::Qcow2,
            DiskFormat::Vmdk => ImageFormat::Vmdk,
            DiskFormat::Vhd => ImageFormat::Vhd,
            DiskFormat::Vhdx => ImageFormat::Vhdx,
            DiskFormat::Vdi => ImageFormat::Vdi,
            DiskFormat::Iso => ImageFormat::Iso,
            DiskFormat::Ploop => ImageFormat::Ploop,
        }
    }
}

impl fmt::Display for DiskFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DiskFormat {
    type Err = InspectError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DiskFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| InspectError::UnknownDiskFormat {
                declared: s.to_string(),
            })
    }
}

/// An image that passed inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The declared (and verified) `disk_format`.
    pub disk_format: DiskFormat,
    /// The format found in the data.
    pub format: ImageFormat,
    /// The guest-visible disk size in bytes, for the image's
    /// `virtual_size` field.
    pub virtual_size: u64,
    /// The size of the uploaded data in bytes.
    pub file_size: u64,
}

/// Why an image was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The declared `disk_format` is not one Glance knows.
    #[error("unknown disk_format {declared:?}")]
    UnknownDiskFormat {
        /// The name given.
        declared: String,
    },
    /// The image is refused; every reason found is listed.
    #[error("image refused: {}", reasons_text(.reasons))]
    Refused {
        /// The reasons, each a user-facing sentence.
        reasons: Vec<Issue>,
    },
    /// The image could not be read.
    #[error("cannot read the image{}", path_text(.path))]
    Io {
        /// The file, when inspecting one by path.
        path: Option<PathBuf>,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl InspectError {
    /// The refusal reasons (empty for other errors).
    pub fn reasons(&self) -> &[Issue] {
        match self {
            InspectError::Refused { reasons } => reasons,
            _ => &[],
        }
    }
}

fn reasons_text(reasons: &[Issue]) -> String {
    reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn path_text(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!(" {}", p.display()))
        .unwrap_or_default()
}

/// Inspects image data against its declared Glance `disk_format`.
///
/// Refuses when the detected format differs from the declared one or when
/// [`DetectedImage::safety_check`](crate::DetectedImage::safety_check)
/// finds anything, listing every reason.
pub fn inspect<R: Read + Seek>(
    reader: &mut R,
    declared_disk_format: &str,
) -> Result<Inspection, InspectError> {
    inspect_inner(reader, declared_disk_format, None)
}

/// [`inspect`] on a file.
pub fn inspect_file(path: &Path, declared_disk_format: &str) -> Result<Inspection, InspectError> {
    let mut file = File::open(path).map_err(|source| InspectError::Io {
        path: Some(path.to_path_buf()),
        source,
    })?;
    inspect_inner(&mut file, declared_disk_format, Some(path))
}

fn inspect_inner<R: Read + Seek>(
    reader: &mut R,
    declared: &str,
    path: Option<&Path>,
) -> Result<Inspection, InspectError> {
    let disk_format: DiskFormat = declared.parse()?;
    let image = detect(reader).map_err(|source| InspectError::Io {
        path: path.map(Path::to_path_buf),
        source,
    })?;
    let mut reasons = Vec::new();
    if image.format() != disk_format.expected_format() {
        reasons.push(Issue::FormatMismatch {
            declared: disk_format,
            detected: image.format(),
        });
    }
    reasons.extend(image.safety_check().iter().cloned());
    let virtual_size = match image.virtual_size() {
        Some(size) if reasons.is_empty() => size,
        None if reasons.is_empty() => {
            reasons.push(Issue::Corrupt {
                format: image.format(),
                reason: "virtual size unknown".into(),
            });
            0
        }
        _ => 0,
    };
    if !reasons.is_empty() {
        tracing::debug!(declared, detected = %image.format(), ?reasons, "image refused");
        return Err(InspectError::Refused { reasons });
    }
    Ok(Inspection {
        disk_format,
        format: image.format(),
        virtual_size,
        file_size: image.file_size(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn qcow2() -> Vec<u8> {
        crate::qcow2::tests::header(3)
    }

    #[test]
    fn matching_qcow2_is_accepted_with_its_virtual_size() {
        let got = inspect(&mut Cursor::new(qcow2()), "qcow2").expect("accepted");
        assert_eq!(got.format, ImageFormat::Qcow2);
        assert_eq!(got.virtual_size, 1 << 30);
        assert_eq!(got.file_size, 3 << 16);
    }

    #[test]
    fn qcow2_declared_raw_is_a_mismatch() {
        let err = inspect(&mut Cursor::new(qcow2()), "raw").expect_err("refused");
        assert_eq!(
            err.to_string(),
            "image refused: declared raw but the data is qcow2"
        );
    }

    #[test]
    fn raw_declared_qcow2_is_a_mismatch() {
        let err = inspect(&mut Cursor::new(vec![0u8; 1024]), "qcow2").expect_err("refused");
        assert_eq!(
            err.reasons(),
            &[Issue::FormatMismatch {
                declared: DiskFormat::Qcow2,
                detected: ImageFormat::Raw
            }]
        );
    }

    #[test]
    fn kernel_blobs_must_be_raw() {
        let kernel = vec![0x7fu8; 2048];
        for declared in ["aki", "ari", "ami", "raw"] {
            let got = inspect(&mut Cursor::new(kernel.clone()), declared).expect("raw blob");
            assert_eq!(got.virtual_size, 2048);
        }
        assert!(inspect(&mut Cursor::new(qcow2()), "aki").is_err());
    }

    #[test]
    fn every_reason_appears_in_the_message() {
        let mut data = qcow2();
        data[8..16].copy_from_slice(&0x200u64.to_be_bytes());
        data[16..20].copy_from_slice(&11u32.to_be_bytes());
        data[0x200..0x20b].copy_from_slice(b"/etc/passwd");
        let err = inspect(&mut Cursor::new(data), "raw").expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("declared raw but the data is qcow2"),
            "{text}"
        );
        assert!(text.contains("/etc/passwd"), "{text}");
    }

    #[test]
    fn unknown_disk_format_is_an_error() {
        let err = inspect(&mut Cursor::new(vec![]), "floppy").expect_err("unknown");
        assert!(matches!(err, InspectError::UnknownDiskFormat { .. }));
    }

    #[test]
    fn disk_format_names_round_trip() {
        for f in DiskFormat::ALL {
            assert_eq!(f.name().parse::<DiskFormat>().ok(), Some(f));
        }
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let err = inspect_file(Path::new("/nonexistent/x.img"), "raw").expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/x.img"));
    }
}
