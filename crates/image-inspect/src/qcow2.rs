//! qcow2 header parsing (QEMU's `docs/interop/qcow2.txt`).
//!
//! The dangerous parts of a qcow2 image are the ones that make QEMU open
//! another file: the backing file named in the header and the external data
//! file (incompatible feature bit 2, named by header extension
//! `0x44415441`). Either lets an uploaded image read any file on the host.
//! Unknown incompatible feature bits are refused too, because by definition
//! they change how the image is read in ways this parser cannot judge.
//!
//! Only the header, its extensions and the backing file name are read; all
//! of them live in the first cluster, which is at most 2 MiB.

use crate::bytes::{be32, be64, read_at};
use crate::detect::{Finding, ImageFormat, Issue};
use std::io::{self, Read, Seek};

const MAGIC: &[u8; 4] = b"QFI\xfb";
const V2_HEADER_LEN: u64 = 72;
const V3_HEADER_LEN: u64 = 104;
const EXT_END: u32 = 0;
const EXT_DATA_FILE: u32 = 0x4441_5441;
const INCOMPAT_CORRUPT: u64 = 1 << 1;
const INCOMPAT_DATA_FILE: u64 = 1 << 2;
/// dirty, corrupt, external data file, compression type, extended L2.
const INCOMPAT_KNOWN: u64 = 0x1f;
/// QEMU's own limit on the backing file name.
const MAX_BACKING_NAME: u64 = 1023;

pub(crate) fn probe<R: Read + Seek>(r: &mut R, file_size: u64) -> io::Result<Option<Finding>> {
    let head = read_at(r, 0, V3_HEADER_LEN as usize)?;
    if !head.starts_with(MAGIC) {
        return Ok(None);
    }
    let mut f = Finding::new(ImageFormat::Qcow2);
    parse(r, file_size, &head, &mut f)?;
    Ok(Some(f))
}

fn parse<R: Read + Seek>(
    r: &mut R,
    file_size: u64,
    head: &[u8],
    f: &mut Finding,
) -> io::Result<()> {
    let (Some(version), Some(cluster_bits), Some(size)) =
        (be32(head, 4), be32(head, 20), be64(head, 24))
    else {
        f.truncated(V2_HEADER_LEN, head.len() as u64);
        return Ok(());
    };
    if version != 2 && version != 3 {
        f.corrupt(format!("unsupported version {version}"));
        return Ok(());
    }
    let needed = if version == 2 {
        V2_HEADER_LEN
    } else {
        V3_HEADER_LEN
    };
    if (head.len() as u64) < needed {
        f.truncated(needed, head.len() as u64);
        return Ok(());
    }
    if !(9..=21).contains(&cluster_bits) {
        f.corrupt(format!("cluster_bits {cluster_bits} out of range"));
        return Ok(());
    }
    let cluster_size = 1u64 << cluster_bits;
    f.virtual_size = Some(size);

    let crypt_method = be32(head, 32).unwrap_or(0);
    if crypt_method != 0 {
        let method = match crypt_method {
            1 => "qcow2 AES".to_string(),
            2 => "LUKS".to_string(),
            other => format!("unknown method {other}"),
        };
        f.issues.push(Issue::Encrypted { method });
    }

    let mut header_len = V2_HEADER_LEN;
    let mut data_file_bit = false;
    if version == 3 {
        let incompat = be64(head, 72).unwrap_or(0);
        header_len = u64::from(be32(head, 100).unwrap_or(0));
        if header_len < V3_HEADER_LEN || header_len > cluster_size {
            f.corrupt(format!("header_length {header_len} out of range"));
            return Ok(());
        }
        if incompat & INCOMPAT_CORRUPT != 0 {
            f.issues.push(Issue::MarkedCorrupt);
        }
        data_file_bit = incompat & INCOMPAT_DATA_FILE != 0;
        let unknown = incompat & !INCOMPAT_KNOWN;
        if unknown != 0 {
            f.issues.push(Issue::UnknownFeatures { bits: unknown });
        }
    }

    check_tables(head, cluster_size, file_size, f);

    // The backing file name and the header extensions all sit in the first
    // cluster; read it once (or as much of it as exists).
    let first_len = cluster_size.min(file_size) as usize;
    let first = read_at(r, 0, first_len)?;

    let backing_offset = be64(head, 8).unwrap_or(0);
    let backing_len = u64::from(be32(head, 16).unwrap_or(0));
    if backing_offset != 0 && backing_len != 0 {
        if backing_len > MAX_BACKING_NAME
            || backing_offset
                .checked_add(backing_len)
                .is_none_or(|end| end > cluster_size)
        {
            f.corrupt("backing file name is too long or outside the first cluster");
        } else {
            let start = backing_offset as usize;
            let end = start + backing_len as usize;
            match first.get(start..end) {
                Some(name) => f.issues.push(Issue::BackingFile {
                    path: String::from_utf8_lossy(name).into_owned(),
                }),
                None => {
                    f.truncated(end as u64, first.len() as u64);
                    // The name is cut off, but the image still has one.
                    f.issues.push(Issue::BackingFile {
                        path: String::from_utf8_lossy(first.get(start..).unwrap_or_default())
                            .into_owned(),
                    });
                }
            }
        }
    }

    let ext_end = if backing_offset != 0 && backing_offset < cluster_size {
        backing_offset
    } else {
        cluster_size
    };
    let data_file_name = extensions(&first, header_len, ext_end, f);
    if data_file_bit || data_file_name.is_some() {
        f.issues.push(Issue::DataFile {
            path: data_file_name,
        });
    }
    Ok(())
}

