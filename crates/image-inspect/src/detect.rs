//! Format detection: which format the bytes are, how big the virtual disk
//! is, and every reason the image would be unsafe to hand to QEMU.
//!
//! Each format has a probe that looks for its signature and, if found,
//! parses just enough of the header to answer those questions. All probes
//! run on every image: if more than one signature matches (a qcow2 header
//! in front of an ISO 9660 volume, say), the image is ambiguous and is
//! refused, because a consumer that probes the format could read it as the
//! "other" one. Bytes no probe recognises are `raw`.

use crate::policy::DiskFormat;
use crate::{qcow2, simple, vhd, vmdk};
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};

/// A format recognised from the image's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// No known signature: a plain disk (or kernel/ramdisk blob).
    Raw,
    /// QEMU copy-on-write v2 or v3.
    Qcow2,
    /// VMware disk: a sparse extent or a text descriptor.
    Vmdk,
    /// Microsoft Virtual PC / Hyper-V VHD (QEMU's `vpc`).
    Vhd,
    /// Microsoft Hyper-V VHDX.
    Vhdx,
    /// VirtualBox disk image.
    Vdi,
    /// ISO 9660 CD/DVD image.
    Iso,
    /// QEMU enhanced disk (never accepted).
    Qed,
    /// LUKS encrypted volume (never accepted).
    Luks,
    /// Virtuozzo/Parallels ploop image (QEMU's `parallels`).
    Ploop,
}

impl ImageFormat {
    /// The name Glance and users know the format by.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Raw => "raw",
            ImageFormat::Qcow2 => "qcow2",
            ImageFormat::Vmdk => "vmdk",
            ImageFormat::Vhd => "vhd",
            ImageFormat::Vhdx => "vhdx",
            ImageFormat::Vdi => "vdi",
            ImageFormat::Iso => "iso",
            ImageFormat::Qed => "qed",
            ImageFormat::Luks => "luks",
            ImageFormat::Ploop => "ploop",
        }
    }

    /// The QEMU block driver that opens this format (`qemu-img -f`).
    /// An ISO is read by QEMU as raw bytes.
    pub fn qemu_driver(self) -> &'static str {
        match self {
            ImageFormat::Raw | ImageFormat::Iso => "raw",
            ImageFormat::Vhd => "vpc",
            ImageFormat::Ploop => "parallels",
            other => other.name(),
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One reason an image is refused. The `Display` text is meant for the
/// user who uploaded the image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Issue {
    /// The image names another file whose contents the guest would see.
    #[error("the image has a backing file pointing to {path:?}")]
    BackingFile {
        /// The backing file name as stored in the image.
        path: String,
    },
    /// A qcow2 image keeps its guest data in another file.
    #[error("the image uses an external data file{}", quoted(.path))]
    DataFile {
        /// The data file name, if the header extension names one.
        path: Option<String>,
    },
    /// A qcow2 v3 image sets incompatible feature bits this inspector does
    /// not know, so it cannot tell what they make QEMU do.
    #[error("the qcow2 image uses unknown incompatible features (bits {bits:#x})")]
    UnknownFeatures {
        /// The unknown bits of `incompatible_features`.
        bits: u64,
    },
    /// The qcow2 image has its "corrupt" bit set.
    #[error("the qcow2 image is marked corrupt")]
    MarkedCorrupt,
    /// The image is encrypted; the cloud cannot boot it.
    #[error("the image is encrypted ({method})")]
    Encrypted {
        /// The encryption scheme.
        method: String,
    },
    /// A VMDK descriptor points at an extent file outside the image.
    #[error("the VMDK descriptor references the extent file {file:?} outside the image")]
    ExternalExtent {
        /// The extent file name from the descriptor.
        file: String,
    },
    /// The data ends before the header does.
    #[error("the {format} header is truncated: {needed} bytes needed, {available} present")]
    Truncated {
        /// The format whose header is cut short.
        format: ImageFormat,
        /// Bytes the header needs.
        needed: u64,
        /// Bytes present.
        available: u64,
    },
    /// A header field is out of range or inconsistent.
    #[error("the {format} header is corrupt: {reason}")]
    Corrupt {
        /// The format whose header is corrupt.
        format: ImageFormat,
        /// What is wrong.
        reason: String,
    },
    /// A recognised format, or a variant of one, that is never accepted.
    #[error("{format} images of this kind are not accepted: {reason}")]
    Unsupported {
        /// The format.
        format: ImageFormat,
        /// Which variant or feature is refused.
        reason: String,
    },
    /// The bytes carry the signatures of several formats.
    #[error("the data matches more than one format ({})", names(.formats))]
    Ambiguous {
        /// Every format whose signature matched.
        formats: Vec<ImageFormat>,
    },
    /// The declared `disk_format` is not what the bytes are.
    #[error("declared {declared} but the data is {detected}")]
    FormatMismatch {
        /// The `disk_format` given by the user.
        declared: DiskFormat,
        /// The format found in the data.
        detected: ImageFormat,
    },
}

fn quoted(path: &Option<String>) -> String {
    path.as_ref().map(|p| format!(" {p:?}")).unwrap_or_default()
}

