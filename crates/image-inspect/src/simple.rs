//! Formats recognised by a signature and a size field: VDI, ploop, ISO,
//! and the never-accepted QED and LUKS.
//!
//! QED is refused outright, as OpenStack does: nothing in the cloud runs
//! it, and recognising it keeps it from reaching a probing qemu-img. LUKS
//! is an encrypted container the cloud has no key for.

use crate::bytes::{le32, le64, read_at};
use crate::detect::{Finding, ImageFormat, Issue};
use std::io::{self, Read, Seek};

pub(crate) fn probe_qed<R: Read + Seek>(r: &mut R, _size: u64) -> io::Result<Option<Finding>> {
    let head = read_at(r, 0, 64)?;
    if !head.starts_with(b"QED\0") {
        return Ok(None);
    }
    let mut f = Finding::new(ImageFormat::Qed);
    f.virtual_size = le64(&head, 48);
    f.unsupported("QED is not supported by this cloud");
    Ok(Some(f))
}

pub(crate) fn probe_luks<R: Read + Seek>(r: &mut R, _size: u64) -> io::Result<Option<Finding>> {
    if !read_at(r, 0, 6)?.starts_with(b"LUKS\xba\xbe") {
        return Ok(None);
    }
    let mut f = Finding::new(ImageFormat::Luks);
    f.issues.push(Issue::Encrypted {
        method: "LUKS".into(),
    });
    Ok(Some(f))
}

const VDI_SIGNATURE: u32 = 0xbeda_107f;
const VDI_HEADER_END: usize = 0x178;

pub(crate) fn probe_vdi<R: Read + Seek>(r: &mut R, _size: u64) -> io::Result<Option<Finding>> {
    let head = read_at(r, 0, 512)?;
    if le32(&head, 0x40) != Some(VDI_SIGNATURE) {
        return Ok(None);
    }
    let mut f = Finding::new(ImageFormat::Vdi);
    let (Some(image_type), Some(disk_size)) = (le32(&head, 0x4C), le64(&head, 0x170)) else {
        f.truncated(VDI_HEADER_END as u64, head.len() as u64);
        return Ok(Some(f));
    };
    f.virtual_size = Some(disk_size);
    // 1 = dynamic, 2 = static; others are differencing or undo disks.
    if image_type != 1 && image_type != 2 {
        f.unsupported(format!("image type {image_type}"));
    }
    Ok(Some(f))
}

pub(crate) fn probe_ploop<R: Read + Seek>(r: &mut R, _size: u64) -> io::Result<Option<Finding>> {
    let head = read_at(r, 0, 64)?;
    let v1 = head.starts_with(b"WithoutFreeSpace");
    if !v1 && !head.starts_with(b"WithouFreSpacExt") {
        return Ok(None);
    }
    let mut f = Finding::new(ImageFormat::Ploop);
    let Some(sectors) = le64(&head, 36) else {
        f.truncated(64, head.len() as u64);
        return Ok(Some(f));
    };
    // The old signature only has a 32-bit sector count (as QEMU reads it).
    let sectors = if v1 { sectors & 0xffff_ffff } else { sectors };
    f.virtual_size = sectors.checked_mul(512);
    if f.virtual_size.is_none() {
        f.corrupt("size overflows");
    }
    Ok(Some(f))
}

/// ISO 9660 volume descriptors start at sector 16; the identifier may be
/// in any of the first few descriptors.
const ISO_OFFSETS: [u64; 3] = [0x8001, 0x8801, 0x9001];

pub(crate) fn probe_iso<R: Read + Seek>(r: &mut R, size: u64) -> io::Result<Option<Finding>> {
    for offset in ISO_OFFSETS {
        if read_at(r, offset, 5)? == b"CD001" {
            let mut f = Finding::new(ImageFormat::Iso);
            f.virtual_size = Some(size);
            return Ok(Some(f));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use crate::detect::{detect, ImageFormat, Issue};
    use std::io::Cursor;

    fn detected(data: Vec<u8>) -> crate::detect::DetectedImage {
        detect(&mut Cursor::new(data)).expect("detect")
    }

    #[test]
    fn qed_is_always_refused() {
        let mut d = b"QED\0".to_vec();
        d.resize(64, 0);
        let image = detected(d);
        assert_eq!(image.format(), ImageFormat::Qed);
        assert!(matches!(image.safety_check(), [Issue::Unsupported { .. }]));
    }

    #[test]
    fn luks_is_refused_as_encrypted() {
        let mut d = b"LUKS\xba\xbe".to_vec();
        d.resize(1024, 0);
        let image = detected(d);
        assert_eq!(image.format(), ImageFormat::Luks);
        assert!(matches!(image.safety_check(), [Issue::Encrypted { .. }]));
    }

    fn vdi(image_type: u32) -> Vec<u8> {
        let mut d = vec![0u8; 512];
        d[0x40..0x44].copy_from_slice(&super::VDI_SIGNATURE.to_le_bytes());
        d[0x4C..0x50].copy_from_slice(&image_type.to_le_bytes());
        d[0x170..0x178].copy_from_slice(&(1u64 << 30).to_le_bytes());
        d
    }

    #[test]
    fn vdi_size_and_type() {
        let image = detected(vdi(1));
        assert_eq!(image.format(), ImageFormat::Vdi);
        assert_eq!(image.virtual_size(), Some(1 << 30));
        assert!(image.is_safe());
        assert!(!detected(vdi(4)).is_safe());
    }

    #[test]
    fn truncated_vdi_is_refused() {
        let mut d = vdi(1);
        d.truncate(0x100);
        assert!(matches!(
            detected(d).safety_check(),
            [Issue::Truncated { .. }]
        ));
    }

    #[test]
    fn ploop_size() {
        let mut d = b"WithouFreSpacExt".to_vec();
        d.resize(64, 0);
        d[36..44].copy_from_slice(&2048u64.to_le_bytes());
        let image = detected(d);
        assert_eq!(image.format(), ImageFormat::Ploop);
        assert_eq!(image.virtual_size(), Some(2048 * 512));
    }

    #[test]
    fn iso_is_not_raw() {
        let mut d = vec![0u8; 0x9000];
        d[0x8001..0x8006].copy_from_slice(b"CD001");
        let image = detected(d);
        assert_eq!(image.format(), ImageFormat::Iso);
        assert_eq!(image.virtual_size(), Some(0x9000));
        assert!(image.is_safe());
    }
}
