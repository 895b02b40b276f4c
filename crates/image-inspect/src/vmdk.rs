//! VMDK: sparse extents (`KDMV`) and text descriptors.
//!
//! A VMDK is either a sparse extent file, which may embed a descriptor, or
//! a text descriptor that lists extent files by name. QEMU opens a sparse
//! file as its own single extent, so only monolithic formats
//! (`monolithicSparse`, `streamOptimized`) are self-contained. A text
//! descriptor always points at other files (`RW 2048 FLAT "x-flat.vmdk"`),
//! which would let an upload read any host file, so it is always refused,
//! naming each extent. A descriptor's `parentFileNameHint` is a backing
//! file and is refused the same way as qcow2's.
//!
//! Two QEMU behaviours shape the sparse checks. A sparse header with
//! capacity 0 and an embedded descriptor makes QEMU open that descriptor's
//! extents by name, like a text descriptor, so it is judged as one. And
//! QEMU finds `parentFileNameHint` by a plain substring search over the
//! 10 KiB after the first sector, wherever the header says the descriptor
//! is, so that window is searched the same way.

use crate::bytes::{le32, le64, read_at};
use crate::detect::{Finding, ImageFormat, Issue};
use std::io::{self, Read, Seek};

const SPARSE_MAGIC: &[u8; 4] = b"KDMV";
const COWD_MAGIC: &[u8; 4] = b"COWD";
const SECTOR: u64 = 512;
/// Largest embedded descriptor read; real ones are a few hundred bytes.
const MAX_DESCRIPTOR: u64 = 1 << 20;
/// How much of a text descriptor is read (QEMU probes 2 KiB).
const TEXT_WINDOW: usize = 64 * 1024;
/// Where and how much QEMU searches for `parentFileNameHint` in a
/// sparse file (its `desc_offset` and `DESC_SIZE`).
const PARENT_SEARCH_OFFSET: u64 = 0x200;
const PARENT_SEARCH_LEN: usize = 20 * 512;
const PARENT_KEY: &[u8] = b"parentFileNameHint";
const ALLOWED_CREATE_TYPES: [&str; 2] = ["monolithicSparse", "streamOptimized"];

pub(crate) fn probe<R: Read + Seek>(r: &mut R, file_size: u64) -> io::Result<Option<Finding>> {
    let head = read_at(r, 0, 512)?;
    if head.starts_with(SPARSE_MAGIC) {
        let mut f = Finding::new(ImageFormat::Vmdk);
        sparse(r, file_size, &head, &mut f)?;
        return Ok(Some(f));
    }
    if head.starts_with(COWD_MAGIC) {
        let mut f = Finding::new(ImageFormat::Vmdk);
        f.unsupported("legacy ESX (COWD) sparse extent");
        return Ok(Some(f));
    }
    if is_text_descriptor(&head) {
        let text = read_at(r, 0, TEXT_WINDOW)?;
        let mut f = Finding::new(ImageFormat::Vmdk);
        text_descriptor(&text, &mut f);
        return Ok(Some(f));
    }
    Ok(None)
}

/// The way QEMU's probe recognises a descriptor: after comment and blank
/// lines, the first line is `version=1|2|3`. Also the customary header.
fn is_text_descriptor(head: &[u8]) -> bool {
    if head.starts_with(b"# Disk DescriptorFile") {
        return true;
    }
    for line in head.split(|&b| b == b'\n') {
        if line.first() == Some(&b'#') {
            continue;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|&b| b == b' ') {
            continue;
        }
        return matches!(line, b"version=1" | b"version=2" | b"version=3");
    }
    false
}

fn sparse<R: Read + Seek>(
    r: &mut R,
    file_size: u64,
    head: &[u8],
    f: &mut Finding,
) -> io::Result<()> {
    let (Some(capacity), Some(desc_offset), Some(desc_size)) =
        (le64(head, 12), le64(head, 28), le64(head, 36))
    else {
        f.truncated(512, head.len() as u64);
        return Ok(());
    };
    if le32(head, 4).is_none_or(|v| v == 0 || v > 3) {
        f.corrupt("unsupported sparse extent version");
        return Ok(());
    }
    match capacity.checked_mul(SECTOR) {
        Some(size) => f.virtual_size = Some(size),
        None => {
            f.corrupt("capacity overflows");
            return Ok(());
        }
    }
    let window = read_at(r, PARENT_SEARCH_OFFSET, PARENT_SEARCH_LEN)?;
    if let Some(path) = parent_hint(&window) {
        f.issues.push(Issue::BackingFile { path });
    }
    if desc_offset == 0 {
        // No embedded descriptor: QEMU treats it as monolithicSparse.
        return Ok(());
    }
    let (Some(start), Some(len)) = (
        desc_offset.checked_mul(SECTOR),
        desc_size.checked_mul(SECTOR),
    ) else {
        f.corrupt("descriptor location overflows");
        return Ok(());
    };
    if len == 0 || len > MAX_DESCRIPTOR {
        f.corrupt(format!("embedded descriptor size {len} out of range"));
        return Ok(());
    }
    let end = start.saturating_add(len);
    if end > file_size {
        f.truncated(end, file_size);
        return Ok(());
    }
    let text = read_at(r, start, len as usize)?;
    if capacity == 0 {
        // QEMU opens this descriptor's extents by name.
        text_descriptor(&text, f);
    } else {
        embedded_descriptor(&text, f);
    }
    Ok(())
}

