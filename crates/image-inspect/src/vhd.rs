//! VHD (QEMU's `vpc`) and VHDX headers.
//!
//! VHD keeps a 512-byte footer at the end of the file, with a copy at the
//! start of dynamic disks. Its virtual size follows QEMU's rule: images
//! written by Virtual PC or old QEMU are sized by their CHS geometry, the
//! rest by the footer's current size. A differencing VHD (disk type 4)
//! names a parent file and is refused as a backing file.
//!
//! VHDX is found by its file identifier; the virtual size comes from the
//! metadata region (located through the region table). A parent locator, or
//! a required region or metadata item this parser does not know, is
//! refused. Checksums and the log are left to QEMU (the optional qemu-img
//! cross-check opens the image).

use crate::bytes::{be16, be32, be64, guid, le16, le32, le64, read_at};
use crate::detect::{Finding, ImageFormat, Issue};
use std::io::{self, Read, Seek};

const VHD_COOKIE: &[u8; 8] = b"conectix";
const VHD_DYN_COOKIE: &[u8; 8] = b"cxsparse";
const FOOTER_LEN: u64 = 512;

pub(crate) fn probe_vhd<R: Read + Seek>(r: &mut R, file_size: u64) -> io::Result<Option<Finding>> {
    let mut footer = read_at(r, 0, FOOTER_LEN as usize)?;
    if !footer.starts_with(VHD_COOKIE) {
        if file_size < FOOTER_LEN {
            return Ok(None);
        }
        footer = read_at(r, file_size - FOOTER_LEN, FOOTER_LEN as usize)?;
        if !footer.starts_with(VHD_COOKIE) {
            return Ok(None);
        }
    }
    let mut f = Finding::new(ImageFormat::Vhd);
    let (Some(data_offset), Some(current_size), Some(cyls), Some(disk_type)) = (
        be64(&footer, 16),
        be64(&footer, 48),
        be16(&footer, 56),
        be32(&footer, 60),
    ) else {
        f.truncated(FOOTER_LEN, footer.len() as u64);
        return Ok(Some(f));
    };
    let heads = u64::from(footer[58]);
    let sectors = u64::from(footer[59]);
    let creator = &footer[28..32];
    let max_chs = cyls == 65535 && heads == 16 && sectors == 255;
    let use_chs = !max_chs && (creator == b"vpc " || creator == b"qemu");
    f.virtual_size = Some(if use_chs {
        u64::from(cyls) * heads * sectors * 512
    } else {
        current_size
    });
    match disk_type {
        2 | 3 => {}
        4 => {
            let parent = parent_name(r, data_offset)?;
            f.issues.push(Issue::BackingFile {
                path: parent.unwrap_or_else(|| "(unreadable parent name)".into()),
            });
        }
        other => f.corrupt(format!("unknown disk type {other}")),
    }
    Ok(Some(f))
}

/// The parent's Unicode name in a differencing disk's dynamic header.
fn parent_name<R: Read + Seek>(r: &mut R, dyn_offset: u64) -> io::Result<Option<String>> {
    let header = read_at(r, dyn_offset, 1024)?;
    if !header.starts_with(VHD_DYN_COOKIE) {
        return Ok(None);
    }
    let Some(raw) = header.get(64..576) else {
        return Ok(None);
    };
    let units: Vec<u16> = raw
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    Ok(Some(String::from_utf16_lossy(&units)))
}

const VHDX_SIGNATURE: &[u8; 8] = b"vhdxfile";
const REGION_TABLE_OFFSET: u64 = 192 * 1024;
const TABLE_LEN: usize = 64 * 1024;
const REGION_BAT: [u8; 16] = guid(
    0x2DC2_7766,
    0xF623,
    0x4200,
    [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08],
);
const REGION_METADATA: [u8; 16] = guid(
    0x8B7C_A206,
    0x4790,
    0x4B9A,
    [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E],
);
const META_FILE_PARAMETERS: [u8; 16] = guid(
    0xCAA1_6737,
    0xFA36,
    0x4D43,
    [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B],
);
const META_VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2FA5_4224,
    0xCD1B,
    0x4876,
    [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8],
);
const META_PAGE83: [u8; 16] = guid(
    0xBECA_12AB,
    0xB2E6,
    0x4523,
    [0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46],
);
const META_LOGICAL_SECTOR: [u8; 16] = guid(
    0x8141_BF1D,
    0xA96F,
    0x4709,
    [0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F],
);
const META_PHYSICAL_SECTOR: [u8; 16] = guid(
    0xCDA3_48C7,
    0x445D,
    0x4471,
    [0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56],
);
const META_PARENT_LOCATOR: [u8; 16] = guid(
    0xA8D3_5F2D,
    0xB30B,
    0x454D,
    [0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C],
);

