//! The fake hypervisor's snapshot file: an empty but valid qcow2 image.
//!
//! A snapshot is uploaded to the image service, whose inspection checks
//! that the data is what it is declared to be; a file that only said
//! "snapshot" was refused there ("declared qcow2 but the data is raw"), so
//! snapshots from the fake never became active images. This writes what
//! `qemu-img create -f qcow2` would (version 3, 64 KiB clusters, refcount
//! table, one refcount block, an all-zero L1 table), plus a marker line in
//! the unused rest of the header cluster that tests may look for.
//!
//! ```text
//!  cluster 0: header (104 bytes), end of extensions, marker at 0x200
//!  cluster 1: refcount table  -> cluster 2
//!  cluster 2: refcount block  (clusters 0..3+L1 used once)
//!  cluster 3..: L1 table, all zero (nothing allocated)
//! ```

const CLUSTER_BITS: u32 = 16;
const CLUSTER: u64 = 1 << CLUSTER_BITS;
/// Where the marker line sits: after the header's end-of-extensions entry.
pub(crate) const MARKER_OFFSET: usize = 0x200;

/// An empty qcow2 image of `virtual_size` bytes carrying `marker`.
pub(crate) fn empty_qcow2(virtual_size: u64, marker: &str) -> Vec<u8> {
    // One L2 table (a cluster of 8-byte entries) maps CLUSTER * CLUSTER / 8.
    let per_l1_entry = CLUSTER * (CLUSTER / 8);
    let l1_entries = virtual_size.div_ceil(per_l1_entry).max(1);
    let l1_clusters = (l1_entries * 8).div_ceil(CLUSTER);
    let l1_offset = 3 * CLUSTER;
    let clusters = 3 + l1_clusters;
    let mut f = vec![0u8; (clusters * CLUSTER) as usize];
    let put32 = |f: &mut [u8], at: usize, v: u32| f[at..at + 4].copy_from_slice(&v.to_be_bytes());
    let put64 = |f: &mut [u8], at: usize, v: u64| f[at..at + 8].copy_from_slice(&v.to_be_bytes());
    f[0..4].copy_from_slice(b"QFI\xfb");
    put32(&mut f, 4, 3); // version
    put32(&mut f, 20, CLUSTER_BITS);
    put64(&mut f, 24, virtual_size);
    put32(&mut f, 36, l1_entries as u32);
    put64(&mut f, 40, l1_offset);
    put64(&mut f, 48, CLUSTER); // refcount table offset
    put32(&mut f, 56, 1); // refcount table clusters
    put32(&mut f, 96, 4); // refcount order: 16-bit refcounts
    put32(&mut f, 100, 104); // header length
    put64(&mut f, CLUSTER as usize, 2 * CLUSTER); // refcount table[0]
    for c in 0..clusters as usize {
        let at = 2 * CLUSTER as usize + 2 * c;
        f[at..at + 2].copy_from_slice(&1u16.to_be_bytes());
    }
    let marker = marker.as_bytes();
    let end = (MARKER_OFFSET + marker.len()).min(CLUSTER as usize);
    f[MARKER_OFFSET..end].copy_from_slice(&marker[..end - MARKER_OFFSET]);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be32(f: &[u8], at: usize) -> u32 {
        u32::from_be_bytes([f[at], f[at + 1], f[at + 2], f[at + 3]])
    }

    fn be64(f: &[u8], at: usize) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&f[at..at + 8]);
        u64::from_be_bytes(b)
    }

    #[test]
    fn header_says_qcow2_v3_of_the_size_with_tables_inside_the_file() {
        let f = empty_qcow2(1 << 30, "fake snapshot");
        assert_eq!(&f[0..4], b"QFI\xfb");
        assert_eq!(be32(&f, 4), 3);
        assert_eq!(be64(&f, 24), 1 << 30);
        assert_eq!(be64(&f, 8), 0, "no backing file");
        assert_eq!(be32(&f, 36), 2, "two L1 entries map 1 GiB");
        assert!(be64(&f, 40) + 16 <= f.len() as u64);
        assert!(be64(&f, 48) + CLUSTER <= f.len() as u64);
        assert_eq!(be64(&f, 72), 0, "no incompatible features");
        assert_eq!(&f[MARKER_OFFSET..MARKER_OFFSET + 13], b"fake snapshot");
    }

    #[test]
    fn large_disks_get_a_larger_l1_table() {
        let f = empty_qcow2(10 << 40, "m");
        assert_eq!(be32(&f, 36), 20 * 1024);
        assert_eq!(f.len() as u64, (3 + 3) * CLUSTER);
    }
}