fn names(formats: &[ImageFormat]) -> String {
    formats
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What one probe found: the format plus anything it learned.
#[derive(Debug)]
pub(crate) struct Finding {
    pub(crate) format: ImageFormat,
    pub(crate) virtual_size: Option<u64>,
    pub(crate) issues: Vec<Issue>,
}

impl Finding {
    pub(crate) fn new(format: ImageFormat) -> Self {
        Finding {
            format,
            virtual_size: None,
            issues: Vec::new(),
        }
    }

    pub(crate) fn corrupt(&mut self, reason: impl Into<String>) {
        self.issues.push(Issue::Corrupt {
            format: self.format,
            reason: reason.into(),
        });
    }

    pub(crate) fn truncated(&mut self, needed: u64, available: u64) {
        self.issues.push(Issue::Truncated {
            format: self.format,
            needed,
            available,
        });
    }

    pub(crate) fn unsupported(&mut self, reason: impl Into<String>) {
        self.issues.push(Issue::Unsupported {
            format: self.format,
            reason: reason.into(),
        });
    }
}

/// The signature- and header-based verdict on an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectedImage {
    format: ImageFormat,
    virtual_size: Option<u64>,
    file_size: u64,
    issues: Vec<Issue>,
}

impl DetectedImage {
    /// The detected format (the first match if several matched; then
    /// [`safety_check`](Self::safety_check) reports [`Issue::Ambiguous`]).
    pub fn format(&self) -> ImageFormat {
        self.format
    }

    /// The size of the disk the guest sees, in bytes, when the header
    /// could be read (raw and ISO: the data size).
    pub fn virtual_size(&self) -> Option<u64> {
        self.virtual_size
    }

    /// The size of the data inspected, in bytes.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// Every reason the image is unsafe to use; empty when none was found.
    pub fn safety_check(&self) -> &[Issue] {
        &self.issues
    }

    /// Whether [`safety_check`](Self::safety_check) found nothing.
    pub fn is_safe(&self) -> bool {
        self.issues.is_empty()
    }
}

type Probe<R> = fn(&mut R, u64) -> io::Result<Option<Finding>>;

/// Detects the format of an image by reading its headers.
///
/// Reads a bounded amount (a few small windows, at most a few MiB for
/// the largest qcow2 cluster) whatever the image claims about itself.
pub fn detect<R: Read + Seek>(reader: &mut R) -> io::Result<DetectedImage> {
    let file_size = reader.seek(SeekFrom::End(0))?;
    let probes: [Probe<R>; 9] = [
        qcow2::probe,
        simple::probe_qed,
        vmdk::probe,
        vhd::probe_vhdx,
        vhd::probe_vhd,
        simple::probe_vdi,
        simple::probe_luks,
        simple::probe_ploop,
        simple::probe_iso,
    ];
    let mut findings = Vec::new();
    for probe in probes {
        if let Some(finding) = probe(reader, file_size)? {
            findings.push(finding);
        }
    }
    let formats: Vec<ImageFormat> = findings.iter().map(|f| f.format).collect();
    let mut findings = findings.into_iter();
    let Some(first) = findings.next() else {
        return Ok(DetectedImage {
            format: ImageFormat::Raw,
            virtual_size: Some(file_size),
            file_size,
            issues: Vec::new(),
        });
    };
    let mut image = DetectedImage {
        format: first.format,
        virtual_size: first.virtual_size,
        file_size,
        issues: first.issues,
    };
    if formats.len() > 1 {
        image.issues.insert(0, Issue::Ambiguous { formats });
        for other in findings {
            image.issues.extend(other.issues);
        }
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn unknown_bytes_are_raw_with_their_own_size() {
        let image = detect(&mut Cursor::new(vec![0xAB; 5000])).expect("detect");
        assert_eq!(image.format(), ImageFormat::Raw);
        assert_eq!(image.virtual_size(), Some(5000));
        assert!(image.is_safe());
    }

    #[test]
    fn empty_data_is_raw() {
        let image = detect(&mut Cursor::new(Vec::new())).expect("detect");
        assert_eq!(image.format(), ImageFormat::Raw);
        assert_eq!(image.virtual_size(), Some(0));
    }

    #[test]
    fn iso_with_a_qcow2_header_is_ambiguous() {
        let mut data = crate::qcow2::tests::header(3);
        data.resize(0x9000, 0);
        data[0x8001..0x8006].copy_from_slice(b"CD001");
        let image = detect(&mut Cursor::new(data)).expect("detect");
        assert_eq!(image.format(), ImageFormat::Qcow2);
        assert!(image.safety_check().contains(&Issue::Ambiguous {
            formats: vec![ImageFormat::Qcow2, ImageFormat::Iso]
        }));
    }

    #[test]
    fn messages_name_the_reason() {
        let issue = Issue::BackingFile {
            path: "/etc/passwd".into(),
        };
        assert_eq!(
            issue.to_string(),
            "the image has a backing file pointing to \"/etc/passwd\""
        );
        let mismatch = Issue::FormatMismatch {
            declared: DiskFormat::Qcow2,
            detected: ImageFormat::Raw,
        };
        assert_eq!(mismatch.to_string(), "declared qcow2 but the data is raw");
        assert_eq!(
            Issue::DataFile { path: None }.to_string(),
            "the image uses an external data file"
        );
    }

    #[test]
    fn qemu_driver_names() {
        assert_eq!(ImageFormat::Vhd.qemu_driver(), "vpc");
        assert_eq!(ImageFormat::Iso.qemu_driver(), "raw");
        assert_eq!(ImageFormat::Ploop.qemu_driver(), "parallels");
        assert_eq!(ImageFormat::Qcow2.qemu_driver(), "qcow2");
    }
}