pub(crate) fn probe_vhdx<R: Read + Seek>(r: &mut R, file_size: u64) -> io::Result<Option<Finding>> {
    if !read_at(r, 0, 8)?.starts_with(VHDX_SIGNATURE) {
        return Ok(None);
    }
    let mut f = Finding::new(ImageFormat::Vhdx);
    let table = read_at(r, REGION_TABLE_OFFSET, TABLE_LEN)?;
    if table.len() < TABLE_LEN {
        f.truncated(REGION_TABLE_OFFSET + TABLE_LEN as u64, file_size);
        return Ok(Some(f));
    }
    if !table.starts_with(b"regi") {
        f.corrupt("region table signature missing");
        return Ok(Some(f));
    }
    let count = le32(&table, 8).unwrap_or(0) as usize;
    if count > 2047 {
        f.corrupt(format!("{count} region table entries"));
        return Ok(Some(f));
    }
    let mut metadata = None;
    for i in 0..count {
        let at = 16 + 32 * i;
        let (Some(id), Some(offset), Some(len), Some(required)) = (
            table.get(at..at + 16),
            le64(&table, at + 16),
            le32(&table, at + 24),
            le32(&table, at + 28),
        ) else {
            f.corrupt("region table entry out of bounds");
            return Ok(Some(f));
        };
        if id == REGION_METADATA {
            metadata = Some((offset, len));
        } else if id != REGION_BAT && required & 1 != 0 {
            f.unsupported("unknown required region");
        }
    }
    let Some((meta_offset, meta_len)) = metadata else {
        f.corrupt("no metadata region");
        return Ok(Some(f));
    };
    let meta = read_at(r, meta_offset, (meta_len as usize).min(1 << 20))?;
    if meta.len() < TABLE_LEN.min(meta_len as usize) || !meta.starts_with(b"metadata") {
        f.corrupt("metadata table missing or cut short");
        return Ok(Some(f));
    }
    let entries = le16(&meta, 10).unwrap_or(0) as usize;
    for i in 0..entries.min(2047) {
        let at = 32 + 32 * i;
        let (Some(id), Some(offset), Some(len), Some(flags)) = (
            meta.get(at..at + 16),
            le32(&meta, at + 16),
            le32(&meta, at + 20),
            le32(&meta, at + 24),
        ) else {
            f.corrupt("metadata entry out of bounds");
            return Ok(Some(f));
        };
        let value = meta.get(offset as usize..(offset as usize).saturating_add(len as usize));
        if id == META_VIRTUAL_DISK_SIZE {
            f.virtual_size = value.and_then(|v| le64(v, 0));
            if f.virtual_size.is_none() {
                f.corrupt("virtual disk size item out of bounds");
            }
        } else if id == META_PARENT_LOCATOR {
            f.unsupported("differencing disk (parent locator)");
        } else if id == META_FILE_PARAMETERS {
            if value.and_then(|v| le32(v, 4)).is_some_and(|p| p & 2 != 0) {
                f.unsupported("differencing disk (has parent)");
            }
        } else if ![META_PAGE83, META_LOGICAL_SECTOR, META_PHYSICAL_SECTOR]
            .contains(&<[u8; 16]>::try_from(id).unwrap_or_default())
            && flags & 4 != 0
        {
            f.unsupported("unknown required metadata item");
        }
    }
    if f.virtual_size.is_none() && f.issues.is_empty() {
        f.corrupt("no virtual disk size");
    }
    Ok(Some(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::detect;
    use std::io::Cursor;

    fn footer(disk_type: u32, creator: &[u8; 4], size: u64) -> Vec<u8> {
        let mut ft = vec![0u8; 512];
        ft[0..8].copy_from_slice(VHD_COOKIE);
        ft[16..24].copy_from_slice(&512u64.to_be_bytes());
        ft[28..32].copy_from_slice(creator);
        ft[48..56].copy_from_slice(&size.to_be_bytes());
        ft[56..58].copy_from_slice(&100u16.to_be_bytes());
        ft[58] = 16;
        ft[59] = 63;
        ft[60..64].copy_from_slice(&disk_type.to_be_bytes());
        ft
    }

    #[test]
    fn fixed_vhd_footer_at_end_uses_current_size() {
        let mut data = vec![0u8; 4096];
        data.extend(footer(2, b"win ", 4096));
        let image = detect(&mut Cursor::new(data)).expect("detect");
        assert_eq!(image.format(), ImageFormat::Vhd);
        assert_eq!(image.virtual_size(), Some(4096));
        assert!(image.is_safe());
    }

    #[test]
    fn qemu_created_vhd_uses_chs_geometry() {
        let mut data = footer(3, b"qemu", 1 << 30);
        data.resize(4096, 0);
        let image = detect(&mut Cursor::new(data)).expect("detect");
        assert_eq!(image.virtual_size(), Some(100 * 16 * 63 * 512));
    }

    #[test]
    fn differencing_vhd_names_its_parent() {
        let mut data = footer(4, b"win ", 4096);
        let mut dynh = vec![0u8; 1024];
        dynh[0..8].copy_from_slice(VHD_DYN_COOKIE);
        for (i, u) in "C:\\base.vhd".encode_utf16().enumerate() {
            dynh[64 + 2 * i..66 + 2 * i].copy_from_slice(&u.to_be_bytes());
        }
        data.extend(dynh);
        let image = detect(&mut Cursor::new(data)).expect("detect");
        assert_eq!(
            image.safety_check(),
            &[Issue::BackingFile {
                path: "C:\\base.vhd".into()
            }]
        );
    }

    fn vhdx(extra_meta: Option<[u8; 16]>) -> Vec<u8> {
        let mut d = vec![0u8; 0x60000];
        d[0..8].copy_from_slice(VHDX_SIGNATURE);
        let rt = REGION_TABLE_OFFSET as usize;
        d[rt..rt + 4].copy_from_slice(b"regi");
        d[rt + 8..rt + 12].copy_from_slice(&1u32.to_le_bytes());
        d[rt + 16..rt + 32].copy_from_slice(&REGION_METADATA);
        d[rt + 32..rt + 40].copy_from_slice(&0x50000u64.to_le_bytes());
        d[rt + 40..rt + 44].copy_from_slice(&0x10000u32.to_le_bytes());
        let m = 0x50000;
        d[m..m + 8].copy_from_slice(b"metadata");
        let count: u16 = if extra_meta.is_some() { 2 } else { 1 };
        d[m + 10..m + 12].copy_from_slice(&count.to_le_bytes());
        d[m + 32..m + 48].copy_from_slice(&META_VIRTUAL_DISK_SIZE);
        d[m + 48..m + 52].copy_from_slice(&0x1000u32.to_le_bytes());
        d[m + 52..m + 56].copy_from_slice(&8u32.to_le_bytes());
        d[m + 0x1000..m + 0x1008].copy_from_slice(&(5u64 << 30).to_le_bytes());
        if let Some(id) = extra_meta {
            d[m + 64..m + 80].copy_from_slice(&id);
            d[m + 80..m + 84].copy_from_slice(&0x1010u32.to_le_bytes());
            d[m + 84..m + 88].copy_from_slice(&8u32.to_le_bytes());
            d[m + 88..m + 92].copy_from_slice(&4u32.to_le_bytes());
        }
        d
    }

    #[test]
    fn vhdx_virtual_size_comes_from_metadata() {
        let image = detect(&mut Cursor::new(vhdx(None))).expect("detect");
        assert_eq!(image.format(), ImageFormat::Vhdx);
        assert_eq!(image.virtual_size(), Some(5 << 30));
        assert!(image.is_safe(), "{:?}", image.safety_check());
    }

    #[test]
    fn vhdx_parent_locator_is_refused() {
        let image = detect(&mut Cursor::new(vhdx(Some(META_PARENT_LOCATOR)))).expect("detect");
        assert!(matches!(image.safety_check(), [Issue::Unsupported { .. }]));
    }

    #[test]
    fn vhdx_unknown_required_metadata_is_refused() {
        let image = detect(&mut Cursor::new(vhdx(Some([7; 16])))).expect("detect");
        assert!(matches!(image.safety_check(), [Issue::Unsupported { .. }]));
    }

    #[test]
    fn vhdx_cut_before_region_table_is_truncated() {
        let mut data = vhdx(None);
        data.truncate(0x20000);
        let image = detect(&mut Cursor::new(data)).expect("detect");
        assert!(matches!(image.safety_check(), [Issue::Truncated { .. }]));
    }
}