/// The L1 and refcount tables must lie inside the data: otherwise the file
/// was cut short after the header.
fn check_tables(head: &[u8], cluster_size: u64, file_size: u64, f: &mut Finding) {
    let l1_size = u64::from(be32(head, 36).unwrap_or(0));
    let l1_offset = be64(head, 40).unwrap_or(0);
    let rc_offset = be64(head, 48).unwrap_or(0);
    let rc_clusters = u64::from(be32(head, 56).unwrap_or(0));
    let tables = [
        ("L1 table", l1_offset, l1_size.saturating_mul(8)),
        (
            "refcount table",
            rc_offset,
            rc_clusters.saturating_mul(cluster_size),
        ),
    ];
    for (what, offset, len) in tables {
        if len == 0 {
            continue;
        }
        let end = offset.saturating_add(len);
        if end > file_size {
            f.truncated(end, file_size);
            return;
        }
        if offset % cluster_size != 0 {
            f.corrupt(format!("{what} offset {offset:#x} is not cluster aligned"));
        }
    }
}

/// Walks the header extensions; returns the external data file name.
fn extensions(first: &[u8], start: u64, area_end: u64, f: &mut Finding) -> Option<String> {
    let end = area_end.min(first.len() as u64) as usize;
    let mut pos = start as usize;
    let mut data_file = None;
    loop {
        if pos + 8 > end {
            // No end marker within the first cluster. QEMU stops at the
            // end of the cluster too, so this is only odd, not unsafe,
            // when the data was all there.
            if (first.len() as u64) < area_end {
                f.truncated(pos as u64 + 8, first.len() as u64);
            }
            return data_file;
        }
        let kind = be32(first, pos).unwrap_or(EXT_END);
        let len = be32(first, pos + 4).unwrap_or(0) as usize;
        if kind == EXT_END {
            return data_file;
        }
        let data_start = pos + 8;
        let Some(data) = data_start
            .checked_add(len)
            .filter(|&e| e <= end)
            .and_then(|e| first.get(data_start..e))
        else {
            f.corrupt(format!(
                "header extension {kind:#x} overruns the header area"
            ));
            return data_file;
        };
        if kind == EXT_DATA_FILE {
            data_file = Some(String::from_utf8_lossy(data).into_owned());
        }
        pos = data_start + len.div_ceil(8) * 8;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::detect::detect;
    use std::io::Cursor;

    const CLUSTER_BITS: u32 = 16;

    /// A minimal, valid qcow2 header of `version` (1 GiB, 64 KiB clusters)
    /// with its tables inside a three-cluster file.
    pub(crate) fn header(version: u32) -> Vec<u8> {
        let mut h = vec![0u8; 3 << CLUSTER_BITS];
        h[0..4].copy_from_slice(MAGIC);
        h[4..8].copy_from_slice(&version.to_be_bytes());
        h[20..24].copy_from_slice(&CLUSTER_BITS.to_be_bytes());
        h[24..32].copy_from_slice(&(1u64 << 30).to_be_bytes());
        h[36..40].copy_from_slice(&2u32.to_be_bytes());
        h[40..48].copy_from_slice(&(2u64 << CLUSTER_BITS).to_be_bytes());
        h[48..56].copy_from_slice(&(1u64 << CLUSTER_BITS).to_be_bytes());
        h[56..60].copy_from_slice(&1u32.to_be_bytes());
        if version == 3 {
            h[96..100].copy_from_slice(&4u32.to_be_bytes());
            h[100..104].copy_from_slice(&104u32.to_be_bytes());
        }
        h
    }

    fn set_backing(h: &mut [u8], name: &str) {
        let off = 0x200u64;
        h[8..16].copy_from_slice(&off.to_be_bytes());
        h[16..20].copy_from_slice(&(name.len() as u32).to_be_bytes());
        h[0x200..0x200 + name.len()].copy_from_slice(name.as_bytes());
    }

    fn set_incompat(h: &mut [u8], bits: u64) {
        h[72..80].copy_from_slice(&bits.to_be_bytes());
    }

    fn add_extension(h: &mut [u8], at: usize, kind: u32, data: &[u8]) -> usize {
        h[at..at + 4].copy_from_slice(&kind.to_be_bytes());
        h[at + 4..at + 8].copy_from_slice(&(data.len() as u32).to_be_bytes());
        h[at + 8..at + 8 + data.len()].copy_from_slice(data);
        at + 8 + data.len().div_ceil(8) * 8
    }

    fn issues(h: Vec<u8>) -> Vec<Issue> {
        let image = detect(&mut Cursor::new(h)).expect("detect");
        assert_eq!(image.format(), ImageFormat::Qcow2);
        image.safety_check().to_vec()
    }

    #[test]
    fn plain_v2_and_v3_are_safe_with_their_virtual_size() {
        for version in [2, 3] {
            let image = detect(&mut Cursor::new(header(version))).expect("detect");
            assert_eq!(image.format(), ImageFormat::Qcow2);
            assert_eq!(image.virtual_size(), Some(1 << 30));
            assert!(image.is_safe(), "v{version}: {:?}", image.safety_check());
        }
    }

    #[test]
    fn backing_file_is_refused_by_name() {
        let mut h = header(2);
        set_backing(&mut h, "/etc/passwd");
        assert_eq!(
            issues(h),
            vec![Issue::BackingFile {
                path: "/etc/passwd".into()
            }]
        );
    }

    #[test]
    fn backing_name_past_first_cluster_is_corrupt() {
        let mut h = header(2);
        h[8..16].copy_from_slice(&0xFFF0u64.to_be_bytes());
        h[16..20].copy_from_slice(&100u32.to_be_bytes());
        assert!(matches!(issues(h)[..], [Issue::Corrupt { .. }]));
    }

    #[test]
    fn data_file_bit_alone_is_refused() {
        let mut h = header(3);
        set_incompat(&mut h, INCOMPAT_DATA_FILE);
        assert_eq!(issues(h), vec![Issue::DataFile { path: None }]);
    }

    #[test]
    fn data_file_extension_is_refused_by_name() {
        let mut h = header(3);
        set_incompat(&mut h, INCOMPAT_DATA_FILE);
        let end = add_extension(&mut h, 104, 0xE279_2ACA, b"raw");
        add_extension(&mut h, end, EXT_DATA_FILE, b"/dev/sda");
        assert_eq!(
            issues(h),
            vec![Issue::DataFile {
                path: Some("/dev/sda".into())
            }]
        );
    }

    #[test]
    fn unknown_incompatible_bits_are_refused() {
        let mut h = header(3);
        set_incompat(&mut h, 1 << 40 | 1);
        assert_eq!(issues(h), vec![Issue::UnknownFeatures { bits: 1 << 40 }]);
    }

    #[test]
    fn known_harmless_bits_are_accepted() {
        let mut h = header(3);
        // dirty, compression type, extended L2
        set_incompat(&mut h, 0b11001);
        assert_eq!(issues(h), vec![]);
    }

    #[test]
    fn corrupt_bit_is_refused() {
        let mut h = header(3);
        set_incompat(&mut h, INCOMPAT_CORRUPT);
        assert_eq!(issues(h), vec![Issue::MarkedCorrupt]);
    }

    #[test]
    fn encryption_is_refused() {
        let mut h = header(3);
        h[32..36].copy_from_slice(&2u32.to_be_bytes());
        assert_eq!(
            issues(h),
            vec![Issue::Encrypted {
                method: "LUKS".into()
            }]
        );
    }

    #[test]
    fn truncated_header_is_refused() {
        let mut h = header(3);
        h.truncate(50);
        assert_eq!(
            issues(h),
            vec![Issue::Truncated {
                format: ImageFormat::Qcow2,
                needed: 104,
                available: 50
            }]
        );
    }

    #[test]
    fn v3_header_cut_before_its_end_is_refused() {
        let mut h = header(3);
        h.truncate(80);
        assert!(matches!(
            issues(h)[..],
            [Issue::Truncated { needed: 104, .. }]
        ));
    }

    #[test]
    fn tables_beyond_the_end_mean_truncated() {
        let mut h = header(2);
        h.truncate(4096);
        assert!(matches!(issues(h)[..], [Issue::Truncated { .. }]));
    }

    #[test]
    fn extensions_cut_off_by_the_end_of_data_are_truncated() {
        let mut h = header(3);
        // Tables inside the first 4 KiB, so only the extension area is short.
        h[36..40].copy_from_slice(&0u32.to_be_bytes());
        h[56..60].copy_from_slice(&0u32.to_be_bytes());
        let end = add_extension(&mut h, 104, 0x1234, &[1; 8]);
        h.truncate(end);
        assert!(matches!(issues(h)[..], [Issue::Truncated { .. }]));
    }

    #[test]
    fn bad_version_and_cluster_bits_are_corrupt() {
        let mut h = header(2);
        h[4..8].copy_from_slice(&7u32.to_be_bytes());
        assert!(matches!(issues(h)[..], [Issue::Corrupt { .. }]));
        let mut h = header(2);
        h[20..24].copy_from_slice(&40u32.to_be_bytes());
        assert!(matches!(issues(h)[..], [Issue::Corrupt { .. }]));
    }

    #[test]
    fn overrunning_extension_is_corrupt() {
        let mut h = header(3);
        h[104..108].copy_from_slice(&0x1234u32.to_be_bytes());
        h[108..112].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(issues(h)[..], [Issue::Corrupt { .. }]));
    }

    #[test]
    fn every_reason_is_listed() {
        let mut h = header(3);
        set_backing(&mut h, "base.img");
        set_incompat(&mut h, INCOMPAT_DATA_FILE | 1 << 63);
        h[32..36].copy_from_slice(&1u32.to_be_bytes());
        let found = issues(h);
        assert_eq!(found.len(), 4, "{found:?}");
    }
}