/// A parsed descriptor: what matters for safety.
#[derive(Debug, Default)]
struct Descriptor {
    create_type: Option<String>,
    parent: Option<String>,
    extents: Vec<Extent>,
}

#[derive(Debug)]
struct Extent {
    sectors: u64,
    kind: String,
    file: Option<String>,
}

fn parse_descriptor(text: &[u8]) -> Descriptor {
    let text = text.split(|&b| b == 0).next().unwrap_or_default();
    let text = String::from_utf8_lossy(text);
    let mut d = Descriptor::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let access = words.next().unwrap_or_default();
        // Extent lines first: a file name may itself contain '='.
        if !matches!(access, "RW" | "RDONLY" | "NOACCESS") {
            if let Some((key, value)) = line.split_once('=') {
                let value = value.trim().trim_matches('"').to_string();
                match key.trim() {
                    "createType" => d.create_type = Some(value),
                    "parentFileNameHint" => d.parent = Some(value),
                    _ => {}
                }
            }
            continue;
        }
        let sectors = words.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let kind = words.next().unwrap_or_default().to_string();
        let file = line
            .split_once('"')
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(name, _)| name.to_string());
        d.extents.push(Extent {
            sectors,
            kind,
            file,
        });
    }
    d
}

fn check_parent(d: &Descriptor, text: &[u8], f: &mut Finding) {
    let Some(path) = d.parent.clone().or_else(|| parent_hint(text)) else {
        return;
    };
    let issue = Issue::BackingFile { path };
    if !f.issues.contains(&issue) {
        f.issues.push(issue);
    }
}

/// `parentFileNameHint` found the way QEMU finds it: the first occurrence
/// in the NUL-terminated text, skipping `="`, up to the next quote.
fn parent_hint(text: &[u8]) -> Option<String> {
    let text = text.split(|&b| b == 0).next().unwrap_or_default();
    let at = text
        .windows(PARENT_KEY.len())
        .position(|w| w == PARENT_KEY)?;
    let rest = text.get(at + PARENT_KEY.len() + 2..).unwrap_or_default();
    let name = rest.split(|&b| b == b'"').next().unwrap_or_default();
    Some(String::from_utf8_lossy(name).into_owned())
}

/// An embedded descriptor describes the sparse file itself. QEMU ignores
/// its extent names, but anything beyond one sparse extent means the image
/// is not self-contained for other readers, so it is refused.
fn embedded_descriptor(text: &[u8], f: &mut Finding) {
    let d = parse_descriptor(text);
    check_parent(&d, text, f);
    match d.create_type.as_deref() {
        Some(t) if ALLOWED_CREATE_TYPES.contains(&t) => {}
        Some(t) => f.unsupported(format!("createType {t}")),
        None => f.corrupt("embedded descriptor has no createType"),
    }
    for (i, extent) in d.extents.iter().enumerate() {
        if i > 0 || extent.kind != "SPARSE" {
            f.issues.push(Issue::ExternalExtent {
                file: extent.file.clone().unwrap_or_default(),
            });
        }
    }
}

