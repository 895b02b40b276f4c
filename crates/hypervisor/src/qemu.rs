//! The QEMU driver (in progress).

/// The last `max_bytes` of `bytes` as lossy UTF-8, starting at a character
/// boundary when the cut falls inside one.
pub fn tail_lossy(bytes: &[u8], max_bytes: usize) -> String {
    let mut start = bytes.len().saturating_sub(max_bytes);
    // Skip UTF-8 continuation bytes so the cut does not make a U+FFFD.
    while start < bytes.len() && start > 0 && (bytes[start] & 0xC0) == 0x80 {
        start += 1;
    }
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}
