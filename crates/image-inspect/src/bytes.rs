//! Bounded reads and endian helpers shared by the format probes.
//!
//! Every probe reads a fixed, small window of the image: nothing here reads
//! a length taken from the image without a cap chosen by the caller, so a
//! hostile header cannot make the inspector read gigabytes.

use std::io::{self, Read, Seek, SeekFrom};

/// Reads up to `len` bytes at `offset`; fewer at the end of the data.
pub(crate) fn read_at<R: Read + Seek>(r: &mut R, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    r.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len.min(1 << 20));
    r.by_ref().take(len as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

fn array<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// Big-endian u16 at `off`, if present.
pub(crate) fn be16(b: &[u8], off: usize) -> Option<u16> {
    array(b, off).map(u16::from_be_bytes)
}

/// Big-endian u32 at `off`, if present.
pub(crate) fn be32(b: &[u8], off: usize) -> Option<u32> {
    array(b, off).map(u32::from_be_bytes)
}

/// Big-endian u64 at `off`, if present.
pub(crate) fn be64(b: &[u8], off: usize) -> Option<u64> {
    array(b, off).map(u64::from_be_bytes)
}

/// Little-endian u16 at `off`, if present.
pub(crate) fn le16(b: &[u8], off: usize) -> Option<u16> {
    array(b, off).map(u16::from_le_bytes)
}

/// Little-endian u32 at `off`, if present.
pub(crate) fn le32(b: &[u8], off: usize) -> Option<u32> {
    array(b, off).map(u32::from_le_bytes)
}

/// Little-endian u64 at `off`, if present.
pub(crate) fn le64(b: &[u8], off: usize) -> Option<u64> {
    array(b, off).map(u64::from_le_bytes)
}

/// A Microsoft GUID in its on-disk byte order (first three fields
/// little-endian), for comparing against VHDX region and metadata ids.
pub(crate) const fn guid(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> [u8; 16] {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5],
        d4[6], d4[7],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn read_at_stops_at_end_of_data() {
        let mut c = Cursor::new(vec![1u8, 2, 3, 4]);
        assert_eq!(read_at(&mut c, 2, 10).ok(), Some(vec![3, 4]));
        assert_eq!(read_at(&mut c, 10, 10).ok(), Some(vec![]));
    }

    #[test]
    fn short_buffers_give_none_instead_of_panicking() {
        assert_eq!(be32(&[1, 2, 3], 0), None);
        assert_eq!(le64(&[0; 8], 1), None);
        assert_eq!(be16(&[1, 2], 0), Some(0x0102));
        assert_eq!(le16(&[1, 2], 0), Some(0x0201));
        assert_eq!(usize::MAX.checked_add(1), None);
        assert_eq!(be64(&[0; 4], usize::MAX), None);
    }

    #[test]
    fn guid_uses_mixed_endian_layout() {
        let g = guid(
            0x8B7C_A206,
            0x4790,
            0x4B9A,
            [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E],
        );
        assert_eq!(&g[..8], &[0x06, 0xA2, 0x7C, 0x8B, 0x90, 0x47, 0x9A, 0x4B]);
    }
}