/// A standalone descriptor: every extent is another file.
fn text_descriptor(text: &[u8], f: &mut Finding) {
    let d = parse_descriptor(text);
    f.virtual_size = d.extents.iter().try_fold(0u64, |sum, e| {
        sum.checked_add(e.sectors.checked_mul(SECTOR)?)
    });
    check_parent(&d, text, f);
    let mut named = false;
    for extent in &d.extents {
        if let Some(file) = &extent.file {
            named = true;
            f.issues.push(Issue::ExternalExtent { file: file.clone() });
        }
    }
    if !named {
        f.unsupported("a descriptor file without its extents");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::detect;
    use std::io::Cursor;

    fn sparse_image(descriptor: Option<&str>) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        h[0..4].copy_from_slice(SPARSE_MAGIC);
        h[4..8].copy_from_slice(&1u32.to_le_bytes());
        h[12..20].copy_from_slice(&2048u64.to_le_bytes());
        h[20..28].copy_from_slice(&128u64.to_le_bytes());
        if let Some(text) = descriptor {
            h[28..36].copy_from_slice(&1u64.to_le_bytes());
            h[36..44].copy_from_slice(&4u64.to_le_bytes());
            h[512..512 + text.len()].copy_from_slice(text.as_bytes());
        }
        h
    }

    const EMBEDDED: &str = "# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\n\
        createType=\"monolithicSparse\"\n\nRW 2048 SPARSE \"disk.vmdk\"\n";

    fn check(data: Vec<u8>) -> (Option<u64>, Vec<Issue>) {
        let image = detect(&mut Cursor::new(data)).expect("detect");
        assert_eq!(image.format(), ImageFormat::Vmdk);
        (image.virtual_size(), image.safety_check().to_vec())
    }

    #[test]
    fn monolithic_sparse_is_safe() {
        assert_eq!(
            check(sparse_image(Some(EMBEDDED))),
            (Some(2048 * 512), vec![])
        );
        assert_eq!(check(sparse_image(None)), (Some(2048 * 512), vec![]));
    }

    #[test]
    fn parent_hint_is_a_backing_file() {
        let text = EMBEDDED.replace("parentCID=ffffffff", "parentFileNameHint=\"/etc/shadow\"");
        let (_, issues) = check(sparse_image(Some(&text)));
        assert_eq!(
            issues,
            vec![Issue::BackingFile {
                path: "/etc/shadow".into()
            }]
        );
    }

    #[test]
    fn extra_flat_extent_in_embedded_descriptor_is_refused() {
        let text = format!("{EMBEDDED}RW 2048 FLAT \"/etc/passwd\" 0\n");
        let (_, issues) = check(sparse_image(Some(&text)));
        assert_eq!(
            issues,
            vec![Issue::ExternalExtent {
                file: "/etc/passwd".into()
            }]
        );
    }

    #[test]
    fn extent_name_with_equals_sign_is_still_an_extent() {
        let text = format!("{EMBEDDED}RW 1 FLAT \"/tmp/a=b\" 0\n");
        let (_, issues) = check(sparse_image(Some(&text)));
        assert_eq!(
            issues,
            vec![Issue::ExternalExtent {
                file: "/tmp/a=b".into()
            }]
        );
    }

    #[test]
    fn other_create_types_are_refused() {
        let text = EMBEDDED.replace("monolithicSparse", "vmfsSparse");
        let (_, issues) = check(sparse_image(Some(&text)));
        assert!(matches!(issues[..], [Issue::Unsupported { .. }]));
    }

    #[test]
    fn text_descriptor_names_its_extents() {
        let text = "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n\
            RW 2048 FLAT \"disk-flat.vmdk\" 0\nRW 10 FLAT \"/etc/passwd\" 0\n";
        let (size, issues) = check(text.as_bytes().to_vec());
        assert_eq!(size, Some(2058 * 512));
        assert_eq!(
            issues,
            vec![
                Issue::ExternalExtent {
                    file: "disk-flat.vmdk".into()
                },
                Issue::ExternalExtent {
                    file: "/etc/passwd".into()
                },
            ]
        );
    }

    #[test]
    fn descriptor_without_comment_is_recognised_like_qemu_does() {
        let text = "\n  \nversion=1\ncreateType=\"monolithicFlat\"\nRW 1 FLAT \"x\" 0\n";
        let (_, issues) = check(text.as_bytes().to_vec());
        assert_eq!(issues.len(), 1);
        let not_vmdk = detect(&mut Cursor::new(b"hello\nversion=1\n".to_vec())).expect("detect");
        assert_eq!(not_vmdk.format(), ImageFormat::Raw);
    }

    #[test]
    fn descriptor_past_the_end_is_truncated() {
        let mut data = sparse_image(Some(EMBEDDED));
        data.truncate(700);
        let (_, issues) = check(data);
        assert!(matches!(issues[..], [Issue::Truncated { .. }]));
    }

    #[test]
    fn huge_descriptor_is_corrupt() {
        let mut data = sparse_image(Some(EMBEDDED));
        data[36..44].copy_from_slice(&u64::MAX.to_le_bytes());
        let (_, issues) = check(data);
        assert!(matches!(issues[..], [Issue::Corrupt { .. }]));
    }

    #[test]
    fn zero_capacity_makes_the_embedded_descriptor_a_real_one() {
        let text = EMBEDDED.replace("\"disk.vmdk\"", "\"/var/lib/other.vmdk\"");
        let mut data = sparse_image(Some(&text));
        data[12..20].copy_from_slice(&0u64.to_le_bytes());
        let (_, issues) = check(data);
        assert_eq!(
            issues,
            vec![Issue::ExternalExtent {
                file: "/var/lib/other.vmdk".into()
            }]
        );
    }

    #[test]
    fn parent_hint_is_found_where_qemu_looks_for_it() {
        // No descriptor in the header, but QEMU still searches from 0x200.
        let mut data = sparse_image(None);
        data.resize(8192, 0);
        let junk = b"xx parentFileNameHint=\"/etc/shadow\" xx";
        data[0x200..0x200 + junk.len()].copy_from_slice(junk);
        let (_, issues) = check(data);
        assert_eq!(
            issues,
            vec![Issue::BackingFile {
                path: "/etc/shadow".into()
            }]
        );
    }

    #[test]
    fn parent_hint_inside_another_line_is_found() {
        let text = "# Disk DescriptorFile\nversion=1\nddb.x = \"parentFileNameHint=\"/p\"\"\n\
            RW 1 FLAT \"f\" 0\n";
        let (_, issues) = check(text.as_bytes().to_vec());
        assert!(issues.contains(&Issue::BackingFile { path: "/p".into() }));
    }
}
